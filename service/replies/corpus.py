"""The standard replies (标准话术): validated on load, with their template variables."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field

from intents.labels import INTENTS, PSYCHOLOGY
from intents.normalize import normalize


STAGES = ("售前", "售中", "售后", "通用")
# Etiquette categories of a reply, with the name an agent sees.
CATEGORY_LABELS = {
    "opening": "开场", "answer": "解答", "reassurance": "打消顾虑", "waiting": "请稍等", "cannot_answer_now": "稍后答复",
    "apology": "道歉", "empathy": "共情", "solution": "解决方案", "escalation": "升级", "follow_up": "跟进",
    "thanks": "感谢", "closing": "结束", "holding": "澄清",
}
CATEGORIES = tuple(CATEGORY_LABELS)
SEVERITIES = ("ordinary", "serious")
# Template variables a reply may use, with the label an agent sees when one without a fallback is
# missing (so a raw {placeholder} never reaches a customer). From the conversation: what the request's
# `variables` give, else what was read from the messages (slots).
CONVERSATION_VARIABLES = {
    "nickname": "昵称", "order_id": "订单号", "courier": "快递公司", "tracking_no": "运单号", "shop_name": "店铺名",
    "size": "尺码", "colour": "颜色", "quantity": "数量", "amount": "金额", "date": "日期", "product": "商品名",
    "usual_size": "平时尺码",  # the size the customer says they usually wear ("平时穿M"), not the size asked about
}
# From the shop's profile: facts that differ between shops, never written as plain text in a reply.
SHOP_FACTS = {
    "ship_within": "发货时效", "cutoff_time": "截单时间", "delivery_time": "到货时效", "default_courier": "默认快递",
    "couriers": "可发快递", "extra_courier": "加价快递", "extra_courier_fee": "加价费用", "free_shipping": "包邮规则",
    "remote_shipping": "偏远地区运费", "overseas_shipping": "港澳台及海外配送", "return_window": "退货期限", "exchange_window": "换货期限",
    "return_shipping": "退货运费规则", "freight_insurance": "运费险", "warranty": "保修", "invoice_types": "发票类型",
    "invoice_timing": "开票时间", "working_hours": "客服时间", "price_protection": "价保规则", "gift_policy": "赠品规则",
    "refund_timing": "退款时效", "return_address": "退货地址", "member_policy": "会员权益",
}
VARIABLES = {**CONVERSATION_VARIABLES, **SHOP_FACTS}

_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_SLOT = re.compile(r"\{([a-z_]+)(?:\|([^{}|]*))?\}")
_REQUIRED = ("id", "text", "intents", "stage", "category")
_OPTIONAL = ("psychology", "severity", "triggers", "goods")
MAX_GOODS, MAX_GOODS_CHARS = 30, 12


class CorpusError(ValueError):
    """A reply record is invalid; the message names file, line and reason."""


@dataclass(frozen=True)
class StandardReply:
    """One ready-to-send reply of the corpus or of the shop, with what it is for."""

    id: str
    text: str
    intents: tuple[str, ...]
    stage: str
    category: str
    psychology: tuple[str, ...] = ()
    severity: str | None = None
    triggers: tuple[str, ...] = ()
    source: str = ""  # "file:line" for the corpus, "shop" for additions
    knowledge_point: str | None = None  # the point the reply answers
    presumes: tuple[str, ...] = ()  # what must already be true for it to be right
    # The goods it is about, in words ("纯银", "不粘锅"): offered only in a conversation naming one of them (its turns,
    # the product's title, aliases or category). Empty: any goods.
    goods: tuple[str, ...] = ()

    def fits_goods(self, about: str) -> bool:
        """Whether the reply suits a conversation whose words (lower-cased, simplified) are `about`."""
        return not self.goods or any(word in about for word in self.goods)

    @property
    def slots(self) -> list[tuple[str, str | None]]:
        """The template variables in the text, in order: (name, fallback or None)."""
        return [(m.group(1), m.group(2)) for m in _SLOT.finditer(self.text)]

    def as_dict(self) -> dict:
        return {
            "id": self.id,
            "text": self.text,
            "intents": list(self.intents),
            "stage": self.stage,
            "category": self.category,
            "psychology": list(self.psychology),
            "severity": self.severity,
            "triggers": list(self.triggers),
            "knowledge_point": self.knowledge_point,
            "presumes": list(self.presumes),
            "goods": list(self.goods),
        }


def check_template(text: str) -> str | None:
    """The problem with a reply text's template syntax, or None when it is sound."""
    depth = 0
    for ch in text:
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth < 0 or depth > 1:
            return "unbalanced braces"
    if depth:
        return "unbalanced braces"
    if _SLOT.sub("", text).count("{"):
        return "malformed placeholder (use {name} or {name|fallback})"
    for match in _SLOT.finditer(text):
        if match.group(1) not in VARIABLES:
            return f"unknown variable {match.group(1)!r} (known: {', '.join(VARIABLES)})"
    return None


