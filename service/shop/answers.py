"""Replies built from the shop's own knowledge: a product's attribute answering a product question, the size
the size chart gives for the customer's measurements, the chart itself, one size's row of it, or two sizes compared.

Each is a reply like the corpus's (so it is offered, audited and credited the same way) with a stable id
(`catalogue-<product>-<attribute>`, `sizing-<product>`, `sizing-chart-<product>`, `sizing-row-<product>`,
`sizing-compare-<product>`) and source `product` or `size`. The texts state only what the shop's data says; what it does not say is not claimed.
"""

from __future__ import annotations

import re

import cn2an

from service.replies.corpus import StandardReply
from service.shop.products import ATTRIBUTES, GENERATED_ID_PREFIXES, Product
from service.shop.sizes import BODY, FIT, LABELS, SizeAdvice, SizeChart, SizeRow

# The knowledge points a product attribute answers, with the attributes that do, in order of preference.
ANSWERS: dict[str, tuple[str, ...]] = {
    "product.material": ("material",),
    "product.thickness": ("thickness", "material"),
    "product.colour": ("colours",),
    "product.stock": ("in_stock",),
    "product.restock": ("in_stock",),
    "product.presale-date": ("presale_date", "in_stock"),
    "product.care": ("care",),
    "product.features": ("features",),
    "product.origin-brand": ("origin",),
    "product.package-contents": ("package",),
    "product.warranty-policy": ("warranty",),
    "product.price": ("price",),
    "size.fit-style": ("fit",),
    "size.runs-large-small": ("fit",),
    # a presale product ships on its date, not within the shop's usual time
    "logistics.ship-when": ("presale_date",),
    "logistics.ship-today": ("presale_date",),
    "logistics.urge-shipping": ("presale_date",),
    "logistics.arrival-time": ("presale_date",),
    "refund.exchange-time": ("presale_date",),  # the new one of a presale item ships on its date too
    # other goods asked for by a colour ("有没有同款黑色的"): whether this product comes in it, and which it does
    "product.catalogue": ("colours",),
}
# The points a product attribute answers only when the customer names a colour: asked for other goods in general
# ("有没有阔腿的"), the product's colours answer nothing.
COLOUR_NAMED = frozenset({"product.catalogue"})
# The point asking for the size chart: answered with the chart when no measurements are known.
CHART_POINT = "size.chart"
# The points asking which size to take: the chart's advice for the customer's measurements answers them. Asked
# how long a size is, whether a cut runs small or wide feet need a size up, the advice would repeat a size
# without answering (a rater's round: once height and weight were known, every size follow-up got it).
SIZE_ADVICE_POINTS = frozenset({
    "size.recommend", "size.for-someone-else", "size.between-sizes", "size.same-as-last", "size.big-petite",
    "size.couple", "size.shoes", "size.maternity", "size.kids", "size.ask-no-data",
})
# Which shoe size: without a foot length (or a usual size), the shoe chart answers it.
SHOES_POINT = "size.shoes"
# The point asking how long a garment is: answered with the chart's garment lengths when it has them.
LENGTH_POINT = "size.length"
# The points a question about one size by name reads as ("26码腰围多少", "M码适合多高的"): that size's row of the
# chart answers them (`row_answer`), unless the customer asks for the chart itself.
ROW_POINTS = frozenset({CHART_POINT, SHOES_POINT, LENGTH_POINT, "size.ask-no-data", "size.recommend", "size.chart-garment-or-body"})
WHOLE_CHART = re.compile(r"尺码表|尺寸表|码表|对照表|size\s?chart", re.IGNORECASE)
_LENGTHS = {"sleeve": "袖长", "shoulder": "肩宽"}
_ASKED_MEASURE = {"sleeve": re.compile(r"袖长|袖子|袖口"), "shoulder": re.compile(r"肩宽|肩膀")}  # else the garment's length
_FIT_NOTE = {
    "slim": "这款是修身版型，穿着比较贴身，喜欢宽松一点可以拿大一码",
    "regular": "这款是标准版型，按平时的码数拍就可以",
    "loose": "这款是宽松版型，本身做得比较宽松，不用特意拍大",
}


