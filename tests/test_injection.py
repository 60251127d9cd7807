"""Customer and agent text is data: markup, SQL, template syntax and control characters are stored
and returned as they were, never interpreted; oversized runs are refused with a clear 422."""

import logging
import sqlite3

import pytest

HOSTILE = [
    "<script>alert(1)</script> 什么时候发货",
    '<img src=x onerror="alert(1)"> 能便宜点吗',
    "'; DROP TABLE requests; -- 我要退货",
    '" OR 1=1 -- 在吗',
    "{__class__.__init__.__globals__} 快递到哪了",
    "{{7*7}} ${7*7} #{7*7} %s%n 尺码怎么选",
    "{order_id} {nickname|亲} 【订单号】",
    "控制\x00字符\x07\x1b[31m红色\x1b[0m 在吗",
    "😡" * 2000,
]


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_text_is_answered_and_audited_as_text(fake_client, text):
    response = fake_client.post("/v1/suggest", json={"message": text, "variables": {"nickname": "{order_id}{{7*7}}"}})
    assert response.status_code == 200, response.text
    body = response.json()
    # What the service read is the text as sent (normalised), not something it evaluated.
    for fragment in ("<script>", "DROP TABLE", "{__class__", "{{7*7}}", "${7*7}", "%s%n", "{order_id}"):
        if fragment in text:
            assert fragment in body["normalized"]
    assert "49" not in body["normalized"]  # {{7*7}} was never evaluated
    for reply in body["replies"]:
        assert "{{" not in reply["text"].replace("{order_id}{{7*7}}", "")  # only the value we gave, literally
        assert "49" not in reply["text"]
    item = fake_client.get(f"/v1/audit/{body['request_id']}")
    assert item.status_code == 200
    assert item.json()["message"] == body["normalized"]


def test_a_template_in_a_variable_value_is_inserted_literally(fake_client):
    body = fake_client.post(
        "/v1/suggest", json={"message": "你好 在吗", "variables": {"nickname": "{order_id}{__class__}"}, "top_k": 20}
    ).json()
    with_name = [r for r in body["replies"] if "{order_id}{__class__}" in r["text"]]
    assert with_name, [r["text"] for r in body["replies"]]
    assert all("{order_id}" not in r["missing"] for r in with_name)


def test_sql_in_messages_leaves_the_tables_alone(fake_client, fake_settings):
    fake_client.post("/v1/classify", json={"messages": ["'); DELETE FROM feedback; --", "1; DROP TABLE requests"]})
    fake_client.get("/v1/audit", params={"q": "'; DROP TABLE requests; --"})
    fake_client.get("/v1/audit", params={"q": "%' OR '1'='1"})
    with sqlite3.connect(fake_settings.db_path) as db:
        tables = {row[0] for row in db.execute("select name from sqlite_master where type = 'table'")}
        assert {"requests", "feedback", "reviews", "shop_replies"} <= tables
        assert db.execute("select count(*) from requests where message like '%DROP TABLE%'").fetchone()[0] >= 1


def test_search_with_like_wildcards_is_literal(fake_client):
    fake_client.post("/v1/suggest", json={"message": "100%纯棉吗 有没有_下划线"})
    found = fake_client.get("/v1/audit", params={"q": "100%纯棉"}).json()
    assert found["total"] >= 1 and all("100%纯棉" in item["message"] for item in found["items"])
    assert fake_client.get("/v1/audit", params={"q": "%"}).json()["total"] == len(
        [i for i in fake_client.get("/v1/audit", params={"limit": 500}).json()["items"] if "%" in i["message"]]
    )


def test_hostile_feedback_text_is_stored_verbatim(fake_client, fake_settings):
    body = fake_client.post("/v1/suggest", json={"message": "能便宜点吗"}).json()
    final = "亲 <script>alert(1)</script> {{7*7}} '; DROP TABLE feedback; --"
    answer = fake_client.post(
        "/v1/feedback",
        json={"request_id": body["request_id"], "reply_id": body["replies"][0]["id"], "action": "edited", "final_text": final},
    )
    assert answer.status_code == 201
    with sqlite3.connect(fake_settings.db_path) as db:
        stored = db.execute("select final_text from feedback where request_id = ?", [body["request_id"]]).fetchone()
    assert stored == (final,)


@pytest.mark.parametrize("path, body", [
    ("/v1/suggest", {"message": "😂" * 10_000}),
    ("/v1/segment", {"text": "😂" * 10_000}),
    ("/v1/lint", {"text": "😂" * 10_000}),
    ("/v1/classify", {"messages": ["😂" * 1_999] * 11}),
])
def test_oversized_runs_get_a_clear_422(fake_client, path, body):
    response = fake_client.post(path, json=body)
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_request" and response.json()["message"]


def test_lint_treats_hostile_drafts_as_text(fake_client):
    draft = "<script>alert(1)</script>{__class__} 你必须 {{7*7}}"
    body = fake_client.post("/v1/lint", json={"text": draft}).json()
    assert {f["text"] for f in body["findings"]} >= {"你必须", "{__class__}", "{7*7}"}
    for finding in body["findings"]:
        assert draft[finding["span"]["start"] : finding["span"]["end"]] == finding["text"]


def test_no_raw_personal_number_reaches_the_logs(fake_client, caplog):
    phone, order = "13912345678", "4402938475610293"
    with caplog.at_level(logging.DEBUG):
        body = fake_client.post("/v1/suggest", json={"message": f"电话{phone} 订单{order} 还没发货"}).json()
        fake_client.post("/v1/classify", json={"messages": [f"我的手机 {phone}", f"订单号{order}"]})
        fake_client.post("/v1/feedback", json={"request_id": body["request_id"], "reply_id": body["replies"][0]["id"],
                                          "action": "edited", "final_text": f"已记下 {phone}"})
        fake_client.post("/v1/suggest", json={"message": f"电话{phone}", "top_k": 99})  # a 422
        fake_client.post("/v1/feedback", json={"request_id": "nope", "reply_id": "x", "action": "sent"})  # a 404
    logged = "\n".join(record.getMessage() + str(record.args or "") + str(record.exc_text or "") for record in caplog.records)
    assert caplog.records  # something was logged at debug level: the check is not vacuous
    assert phone not in logged and order not in logged