def fill(text: str, variables: dict[str, str]) -> tuple[str, list[str]]:
    """Fill template variables: a given value, else the fallback, else a visible 【label】
    for the agent to replace. Returns the text and the names that still need a value."""
    missing: list[str] = []

    def slot(match: re.Match[str]) -> str:
        name, fallback = match.group(1), match.group(2)
        value = (variables.get(name) or "").strip()
        if value:
            return value
        if fallback is not None:
            return fallback
        if name not in missing:
            missing.append(name)
        return f"【{VARIABLES.get(name, name)}】"

    return _SLOT.sub(slot, text), missing


def parse_reply(record: object, where: str, source: str) -> StandardReply:
    """Validate one record (a decoded JSON object); raise CorpusError naming `where`."""
    if not isinstance(record, dict):
        raise CorpusError(f"{where}: expected a JSON object")
    missing = [key for key in _REQUIRED if key not in record]
    if missing:
        raise CorpusError(f"{where}: missing field {missing[0]!r}")
    unknown = sorted(set(record) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:
        raise CorpusError(f"{where}: unknown field {unknown[0]!r}")

    def strings(key: str, allowed: tuple[str, ...] | None, required: bool) -> tuple[str, ...]:
        value = record.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise CorpusError(f"{where}: {key} must be a list of non-empty strings")
        if required and not value:
            raise CorpusError(f"{where}: {key} must not be empty")
        for v in value:
            if allowed is not None and v not in allowed:
                kind = {"intents": "intent id", "psychology": "psychology id"}.get(key, key)
                raise CorpusError(f"{where}: unknown {kind} {v!r}")
        return tuple(value)

    rid, text = record["id"], record["text"]
    if not isinstance(rid, str) or not _ID.match(rid):
        raise CorpusError(f"{where}: id must be lowercase letters, digits and '-', got {rid!r}")
    if not isinstance(text, str) or not 4 <= len(text.strip()) <= 300:
        raise CorpusError(f"{where}: text must be a string of 4–300 characters")
    problem = check_template(text)
    if problem:
        raise CorpusError(f"{where}: {problem} in text {text!r}")
    if record["stage"] not in STAGES:
        raise CorpusError(f"{where}: unknown stage {record['stage']!r} (known: {', '.join(STAGES)})")
    if record["category"] not in CATEGORIES:
        raise CorpusError(f"{where}: unknown category {record['category']!r} (known: {', '.join(CATEGORIES)})")
    severity = record.get("severity")
    if severity is not None and severity not in SEVERITIES:
        raise CorpusError(f"{where}: unknown severity {severity!r} (known: {', '.join(SEVERITIES)})")
    triggers = strings("triggers", None, False)
    if len(triggers) > 5 or any(len(t) > 200 for t in triggers):
        raise CorpusError(f"{where}: at most 5 triggers of up to 200 characters")
    goods = goods_words(record.get("goods", []), where)
    return StandardReply(
        id=rid,
        text=text.strip(),
        intents=strings("intents", INTENTS, True),
        stage=record["stage"],
        category=record["category"],
        psychology=strings("psychology", PSYCHOLOGY, False),
        severity=severity,
        triggers=triggers,
        source=source,
        goods=goods,
    )


def goods_words(value: object, where: str) -> tuple[str, ...]:
    """A reply's `goods`, validated (a list of up to 30 words of 1–12 characters), in the form a conversation's words
    are compared in: simplified, half-width, lower-cased."""
    # Checked as compared: a control character normalises to nothing, a ligature ("ﬀ") to two letters.
    words = [normalize(v).lower() if isinstance(v, str) else "" for v in value] if isinstance(value, list) else [""]
    if not all(words):
        raise CorpusError(f"{where}: goods must be a list of non-empty strings")
    if len(words) > MAX_GOODS or any(len(w) > MAX_GOODS_CHARS for w in words):
        raise CorpusError(f"{where}: at most {MAX_GOODS} goods of up to {MAX_GOODS_CHARS} characters each")
    return tuple(dict.fromkeys(words))


@dataclass(frozen=True)
class ReplyCorpus:
    """All replies by id, corpus first, then shop additions. Never changed once built: adding a
    reply makes a new corpus (`with_reply`), so a reader never sees one half-updated."""

    replies: dict[str, StandardReply] = field(default_factory=dict)

    @classmethod
    def of(cls, replies: list[StandardReply]) -> "ReplyCorpus":
        corpus: dict[str, StandardReply] = {}
        for reply in replies:
            if reply.id in corpus:
                raise CorpusError(f"{reply.source}: duplicate id {reply.id!r} (first at {corpus[reply.id].source})")
            corpus[reply.id] = reply
        return cls(corpus)

    def __len__(self) -> int:
        return len(self.replies)

    def __iter__(self):
        return iter(self.replies.values())

    def with_reply(self, reply: StandardReply) -> "ReplyCorpus":
        return ReplyCorpus.of([*self.replies.values(), reply])

    @property
    def hash(self) -> str:
        """Fingerprint of the texts and triggers (what the embeddings depend on)."""
        digest = hashlib.sha256()
        for reply in self:
            digest.update(json.dumps([reply.id, reply.text, list(reply.triggers)], ensure_ascii=False).encode())
        return digest.hexdigest()
