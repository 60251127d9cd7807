"""Body measurements from what the customer wrote: height, weight, bust, waist, hip, foot length and the size
they usually wear, in any of the forms customers use (165 / 1米65 / 一米六五 / 5尺2, 110斤 / 55kg / a bare
110 after a height, 腰二尺一, 脚长24.5, 平时穿M …), for the person the purchase is for, and the answer to an
agent's question ("体重呢？" — "108").

Values are in centimetres and kilograms, rounded to one decimal (halves up). Only the keys found are returned.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Iterable

import cn2an

KEYS = ("height_cm", "weight_kg", "bust_cm", "waist_cm", "hip_cm", "foot_cm", "usual_size")
CHI_CM = 100 / 3  # 1 市尺 = 1/3 m
CUN_CM = CHI_CM / 10
_CN = "一二两三四五六七八九"

# People a purchase can be for, by the words customers use; "self" is the writer.
PEOPLE = {
    "妈": ("妈妈", "老妈", "母亲", "我妈", "妈", "婆婆", "岳母", "丈母娘"),
    "爸": ("爸爸", "老爸", "父亲", "我爸", "爸", "公公", "岳父"),
    "老公": ("老公", "先生", "男朋友", "男票", "对象", "男友", "丈夫"),
    "老婆": ("老婆", "媳妇", "女朋友", "女票", "女友", "太太"),
    "孩子": ("孩子", "儿子", "女儿", "闺女", "宝宝", "小孩", "宝贝", "小朋友", "外孙女", "外孙", "孙子", "孙女", "新生儿", "娃"),
    "长辈": ("老人", "奶奶", "爷爷", "姥姥", "姥爷", "外婆", "外公"),
    "朋友": ("朋友", "闺蜜", "同事", "室友", "同学"),
    "兄妹": ("妹妹", "姐姐", "弟弟", "哥哥", "我妹", "我姐", "我弟", "我哥"),
    "模特": ("模特",),  # the shop's model: never the customer's figures
}
OTHER = "其他"  # someone the message refers to only as 他/她
_PERSON_WORDS = sorted(((w, who) for who, words in PEOPLE.items() for w in words), key=lambda x: -len(x[0]))
_PERSON = re.compile("|".join(re.escape(w) for w, _ in _PERSON_WORDS))
_WHO = dict(_PERSON_WORDS)
_FOR = re.compile(r"(?:给|帮|替|送)(?:我|俺)?(?:家)?(" + "|".join(re.escape(w) for w, _ in _PERSON_WORDS) + r")")
_SELF = re.compile(r"(?:我自己|我本人|本人|自己穿|我)\s?(?:是|呢|的话)?(?=\s?(?:身高|体重|个子|\d|1米))")
_FOR_SELF = re.compile(r"我自己穿|自己穿|我自己买|给自己|给我自己|我穿的")
# 他/她 after a person is named is that person ("我和闺蜜一起买，我160 95斤，她165 120斤").
_PRONOUN = re.compile(r"[他她]")
_FOR_PRONOUN = re.compile(r"(?:给|帮)[他她]|[他她](?:那件|那个|穿|要|的那)")

_N = r"\d{1,3}(?:\.\d{1,2})?"
_RANGE = rf"({_N})\s?(?:到|至|-|~|～|—|或|和(?=\s?{_N}\s?之间))\s?({_N})\s?(?:之间)?"
_APPROX = r"(?:大概|大约|差不多|约|大致|估计)?\s?"
_HEIGHT_WORD = r"(?:身高|升高|身搞|个子|个头|身長|身长)"
_WEIGHT_WORD = r"(?:体重|休重|体种|體重|重)"
_CM = r"(?:cm|CM|厘米|公分)"
_NOT_BODY = r"(?:胸|腰|臀|脚|长|宽|围|袖|肩|项链|头|帽|箱|表)"
_NOT_PERSON = re.compile(r"(?:包裹|快递|箱子?|货|东西|这件|这款|那件|这条|这个|衣服|产品|净重|毛重|重量|价格?|原价|花了|多少钱|钱|元|块|优惠|便宜|券|[¥￥]|狗|猫|宠物|买|茶|大米|面粉|肉|水果)\s?[^\d，,。]{0,2}$")
_PRICES = re.compile(r"满\s?\d+\s?减|\d\s?(?:元|块)|[¥￥]|价|便宜|优惠|券|差价|多少钱")
# A change, not a weight: "胖了5斤".
_DELTA = re.compile(r"(?:胖了|瘦了|长了|掉了|减了|重了|轻了|涨了|多了|少了)\s?$")


def _num(match: re.Match | None, first: int = 1) -> float | None:
    """The midpoint of a range (groups `first`, `first`+1) or the single number (group `first`+2)."""
    if match is None:
        return None
    low, high, single = (match.groups() + (None, None, None))[first - 1 : first + 2]
    if low and high:
        return (float(low) + float(high)) / 2
    return float(single) if single else None


def _amount(label: str, unit: str) -> re.Pattern:
    """`label` (optional words before), then a number or a range, then `unit`."""
    return re.compile(rf"{label}\s?[:：是为在]?\s?{_APPROX}(?:{_RANGE}|({_N}))\s?(?:来|多)?\s?{unit}")


_HEIGHT_METRE = re.compile(r"(?<![\d.])([12])\s?米\s?(\d{1,2})?(?![\d.])")
_HEIGHT_DECIMAL = re.compile(rf"(?:{_HEIGHT_WORD}\s?[:：是为在]?\s?{_APPROX})?(?<![\d.])([12]\.\d{{1,2}})\s?(?:米|m|M)?(?![\d.a-zA-Z])")
_HEIGHT_CHI = re.compile(r"(?<![\d.腰臀胸])([4-6])\s?尺\s?(\d)?\s?寸?")
_HEIGHT_WORDED = re.compile(rf"{_HEIGHT_WORD}\s?[:：是为在]?\s?{_APPROX}(?:{_RANGE}|(\d{{2,3}}(?:\.\d)?))\s?{_CM}?(?!\s?(?:斤|kg|KG|公斤))")
_HEIGHT_CM = re.compile(rf"(?<![\d.×xX*])(\d{{2,3}}(?:\.\d)?)\s?{_CM}")
_WEIGHT_JIN = _amount(rf"(?:{_WEIGHT_WORD})?", r"(斤半|斤|近(?=\s|$|，|,))")
_WEIGHT_KG = _amount(rf"(?:{_WEIGHT_WORD})?", r"(?:kg|KG|Kg|公斤|千克)")
_WEIGHT_BARE = re.compile(rf"{_WEIGHT_WORD}\s?[:：是为在]?\s?{_APPROX}(?:{_RANGE}|(\d{{2,3}}(?:\.\d)?))(?!\s?(?:斤|kg|KG|公斤|千克|cm|厘米|\d))")
_GIRTHS = {
    "bust_cm": r"(?<![上下])(?:胸围|胸)",
    "waist_cm": r"(?:腰围|腰维|要围|腰)",
    "hip_cm": r"(?:臀围|臀尾|臀维|屁股围|臀|屁股)",
}
_GIRTH = {
    key: re.compile(rf"{word}\s?(?:现在|目前|大概)?\s?[:：是为在]?\s?{_APPROX}(?:{_RANGE}|(\d{{2,3}}(?:\.\d)?))(?!\s?[a-gA-G]?\s?码|[a-gA-G](?![a-zA-Z]))")
    for key, word in _GIRTHS.items()
}
_GIRTH_METRE = {key: re.compile(rf"{word}\s?[:：是为在]?\s?{_APPROX}(1)\s?米\s?(\d{{1,2}})?(?![\d.])") for key, word in _GIRTHS.items()}
_GIRTH_CHI = {key: re.compile(rf"{word}\s?[:：是为在]?\s?{_APPROX}([1-4])\s?尺\s?(\d)?\s?寸?") for key, word in _GIRTHS.items()}
_THREE = re.compile(r"[三3]围\s?[:：是为在]?\s?(\d{2,3})\s?[/\-、,，\s]\s?(\d{2,3})\s?[/\-、,，\s]\s?(\d{2,3})")
_GLUED = re.compile(r"胸(\d{2,3})\s?腰(\d{2,3})\s?臀(\d{2,3})|(?<![A-Za-z])B\s?(\d{2,3})\s?W\s?(\d{2,3})\s?H\s?(\d{2,3})(?![\d])")
_FOOT = re.compile(rf"脚(?:丫|掌)?(?:长|的长度)\s?[:：是为在]?\s?{_APPROX}(?:([12]\d{{2}})\s?(?:mm|毫米)?(?![\d.])|{_RANGE}|(\d{{2}}(?:\.\d)?))")
_SIZE = r"(XXXL|XXL|XL|XS|[2-5]XL|[SMLsml](?![a-zA-Z])|均码|[6-9]\d[A-Ga-g](?![a-zA-Z])|\d{2,3}(?:\.5)?)"
_HABIT = r"(?:平时|平常|一般|通常|之前|以前|原来|一直|都是|日常|现在|别家|本来)"
_HABIT_BARE = r"(?:平时|平常|一般|通常|日常|一直)"  # habits that name a size without a verb ("平时M")
_LETTER_SIZE = r"(XXXL|XXL|XL|XS|[2-5]XL|[SMLsml](?![a-zA-Z])|均码|[6-9]\d[A-Ga-g](?![a-zA-Z]))"
_NOT_SIZE = r"(?![a-zA-Z\d]|\s?(?:斤|公斤|千克|kg|cm|厘米|公分|米|左右|上下|岁|块|元))"
_USUAL = (
    re.compile(rf"{_HABIT}[^\d，,。？?！!]{{0,6}}?(?:穿|拿|买|选)(?:的)?(?:是)?\s?{_SIZE}\s?(?:码|号|的)?{_NOT_SIZE}", re.IGNORECASE),
    re.compile(rf"{_HABIT}[^\d，,。？?！!]{{0,6}}?(?:都是|是)\s?(?:{_LETTER_SIZE}\s?(?:码|号)?|(\d{{2,3}})\s?(?:码|号)){_NOT_SIZE}", re.IGNORECASE),
    re.compile(rf"{_HABIT_BARE}\s?(?:码数|尺码)?\s?[:：]?\s?{_SIZE}\s?(?:码|号)?{_NOT_SIZE}", re.IGNORECASE),
    re.compile(rf"(?:鞋子?|裤子|上衣|衣服|牛仔裤|运动鞋)\s?(?:我|都)?\s?(?:一般|平时|都)?\s?穿\s?{_SIZE}\s?(?:码|号|的)?(?![a-zA-Z\d])", re.IGNORECASE),
    re.compile(rf"我\s?(?:都|一直|一般)?\s?穿\s?{_SIZE}\s?(?:码|号)?(?:的)?(?:刚好|合适|正好|比较多)?(?![a-zA-Z\d吗呢吧])", re.IGNORECASE),
    re.compile(r"(?<![\d.])(\d{2})\s?码的(?:鞋|裤子)我穿(?:刚好|合适|正好)", re.IGNORECASE),
    re.compile(r"(?:鞋码|码数)\s?[:：是]?\s?(\d{2}(?:\.5)?)(?![\d.])"),
    # a size right after the person it is for, with or without 穿 ("我老公43的拍几码", "男朋友XL的"): a shoe size or a
    # letter, never a height ("她165的")
    re.compile(
        r"(?:" + "|".join(re.escape(w) for w, _ in _PERSON_WORDS) + r"|[他她])\s?(?:平时|平常|一般|都|一直)?\s?(?:穿|拿)?\s?"
        r"((?:3[3-9]|4[0-8])(?:\.5)?|XXXL|XXL|XL|XS|[2-5]XL|[SMLsml](?![a-zA-Z]))\s?(?:码|号)?\s?的?"
        r"(?=\s|$|[?？，,]|拍|穿|选|买|要|该|应该|呢|的话|[他她])",
        re.IGNORECASE,
    ),
)
# A shoe size worn ("耐克穿42", "穿44的鞋"), in a message about shoes or feet.
_SHOE_WORN = re.compile(r"穿\s?(3[3-9]|4[0-8])(?:\.5)?\s?(?:码|号)?(?:的鞋|的)?(?![\d.]|\s?(?:还是|或|可以|行|吗|呢|斤|公斤|kg|cm))")
_ABOUT_SHOES = re.compile(r"鞋|脚")
_PAIR = re.compile(r"(?<![\d./])(\d{2,3}(?:\.\d)?)\s?(?:cm|厘米|公分)?\s?/\s?(\d{2,3}(?:\.\d)?)\s?(斤|kg|公斤)?(?![\d.]|\s?/\s?\d)", re.IGNORECASE)
_CHART_LABEL = re.compile(r"\d{3}/\d{2,3}[A-Z]")
_ABOUT_CHART = re.compile(r"(?:尺码表|表里|表上|标的|适合|对应|是指|码数表)[^，,。！？!?]{0,10}$")
_SIZE_OF = re.compile(r"\s?的?\s?(?:那个|这个|那|这)?\s?(?:码|号)")
_LABEL_BEFORE = re.compile(r"(?:[SMLXsmlx]{1,4}|\d{2,3})码的?\s?(?:的|那件|这件)?\s?[^\d，,。]{0,3}$")
_QUESTION_AFTER = re.compile(r"^[^，,。]{0,6}(?:吗|么|嘛|\?|？)")
_LEFTOVER = re.compile(rf"(?<![\d.:/a-zA-Z*])({_APPROX}\d{{2,3}}(?:\.5)?)\s?(?:左右|上下|出头|多)?(?![\d.a-zA-Z*]|\s?(?:cm|厘米|公分|元|块|码|号|的码|的号|件|个|岁|多岁|斤|kg|公斤|mm|%|/|人|名|份|样|天|小时|分|折|[×xX*]\s?\d))")
# Bare numbers are read as a height or weight only in a message about size or body (or one that is nothing
# but two such numbers): "199那款 180卖不卖" is prices, "88" is goodbye.
_SIZED = re.compile(r"(?<![a-zA-Z])(?:[2-5]?X{0,3}[SMLsml]|XXL|XXXL)(?![a-zA-Z])|衣|裤|裙|鞋|男|女|拿|穿|码|选|哪个|尺码|尺寸|胖|瘦|个子|身材|偏大|偏小|合适|多大|宽松|修身|紧|身高|体重|斤|kg|公斤|cm|厘米|公分|\d\s?米|高|矮|腰|胸|臀|肩", re.IGNORECASE)
_TWO_NUMBERS = re.compile(r"\s*(?:我|俺|偶|本人)?\s*(?:1[2-9]\d)\s*[,，、/\s]\s*\d{2,3}\s*[?？~～。.!！]*\s*")
_OBJECT = re.compile(r"柜|桌|床|箱|盒|沙发|长宽高|尺寸|窗|门|车|屏|衣长|裤长|袖长|肩宽|领围|缩水|包包|背包|书包")
_OBJECT_METRE = re.compile(r"\s?米?(?:的|长|宽|高)?(?:床|桌|柜|沙发|窗帘|床垫|被|毯|席|垫|布|线|绳|门|车)")
# What an agent asks for, to read a bare answer ("108") as that measurement.
_ASKED = (
    (re.compile(r"体重|多重|几斤|多少斤"), "体重"), (re.compile(r"身高|多高|个子"), "身高"), (re.compile(r"腰围"), "腰围"),
    (re.compile(r"胸围"), "胸围"), (re.compile(r"臀围"), "臀围"), (re.compile(r"脚长"), "脚长"),
    (re.compile(r"(?:平时|一般|平常).{0,4}(?:码|号)|(?:平时|一般|平常)穿(?:多大|什么|几)|多大码|什么码|几码|鞋码多少"), "平时穿"),
)
_HAS_LABEL = re.compile(r"身高|体重|腰围|胸围|臀围|脚长|[腰胸臀]\s?\d|码|斤|kg|公斤|米|cm", re.IGNORECASE)
# An agent's turn stating a measure's figure ("38码对应脚长24cm") asks nothing, unless it asks besides.
_AGENT_STATES = re.compile(r"(?:身高|体重|腰围|胸围|臀围|脚长)\s?(?:是|为|对应|大概|约)?\s?\d|\d+\s?(?:码|号|cm|厘米|斤|kg)\s?(?:对应|的)")
_AGENT_ASKS = re.compile(r"[?？吗呢呀]|多少|多高|多重|几斤|几码|什么码|多大|说下|说一下|告诉|发我|报一下|方便")


_DIGIT = {c: str(i) for i, c in enumerate("零一二三四五六七八九")} | {"〇": "0", "两": "2"}
_CN_RUN = re.compile(r"[零一二两三四五六七八九十百]+(?:点[零一二三四五六七八九]+)?")
_UNIT_AFTER = ("米", "尺", "寸", "斤", "公斤", "千克", "kg", "码", "号", "厘米", "公分", "cm")


def _cn_number(match: re.Match) -> str:
    """One run of Chinese numerals as digits; a lone numeral only where it is a quantity (一米, 尺二), so
    words like 一般, 一直, 两件 stay as they are."""
    run, text = match.group(0), match.string
    before, after = text[max(0, match.start() - 1) : match.start()], text[match.end() :]
    if len(run) == 1 and before not in ("米", "尺") and not after.startswith(_UNIT_AFTER):
        return run
    try:
        return str(cn2an.cn2an(run, "smart")).removesuffix(".0")
    except (ValueError, KeyError, IndexError):
        return run


def _neighbours(match: re.Match) -> str:
    head, a, b = match.groups()
    if _CN.index(b) - _CN.index(a) not in (1, 2) or "两" in (a, b):
        return match.group(0)
    return f"{head}{a}到{head}{b}"


def _prepare(text: str) -> str:
    """Chinese numerals as digits, with the forms read specially: 一米零五 (105), 一百二三十 (a range)."""
    text = re.sub(rf"([{_CN}])米零([{_CN}])", lambda m: f"{m.group(1)}米0{cn2an.cn2an(m.group(2), 'smart')}", text)
    text = re.sub(rf"一百([{_CN}])([{_CN}])十", lambda m: f"一百{m.group(1)}十到一百{m.group(2)}十", text)
    # [表情] and the like are dropped; 【身高】162 keeps its label
    text = re.sub(r"\[[^\[\]]{1,6}\]", " ", text).replace("【", " ").replace("】", " ")
    # 一六五, 一八零, 一七五一四零: digits said one by one (a height, then maybe a weight)
    text = re.sub(rf"(?<![{_CN}十百零〇\d])一([{_CN}零〇])([{_CN}零〇])(?![十百])", lambda m: f" 1{_DIGIT[m.group(1)]}{_DIGIT[m.group(2)]} ", text)
    # 一米六八一百二十斤: the height's digits end where the weight begins
    text = re.sub(rf"(米[{_CN}](?:[零〇{_CN}](?![十百]))?)(?=[{_CN}]?[十百])", r"\1 ", text)
    # 米八, 米六五: a height without its 一
    text = re.sub(rf"(?<![{_CN}\d])米([{_CN}])", r"一米\1", text)
    # 九十七八斤, 一百零五六斤: two neighbouring numbers, a range
    text = re.sub(rf"(一百零|一百[{_CN}]十|[{_CN}]十)([{_CN}])([{_CN}])(?=\s?(?:斤|公斤|kg|cm|厘米|公分|左右))", _neighbours, text)
    return _CN_RUN.sub(_cn_number, text)


def _metre(match: re.Match) -> float:
    tail = match.group(2) or "0"
    return int(match.group(1)) * 100 + (int(tail) if len(tail) == 2 else int(tail) * 10)


def _bmi(height: float, kg: float) -> float:
    return kg / (height / 100) ** 2


def _plausible_kg(height: float | None, value: float) -> float | None:
    """A bare weight in 斤 or kg: the reading whose body-mass index is plausible (165 110 is 55 kg)."""
    if height is None:
        return value / 2 if value >= 80 else value
    if height >= 140:  # an adult: a usual body first (181 95 is 95 kg, 165 110 is 110斤)
        usual = [kg for kg in (value / 2, value) if 16 <= _bmi(height, kg) <= 32]
        if len(usual) == 1:
            return usual[0]
    fits = [kg for kg in (value / 2, value) if 11 <= _bmi(height, kg) <= 40]
    if len(fits) == 1:
        return fits[0]
    if not fits:
        return None
    return value / 2 if value >= 80 or height < 130 else value


def _chart_figure(text: str, start: int, end: int) -> bool:
    """A figure of the chart or of a size, not the customer's: "M码适合160-165吗", "L码胸围是108吗"."""
    before = text[:start]
    return bool(_ABOUT_CHART.search(before) or (_LABEL_BEFORE.search(before) and _QUESTION_AFTER.match(text[end:])))


