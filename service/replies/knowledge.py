"""Knowledge points (知识点): one specific customer question or situation each, with the ways customers
put it (phrasings) and the replies an agent can send for it. Read from `scripts_corpus/knowledge/*.toml`
and validated on load: a bad file stops start-up with its file, line and reason.

Format and house style: `scripts_corpus/knowledge/README.md`.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass

from intents.labels import INTENTS, PSYCHOLOGY
from intents.resources import Source, children, packaged
from service.replies.corpus import CATEGORIES, SEVERITIES, CorpusError, StandardReply, check_template, goods_words

KNOWLEDGE_DIR = packaged("scripts_corpus", "knowledge")
STAGES = ("售前", "售中", "售后", "通用")
MIN_PHRASINGS = 15
MAX_REPLIES = 4
# What a reply may take for granted, and what the agent must check when the conversation has not shown it.
PRESUMES = {
    "has_order": "先确认客户已经下单付款",
    "not_shipped": "先确认订单还没有发货",
    "shipped": "先确认订单已经发货",
    "out_for_delivery": "先确认物流显示包裹正在派送",
    "delivered": "先确认客户已经收到货",
    "in_stock": "先确认这款（颜色、尺码）有货",
    "out_of_stock": "先确认这款（颜色、尺码）确实缺货",
    "return_sent": "先确认客户已经寄回退货",
    "return_received": "先确认仓库已经收到退货",
    "refund_approved": "先确认退换货申请已经通过",
    "refund_done": "先确认退款已经退出",
    "shop_fault": "先核实确实是我们的差错",
    "agreed": "先确认已经和客户商定",
    "offered": "先确认已经给客户报过补偿金额",
    "action_done": "先确认这件事已经办好",
    "not_tried": "先确认客户还没自己找过、试过",
    "no_order": "先确认客户还没下单",
    "in_time": "先确认客户还没等过头",
    "not_presale": "先确认不是预售款",
    "before_shipping": "先确认订单还没有发货",
    "before_delivery": "先确认客户还没收到货",
    "order_given": "先确认客户已经给了订单号",
    "photo_given": "先确认客户已经发了图片",
    "address_given": "先确认客户已经给了新地址，还没改",
    "tax_id_given": "先确认客户已经给了税号",
    "phone_given": "先确认客户已经给了新的电话号码",
    "problem_given": "先确认客户已经说了东西哪里有问题",
    "payout_given": "先确认客户说了赔了多少、嫌少",
    "wrong_entry_given": "先确认客户说了哪里填错了",
    "not_refused": "先确认还没跟客户说过价格不能再动",
    "price_refused": "先确认已经跟客户说过价格不能再动",
    "courier_listed": "先确认客户要的快递是我们能发的",
    "courier_unlisted": "先确认客户要的快递我们确实发不了",
    "courier_not_listed": "先确认客户要的快递不在我们免费能发的快递里",
    "special_vat": "先确认我们能开增值税专用发票",
    "no_special_vat": "先确认我们开不了增值税专用发票",
}
# Presumed unless the conversation says otherwise (no check is asked for when nobody said): that the customer
# has not already done what a reply tells them to do themselves (look at the 驿站, find the button, re-pair), and
# that they have not ordered yet, for a reply telling them to (a shopper asking is the usual case; "直接拍下就可以"
# to a customer changing an order they placed is wrong), and that they have not waited past the usual time, for a
# reply stating it ("付款后48小时内发货" to "已经等了一周了" answers nothing), and that the item is no presale one,
# for a reply stating the usual or same-day shipping (a presale item ships on its date); and that the parcel has not
# left, for a reply that only makes sense before it does without saying it has not ("还没发货的话马上帮您改" once the
# agent said "已经发出啦"), or has not arrived, for one that only makes sense while it is on the way ("路上没法再改码，收到后
# 联系我换" once the customer said "收到了").
# And that the courier the customer asks for is not one the shop sends with at no extra cost, for a reply offering
# its extra-cost courier for it ("您想发圆通的话，我们加急走的是顺丰" to a shop sending with 圆通 for free).
ASSUMED = frozenset({
    "not_tried", "no_order", "in_time", "not_presale", "before_shipping", "before_delivery", "not_refused", "courier_not_listed",
})
# The customer's situation, once the conversation shows it: the shop's own mistake, a return sent or received, a
# refund approved or paid, a parcel out for delivery, an amount offered or agreed, a photo or a tax number sent
# ("照片我看到了…" over the answer asking for one: a blind round rated asking again the commonest fault after
# answering the wrong question). A reply written for it answers
# this conversation more closely than one written for any (ranking's `settled`).
SITUATION = frozenset({
    "shop_fault", "return_sent", "return_received", "refund_approved", "refund_done", "out_for_delivery", "offered", "agreed",
    "photo_given", "tax_id_given", "phone_given", "address_given",
})
# The group of points for messages outside what the shop's service answers (`outside.toml`): learnt like the
# others, but matching one means no point fits (the API lists none), and its replies say so politely.
OUTSIDE_GROUP = "outside"
_POINT_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*\.[a-z0-9]+(?:-[a-z0-9]+)*$")
_REPLY_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_POINT_FIELDS = {"id", "label", "intents", "stage", "scope", "phrasings", "reply"}
_REPLY_FIELDS = {"id", "text", "category", "presumes", "psychology", "severity", "goods"}


class KnowledgeError(CorpusError):
    """A knowledge-point file has a record that cannot be used; the message names file, line and reason."""


@dataclass(frozen=True)
class KnowledgePoint:
    id: str
    label: str
    intents: tuple[str, ...]  # main first
    stage: str
    scope: str
    phrasings: tuple[str, ...]
    replies: tuple[StandardReply, ...]
    source: str = "corpus"  # corpus | shop | product


def is_outside(point_id: str) -> bool:
    """Whether a point (or a model class) is one of the `outside.*` points."""
    return point_id.startswith(OUTSIDE_GROUP + ".")


class _Lines:
    """Where things are in a TOML file, for error messages (tomllib keeps no positions)."""

    def __init__(self, text: str):
        self.lines = text.splitlines()

    def find(self, needle: str, start: int = 0) -> int:
        """1-based line of the first line from `start` containing `needle` (a TOML string as written), else `start`+1."""
        for i in range(start, len(self.lines)):
            if needle in self.lines[i]:
                return i + 1
        return start + 1

    def headers(self, header: str) -> list[int]:
        return [i for i, line in enumerate(self.lines) if line.strip() == header]


def _strings(value, where: str, name: str, allowed=None, required: bool = True) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise KnowledgeError(f"{where}: {name} must be a list of non-empty strings")
    if required and not value:
        raise KnowledgeError(f"{where}: {name} must not be empty")
    for v in value:
        if allowed is not None and v not in allowed:
            raise KnowledgeError(f"{where}: unknown {name[:-1] if name.endswith('s') else name} {v!r} (known: {', '.join(allowed)})")
    return tuple(v.strip() for v in value)


def parse_reply(record: object, point: KnowledgePoint | dict, where: str, source: str) -> StandardReply:
    """One reply of a point; intents and stage are the point's."""
    if not isinstance(record, dict):
        raise KnowledgeError(f"{where}: a reply must be a table")
    unknown = sorted(set(record) - _REPLY_FIELDS)
    if unknown:
        raise KnowledgeError(f"{where}: unknown reply field {unknown[0]!r}")
    for key in ("id", "text", "category"):
        if key not in record:
            raise KnowledgeError(f"{where}: reply without {key!r}")
    rid, text = record["id"], record["text"]
    if not isinstance(rid, str) or not _REPLY_ID.match(rid):
        raise KnowledgeError(f"{where}: reply id must be lowercase letters, digits and '-', got {rid!r}")
    if not isinstance(text, str) or not 4 <= len(text.strip()) <= 300:
        raise KnowledgeError(f"{where}: reply {rid}: text must be a string of 4–300 characters")
    problem = check_template(text)
    if problem:
        raise KnowledgeError(f"{where}: reply {rid}: {problem} in text {text!r}")
    if record["category"] not in CATEGORIES:
        raise KnowledgeError(f"{where}: reply {rid}: unknown category {record['category']!r} (known: {', '.join(CATEGORIES)})")
    severity = record.get("severity")
    if severity is not None and severity not in SEVERITIES:
        raise KnowledgeError(f"{where}: reply {rid}: unknown severity {severity!r} (known: {', '.join(SEVERITIES)})")
    try:
        goods = goods_words(record.get("goods", []), f"{where}: reply {rid}")
    except CorpusError as e:
        raise KnowledgeError(str(e)) from None
    get = point.get if isinstance(point, dict) else lambda k: getattr(point, k)
    return StandardReply(
        id=rid,
        text=text.strip(),
        intents=tuple(get("intents")),
        stage=get("stage"),
        category=record["category"],
        psychology=_strings(record.get("psychology", []), f"{where}: reply {rid}", "psychology", PSYCHOLOGY, required=False),
        severity=severity,
        source=source,
        knowledge_point=get("id"),
        presumes=_strings(record.get("presumes", []), f"{where}: reply {rid}", "presumes", tuple(PRESUMES), required=False),
        goods=goods,
    )


