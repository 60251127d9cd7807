"""Emotion: words, punctuation, emoji, shouting and the conversation so far raise it; every signal shows as a cue."""

import pytest

from intents.emotion import EmotionContext, EmotionReader
from intents.normalize import normalize


@pytest.fixture(scope="module")
def reader():
    return EmotionReader.load()


def read(reader, text, **kwargs):
    return reader.read(normalize(text), **kwargs)


@pytest.mark.parametrize("text", ["请问什么时候发货", "165 110斤穿什么码", "好的谢谢亲", "这个有黑色吗", "USB线多长"])
def test_plain_questions_are_calm(reader, text):
    assert read(reader, text).level == "calm"


@pytest.mark.parametrize("text", ["有点失望", "怎么回事啊 还没发货", "无语了 这个颜色", "什么时候发货？？？"])
def test_displeasure_is_upset(reader, text):
    assert read(reader, text).level == "upset"


@pytest.mark.parametrize("text", ["气死我了!!!", "什么破东西 垃圾", "tmd 骗子店", "你们这是什么态度😡😡", "滚吧 奸商"])
def test_anger_is_angry(reader, text):
    assert read(reader, text).level == "angry"


def test_each_signal_raises_the_score(reader):
    base = read(reader, "什么时候发货").score
    assert read(reader, "什么时候发货！！！").score > base  # full-width punctuation counts after normalising
    assert read(reader, "什么时候发货😡").score > base
    assert read(reader, "WHY 什么时候发货").score > base
    assert read(reader, "XXL 什么时候发货").score == base  # a size is not shouting
    assert read(reader, "什么时候发货 气死了").score > base
    assert read(reader, "不急 什么时候发货").score <= base


def test_cues_are_substrings_of_the_message(reader):
    text = normalize("第三次问了！！你们到底什么时候发货？？？气死 WTF😡")
    reading = reader.read(text)
    assert reading.level == "angry"
    assert reading.cues and all(cue in text for cue in reading.cues)
    assert {"第三次", "气死", "😡"} <= set(reading.cues)


def test_threats_are_listed(reader):
    reading = read(reader, "再不处理我就去12315投诉 还要找媒体曝光")
    assert {"12315", "媒体", "曝光"} <= set(reading.threats)


def test_third_contact_about_the_same_problem_raises_it(reader):
    text = "衣服破了 怎么处理"
    first = read(reader, text)
    third = read(reader, text, context=EmotionContext(same_issue_turns=2))
    assert third.score > read(reader, text, context=EmotionContext(same_issue_turns=1)).score > first.score
    assert third.level != "calm"


def test_a_calm_follow_up_keeps_some_of_earlier_anger(reader):
    after_anger = read(reader, "那怎么办", context=EmotionContext(earlier_score=0.9))
    assert after_anger.level == "angry"
    assert read(reader, "那怎么办", context=EmotionContext(earlier_score=0.2)).level == "calm"


def test_complaint_psychology_adds_what_words_miss(reader):
    plain = read(reader, "我要让所有人都知道你们家的东西")
    assert read(reader, "我要让所有人都知道你们家的东西", psychology="retaliation").score > plain.score