def _body(text: str, start: int) -> bool:
    """A number at `start` is not a garment or item measure (胸围92cm, 裤长100cm, 项链45cm)."""
    return not re.search(_NOT_BODY, text[max(0, start - 3) : start]) and not _OBJECT.search(text[max(0, start - 8) : start])


def _height(text: str, taken: list[tuple[int, int]]) -> float | None:
    for match in _HEIGHT_WORDED.finditer(text):
        if _chart_figure(text, match.start(), match.end()):
            taken.append(match.span())  # the chart's figure, not the customer's
            continue
        value = _num(match)
        if value is not None and 1.3 <= value <= 2.3:
            value *= 100
        if value is not None and 40 <= value <= 230:
            taken.append(match.span())
            return value
    for match in _HEIGHT_METRE.finditer(text):
        if _OBJECT_METRE.match(text, match.end()) or not _body(text, match.start()):
            continue
        taken.append(match.span())
        return float(_metre(match))
    for match in _HEIGHT_DECIMAL.finditer(text):
        if _OBJECT_METRE.match(text, match.end()) or not _body(text, match.start()):
            continue
        if "米" in match.group(0) or "m" in match.group(0).lower() or re.search(_HEIGHT_WORD, match.group(0)):
            taken.append(match.span())
            return float(match.group(1)) * 100
    if match := _HEIGHT_CHI.search(text):
        taken.append(match.span())
        return int(match.group(1)) * CHI_CM + int(match.group(2) or 0) * CUN_CM
    for match in _HEIGHT_CM.finditer(text):
        if _body(text, match.start()) and 40 <= float(match.group(1)) <= 230 and not _chart_figure(text, match.start(), match.end()):
            taken.append(match.span())
            return float(match.group(1))
    return None


