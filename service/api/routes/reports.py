"""QA reports and the export of reviewed rows (role qa)."""

import csv
import io
import json
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response, StreamingResponse

from intents.csv_cells import safe_cell
from service.api.auth import QaRole
from service.api.deps import StoreDep
from service.api.errors import error_responses
from service.api.routes.audit import date_range
from service.api.schemas import Day, IntentReport
from service.store.reports import intent_report

# The store opens with the app: reports and export answer while the models load (no 503).
router = APIRouter(prefix="/v1", tags=["qa"], dependencies=[QaRole], responses=error_responses(401, 403, 422))

Since = Annotated[Day | None, Query(description="First day (UTC), inclusive.")]
Until = Annotated[Day | None, Query(description="Last day (UTC), inclusive.")]
EXPORT_FIELDS = (
    "id", "created", "endpoint", "message", "predicted_intent", "confidence", "predicted_psychology",
    "intents", "psychology", "reviewer", "comment", "reviewed", "model_version",
)


def export_row(item: dict) -> dict:
    """A reviewed row as exported: the masked message, what was predicted and what QA says is right."""
    return {
        "id": item["id"],
        "created": item["created"],
        "endpoint": item["endpoint"],
        "message": item["message"],
        "predicted_intent": item["intent"],
        "confidence": item["confidence"],
        "predicted_psychology": item["psychology"],
        "intents": item["review"]["intents"],
        "psychology": item["review"]["psychology"],
        "reviewer": item["review"]["reviewer"],
        "comment": item["review"]["comment"],
        "reviewed": item["review"]["created"],
        "model_version": item["model_version"],
    }


@router.get("/reports/intents", response_model=IntentReport)
def intents_report(store: StoreDep, since: Since = None, until: Until = None) -> IntentReport:
    """Per-intent precision, recall, F1 and support from reviewed rows, the confusion matrix,
    a confidence histogram and reply adoption, over a date range."""
    return IntentReport(**intent_report(store.qa, *date_range(since, until)))


@router.get("/export", response_class=Response, responses={200: {"content": {"application/x-ndjson": {}, "text/csv": {}}}})
def export(
    store: StoreDep, format: Literal["jsonl", "csv"] = "jsonl", since: Since = None, until: Until = None
) -> Response:
    """Reviewed rows (PII-masked), one per line as JSON or as CSV (intents comma-separated, main first).
    `huashu train --with-reviews FILE` reads either."""
    batches = store.qa.reviewed(*date_range(since, until))
    if format == "jsonl":  # a chunk per batch of rows: a send per line costs more than the line
        chunks = ("".join(json.dumps(export_row(item), ensure_ascii=False) + "\n" for item in batch) for batch in batches)
        return StreamingResponse(chunks, media_type="application/x-ndjson", headers={"Content-Disposition": 'attachment; filename="reviews.jsonl"'})

    def csv_lines():
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=EXPORT_FIELDS)
        writer.writeheader()
        for batch in batches:
            for item in batch:
                row = export_row(item)
                writer.writerow({key: safe_cell(value) for key, value in {**row, "intents": ",".join(row["intents"])}.items()})
            yield out.getvalue()
            out.seek(0)
            out.truncate()
        yield out.getvalue()

    return StreamingResponse(csv_lines(), media_type="text/csv; charset=utf-8", headers={"Content-Disposition": 'attachment; filename="reviews.csv"'})