def parse_point(record: object, where: str, source: str = "corpus", min_phrasings: int = MIN_PHRASINGS, lines=None) -> KnowledgePoint:
    """Validate one point (a decoded TOML table); raise KnowledgeError naming `where` (and the line, with `lines`)."""
    if not isinstance(record, dict):
        raise KnowledgeError(f"{where}: a point must be a table")
    pid = record.get("id")
    if not isinstance(pid, str) or not _POINT_ID.match(pid):
        raise KnowledgeError(f"{where}: point id must be '<group>.<name>' in lowercase letters, digits and '-', got {pid!r}")
    unknown = sorted(set(record) - _POINT_FIELDS)
    if unknown:
        raise KnowledgeError(f"{where}: {pid}: unknown field {unknown[0]!r}")
    for key in ("label", "intents", "stage", "scope", "phrasings", "reply"):
        if key not in record:
            raise KnowledgeError(f"{where}: {pid}: missing field {key!r}")
    label, scope = record["label"], record["scope"]
    if not isinstance(label, str) or not 2 <= len(label.strip()) <= 30:
        raise KnowledgeError(f"{where}: {pid}: label must be 2–30 characters")
    if not isinstance(scope, str) or not scope.strip():
        raise KnowledgeError(f"{where}: {pid}: scope must be a non-empty string")
    intents = _strings(record["intents"], f"{where}: {pid}", "intents", INTENTS)
    if len(intents) > 3:
        raise KnowledgeError(f"{where}: {pid}: at most 3 intents")
    if record["stage"] not in STAGES:
        raise KnowledgeError(f"{where}: {pid}: unknown stage {record['stage']!r} (known: {', '.join(STAGES)})")
    phrasings = _strings(record["phrasings"], f"{where}: {pid}", "phrasings")
    if len(phrasings) < min_phrasings:
        raise KnowledgeError(f"{where}: {pid}: {len(phrasings)} phrasings, at least {min_phrasings} needed")
    seen: set[str] = set()
    for text in phrasings:
        at = f"{where.rsplit(':', 1)[0]}:{lines(text)}" if lines else where
        if len(text) > 200:
            raise KnowledgeError(f"{at}: {pid}: a phrasing is longer than 200 characters")
        if text in seen:
            raise KnowledgeError(f"{at}: {pid}: phrasing {text!r} repeated")
        seen.add(text)
    replies_raw = record["reply"]
    if not isinstance(replies_raw, list) or not 1 <= len(replies_raw) <= MAX_REPLIES:
        raise KnowledgeError(f"{where}: {pid}: 1–{MAX_REPLIES} replies needed")
    point = {"id": pid, "intents": intents, "stage": record["stage"]}
    replies = []
    for raw in replies_raw:
        rid = raw.get("id") if isinstance(raw, dict) else None
        at = f"{where.rsplit(':', 1)[0]}:{lines(rid)}" if lines and isinstance(rid, str) else where
        replies.append(parse_reply(raw, point, at, source))
    return KnowledgePoint(pid, label.strip(), intents, record["stage"], scope.strip(), phrasings, tuple(replies), source)