def _a_weight(text: str, match: re.Match) -> bool:
    """A weight said of a person: not a parcel's or a price, not the chart's, not a change (胖了5斤)."""
    before = text[: match.start()]
    if _NOT_PERSON.search(before) or _chart_figure(text, match.start(), match.end()):
        return False
    return not (match.group(0)[:1].isdigit() and _DELTA.search(before))


def _weight(text: str, taken: list[tuple[int, int]]) -> float | None:
    found = []
    for match in _WEIGHT_JIN.finditer(text):
        value = _num(match)
        if value is not None and _a_weight(text, match):
            value += 0.5 if match.group(4) == "斤半" else 0
            found.append((match.start(), value / 2, match.span()))
    for match in _WEIGHT_KG.finditer(text):
        if _num(match) is not None and _a_weight(text, match):
            found.append((match.start(), _num(match), match.span()))
    if found:
        start, kg, span = max(found)  # the last said wins ("以前110斤，现在120斤")
        taken.append(span)
        return kg
    return None


_WHAT_FITS = re.compile(r"(?:多少|多大|多长|多高|多重|几斤|几码|几号)\s?(?:的人?)?\s?$")


def _usual(text: str, taken: list[tuple[int, int]]) -> str | None:
    patterns = _USUAL + ((_SHOE_WORN,) if _ABOUT_SHOES.search(text) else ())
    for pattern in patterns:
        for match in pattern.finditer(text):
            if text[match.end() : match.end() + 1] in ("吗", "呢", "?", "？"):
                continue
            if _WHAT_FITS.search(text[max(0, match.start() - 4) : match.start()]):
                continue  # "脚长多少穿38": asks what fits the size, not the customer's own
            taken.append(match.span())
            size = next(g for g in match.groups() if g)
            return size.upper() if size.isascii() else size
    return None