PREFIXES = GENERATED_ID_PREFIXES


def _slug(product_id: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", product_id.lower()).strip("-")


def _reply(reply_id: str, text: str, point: str, intent: str, source: str, stage: str = "售前") -> StandardReply:
    return StandardReply(id=reply_id, text=text, intents=(intent,), stage=stage, category="answer", source=source,
                         knowledge_point=point)


# A question how a colour looks: its shade, against the skin, in the photos.
_LOOKS = re.compile(r"偏.{1,2}还是偏|偏[红黄绿蓝灰紫粉白黑]吗|显[黑白黄]|[黄黑白]皮|肤色|皮肤|色差|实物.{0,3}颜色|颜色.{0,3}(?:正|深|浅)不")
_LOOSER = re.compile(r"宽松|松一点|宽一点|oversize|大一码|大一号|穿大点", re.IGNORECASE)


def _attribute_text(product: Product, attribute: str, slots: dict[str, str], text: str = "") -> str | None:
    value = product.attributes.get(attribute)
    title = product.title
    if value is None:
        return None
    colours = product.attributes.get("colours") or []
    asked = slots.get("colour")
    absent = asked and colours and not any(asked in c or c in asked for c in colours)
    if attribute in ("colours", "in_stock") and absent:
        return f"亲，这款{title}没有{asked}，现在有{'、'.join(colours)}，您看看有没有喜欢的～"
    if attribute == "colours":
        if asked and _LOOKS.search(text):
            return None  # how the colour looks ("雾霾蓝偏灰还是偏蓝 我黄黑皮穿显黑不"), not whether it is made
        if asked:
            return f"亲，这款{title}有{asked}的哦，拍的时候选上就可以～"
        return f"亲，这款{title}有{'、'.join(value)}{len(value)}个颜色，您喜欢哪个呢～"
    if attribute == "in_stock":
        presale = product.attributes.get("presale_date")
        if value:
            which = "".join(slots[k] for k in ("colour", "size") if slots.get(k))
            if which:
                return f"亲，这款{title}目前有货的，{which}页面上能选就是有货，可以放心拍～"
            return f"亲，这款{title}目前有货的，可以放心拍～"
        if presale:
            return f"亲，这款{title}现在是预售，发货时间是{presale}，现在拍下到时按顺序发出～"
        return f"亲，这款{title}现在暂时缺货，补货时间我这边还没有确切消息，我帮您问一下仓库再回复您～"
    if attribute == "presale_date":
        if product.attributes.get("in_stock") is True:  # a date left from an earlier presale: it is in stock now
            return None
        return f"亲，这款{title}是预售的，发货时间是{value}，我这边会按顺序给您安排～"
    if attribute == "fit":
        if value == "regular" and _LOOSER.search(text):  # "喜欢宽松点 要不要拿L": how to get a looser fit in this cut
            return "亲，这款是标准版型，按平时的码数拍是合身的；喜欢宽松一点可以拿大一码～"
        return f"亲，{_FIT_NOTE[value]}～"
    if attribute == "features":
        return f"亲，这款{title}的特点是：{'、'.join(value)}～"
    label = ATTRIBUTES[attribute][1]
    if attribute == "thickness":
        said = _cold_compared(value, text)
        if said is not None:
            return f"亲，这款{title}的{label}：{value}；{said}～"
    if attribute == "material":
        said = [f for f in product.attributes.get("features") or () if _feature_asked(f, text)]
        return f"亲，这款{title}的材质是{value}，{'、'.join(said)}哦～" if said else f"亲，这款{title}的材质是{value}哦～"
    return f"亲，这款{title}的{label}：{value}～"


# A temperature below zero, as a product's data gives it ("零下10℃左右可穿", "-10°C") and as customers write it ("零下25度",
# "零下二十几度", "-20°C"; not the dash of a range, "10-20度"): the number of degrees below zero.
_BELOW_ZERO = re.compile(r"(?:零下|(?<![\d.])-|负)\s?(\d{1,2}|[一二两三四五六七八九十]{1,3})(几|多)?\s?(?:℃|°C|度)")


_DIGITS = dict(zip("一二两三四五六七八九", (1, 2, 2, 3, 4, 5, 6, 7, 8, 9)))


def _degrees_below(text: str) -> tuple[int, str] | None:
    """(degrees below zero, as said) of the first such temperature in `text`: "零下三四度" is up to 4, "零下二十几度" about
    25."""
    found = _BELOW_ZERO.search(text)
    if found is None:
        return None
    number = found.group(1)
    said = found.group(0).replace(" ", "") if found.group(0).startswith("零下") else None
    if number.isdigit():
        degrees = int(number)
    elif "十" not in number and len(number) == 2:  # two numerals side by side: a range ("三四度")
        degrees = max(_DIGITS[c] for c in number)
    else:
        try:
            degrees = int(cn2an.cn2an(number, "smart"))
        except (ValueError, KeyError, IndexError):
            return None
    if found.group(2):  # "十几度", "二十多度": some degrees more
        degrees += 5
    return degrees, said or f"零下{degrees}度"


def _cold_compared(thickness: str, text: str) -> str | None:
    """How the cold the customer names compares with the cold the product's data says it is worn in ("零下25度扛得住吗"
    of a jacket "零下10℃左右可穿"), said without claiming more than the data: colder by more than a few degrees is
    beyond what it is made for; otherwise within it. None when either says no temperature."""
    rated, asked = _degrees_below(thickness), _degrees_below(text)
    if rated is None or asked is None:
        return None
    (limit, _), (degrees, said) = rated, asked
    if degrees > limit + 3:
        return f"{said}比它标的温度低，单穿可能不够暖，里面最好再加件厚毛衣"
    return f"{said}在它标的温度范围里"


# How a fabric feels on the skin, asked of its material ("会不会扎", "穿着痒不痒"): a feature saying it is answered.
_FEEL = re.compile(r"[扎痒刺闷磨]")
_HAN_PAIR = re.compile(r"^[\u4e00-\u9fff]{2}$")


def _feature_asked(feature: str, text: str) -> bool:
    """Whether the customer's words ask what a product feature says: a feel both name ("会不会扎" and "不扎身的细针织"),
    or two characters in a row they share ("磨脚")."""
    if set(_FEEL.findall(feature)) & set(_FEEL.findall(text)):
        return True
    return any(feature[i : i + 2] in text for i in range(len(feature) - 1) if _HAN_PAIR.match(feature[i : i + 2]))


def product_answers(product: Product, point_id: str, slots: dict[str, str], message: str = "") -> list[StandardReply]:
    """The reply a product attribute gives to a point's question (the first attribute the product has); `message`,
    the customer's normalised words, when the answer turns on them (a looser fit asked for)."""
    if point_id in COLOUR_NAMED and not slots.get("colour"):
        return []
    for attribute in ANSWERS.get(point_id, ()):
        text = _attribute_text(product, attribute, slots, message)
        if text is not None:
            intent = "size" if point_id.startswith("size.") else "product"  # as feedback credits it (ReplyService.credit)
            return [_reply(f"catalogue-{_slug(product.id)}-{attribute.replace('_', '-')}", text, point_id, intent, "product")]
    return []


_ASK = {"height_cm": "身高", "weight_kg": "体重", "bust_cm": "胸围", "waist_cm": "腰围", "hip_cm": "臀围", "foot_cm": "脚长"}


def size_answer(product: Product, advice: SizeAdvice, point_id: str, texts: list[str] = ()) -> StandardReply:
    """The size the chart gives, said as the reply: the measurements it rests on, the size or the two sizes
    and which way the fit leans, and a question only for what is missing and the conversation (`texts`) does not
    say is not known ("具体多重我也不太清楚")."""
    text = f"亲，{advice.reason}"
    missing = [key for key in advice.missing if not _unknown(key, texts)]
    if missing:
        asked = "和".join(_ASK[k] for k in missing[:2])
        text += f"；方便再说下您的{asked}吗，我帮您看得更准"
    return _reply(f"sizing-{_slug(product.id)}", text + "～", point_id, "size", "size")


# How a measurement is asked about in words ("多重我也不太清楚"), besides its name.
_ASKED_AS = {"weight_kg": "体重|多重|多少斤|几斤", "height_cm": "身高|多高"}
_NOT_KNOWN = r"(?:不知道|不清楚|不确定|不太清楚|不太确定|没量过?|不记得)"


def _unknown(key: str, texts: list[str]) -> bool:
    """Whether the conversation says this measurement is not known ("不知道体重", "具体多重我也不太清楚")."""
    label = _ASKED_AS.get(key, _ASK[key])
    said = re.compile(rf"{_NOT_KNOWN}[她他我的具体]{{0,3}}(?:{label})|(?:{label})[^，。,!?！？]{{0,5}}{_NOT_KNOWN}")
    return any(said.search(text) for text in texts)


def general_size_answer(advices: list[tuple[SizeAdvice, str | None]], point_id: str, texts: list[str]) -> StandardReply:
    """With no product known, the size the shop's chart for each garment named gives (`advise(..., general=…)`, said
    of the shop's garments of that kind; `advices` holds each with its kind), then, for one garment, a question for
    what is missing when the advice rests on one measurement, unless the conversation (`texts`) says it is not known.
    It does not ask which item: the agent sees the one the customer is asking about (raters called asking for the
    link asking what is known)."""
    if len(advices) > 1:  # "毛衣拿L可以吧？牛仔裤28还是29": each garment's size, the kind said where the advice does not
        parts = [advice.reason if not kind or kind in advice.reason else f"{kind}的话，{advice.reason}" for advice, kind in advices]
        reply_id = "sizing-shop-" + "-".join(_slug(advice.chart) for advice, _ in advices)
        return _reply(reply_id, f"亲，{'；'.join(parts)}～", point_id, "size", "size")
    advice = advices[0][0]
    text = f"亲，{advice.reason}"
    missing = [key for key in advice.missing if not _unknown(key, texts)]
    if missing and len(advice.read) < 2:
        text += f"。方便再说下{'和'.join(_ASK[k] for k in missing[:2])}吗？我帮您看得更准"
    return _reply(f"sizing-shop-{_slug(advice.chart)}", text + "～", point_id, "size", "size")


# A bra size from the two chest measures: the band is the underbust to the nearest 5 cm, the cup the difference
# between bust and underbust (about 10 cm A, each 2.5 cm more a cup up), as Chinese bra sizes are read.
BRA_POINT = "size.bra"
BRA_PREFIX = "sizing-bra-"
_UNDERBUST = re.compile(r"(?:下胸围|下围|底围)\s?(?:是|大概|约)?\s?(\d{2,3}(?:\.\d)?)")
_BUST = re.compile(r"(?:上胸围|上围|(?<![下上底])胸围)\s?(?:是|大概|约)?\s?(\d{2,3}(?:\.\d)?)")
_CUPS = "ABCDE"


def bra_size(texts: list[str]) -> tuple[float, float, str, str | None] | None:
    """(underbust, bust, size, the next band's size with the same cup volume) from the latest of each measure the
    customer said (`texts`, oldest first); None unless both are said and make a size from A to E."""
    under = next((float(m[-1]) for m in (_UNDERBUST.findall(t) for t in reversed(texts)) if m), None)
    bust = next((float(m[-1]) for m in (_BUST.findall(t) for t in reversed(texts)) if m), None)
    if under is None or bust is None or not 55 <= under <= 115:
        return None
    cup = round((bust - under - 10) / 2.5)
    if not 0 <= cup < len(_CUPS):
        return None
    band = int(under / 5 + 0.5) * 5
    sister = f"{band + 5}{_CUPS[cup - 1]}" if cup > 0 else None
    return under, bust, f"{band}{_CUPS[cup]}", sister


def bra_answer(texts: list[str], point_id: str) -> StandardReply | None:
    """The bra size the customer's underbust and bust give, with the size a band up that holds the same cup."""
    found = bra_size(texts)
    if found is None:
        return None
    under, bust, size, sister = found
    text = f"亲，下胸围{under:g}、上胸围{bust:g}，相差{bust - under:g}cm，一般对应{size}"
    if sister:
        text += f"；喜欢底围松一点、不勒的话，也可以选{sister}，罩杯容量差不多"
    return _reply(f"{BRA_PREFIX}{size.lower()}", text + "～", point_id, "size", "size")


def _length_word(product: Product) -> str:
    """What a garment's length is called: 裤长 for trousers, 裙长 for a skirt, else 衣长."""
    return {"jeans": "裤长", "pants": "裤长", "trousers": "裤长", "skirt": "裙长"}.get(product.category or "", "衣长")


def length_answer(product: Product, chart: SizeChart, text: str, size: str | None, point_id: str) -> StandardReply | None:
    """How long each size is (or the size asked, first), from the chart's garment measures: the sleeve or the
    shoulder when the message names it, else the length. None when the chart has no such column."""
    named = [m for m, pattern in _ASKED_MEASURE.items() if pattern.search(text) and any(m in r.values for r in chart.rows)]
    measure = named[0] if named else "length"  # "短袖M码多长" asks the length
    rows = [(r.size, r.values[measure]) for r in chart.rows if measure in r.values]
    if not rows:
        return None
    word = _LENGTHS.get(measure) or _length_word(product)
    asked = next(((name, value) for name, value in rows if size and name.upper() == size.upper()), None)
    listed = "，".join(f"{name}码{value:g}cm" for name, value in rows if (name, value) != asked)
    if asked:
        said = f"亲，这款{product.title}{asked[0]}码的{word}是{asked[1]:g}cm" + (f"（{listed}）" if listed else "")
    else:
        said = f"亲，这款{product.title}的{word}：{listed}"
    return _reply(f"sizing-{measure}-{_slug(product.id)}", said + "，您可以拿自己合身的衣服量一下比一比哦～", point_id, "size", "size")


def _body_parts(row: SizeRow, unit: str = "") -> list[str]:
    """A chart row's body ranges (weight in 斤), as the chart's replies say them; `unit` after each other range
    ("cm" when the row is said alone)."""
    parts = []
    for measure, (lo, hi) in row.ranges.items():
        key = f"{measure}_cm" if measure != "weight" else "weight_kg"
        if key == "weight_kg":
            parts.append(f"体重{lo * 2:g}-{hi * 2:g}斤")
        elif key in LABELS:
            parts.append(f"{LABELS[key]}{lo:g}-{hi:g}{unit}")
    return parts


def _read_by(chart: SizeChart) -> str:
    """What the chart reads a size by, to ask for: its first two body measures, or a shoe's foot length."""
    measures = [m for m in ("waist", "hip", "bust", "height", "weight") if any(m in r.ranges for r in chart.rows)]
    if not measures and any("foot" in r.values or "foot" in r.ranges for r in chart.rows):
        measures = ["foot"]
    if {"height", "weight"} <= set(measures):
        return "身高体重"
    return "和".join(LABELS[BODY[m]] for m in measures[:2]) or "身高体重"


def chart_answer(product: Product, chart: SizeChart, point_id: str) -> StandardReply:
    """The chart in one message (body ranges in 斤 for weight), then a question for the measurements."""
    rows = []
    for row in chart.rows:
        parts = _body_parts(row) + ([f"脚长{row.values['foot']:g}cm"] if "foot" in row.values else [])
        if parts:
            rows.append(f"{row.size}码 {' '.join(parts)}")
    fit = product.attributes.get("fit")
    text = f"亲，这款{product.title}的尺码：{'；'.join(rows)}"
    if fit:
        text += f"（{FIT[fit]}版型）"
    return _reply(f"sizing-chart-{_slug(product.id)}", text + f"。您发我{_read_by(chart)}，我帮您对一下～", point_id, "size", "size")


def chart_row(chart: SizeChart, size: str | None) -> SizeRow | None:
    """The chart's row of a size as the customer named it ("27码", "m", "XL号"), or None."""
    if not size:
        return None
    wanted = re.sub(r"[码號号\s]", "", size).upper()
    return next((row for row in chart.rows if row.size.upper() == wanted), None)


# The measures a question can name ("L的胸围多少", "27码腰多大"), as the chart's columns call them.
_MEASURE_WORDS = {
    "bust": re.compile(r"胸围"), "waist": re.compile(r"腰围|腰多[大粗宽]"), "hip": re.compile(r"臀围|屁股"),
    "height": re.compile(r"身高|多高"), "weight": re.compile(r"体重|多重|多少斤"), "foot": re.compile(r"脚长"),
    "length": re.compile(r"衣长|裤长|裙长|多长"), "sleeve": re.compile(r"袖长|袖子"), "shoulder": re.compile(r"肩宽|肩膀"),
}
_GARMENT_WORDS = {"bust": "胸围", "waist": "腰围", "hip": "臀围", **_LENGTHS}


def asked_measures(text: str) -> set[str]:
    """The chart measures a question names."""
    return {measure for measure, pattern in _MEASURE_WORDS.items() if pattern.search(text)}


# A question how two sizes differ ("M和L差多少", "27和28区别大吗").
_COMPARES = re.compile(r"差多少|差多大|差几|相差|差别|区别|差距|大多少|小多少|长多少|有什么不同|有啥不同|哪里不一样|不一样在哪")


def _named_sizes(chart: SizeChart, text: str) -> list[SizeRow]:
    """The chart's rows whose sizes the text names ("m和L", "27跟28"), in the chart's order."""
    return [
        row for row in chart.rows
        if re.search(rf"(?<![A-Za-z0-9.]){re.escape(row.size)}(?![A-Za-z0-9.]|\s?(?:cm|厘米|公分|斤|kg|公斤))", text, re.IGNORECASE)
    ]


def compare_answer(product: Product, chart: SizeChart, text: str, point_id: str) -> StandardReply | None:
    """How two sizes the customer compares differ: each one's garment measures and how much bigger the larger is
    (or, without garment measures, the body each fits). None unless the text names two of the chart's sizes and
    asks how they differ."""
    rows = _named_sizes(chart, text)
    if len(rows) != 2 or not _COMPARES.search(text):
        return None
    words = {**_GARMENT_WORDS, "length": _length_word(product)}
    garment = [m for m in words if all(m in row.values for row in rows)]
    if garment:
        said = [f"{row.size}码" + "、".join(f"{words[m]}{row.values[m]:g}cm" for m in garment) for row in rows]
        small, large = rows
        gaps = [(words[m], large.values[m] - small.values[m]) for m in garment if large.values[m] != small.values[m]]
        more = "、".join(f"{word}{'长' if word.endswith('长') else '大'}{gap:g}cm" for word, gap in gaps if gap > 0)
        if more:
            said.append(f"{large.size}码{more}")
    else:
        said = [f"{row.size}码适合" + "、".join(parts) for row in rows if (parts := _body_parts(row, "cm"))]
        if len(said) != 2:
            return None
    return _reply(f"sizing-compare-{_slug(product.id)}", f"亲，这款{product.title}{'，'.join(said)}～", point_id, "size", "size")


def row_answer(product: Product, chart: SizeChart, size: str | None, point_id: str, text: str = "") -> StandardReply | None:
    """What one size of the chart fits (its body ranges), and the garment's own measures, for a customer asking
    about that size ("26码腰围多少", then "27呢"), then the chart's question for the measurements. None when the
    chart has no such size, or has none of the measures the question names ("M码胸围多少" on a chart of heights)."""
    row = chart_row(chart, size)
    if row is None:
        return None
    named = asked_measures(text)
    if named and not named & (set(row.ranges) | set(row.values)):
        return None
    fits = _body_parts(row, "cm")
    words = {**_GARMENT_WORDS, "length": _length_word(product)}
    garment = [f"{words[m]}{v:g}cm" for m, v in row.values.items() if m in words]
    said = []
    if fits:
        said.append("适合" + "、".join(fits))
    if "foot" in row.values:
        said.append(f"对应脚长{row.values['foot']:g}cm")
    if garment:
        said.append("衣服本身" + "、".join(garment))
    if not said:
        return None
    reply = f"亲，这款{product.title}{row.size}码{'，'.join(said)}。您发我{_read_by(chart)}，我帮您对一下～"
    return _reply(f"sizing-row-{_slug(product.id)}", reply, point_id, "size", "size")
