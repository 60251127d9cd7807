"""The agent console in a real browser: headless Chromium against the app served by uvicorn on a loopback port.

Set HUASHU_SCREENSHOT=docs/agent-console.png to also write the README screenshot.
"""

import os
import sqlite3
from pathlib import Path

import httpx
import pytest

from intents.normalize import mask_pii
from tests.ui_support import AGENT_KEY, QA_KEY, browser, serve  # noqa: F401 - browser is a fixture

# Browser tests: in `make test` and CI, not in the quick `pytest -m "not slow"` loop.
pytestmark = pytest.mark.slow

try:
    from playwright.sync_api import expect
except ImportError:  # pragma: no cover - depends on the machine; launch_browser skips
    expect = None

COMPLAINT = "什么破东西!!! 我要给差评 还要去12315投诉你们"
SIZE_QUESTION = "亲 我165 110斤穿什么码"
BARGAIN = "那能便宜点吗"
XSS = "<script>alert(1)</script> <img src=x onerror=alert(1)> 怎么还不发货"
# Code points before, between and after the findings: offsets must not be counted in UTF-16 units.
LINT_DRAFT = "😊亲，你必须先确认收货，我们的质量全网第一👍"
ROUND_TRIPS: list[tuple[str, int]] = []  # (message, ms shown by the page), printed for the lead



@pytest.fixture(scope="module")
def db_path(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("agent-ui") / "audit.db"


@pytest.fixture(scope="module")
def server(fake_settings, make_fake_app, db_path):
    """The app (over the fake analyzer) with agent and qa keys and an audit log of its own; yields its base URL."""
    own = fake_settings.model_copy(update={"db_path": db_path, "qa_keys": QA_KEY, "agent_keys": AGENT_KEY})
    with serve(make_fake_app(own)) as base:
        yield base
    print("\nsuggest round trips shown by the console:", ", ".join(f"{ms} ms ({m[:12]})" for m, ms in ROUND_TRIPS))


@pytest.fixture
def console(browser, server):
    """A fresh console page (own session storage) with the agent key entered; fails the test on any dialog or page error."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    page.on("dialog", lambda dialog: (problems.append(f"dialog: {dialog.message}"), dialog.dismiss()))
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("console", lambda m: "Content Security Policy" in m.text and problems.append(m.text))
    page.goto(f"{server}/ui/agent")
    page.fill("#api-key", AGENT_KEY)
    page.click("#save-key")
    yield page
    context.close()
    assert problems == []


def api(server: str, path: str, body: dict) -> dict:
    response = httpx.post(f"{server}{path}", json=body, headers={"Authorization": f"Bearer {AGENT_KEY}"}, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()


def ask(page, message: str) -> tuple[dict, dict]:
    """Types `message` into the message box and presses Enter; returns the /v1/suggest request body and answer."""
    page.fill("#message", message)
    with page.expect_response("**/v1/suggest") as response:
        page.press("#message", "Enter")
    answer = response.value.json()
    assert response.value.status == 200, answer
    expect(page.locator("#suggestions")).to_have_attribute("data-request-id", answer["request_id"])
    ms = int(page.locator("#rtt").get_attribute("data-ms"))
    ROUND_TRIPS.append((message, ms))
    print(f"suggest round trip for {message!r}: {ms} ms")
    return response.value.request.post_data_json, answer


def send_draft(page) -> None:
    """Presses send, and again if the draft's errors asked for a second press."""
    page.click("#send")
    if "confirm" in (page.get_attribute("#send", "class") or ""):
        page.click("#send")
    expect(page.locator("#draft")).to_have_value("")


def marked(findings: list[dict], text: str) -> list[str]:
    """The highlighted stretches the console should show: overlapping findings merged into one mark."""
    chars = list(text)  # Python iterates by code point, as the API counts
    spans: list[list[int]] = []
    for f in sorted(findings, key=lambda f: f["span"]["start"]):
        start, end = f["span"]["start"], f["span"]["end"]
        if end <= start:
            continue
        if spans and start < spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], end)
        else:
            spans.append([start, end])
    return ["".join(chars[a:b]) for a, b in spans]