def _read_part(text: str, sized: bool) -> dict[str, float | str]:
    text = _CHART_LABEL.sub(" ", text)
    found: dict[str, float | str] = {}
    taken: list[tuple[int, int]] = []
    height = weight = None
    pair = next((p for p in _PAIR.finditer(text) if not _chart_figure(text, p.start(), p.end())), None)
    if pair and 60 <= float(pair.group(1)) <= 230:
        height = float(pair.group(1))
        second = float(pair.group(2))
        unit = (pair.group(3) or "").lower()
        weight = second / 2 if unit == "斤" else second if unit in ("kg", "公斤") else _plausible_kg(height, second)
        taken.append(pair.span())
    height = height if height is not None else _height(text, taken)
    if height is not None:
        found["height_cm"] = height
    weight = weight if weight is not None else _weight(text, taken)
    if weight is None:
        bare = _WEIGHT_BARE.search(text)
        if bare and _num(bare) is not None:
            weight = _plausible_kg(height, _num(bare))
            taken.append(bare.span())
    three = _THREE.search(text) or _GLUED.search(text)
    if three:
        found["bust_cm"], found["waist_cm"], found["hip_cm"] = (float(g) for g in three.groups() if g)
        taken.append(three.span())
    for key in _GIRTHS:
        if key in found:
            continue
        if chi := _GIRTH_CHI[key].search(text):
            found[key] = int(chi.group(1)) * CHI_CM + int(chi.group(2) or 0) * CUN_CM
            taken.append(chi.span())
        elif metre := _GIRTH_METRE[key].search(text):
            found[key] = float(_metre(metre))
            taken.append(metre.span())
        else:
            for match in _GIRTH[key].finditer(text):  # the last said wins
                value = _num(match)
                taken.append(match.span())
                if _chart_figure(text, match.start(), match.end()) or _SIZE_OF.match(text, match.end()):
                    continue  # the chart's figure, a size's ("腰围72的那个码")
                if value is not None and 40 <= value <= 160:
                    found[key] = value
    if foot := _FOOT.search(text):
        length = float(foot.group(1)) / 10 if foot.group(1) else _num(foot, 2)
        if length is not None and 10 <= length <= 32:  # a child's to the largest adult's foot ("脚长39" is a shoe size)
            found["foot_cm"] = length
        taken.append(foot.span())
    usual = _usual(text, taken)
    if usual:
        found["usual_size"] = usual
    # Numbers left over: the height or weight given bare ("165 110", "约55公斤 165左右", "1米6 105"); in a
    # message about prices, only beside a figure with its unit ("199的外套 我168 120斤").
    priced = _PRICES.search(text) and not (found or weight is not None)
    if sized and not priced and (height is None or weight is None):
        free = [m for m in _LEFTOVER.finditer(text) if not any(s <= m.start() < e for s, e in taken)]
        for match in free:
            value = float(re.sub(r"[^\d.]", "", match.group(1)))
            if _chart_figure(text, match.start(), match.end()) or not _body(text, match.start()):
                continue  # the chart's figure ("M码适合160-165吗"), a garment's (裤长100)
            label = re.search(r"(?:穿|拿|选|换|要)\s?$", text[: match.start()]) and re.match(r"\s?(?:还是|或|码|号|吗|呢|可以|行|的话|的够|的会|会不会|够不够|合适吗)", text[match.end() :])
            # a height beside a weight with its unit ("帮男朋友买 175 140斤") is no price
            priced = _NOT_PERSON.search(text[: match.start()])
            paired = priced and not _MONEY.search(priced.group(0)) and weight is not None and _PAIRED_WEIGHT.match(text, match.end())
            if (priced and not paired) or label or re.search(r"(?:还是|或者?)\s?$", text[: match.start()]):
                continue  # a price or a size label ("穿73还是80", "拿110的话")
            # a girth named just before, with no figure of its own ("臀围大呢 90多", "腰有点粗 80"): the figure is its
            girth = next((key for key, word in _GIRTHS.items() if re.search(rf"{word}[^\d]{{0,6}}$", text[: match.start()])), None)
            if girth is not None:
                if girth not in found and 40 <= value <= 160:
                    found[girth] = value
                continue
            if height is None and 60 <= value <= 199 and (weight is None or 11 <= _bmi(value, weight) <= 40) and _body(text, match.start()):
                height = value
                found["height_cm"] = value
            elif weight is None and height is not None:
                kg = _plausible_kg(height, value)
                if kg is not None:
                    weight = kg
    if weight is not None:
        found["weight_kg"] = weight
    return found


