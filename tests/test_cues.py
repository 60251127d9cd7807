"""Cue lexicons: one Aho-Corasick pass finds every label's cues, with offsets into the text as given."""

import pytest

from intents.cues import Cue, CueFormatError, CueMatcher, read_cues


def test_overlapping_cues_of_one_label_keep_the_longest():
    matcher = CueMatcher([Cue("retaliation", "差评", 1.0), Cue("retaliation", "给差评", 1.0), Cue("venting", "垃圾", 1.0)])
    hits = matcher.find("垃圾店 我要给差评")
    assert [(h.label, h.term) for h in hits] == [("venting", "垃圾"), ("retaliation", "给差评")]
    assert all("垃圾店 我要给差评"[h.start : h.end] == h.term for h in hits)


def test_cues_of_different_labels_may_share_characters():
    matcher = CueMatcher([Cue("speed", "什么时候发", 1.0), Cue("speed", "发", 0.2), Cue("thrift", "时候发货便宜", 1.0)])
    labels = {h.label for h in matcher.find("什么时候发货便宜点")}
    assert labels == {"speed", "thrift"}


def test_matching_ignores_case_but_reports_the_text_as_written():
    matcher = CueMatcher([Cue("prestige", "logo", 1.0)])
    (hit,) = matcher.find("这个LOGO是刺绣的吗")
    assert hit.term == "LOGO" and (hit.start, hit.end) == (2, 6)


def test_evidence_sums_weights_per_label():
    matcher = CueMatcher([Cue("thrift", "便宜", 1.0), Cue("thrift", "券", 0.5)])
    assert matcher.evidence("便宜点 有券吗") == {"thrift": 1.5}
    assert matcher.evidence("") == {} and CueMatcher([]).find("任何") == []


@pytest.mark.parametrize(
    "content, problem",
    [
        ("thrift\n", ":1: expected '<label><TAB><term>"),
        ("# c\ngreedy\t便宜\n", ":2: unknown label 'greedy'"),
        ("thrift\t \n", ":1: empty term"),
        ("thrift\t便宜\tlots\n", ":1: weight 'lots' is not a number"),
        ("thrift\t便宜\nthrift\t便宜\n", ":2: thrift '便宜' repeated"),
    ],
)
def test_bad_cue_file_names_line_and_reason(tmp_path, content, problem):
    path = tmp_path / "cues.tsv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(CueFormatError, match="cues.tsv" + problem):
        read_cues(path, ("thrift", "speed"))


def test_shipped_cue_files_load():
    from intents.emotion import EMOTION_CUES, KINDS
    from intents.labels import PSYCHOLOGY
    from intents.psychology import PSYCHOLOGY_CUES

    psychology = read_cues(PSYCHOLOGY_CUES, PSYCHOLOGY)
    assert {c.label for c in psychology} == set(PSYCHOLOGY)
    assert {c.label for c in read_cues(EMOTION_CUES, KINDS, KINDS)} == set(KINDS)


def test_a_number_cue_inside_a_longer_number_is_not_a_cue():
    matcher = CueMatcher([Cue("retaliation", "12315", 1.0)])
    assert matcher.find("订单号 2026112315886 到哪了") == []
    assert [h.term for h in matcher.find("我去12315投诉")] == ["12315"]