def test_page_and_assets_are_served_with_a_strict_policy(server):
    page = httpx.get(f"{server}/ui/agent")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "<script>" not in page.text.replace('<script src="/ui/static/agent.js" defer></script>', "")
    for name, kind in (("agent.js", "text/javascript"), ("agent.css", "text/css")):
        asset = httpx.get(f"{server}/ui/static/{name}")
        assert asset.status_code == 200 and asset.headers["content-type"].startswith(kind)
        assert "script-src 'self'" in asset.headers["content-security-policy"]
    script = httpx.get(f"{server}/ui/static/agent.js").text
    assert "innerHTML" not in script and "insertAdjacentHTML" not in script and "outerHTML" not in script


def test_without_a_key_the_console_says_401_and_keeps_the_message(browser, server):
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{server}/ui/agent")
    page.fill("#message", SIZE_QUESTION)
    page.press("#message", "Enter")
    expect(page.locator("#status")).to_contain_text("401")
    expect(page.locator("#status")).to_contain_text("needs an API key")
    expect(page.locator("#status")).to_have_attribute("data-kind", "error")
    expect(page.locator("#message")).to_have_value(SIZE_QUESTION)
    expect(page.locator("#conversation li")).to_have_count(0)
    # With the key the same message goes through.
    page.fill("#api-key", AGENT_KEY)
    page.press("#api-key", "Enter")
    assert page.evaluate("sessionStorage.getItem('huashu.agent.key')") == AGENT_KEY
    ask(page, SIZE_QUESTION)
    expect(page.locator("#conversation li.customer")).to_have_count(1)
    context.close()


def test_complaint_is_read_and_an_edited_reply_is_recorded(console, server, db_path):
    page = console
    body, answer = ask(page, COMPLAINT)
    assert body == {"message": COMPLAINT, "history": [], "variables": {}, "top_k": 5}

    # The reading: badges, cues, escalation banner and the guidance steps, as the API answered.
    assert answer["intent"]["id"] == "complaint" and answer["psychology"]["id"] == "retaliation"
    assert answer["emotion"]["level"] == "angry" and answer["escalate"]
    expect(page.locator("#intent-badge")).to_have_attribute("data-id", "complaint")
    expect(page.locator("#intent-badge .value")).to_have_text(answer["intent"]["label"])
    expect(page.locator("#psychology-badge")).to_have_attribute("data-id", "retaliation")
    expect(page.locator("#psychology-badge .value")).to_have_text("报复")
    expect(page.locator("#psychology-badge .cues li")).to_have_text(answer["psychology"]["cues"])
    expect(page.locator("#emotion-badge")).to_have_attribute("data-level", "angry")
    expect(page.locator("#emotion-badge .cues li")).to_have_text(answer["emotion"]["cues"])
    expect(page.locator("#escalation")).to_be_visible()
    expect(page.locator("#escalate-reason")).to_have_text(answer["escalate_reason"])
    expect(page.locator("#handoff")).to_be_hidden()
    expect(page.locator("#guidance li")).to_have_text(answer["guidance"])

    # The suggestions, numbered, with category and why; an angry customer gets an apology or empathy first.
    items = page.locator("#suggestions li")
    expect(items).to_have_count(len(answer["replies"]))
    for i, reply in enumerate(answer["replies"]):
        item = items.nth(i)
        expect(item).to_have_attribute("data-id", reply["id"])
        expect(item).to_have_attribute("data-category", reply["category"])
        expect(item.locator(".num")).to_have_text(str(i + 1))
        expect(item.locator(".text")).to_have_text(reply["text"])
        expect(item.locator(".why")).to_have_text(reply["why"])
        expect(item).to_have_attribute("data-needs-edit", "true" if reply["needs_edit"] else "false")
    assert items.first.get_attribute("data-category") in {"apology", "empathy"}
    expect(page.locator("#rtt")).to_have_text(f"往返 {ROUND_TRIPS[-1][1]} ms")

    # Focus moved to the list: the key 2 puts suggestion 2 into the draft at once.
    expect(page.locator("#suggestions")).to_be_focused()
    page.keyboard.press("2")
    second = answer["replies"][1]
    expect(page.locator("#draft")).to_have_value(second["text"])
    expect(items.nth(1)).to_contain_class("picked")
    expect(page.locator("#draft")).to_be_focused()
    page.press("#draft", "Control+End")
    page.keyboard.type("，今天之内给您答复")
    final = second["text"] + "，今天之内给您答复"
    expect(page.locator("#draft")).to_have_value(final)

    with page.expect_request("**/v1/feedback") as feedback:
        send_draft(page)
    assert feedback.value.post_data_json == {
        "request_id": answer["request_id"], "reply_id": second["id"], "action": "edited", "final_text": final,
    }
    expect(page.locator("#status")).to_contain_text("已记录")
    expect(page.locator("#conversation li.agent .text")).to_have_text([final])

    with sqlite3.connect(db_path) as db:
        rows = db.execute("select request_id, reply_id, action, final_text from feedback order by rowid").fetchall()
    # The pick is recorded as a click, the send as an edit with the text that went out.
    assert rows == [
        (answer["request_id"], second["id"], "clicked", None),
        (answer["request_id"], second["id"], "edited", mask_pii(final)),
    ]
    audit = httpx.get(f"{server}/v1/audit/{answer['request_id']}", headers={"Authorization": f"Bearer {QA_KEY}"})
    assert audit.status_code == 200 and audit.json()["agent"]["edited"] == [second["id"]]