@dataclass(frozen=True)
class _Part:
    text: str
    who: str  # "self" or a key of PEOPLE


def _parts(text: str) -> list[_Part]:
    """The message cut where it turns to another person or back to the writer."""
    named = [(m.start(), _WHO[m.group(0)]) for m in _PERSON.finditer(text)]
    pronouns = [(m.start(), _named_before(named, m.start())) for m in _PRONOUN.finditer(text)]
    cuts = sorted(named + pronouns + [(m.start(), "self") for m in _SELF.finditer(text)])
    if not cuts:
        return [_Part(text, "self")]
    parts = [_Part(text[: cuts[0][0]], "self")] if cuts[0][0] > 0 else []
    for (start, who), (end, _) in zip(cuts, cuts[1:] + [(len(text), "")]):
        parts.append(_Part(text[start:end], who))
    return parts


def _named_before(named: list[tuple[int, str]], at: int) -> str:
    before = [who for start, who in named if start < at]
    return before[-1] if before else OTHER


def _target(text: str) -> str | None:
    """Whom the purchase is for, when the message says: a named person, a pronoun for one, or the writer."""
    found = []
    if match := _FOR.search(text):
        found.append((match.start(), _WHO[match.group(1)]))
    if match := _FOR_SELF.search(text):
        found.append((match.start(), "self"))
    named = [(m.start(), _WHO[m.group(0)]) for m in _PERSON.finditer(text)]
    for match in _FOR_PRONOUN.finditer(text):
        found.append((match.start(), _named_before(named, match.start())))
    return max(found)[1] if found else None  # the last said


