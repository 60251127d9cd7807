"""The code before knowledge points beside today's, on this machine, now: `/v1/suggest` at one and 32 clients.

Issue 15 asked that the p50 at one client stay within 1.5x of what it was before the knowledge points
(9.1 ms when the issue was written). A latency is a property of a machine as much as of the code: the same
int8 encoder took 3.6 ms a message here on 2026-11-30 and takes about 5.5 ms now. This runs both versions
through the same bench, one after the other, with the same built models:

    python bench/baseline.py [--commit 152e07a] [--seconds 20] [--out bench/baseline.json]

The older commit is checked out into a temporary git worktree (removed at the end) with this checkout's
models linked in (its intent and psychology models are today's; its replies are its own corpus), and each
version's own bench/run.py drives its own `huashu serve`. Where the encoder's revision moved on and the
older code can still read today's model.onnx and tokenizer.json (revision 4 added the sentencepiece files
beside them; revisions 5 and 6 changed the graph's operators, 7 its weights (six distilled layers): the same
inputs and output), the build record and the models' metadata are relabelled with the older revision's encoder
name in the worktree; the weights and model files are today's files, so both sides run on the same models.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The last commit before the knowledge points (d06ef9a): replies by intent from the old corpus.
BEFORE = "152e07a"
MODELS = ("e5-int8", "intent", "psychology", "cache")
# Encoder revisions whose model.onnx and tokenizer.json the older code reads as its own revision's (the same
# inputs and output; 4 added files beside them, 5 fused the graph's operators, 6 left the residual layer norms
# unfused, 7 has six distilled layers): it takes them under its own revision's name, so both sides run on today's
# models and only the code differs (the older code's sessions fuse the layer norms back at load, as its own build did).
SAME_MODEL_AS_BEFORE = {5: 3, 6: 3, 7: 3}
RECORDS = {"e5-int8": ("e5_int8_build.json", "encoder_name"), "intent": ("metadata.json", "encoder"),
           "psychology": ("metadata.json", "encoder")}


def revision(checkout: Path) -> int:
    return int(re.search(r"^ONNX_REVISION = (\d+)", (checkout / "intents" / "encoder.py").read_text(encoding="utf-8"), re.M)[1])


def encoder_name(checkout: Path) -> str:
    """The default encoder's name as that checkout's intents/encoder.py makes it (the older code's is its revision's)."""
    source = (checkout / "intents" / "encoder.py").read_text(encoding="utf-8")
    template = re.search(r'^ENCODER_NAME = f"([^"]*)"', source, re.M)[1]
    sha = re.search(r'^ONNX_STUDENT_SHA256 = "([0-9a-f]+)"', source, re.M)
    return template.replace("{ONNX_REVISION}", str(revision(checkout))).replace(
        "{ONNX_STUDENT_SHA256[:8]}", sha[1][:8] if sha else "")


def link_models(old: Path) -> None:
    """This checkout's models in the older worktree; relabelled with the older encoder revision when the older
    code can read today's encoder (SAME_MODEL_AS_BEFORE)."""
    ours, theirs = revision(ROOT), revision(old)
    relabel = ours != theirs
    if relabel and SAME_MODEL_AS_BEFORE.get(ours) != theirs:
        raise SystemExit(f"{old} reads encoder revision {theirs}, this checkout builds {ours}: build its own models")
    for name in MODELS:
        target = old / "models" / name
        if target.exists():
            continue
        if not relabel or name not in RECORDS:
            target.symlink_to(ROOT / "models" / name)
            continue
        target.mkdir()
        record, key = RECORDS[name]
        for path in (ROOT / "models" / name).iterdir():
            if path.name != record:
                (target / path.name).symlink_to(path)
        data = json.loads((ROOT / "models" / name / record).read_text(encoding="utf-8"))
        if data[key] != encoder_name(ROOT):
            raise SystemExit(f"{ROOT / 'models' / name / record} names {data[key]!r}, not this checkout's encoder: run `make models`")
        data[key] = encoder_name(old)
        if "converter_revision" in data:
            data["converter_revision"] = theirs
        (target / record).write_text(json.dumps(data, indent=2), encoding="utf-8")


def run_bench(checkout: Path, seconds: float, out: Path) -> dict:
    """That checkout's own bench, default encoder, one and 32 clients; its results for e5-int8."""
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    command = [sys.executable, str(checkout / "bench" / "run.py"), "--backends", "e5-int8", "--concurrency", "1,32",
               "--seconds", str(seconds), "--out", str(out)]
    if "--setups" in (checkout / "bench" / "run.py").read_text(encoding="utf-8"):
        command += ["--setups", ""]
    subprocess.run(command, cwd=checkout, env=env, check=False)  # exits 1 when a target is missed: still measured
    return json.loads(out.read_text(encoding="utf-8"))["backends"]["e5-int8"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--commit", default=BEFORE)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "baseline.json")
    args = parser.parse_args()
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="huashu-baseline-") as tmp:
        old = Path(tmp) / "before"
        subprocess.run(["git", "worktree", "add", "--detach", "-q", str(old), args.commit], cwd=ROOT, check=True)
        try:
            link_models(old)
            print(f"before ({args.commit}):", flush=True)
            before = run_bench(old, args.seconds, Path(tmp) / "before.json")
            print(f"now ({head}):", flush=True)
            now = run_bench(ROOT, args.seconds, Path(tmp) / "now.json")
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(old)], cwd=ROOT, check=False)
    result = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count()},
        "before": {"commit": args.commit, "suggest": before["suggest"], "rss_mb": before["rss_mb_after_warmup"]},
        "now": {"commit": head, "suggest": now["suggest"], "rss_mb": now["rss_mb_after_warmup"]},
        "c1_p50_ratio": round(now["suggest"]["1"]["p50_ms"] / before["suggest"]["1"]["p50_ms"], 3),
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    for c in ("1", "32"):
        b, n = before["suggest"][c], now["suggest"][c]
        print(f"c={c:<3} before p50 {b['p50_ms']:7.2f} ms p99 {b['p99_ms']:7.2f} ms {b['rps']:6.1f}/s | "
              f"now p50 {n['p50_ms']:7.2f} ms p99 {n['p99_ms']:7.2f} ms {n['rps']:6.1f}/s")
    ok = result["c1_p50_ratio"] <= 1.5
    print(f"{'ok  ' if ok else 'MISS'} p50 at one client, now / before: {result['c1_p50_ratio']} (target 1.5); wrote {args.out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
