"""Normalise customer text for the models, and mask personal data before it is stored."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import opencc

# Characters that carry no meaning and break matching: zero-width spaces and
# joiners used as separators, byte-order marks, soft hyphens. The zero-width
# joiner (U+200D) is kept because it glues multi-part emoji together.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u2060\ufeff\u00ad"), None)
_WHITESPACE = re.compile(r"\s+")


@lru_cache(maxsize=1)
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


# OpenCC's t2s is not idempotent: a few of its outputs are keys again (薴 → 苧 → 苎, 瀋浸 → 沈浸 →
# 沉浸, 祕瓊 → 祕琼 → 秘琼), so converting once more would still change the text. A few rounds reach a
# fixed point, and normalised text stays the same when it is normalised again.
_T2S_ROUNDS = 4


def to_simplified(text: str) -> str:
    """Traditional → simplified Chinese with OpenCC, until converting changes nothing; everything else unchanged."""
    for _ in range(_T2S_ROUNDS):
        converted = _t2s().convert(text)
        if converted == text:
            break
        text = converted
    return text


def _to_halfwidth(text: str) -> str:
    # NFKC folds full-width ASCII (１６５ＸＬ！) and the ideographic space to
    # their half-width forms; it leaves CJK text and emoji alone.
    return unicodedata.normalize("NFKC", text)


def normalize(text: str) -> str:
    """Return `text` in simplified Chinese, half-width, with whitespace folded; emoji kept."""
    text = text.translate(_INVISIBLE)
    text = _to_halfwidth(text)
    text = "".join(ch if unicodedata.category(ch) != "Cc" else " " for ch in text)
    text = to_simplified(text)
    return _WHITESPACE.sub(" ", text).strip()


# --- PII mask -------------------------------------------------------------
# The patterns run in order on normalised text; each replaces what it finds by
# a bracketed placeholder, so later patterns never see a masked number.
_SEP = r"[ \-]?"
_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
_ID_CARD = re.compile(r"(?<![0-9A-Za-z])(\d{17}[\dXx]|\d{15})(?![0-9A-Za-z])")
_MOBILE = re.compile(
    rf"(?<![0-9])(?:\+?86{_SEP})?1[3-9]\d{_SEP}\d{{4}}{_SEP}\d{{4}}(?![0-9])"
    r"|(?<![0-9])1[3-9]\d\*{4}\d{4}(?![0-9])"  # already half-masked: 138****1234
)
_LANDLINE = re.compile(r"(?<![0-9])0\d{2,3}-\d{7,8}(?![0-9])")
# Couriers print tracking numbers as a short letter prefix and digits
# (SF1234567890123, YT..., JT..., JDVA...).
_TRACKING = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{1,4}\d{9,18}(?![0-9])")
_ORDER_CONTEXT = re.compile(r"订单(号|编号)?\W{0,3}$")
_TRACKING_CONTEXT = re.compile(r"(快递|运单|物流|单号|顺丰|中通|圆通|申通|韵达|极兔|邮政|京东|德邦)[是:]?\W{0,3}$")
_LONG_DIGITS = re.compile(r"(?<![0-9])\d{10,24}(?![0-9])")
_ANY_DIGITS = re.compile(r"\d{7,}")

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def _is_id_card(number: str) -> bool:
    """True for a valid 18-digit resident ID (checksum) or a 15-digit one with a plausible birth date."""
    if len(number) == 15:
        month, day = int(number[8:10]), int(number[10:12])
        return 1 <= month <= 12 and 1 <= day <= 31
    total = sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS))
    check = "10X98765432"[total % 11]
    month, day = int(number[10:12]), int(number[12:14])
    return number[17].upper() == check and 1 <= month <= 12 and 1 <= day <= 31


def _mask_long_digits(match: re.Match[str]) -> str:
    before = match.string[max(0, match.start() - 8) : match.start()]
    if _ORDER_CONTEXT.search(before) or not _TRACKING_CONTEXT.search(before):
        return "[订单号]"
    return "[运单号]"


def mask_pii(text: str) -> str:
    """Replace phone, ID, order and tracking numbers and e-mail addresses by placeholders."""
    text = _EMAIL.sub("[邮箱]", text)
    text = _ID_CARD.sub(lambda m: "[身份证号]" if _is_id_card(m.group(1)) else m.group(0), text)
    text = _MOBILE.sub("[手机号]", text)
    text = _LANDLINE.sub("[电话]", text)
    text = _TRACKING.sub("[运单号]", text)
    text = _LONG_DIGITS.sub(_mask_long_digits, text)
    # Whatever long number is left (bank cards, odd formats) is still personal.
    return _ANY_DIGITS.sub("[数字]", text)