def read_measurements(text: str, asked: bool = False) -> tuple[dict[str, float | str], str | None]:
    """The measurements of one normalised message, and whose they are when the purchase is for someone
    named (the writer's otherwise): `(measurements, person or None)`. `asked`: the message is part of a
    conversation about size (an agent asked for measurements), so bare numbers count."""
    prepared = _prepare(text)
    sized = asked or bool(_SIZED.search(prepared) or _TWO_NUMBERS.fullmatch(prepared))
    if marker := _CORRECTED.search(prepared):
        # "身高165 不对 是158": what follows the correction replaces the figure its number is near.
        before, before_who = read_measurements(prepared[: marker.start()], sized)
        after_text = prepared[marker.end() :]
        fixed, span = _corrected(after_text, before)
        if span:
            after_text = after_text[: span[0]] + " " * (span[1] - span[0]) + after_text[span[1] :]
        after, after_who = read_measurements(after_text, sized)
        return {**before, **after, **fixed}, after_who or before_who
    who = _target(prepared)
    readings: dict[str, dict] = {}
    for part in _parts(prepared):
        found = _read_part(part.text, sized)
        if found and part.who != "模特":
            readings.setdefault(part.who, {}).update({k: v for k, v in found.items() if k not in readings.get(part.who, {})})
    found, who = _whose(readings, who)
    return found, None if who == OTHER else who  # 他/她 alone: whoever the conversation is about


