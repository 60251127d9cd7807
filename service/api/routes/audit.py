"""The audit log for QA (role qa): filtered listing, the review queue, reviews."""

from datetime import date, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query

from intents.labels import INTENTS, PSYCHOLOGY
from service.api.auth import QaRole
from service.api.deps import StoreDep
from service.api.errors import error_responses
from service.api.schemas import AuditItem, AuditPage, BulkReviewOut, BulkReviewRequest, Day, ReviewOut, ReviewRequest
from service.errors import NotFound, Unprocessable
from service.store import AuditFilters

# The store opens with the app: the QA endpoints answer while the models load (no 503).
router = APIRouter(prefix="/v1", tags=["qa"], dependencies=[QaRole], responses=error_responses(401, 403, 422))

RequestId = Annotated[str, Path(min_length=1, max_length=64)]
MAX_OFFSET = 10**9
Limit = Annotated[int, Query(ge=1, le=500)]
# SQLite integers stop at 2**63 - 1; no audit log comes near this bound.
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET)]
After = Annotated[str | None, Query(min_length=1, max_length=400, description="The `next` cursor of the previous page.")]


def date_range(since: date | None, until: date | None) -> tuple[str | None, str | None]:
    """Both dates inclusive, as bounds on the stored UTC timestamps; a start after the end is a 422."""
    if since and until and since > until:
        raise Unprocessable(f"since ({since.isoformat()}) is after until ({until.isoformat()}): no day is in that range")
    # The day after 9999-12-31 does not exist; no bound is the same bound.
    end = (until + timedelta(days=1)).isoformat() if until and until < date.max else None
    return (since.isoformat() if since else None, end)


@router.get("/audit", response_model=AuditPage)
def audit(
    store: StoreDep,
    intent: Literal[INTENTS] | None = None,  # type: ignore[valid-type]
    psychology: Literal[PSYCHOLOGY] | None = None,  # type: ignore[valid-type]
    since: Annotated[Day | None, Query(description="First day (UTC), inclusive.")] = None,
    until: Annotated[Day | None, Query(description="Last day (UTC), inclusive.")] = None,
    confidence_below: Annotated[float | None, Query(ge=0, le=1, description="Top-intent confidence under this.")] = None,
    reviewed: bool | None = None,
    q: Annotated[
        str | None, Query(min_length=1, max_length=100, description="Text the masked message contains (traditional or simplified, any width).")
    ] = None,
    endpoint: Literal["suggest", "classify"] | None = None,
    same_as: Annotated[str | None, Query(min_length=1, max_length=64, description="A request id: the rows with the same message.")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
    after: After = None,
) -> AuditPage:
    """Audit rows, newest first, filtered by predicted intent, psychology, dates, confidence, review state and
    text. Page with `after` (the previous page's `next`): a page costs what it holds."""
    start, end = date_range(since, until)
    filters = AuditFilters(intent, psychology, start, end, confidence_below, reviewed, q, endpoint, same_as)
    total, items, cursor = store.qa.audit(filters, limit, offset, after)
    return AuditPage(total=total, items=items, next=cursor)


@router.get("/audit/queue", response_model=AuditPage)
def queue(store: StoreDep, limit: Limit = 50, offset: Offset = 0, after: After = None) -> AuditPage:
    """Unreviewed rows, most useful first: low confidence, narrow top-2 margin, agents' choices disagreeing.
    Page with `after` (the previous page's `next`): rows reviewed meanwhile do not make the next page skip any."""
    total, items, cursor = store.qa.queue(limit, offset, after)
    return AuditPage(total=total, items=items, next=cursor)


@router.post("/reviews", response_model=BulkReviewOut, status_code=201, responses=error_responses(404))
def bulk_review(body: BulkReviewRequest, store: StoreDep) -> BulkReviewOut:
    """The same review of several rows at once (identical messages, say): all stored or none (404 naming
    an unknown row)."""
    known = store.qa.existing(body.request_ids)
    missing = [r for r in body.request_ids if r not in known]
    if missing:
        raise NotFound(f"unknown request id {missing[0]!r}; no row was reviewed")
    return BulkReviewOut(reviews=store.qa.add_reviews(body.request_ids, body.intents, body.psychology, body.reviewer, body.comment))


@router.get("/audit/{request_id}", response_model=AuditItem, responses=error_responses(404))
def audit_item(request_id: RequestId, store: StoreDep) -> AuditItem:
    """One audit row with its latest review."""
    found = store.qa.audit_item(request_id)
    if found is None:
        raise NotFound(f"unknown request id {request_id!r}")
    return found


@router.get("/audit/{request_id}/reviews", response_model=list[ReviewOut], responses=error_responses(404))
def reviews(request_id: RequestId, store: StoreDep) -> list[ReviewOut]:
    """Every review of a row, oldest first (re-reviewing keeps the history)."""
    if store.records.get_request(request_id) is None:
        raise NotFound(f"unknown request id {request_id!r}")
    return store.qa.reviews_of(request_id)


@router.post(
    "/audit/{request_id}/review", response_model=ReviewOut, status_code=201, responses=error_responses(404)
)
def review(request_id: RequestId, body: ReviewRequest, store: StoreDep) -> ReviewOut:
    """Record the correct intents (main first) and psychology for a row; a later review supersedes, history is kept."""
    if store.records.get_request(request_id) is None:
        raise NotFound(f"unknown request id {request_id!r}")
    return store.qa.add_review(request_id, body.intents, body.psychology, body.reviewer, body.comment)
