"""The QA page in a real browser: headless Chromium against the app served by uvicorn on a loopback port."""

import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlparse, urlunparse

import httpx
import pytest

from intents.labels import INTENT_LABELS, INTENTS
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
    for name in ("qa.js", "qa.css"):  # nothing from a CDN, no inline style
        assert not re.search(r"https?://|style=", httpx.get(f"{server}/ui/static/{name}").text), name
    assert not re.search(r"https?://|style=", page.text)
    # Until qa.js handles the forms their buttons are disabled (a click before would be lost to form-action 'none').
    assert re.search(r'id="save-key"[^>]*disabled', page.text) and re.search(r'id="apply-filters"[^>]*disabled', page.text)


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
    expect(page.locator("#error")).to_contain_text("请在右上角填入质检（qa）角色的 key")
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
    message = page.locator(f'tr[data-id="{script["request_id"]}"] td.message .said')
    expect(message).to_have_text(SCRIPT)
    assert page.locator("table#queue script").count() == 0

    # The row shows the prediction (its intent chip marked, none picked yet) and the replies shown.
    row = page.locator(f'tr[data-id="{target["request_id"]}"]')
    expect(row.locator("button.chip.predicted")).to_have_attribute("data-intent", predicted)
    expect(row.locator('button.chip[aria-pressed="true"]')).to_have_count(0)
    for reply in target["replies"]:
        expect(row.locator(f'ol.replies li[data-reply="{reply["id"]}"]')).to_contain_text(reply["text"])

    # Relabel one row to another intent: it leaves the queue and the report counts it.
    cell = page.locator(f'table#confusion td[data-gold="{gold}"][data-pred="{predicted}"]')
    expect(cell).to_have_text("0")
    row.locator(f'button.chip[data-intent="{gold}"]').click()
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


# --- one small audit log per test, each on a server of its own --------------------------------------------

AGENT = {"Authorization": f"Bearer {AGENT_KEY}"}
QA = {"Authorization": f"Bearer {QA_KEY}"}


@pytest.fixture
def fresh(fake_settings, make_fake_app, tmp_path):
    """An empty audit log with keys, served for one test."""
    own = fake_settings.model_copy(update={"db_path": tmp_path / "audit.db", "qa_keys": QA_KEY, "agent_keys": AGENT_KEY})
    with serve(make_fake_app(own)) as base:
        yield base


def suggest(base, message, history=()):
    turns = [{"role": role, "text": text} for role, text in history]
    response = httpx.post(f"{base}/v1/suggest", json={"message": message, "history": turns}, headers=AGENT, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()


def feedback(base, answer, reply, action, final_text=None):
    body = {"request_id": answer["request_id"], "reply_id": reply["id"], "action": action, "final_text": final_text}
    response = httpx.post(f"{base}/v1/feedback", json=body, headers=AGENT)
    assert response.status_code == 201, response.text


def review_of(base, request_id):
    return httpx.get(f"{base}/v1/audit/{request_id}", headers=QA).json()["review"]


def open_qa(browser, base, rows=None):
    """The QA page with the qa key entered, once its list shows `rows` rows; fails on a script error or a CSP report."""
    page = browser.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: "Content Security Policy" in m.text and errors.append(m.text))
    page.goto(f"{base}/ui/qa")
    page.fill("#api-key", QA_KEY)
    page.click("#save-key")
    if rows is not None:
        expect(page.locator("table#queue tbody tr")).to_have_count(rows)
    expect(page.locator("#error")).to_be_hidden()
    page.errors = errors
    return page