def test_a_reply_sent_as_picked_is_reported_as_sent(console, server, db_path):
    page = console
    _, answer = ask(page, SIZE_QUESTION)
    page.locator("#suggestions li").nth(0).click()
    first = answer["replies"][0]
    expect(page.locator("#draft")).to_have_value(first["text"])
    with page.expect_request("**/v1/feedback") as feedback:
        send_draft(page)
    assert feedback.value.post_data_json == {"request_id": answer["request_id"], "reply_id": first["id"], "action": "sent"}
    expect(page.locator("#status")).to_contain_text("已记录")
    with sqlite3.connect(db_path) as db:
        row = db.execute(
            "select action, final_text from feedback where request_id = ? order by rowid", [answer["request_id"]]
        ).fetchall()
    assert row == [("clicked", None), ("sent", None)]


def test_a_feedback_error_is_shown_and_the_reply_still_goes_out(console, server):
    page = console
    _, answer = ask(page, SIZE_QUESTION)
    # The service refuses the feedback (as it would for a request it no longer knows): the agent is told.
    refusal = {"error": "not_found", "message": f"unknown request_id {answer['request_id']!r}"}
    page.route("**/v1/feedback", lambda route: route.fulfill(status=404, json=refusal))
    page.keyboard.press("1")
    send_draft(page)
    expect(page.locator("#status")).to_have_attribute("data-kind", "error")
    expect(page.locator("#status")).to_contain_text("反馈没有记录")
    expect(page.locator("#status")).to_contain_text(refusal["message"])
    expect(page.locator("#conversation li.agent .text")).to_have_text([answer["replies"][0]["text"]])


