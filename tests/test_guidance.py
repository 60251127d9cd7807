"""Guidance: 2–4 steps for the agent, the complaint flow by severity, and escalation with a reason."""

import itertools

import pytest

from intents.labels import INTENTS, PSYCHOLOGY
from service.replies.guidance import Guidance, GuidanceError


@pytest.fixture(scope="module")
def guidance():
    return Guidance.load()


def test_every_reading_gets_two_to_four_distinct_steps(guidance):
    for intent, psychology, emotion, threats in itertools.product(
        INTENTS, (None, *PSYCHOLOGY), ("calm", "upset", "angry"), ((), ("12315",))
    ):
        advice = guidance.advise([(intent, 0.9)], psychology, emotion, threats)
        assert 2 <= len(advice.steps) <= 4, (intent, psychology, emotion, threats)
        assert len(set(advice.steps)) == len(advice.steps)
        if advice.escalate:
            assert advice.steps[-1] == guidance.escalation["step"] and advice.escalate_reason


def test_retaliation_escalates_with_the_serious_flow(guidance):
    advice = guidance.advise([("complaint", 0.9)], "retaliation", "upset")
    assert advice.escalate and "报复" in advice.escalate_reason
    assert advice.severity == "serious"
    assert guidance.flows["serious"] in advice.steps and "严重投诉" in guidance.flows["serious"]


def test_an_ordinary_complaint_follows_lscia_without_escalating(guidance):
    advice = guidance.advise([("complaint", 0.8), ("refund", 0.1)], "recognition", "calm")
    assert not advice.escalate and advice.escalate_reason is None
    assert advice.severity == "ordinary" and guidance.flows["ordinary"] in advice.steps
    assert guidance.psychology["recognition"]["avoid"] in advice.steps


def test_anger_puts_feelings_first_and_escalates(guidance):
    advice = guidance.advise([("logistics", 0.9)], "speed", "angry")
    assert advice.steps[0] == guidance.emotion["angry"]
    assert advice.escalate and "愤怒" in advice.escalate_reason


def test_legal_or_platform_threats_escalate_and_are_named(guidance):
    advice = guidance.advise([("complaint", 0.9)], "self_expression", "calm", ("12315", "律师"))
    assert advice.escalate and "12315" in advice.escalate_reason and "律师" in advice.escalate_reason


def test_a_purchase_motive_gets_what_it_wants_and_what_to_avoid(guidance):
    advice = guidance.advise([("bargain", 0.95)], "thrift", "calm")
    assert advice.severity is None and not advice.escalate
    assert list(advice.steps) == [guidance.psychology["thrift"]["do"][0], guidance.psychology["thrift"]["avoid"]]


def test_without_a_type_the_intent_decides(guidance):
    advice = guidance.advise([("greeting", 0.97)], None, "calm")
    assert advice.steps[0] == guidance.intent["greeting"][0] and len(advice.steps) == 2


def test_a_missing_entry_is_named(tmp_path):
    path = tmp_path / "guidance.toml"
    path.write_text('[flow.ordinary]\nstep = "x"\n', encoding="utf-8")
    with pytest.raises(GuidanceError, match=r"guidance.toml: \[flow.serious\] needs a non-empty string 'step'"):
        Guidance.load(path)
    path.write_text("[flow\n", encoding="utf-8")
    with pytest.raises(GuidanceError, match="cannot be read"):
        Guidance.load(path)