def test_next_page_follows_the_cursor_so_rows_reviewed_meanwhile_skip_none(browser, fresh):
    messages = [f"订单尾号{n:04d}的快递到哪了" for n in range(55)]
    assert httpx.post(f"{fresh}/v1/classify", json={"messages": messages}, headers=AGENT).status_code == 200
    order = [item["id"] for item in httpx.get(f"{fresh}/v1/audit/queue?limit=500", headers=QA).json()["items"]]
    page = open_qa(browser, fresh, rows=50)
    rows = page.locator("table#queue tbody tr")

    # Three reviews on page 1 move rows 51-53 up; the next page still starts right after row 50.
    for n in range(3):
        rows.first.locator("button.correct").click()
        expect(rows).to_have_count(49 - n)
    page.click("#next-page")
    expect(rows).to_have_count(5)
    assert [rows.nth(i).get_attribute("data-id") for i in range(5)] == order[50:]
    expect(page.locator("#next-page")).to_be_disabled()
    page.click("#prev-page")  # page 1 read again: the unreviewed rows from the top
    expect(rows.first).to_have_attribute("data-id", order[3])
    expect(rows).to_have_count(50)
    assert page.errors == []


def test_rows_show_reply_texts_the_final_text_with_its_findings_and_the_earlier_turns(browser, fresh):
    answer = suggest(fresh, "这件有货吗 质量怎么样", [("customer", "在吗 <b>老板</b>"), ("agent", "亲，在的呢")])
    sent = "亲，这款是全网最低价，百分百正品，放心拍哦"
    feedback(fresh, answer, answer["replies"][0], "edited", sent)
    page = open_qa(browser, fresh, rows=1)
    row = page.locator(f'tr[data-id="{answer["request_id"]}"]')

    for reply in answer["replies"]:  # the texts the agent saw, not ids
        expect(row.locator(f'ol.replies li[data-reply="{reply["id"]}"] .text')).to_have_text(reply["text"])
    expect(row.locator(f'ol.replies li[data-reply="{answer["replies"][0]["id"]}"] .badge.edited')).to_have_text("改后发送")

    # What the agent sent, the draft check's findings it was sent past marked in it and listed.
    final = row.locator("td.agent .final")
    expect(final.locator(".final-text")).to_have_text(sent)
    expect(final.locator("mark.finding")).to_have_text(["全网最低价", "百分百正品"])
    expect(final.locator("ul.findings li")).to_have_count(2)
    expect(final.locator("ul.findings li").first).to_contain_text("广告法")

    # The conversation before the message, as text.
    turns = row.locator("td.message .history li")
    expect(turns).to_have_count(2)
    expect(turns.nth(0)).to_contain_text("<b>老板</b>")
    expect(turns.nth(0).locator(".who")).to_have_text("客户")
    expect(turns.nth(1)).to_contain_text("在的呢")
    expect(turns.nth(1).locator(".who")).to_have_text("客服")
    assert row.locator("b").count() == 0 and page.errors == []


def test_relabel_takes_several_intents_main_first_psychology_and_a_comment(browser, fresh):
    answer = suggest(fresh, "衣服洗了一次就起球 我要退货")
    page = open_qa(browser, fresh, rows=1)
    row = page.locator(f'tr[data-id="{answer["request_id"]}"]')
    row.locator('button.chip[data-intent="refund"]').click()
    row.locator('button.chip[data-intent="complaint"]').click()
    expect(row.locator('button.chip[aria-pressed="true"]')).to_have_count(2)
    expect(row.locator('button.chip[data-intent="refund"] .order')).to_have_text("主")
    expect(row.locator('button.chip[data-intent="complaint"] .order')).to_have_text("2")
    row.locator("select.relabel-psychology").select_option("remedy")
    row.locator("input.comment").fill("既要退货，也在说质量问题")
    row.locator("button.save").click()
    expect(row).to_have_count(0)
    review = review_of(fresh, answer["request_id"])
    assert (review["intents"], review["psychology"], review["comment"]) == (["refund", "complaint"], "remedy", "既要退货，也在说质量问题")

    page.select_option("#f-reviewed", "true")
    page.click("#apply-filters")
    expect(row.locator(".reviewed-note")).to_contain_text("退款/退换货 + 投诉/不满 · 补救 · 备注：既要退货，也在说质量问题")
    assert page.errors == []


