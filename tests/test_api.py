"""The HTTP API: shapes, order, batch limits, and a clear 422 for every kind of bad input (over the fake analyzer;
the few tests of what the real models read are marked slow)."""

import pytest

from intents.labels import INTENTS

# Traditional / simplified pairs a customer could type either way.
TRAD_SIMPLIFIED = [
    ("請問這件衣服165穿什麼碼", "请问这件衣服165穿什么码"),
    ("腰圍多少", "腰围多少"),
    ("鞋子偏大還是偏小", "鞋子偏大还是偏小"),
    ("能便宜點嗎", "能便宜点吗"),
    ("有優惠券嗎", "有优惠券吗"),
    ("老闆 抹個零唄", "老板 抹个零呗"),
    ("買兩件送什麼贈品", "买两件送什么赠品"),
    ("什麼時候發貨", "什么时候发货"),
    ("能發順豐嗎", "能发顺丰吗"),
    ("快遞到哪了 怎麼還沒到", "快递到哪了 怎么还没到"),
    ("地址寫錯了 幫我改一下", "地址写错了 帮我改一下"),
    ("質量太差了 一洗就掉色", "质量太差了 一洗就掉色"),
    ("你們賣假貨 我要投訴", "你们卖假货 我要投诉"),
    ("客服態度太差了", "客服态度太差了"),
    ("我要退貨", "我要退货"),
    ("退款什麼時候到賬", "退款什么时候到账"),
    ("取消訂單 拍錯了", "取消订单 拍错了"),
    ("運費險怎麼理賠", "运费险怎么理赔"),
    ("這個是純棉的嗎", "这个是纯棉的吗"),
    ("還有黑色的貨嗎", "还有黑色的货吗"),
    ("謝謝 辛苦了", "谢谢 辛苦了"),
    ("在嗎 親", "在吗 亲"),
    ("能開發票嗎", "能开发票吗"),
]


def test_healthz(fake_client):
    assert fake_client.get("/healthz").json() == {"status": "ok"}


def test_readyz_reports_loaded_model(fake_client):
    response = fake_client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["status"] == "ready"
    assert response.json()["models"]["intent"].startswith("intent-")


def test_openapi_docs_served(fake_client):
    assert fake_client.get("/docs").status_code == 200
    paths = fake_client.get("/openapi.json").json()["paths"]
    assert {"/v1/classify", "/v1/segment", "/v1/suggest", "/healthz", "/readyz"} <= set(paths)


@pytest.mark.parametrize(
    ("path", "payload", "model"),
    [
        ("/v1/suggest", {"message": "亲 我165 110斤穿什么码 能便宜点吗", "history": [{"role": "customer", "text": "在吗"}]}, "SuggestResponse"),
        ("/v1/classify", {"messages": ["在吗", "退款什么时候到账"]}, "ClassifyResponse"),
    ],
)
def test_hot_routes_answer_what_the_response_model_serialises(fake_client, path, payload, model):
    """suggest and classify serialise their model themselves (one trip through the thread pool, not two):
    the body must be byte for byte what FastAPI's response-model serialisation makes of it, and the
    OpenAPI schema must still name the model."""
    from fastapi.encoders import jsonable_encoder

    from service.api import schemas

    response = fake_client.post(path, json=payload)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    parsed = getattr(schemas, model).model_validate_json(response.content)
    assert response.content == parsed.model_dump_json(by_alias=True).encode()
    assert response.json() == jsonable_encoder(parsed)
    schema = fake_client.get("/openapi.json").json()["paths"][path]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": f"#/components/schemas/{model}"}


def test_suggest_size_question(fake_client):
    response = fake_client.post("/v1/suggest", json={"message": "亲 我165 110斤穿什么码"})
    assert response.status_code == 200
    body = response.json()
    assert body["intent"]["id"] == "size"
    assert body["intent"]["label"] == "尺码咨询"
    assert body["normalized"] == "亲 我165 110斤穿什么码"
    assert "165" in body["tokens"] and "斤" in body["tokens"]
    assert [i["id"] for i in body["intents"]][0] == "size"
    assert sorted(i["id"] for i in body["intents"]) == sorted(INTENTS)
    confidences = [i["confidence"] for i in body["intents"]]
    assert confidences == sorted(confidences, reverse=True)
    assert all(0.0 <= c <= 1.0 for c in confidences)
    for field in ("request_id", "psychology", "emotion", "guidance", "escalate", "replies", "model_version"):
        assert field in body


