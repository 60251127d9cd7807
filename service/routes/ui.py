"""GET /ui/qa and /ui/agent: the QA page and the agent console, plain HTML with their scripts and styles."""

import json
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from intents.labels import INTENT_LABELS, PSYCHOLOGY_LABELS
from service.errors import NotFound

UI_DIR = Path(__file__).resolve().parent.parent / "ui"
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


def labels_json() -> str:
    """The intent and psychology ids with their labels, safe inside a <script type="application/json">."""
    text = json.dumps({"intents": INTENT_LABELS, "psychology": PSYCHOLOGY_LABELS}, ensure_ascii=False)
    return text.replace("<", "\\u003c")


@router.get("/qa", response_class=HTMLResponse)
def qa_page() -> HTMLResponse:
    """The QA page: the review queue or a filtered audit list, one-click relabelling, and the intent report."""
    page = (UI_DIR / "qa.html").read_text(encoding="utf-8").replace("__LABELS__", labels_json())
    return HTMLResponse(page, headers=HEADERS)


@router.get("/agent", response_class=HTMLResponse)
def agent_page() -> HTMLResponse:
    """The agent console: the conversation, the reading of each message, the suggestions and a checked draft."""
    # Every label the console shows arrives with the API's answers, so the page needs no labels block.
    return HTMLResponse((UI_DIR / "agent.html").read_text(encoding="utf-8"), headers=HEADERS)


@router.get("/static/{name}")
def static(name: str) -> Response:
    """The pages' scripts and style sheets."""
    if name not in STATIC:
        raise NotFound(f"no file {name!r} under /ui/static/")
    return Response((UI_DIR / name).read_bytes(), media_type=STATIC[name], headers=HEADERS)