def test_keys_move_pick_intents_in_contract_order_and_save_but_not_while_typing(browser, fresh):
    for message in ("能便宜点吗", "快递到哪了", "这个是纯棉的吗"):
        suggest(fresh, message)
    page = open_qa(browser, fresh, rows=3)
    rows = page.locator("table#queue tbody tr")
    expect(rows.nth(0)).to_have_attribute("aria-current", "true")
    for key, at in (("j", 1), ("j", 2), ("k", 1)):
        page.keyboard.press(key)
        expect(rows.nth(at)).to_have_attribute("aria-current", "true")
    second = rows.nth(1).get_attribute("data-id")

    # Typing in a field (the comment, the search box) moves nothing and picks nothing.
    comment = rows.nth(1).locator("input.comment")
    comment.click()
    page.keyboard.type("j2 质量k1")
    page.locator("#f-q").press_sequentially("k3")
    expect(comment).to_have_value("j2 质量k1")
    expect(rows.nth(1)).to_have_attribute("aria-current", "true")
    expect(page.locator('button.chip[aria-pressed="true"]')).to_have_count(0)

    page.keyboard.press("Escape")  # leaves the field
    page.keyboard.press("3")
    page.keyboard.press("1")
    expect(rows.nth(1).locator('button.chip[aria-pressed="true"]')).to_have_count(2)
    page.keyboard.press("Enter")
    expect(page.locator(f'tr[data-id="{second}"]')).to_have_count(0)
    review = review_of(fresh, second)
    assert review["intents"] == [INTENTS[2], INTENTS[0]] and review["comment"] == "j2 质量k1"
    expect(rows.nth(1)).to_have_attribute("aria-current", "true")  # the keys moved on to the next row
    assert page.errors == []


def test_export_downloads_the_reviewed_rows_of_the_chosen_dates(browser, fresh):
    answer = suggest(fresh, "能开发票吗")
    reviewed = {"intents": [answer["intent"]["id"]], "reviewer": "qa", "comment": "发票问题"}
    assert httpx.post(f"{fresh}/v1/audit/{answer['request_id']}/review", json=reviewed, headers=QA).status_code == 201
    today = datetime.now(timezone.utc).date()
    page = open_qa(browser, fresh, rows=0)

    def download(button, since, until):
        page.fill("#f-since", since.isoformat())
        page.fill("#f-until", until.isoformat())
        with page.expect_download() as info:
            page.click(button)
        return info.value.suggested_filename, Path(info.value.path()).read_text(encoding="utf-8")

    name, text = download("#export-csv", today, today)
    assert name == f"huashu-reviews-{today}_{today}.csv"
    lines = text.splitlines()
    assert lines[0].startswith("id,created,endpoint,message") and len(lines) == 2 and answer["request_id"] in lines[1]
    name, text = download("#export-jsonl", today, today)
    assert name.endswith(".jsonl") and [json.loads(line)["id"] for line in text.splitlines()] == [answer["request_id"]]
    yesterday = today - timedelta(days=1)
    name, text = download("#export-csv", yesterday, yesterday)  # the dates go to the server
    assert len(text.splitlines()) == 1
    expect(page.locator("#notice")).to_contain_text("没有已审核的记录")
    assert page.errors == []


def test_a_key_typed_before_the_page_has_started_is_kept(browser, fresh):
    # Seen in CI: the key was filled while /ui/contract.json was still on its way; the page's start then
    # wrote the (empty) stored key over it, and the saved key was empty, so the queue answered 401.
    other = suggest(fresh, "快递到哪了")["request_id"]
    page = browser.new_page()
    release = []
    page.route("**/ui/contract.json", lambda route: release.append(route))
    page.goto(f"{fresh}/ui/qa")
    page.fill("#api-key", QA_KEY)
    page.fill("#reviewer", "小王")
    while not release:
        page.wait_for_timeout(20)
    release[0].continue_()
    page.click("#save-key")  # waits for the page to enable it
    rows = page.locator("table#queue tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-id", other)
    expect(page.locator("#error")).to_be_hidden()
    assert page.evaluate("sessionStorage.getItem('huashu.qa.reviewer')") == "小王"
    page.close()


