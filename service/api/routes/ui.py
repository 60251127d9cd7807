"""GET /ui/qa and /ui/agent: the QA page and the agent console, plain HTML with their scripts and styles."""

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, JSONResponse, Response

from intents.labels import EMOTION_LABELS, INTENT_LABELS, PSYCHOLOGY_LABELS
from intents.resources import packaged
from service.api import schemas
from service.errors import NotFound
from service.replies.corpus import CATEGORY_LABELS, VARIABLES
from service.replies.lint import CATEGORY_LABELS as LINT_CATEGORY_LABELS

UI_DIR = packaged("service", "api", "ui")
STATIC = {
    "dom.js": "text/javascript; charset=utf-8",
    "qa.js": "text/javascript; charset=utf-8",
    "qa.css": "text/css; charset=utf-8",
    "agent.js": "text/javascript; charset=utf-8",
    "agent.css": "text/css; charset=utf-8",
}
# The page shows customer text: no inline script may run, whatever a message contains, and nothing
# is loaded from elsewhere. The page itself needs no key; the API calls it makes do.
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

router = APIRouter(prefix="/ui", tags=["ui"], include_in_schema=False)


def contract() -> dict:
    """What both pages need to know of the API: ids with their labels, template variables, limits."""
    return {
        "intents": INTENT_LABELS,
        "psychology": PSYCHOLOGY_LABELS,
        "emotions": EMOTION_LABELS,
        "categories": CATEGORY_LABELS,
        "variables": VARIABLES,
        "lint_categories": LINT_CATEGORY_LABELS,
        "limits": {
            "max_history": schemas.MAX_HISTORY_TURNS,
            "max_message_chars": schemas.MAX_MESSAGE_CHARS,
            "max_variables": schemas.MAX_VARIABLES,
            "max_variable_chars": schemas.MAX_VARIABLE_CHARS,
            "max_top_k": schemas.MAX_TOP_K,
            "max_sent": schemas.MAX_SENT,
        },
    }


@router.get("/contract.json")
def contract_json() -> JSONResponse:
    """The contract both pages read at start (one source for labels, variables and limits)."""
    return JSONResponse(contract(), headers=HEADERS)


@router.get("/qa", response_class=HTMLResponse)
def qa_page() -> HTMLResponse:
    """The QA page: the review queue or a filtered audit list, one-click relabelling, and the intent report."""
    return HTMLResponse((UI_DIR / "qa.html").read_text(encoding="utf-8"), headers=HEADERS)


@router.get("/agent", response_class=HTMLResponse)
def agent_page() -> HTMLResponse:
    """The agent console: the conversation, the reading of each message, the suggestions and a checked draft."""
    return HTMLResponse((UI_DIR / "agent.html").read_text(encoding="utf-8"), headers=HEADERS)


@router.get("/static/{name}")
def static(name: str) -> Response:
    """The pages' scripts and style sheets."""
    if name not in STATIC:
        raise NotFound(f"no file {name!r} under /ui/static/")
    return Response((UI_DIR / name).read_bytes(), media_type=STATIC[name], headers=HEADERS)