def test_suggest_after_agent_turns_only_whose_point_is_unknown(fake_client):
    """Found by fuzzing: a conversation of agent turns alone, none of them near a reply, left the
    follow-up mixing with no view of the conversation at all (a division by zero, a 500)."""
    history = [{"role": "agent", "text": "0"}] * 6
    response = fake_client.post("/v1/suggest", json={"message": "0", "history": history})
    assert response.status_code == 200, response.text
    assert response.json()["replies"]


def test_suggest_request_ids_are_unique(fake_client):
    ids = {fake_client.post("/v1/suggest", json={"message": "在吗"}).json()["request_id"] for _ in range(3)}
    assert len(ids) == 3


@pytest.mark.parametrize(
    "message, intent",
    [
        ("掉色吗", "product"),
        ("洗一次就掉色了 什么质量", "complaint"),
        ("包邮吗", "logistics"),
        ("能不能包邮啊", "bargain"),
        ("我要退货", "refund"),
        ("快递到哪了", "logistics"),
        ("能开发票吗", "other"),
        ("在吗", "greeting"),
    ],
)
@pytest.mark.slow
def test_core_messages(client, message, intent):
    assert client.post("/v1/suggest", json={"message": message}).json()["intent"]["id"] == intent


@pytest.mark.slow
def test_two_intents_rank_high_together(client):
    body = client.post("/v1/suggest", json={"message": "质量太差了 我要退货"}).json()
    assert {i["id"] for i in body["intents"][:2]} == {"complaint", "refund"}


@pytest.mark.slow
def test_classify_keeps_input_order(client):
    messages = ["我要退货", "在吗", "165穿多大", "什么时候发货", "能便宜点吗"]
    body = client.post("/v1/classify", json={"messages": messages}).json()
    assert [r["intent"]["id"] for r in body["results"]] == ["refund", "greeting", "size", "logistics", "bargain"]
    assert [r["normalized"] for r in body["results"]] == messages
    assert body["model_version"].startswith("intent-")


def test_classify_full_batch_of_256(fake_client):
    messages = [f"第{i}件 能便宜点吗" for i in range(256)]
    results = fake_client.post("/v1/classify", json={"messages": messages}).json()["results"]
    assert len(results) == 256
    assert results[255]["normalized"] == "第255件 能便宜点吗"


@pytest.mark.parametrize("traditional, simplified", TRAD_SIMPLIFIED)
def test_traditional_and_simplified_get_the_same_intent(fake_client, traditional, simplified):
    a, b = fake_client.post("/v1/classify", json={"messages": [traditional, simplified]}).json()["results"]
    assert a["normalized"] == b["normalized"] == simplified
    assert a["intent"]["id"] == b["intent"]["id"]


def test_segment(fake_client):
    body = fake_client.post("/v1/segment", json={"text": "七天無理由能退嗎 有運費險嗎"}).json()
    assert body["normalized"] == "七天无理由能退吗 有运费险吗"
    assert "七天无理由" in body["tokens"] and "运费险" in body["tokens"]


def _error(response, field):
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "invalid_request"
    fields = [d["field"] for d in body["detail"]]
    assert field in fields, fields
    assert field in body["message"]
    return next(d["problem"] for d in body["detail"] if d["field"] == field)