def test_identical_messages_are_confirmed_at_once(browser, fresh):
    same = [suggest(fresh, "亲 这个链接还有货吗")["request_id"] for _ in range(4)]
    other = suggest(fresh, "快递到哪了")["request_id"]
    page = open_qa(browser, fresh, rows=5)
    posts = []
    page.on("request", lambda r: r.method == "POST" and posts.append(urlparse(r.url).path))
    page.locator(f'tr[data-id="{same[1]}"] button.same').click()
    expect(page.locator("#bulk-count")).to_contain_text("共 4 条相同消息，其中 4 条未审核")
    expect(page.locator("#bulk-message")).to_have_text("亲 这个链接还有货吗")
    page.click("#bulk-confirm")
    rows = page.locator("table#queue tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-id", other)
    expect(page.locator("#reviewed-count")).to_have_text("4")
    assert posts == ["/v1/reviews"]
    predicted = httpx.get(f"{fresh}/v1/audit/{same[0]}", headers=QA).json()["intent"]
    assert all(review_of(fresh, rid)["intents"] == [predicted] for rid in same)
    assert page.errors == []


def test_adoption_charts_and_the_replies_never_used(browser, fresh):
    bargain, parcel = suggest(fresh, "能便宜点吗"), suggest(fresh, "快递到哪了")
    feedback(fresh, bargain, bargain["replies"][0], "sent")
    feedback(fresh, parcel, parcel["replies"][1], "edited", "亲，包裹已经在路上了，明天就到~")
    report = httpx.get(f"{fresh}/v1/reports/intents", headers=QA).json()
    texts = {}
    for offset in range(0, 5000, 500):
        page_of = httpx.get(f"{fresh}/v1/replies?limit=500&offset={offset}", headers=QA).json()["replies"]
        texts.update({r["id"]: r["text"] for r in page_of})
        if not page_of:
            break
    page = open_qa(browser, fresh)
    outside = []
    page.on("request", lambda r: not r.url.startswith(fresh) and outside.append(r.url))

    def filled(bar, kind):  # the drawn share of the bar
        return bar.locator(f".fill.{kind}").evaluate("f => f.getBoundingClientRect().width / f.parentElement.getBoundingClientRect().width")

    intent = bargain["intent"]["id"]
    shown = report["adoption_per_intent"][intent]
    bar = page.locator(f'#adoption-intents .bar-row[data-intent="{intent}"]')
    expect(bar).to_be_visible()
    assert filled(bar, "sent") == pytest.approx(shown["sent"] / shown["shown"], abs=0.01)
    expect(page.locator("#adoption-intents .bar-row")).to_have_count(len(INTENTS))
    used = page.locator(f'#adoption-replies .bar-row[data-reply="{bargain["replies"][0]["id"]}"]')
    expect(used.locator(".bar-value")).to_have_text("100%")
    assert filled(used, "sent") == pytest.approx(1, abs=0.01)
    edited = page.locator(f'#adoption-replies .bar-row[data-reply="{parcel["replies"][1]["id"]}"]')
    assert filled(edited, "edited") == pytest.approx(1, abs=0.01)

    never = page.locator("#never-used li")
    expect(never).to_have_count(len(report["never_used"]))
    first = report["never_used"][0]
    expect(never.first).to_have_attribute("data-reply", first)
    expect(never.first.locator(".reply-text")).to_have_text(texts.get(first, first))
    assert first in texts and outside == [] and page.errors == []