def read_points(source: Source) -> list[KnowledgePoint]:
    """The points of one file."""
    text = source.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = re.search(r"line (\d+)", str(exc))
        raise KnowledgeError(f"{source}:{line.group(1) if line else 1}: not valid TOML ({exc})") from None
    unknown = sorted(set(data) - {"point"})
    if unknown:
        raise KnowledgeError(f"{source}:1: unknown table {unknown[0]!r} (a file holds [[point]] tables)")
    where = _Lines(text)
    headers = where.headers("[[point]]")
    points = []
    for n, record in enumerate(data.get("point", [])):
        start = headers[n] if n < len(headers) else 0
        pid = record.get("id") if isinstance(record, dict) else None
        line = where.find(f'"{pid}"', start) if isinstance(pid, str) else start + 1
        points.append(parse_point(record, f"{source}:{line}", lines=lambda needle, s=start: where.find(f'"{needle}"', s)))
    return points


def load_knowledge(source: Source = KNOWLEDGE_DIR) -> list[KnowledgePoint]:
    """Every point of every `*.toml` in a folder (or one file), ids unique across all of them."""
    if not source.is_file() and not source.is_dir():
        raise KnowledgeError(f"{source}: no such file or folder")
    files = children(source, ".toml")
    if not files:
        raise KnowledgeError(f"{source}: no knowledge files (*.toml)")
    points: list[KnowledgePoint] = []
    seen_points: dict[str, str] = {}
    seen_replies: dict[str, str] = {}
    for path in files:
        for point in read_points(path):
            if point.id in seen_points:
                raise KnowledgeError(f"{path}: point id {point.id!r} repeated (first in {seen_points[point.id]})")
            seen_points[point.id] = str(path)
            for reply in point.replies:
                if reply.id in seen_replies:
                    raise KnowledgeError(f"{path}: reply id {reply.id!r} repeated (first in {seen_replies[reply.id]})")
                seen_replies[reply.id] = point.id
            points.append(point)
    if not points:
        raise KnowledgeError(f"{source}: no knowledge points")
    return points


def read_unmatched(source: Source = KNOWLEDGE_DIR / "unmatched.tsv") -> dict[str, list[str]]:
    """Messages no point should answer on their own, by kind: `followup` (they lean on the conversation)
    and `offtopic` (outside shop service, yet what a shop selling food, medicine, pets or phones might be
    asked; the clearly outside ones are the `outside.*` points). The matcher learns "none" from them."""
    kinds: dict[str, list[str]] = {"followup": [], "offtopic": []}
    for lineno, raw in enumerate(source.read_text(encoding="utf-8").splitlines(), 1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        parts = raw.split("\t")
        if len(parts) != 2 or parts[0] not in kinds or not parts[1].strip():
            raise KnowledgeError(f"{source}:{lineno}: expected '<followup|offtopic><TAB><message>'")
        kinds[parts[0]].append(parts[1].strip())
    return kinds
