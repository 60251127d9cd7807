"""GET /ui/qa: the QA page (review queue, relabelling, report), plain HTML with its script and style."""

import json
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from intents.labels import INTENT_LABELS, PSYCHOLOGY_LABELS
from service.errors import NotFound

UI_DIR = Path(__file__).resolve().parent.parent / "ui"
STATIC = {"qa.js": "text/javascript; charset=utf-8", "qa.css": "text/css; charset=utf-8"}
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


@router.get("/static/{name}")
def static(name: str) -> Response:
    """The page's script and style sheet."""
    if name not in STATIC:
        raise NotFound(f"no file {name!r} under /ui/static/")
    return Response((UI_DIR / name).read_bytes(), media_type=STATIC[name], headers=HEADERS)
