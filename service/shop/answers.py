"""Replies built from the shop's own knowledge: a product's attribute answering a product question, the size
the size chart gives for the customer's measurements, the chart itself.

Each is a reply like the corpus's (so it is offered, audited and credited the same way) with a stable id
(`catalogue-<product>-<attribute>`, `sizing-<product>`, `sizing-chart-<product>`) and source `product` or `size`. The texts state only
what the shop's data says; what it does not say is not claimed.
"""

from __future__ import annotations

import re

from service.replies.corpus import StandardReply
from service.shop.products import ATTRIBUTES, GENERATED_ID_PREFIXES, Product
from service.shop.sizes import FIT, LABELS, SizeAdvice, SizeChart

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
}
# The point asking for the size chart: answered with the chart when no measurements are known.
CHART_POINT = "size.chart"
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


def _attribute_text(product: Product, attribute: str, slots: dict[str, str]) -> str | None:
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
            return f"亲，这款{title}现在暂时缺货，预售的发货时间是{presale}，介意等的话我帮您留意补货～"
        return f"亲，这款{title}现在暂时缺货，补货时间我这边还没有确切消息，我帮您问一下仓库再回复您～"
    if attribute == "presale_date":
        return f"亲，这款{title}是预售的，发货时间是{value}，我这边会按顺序给您安排～"
    if attribute == "fit":
        return f"亲，{_FIT_NOTE[value]}～"
    if attribute == "features":
        return f"亲，这款{title}的特点是：{'、'.join(value)}～"
    label = ATTRIBUTES[attribute][1]
    if attribute == "material":
        return f"亲，这款{title}的材质是{value}哦～"
    return f"亲，这款{title}的{label}：{value}～"


def product_answers(product: Product, point_id: str, slots: dict[str, str]) -> list[StandardReply]:
    """The reply a product attribute gives to a point's question (the first attribute the product has)."""
    for attribute in ANSWERS.get(point_id, ()):
        text = _attribute_text(product, attribute, slots)
        if text is not None:
            intent = "size" if point_id.startswith("size.") else "product"
            return [_reply(f"catalogue-{_slug(product.id)}-{attribute.replace('_', '-')}", text, point_id, intent, "product")]
    return []


_ASK = {"height_cm": "身高", "weight_kg": "体重", "bust_cm": "胸围", "waist_cm": "腰围", "hip_cm": "臀围", "foot_cm": "脚长"}


def size_answer(product: Product, advice: SizeAdvice, point_id: str) -> StandardReply:
    """The size the chart gives, said as the reply: the measurements it rests on, the size or the two sizes
    and which way the fit leans, and a question only for what is missing."""
    text = f"亲，{advice.reason}"
    if advice.missing:
        asked = "和".join(_ASK[k] for k in advice.missing[:2])
        text += f"；方便再说下您的{asked}吗，我帮您看得更准"
    return _reply(f"sizing-{_slug(product.id)}", text + "～", point_id, "size", "size")


def chart_answer(product: Product, chart: SizeChart, point_id: str) -> StandardReply:
    """The chart in one message (body ranges in 斤 for weight), then a question for the measurements."""
    rows = []
    for row in chart.rows:
        parts = []
        for measure, (lo, hi) in row.ranges.items():
            key = f"{measure}_cm" if measure != "weight" else "weight_kg"
            if key == "weight_kg":
                parts.append(f"体重{lo * 2:g}-{hi * 2:g}斤")
            elif key in LABELS:
                parts.append(f"{LABELS[key]}{lo:g}-{hi:g}")
        if "foot" in row.values:
            parts.append(f"脚长{row.values['foot']:g}cm")
        if parts:
            rows.append(f"{row.size}码 {' '.join(parts)}")
    fit = product.attributes.get("fit")
    text = f"亲，这款{product.title}的尺码：{'；'.join(rows)}"
    if fit:
        text += f"（{FIT[fit]}版型）"
    return _reply(f"sizing-chart-{_slug(product.id)}", text + "。您发我身高体重，我帮您对一下～", point_id, "size", "size")