def test_draft_findings_are_highlighted_and_a_rewrite_applies(console, server):
    page = console
    lint = api(server, "/v1/lint", {"text": LINT_DRAFT})
    found = {f["text"]: f for f in lint["findings"]}
    assert {"你必须", "全网第一"} <= set(found) and not lint["ok"]

    page.fill("#draft", LINT_DRAFT)
    marks = page.locator("#draft-highlights mark")
    expect(marks).to_have_text(marked(lint["findings"], LINT_DRAFT))
    expect(marks).to_have_count(2)
    findings = page.locator("#findings li")
    expect(findings).to_have_count(len(lint["findings"]))
    expect(findings.locator("q.found")).to_have_text([f["text"] for f in lint["findings"]])
    expect(findings.locator(".message")).to_have_text([f["message"] for f in lint["findings"]])
    expect(findings.locator(".suggestion")).to_have_text([f["suggestion"] for f in lint["findings"] if f["suggestion"]])
    assert found["全网第一"]["severity"] == "error"

    # The marks sit over the right characters of the text area: same place as the text they cover.
    mark_box = marks.filter(has_text="全网第一").bounding_box()
    assert mark_box and mark_box["width"] > 0

    # "apply" replaces that span (code points) with the suggestion; the check runs again.
    row = findings.filter(has=page.locator("q.found", has_text="你必须"))
    row.locator("button.apply").click()
    rewritten = LINT_DRAFT.replace("你必须", found["你必须"]["suggestion"], 1)
    expect(page.locator("#draft")).to_have_value(rewritten)
    again = api(server, "/v1/lint", {"text": rewritten})
    expect(marks).to_have_text(marked(again["findings"], rewritten))
    expect(page.locator("#findings q.found")).to_have_text([f["text"] for f in again["findings"]])

    # An error is still there: the first press only asks for a second one; no dialog, nothing sent.
    assert any(f["severity"] == "error" for f in again["findings"])
    feedback_calls = []
    page.on("request", lambda r: "/v1/feedback" in r.url and feedback_calls.append(r))
    page.click("#send")
    expect(page.locator("#send")).to_contain_class("confirm")
    expect(page.locator("#send-note")).to_contain_text("错误")
    expect(page.locator("#conversation li")).to_have_count(0)
    expect(page.locator("#draft")).to_have_value(rewritten)
    # Editing the draft takes the confirmation back; two presses send it. Written from scratch: no feedback.
    page.press("#draft", "End")
    page.keyboard.type("哦")
    expect(page.locator("#send")).not_to_contain_class("confirm")
    page.click("#send")
    expect(page.locator("#send")).to_contain_class("confirm")
    page.click("#send")
    expect(page.locator("#conversation li.agent .text")).to_have_text([rewritten + "哦"])
    expect(page.locator("#draft")).to_have_value("")
    expect(page.locator("#draft-highlights mark")).to_have_count(0)
    assert feedback_calls == []


def test_customer_markup_is_shown_as_text_and_never_runs(console, server):
    page = console
    page.fill('#variables input[name="nickname"]', "<img src=x onerror=alert(2)>")
    body, answer = ask(page, XSS)
    assert body["variables"] == {"nickname": "<img src=x onerror=alert(2)>"}
    expect(page.locator("#conversation li.customer .text")).to_have_text([XSS])
    expect(page.locator("#suggestions li .text")).to_have_text([r["text"] for r in answer["replies"]])
    with page.expect_response("**/v1/lint"):
        page.keyboard.press("1")
    expect(page.locator("#draft")).to_have_value(answer["replies"][0]["text"])
    assert page.locator("script:not([src])").count() == 0
    assert page.locator("img").count() == 0
    assert page.evaluate("document.querySelectorAll('[onerror]').length") == 0


@pytest.mark.parametrize("message", [
    "{{7*7}} ${7*7} {__class__.__init__} 在吗",
    "'; DROP TABLE requests; -- 能便宜点吗",
    "😡" * 2000,
])
def test_template_sql_and_emoji_runs_are_shown_verbatim(console, server, message):
    page = console
    _, answer = ask(page, message)
    expect(page.locator("#conversation li.customer .text")).to_have_text([message])
    expect(page.locator("#suggestions li .text")).to_have_text([r["text"] for r in answer["replies"]])
    assert "49" not in page.locator("#conversation").inner_text()


