"""The knowledge matcher's rules over a stub model with fixed probabilities: when none fits, when a message is
outside the shop's service, and which point a clarifying question may name. Model quality is elsewhere."""

from __future__ import annotations

import numpy as np
import pytest

from intents.analyzer import Turn
from intents.encoder import NullEncoder
from intents.models import NO_POINT
from service.replies.matcher import KnowledgeMatcher

CLASSES = ["size.recommend", "logistics.ship-when", "outside.unrelated", "outside.misfire", NO_POINT]


def _row(probs: dict) -> np.ndarray:
    row = np.array([probs.get(c.replace(".", "_").replace("-", "_"), 0.0) for c in CLASSES])
    return row / row.sum()


class Fixed:
    """A knowledge model answering every message with the same probabilities, except those `texts` it is
    given (a text containing one of them: the message read with an earlier turn contains that turn)."""

    classes_ = np.array(CLASSES)

    def __init__(self, texts=None, **probs):
        self.row = _row(probs)
        self.texts = {text: _row(p) for text, p in (texts or {}).items()}

    def predict_proba(self, docs):
        return np.vstack([next((row for t, row in self.texts.items() if t in d.text), self.row) for d in docs])


@pytest.fixture(scope="module")
def read(analyzer_fake, fake_client):
    points = fake_client.app.state.replies.index.points

    def match(message, history=(), texts=None, **probs):
        matcher = KnowledgeMatcher(Fixed(texts, **probs), points, analyzer_fake.segmenter, NullEncoder())
        return matcher.match(analyzer_fake.read_batch([message])[0], [Turn(role, text) for role, text in history])

    return match


def test_an_outside_point_likeliest_of_all_means_none_fits_and_names_it(read):
    found = read("帮我算下37乘48", outside_unrelated=0.5, none=0.3, size_recommend=0.2)
    assert found.points == () and found.outside.id == "outside.unrelated" and found.outside.confidence == 0.5
    assert found.leaning == "size.recommend"  # the likeliest point, as for any message no point fits


def test_outside_and_none_together_outweigh_a_point_but_only_the_likeliest_outside_is_named(read):
    # None fits (outside and none together, 0.55, above the point's 0.45), but the point is likelier than the
    # outside reading alone: a clarifying question about the point, no polite refusal.
    unsure = read("这个呢", outside_unrelated=0.4, none=0.15, size_recommend=0.45)
    assert unsure.points == () and unsure.outside is None and unsure.leaning == "size.recommend"
    # Too unsure of being outside: none fits, nothing is refused.
    weak = read("这个呢", outside_misfire=0.25, none=0.24, logistics_ship_when=0.2, size_recommend=0.2, outside_unrelated=0.11)
    assert weak.points == () and weak.outside is None
    # A point surer than both: listed, and no outside reading.
    sure = read("啥时候发货", logistics_ship_when=0.7, outside_unrelated=0.2, none=0.1)
    assert [p.id for p in sure.points] == ["logistics.ship-when"] and sure.outside is None


def test_a_number_or_a_code_alone_is_never_outside(read):
    for message in ("2019384756102938475", "SF1402938475561", "qwerty123"):
        found = read(message, outside_misfire=0.9, none=0.05, size_recommend=0.05)
        assert found.points == () and found.outside is None, message
    # Letters alone are no code: keyboard mashing can be a misfire.
    assert read("asdfghjkl", outside_misfire=0.9, none=0.05, size_recommend=0.05).outside.id == "outside.misfire"


def test_a_short_message_in_a_conversation_keeps_its_outside_reading(read):
    """A short message is read as an elliptical follow-up, whose `none` means "leans on the conversation" and is
    set aside; an outside reading is a reading, and is kept (a message meant for someone else, mid-conversation)."""
    said = [("customer", "我买的外套什么时候发货"), ("agent", "亲，付款后48小时内发出哦")]
    texts = {"我买的外套什么时候发货": {"logistics_ship_when": 0.9, "none": 0.1}}
    found = read("妈 我到家了", said, texts, outside_misfire=0.6, none=0.3, logistics_ship_when=0.1)
    assert found.points == () and found.outside.id == "outside.misfire"


def test_an_earlier_outside_turn_does_not_make_an_unsure_shop_question_outside(read):
    said = [("customer", "帮我算下37乘48等于多少"), ("agent", "亲，这个我这边帮不上忙呢")]
    texts = {"帮我算下37乘48等于多少": {"outside_unrelated": 0.95, "none": 0.05}}
    # On its own the message is unsure (a point 0.35, outside 0.2); the homework turn's view pulls it outside.
    found = read("我想问一下你们的运费一般怎么算的呀", said, texts, size_recommend=0.35, outside_unrelated=0.2, none=0.45)
    assert found.points == () and found.outside is None


def test_a_clarifying_question_names_no_point_the_model_all_but_rules_out(read):
    found = read("嗯那然后呢", none=0.93, logistics_ship_when=0.05, size_recommend=0.02)
    assert found.points == () and found.leaning is None
    likely = read("那个码呢", none=0.7, size_recommend=0.2, logistics_ship_when=0.1)
    assert likely.points == () and likely.leaning == "size.recommend"
