"""GET /metrics: Prometheus text with what an operator watches."""

from __future__ import annotations

import re

from tests.conftest import serving


def _value(text: str, name: str, **labels) -> float:
    """The sample `name{labels}` of a scrape (0 when absent)."""
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split(" ")[0]))
        if all(found.get(k) == v for k, v in labels.items()) and (labels or "{" not in line.split(" ")[0]):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_count_requests_reading_and_adoption(fake_settings, make_fake_app, tmp_path):
    settings = fake_settings.model_copy(update={"db_path": tmp_path / "h.db", "agent_keys": "agent-k", "open": False})
    with serving(make_fake_app(settings)) as client:
        key = {"X-API-Key": "agent-k"}
        before = client.get("/metrics").text
        suggestion = client.post("/v1/suggest", json={"message": "快递到哪了 三天了还没到"}, headers=key).json()
        client.post("/v1/feedback", json={"request_id": suggestion["request_id"], "reply_id": suggestion["replies"][0]["id"],
                                          "action": "dismissed"}, headers=key)
        client.get(f"/v1/audit/{suggestion['request_id']}", headers=key)  # 403: an agent key
        client.post("/v1/suggest", json={"message": "在吗"})  # 401: no key
        response = client.get("/metrics")  # no key needed
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    after = response.text
    for name, labels, grew in [
        ("huashu_responses_total", {"route": "/v1/suggest", "method": "POST", "status": "200"}, 1),
        ("huashu_responses_total", {"route": "/v1/suggest", "method": "POST", "status": "401"}, 1),
        ("huashu_responses_total", {"route": "/v1/audit/{request_id}", "method": "GET", "status": "403"}, 1),
        ("huashu_request_duration_seconds_count", {"route": "/v1/feedback", "method": "POST"}, 1),
        ("huashu_messages_total", {"endpoint": "suggest", "intent": suggestion["intent"]["id"]}, 1),
        ("huashu_replies_shown_total", {"intent": suggestion["intent"]["id"]}, len(suggestion["replies"])),
        ("huashu_feedback_total", {"action": "dismissed"}, 1),
    ]:
        assert _value(after, name, **labels) - _value(before, name, **labels) == grew, (name, labels)
    assert _value(after, "huashu_store_writable") == 1.0
    assert "13800138000" not in after and "快递" not in after  # counts and timings, never customer text


def test_feedback_stored_by_another_instance_reaches_this_ones_priors(fake_settings, make_fake_app, tmp_path):
    """Two processes (here two app instances) on one store: after 80 "sent" on worker A a reply ranked 3rd
    there and 5th on worker B. Each now reads the others' feedback every HUASHU_PRIORS_REFRESH_S."""
    import time

    settings = fake_settings.model_copy(update={"db_path": tmp_path / "shared.db", "priors_refresh_s": 0.2, "audit_flush_ms": 0.0})
    with serving(make_fake_app(settings)) as a, serving(make_fake_app(settings)) as b:
        suggestion = a.post("/v1/suggest", json={"message": "快递到哪了"}).json()
        reply = suggestion["replies"][-1]["id"]
        for _ in range(20):  # twenty conversations in which an agent sent it
            sent = b.post("/v1/feedback", json={"request_id": suggestion["request_id"], "reply_id": reply, "action": "sent"})
            assert sent.status_code == 201, sent.text  # B finds the row A wrote before answering
            suggestion = a.post("/v1/suggest", json={"message": "快递到哪了"}).json()
        priors_a = a.app.state.replies.priors
        priors_b = b.app.state.replies.priors
        intent = suggestion["intent"]["id"]
        assert priors_b.counts(reply, intent)[0] == 20  # B's own, at once
        deadline = time.monotonic() + 5
        while priors_a.counts(reply, intent)[0] < 20:
            assert time.monotonic() < deadline, priors_a.counts(reply, intent)
            time.sleep(0.05)
        assert priors_a.counts(reply, intent) == priors_b.counts(reply, intent)


def test_the_same_feedback_sent_again_moves_the_ranking_once(fake_settings, make_fake_app, tmp_path):
    """Found by an operator's audit: 40 "sent" for one reply of one suggestion, without an Idempotency-Key (a
    client retrying, a double click), were 40 in the priors: the reply rose from 5th to 2nd on every replica,
    while the adoption report counted one."""
    settings = fake_settings.model_copy(update={"db_path": tmp_path / "h.db"})
    with serving(make_fake_app(settings)) as client:
        suggestion = client.post("/v1/suggest", json={"message": "快递到哪了"}).json()
        reply, intent = suggestion["replies"][-1]["id"], suggestion["intent"]["id"]
        body = {"request_id": suggestion["request_id"], "reply_id": reply, "action": "sent"}
        before = client.app.state.replies.priors.counts(reply, intent)
        assert client.post("/v1/feedback", json=body).status_code == 201
        once = client.app.state.replies.priors.counts(reply, intent)
        assert once[0] == before[0] + 1
        for _ in range(10):
            assert client.post("/v1/feedback", json=body).status_code == 201  # stored: the log keeps every row
        assert client.app.state.replies.priors.counts(reply, intent) == once
    with serving(make_fake_app(settings)) as restarted:  # and replayed at start-up the same way
        assert restarted.app.state.replies.priors.counts(reply, intent) == once


def test_metrics_files_of_killed_processes_do_not_pile_up_or_count(tmp_path, monkeypatch):
    """Found by an operator's audit: every `HUASHU_WORKERS>1` start left a /tmp/huashu-metrics-* folder behind,
    and the live gauges of a worker killed with SIGKILL were never marked dead (its last values counted)."""
    import os
    import subprocess
    import tempfile
    from pathlib import Path

    from service.api.metrics import forget_dead_workers
    from service.cli.ops import metrics_folder

    dead = subprocess.Popen(["true"])
    dead.wait()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    for name, master in (("huashu-metrics-killed", dead.pid), ("huashu-metrics-running", os.getpid()), ("huashu-metrics-foreign", None)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "counter_1.db").write_bytes(b"")
        if master is not None:
            (tmp_path / name / "master.pid").write_text(str(master))
    folder, own = metrics_folder()
    assert own and Path(folder).parent == tmp_path and (Path(folder) / "master.pid").read_text() == str(os.getpid())
    assert sorted(p.name for p in tmp_path.iterdir() if p != Path(folder)) == ["huashu-metrics-foreign", "huashu-metrics-running"]

    workers = tmp_path / "workers"
    workers.mkdir()
    for name in (f"gauge_livemin_{dead.pid}.db", f"gauge_livesum_{dead.pid}.db", f"counter_{dead.pid}.db", f"gauge_livemin_{os.getpid()}.db"):
        (workers / name).write_bytes(b"")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(workers))
    forget_dead_workers()  # as a worker starting in a killed one's place does
    assert sorted(p.name for p in workers.iterdir()) == sorted([f"counter_{dead.pid}.db", f"gauge_livemin_{os.getpid()}.db"])