def test_report_says_no_data_without_reviews_and_the_page_speaks_chinese(browser, fresh):
    suggest(fresh, "亲 我165 110斤穿什么码")
    page = browser.new_page()
    page.goto(f"{fresh}/ui/qa")
    expect(page.locator("#error")).to_contain_text("需要 API key（401）")
    page.fill("#api-key", QA_KEY)
    page.click("#save-key")
    expect(page.locator("table#queue tbody tr")).to_have_count(1)

    for score in ("#accuracy", "#macro-f1"):
        expect(page.locator(score)).to_have_text("暂无数据")
    for column in ("precision", "recall", "f1"):
        expect(page.locator(f"#per-intent td.{column}")).to_have_text(["暂无数据"] * len(INTENTS))

    expect(page.locator("#f-intent option")).to_have_text(["全部", *INTENT_LABELS.values()])
    expect(page.locator("table#queue td.predicted .intent")).to_have_text(INTENT_LABELS["size"])
    expect(page.locator("#confusion thead th").nth(1)).to_have_text(INTENT_LABELS[INTENTS[0]])
    chrome = page.evaluate(
        """() => [...document.querySelectorAll('header, #filters, #keys-help, #queue thead, #queue td.review, #pager,'
          + '#report-section, #adoption-section h2, #adoption-section figcaption, #adoption-section .legend')]
          .map((e) => e.innerText).concat([...document.querySelectorAll('[placeholder]')].map((e) => e.placeholder)).join(' ')"""
    )
    english = set(re.findall(r"[A-Za-z]{2,}", chrome)) - {"API", "key", "qa", "CSV", "JSONL", "F1", "UTC", "Enter", "Esc"}
    assert not english, english
    page.close()


def test_search_in_traditional_characters_finds_the_simplified_messages(browser, fresh):
    hits = {suggest(fresh, message)["request_id"] for message in ("质量太差了 我要退货", "衣服质量怎么样")}
    suggest(fresh, "快递到哪了")
    page = open_qa(browser, fresh, rows=3)
    asked = []
    page.on("request", lambda r: "/v1/audit?" in r.url and asked.append(r.url))
    page.fill("#f-q", "質量")
    page.press("#f-q", "Enter")
    rows = page.locator("table#queue tbody tr")
    expect(rows).to_have_count(2)
    assert {rows.nth(i).get_attribute("data-id") for i in range(2)} == hits
    expect(page.locator("#list-total")).to_have_text("共 2 条符合条件")
    assert parse_qs(urlparse(asked[-1]).query)["q"] == ["質量"]  # passed through as typed; the server folds
    assert page.errors == []


def test_reversed_dates_are_refused_in_chinese_and_the_servers_422_is_shown(browser, fresh):
    suggest(fresh, "快递到哪了")
    page = open_qa(browser, fresh, rows=1)
    asked = []
    page.on("request", lambda r: "/v1/audit" in r.url and asked.append(r.url))
    page.fill("#f-since", "2025-03-02")
    page.fill("#f-until", "2025-03-01")
    page.click("#apply-filters")
    expect(page.locator("#error")).to_contain_text("开始日期（2025-03-02）晚于结束日期（2025-03-01）")
    expect(page.locator("#f-since")).to_have_attribute("aria-invalid", "true")
    assert asked == []  # refused in the page, not sent

    # Should the server still answer 422 (here the dates are swapped on the way), its message is shown.
    def swapped(route):
        url = urlparse(route.request.url)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        query["since"], query["until"] = query["until"], query["since"]
        route.continue_(url=urlunparse(url._replace(query=urlencode(query))))

    page.route("**/v1/audit?*", swapped)
    page.fill("#f-since", "2025-03-01")
    page.fill("#f-until", "2025-03-02")
    page.click("#apply-filters")
    expect(page.locator("#error")).to_contain_text("请求参数有误（422）")
    expect(page.locator("#error")).to_contain_text("since (2025-03-02) is after until (2025-03-01)")
    assert page.errors == []
