"""Conversation history: follow-ups take their topic from earlier turns; clear messages keep their own."""

import numpy as np
import pytest

from intents.context import blend, context_distribution, is_follow_up
from service.replies.matcher import KnowledgeMatcher

TRACKING = [{"role": "customer", "text": "帮我查下快递到哪了"}, {"role": "agent", "text": "亲，包裹已经到您所在城市了，今天会派送"}]
SIZE = [{"role": "customer", "text": "165 110斤穿什么码"}, {"role": "agent", "text": "亲，建议您拿M码哦"}]


def test_follow_ups_are_recognised():
    assert is_follow_up("还没") and is_follow_up("那L呢") and is_follow_up("那这个颜色有没有大一号的呢")
    assert not is_follow_up("请问这件羽绒服的含绒量是多少 充绒量多少克")


def test_saying_the_suggestion_did_not_help_goes_on_with_the_problem():
    # a rater's round: after "拉链坏了" and the agent's "把拉链头捏紧一点试试", "捏过了 没用 还是合不上" was read by its own
    # words ("过了" → past the return window)
    for text in ("捏过了 没用 还是合不上", "重新插了电 还是不行", "按你说的弄了 不管用", "翻过了 整个包裹都倒出来了 就是没有"):
        assert is_follow_up(text), text
    for text in ("这款羽绒服一次都没用过 能退吗", "请问这件羽绒服的含绒量是多少 充绒量多少克"):
        assert not is_follow_up(text), text


def test_a_message_missing_what_it_is_still_waiting_for_goes_on_with_the_conversation():
    # a rater's round: after "发票啥时候开" and "确认收货后3个工作日内开", "我昨天就确认收货了 咋还没看到" was read by its own
    # words ("昨天" → yesterday's lower price); what has not been seen is the invoice the conversation is about
    for text in ("我昨天就确认收货了 咋还没看到", "钱我前天就付了 怎么还没收到", "说好今天的 到现在还没见到"):
        assert is_follow_up(text), text
    for text in ("订单拍了三天了 物流怎么还没更新信息", "请问这件羽绒服发出来了没有 我看物流还没有更新"):
        assert not is_follow_up(text), text


def test_a_pasted_number_is_not_words_of_the_message():
    # "3829104475562018 快点" after the agent asked for the order number of a refund: sixteen digits made it long, so
    # its one word ("快点", hurry) read on its own as urging the warehouse; the number says nothing about the topic
    for text in ("3829104475562018 快点", "SF1234567890123 还没到", "订单2207719304482561 麻烦快点", "13812345678 打我电话"):
        assert is_follow_up(text), text
    for text in ("3829104475562018 这单的发票抬头写错了 要改成公司的", "订单拍了三天了 物流怎么还没更新信息"):
        assert not is_follow_up(text), text


def test_the_topic_turn_is_the_question_not_the_size_given_after_it():
    # "这个毛衣还有货吗" opens like a follow-up ("这个…"); with every customer turn reading as one, the topic was the
    # latest, the bare "M" that answered the agent's question, and "那L呢" after "M码断货了" read as between two sizes
    turns = ["这个卫衣有货吗 要灰色的", "L"]
    assert KnowledgeMatcher._topic_turn(turns) == "这个卫衣有货吗 要灰色的"
    assert KnowledgeMatcher._topic_turn(["地址写错了 能改吗", "好的谢谢"]) == "地址写错了 能改吗"
    assert KnowledgeMatcher._topic_turn(["那这个呢", "M"]) == "M"  # all short: the latest that says something


def test_a_confident_message_keeps_its_intent():
    current = np.array([0.05, 0.9, 0.05])
    mixed, share = blend(current, np.array([0.9, 0.05, 0.05]), "那能便宜点吗")
    assert mixed.argmax() == 1 and share < 0.1
    assert np.isclose(mixed.sum(), 1.0)


def test_an_unsure_follow_up_leans_on_the_context():
    mixed, share = blend(np.array([0.3, 0.35, 0.35]), np.array([0.9, 0.05, 0.05]), "还没")
    assert mixed.argmax() == 0 and share > 0.5


def test_recent_turns_weigh_more():
    older, newer = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    assert context_distribution([older, newer], None).argmax() == 1
    assert context_distribution([], None) is None


def suggest(client, message, history=()):
    response = client.post("/v1/suggest", json={"message": message, "history": list(history)})
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("message", ["还没", "一直没人送", "还是没有"])
def test_a_short_reply_after_a_tracking_question_is_logistics(client, message):
    alone = suggest(client, message)
    after = suggest(client, message, TRACKING)
    assert alone["intent"]["id"] != "logistics"  # the words alone do not say it
    assert after["intent"]["id"] == "logistics" and after["history_used"] is True


def test_a_bargain_after_a_size_question_is_bargain(client):
    after = suggest(client, "那能便宜点吗", SIZE)
    assert after["intent"]["id"] == "bargain" and after["history_used"] is False
    assert all(p["id"].startswith("bargain.") for p in after["knowledge_points"])
    assert after["psychology"]["id"] == "thrift"


def test_a_third_contact_about_the_same_problem_is_less_calm(client):
    message = "到底怎么处理"
    complaints = [{"role": "customer", "text": "衣服收到就破了个洞"}, {"role": "customer", "text": "衣服破了 你们怎么处理"}]
    first = suggest(client, message)
    third = suggest(client, message, complaints)
    assert third["emotion"]["score"] > first["emotion"]["score"]
    assert third["emotion"]["level"] != "calm"


def test_earlier_anger_carries_over(client):
    angry = [{"role": "customer", "text": "气死我了!!! 什么破东西 垃圾"}]
    assert suggest(client, "那你说怎么办", angry)["emotion"]["level"] != "calm"


def test_a_follow_up_is_matched_to_replies_with_its_context(client):
    from intents.analyzer import Turn

    analyzer = client.app.state.analyzer
    reading = analyzer.read_turn("还没", [Turn(**t) for t in TRACKING])
    assert reading.match_doc.text == "帮我查下快递到哪了 还没"
    assert np.isclose(np.linalg.norm(reading.match_doc.vector), 1.0)
    clear = analyzer.read_turn("请问这件羽绒服的含绒量是多少", [Turn(**t) for t in TRACKING])
    assert clear.match_doc is clear.doc  # a message clear on its own is matched on its own
    body = suggest(client, "还没", TRACKING)
    assert body["knowledge_points"][0]["id"].startswith("logistics.")
    assert all(r["intent"] == "logistics" for r in body["replies"])
