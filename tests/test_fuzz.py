"""Fuzzing the API against its own OpenAPI schema (schemathesis): no 5xx on any input, every answer as documented.

The contract does not depend on the models: the app serves the fake analyzer. Slow for its thousands of cases.
"""

from __future__ import annotations

import itertools
import time
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings, strategies as st

from service.api.app import create_app
from service.config import Settings

pytestmark = pytest.mark.slow

# Examples per operation in the fuzzing phase; the examples and coverage phases add their own
# (boundary values and, for invalid data, each constraint broken in turn), and every operation is
# also called with methods it does not take.
MAX_EXAMPLES = 200
# Examples per operation of the test on ids that exist (audit rows, reviews, feedback).
KNOWN_ID_EXAMPLES = 50
SEED = 20261130
_keys = itertools.count()

# What schemathesis expects for data the schema allows (its default), to which some operations add 422.
ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]

CONFIG = schemathesis.Config.from_dict(
    {
        "seed": SEED,
        "generation": {
            "mode": "all",  # valid and invalid data
            "max-examples": MAX_EXAMPLES,
            "deterministic": True,
            "database": "none",  # nothing replayed from earlier runs: the same cases on every machine
        },
        "phases": {"stateful": {"enabled": False}},
        # Where the service checks more than a schema can say, a schema-valid request may be refused with 422:
        # a knowledge point that must exist, a CSV size chart whose rows must parse, a cursor that must be one
        # the service issued, a date range whose start must not be after its end.
        "operations": [
            {
                "include-path": path,
                "include-method": method,
                "checks": {"positive_data_acceptance": {"expected-statuses": [*ACCEPTED, "422"]}},
            }
            for path, method in (
                ("/v1/replies", "POST"),
                ("/v1/replies/{reply_id}", "PUT"),
                ("/v1/products", "POST"),
                ("/v1/products/{product_id}", "PUT"),
                ("/v1/size-charts/{chart_id}", "PUT"),
                ("/v1/audit", "GET"),
                ("/v1/audit/queue", "GET"),
                ("/v1/reports/intents", "GET"),
                ("/v1/export", "GET"),
            )
        ],
        "checks": {
            "enabled": False,
            "not_a_server_error": {"enabled": True},
            "status_code_conformance": {"enabled": True},
            "content_type_conformance": {"enabled": True},
            "response_schema_conformance": {"enabled": True},
            "response_headers_conformance": {"enabled": True},
            # Invalid data gets a 4xx; data the schema allows is not refused with a 400 or 422.
            "negative_data_rejection": {"enabled": True},
            "positive_data_acceptance": {"enabled": True},
            "unsupported_method": {"enabled": True},
            "allow_header_conformance": {"enabled": True},
        },
    }
)

# The schema is the app's own. It does not depend on the models, so an app whose lifespan never runs
# gives it at import time (schemathesis 4.32's `pytest.from_fixture` fails on pytest 9.2's nodes).
# Every case is sent to `fuzz_app`, which has its models loaded.
schema = schemathesis.openapi.from_dict(create_app(Settings()).openapi(), config=CONFIG)


class FuzzTally:
    """Cases sent per operation, reported at the end of the run as "fuzz cases run"."""

    def __init__(self) -> None:
        self.cases: Counter[str] = Counter()
        self.accepted: Counter[str] = Counter()  # 2xx answers
        self.seconds: Counter[str] = Counter()
        self.statuses: Counter[int] = Counter()

    def call(self, case, app, label: str):
        """Send a case to the app, count it, and check the answer against the schema."""
        started = time.perf_counter()
        response = case.call(app=app)
        self.seconds[label] += time.perf_counter() - started
        self.cases[label] += 1
        self.accepted[label] += 200 <= response.status_code < 300
        self.statuses[response.status_code] += 1
        case.validate_response(response, transport_kwargs={"app": app})
        return response

    def pytest_terminal_summary(self, terminalreporter) -> None:
        if not self.cases:
            return
        terminalreporter.section("schemathesis")
        statuses = ", ".join(f"{code}: {n}" for code, n in sorted(self.statuses.items()))
        terminalreporter.write_line(
            f"fuzz cases run: {sum(self.cases.values())} over {len(self.cases)} operations (seed {SEED}); {statuses}"
        )
        for label, count in sorted(self.cases.items()):
            terminalreporter.write_line(
                f"  {count:5d} cases ({self.accepted[label]:4d} 2xx) {self.seconds[label]:6.1f} s  {label}"
            )


