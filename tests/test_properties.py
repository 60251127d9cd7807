"""Properties of the text functions over arbitrary Unicode (hypothesis): normalize, segment, mask_pii, fill."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, example, given, settings, strategies as st

from intents.normalize import mask_pii, normalize
from service.replies.corpus import VARIABLES, fill
from service.replies.knowledge import load_knowledge
from service.api.schemas import MAX_MESSAGE_CHARS, MAX_VARIABLE_CHARS

# Derandomized: CI runs the same examples every time, and nothing is replayed from a local database.
PROPERTY = settings(
    max_examples=200,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Every code point UTF-8 can carry: controls, format characters, unassigned ones; no lone surrogates
# (the API refuses them before any of this code runs).
ANY_CHAR = st.characters(codec="utf-8")
EMOJI = [
    "😭", "🙏", "👍🏻", "👨‍👩‍👧", "🏳️‍🌈", "🇨🇳", "❤️", "☺", "\ufe0f", "\u200d", "🤬", "💢", "😡", "1️⃣", "🫠",
]
# Traditional characters, full-width forms and the ones OpenCC converts in more than one step.
CHINESE = list("請問這個運費怎麼算發貨了嗎質量太差退貨後髮麵臺檯颱乾幹裏裡鍾鐘") + ["薴", "瀋浸", "祕瓊", "１６５", "ＸＬ", "\u3000"]
# Pieces of phone, ID, order and tracking numbers and e-mail addresses, to be run together.
PII_PIECES = list("0123456789" * 3) + [
    " ", "-", "*", "+86", "138", "SF", "JD", "YT", "订单号", "单号", "快递", "顺丰", ":", "X", "@", "a.b", ".cn", "٣", "１",
]


def _joined(pieces: list[str]) -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(pieces), max_size=40).map("".join)


CHUNK = st.one_of(
    st.text(ANY_CHAR, max_size=40),
    st.text(st.characters(min_codepoint=0x3000, max_codepoint=0x9FFF), max_size=40),
    _joined(EMOJI),
    _joined(CHINESE),
    _joined(PII_PIECES),
)
# Messages as the API admits them (up to 2,000 characters), mixing all of the above, and some as long as allowed.
MESSAGE = st.one_of(
    st.lists(CHUNK, max_size=8).map(lambda chunks: "".join(chunks)[:MAX_MESSAGE_CHARS]),
    st.text(ANY_CHAR, min_size=MAX_MESSAGE_CHARS - 100, max_size=MAX_MESSAGE_CHARS),
)


# --- normalize -----------------------------------------------------------------------------------


@PROPERTY
@given(MESSAGE)
@example("薴")  # OpenCC: 薴 → 苧 → 苎
@example("瀋浸")  # OpenCC: 瀋浸 → 沈浸 → 沉浸
@example("祕瓊")  # OpenCC: 祕瓊 → 祕琼 → 秘琼
def test_normalize_is_idempotent(text):
    once = normalize(text)
    assert normalize(once) == once


@PROPERTY
@given(MESSAGE)
def test_normalized_text_is_folded_whitespace_without_controls(text):
    normalized = normalize(text)
    assert normalized == normalized.strip()
    assert not re.search(r"\s\s", normalized) and all(ch == " " or not ch.isspace() for ch in normalized)
    assert not any(ch in normalized for ch in "\u200b\u200c\u2060\ufeff\u00ad")
    assert not any(ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0 for ch in normalized)  # no control character


# --- segment -------------------------------------------------------------------------------------


@PROPERTY
@given(MESSAGE)
def test_segment_splits_normalized_text_into_its_words(segmenter, text):
    """The tokens are pieces of the normalised text, in order: together they are the text without its whitespace."""
    normalized = normalize(text)
    tokens = segmenter(normalized)
    assert all(token and not token.isspace() and token in normalized for token in tokens)
    assert "".join(tokens) == "".join(ch for ch in normalized if not ch.isspace())


# --- mask_pii ------------------------------------------------------------------------------------

# What the mask promises to remove (its patterns, stated independently): a mobile number alone or
# with +86 and single space or hyphen separators, and after that any run of 7 or more digits (which
# covers 11-digit mobiles, 15/18-digit ID numbers and order or tracking numbers of 10 or more).
MOBILE = re.compile(r"(?<!\d)1[3-9]\d[ -]?\d{4}[ -]?\d{4}(?!\d)")
LONG_DIGITS = re.compile(r"\d{7,}")  # \d: any decimal digit, full-width and Arabic-Indic ones too
EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")


@PROPERTY
@given(MESSAGE)
@example("电话138 1234 5678 卡号6222021234567890123 邮箱a.b@c.cn 身份证11010519491231002X")
def test_mask_pii_is_idempotent_and_leaves_no_number_it_promises_to_mask(text):
    for source in (text, normalize(text)):  # the audit log masks normalised text; raw text must not break it either
        masked = mask_pii(source)
        assert mask_pii(masked) == masked
        assert not MOBILE.search(masked), masked
        assert not LONG_DIGITS.search(masked), masked
        assert not EMAIL.search(masked), masked


# --- fill ----------------------------------------------------------------------------------------

CORPUS = sorted((r for p in load_knowledge() for r in p.replies), key=lambda reply: reply.id)
# Values that would be re-read by a careless filler: braces, format fields, re.sub back-references.
NASTY = ["{", "}", "{__class__}", "{{7*7}}", "%s", "{nickname}", "{order_id|x}", "{0}", "\\1", "\\g<0>", "$1", "【订单号】", " "]
VALUE = st.one_of(
    st.text(ANY_CHAR, max_size=MAX_VARIABLE_CHARS),
    st.lists(st.sampled_from(NASTY), max_size=6).map("".join),
)
VARIABLES_GIVEN = st.dictionaries(st.one_of(st.sampled_from(sorted(VARIABLES)), st.text(max_size=12)), VALUE, max_size=8)


def _given(variables: dict[str, str]) -> dict[str, str]:
    """The values `fill` uses: stripped, and a blank one counts as not given."""
    return {name: value.strip() for name, value in variables.items() if value.strip()}


@PROPERTY
@given(st.sampled_from(CORPUS), VARIABLES_GIVEN)
def test_fill_inserts_values_literally(reply, variables):
    filled, missing = fill(reply.text, variables)
    # The same template filled with plain markers, then each marker swapped for its value: a value
    # containing braces, format fields or back-references is text, never read as a template.
    values = _given(variables)
    markers = {name: f"\x00{i}\x00" for i, name in enumerate(values)}
    expected, expected_missing = fill(reply.text, markers)
    for name, marker in markers.items():
        expected = expected.replace(marker, values[name])
    assert (filled, missing) == (expected, expected_missing)
    assert missing == list(dict.fromkeys(name for name, fallback in reply.slots if name not in values and fallback is None))


@PROPERTY
@given(st.sampled_from(CORPUS), VARIABLES_GIVEN)
def test_no_placeholder_survives_filling(reply, variables):
    plain = {name: value.replace("{", "").replace("}", "") for name, value in variables.items()}
    filled, missing = fill(reply.text, plain)
    assert "{" not in filled and "}" not in filled
    for name in missing:
        assert f"【{VARIABLES[name]}】" in filled