def _whose(readings: dict[str, dict], who: str | None) -> tuple[dict, str | None]:
    """The figures of the person the purchase is for, among everyone's in the message."""
    if not readings:
        return {}, who
    if who in readings:
        return readings[who], who
    others = [w for w in readings if w != "self"]
    if who is not None and not others:
        return readings.get("self", {}), who  # "给我妈买 160 120斤": the figures come unnamed
    if len(others) == 1 and (who is not None or "self" not in readings):
        return readings[others[0]], others[0]
    merged: dict[str, float | str] = {}
    for found in readings.values():
        merged.update({k: v for k, v in found.items() if k not in merged})
    return merged, who


def _prompted(agent: str, text: str) -> str:
    """A bare answer to the agent's question, read as what was asked ("体重呢" — "108" → "体重108")."""
    asked = [label for pattern, label in _ASKED if pattern.search(agent)]
    if asked == ["平时穿"] and re.fullmatch(rf"\s*{_LETTER_SIZE}\s*(?:码|号)?\s*[的吧呀哦~～。.!！]*\s*", text, re.IGNORECASE):
        return f"平时穿{text}"  # "m" for "平时穿什么码"
    # the first number that is not an age or a duration ("6个月 128")
    number = re.search(r"(?:大概|大约|差不多|约)?\s?[\d一二两三四五六七八九十]+(?:\.\d)?(?!\s?(?:个月|岁|周|天|年|[\d.一二两三四五六七八九十]))", text)
    if len(asked) != 1 or _HAS_LABEL.search(text) or number is None:
        return text  # nothing asked, several things asked, or the answer names what it is
    return f"{text[: number.start()]}{asked[0]}{text[number.start():]}"


