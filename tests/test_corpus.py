"""The reply corpus: coverage, validation with file and line, template variables."""

import json
from collections import Counter

import pytest

from intents.labels import COMPLAINT_PSYCHOLOGY, INTENTS
from service.replies.corpus import CorpusError, fill, load_corpus


@pytest.fixture(scope="module")
def corpus():
    return load_corpus()


def test_corpus_is_large_and_covers_every_intent(corpus):
    assert len(corpus) >= 300
    per_intent = Counter(i for r in corpus for i in r.intents)
    for intent in INTENTS:
        assert per_intent[intent] >= 8, intent


def test_corpus_covers_the_etiquette_moments(corpus):
    categories = Counter(r.category for r in corpus)
    for category in ("opening", "closing", "thanks", "apology", "waiting", "cannot_answer_now", "escalation", "holding"):
        assert categories[category] >= 2, category


def test_complaint_scripts_for_every_psychology_and_severity(corpus):
    covered = {(p, r.severity) for r in corpus if "complaint" in r.intents for p in r.psychology}
    for psychology in COMPLAINT_PSYCHOLOGY:
        for severity in ("ordinary", "serious"):
            assert (psychology, severity) in covered, (psychology, severity)


def test_no_two_replies_share_a_text(corpus):
    texts = Counter(r.text for r in corpus)
    assert [t for t, n in texts.items() if n > 1] == []


GOOD = {"id": "x-1", "text": "{nickname|亲}，您好~", "intents": ["greeting"], "stage": "售前", "category": "opening"}


@pytest.mark.parametrize(
    "change, problem",
    [
        ({"intents": ["sizes"]}, "unknown intent id 'sizes'"),
        ({"text": "亲，订单{order_id 已收到"}, "unbalanced braces"),
        ({"text": "亲，{order_no} 已收到"}, "unknown variable 'order_no'"),
        ({"text": "亲，}{ 已收到"}, "unbalanced braces"),
        ({"stage": "售后后"}, "unknown stage"),
        ({"category": "greet"}, "unknown category"),
        ({"psychology": ["greedy"]}, "unknown psychology id 'greedy'"),
        ({"id": "Bad Id"}, "id must be lowercase"),
        ({"colour": "red"}, "unknown field 'colour'"),
    ],
)
def test_bad_record_names_file_line_and_reason(tmp_path, change, problem):
    path = tmp_path / "bad.jsonl"
    path.write_text("# comment\n" + json.dumps({**GOOD, **change}, ensure_ascii=False) + "\n", encoding="utf-8")
    with pytest.raises(CorpusError, match=r"bad.jsonl:2: " + problem.replace("(", r"\(")):
        load_corpus(tmp_path)


def test_duplicate_id_names_both_places(tmp_path):
    (tmp_path / "a.jsonl").write_text(json.dumps(GOOD, ensure_ascii=False) + "\n", encoding="utf-8")
    (tmp_path / "b.jsonl").write_text("\n" + json.dumps(GOOD, ensure_ascii=False) + "\n", encoding="utf-8")
    with pytest.raises(CorpusError, match=r"b.jsonl:2: duplicate id 'x-1' \(first at .*a.jsonl:1\)"):
        load_corpus(tmp_path)


def test_broken_json_names_line(tmp_path):
    (tmp_path / "a.jsonl").write_text(json.dumps(GOOD, ensure_ascii=False) + "\n{\"id\": \n", encoding="utf-8")
    with pytest.raises(CorpusError, match=r"a.jsonl:2: not valid JSON"):
        load_corpus(tmp_path)


def test_fill_uses_values_then_fallbacks_then_marks_what_is_missing():
    text = "{nickname|亲}，您的订单{order_id}已由{courier|快递}发出，单号{tracking_no}"
    filled, missing = fill(text, {"nickname": "小美", "order_id": "O123"})
    assert filled == "小美，您的订单O123已由快递发出，单号【运单号】"
    assert missing == ["tracking_no"]
    assert "{" not in filled and "}" not in filled
    assert fill(text, {"nickname": "  "})[0].startswith("亲，")
