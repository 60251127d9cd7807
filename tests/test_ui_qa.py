"""The QA page in a real browser: headless Chromium against the app served by uvicorn on a loopback port."""

import re

import httpx
import pytest

from intents.labels import INTENTS
from tests.ui_support import AGENT_KEY, QA_KEY, browser, serve  # noqa: F401 - browser is a fixture

# Browser tests: in `make test` and CI, not in the quick `pytest -m "not slow"` loop.
pytestmark = pytest.mark.slow

try:
    from playwright.sync_api import expect
except ImportError:  # pragma: no cover - depends on the machine; launch_browser skips
    expect = None

SCRIPT = "<script>alert(1)</script>"
TRAFFIC = ["亲 我165 110斤穿什么码", "能便宜点吗", "快递到哪了 怎么还没到", SCRIPT, "质量太差了 我要退货"]



@pytest.fixture(scope="module")
def server(fake_settings, make_fake_app, tmp_path_factory):
    """The app (over the fake analyzer) with keys and an audit log of its own, served by uvicorn in a thread."""
    own = fake_settings.model_copy(
        update={"db_path": tmp_path_factory.mktemp("ui") / "audit.db", "qa_keys": QA_KEY, "agent_keys": AGENT_KEY}
    )
    with serve(make_fake_app(own)) as base:
        yield base


def test_page_and_assets_are_served_with_a_strict_policy(server):
    page = httpx.get(f"{server}/ui/qa")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "__LABELS__" not in page.text
    contract = httpx.get(f"{server}/ui/contract.json").json()  # the labels come from the server, not copies in the script
    assert contract["intents"]["size"] == "尺码咨询" and contract["limits"]["max_history"] == 50
    for name, kind in (("qa.js", "text/javascript"), ("qa.css", "text/css")):
        asset = httpx.get(f"{server}/ui/static/{name}")
        assert asset.status_code == 200 and asset.headers["content-type"].startswith(kind)
    missing = httpx.get(f"{server}/ui/static/..%2Fqa.html")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    assert "innerHTML" not in httpx.get(f"{server}/ui/static/qa.js").text  # customer text goes in as text only


def test_qa_reviews_a_row_in_the_browser_and_the_report_follows(browser, server):
    sent = []
    for message in TRAFFIC:
        response = httpx.post(
            f"{server}/v1/suggest", json={"message": message}, headers={"Authorization": f"Bearer {AGENT_KEY}"}, timeout=60
        )
        assert response.status_code == 200, response.text
        sent.append(response.json())
    ids = {body["request_id"] for body in sent}
    target, confirmed, script = sent[0], sent[1], sent[TRAFFIC.index(SCRIPT)]
    predicted = target["intent"]["id"]
    gold = next(i for i in INTENTS if i != predicted)

    page = browser.new_page()
    dialogs, errors = [], []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: "Content Security Policy" in m.text and errors.append(m.text))
    page.goto(f"{server}/ui/qa")

    # Without a key the API refuses and the page says so; with the qa key the queue and report load.
    expect(page.locator("#error")).to_contain_text("401")
    page.fill("#api-key", QA_KEY)
    page.click("#save-key")
    rows = page.locator("table#queue tbody tr")
    expect(rows).to_have_count(len(TRAFFIC))
    assert {rows.nth(i).get_attribute("data-id") for i in range(len(TRAFFIC))} == ids
    expect(page.locator("#error")).to_be_hidden()
    assert page.evaluate("sessionStorage.getItem('huashu.qa.key')") == QA_KEY
    expect(page.locator("#reviewed-count")).to_have_text("0")
    expect(page.locator("table#confusion td[data-gold][data-pred]")).to_have_count(len(INTENTS) ** 2)

    # The customer's script is shown as text and never runs.
    message = page.locator(f'tr[data-id="{script["request_id"]}"] td.message')
    expect(message).to_have_text(SCRIPT)
    assert page.locator("table#queue script").count() == 0

    # The row shows the prediction, and its relabel select starts at the predicted intent.
    row = page.locator(f'tr[data-id="{target["request_id"]}"]')
    expect(row.locator("select.relabel")).to_have_value(predicted)
    for reply in target["replies"]:
        expect(row.locator("ol.replies")).to_contain_text(reply["id"])

    # Relabel one row to another intent: it leaves the queue and the report counts it.
    cell = page.locator(f'table#confusion td[data-gold="{gold}"][data-pred="{predicted}"]')
    expect(cell).to_have_text("0")
    row.locator("select.relabel").select_option(gold)
    row.locator("button.save").click()
    expect(row).to_have_count(0)
    expect(rows).to_have_count(len(TRAFFIC) - 1)
    expect(page.locator("#reviewed-count")).to_have_text("1")
    expect(cell).to_have_text("1")
    assert cell.evaluate("td => getComputedStyle(td).backgroundColor") != "rgba(0, 0, 0, 0)"
    expect(page.locator("#accuracy")).to_have_text("0.000")

    # One click confirms a prediction: the diagonal cell fills and accuracy moves.
    mine = confirmed["intent"]["id"]
    diagonal = page.locator(f'table#confusion td[data-gold="{mine}"][data-pred="{mine}"]')
    before = int(diagonal.inner_text())
    page.locator(f'tr[data-id="{confirmed["request_id"]}"] button.correct').click()
    expect(page.locator("#reviewed-count")).to_have_text("2")
    expect(diagonal).to_have_text(str(before + 1))
    expect(page.locator("#accuracy")).to_have_text("0.500")
    expect(page.locator("#macro-f1")).to_have_text(re.compile(r"^0\.\d{3}$"))
    expect(page.locator(f'#per-intent tr[data-intent="{mine}"] td.support')).not_to_have_text("0")

    # A filter lists GET /v1/audit instead of the queue: reviewed rows show as reviewed.
    page.select_option("#f-reviewed", "true")
    page.click("#apply-filters")
    expect(page.locator("table#queue")).to_have_attribute("data-mode", "filtered")
    expect(rows).to_have_count(2)
    expect(page.locator('table#queue tbody tr[data-reviewed="true"]')).to_have_count(2)
    page.click("#clear-filters")
    page.fill("#f-q", "script")
    page.click("#apply-filters")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-id", script["request_id"])
    page.click("#clear-filters")
    expect(page.locator("table#queue")).to_have_attribute("data-mode", "queue")
    expect(rows).to_have_count(len(TRAFFIC) - 2)

    assert dialogs == [] and errors == []
    page.close()