def test_history_and_variables_go_with_each_message_and_new_conversation_clears_them(console, server):
    page = console
    page.fill('#variables input[name="nickname"]', "小王")
    page.fill('#variables input[name="courier"]', "中通")
    body, first = ask(page, SIZE_QUESTION)
    assert body["history"] == [] and body["variables"] == {"nickname": "小王", "courier": "中通"}
    page.keyboard.press("1")
    reply = first["replies"][0]["text"]
    send_draft(page)

    body, answer = ask(page, BARGAIN)
    assert body == {
        "message": BARGAIN,
        "history": [{"role": "customer", "text": SIZE_QUESTION}, {"role": "agent", "text": reply}],
        "variables": {"nickname": "小王", "courier": "中通"},
        "top_k": 5,
    }
    expect(page.locator("#analysis-pane")).to_have_attribute("data-history-used", str(answer["history_used"]).lower())
    expect(page.locator("#history-used")).to_be_visible(visible=answer["history_used"])

    # An elliptical follow-up after a tracking question: the history changes its reading, and the page says so.
    page.click("#new-conversation")
    expect(page.locator("#conversation li")).to_have_count(0)
    expect(page.locator('#variables input[name="nickname"]')).to_have_value("")
    body, _ = ask(page, "快递到哪了 怎么还没到")
    assert body["history"] == [] and body["variables"] == {}
    body, answer = ask(page, "还没")
    assert body["history"] == [{"role": "customer", "text": "快递到哪了 怎么还没到"}]
    assert answer["history_used"] is True
    expect(page.locator("#analysis-pane")).to_have_attribute("data-history-used", "true")
    expect(page.locator("#history-used")).to_be_visible()


def test_number_keys_inside_text_fields_stay_text(console, server):
    page = console
    _, answer = ask(page, "几天发货")
    replies = answer["replies"]
    assert len(replies) >= 4
    page.keyboard.press("1")
    expect(page.locator("#draft")).to_have_value(replies[0]["text"])
    page.press("#draft", "Control+End")
    page.keyboard.type(" 12345")
    expect(page.locator("#draft")).to_have_value(replies[0]["text"] + " 12345")
    page.click("#message")
    page.keyboard.type("我身高170 体重130")
    expect(page.locator("#message")).to_have_value("我身高170 体重130")
    expect(page.locator("#draft")).to_have_value(replies[0]["text"] + " 12345")
    # Alt+3 picks inside a text field; outside one (the list focused by Esc) the plain key does.
    page.keyboard.press("Alt+3")
    expect(page.locator("#draft")).to_have_value(replies[2]["text"])
    expect(page.locator("#message")).to_have_value("我身高170 体重130")
    page.press("#draft", "Escape")
    expect(page.locator("#suggestions")).to_be_focused()
    page.keyboard.press("4")
    expect(page.locator("#draft")).to_have_value(replies[3]["text"])


@pytest.mark.skipif(not os.environ.get("HUASHU_SCREENSHOT"), reason="set HUASHU_SCREENSHOT=docs/agent-console.png to write it")
def test_screenshot(browser, server):
    """The README's picture of the console: a size question answered, then an upset customer, and a draft with a finding."""
    context = browser.new_context(viewport={"width": 1400, "height": 900}, device_scale_factor=1)
    page = context.new_page()
    page.goto(f"{server}/ui/agent")
    page.fill("#api-key", AGENT_KEY)
    page.click("#save-key")
    for name, value in {"nickname": "小鹿", "order_id": "3928410057731", "courier": "中通快递", "tracking_no": "ZT7730152846",
                        "shop_name": "木棉家女装"}.items():
        page.fill(f'#variables input[name="{name}"]', value)
    ask(page, "我160 100斤 平时穿S 这件要拍什么码")
    page.keyboard.press("2")
    send_draft(page)
    _, answer = ask(page, "衣服收到了 小了两个码根本穿不上 你们尺码表也太不准了吧 太失望了!!")
    page.keyboard.press("1")
    page.press("#draft", "Control+End")
    page.keyboard.type("您必须今天之内寄回哦")
    draft = page.input_value("#draft")
    lint = api(server, "/v1/lint", {"text": draft})
    expect(page.locator("#draft-highlights mark")).to_have_count(len(marked(lint["findings"], draft)))
    page.mouse.move(0, 0)
    out = Path(os.environ["HUASHU_SCREENSHOT"])
    out.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(out))
    print(f"screenshot written to {out}; reading {answer['intent']['id']}/{answer['emotion']['level']}")
    context.close()
