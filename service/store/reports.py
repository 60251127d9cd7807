"""QA reports from the audit log: accuracy per intent from reviewed rows, confidence, adoption.

Counts come from the daily rollups (`requests_daily`, `reply_shown`, `feedback_daily`), so a report
over half a million rows reads a few thousand; the per-intent scores from the reviewed rows only. A score
with nothing behind it is None ("no data"), never 0."""

from __future__ import annotations

from collections import Counter

from intents.labels import INTENTS
from intents.metrics import score
from service.store.db import HISTOGRAM_BINS
from service.store.qa import QaQueries

ACTIONS = ("clicked", "sent", "edited", "dismissed")
MAX_NEVER_USED = 100
# A joined reply's id (service.shop.products.JOINED_ID_PREFIX and a hash of the replies it joins) names a reply made
# for one message: nothing a QA lead can edit or retire, so it is not listed among the replies never used.
JOINED_PREFIX = "joined-"


def _adoption(shown: int, actions: dict[str, int]) -> dict:
    used = actions.get("sent", 0) + actions.get("edited", 0)
    return {
        "shown": shown,
        **{a: actions.get(a, 0) for a in ACTIONS},
        "rate": round(used / shown, 4) if shown else None,
    }


def intent_report(qa: QaQueries, since: str | None = None, until: str | None = None) -> dict:
    """Per-intent precision, recall and F1 of the predicted intent against the latest review of each
    reviewed row (a prediction counts as right if it is any of the reviewed intents), the confusion
    matrix, a confidence histogram, and reply adoption (shown → clicked → sent → edited), as plain data."""
    outcomes = qa.review_outcomes(since, until)
    gold = [tuple(reviewed) for _, _, reviewed in outcomes]
    predicted = [intent for intent, _, _ in outcomes]
    scores = score(gold, predicted, INTENTS)
    predicted_count = Counter(predicted)

    counts = qa.histogram(since, until)
    in_bin, correct = [0] * HISTOGRAM_BINS, [0] * HISTOGRAM_BINS
    for intent, confidence, reviewed in outcomes:
        b = min(int((confidence or 0.0) * HISTOGRAM_BINS), HISTOGRAM_BINS - 1)
        in_bin[b] += 1
        correct[b] += intent in reviewed
    bins = [
        {"low": b / HISTOGRAM_BINS, "high": (b + 1) / HISTOGRAM_BINS, "count": counts[b], "reviewed": in_bin[b], "correct": correct[b]}
        for b in range(HISTOGRAM_BINS)
    ]

    adoption = qa.adoption(since, until)
    shown = adoption["shown"]
    per_reply = [
        {"reply_id": rid, **_adoption(n, {a: adoption["reply_actions"].get((rid, a), 0) for a in ACTIONS})}
        for rid, n in shown.items()
    ]
    never_used = sorted(
        (a for a in per_reply if a["sent"] + a["edited"] == 0 and not a["reply_id"].startswith(JOINED_PREFIX)),
        key=lambda a: (-a["shown"], a["reply_id"]),
    )
    reviewed = len(gold)

    def scored(value: float, there: bool) -> float | None:
        return round(value, 4) if there else None

    return {
        "since": since,
        "until": until,
        "requests": adoption["requests"],
        "reviewed": reviewed,
        "accuracy": scored(scores.accuracy, reviewed > 0),
        "macro_f1": scored(scores.macro_f1, reviewed > 0),
        "per_intent": {
            c: {
                "precision": scored(scores.precision[c], predicted_count[c] > 0),
                "recall": scored(scores.recall[c], scores.support[c] > 0),
                "f1": scored(scores.f1[c], predicted_count[c] > 0 or scores.support[c] > 0),
                "support": scores.support[c],
            }
            for c in INTENTS
        },
        "confusion": {"labels": list(INTENTS), "matrix": scores.confusion},
        "confidence_histogram": bins,
        "adoption_per_intent": {
            i: _adoption(adoption["suggested"].get(i, 0), {a: adoption["intent_actions"].get((i, a), 0) for a in ACTIONS})
            for i in INTENTS
        },
        "adoption_per_reply": sorted(per_reply, key=lambda a: (-a["shown"], a["reply_id"])),
        "never_used": [a["reply_id"] for a in never_used[:MAX_NEVER_USED]],
    }
