"""The QA endpoints over a large audit log: a store of N audit rows (500,000 by default), some reviewed and
some with agents' feedback, written through the store's own code; then `huashu serve` on it and each QA
call timed over loopback, as a QA lead's page makes them.

    python bench/audit_scale.py [--rows 500000] [--out bench/audit_scale.json]

Also run by `make bench`. Target: every call under 1 s (issue 16).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import Server, heldout_messages  # noqa: E402
from intents.labels import INTENTS  # noqa: E402
from service.store import AuditEntry, Store  # noqa: E402
from service.store.audit import insert_rows  # noqa: E402

TARGET_S = 1.0
REPLIES = [f"{intent}.reply-{n:02d}" for intent in INTENTS for n in range(6)]


def build(path: Path, rows: int, seed: int = 7) -> dict:
    """N audit rows over 90 days, 5 % reviewed, 20 % with feedback; returns what was written and how long it took."""
    rng = random.Random(seed)
    messages = heldout_messages()
    store = Store(path)
    started = time.perf_counter()
    start = datetime.now(timezone.utc) - timedelta(days=90)
    reviewed = feedback = 0
    batch = 5_000
    for first in range(0, rows, batch):
        entries, stamps = [], []
        for n in range(first, min(rows, first + batch)):
            text = rng.choice(messages)
            ranked = rng.sample(INTENTS, 3)
            top = rng.uniform(0.3, 0.99)
            second = rng.uniform(0.0, 1 - top)
            entries.append(AuditEntry(
                id=f"bench{n:09d}", endpoint="suggest" if rng.random() < 0.9 else "classify", normalized=text,
                masked=text, tokens=list(text[:20]), intents=[(ranked[0], top), (ranked[1], second), (ranked[2], 0.0)],
                replies=rng.sample(REPLIES, 3), model_version="bench", latency_ms=rng.uniform(3, 20),
                psychology=rng.choice(["none", "practical", "anxious"]),
                reply_texts=["亲，这是一条示例回复"] * 3,
            ))
            stamps.append((start + timedelta(seconds=90 * 86400 * n / rows)).isoformat(timespec="seconds"))
        with store.database.writing() as db:
            row_dicts = []
            for entry, stamp in zip(entries, stamps):
                row = entry.row(False)
                row["created"] = stamp
                row_dicts.append(row)
            insert_rows(db, row_dicts)
        picked = [e for e in entries if rng.random() < 0.05]
        if picked:
            store.qa.add_reviews([e.id for e in picked], [picked[0].intents[0][0]], None, "bench", None)
            reviewed += len(picked)
        for entry in entries:
            if entry.endpoint == "suggest" and rng.random() < 0.2:
                store.records.record_feedback(entry.id, entry.replies[0], entry.intents[0][0], rng.choice(["clicked", "sent", "dismissed"]), None)
                feedback += 1
    store.close()
    return {"rows": rows, "reviewed": reviewed, "feedback": feedback, "build_s": round(time.perf_counter() - started, 1),
            "file_mb": round(path.stat().st_size / 2**20, 1)}


CALLS = [
    ("queue, first page", "/v1/audit/queue", {"limit": 50}),
    ("queue, page 3 by cursor", "/v1/audit/queue", "cursor"),
    ("audit list, newest", "/v1/audit", {"limit": 50}),
    ("audit list, one intent and a week", "/v1/audit", {"intent": "refund", "since": "week", "limit": 50}),
    ("audit list, text search", "/v1/audit", {"q": "快递", "limit": 50}),
    ("report, all days", "/v1/reports/intents", {}),
    ("report, last week", "/v1/reports/intents", {"since": "week"}),
    ("export jsonl (all reviewed rows)", "/v1/export", {"format": "jsonl"}),
    ("export csv (all reviewed rows)", "/v1/export", {"format": "csv"}),
]


def measure(base: str, repeats: int = 5) -> list[dict]:
    week = (datetime.now(timezone.utc) - timedelta(days=7)).date().isoformat()
    out = []
    with httpx.Client(base_url=base, timeout=120) as http:
        for name, path, params in CALLS:
            times, size = [], 0
            for _ in range(repeats):
                if params == "cursor":
                    page = http.get(path, params={"limit": 50}).json()
                    page = http.get(path, params={"limit": 50, "after": page["next"]}).json()
                    started = time.perf_counter()
                    response = http.get(path, params={"limit": 50, "after": page["next"]})
                else:
                    query = {k: (week if v == "week" else v) for k, v in params.items()}
                    started = time.perf_counter()
                    response = http.get(path, params=query)
                body = response.content
                times.append(time.perf_counter() - started)
                assert response.status_code == 200, (name, response.status_code, body[:300])
                size = len(body)
            out.append({"call": name, "median_s": round(statistics.median(times), 3), "max_s": round(max(times), 3),
                        "bytes": size, "ok": max(times) < TARGET_S})
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "audit_scale.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="huashu-audit-") as tmp:
        db = Path(tmp) / "bench-e5-int8.db"
        print(f"writing {args.rows:,} audit rows …", flush=True)
        built = build(db, args.rows)
        print(f"  {built}", flush=True)
        server = Server("e5-int8")
        try:
            server.start(Path(tmp))
            results = measure(server.base)
        finally:
            server.stop()
    for r in results:
        print(f"  {'ok  ' if r['ok'] else 'MISS'} {r['call']}: median {r['median_s']} s, max {r['max_s']} s ({r['bytes']:,} bytes)")
    args.out.write_text(json.dumps({"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "store": built,
                                    "target_s": TARGET_S, "calls": results}, ensure_ascii=False, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