@pytest.fixture(scope="module")
def tally(request) -> FuzzTally:
    tally = FuzzTally()
    request.config.pluginmanager.register(tally, "huashu-fuzz-tally")
    return tally


@pytest.fixture(scope="module")
def fuzz_app(fake_settings, make_fake_app, tally, tmp_path_factory):
    """An app of its own, with its own database: fuzzed shop replies, reviews and audit rows stay here."""
    app = make_fake_app(fake_settings.model_copy(update={"db_path": tmp_path_factory.mktemp("fuzz") / "huashu.db"}))
    # schemathesis starts the lifespan on the first call; the models then load in the background.
    tally.call(schema["/healthz"]["GET"].Case(), app, "GET /healthz (start)")
    assert app.state.ready.wait(60), "the models did not load"
    yield app
    # schemathesis starts the app's lifespan on its first call and keeps it; stop it (closes the store).
    from schemathesis.python.asgi import shutdown_lifespans

    shutdown_lifespans()


@pytest.fixture(scope="module")
def suggestion(fuzz_app, tally) -> dict:
    """One real suggestion, so that operations on its ids reach their answers, not only 404s."""
    case = schema["/v1/suggest"]["POST"].Case(body={"message": "亲 我165 110斤穿什么码", "top_k": 5})
    response = tally.call(case, fuzz_app, "POST /v1/suggest (setup)")
    assert response.status_code == 200, response.text
    return response.json()


# Runs before the schema-wide fuzzing, so that it finds reviewed rows to report and export.
@pytest.mark.parametrize(
    "path, method",
    [
        ("/v1/audit/{request_id}", "GET"),
        ("/v1/audit/{request_id}/reviews", "GET"),
        ("/v1/audit/{request_id}/review", "POST"),
        ("/v1/feedback", "POST"),
    ],
)
@settings(
    max_examples=KNOWN_ID_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_operations_on_known_ids_answer_as_documented(path, method, data, fuzz_app, suggestion, tally):
    operation = schema[path][method]
    case = data.draw(operation.as_strategy())  # valid data, then the ids of a real suggestion put in
    if "request_id" in case.path_parameters:
        case.path_parameters["request_id"] = suggestion["request_id"]
    else:
        reply = data.draw(st.sampled_from(suggestion["replies"]))
        case.body.update(request_id=suggestion["request_id"], reply_id=reply["id"])
        for name in [n for n in (case.headers or {}) if n.lower() == "idempotency-key"]:
            case.headers[name] = f"known-id-{next(_keys)}"  # a drawn key is reused by later draws for other feedback (409)
    response = tally.call(case, fuzz_app, f"{operation.label} (known id)")
    assert 200 <= response.status_code < 300, response.text


@schema.parametrize()
def test_api_answers_as_documented(case, fuzz_app, tally):
    tally.call(case, fuzz_app, case.operation.label)


ADMIN_KEY = "fuzz-admin-key"


@pytest.fixture(scope="module")
def fuzz_keyed_app(fuzz_app, fake_settings, make_fake_app, tally, tmp_path_factory):
    """The same, with keys configured (every role has one): the cases carry the admin key, so that they
    reach the operations instead of stopping at 401."""
    keyed = fake_settings.model_copy(update={
        "db_path": tmp_path_factory.mktemp("fuzz-keyed") / "huashu.db", "open": False,
        "agent_keys": "fuzz-agent-key", "qa_keys": "fuzz-qa-key", "admin_keys": ADMIN_KEY,
    })
    app = make_fake_app(keyed)
    tally.call(schema["/healthz"]["GET"].Case(), app, "GET /healthz (start, with keys)")
    assert app.state.ready.wait(60), "the models did not load"
    yield app  # its lifespan is stopped with fuzz_app's (schemathesis stops them all)


@schema.parametrize()
def test_api_with_keys_answers_as_documented(case, fuzz_keyed_app, tally):
    case.headers = {k: v for k, v in (case.headers or {}).items() if k.lower() not in ("authorization", "x-api-key")}
    case.headers["X-API-Key"] = ADMIN_KEY
    tally.call(case, fuzz_keyed_app, f"{case.operation.label} (with keys)")