def conversation_measurements(message: str, earlier: Iterable[str | tuple[str, str]] = ()) -> dict[str, float | str]:
    """The measurements of the person the purchase is for, from the customer's turns and the message (oldest
    first; an earlier turn is a text or (role, text)): a later value replaces an earlier one, a bare answer
    reads as what the agent asked, and a turn for another person starts that person's figures."""
    merged: dict[str, float | str] = {}
    person: str | None = None
    agent = ""
    turns = [turn if isinstance(turn, tuple) else ("customer", turn) for turn in [*earlier, ("customer", message)]]
    # A conversation about size or body: bare numbers count in every customer turn ("我170" — "体重呢" — "128").
    about_size = any(_SIZED.search(_prepare(text)) or any(p.search(text) for p, _ in _ASKED) for _, text in turns)
    for role, text in turns:
        if role == "agent":
            agent = text
            continue
        asked = any(pattern.search(agent) for pattern, _ in _ASKED) and (not _AGENT_STATES.search(agent) or bool(_AGENT_ASKS.search(agent)))
        found, who = read_measurements(_prompted(agent, text) if asked else text, asked or about_size)
        agent = ""
        if merged and not _HAS_LABEL.search(text) and set(found) <= {"height_cm", "weight_kg"} and len(found) <= 1:
            found = _correction(text, merged) or found
        if who is not None and who != (person or "self") and found:
            merged = {}  # a new person: their own figures
        if who is not None:
            person = who
        merged.update(found)
    return {key: _rounded(merged[key]) for key in KEYS if key in merged}


_MONEY = re.compile(r"价|花了|钱|元|块|优惠|便宜|券|[¥￥]")
_PAIRED_WEIGHT = re.compile(r"\s?[/，,、]?\s?\d{2,3}(?:\.\d)?\s?(?:斤|kg|公斤|千克)", re.IGNORECASE)
_LONE = re.compile(r"(?<![\d.])(\d{2,3}(?:\.\d)?)(?![\d.])")
_CORRECTED = re.compile(r"(?:不对|说错了?|打错了?|写错了?|搞错了?|记错了?|额?不是|哦不|更正|纠正)[，,。!！~～\s]*")
# How far a corrected figure may be from the one it corrects.
_NEAR = {"height_cm": 12, "weight_kg": 6, "bust_cm": 10, "waist_cm": 10, "hip_cm": 10, "foot_cm": 2}


def _corrected(text: str, known: dict) -> tuple[dict, tuple[int, int] | None]:
    """The first bare number of `text` (no unit or label of its own), as a correction of the figure of
    `known` it is near: ({key: value}, its span), or ({}, None)."""
    for match in _LONE.finditer(text):
        if _HAS_LABEL.search(text[max(0, match.start() - 3) : match.start()]) or re.match(r"\s?(?:斤|公斤|kg|cm|厘米|码|号|岁|个月)", text[match.end() :], re.IGNORECASE):
            continue
        value = float(match.group(1))
        near = []
        for key, tolerance in _NEAR.items():
            if key not in known or isinstance(known[key], str):
                continue
            for candidate in ((value / 2, value) if key == "weight_kg" else (value,)):
                if abs(candidate - known[key]) <= tolerance:
                    near.append((key, candidate))
                    break
        return (dict(near), match.span()) if len(near) == 1 else ({}, None)
    return {}, None


def _correction(text: str, known: dict) -> dict:
    """A lone number in a later turn ("搞错了 是178", "现在118了") corrects the figure it is near."""
    prepared = _prepare(text)
    if len(_LONE.findall(prepared)) != 1:
        return {}
    return _corrected(prepared, known)[0]


def _rounded(value: float | str) -> float | int | str:
    """One decimal, halves up (56.25 → 56.3); a whole number as an int."""
    if isinstance(value, str):
        return value
    rounded = float(Decimal(str(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))
    return int(rounded) if rounded.is_integer() else rounded
