"""compose.yaml and the Kubernetes manifests against the code: every HUASHU_ variable they set is a setting,
the probes and the scrape path are routes of the app, and the replicas share the PostgreSQL store (never a
SQLite file)."""

from __future__ import annotations

from pathlib import Path

import yaml

from service.api.app import create_app
from service.config import Settings

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = {f"HUASHU_{name.upper()}" for name in Settings.model_fields}


def _routes() -> set[str]:
    return set(create_app(Settings(open=True)).openapi()["paths"]) | {"/healthz", "/readyz"}


def test_compose_sets_only_real_settings_and_one_process_per_container():
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    huashu = compose["services"]["huashu"]
    env = huashu["environment"]
    assert {k for k in env if k.startswith("HUASHU_")} <= SETTINGS
    assert env["HUASHU_WORKERS"] == "1" and huashu["deploy"]["replicas"] >= 2
    assert env["HUASHU_RATE_LIMIT_STORAGE"].startswith("redis://redis:")
    assert env["HUASHU_AUDIT_FLUSH_MS"] == "0"  # rows visible to every replica before the answer
    assert env["HUASHU_DATABASE_URL"].startswith("postgresql://") and "@postgres:" in env["HUASHU_DATABASE_URL"]
    assert "HUASHU_DB_PATH" not in env and "volumes" not in huashu  # no SQLite file shared between containers
    postgres = compose["services"]["postgres"]
    assert "pg_isready" in postgres["healthcheck"]["test"]
    assert huashu["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "/readyz" in " ".join(huashu["healthcheck"]["test"]) and "/readyz" in _routes()
    assert (ROOT / "deploy" / "nginx.conf").exists()


def test_kubernetes_probes_are_routes_and_settings_are_real():
    documents = list(yaml.safe_load_all((ROOT / "deploy" / "k8s" / "huashu.yaml").read_text(encoding="utf-8")))
    deployment = next(d for d in documents if d["kind"] == "Deployment" and d["metadata"]["name"] == "huashu")
    spec = deployment["spec"]
    container = spec["template"]["spec"]["containers"][0]
    routes = _routes()
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["path"] in routes, probe
    assert spec["template"]["metadata"]["annotations"]["prometheus.io/path"] in routes
    assert {e["name"] for e in container["env"] if e["name"].startswith("HUASHU_")} <= SETTINGS
    # several replicas on the shared PostgreSQL store, never a SQLite file on a pod's volume
    assert spec["replicas"] >= 2 and "volumes" not in spec["template"]["spec"]
    env = {e["name"]: e for e in container["env"]}
    assert env["HUASHU_DATABASE_URL"]["valueFrom"]["secretKeyRef"]["name"] == "huashu-db" and "HUASHU_DB_PATH" not in env
    assert any(d["kind"] == "StatefulSet" and d["metadata"]["name"] == "huashu-postgres" for d in documents)
    service = next(d for d in documents if d["kind"] == "Service" and d["metadata"]["name"] == "huashu-postgres")
    assert "@huashu-postgres:5432/" in (ROOT / "deploy" / "k8s" / "huashu.yaml").read_text(encoding="utf-8")
    assert service["spec"]["ports"][0]["port"] == 5432
    assert spec["template"]["spec"]["terminationGracePeriodSeconds"] > 10
