"""QA reports from the audit log: accuracy per intent from reviewed rows, confidence, adoption."""

from __future__ import annotations

import json
from collections import defaultdict

from intents.labels import INTENTS
from intents.metrics import score
from service.store.qa import QaQueries

HISTOGRAM_BINS = 10


def _adoption(shown: int, actions: dict[str, int]) -> dict:
    used = actions.get("sent", 0) + actions.get("edited", 0)
    return {
        "shown": shown,
        **{a: actions.get(a, 0) for a in ("clicked", "sent", "edited", "dismissed")},
        "rate": round(used / shown, 4) if shown else 0.0,
    }


def intent_report(qa: QaQueries, since: str | None = None, until: str | None = None) -> dict:
    """Per-intent precision, recall and F1 of the predicted intent against the latest review of each
    reviewed row (a prediction counts as right if it is any of the reviewed intents), the confusion
    matrix, a confidence histogram, and reply adoption (shown → clicked → sent → edited), as plain data."""
    reviewed = qa.reviewed(since, until)
    gold = [tuple(item["review"]["intents"]) for item in reviewed]
    predicted = [item["intent"] for item in reviewed]
    scores = score(gold, predicted, INTENTS)
    right = {item["id"]: item["intent"] in item["review"]["intents"] for item in reviewed}
    reviewed_confidence = [(item["confidence"] or 0.0, right[item["id"]]) for item in reviewed]

    confidences = qa.confidences(since, until)
    bins = []
    for b in range(HISTOGRAM_BINS):
        low, high = b / HISTOGRAM_BINS, (b + 1) / HISTOGRAM_BINS
        inside = (lambda c, lo=low, hi=high, last=b == HISTOGRAM_BINS - 1: lo <= c < hi or (last and c == hi))
        in_reviewed = [ok for c, ok in reviewed_confidence if inside(c)]
        bins.append(
            {"low": low, "high": high, "count": sum(map(inside, confidences)), "reviewed": len(in_reviewed), "correct": sum(in_reviewed)}
        )

    requests, feedback = qa.adoption(since, until)
    intent_of = {r["id"]: r["intent"] for r in requests}
    shown_per_intent: dict[str, int] = defaultdict(int)
    shown_per_reply: dict[str, int] = defaultdict(int)
    for r in requests:
        shown_per_intent[r["intent"]] += 1
        for reply_id in json.loads(r["replies"]):
            shown_per_reply[reply_id] += 1
    # Each (request, reply, action) counts once: three clicks on one suggestion are one click.
    seen = {(f["request_id"], f["reply_id"], f["action"]) for f in feedback}
    per_intent_actions: dict[str, dict[str, set]] = defaultdict(lambda: defaultdict(set))
    per_reply_actions: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for request_id, reply_id, action in seen:
        per_intent_actions[intent_of[request_id]][action].add(request_id)
        per_reply_actions[reply_id][action] += 1

    return {
        "since": since,
        "until": until,
        "requests": len(confidences),
        "reviewed": len(reviewed),
        "accuracy": round(scores.accuracy, 4),
        "macro_f1": round(scores.macro_f1, 4),
        "per_intent": {
            c: {
                "precision": round(scores.precision[c], 4), "recall": round(scores.recall[c], 4),
                "f1": round(scores.f1[c], 4), "support": scores.support[c],
            }
            for c in INTENTS
        },
        "confusion": {"labels": list(INTENTS), "matrix": scores.confusion},
        "confidence_histogram": bins,
        "adoption_per_intent": {
            i: _adoption(shown_per_intent.get(i, 0), {a: len(ids) for a, ids in per_intent_actions[i].items()}) for i in INTENTS
        },
        "adoption_per_reply": sorted(
            ({"reply_id": rid, **_adoption(n, per_reply_actions[rid])} for rid, n in shown_per_reply.items()),
            key=lambda a: (-a["shown"], a["reply_id"]),
        ),
    }
