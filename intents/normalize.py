"""Normalise customer text for the models, and mask personal data before it is stored."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import cn2an
import opencc
from cn2an import conf as cn2an_conf

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
# a bracketed placeholder. Placeholders hold no digit, letter or separator, so
# a masked piece never joins its neighbours into something maskable again.

# Digits as customers type them: Arabic ones of any script (NFKC leaves ٣ alone) and
# Chinese ones read out one by one, as cn2an knows them (一三八, 幺 for 1 on the phone,
# 壹贰 as on cheques, 〇/零, 两).
_CN_DIGITS = "".join(cn2an_conf.NUMBER_CN2AN)
_DIGIT = rf"[\d{_CN_DIGITS}]"
# What people put between the groups of a number to slip it past a filter: spaces, dots,
# commas (， is folded to ,), slashes, underscores, brackets ((139)1234-5678), every dash
# (-, ‐, ‒, –, —, ―, −) and 杠 as voice input writes it, up to three of them (" — ").
_GAP = r"[ .,·・/_()\-\u2010-\u2015\u2212杠]{0,3}"
# A run of at least 7 digits, perhaps in groups, perhaps ending in an ID card's X. Which
# part of it is personal is decided on its groups (`_mask_number`).
_NUMBER = re.compile(rf"{_DIGIT}(?:{_GAP}{_DIGIT}){{6,}}(?:{_GAP}[Xx](?![A-Za-z0-9]))?")
# Arabic and Chinese digits form separate groups, so that "13812345678一直打不通" can be a phone
# and 一直; groups that touch still count as one for the shape of a number (13八12345678).
_GROUP = re.compile(rf"\d+|[{_CN_DIGITS}]+|[Xx]")

# E-mail: @ also written ＠ (folded to @ by NFKC), (at), [at] or 艾特, and # before a mail
# provider ("#换成@"; a # elsewhere is a colour or item number); the dot also (dot) or 点;
# spaces around either, and one space inside the name (zhang san@qq.com).
_PROVIDER = r"(?:qq|163|126|139|sina|sohu|gmail|foxmail|outlook|hotmail|icloud|yahoo|aliyun)(?![A-Za-z0-9])"
_AT = rf"(?:\s*@\s*|\s*#\s*(?={_PROVIDER})|\s*艾特\s*|\s*[(\[{{<【]\s*at\s*[)\]}}>】]\s*|\s+at\s+)"
_DOT = r"(?:\s*\.\s*|\s*点\s*|\s*[(\[{<【]\s*dot\s*[)\]}>】]\s*|\s+dot\s+)"
_LABEL = r"[A-Za-z0-9][A-Za-z0-9\-]*"
_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]+(?: [A-Za-z0-9._%+\-]+)?"
    rf"{_AT}(?:{_LABEL}(?:{_DOT}{_LABEL})*{_DOT}[A-Za-z]{{2,}}|{_PROVIDER})",
    re.IGNORECASE,
)
# Only text with an @ or a spelt-out one can hold an address: skip the pattern otherwise.
_EMAIL_HINT = re.compile(r"[@#]|at|艾特", re.IGNORECASE)

# WeChat ids (letters, digits, _ and -) after 微信 and the ways round a filter on it (威信,
# 薇信, v信, vx, wx, weixin, 加v, 加微), with 号/是/:/搜 and the like in between; wxid_ ids anywhere.
_WECHAT = re.compile(
    r"(?:(?:微|威|薇|徽|维|v)信|weixin|wechat|(?<![A-Za-z])(?:vx|wx)|(?<=加)(?:v(?![A-Za-z])|微))"
    r"(?:[\s:号码是为吧哦呀啊搜索就加]|id){0,5}"
    r"(?<![A-Za-z0-9_\-])([A-Za-z0-9][A-Za-z0-9_\-]{5,})(?![A-Za-z0-9_\-])"
    r"|(?<![A-Za-z])(wxid_[A-Za-z0-9_\-]{4,})",
    re.IGNORECASE,
)
_LETTER = re.compile(r"[A-Za-z]")

_MOBILE = re.compile(
    r"(?<![0-9])\+?86[ \-]?1[3-9]\d[ \-]?\d{4}[ \-]?\d{4}(?![0-9])"  # +86 goes with the number
    r"|(?<![0-9])1[3-9]\d ?\*{4} ?\d{4}(?![0-9])"  # already half-masked: 138****1234
)
_LANDLINE = re.compile(r"(?<![0-9])0\d{2,3}-\d{7,8}(?![0-9])")
# Couriers print tracking numbers as a short letter prefix and digits
# (SF1234567890123, YT..., JT..., JDVA...).
_TRACKING = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{1,4}\d{9,18}(?![0-9])")
_ORDER_CONTEXT = re.compile(r"订单(号|编号)?\W{0,3}$")
_TRACKING_CONTEXT = re.compile(
    r"(快递|运单|物流|单号|顺丰|中通|圆通|申通|韵达|极兔|邮政|京东|德邦)[是:]?\W{0,3}$"
    r"|(?<![A-Za-z])[A-Za-z]{1,4}\W{0,2}$"  # a courier prefix split off: SF 1320 9877 6543 2
)
_CARD_CONTEXT = re.compile(r"卡|银行|账号|账户|户名")
_ANY_DIGITS = re.compile(r"\d{7,}")
_LONGEST_NUMBER = 24  # digits in the longest order or tracking number

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


def _luhn(number: str) -> bool:
    """True when `number` passes the Luhn check that bank card numbers carry."""
    total = 0
    for i, d in enumerate(reversed(number)):
        d = int(d) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def _digits(group: str) -> str:
    """The Arabic digits of one group: ٣ and the like by value, Chinese ones (一, 幺, 壹, 〇) by cn2an."""
    if group.isascii():
        return group
    group = "".join(str(int(ch)) if ch.isdecimal() else ch for ch in group)
    return group if group.isascii() else cn2an.cn2an(group, "direct")


def _shaped(sizes: list[int]) -> bool:
    """Whether groups of these sizes, taken together, are written like one personal number.

    One run of 7 or more digits; or digit by digit (1 3 8 1 2 ...); or groups of 3 or more
    (the last may be shorter, as in 4-4-4-4-2 ID cards) with one of 4 or more, 10 digits in
    all. Lists of sizes or prices (165 170 175 180, 38 39 40 41) and dates (2023.12.03) are not.
    """
    if len(sizes) == 1 or all(size == 1 for size in sizes):
        return sum(sizes) >= 7
    return all(size >= 3 for size in sizes[:-1]) and max(sizes) >= 4 and sum(sizes) >= 10


def _order_or_tracking(before: str) -> str:
    if _ORDER_CONTEXT.search(before) or not _TRACKING_CONTEXT.search(before):
        return "[订单号]"
    return "[运单号]"


def _specific_label(digits: str, before: str) -> str | None:
    """The placeholder for a phone, ID or bank card number; None for any other number."""
    size = len(digits)
    if size in (15, 18) and digits[:17].isdigit() and _is_id_card(digits):
        return "[身份证号]"
    if not digits.isdigit():
        return None
    if size == 11 and digits[0] == "1" and digits[1] in "3456789":
        return "[手机号]"
    if 15 <= size <= 19 and (_CARD_CONTEXT.search(before) or (digits[0] in "3456" and _luhn(digits))):
        return "[银行卡号]"
    return None


def _generic_label(digits: str, before: str, groups: int) -> str:
    if groups > 1 and digits[0] == "0" and 10 <= len(digits) <= 12:
        return "[电话]"  # area code and number: 0571 8888 6666
    return _order_or_tracking(before) if 10 <= len(digits) <= 24 else "[数字]"


def _window_sizes(sizes: list[int], touching: list[bool], i: int, j: int) -> list[int]:
    """The sizes of groups i..j as written: groups with nothing between them count as one."""
    merged = [sizes[i]]
    for k in range(i + 1, j + 1):
        if touching[k]:
            merged[-1] += sizes[k]
        else:
            merged.append(sizes[k])
    return merged


def _mask_number(match: re.Match[str]) -> str:
    """Mask the personal numbers in a run of digit groups, left to right.

    From each group on, the longest well-shaped stretch is masked; a shorter one that is a
    phone, ID or card number by itself is preferred when the longer one only adds a digit or
    two ("13812345678 2件": the phone, not the 2). An ID card's trailing X goes with it.
    """
    text, base = match.string, match.start()
    groups = [(g.start() + base, g.end() + base, g.group()) for g in _GROUP.finditer(match.group())]
    ex = len(groups) > 1 and groups[-1][2] in ("X", "x")
    if ex:
        groups.pop()
    digits = [_digits(g) for _, _, g in groups]
    sizes = [len(d) for d in digits]
    touching = [k > 0 and groups[k][0] == groups[k - 1][1] for k in range(len(groups))]

    def shaped(i: int, j: int) -> bool:
        return _shaped(_window_sizes(sizes, touching, i, j))

    def longest_shaped(i: int, last: int) -> int | None:
        best, merged = None, []
        for j in range(i, last + 1):
            if merged and touching[j]:
                merged[-1] += sizes[j]
            else:
                # A group of one or two digits inside the stretch rules out every longer one,
                # unless all are single digits (1 3 8 1 2 ...).
                if merged and merged[-1] < 3 and not (sizes[j] == 1 and set(merged) == {1}):
                    break
                merged.append(sizes[j])
            if _shaped(merged):
                best = j
        return best

    pieces, done, i = [], base, 0
    while i < len(groups):
        # No personal number has more than 24 digits: windows stop there, which keeps a long
        # list of short groups (2000 characters of "12 12 12") linear.
        last, total = i, sizes[i]
        while last + 1 < len(groups) and total + sizes[last + 1] <= _LONGEST_NUMBER:
            last += 1
            total += sizes[last]
        longest = longest_shaped(i, last)
        if longest is None:
            i += 1
            continue
        before = text[max(0, groups[i][0] - 8) : groups[i][0]]
        j, end, label = longest, groups[longest][1], None
        for k in range(longest, i - 1, -1):
            if k < longest and sum(sizes[k + 1 : longest + 1]) > 2:
                break
            joined = "".join(digits[i : k + 1])
            if ex and k == len(groups) - 1 and len(joined) == 17 and _is_id_card(joined + "X"):
                j, end, label = k, match.end(), "[身份证号]"
                break
            if (label := _specific_label(joined, before)) and shaped(i, k):
                j, end = k, groups[k][1]
                break
            label = None
        label = label or _generic_label("".join(digits[i : j + 1]), before, len(_window_sizes(sizes, touching, i, j)))
        pieces += [text[done : groups[i][0]], label]
        done, i = end, j + 1
    return "".join(pieces) + text[done : match.end()]


def _mask_wechat(match: re.Match[str]) -> str:
    if match.group(2):
        return "[微信号]"
    if not _LETTER.search(match.group(1)):
        return match.group(0)  # digits only: a phone or QQ number, the number patterns' business
    return match.group(0)[: match.start(1) - match.start()] + "[微信号]"


# Names where the message says a name follows: 收件人/收货人/联系人/姓名/名字叫/我叫, then a 2-4
# character Chinese name. What follows such a word is often not a name ("收件人写错了",
# "我叫了快递", "联系人电话"): those starts are refused.
_NAME_CUE = r"(?:收件人|收货人|联系人|寄件人|取件人|提货人|姓名|名字叫|名字是|我叫|本人叫)"
_NOT_NAME = (
    r"(?:信息|电话|手机|号码|地址|名字|姓名|本人|自己|客服|快递|写|填|改|换|错|不|没|要|可|能|会|怎|什|啥|谁|哪|"
    r"是|都|也|还|和|跟|与|的|了|有|在|就|应|需|必|这|那|一|你|我|他|她|它|亲|稍|等|请|帮|麻|给|发|寄|收|送|打|"
    r"对|上|下|里|处|栏|到|为|叫|先|随|后)"
)
# Where a name ends: anything not Chinese, or a word that starts the rest of the sentence.
_AFTER_NAME = (
    r"(?:[^\u4e00-\u9fff]|$|先生|女士|小姐|同学|老师|师傅|电话|手机|号码|联系|地址|身份|微信|订单|邮箱|快递|今天|明天|"
    r"后天|昨天|下单|上午|下午|晚上|早上|收|寄|送|发|到|的|是|想|要|问|买|在|啊|呀|哈|哦|吧|呢|了|和|跟|也|就|你|我|"
    r"他|她|这|那|请|帮|麻|住|您|吗|嘛|谢|不|没|家|刚|别|放)"
)
_NAME = re.compile(
    rf"{_NAME_CUE}[\s:]*(?:是|为|叫|改成|换成|改为|写成|写|填)?[\s:]*(?!{_NOT_NAME})"
    rf"([\u4e00-\u9fff]{{2,4}}?(?={_AFTER_NAME})|[\u4e00-\u9fff]{{2,3}})"
)

# Addresses: a clause (up to punctuation or a placeholder) after 地址/寄到/送到/住在 and the
# like is masked up to its last address part when it has two of them (杭州市 西湖区 文三路
# 478号); "寄到北京要几天" or "送到小区门口" has fewer and stays. Without such a word, a clause
# is masked only when it reads as a whole address: a province, city or district, a street or
# house number, three parts in all.
_CLAUSE = r"[^,.;!?。;、\[\]\n]"
_ADDRESS = re.compile(
    r"(?:(?:收货|收件|寄件|送货|家庭|详细|通讯)?地址|住址|邮寄到|送货到|寄往|寄去|寄到|送到|发到|邮到|家住|住在|家在)"
    rf"[\s:]*(?:是|为|在|改成|改为|换成)?[\s:]*({_CLAUSE}{{1,80}})"
)
_ADDRESS_PART = re.compile(
    r"(?P<admin>[\u4e00-\u9fff]{1,8}?(?:省|自治区|市|区|县|旗))"
    r"|(?P<street>[\u4e00-\u9fff]{1,8}?(?:街道|大道|路|街|巷|弄|胡同|镇|乡|村)"
    r"|(?<![\d月])\d+[A-Za-z]?(?:号楼|号院|号|栋|幢|单元|楼|层|室|户|座|弄|排|组|区|期))"
    r"|(?P<place>[\u4e00-\u9fff]{1,8}?(?:小区|花园|公寓|大厦|广场|家园|新村|苑|园|中心|大楼)"
    r"|[A-Za-z](?:座|栋|区|塔)|[一二三四五六七八九十]+(?:号楼|号|栋|幢|单元|楼|层|室))"
)
# A room number may close an address without a word after it: ...5号楼1201, ...A座1702.
_ADDRESS_TAIL = re.compile(r"[\s\-#]?[0-9A-Za-z]+(?:室|号|户|区|座|栋)?")
_CLAUSES = re.compile(rf"{_CLAUSE}+")
# Cheap pre-checks for the cue-less pass: a street or house part and a province/city/district.
_STREET_HINT = re.compile(r"[路街巷弄号栋室]")
_ADMIN_HINT = re.compile(r"[省市区县]")


def _address_end(clause: str, parts_needed: int, street_needed: bool = False) -> tuple[int, int] | None:
    """Where the address in `clause` starts and ends, if it has enough address parts."""
    parts = list(_ADDRESS_PART.finditer(clause))
    if len(parts) < parts_needed:
        return None
    if street_needed and not ({"admin", "street"} <= {p.lastgroup for p in parts}):
        return None
    tail = _ADDRESS_TAIL.match(clause, parts[-1].end())
    return parts[0].start(), (tail.end() if tail else parts[-1].end())


def _mask_address(match: re.Match[str]) -> str:
    span = _address_end(match.group(1), 2)
    if span is None:
        return match.group(0)
    head = match.group(0)[: match.start(1) - match.start()]
    return head + "[地址]" + match.group(1)[span[1] :]


def _mask_bare_address(match: re.Match[str]) -> str:
    span = _address_end(match.group(0), 3, street_needed=True)
    if span is None:
        return match.group(0)
    clause = match.group(0)
    return clause[: span[0]] + "[地址]" + clause[span[1] :]


def mask_pii(text: str) -> str:
    """Replace phone, ID, card, order and tracking numbers, e-mail addresses, WeChat ids, and names
    and addresses the message announces, by placeholders."""
    # A pattern may find more once another has masked a neighbour (an e-mail domain that ran
    # into a wxid_ id): masking until nothing changes keeps masked text as it is. Every round
    # that changes something turns text into placeholders, so the rounds come to an end.
    while (masked := _mask_once(text)) != text:
        text = masked
    return text


def _mask_once(text: str) -> str:
    if _EMAIL_HINT.search(text):
        # Addresses run together (a@b.com1@c.com) show one by one, as each is masked.
        while (masked := _EMAIL.sub("[邮箱]", text)) != text:
            text = masked
    text = _WECHAT.sub(_mask_wechat, text)
    text = _MOBILE.sub("[手机号]", text)
    text = _LANDLINE.sub("[电话]", text)
    text = _TRACKING.sub("[运单号]", text)
    text = _NUMBER.sub(_mask_number, text)
    # Whatever long number is left is still personal (no pattern above should leave one).
    text = _ANY_DIGITS.sub("[数字]", text)
    text = _NAME.sub(lambda m: m.group(0)[: m.start(1) - m.start()] + "[姓名]", text)
    text = _ADDRESS.sub(_mask_address, text)
    if _STREET_HINT.search(text) and _ADMIN_HINT.search(text):
        text = _CLAUSES.sub(_mask_bare_address, text)
    return text