@pytest.mark.parametrize(
    "path, payload, field, problem",
    [
        ("/v1/suggest", {"message": ""}, "message", "empty"),
        ("/v1/suggest", {"message": "   \n\t "}, "message", "empty"),
        ("/v1/suggest", {"message": "码" * 2001}, "message", "2000"),
        ("/v1/suggest", {"message": 123}, "message", "string"),
        ("/v1/suggest", {"message": None}, "message", "string"),
        ("/v1/suggest", {}, "message", "required"),
        ("/v1/suggest", {"message": "在吗", "top_k": "five"}, "top_k", "integer"),
        ("/v1/suggest", {"message": "在吗", "top_k": 0}, "top_k", "greater than or equal to 1"),
        ("/v1/suggest", {"message": "在吗", "history": [{"role": "boss", "text": "hi"}]}, "history[0].role", "customer"),
        ("/v1/suggest", {"message": "在吗", "variables": {"nickname": 5}}, "variables.nickname", "string"),
        ("/v1/suggest", {"message": "在吗", "mesage": "typo"}, "mesage", "not permitted"),
        ("/v1/classify", {"messages": []}, "messages", "at least 1"),
        ("/v1/classify", {"messages": ["在吗"] * 257}, "messages", "at most 256"),
        ("/v1/classify", {"messages": ["在吗", ""]}, "messages[1]", "empty"),
        ("/v1/classify", {"messages": ["在吗", "x" * 2001]}, "messages[1]", "2000"),
        ("/v1/classify", {"messages": "在吗"}, "messages", "list"),
        ("/v1/classify", {"messages": ["在吗", 7]}, "messages[1]", "string"),
        ("/v1/segment", {"text": " "}, "text", "empty"),
        ("/v1/segment", {"text": ["a"]}, "text", "string"),
    ],
)
def test_bad_input_gets_422_naming_field_and_problem(fake_client, path, payload, field, problem):
    assert problem in _error(fake_client.post(path, json=payload), field)


def test_lone_surrogate_gets_422(fake_client):
    # Valid JSON ("\ud800" is a legal escape), but not text that can be encoded;
    # pydantic refuses it while parsing.
    raw = '{"message": "\\ud800在吗"}'.encode()
    response = fake_client.post("/v1/suggest", content=raw, headers={"content-type": "application/json"})
    assert "unicode" in _error(response, "message")


def test_message_of_exactly_2000_characters_is_accepted(fake_client):
    assert fake_client.post("/v1/suggest", json={"message": "码" * 2000}).status_code == 200


@pytest.mark.parametrize("raw", ['{"message": "在吗"', "not json", '{"message": "a",}', ""])
def test_malformed_json_gets_422(fake_client, raw):
    response = fake_client.post("/v1/suggest", content=raw, headers={"content-type": "application/json"})
    problem = _error(response, "body")
    assert "JSON" in problem


@pytest.mark.parametrize("raw", ["[1, 2]", '"在吗"', "42"])
def test_body_that_is_not_an_object_gets_422(fake_client, raw):
    response = fake_client.post("/v1/suggest", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_request"


def test_unknown_path_and_wrong_method_answer_json(fake_client):
    missing = fake_client.get("/v1/nothing")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    wrong = fake_client.get("/v1/suggest")
    assert wrong.status_code == 405 and wrong.json()["error"] == "method_not_allowed"


def test_a_query_parameter_given_twice_is_refused(fake_client):
    """Found by fuzzing: ?category=a&category=b silently used the last value."""
    response = fake_client.get("/v1/products?category=a&category=b")
    assert response.status_code == 422 and "category" in response.json()["message"]
    assert fake_client.get("/v1/products?category=a").status_code == 200


def test_no_dependency_takes_a_trip_through_the_thread_pool(fake_client, monkeypatch):
    """FastAPI runs a plain-function dependency in its thread pool: a hop per request before the endpoint
    (the query check did so on every route, suggest included). Every dependency is a coroutine."""
    import fastapi.dependencies.utils as solving

    hops = []
    real = solving.run_in_threadpool

    async def counted(func, *args, **kwargs):
        hops.append(getattr(func, "__qualname__", repr(func)))
        return await real(func, *args, **kwargs)

    monkeypatch.setattr(solving, "run_in_threadpool", counted)
    assert fake_client.post("/v1/suggest", json={"message": "在吗"}).status_code == 200
    assert fake_client.get("/v1/products?category=a").status_code == 200
    assert fake_client.get("/v1/audit").status_code == 200
    assert hops == []
