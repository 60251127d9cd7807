"""The reply service: which replies to offer for a read message in its conversation, in what order, filled in.

It matches the message to knowledge points (`matcher`), reads what the conversation has established
(`intents.state`) and the values it named (`intents.slots`), and offers the best replies of the matched
points: an apology or empathy reply first for an angry customer (and for an upset one with a complaint no
point fits well); when no point fits, a clarifying question about the likely topic first (a handoff), or, for
a message outside the shop's service (homework, a message meant for someone else, the customer's platform
account, another shop's order), that outside point's polite answer; never a reply whose presumption the
conversation contradicts, nor one already sent unless the customer asks again. The API and the CLI's evaluation both ask it.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np

from intents.analyzer import Analyzer, Reading, Turn
from intents.asks import split_asks
from intents.classifier import EMBED_MAX_CHARS, make_documents
from intents.measurements import conversation_measurements
from intents.encoder import EncoderError, NullEncoder, load_ranking_encoder
from intents.labels import INTENTS
from intents.normalize import normalize
from intents.resources import Source, packaged
from intents.slots import asked_size, conversation_slots, customer_cannot_give, customer_gave, read_slots, waybill_courier
from intents.state import OPPOSITES, ConversationState, read_state
from service.errors import Conflict, InvalidReply, NotFound, Unprocessable
from service.replies.corpus import CONVERSATION_VARIABLES, SHOP_FACTS, CorpusError, ReplyCorpus, StandardReply, fill, parse_reply as parse_record
from service.replies.guidance import Advice
from service.replies.index import ReplyIndex, ReplyLibrary, attach
from service.replies.knowledge import ASSUMED, KNOWLEDGE_DIR, PRESUMES, SITUATION, KnowledgePoint, load_knowledge
from service.replies.joining import ACTS, APOLOGISES, joined_candidate, soothed_candidate
from service.replies.matcher import FIT_STYLE, Ask, KnowledgeMatcher, Match, MatchWeights, PointMatch
from service.replies.priors import AdoptionPriors
from service.replies.ranking import ANSWER_CATEGORIES, FEELING_CATEGORIES, Candidate, RankingWeights, adoption_term, category_fit, pick
from service.shop.answers import (
    ANSWERS, BRA_POINT, BRA_PREFIX, CHART_POINT, LENGTH_POINT, PREFIXES, ROW_POINTS, SHOES_POINT, SIZE_ADVICE_POINTS,
    WHOLE_CHART, asked_measures, bra_answer, chart_answer, compare_answer, general_size_answer, length_answer, product_answers,
    row_answer, size_answer,
)
from service.shop.profile import overseas_part
from service.shop.products import JOINED_ID_PREFIX, WORN_WITH, Product
from service.shop.shop import Shop, garment_kinds, product_kinds
from service.shop.sizes import SizeAdvice, advise, fit_wish

log = logging.getLogger("huashu")

# Goods named as what the product is worn with ("我想扎进裤子", "里面套个毛衣"): not what the message asks about.
_WORN_WITH = re.compile(WORN_WITH)
# Two of the chart's sizes compared are answered for the point of a question between two sizes, also when the
# message reads as comparing two items ("27和28区别大吗").
BETWEEN_POINT = "size.between-sizes"
COMPARE_POINT = "product.compare"

CLARIFY_FILE = packaged("scripts_corpus", "clarify.toml")
# Where a feeling reply comes from when no matched point has one (an angry message that matched nothing).
FEELING_POINT = "complaint.venting"
# A shop reply's point when it names one, and the replies a point may hold, are checked on the record.
SHOP = "shop"
# Where a reply comes from, as the API says: the corpus, the shop's own replies and product points, a product's
# attributes, the size chart.
GENERATED = ("product", "size")


@dataclass(frozen=True)
class OfferedReply:
    """A reply as offered: filled in, scored, with what the agent must still fill or check."""

    id: str
    text: str
    score: float
    intent: str
    category: str
    missing: tuple[str, ...]
    why: str
    knowledge_point: str | None = None
    source: str = "corpus"  # corpus | shop | product | size
    presumes: tuple[str, ...] = ()
    needs_check: str | None = None
    parts: tuple[str, ...] = ()  # a joined answer to a mixed ask: the replies it joins, in order

    @property
    def needs_edit(self) -> bool:
        return bool(self.missing)


@dataclass(frozen=True)
class Offer:
    replies: list[OfferedReply]
    handoff: bool  # nothing fits well: the list opens with a clarifying question
    match: Match
    slots: dict[str, str] = field(default_factory=dict)
    measurements: dict[str, float | int | str] = field(default_factory=dict)
    size_advice: SizeAdvice | None = None
    product: Product | None = None
    outside: PointMatch | None = None  # the list opens with this `outside.*` point's polite answer


@dataclass(frozen=True)
class Conversation:
    """What the request says about the conversation beyond the reading."""

    history: Sequence[Turn] = ()
    variables: Mapping[str, str] = field(default_factory=dict)
    sent: frozenset[str] = frozenset()  # reply ids already sent in this conversation
    shop: Shop = field(default_factory=Shop)  # profile facts, products, size charts
    product_id: str | None = None  # the item the customer is looking at, as the chat client knows it


def load_clarifiers(source: Source = CLARIFY_FILE) -> dict[str, StandardReply]:
    """One clarifying reply per intent (`scripts_corpus/clarify.toml`); a missing or bad one stops start-up."""
    try:
        data = tomllib.loads(source.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise CorpusError(f"{source}: cannot be read ({exc})") from None
    clarifiers = {}
    for intent in INTENTS:
        record = data.get(intent)
        if not isinstance(record, dict) or not isinstance(record.get("text"), str):
            raise CorpusError(f"{source}: [{intent}] needs a text")
        stage = {"refund": "售后", "complaint": "售后", "logistics": "售中"}.get(intent, "售前")
        clarifiers[intent] = parse_record(
            {"id": f"clarify-{intent}", "text": record["text"], "intents": [intent], "stage": stage, "category": "holding"},
            f"{source}: [{intent}]", "corpus",
        )
    return clarifiers


def topic_clarifier(point: KnowledgePoint) -> StandardReply:
    """A clarifying question naming the point's topic, for a point without one of its own."""
    return StandardReply(
        id=f"clarify-{point.id.replace('.', '-')}",
        text=f"{{nickname|亲}}，您是想问「{point.label}」的事吗？方便再说具体一点吗，我马上帮您看~",
        intents=point.intents, stage=point.stage if point.stage != "通用" else "售前", category="holding",
        source="corpus", knowledge_point=point.id,
    )


def load_replies(source: Source = KNOWLEDGE_DIR, shop_replies: Iterable[dict] = ()) -> tuple[list[KnowledgePoint], list[StandardReply]]:
    """The knowledge points and the shop's stored replies, validated (a bad record raises with file and line)."""
    points = load_knowledge(source)
    shop = [parse_shop_reply(record, f"shop reply {record.get('id')!r}") for record in shop_replies]
    return points, shop


def parse_shop_reply(record: dict, where: str) -> StandardReply:
    data = dict(record)
    point = data.pop("knowledge_point", None)
    presumes = data.pop("presumes", [])
    reply = parse_record(data, where, SHOP)
    if reply.id.startswith(PREFIXES):
        raise CorpusError(f"{where}: ids starting with {' or '.join(PREFIXES)} are kept for the replies the service builds")
    if not isinstance(presumes, list) or any(p not in PRESUMES for p in presumes):
        raise CorpusError(f"{where}: presumes must be a list of {', '.join(PRESUMES)}")
    return dataclasses.replace(reply, knowledge_point=point, presumes=tuple(presumes))


def _generated_why(reply: StandardReply) -> str:
    """What a reply built from data rests on, for the agent: the shop's chart or product, or the bra-size rule."""
    if reply.id.startswith(BRA_PREFIX):
        return "按上下胸围差换算的内衣尺码"
    return f"本店数据：{'尺码表' if reply.source == 'size' else '商品信息'}"


def goods_context(texts: Iterable[str], product: Product | None = None) -> str:
    """A conversation's words about its goods, for the replies about some goods only: its turns (`texts`, normalised)
    and the product's title, aliases and category, lower-cased."""
    named = [normalize(t) for t in (product.title, *product.aliases, product.category or "")] if product is not None else []
    return "\n".join([*texts, *named]).lower()


def _without_reply(points: dict[str, KnowledgePoint], reply: StandardReply) -> dict[str, KnowledgePoint]:
    """The points without `reply`; a point of its own (a shop reply naming none) goes with it."""
    point = points[reply.knowledge_point]
    left = tuple(r for r in point.replies if r.id != reply.id)
    rest = {pid: p for pid, p in points.items() if pid != point.id}
    return {**rest, point.id: dataclasses.replace(point, replies=left)} if left or point.source != SHOP else rest


def _leans_on(point: KnowledgePoint) -> set[str]:
    """The order-status facts a point's replies presume, when none of them presumes the opposite (what the
    point is about, in effect: changing the address of a parcel that has or has not left). A reply for before the
    parcel leaves (`before_shipping`, assumed until it has) presumes it has not left, as one presuming `not_shipped`."""
    presumed = {
        _ASSUMED_STATUS.get(fact, fact) for reply in point.replies for fact in reply.presumes
        if _ASSUMED_STATUS.get(fact, fact) in _STATUS_FACTS
    }
    return {fact for fact in presumed if OPPOSITES.get(fact) not in presumed}


# Presumptions that cannot both hold in one reply: the order-status opposites, and the assumed facts against what
# rules them out (nothing ordered yet against an order; before shipping or delivery against shipped or received).
def _contradictions() -> dict[str, set[str]]:
    pairs = [*OPPOSITES.items(), ("no_order", "has_order"), ("no_order", "ordered"), ("before_shipping", "shipped"),
             ("before_shipping", "delivered"), ("before_delivery", "delivered")]
    out: dict[str, set[str]] = {}
    for a, b in pairs:
        out.setdefault(a, set()).add(b)
        out.setdefault(b, set()).add(a)
    return out


_CONTRADICTS = _contradictions()


def _same_words(a: str, b: str, at_least: float = 0.5) -> bool:
    """Two messages in much the same words (character-bigram overlap)."""
    pairs = lambda t: {t[i : i + 2] for i in range(len(t) - 1)}  # noqa: E731
    x, y = pairs(a), pairs(b)
    return bool(x and y) and len(x & y) / len(x | y) >= at_least


# Words by which a reply asks the customer for a value; a reply that asks for one the conversation
# already gave (and does not use it) yields to one that does not ask again.
_ASKS_BODY = r"(?:说|发|告诉我|报|提供|留)[^。，,？?！!]{0,6}身高|身高[^。，,？?]{0,6}(?:多少|多高|是多少)|多高"
ASKS_FOR = {
    name: re.compile(pattern)
    for name, pattern in {
        "order_id": "订单号",
        "tracking_no": "运单号|快递单号",
        "courier": "哪家快递|什么快递",
        "size": "什么尺?码|几码|哪个尺?码",
        "colour": "什么颜色|哪个颜色|哪个色",
        "height_cm": _ASKS_BODY,
        "weight_kg": _ASKS_BODY + r"|体重[^。，,？?]{0,6}(?:多少|多重)",
        # what the customer gives that is no slot (intents.slots.customer_gave)
        "phone": r"(?:发|告诉|提供|报)(?:我|给我)?(?:一下)?(?:您的|你的)?(?:新的?)?(?:联系)?(?:电话|手机号|(?<!单)号码)"
                 r"|(?:电话|手机号|(?<!单)号码)[^。？?！!]{0,6}(?:发我|发给我|告诉我)|留(?:个|一下)?(?:您的)?(?:联系)?(?:电话|手机号|号码)"
                 r"|(?:(?<!单)号码|手机号|电话)是多少",
        "photo": r"(?:照片|图片|截图|视频|图)[^。，,？?！!]{0,8}(?:给我|发我|发给我)"
                 r"|(?:拍|发)(?:张|个|几张|一张|一下)[^。，,？?！!]{0,12}(?:给我|发我|发给我)"
                 r"|(?:发|拍)一下[^。，,？?！!]{0,8}(?:照片|图片|截图|视频)"
                 r"|(?:发|拍)(?:张|个|几张|一张|段|一段)(?:图片?|照片|截图|视频|小视频)",
        "tax_id": r"(?:发|告诉|提供)[^。，,？?！!]{0,8}税号|税号[^。？?！!]{0,10}(?:发我|发给我|告诉我)",
        "address": r"地址[^。？?！!]{0,6}(?:发我|发给我|告诉我)|(?:发|告诉)我[^。，,？?！!]{0,6}地址|确认一下[^。，,？?！!]{0,4}地址",
        "platform": r"(?:哪个|什么|哪家|哪)平台|所在平台",
        "problem": r"说说(?:具体)?(?:是)?(?:哪里|什么)|说说情况|什么样的问题|出了什么问题|哪里不对|描述一下"
                   r"|告诉我(?:一下)?原因|是(?:商品)?有?质量问题[^。？?]{0,4}还是",  # a return's reason: fault or not
    }.items()
}


# Template values only the customer can give (the agent looks up an order number, not the size they usually wear): a
# reply still missing one is not offered.
CUSTOMER_SAYS = frozenset({"usual_size"})

# A message specific enough for its likely point's answers rather than a question asking what it means: this many
# Chinese characters, its best point at least SPECIFIC_FLOOR and SPECIFIC_MARGIN times the next one.
SPECIFIC_CHARS = 12
SPECIFIC_FLOOR = 0.2
SPECIFIC_MARGIN = 1.5


def _specific(text: str, match: Match) -> bool:
    """Whether an unsure message still says clearly enough what it is about (see SPECIFIC_CHARS)."""
    if not match.points or len(_CONTENT.findall(text)) < SPECIFIC_CHARS:
        return False
    top = match.points[0].confidence
    second = match.points[1].confidence if len(match.points) > 1 else 0.0
    return top >= SPECIFIC_FLOOR and top >= SPECIFIC_MARGIN * second


# A special VAT invoice named among the shop's invoice types (`invoice_types`).
_SPECIAL_VAT = re.compile(r"专票|专用发票")

# An agent turn saying the order was looked up ("帮您查了一下，这单还没发货", "帮您看了下订单…", "查到包裹在…"): the agent
# has it, and a reply asking for its number asks again (a rater's round: "已经查过两个订单，回复还让发订单号").
_LOOKED_UP = re.compile(r"(?:帮您|给您|我)(?:查|看|核对|核实)(?:了|过)|(?<!没)查到(?:了)?(?:您的|这单|这个订单|包裹|订单|物流|已经)")

# A shop's own point found near in words is left out when the knowledge model is this sure the message asks another
# point and gives the points its phrasings read as less than KIN_FLOOR ("毛衣什么材质的" read 0.04 as pilling).
KIN_SURE = 0.4
KIN_FLOOR = 0.2

# Below this height (cm) the customer's measurements are a child's: a general chart they fall below does not size them.
CHILD_CM = 130

# Words by which an angry message aims at the shop ("你们客服半天不回", "老板你家…", "什么破店").
_AT_SHOP = re.compile(r"你们|你家|您家|客服|店家|老板|商家|掌柜|卖家|这家店|破店|黑店|你(?:这|们)?(?:态度|服务)")


# The courier of the conversation's waybill (`intents.slots.waybill_courier`), beside the values that fill replies: it
# fills {courier} in a reply that also gives {tracking_no}. No template names it.
WAYBILL_COURIER = "waybill_courier"


def with_waybill_courier(
    values: dict[str, str], turns: Sequence[tuple[str, str]], variables: Mapping[str, str] | None = None
) -> dict[str, str]:
    """`values` with the courier of the conversation's waybill (`values["tracking_no"]`) beside them, unless the caller
    gave the courier itself. `turns`: (role, normalised text), oldest first."""
    waybill = waybill_courier(values.get("tracking_no", ""), [text for _, text in reversed(turns)])
    if not waybill or ((variables or {}).get("courier") or "").strip():
        return values
    return {**values, WAYBILL_COURIER: waybill}


# The point of a message giving an order number, and what such a message is besides the number: its label and the
# number itself, and the words of a request, counted as Chinese characters.
INFO_POINT = "order.info-provided"
_PASTED = re.compile(r"(订单编号|订单号|单号|订单)?\s?[:：是]?\s?[0-9A-Za-z-]{6,}")
_CONTENT = re.compile(r"[\u4e00-\u9fff]")
# The facts about an order's status that tell two neighbouring points apart (change the address before
# or after shipping, cancel before or after, in stock or not).
_STATUS_FACTS = ("shipped", "not_shipped", "delivered", "in_stock", "out_of_stock", "return_sent", "return_received")
# The status an assumed presumption stands for, for what a point leans on.
_ASSUMED_STATUS = {"before_shipping": "not_shipped"}


@dataclass(frozen=True)
class _Leaning:
    leans: dict[str, frozenset[str]]  # point id → its `_leans_on` facts (points leaning on none left out)
    presuming: dict[str, tuple[frozenset[str], ...]]  # point id → each reply's presumed facts, when every reply presumes
    presumed: frozenset[str]  # the facts those replies presume


@dataclass
class ReplyService:
    library: ReplyLibrary
    matcher: KnowledgeMatcher | None
    clarifiers: dict[str, StandardReply]
    priors: AdoptionPriors
    handoff_below: float = 0.5
    degraded: str | None = None  # the configured reply encoder could not be loaded
    weights: RankingWeights = RankingWeights()
    knowledge_version: str = ""
    topic: dict[str, StandardReply] = field(default_factory=dict)  # point id → a clarifier naming it
    product_points: dict[str, str] = field(default_factory=dict)  # a product's own point → the product id
    # The replies' vectors are in the messages' space (one encoder for both): relevance can be read.
    same_space: bool = False
    _leans_cache: tuple[ReplyIndex, _Leaning] | None = field(default=None, init=False, repr=False, compare=False)
    _kin_cache: tuple[ReplyIndex, dict[str, frozenset[str]]] | None = field(default=None, init=False, repr=False, compare=False)

    @classmethod
    def load(
        cls,
        analyzer: Analyzer,
        points: list[KnowledgePoint],
        shop: list[StandardReply] = (),
        *,
        knowledge_model=None,
        knowledge_version: str = "",
        feedback: Iterable[tuple[str, str, str]] = (),
        encoder: str = "e5-int8",
        model_dir: Path = Path("models"),
        cache_dir: Path | None = None,
        handoff_below: float = 0.5,
        clarify: Source = CLARIFY_FILE,
    ) -> "ReplyService":
        base = analyzer.base_encoder
        degraded = None
        ranking = base
        if not isinstance(base, NullEncoder):
            try:
                ranking = load_ranking_encoder(encoder, model_dir, base)
            except EncoderError as exc:
                degraded = f"reply encoder {encoder!r} failed to load ({exc}); replies ranked with the built-in encoder"
                log.error("%s", degraded)
        known = [str(c) for c in knowledge_model.classes_] if knowledge_model is not None else []
        clarifiers = load_clarifiers(clarify)
        topic = [topic_clarifier(p) for p in points if not any(r.category == "holding" for r in p.replies)]
        holders = [KnowledgePoint(f"clarify.{i}", "澄清", r.intents, r.stage, "", (), (r,), "corpus") for i, r in enumerate([*clarifiers.values(), *topic])]
        cache = None if isinstance(base, NullEncoder) else cache_dir
        index = ReplyIndex.build([*points, *holders], shop, ranking, known=known, cache_dir=cache, point_encoder=base)
        matcher = None
        if knowledge_model is not None:
            replies = [r for p in points for r in p.replies]
            matcher = KnowledgeMatcher(
                knowledge_model, index.points, analyzer.segmenter, analyzer.encoder,
                reply_vectors=index.text_vectors[[index.rows[r.id] for r in replies]],
                reply_points=[r.knowledge_point for r in replies],
            )
        priors = AdoptionPriors()
        for reply_id, intent, action in feedback:
            priors.record(reply_id, intent, action)
        return cls(
            ReplyLibrary(index, ranking, base), matcher, clarifiers, priors, handoff_below, degraded,
            knowledge_version=knowledge_version, topic={r.knowledge_point: r for r in topic},
            same_space=ranking is base and not isinstance(base, NullEncoder),
        )

    @property
    def index(self) -> ReplyIndex:
        return self.library.current

    @property
    def versions(self) -> dict[str, str]:
        index = self.index
        points = sum(1 for p in index.points if not p.startswith("clarify."))
        return {
            "reply_encoder": self.library.encoder.name,
            "replies": f"{len(index.corpus)} replies in {points} knowledge points, corpus {index.corpus.hash[:8]}",
            **({"knowledge": self.knowledge_version} if self.knowledge_version else {}),
        }

    # --- matching -----------------------------------------------------------------------------------

    def match(
        self, reading: Reading, history: Sequence[Turn] = (), state: ConversationState | None = None, product: Product | None = None
    ) -> Match:
        """The knowledge points the message asks about (the shop's own points by similarity), weighed by
        what the conversation established: a point most of whose replies presume a fact gains when the
        fact was said and loses when its opposite was."""
        index = self.index
        leaning = self._leaning(index)
        leans = leaning.leans
        established = state is not None and any(state.holds(f) is not None for f in _STATUS_FACTS)
        # An order number pasted with a request ("订单号 3817… 我拍的是雾霾蓝 来的是灰色 赶紧给我换") asks the request: the
        # point for a number given alone ("订单号发你了") loses, as a point leaning on a fact said otherwise does.
        says_more = len(_CONTENT.findall(_PASTED.sub("", reading.doc.text))) >= 8
        # The number alone, just after the agent asked for it, is the number given, whatever it was asked for.
        answers_ask = (
            bool(history) and history[-1].role == "agent" and bool(ASKS_FOR["order_id"].search(history[-1].text))
            and not _CONTENT.search(_PASTED.sub("", reading.doc.text)) and "order_id" in read_slots(reading.doc.text)
        )
        # A point none of whose replies the conversation allows (each presumes something said untrue: changing
        # the address of an order not shipped, once it has) is about another situation than this one.
        denied = {f for f in leaning.presumed if state.holds(f) is False} if state is not None else set()
        ruled_out = {pid for pid, each in leaning.presuming.items() if all(facts & denied for facts in each)} if denied else set()

        def weigh(point_id: str) -> float:
            factor = 0.35 if says_more and point_id == INFO_POINT else 1.0
            for fact in leans.get(point_id, ()) if established else ():
                holds = state.holds(fact)
                factor *= 1.0 if holds is None else (2.0 if holds else 0.35)
            return factor * (0.35 if point_id in ruled_out else 1.0)

        use = established or says_more or bool(ruled_out)
        match = self.matcher.match(reading, history, weigh if use else None) if self.matcher is not None else Match((), None)
        if answers_ask and INFO_POINT in index.points and match.points:
            # the topic's points stay listed after it: the number was asked for their sake
            given = PointMatch(INFO_POINT, index.points[INFO_POINT].label, match.points[0].confidence)
            rest = [p for p in match.points if p.id != INFO_POINT][: MatchWeights().max_listed - 1]
            match = Match((given, *rest), match.leaning, match.from_context, match.outside)
        # A product's own points are asked only about that product.
        others = {pid for pid, owner in self.product_points.items() if product is None or owner != product.id}
        # A question before buying is not what a customer who has the goods asks ("毛衣才穿了一次 袖口就起球 我要退货"
        # is a complaint, not "这件毛衣起球吗").
        has_it = state is not None and bool(state.holds("delivered"))
        extra = [
            p for p in self._extra_points(index, reading)
            if p.id not in others and not (has_it and index.points[p.id].stage == "售前")
        ]
        if extra and match.points and match.points[0].confidence >= KIN_SURE and self.matcher is not None:
            # Near in words is not the same question: "毛衣什么材质的" is 0.94 from "这件毛衣起球吗". A shop point whose own
            # phrasings the knowledge model reads as other points than the one it is sure the message asks (material, not
            # pilling) is not offered, unless the message, or one of its questions when it asks several, reads as one of
            # them at all ("毛衣起求吗？能不能直接洗衣机洗啊", the whole read as washing, keeps it; "袋子跟毛衣先发还是等裤子一起啊？
            # 毛衣能不能先发" does not).
            kin = self._kin(index)
            questions = split_asks(reading.doc.text)
            docs = [reading.doc]
            if len(questions) > 1 and any(kin.get(p.id) for p in extra):
                read = [q[:EMBED_MAX_CHARS] for q in questions[: self.matcher.weights.max_asks]]
                docs += make_documents(read, self.matcher.segmenter, self.matcher.encoder)
            extra = [p for p in extra if not kin.get(p.id) or any(self.matcher.sureness(d, kin[p.id]) >= KIN_FLOOR for d in docs)]
        if not extra:
            return match
        merged = sorted([*match.points, *extra], key=lambda p: -p.confidence)[: MatchWeights().max_listed]
        return Match(tuple(merged), match.leaning or merged[0].id, match.from_context, model_points=match.points)

    def _kin(self, index: ReplyIndex) -> dict[str, frozenset[str]]:
        """The knowledge model's reading of each of the shop's own points' phrasings (the points they read as), once
        per index."""
        cached = self._kin_cache
        if cached is None or cached[0] is not index:
            owners = set(index.extra_owner)
            kin = {
                pid: frozenset(b for ph in index.points[pid].phrasings if (b := self.matcher.best(normalize(ph))) is not None)
                for pid in owners if pid in index.points
            }
            cached = self._kin_cache = (index, kin)
        return cached[1]

    def _leaning(self, index: ReplyIndex) -> _Leaning:
        """What the points' replies presume, worked out once per index."""
        cached = self._leans_cache
        if cached is None or cached[0] is not index:
            leans = {pid: frozenset(f) for pid, p in index.points.items() if (f := _leans_on(p))}
            presuming = {
                pid: tuple(frozenset(r.presumes) for r in p.replies)
                for pid, p in index.points.items() if p.replies and all(r.presumes for r in p.replies)
            }
            presumed = frozenset(f for each in presuming.values() for facts in each for f in facts)
            cached = self._leans_cache = (index, _Leaning(leans, presuming, presumed))
        return cached[1]

    @staticmethod
    def _extra_points(index: ReplyIndex, reading: Reading) -> list[PointMatch]:
        """Points the knowledge model was not trained on (the shop's own), by their nearest phrasing."""
        vector = reading.doc.vector
        if not len(index.extra_owner) or vector is None or not np.any(vector):
            return []
        sims = index.extra_vectors @ vector
        best: dict[str, float] = {}
        for owner, sim in zip(index.extra_owner, sims):
            best[owner] = max(best.get(owner, -1.0), float(sim))
        # A cosine of 0.93 or more to a phrasing is the same question in other words; under 0.92 it is mostly the
        # same goods ("那个毛衣一块拍 能不能毛衣先发" is 0.91 from "这件毛衣起球吗").
        found = [(pid, min(1.0, (sim - 0.88) / 0.08)) for pid, sim in best.items() if sim >= 0.92]
        return [PointMatch(pid, index.points[pid].label, round(conf, 4)) for pid, conf in sorted(found, key=lambda x: -x[1])]

    # --- offering -----------------------------------------------------------------------------------

    def suggest(self, reading: Reading, advice: Advice, conversation: Conversation = Conversation(), top_k: int = 5) -> Offer:
        history = list(conversation.history)
        turns = [(t.role, normalize(t.text)) for t in history] + [("customer", reading.doc.text)]
        state = read_state(turns)
        named = read_slots(reading.doc.text)
        if {"colour", "size"} & set(named):
            # Stock was said of some colour or size; this message names one, maybe another.
            state.forget("in_stock", "out_of_stock")
        shop = conversation.shop
        product = shop.product(conversation.product_id, [text for role, text in turns if role == "customer"])
        if product is not None and isinstance(product.attributes.get("in_stock"), bool) and state.holds("in_stock") is None:
            # The shop's data says, unless the agent said otherwise; a colour the product lacks is not in stock.
            colour, colours = named.get("colour"), product.attributes.get("colours") or []
            absent = bool(colour and colours and not any(colour in c or c in colour for c in colours))
            in_stock = product.attributes["in_stock"] and not absent
            if not (in_stock and named.get("size")):  # the data is the whole item's: it does not say a size is there
                state.set("in_stock", in_stock)
        if product is not None and product.attributes.get("presale_date") and product.attributes.get("in_stock") is False \
                and state.holds("presale") is None:
            state.set("presale", True)  # out of stock with a date: it ships on that date, not within the usual time
        match = self.match(reading, history, state, product)
        texts = [text for _, text in turns]
        slots = conversation_slots(reading.doc.text, turns[:-1])
        measurements = conversation_measurements(reading.doc.text, turns[:-1])
        chart = shop.chart(product)
        wish = fit_wish([text for role, text in turns if role == "customer"][-3:])
        size_advice = advise(chart, measurements, product.attributes.get("fit"), wish=wish) if chart is not None and measurements else None
        general: list[tuple[SizeAdvice, str | None]] = []
        if product is None and measurements:
            # no product known: the shop's charts for the garments the customer's measurements are for, said as such
            sizes = {s for s in (slots.get("size"), measurements.get("usual_size")) if isinstance(s, str)}
            child = float(measurements.get("height_cm", CHILD_CM)) < CHILD_CM
            usual = measurements.get("usual_size")
            for found, kind in shop.general_charts(texts, measurements, sizes):
                said = advise(found, measurements, None, f"我们家{kind}一般" if kind else "我们家的尺码表", wish)
                if said is None or (said.size is None and child):
                    continue  # a child below the chart: "最小的S码也会大不少" says only that these are not for children
                if said.size and set(said.read) <= {"height_cm"} and isinstance(usual, str) and said.size != usual:
                    continue  # a height alone does not overrule the size she wears ("她平时穿S 身高165左右 偏瘦": not M)
                general.append((said, kind))
            size_advice = general[0][0] if general else None
        values = {
            **shop.profile.values, **slots, **{k: v for k, v in conversation.variables.items() if v.strip()},
            **{k: str(v) for k, v in measurements.items()},
        }
        values = with_waybill_courier(values, turns, conversation.variables)
        if values.get("overseas_shipping"):  # the part for where the customer is (Hong Kong, or abroad), not both
            values["overseas_shipping"] = overseas_part(values["overseas_shipping"], [t for r, t in turns if r == "customer"])
        if values.get("courier") and (how := shop.profile.sends_with(values["courier"])) is not None:
            # the courier asked for against the shop's: "可以发" or "暂时发不了" (its extra-cost courier: neither)
            state.set("courier_listed", how == "listed")
            state.set("courier_unlisted", how == "unlisted")
            state.set("courier_not_listed", how != "listed")
        if shop.profile.values.get("invoice_types"):
            # the invoices the shop issues say whether a special VAT invoice is one of them ("电子普通发票…": it is not)
            special = bool(_SPECIAL_VAT.search(str(shop.profile.values["invoice_types"])))
            state.set("special_vat", special)
            state.set("no_special_vat", not special)
        agent_said = {text for role, text in turns if role == "agent"}
        asked_before = self._asked_before(reading.doc.text, history)
        # Unsure of the message: the points the customer's last two turns asked (read only then: an encoder run each).
        discussed: set[str] = set()
        if self.matcher is not None and match.leaning and (not match.points or match.points[0].confidence < 0.3):
            earlier = [text for role, text in turns[:-1] if role == "customer"][-2:]
            discussed = {self.matcher.best(text) for text in earlier} - {None}
        size = asked_size(reading.doc.text, turns[:-1])
        # (the size asked about, the words asking): a follow-up naming only a size asks what the customer's last
        # turn naming a size asked ("L的胸围多少", then "XL呢")
        words = reading.doc.text
        if size and not read_slots(words).get("size"):
            words = next((text for role, text in reversed(turns[:-1]) if role == "customer" and read_slots(text).get("size")), words)
        asked = (size, words) if size else None
        generated = self._generated(reading, match, product, chart, size_advice, slots, asked, texts, general)
        if match.points and match.points[0].id == BRA_POINT:  # the chest measures make a bra size, whatever the product
            bra = bra_answer([text for role, text in turns if role == "customer"], BRA_POINT)
            generated = [(bra, match.points[0])] + generated if bra is not None else generated
        earlier = [text for role, text in turns[:-1] if role == "customer"]
        gave, cannot = customer_gave(reading.doc.text, earlier), customer_cannot_give(reading.doc.text, earlier)
        if any(role == "agent" and _LOOKED_UP.search(text) for role, text in turns[:-1]):
            gave = gave | {"order_id"}  # the agent has the order in front of them: its number is not asked for again
        asks = self._asks(reading, match, product, chart, size_advice, slots, asked, texts, general)
        offer = self.offer(
            reading, advice, match, state, values, conversation.sent, agent_said, top_k, slots, asked_before, generated, gave,
            cannot, asks, goods_context(texts, product), discussed,
        )
        return dataclasses.replace(offer, measurements=measurements, size_advice=size_advice, product=product)

    def _generated(
        self, reading: Reading, match: Match, product: Product | None, chart, size_advice: SizeAdvice | None,
        slots: Mapping[str, str], asked: tuple[str, str] | None = None, texts: Sequence[str] = (),
        general: Sequence[tuple[SizeAdvice, str | None]] = (),
    ) -> list[tuple[StandardReply, PointMatch]]:
        """Replies from the shop's data for the points asked: a product attribute, the size advice (or, when the
        customer gave no measurements, the row of the size asked about, or the chart). `asked` is that size and the
        words asking about it. Only for points close to the best one. With no product known, only the advice of the
        shop's charts for the garments named (`general`, each with its kind), when a point asks which size to take;
        `texts` are the conversation's turns, for what the customer said they do not know."""
        top = match.points[0].confidence if match.points else 0.0
        # The best point, and others nearly as sure and sure enough on their own (a mixed ask).
        close = [p for i, p in enumerate(match.points) if p.confidence > 0 and (i == 0 or (p.confidence >= 0.6 * top and p.confidence >= 0.3))]
        out: list[tuple[StandardReply, PointMatch]] = []
        sized = [p for p in close if p.id.startswith("size.")]
        # which size to take: asked by a point, or by a size message no point fits
        which = next((p for p in sized if p.id in SIZE_ADVICE_POINTS), None)
        if which is None and not sized and reading.intent == "size":
            which = PointMatch("size.recommend", "尺码推荐", top or 1.0)
        if which is None and sized and sized[0].id == FIT_STYLE and size_advice is not None:
            # how it should sit, with the measurements to choose by ("165 104斤 想穿宽松点 拿M还是L"): the advice for them,
            # which answers the wish, not the cut alone ("标准版型…喜欢宽松一点可以拿大一码")
            which = sized[0]
        if product is None:
            # The shop's chart for the garment, when the message mostly asks which size to take (not "脚背高 39还是40",
            # which the advice for an unknown shoe cannot weigh; nor a size message no point fits: "我160 怕太长了压个子").
            if not general or which is None or not sized or sized[0] is not which:
                return []
            return [(general_size_answer(general, which.id, texts), which)]
        # A message naming only other kinds of goods than the product's ("有没有配它的半身裙" about a sweater) asks about
        # them: the product's data does not answer it.
        named = garment_kinds(_WORN_WITH.sub(" ", reading.doc.text))
        if named and not named & product_kinds(product):
            return []
        # one size asked about by name ("26码腰围多少", then "27呢"), not for the chart itself: that size's row
        row: tuple[StandardReply, PointMatch] | None = None
        if chart is not None and size_advice is None and asked is not None and not WHOLE_CHART.search(reading.doc.text):
            size, words = asked
            on = next((p for p in sized if p.id in ROW_POINTS), None)
            if on is None and reading.intent == "size" and asked_measures(words):  # "L的胸围多少", whatever point it reads as
                on = sized[0] if sized else PointMatch(CHART_POINT, "尺码表", top or 1.0)
            said = row_answer(product, chart, size, on.id, words) if on is not None else None
            row = (said, on) if said is not None else None
        # two of the chart's sizes compared ("M和L差多少", "27和28区别大吗"): how they differ, before the size advice
        on = sized[0] if sized else None
        if on is None and any(p.id == COMPARE_POINT for p in close) and BETWEEN_POINT in self.index.points:
            on = PointMatch(BETWEEN_POINT, self.index.points[BETWEEN_POINT].label, top)
        compared = compare_answer(product, chart, reading.doc.text, on.id) if chart is not None and on is not None else None
        if compared is not None:
            out.append((compared, on))
        if size_advice is not None and which is not None:
            out.append((size_answer(product, size_advice, which.id, list(texts)), which))
        elif compared is None and row is not None and row[1].id != LENGTH_POINT:
            out.append(row)
        elif compared is None and chart is not None and any(p.id == CHART_POINT or (p.id == SHOES_POINT and size_advice is None) for p in close):
            # asked for the chart (measurements or not: "尺码表发我看看 我平时穿M"), or which shoe size without a foot
            # length or a size named
            found = next(p for p in close if p.id in (CHART_POINT, SHOES_POINT))
            out.append((chart_answer(product, chart, found.id), found))
        if chart is not None and sized and sized[0].id == LENGTH_POINT:
            made = length_answer(product, chart, reading.doc.text, slots.get("size"), LENGTH_POINT)
            if made is None and row is not None:
                made = row[0]  # no garment lengths in the chart: what the size fits
            if made is not None:
                out.insert(0, (made, sized[0]))
        for found in close:
            if found.id in ANSWERS and not (found.id.startswith("size.") and out):
                out += [(reply, found) for reply in product_answers(product, found.id, dict(slots), reading.doc.text)
                        if all(reply.text != made.text for made, _ in out)]
        return out

    def _asks(
        self, reading: Reading, match: Match, product: Product | None, chart, size_advice: SizeAdvice | None,
        slots: Mapping[str, str], asked: tuple[str, str] | None = None, texts: Sequence[str] = (),
        general: Sequence[tuple[SizeAdvice, str | None]] = (),
    ) -> list[tuple[Ask, list[tuple[StandardReply, PointMatch]]]]:
        """The questions of a message asking several things, each with the replies the shop's data gives its point.
        Only when the message's best point (read in its conversation, by the knowledge model: the shop's own points are
        found by similarity to the whole message, which a question alone does not have) is some question's likeliest
        reading (read as a whole and question by question, the message must agree on what it is mostly about), and not
        for a message sure of one point (a mixed ask spreads its reading over its questions' points; reading it again
        question by question costs an encoder run each)."""
        if self.matcher is None or not match.points or match.points[0].confidence >= self.matcher.weights.confident:
            return []  # a message this sure of one point asks about it (and is not read again question by question)
        model = match.points if match.model_points is None else match.model_points
        if not model:
            return []
        asks = self.matcher.asks(reading, [p.id for p in model], agrees=model[0].id)
        if len(asks) < 2:
            return []
        return [(a, self._generated(reading, Match((a.point,), a.point.id), product, chart, size_advice, slots, asked, texts, general))
                for a in asks]

    def _asked_before(self, text: str, history: Sequence[Turn], turns: int = 3) -> set[str]:
        """The points of the customer's last few turns that say what this message says (asking again:
        much the same words, not merely the same topic)."""
        if self.matcher is None:
            return set()
        earlier = [normalize(t.text) for t in history if t.role == "customer"][-turns:]
        return {self.matcher.best(before) for before in earlier if _same_words(before, text)} - {None}

    def offer(
        self, reading: Reading, advice: Advice, match: Match, state: ConversationState, values: Mapping[str, str],
        sent: Iterable[str] = (), agent_said: Iterable[str] = (), top_k: int = 5, slots: Mapping[str, str] | None = None,
        asked_before: Iterable[str] = (), generated: Sequence[tuple[StandardReply, PointMatch]] = (),
        gave: Iterable[str] = (), cannot: Iterable[str] = (),
        asks: Sequence[tuple[Ask, Sequence[tuple[StandardReply, PointMatch]]]] = (), about: str = "",
        discussed: Iterable[str] = (),
    ) -> Offer:
        """The replies to offer for a matched message. A reply already sent (by id, or its text in an agent
        turn) comes back only when the customer asks the same thing again: the message on its own asks a
        point an earlier customer turn asked too. `about`: the conversation's words about the goods (`goods_context`);
        a reply about some goods only ("925银饰…") is offered only when they name them. `discussed`: the points the
        customer's last turns asked, read when the message alone is unsure."""
        index = self.index  # one snapshot for the whole request
        w = self.weights
        emotion = reading.emotion.level
        # What the customer has given, known for sure either way: a reply built around the order number is offered
        # only when it is known (said, or the chat client's variable), never with a blank to fill; one saying a
        # picture or a tax number came, only when it did.
        given = frozenset(gave) - frozenset(cannot)
        state.facts["order_given"] = bool(str(values.get("order_id") or "").strip())
        # A waybill number given (by the customer or the agent) is a parcel that has left, unless someone said otherwise.
        # An order placed moments ago (`just_ordered`) only supposes it has not: a waybill given since outweighs that,
        # when it is one for sure (a courier's letters or name; bare digits beside "刚拍的" are the order's number).
        tracking = str(values.get("tracking_no") or "").strip()
        supposed = state.holds("just_ordered") and state.holds("not_shipped") is None
        certain = bool(re.search(r"[A-Za-z]", tracking)) or bool(values.get("courier") or values.get(WAYBILL_COURIER))
        if tracking and (state.holds("shipped") is None or (supposed and certain)):
            state.set("shipped", True)
        state.facts["photo_given"] = "photo" in given
        state.facts["tax_id_given"] = "tax_id" in given
        state.facts["phone_given"] = "phone" in given
        # a new address given and not yet said to be changed ("已经帮您提交修改" answers it)
        state.facts["address_given"] = "address" in given and not state.holds("action_done")
        state.facts["problem_given"] = "problem" in given
        state.facts["payout_given"] = "payout" in given
        state.facts["wrong_entry_given"] = "wrong_entry" in given
        scored = functools.partial(self._candidate, gave=frozenset(gave), cannot=frozenset(cannot), about=about)

        def general(why: str) -> Candidate | None:
            """The general clarifying question (it asks for nothing the customer may have given)."""
            return scored(self.clarifiers["other"], PointMatch("", "", 1.0), 1.0, reading, advice, state, values, emotion, why=why)

        sent = set(sent)
        agent_said = {normalize(t) for t in agent_said}
        asked_again = set()
        if match.points and not match.from_context and match.points[0].confidence >= 0.5 and match.points[0].id in set(asked_before):
            asked_again = {match.points[0].id}
        top = match.points[0].confidence if match.points else 1.0
        # Replies come from the points close enough to the best one; the others are listed, not offered.
        offered = [p for p in match.points if p.confidence >= w.offer_share * top]
        candidates: list[Candidate] = []
        query = reading.match_doc.vector if self.same_space else None
        for found in offered:
            own: list[Candidate] = []
            for reply in index.points[found.id].replies:
                candidate = scored(reply, found, top, reading, advice, state, values, emotion)
                if candidate is None:
                    continue
                if reply.id in sent or normalize(candidate.text) in agent_said:
                    if found.id not in asked_again:
                        continue  # said already in this conversation
                    candidate = dataclasses.replace(candidate, score=candidate.score - w.asked_again, why=candidate.why + " · 已发过")
                own.append(candidate)
            candidates += self._relevant(own, query, index)
        intent_sure = reading.intents[0][1] >= self.handoff_below
        # Outside what the shop's service answers (a homework question, a message meant for someone else, the
        # customer's platform account, another shop's order): its polite answer leads, not sent yet in this
        # conversation; with none left, it is handed off like any message no point fits.
        polite: list[Candidate] = []
        if match.outside is not None and match.outside.id in index.points and not match.points and not generated:
            polite = [
                c for r in index.points[match.outside.id].replies
                for c in [scored(r, match.outside, 1.0, reading, advice, state, values, emotion, why="店铺客服范围之外")]
                if c is not None and r.id not in sent and normalize(c.text) not in agent_said
            ]
        # Nothing fits well, unless the shop's own data answers.
        handoff = (not match.points or (match.points[0].confidence < 0.3 and not intent_sure)) and not generated and not polite
        if handoff and not match.points and match.leaning:  # the likely point's answers (after the question) and feelings
            guess = PointMatch(match.leaning, index.points[match.leaning].label, 0.0)
            candidates += [
                c for r in index.points[match.leaning].replies if r.category != "holding" and r.id not in sent
                for c in [scored(r, guess, 1.0, reading, advice, state, values, emotion)] if c is not None
            ]
        first: list[Candidate] = []
        # Feelings before facts: an angry customer hears an apology first; so does an upset one whose likely point is
        # a complaint, when the list would open with a question (a handoff). Not before a polite "this is outside our
        # service": "您说完我马上处理" and then "帮不上忙" would contradict each other.
        complaining = emotion == "upset" and handoff and (match.leaning or "").startswith("complaint.")
        # Not when the message is a question before buying, sure of its point, whose anger is at something else
        # ("起球不 之前买的毛衣穿两次就全是球 气死"): "我不打断您，您说完我马上处理" answers nobody there.
        if (emotion == "angry" or complaining) and not polite and not self._angry_elsewhere(match, index, state, reading):
            feelings = [c for c in candidates if c.reply.category in FEELING_CATEGORIES]
            if not feelings and FEELING_POINT in index.points:
                venting = PointMatch(FEELING_POINT, index.points[FEELING_POINT].label, 0.0)
                feelings = [
                    c for r in index.points[FEELING_POINT].replies if r.category in FEELING_CATEGORIES
                    for c in [scored(r, venting, 1.0, reading, advice, state, values, emotion)] if c is not None
                ]
            if feelings:
                first.append(max(feelings, key=lambda c: c.score))
        if polite:
            first += sorted(self._relevant(polite, query, index), key=lambda c: -c.score)
            # In case the message is the shop's business after all: the general question (it asks for nothing the
            # customer may have given, and apologises for nothing another shop did).
            asked = general("澄清：也可能是店里的事")
            if asked is not None:
                first.append(asked)
        topical = self._clarifier(match, reading, index) if handoff else None
        if handoff and match.leaning and topical.knowledge_point == match.leaning and candidates and scored(
            topical, PointMatch(match.leaning or "", "", 1.0), 1.0, reading, advice, state, values, emotion
        ) is None:
            # The likely point's own question asks what the customer already said ("退货运费要看原因：质量问题还是…",
            # after "裤子起球了"), or what the conversation rules out: the conversation is clear enough, and a vaguer
            # question in its place would ask it again ("是想办理退货、换货还是…"). The point's answers lead.
            handoff = False
        if handoff and candidates and _specific(reading.doc.text, match):
            # A message saying a lot, whose likely point stands well clear of the next ("我刚拍了毛衣 订单号… 再加条裤子能一起发吗？
            # 还是毛衣先发 我10号要出差"): "您是想问「合并发货」的事吗？方便再说具体一点吗" asks for what it has said (raters
            # called it asking again). The point's answers lead.
            handoff = False
        if handoff and match.leaning in set(discussed) and candidates:
            # The likely point is what the customer's last turns asked: the conversation is clear, and "您是想问「质量问题」
            # 的事吗" after "拉链坏的 拉到一半就卡住" and the agent's answer would ask it again. Its answers lead.
            handoff = False
        if handoff:
            # The likely topic's question, else the intent's, else the general one (which asks for nothing the
            # customer can have given already): the list is never empty.
            for clarifier in (topical, self.clarifiers[reading.intent], self.clarifiers["other"]):
                asked = scored(clarifier, PointMatch(clarifier.knowledge_point or "", "", 1.0), 1.0,
                               reading, advice, state, values, emotion, why="澄清：没有把握的知识点")
                if asked is not None:  # not one asking for what the customer already said
                    first.append(asked)
                    break
        if not handoff and not polite:
            joined = self._joined(asks, scored, reading, advice, state, values, emotion, sent, agent_said, index)
            if joined is not None:
                first.append(joined)
        for reply, found in generated:  # the shop's own facts answer before any general wording
            made = scored(reply, found, top, reading, advice, state, values, emotion,
                          why=_generated_why(reply))
            if made is None or ((reply.id in sent or normalize(made.text) in agent_said) and found.id not in asked_again):
                continue
            first.append(made)
        taken = {c.reply.id for c in first}
        rest = pick([c for c in candidates if c.reply.id not in taken], index, top_k - len(first), w, single=len(offered) <= 1)
        chosen = [*first, *rest][:top_k]
        if not handoff and not polite:
            chosen = self._with_remedy(chosen, candidates, sent, agent_said)
        if not chosen:  # every reply was left out (sent already, or its presumption contradicted): the general question
            asked = general("澄清：没有能发的回复")
            chosen = [asked] if asked is not None else []
        replies, seen = [], set()
        for c in chosen:
            if c.text in seen:
                continue
            seen.add(c.text)
            replies.append(OfferedReply(
                c.reply.id, c.text, round(c.score, 4), c.reply.intents[0], c.reply.category, c.missing, c.why,
                knowledge_point=c.reply.knowledge_point if not (c.reply.knowledge_point or "").startswith("clarify.") else None,
                source=c.reply.source if c.reply.source in (SHOP, *GENERATED) else "corpus", presumes=c.reply.presumes,
                needs_check=c.needs_check, parts=c.parts,
            ))
        return Offer(replies, handoff, match, dict(slots or {}), outside=match.outside if polite else None)

    def _joined(
        self, asks: Sequence[tuple[Ask, Sequence[tuple[StandardReply, PointMatch]]]], scored, reading: Reading, advice: Advice,
        state: ConversationState, values: Mapping[str, str], emotion: str, sent: set[str], agent_said: set[str], index: ReplyIndex,
    ) -> Candidate | None:
        """One reply answering each question of a mixed ask, in the order asked: per question its point's best
        answer (the shop's data first), read against that question's words. None unless two or more questions
        have an answer not sent yet in this conversation, or when this joined reply was sent already; one part alone
        when the shop fact it states answers the other questions."""
        parts: list[Candidate] = []
        covered = 0  # questions an earlier part's shop fact answers
        for ask, made in asks:
            point = ask.point
            found = PointMatch(point.id, point.label, 1.0)
            options = [
                c for reply, owner in made if owner.id == point.id
                for c in [scored(reply, found, 1.0, reading, advice, state, values, emotion)] if c is not None
            ]
            if not options and point.id in index.points:
                own = [
                    c for r in index.points[point.id].replies if r.category in ANSWER_CATEGORIES
                    for c in [scored(r, found, 1.0, reading, advice, state, values, emotion)] if c is not None
                ]
                options = self._relevant(own, ask.vector if self.same_space else None, index)
            options = [c for c in options if c.reply.id not in sent and normalize(c.text) not in agent_said]
            options = [c for c in options if all(c.text != p.text for p in parts)]
            # Nor one presuming what the conversation has not shown: its claim ("…目前系统里显示有现货") would hide among
            # the other answers; on its own it is offered with its check.
            options = [c for c in options if c.needs_check is None]
            # Nor one an earlier part contradicts: "…目前显示有现货…" then "…补货上架后…" told one customer both.
            presumed = {fact for p in parts for fact in p.reply.presumes}
            options = [c for c in options if not any(_CONTRADICTS.get(fact, set()) & presumed for fact in c.reply.presumes)]
            # A shop fact an earlier part states already (the price-protection rule quoted by the answer about waiting
            # for a sale) is not said twice: an answer without it, else none (the earlier part answered this question).
            said = [str(values[name]) for p in parts for name, _ in p.reply.slots if name in SHOP_FACTS and values.get(name)]
            fresh = [c for c in options if not any(fact in c.text for fact in said)]
            # Nor one saying much what an earlier part says ("…太受欢迎，暂时断货了…" then "…太受欢迎了，…暂时断货…": their
            # bigrams overlap 0.32; the most two parts of the dev sets' 39 joined replies shared was 0.21).
            fresh = [c for c in fresh if not any(_same_words(c.text, p.text, 0.3) for p in parts)]
            covered += bool(options) and not fresh
            if fresh:
                parts.append(max(fresh, key=lambda c: c.score))
        if len(parts) == 1 and covered:
            return parts[0]  # its fact answers the other questions too: it answers them all on its own
        if len(parts) < 2:
            return None
        joined = joined_candidate(parts)
        return None if joined.reply.id in sent or normalize(joined.text) in agent_said else joined

    @staticmethod
    def _angry_elsewhere(match: Match, index: ReplyIndex, state: ConversationState, reading: Reading) -> bool:
        """A question before buying, sure of its point (>= 0.5), nothing ordered, and no word aimed at the shop."""
        best = index.points.get(match.points[0].id) if match.points else None
        return (
            best is not None and best.stage == "售前" and match.points[0].confidence >= 0.5
            and not state.holds("ordered") and not _AT_SHOP.search(reading.doc.text)
        )

    @staticmethod
    def _with_remedy(chosen: list[Candidate], candidates: list[Candidate], sent: set[str], agent_said: set[str]) -> list[Candidate]:
        """An apology or empathy reply leading the list goes with its point's best answer, in one reply: the feeling
        first, then what will be done ("…真的很抱歉，换谁都会着急。" alone left a customer whose order came wrong asking
        what happens now; raters called it generic). An answer that apologises itself leads alone instead. Not for a
        feeling reply that says what I will do ("这件事我接手了") or asks for what I need, nor for a venting customer's
        "您说完我马上处理" (its point's answers ask what happened: the listening comes first)."""
        if not chosen:
            return chosen
        lead = chosen[0]
        if lead.reply.category not in FEELING_CATEGORIES or lead.parts or lead.point == FEELING_POINT or ACTS.search(lead.text):
            return chosen  # not a feeling alone, or one that says what I will do
        answers = [
            c for c in candidates
            if c.point == lead.point and c.reply.category in ANSWER_CATEGORIES and not c.parts and c.reply.id not in sent
        ]
        if not answers:
            return chosen
        answer = max(answers, key=lambda c: c.score)
        if APOLOGISES.search(answer.text):
            return [answer, *(c for c in chosen if c.reply.id != answer.reply.id)]
        soothed = soothed_candidate(lead, answer)
        if soothed.reply.id in sent or normalize(soothed.text) in agent_said:
            return chosen
        return [soothed, *(c for c in chosen[1:] if c.reply.id != answer.reply.id)]

    def _relevant(self, own: list[Candidate], query: np.ndarray | None, index: ReplyIndex) -> list[Candidate]:
        """One point's candidates, each moved by how close its text is to the message (e5 reads a query
        against a passage), among those of its kind (answers, questions, apologies, …; the shop's own wording
        and facts apart from general ones): of one point's answers, the one answering these words leads; of
        its questions, the one asking about this message. Each kind's best score stays what it was, so the
        points and the kinds keep their order in the offer (the shop's facts before a general wording)."""
        if query is None or len(own) < 2 or not np.any(query):
            return own
        kinds: dict[str, list[int]] = {}
        for i, c in enumerate(own):
            category = c.reply.category
            kind = "answer" if category in ANSWER_CATEGORIES else "feeling" if category in FEELING_CATEGORIES else category
            kinds.setdefault(f"{kind}/{c.own_facts}", []).append(i)
        out = list(own)
        cosines = index.text_vectors[[index.rows[c.reply.id] for c in own]] @ query
        for members in kinds.values():
            if len(members) < 2:
                continue
            scores = np.array([own[i].score for i in members])
            moved = scores + self.weights.relevance * cosines[members]
            moved += scores.max() - moved.max()
            for i, m in zip(members, moved):
                out[i] = dataclasses.replace(own[i], score=float(m))
        return out

    def _clarifier(self, match: Match, reading: Reading, index: ReplyIndex) -> StandardReply:
        """A clarifying question about the likely topic: the likely point's own, one naming it, or the intent's."""
        if match.leaning and match.leaning in index.points:
            point = index.points[match.leaning]
            own = [r for r in point.replies if r.category == "holding"]
            if own:
                return own[0]
            named = self.topic.get(point.id)
            if named is not None:
                return named
        return self.clarifiers[reading.intent]

    def _candidate(
        self, reply: StandardReply, found: PointMatch, top: float, reading: Reading, advice: Advice,
        state: ConversationState, values: Mapping[str, str], emotion: str, why: str | None = None,
        gave: frozenset[str] = frozenset(), cannot: frozenset[str] = frozenset(), about: str = "",
    ) -> Candidate | None:
        """A reply scored for this message, or None when the conversation contradicts what it presumes, it asks
        for what the customer said they cannot give, or it is about goods the conversation (`about`) never names."""
        if not reply.fits_goods(about):
            return None
        w = self.weights
        unchecked = []
        status_unchecked = False
        for fact in reply.presumes:
            holds = state.holds(fact)
            if holds is False:
                return None  # the conversation says otherwise: never offered
            if holds is None and fact not in ASSUMED:
                unchecked.append(PRESUMES[fact])
                status_unchecked |= fact in _STATUS_FACTS
        filling = dict(values)
        # A reply naming a waybill's courier ("{courier}单号{tracking_no}") names the one the number belongs to, not a
        # courier the customer asked for ("…重新发顺丰" after the agent gave a J&T number).
        if "{tracking_no" in reply.text and "{courier" in reply.text and filling.get(WAYBILL_COURIER):
            filling["courier"] = filling[WAYBILL_COURIER]
        text, missing = fill(reply.text, filling)
        if CUSTOMER_SAYS.intersection(missing):
            return None  # "您平时穿【平时尺码】的话…": only the customer can fill it in
        relative = found.confidence / top if top > 0 else 0.0
        score = w.point * relative + category_fit(reply.category, emotion, w)
        if w.intent and reading.intents and reading.intents[0][0] in reply.intents:
            score += w.intent * reading.intents[0][1]
        psychology = reading.psychology
        if psychology.id and psychology.id in reply.psychology:
            score += w.psychology * psychology.confidence
        if advice.severity and reply.severity == advice.severity:
            score += w.severity
        if reply.source == SHOP:
            score += w.shop
        if reply.goods and relative >= 1.0:
            # it fits (checked above): the best point's answer written for the goods this conversation names, over
            # its general wording (a point read second does not lead with it: "面料有弹性…" before the comparison asked)
            score += w.goods
        adoption, prior = adoption_term(self.priors, reply, w)
        score += adoption - w.needs_check * bool(unchecked) - w.status_check * status_unchecked - w.missing * len(missing)
        if any(fact in SITUATION and state.holds(fact) for fact in reply.presumes):
            score += w.settled  # written for the situation the conversation has shown
        # (A waybill number given says which order it is: asking for the order's number then asks again.)
        known = [
            name for name, asks in ASKS_FOR.items()
            if (values.get(name) or name in gave or (name == "order_id" and values.get("tracking_no")))
            and f"{{{name}" not in reply.text and asks.search(reply.text)
        ]
        if known and (reply.category == "holding" or cannot.intersection(known)):
            return None  # a question for what the customer already said, or asking again for what they cannot give
        score -= w.asks_known * bool(known)
        # What the customer said is reused: a reply that puts a named value (their order, courier, size) in.
        reused = {name for name, _ in reply.slots if name in CONVERSATION_VARIABLES and name != "nickname" and values.get(name)}
        score += w.reuse * min(len(reused), 2)
        shop_fact = any(name in SHOP_FACTS and values.get(name) for name, _ in reply.slots)
        if shop_fact:
            score += w.shop_fact
        if why is None:
            why = f"知识点「{found.label}」{found.confidence:.2f}" if found.label else "知识点"
            positive, negative = self.priors.counts(reply.id, reply.intents[0])
            if positive or negative:
                why += f" · 采纳 {prior:.2f}"
        return Candidate(
            reply, found.id, float(score), text, tuple(missing), "；".join(unchecked) or None, why,
            own_facts=shop_fact or reply.source == SHOP,
        )

    # --- feedback and shop replies ------------------------------------------------------------------

    def credit(self, reply_id: str, request: dict) -> str:
        """The intent a reply of an earlier suggestion is credited under (the one it was suggested for)."""
        replies = self.index.corpus.replies
        # built for that conversation: from the shop's data, or joining answers to a mixed ask
        made = reply_id.startswith(PREFIXES)
        if reply_id not in replies and not made:
            raise NotFound(f"unknown reply_id {reply_id!r}")
        if reply_id not in request["replies"]:
            raise Unprocessable(f"reply {reply_id!r} was not suggested in request {request['id']!r}")
        if reply_id.startswith(JOINED_ID_PREFIX):
            return request["intent"]
        if reply_id not in replies:
            return "size" if reply_id.startswith("sizing-") else "product"
        confidence = dict(request["intents"])
        return max((i for i in replies[reply_id].intents if i in confidence), key=confidence.get, default=request["intent"])

    def add_shop_reply(self, record: dict, persist: Callable[[dict], None]) -> StandardReply:
        """Validate a shop's own reply like the corpus, store it with `persist` and index it."""
        try:
            reply = parse_shop_reply(record, "reply")
        except CorpusError as exc:
            raise InvalidReply(str(exc)) from None
        self._not_on_a_product(reply)
        return self.library.add(reply, lambda: persist(record))

    def _not_on_a_product(self, reply: StandardReply) -> None:
        if reply.knowledge_point in self.product_points:
            raise InvalidReply(f"reply {reply.id!r}: {reply.knowledge_point!r} is a product's own point; its replies are "
                               "written in the product's record (PUT /v1/products/{id})")

    def shop_reply(self, reply_id: str) -> StandardReply:
        """A reply of the shop's own (404 for an unknown id, 409 for one of the corpus's)."""
        reply = self.index.corpus.replies.get(reply_id)
        if reply is None:
            raise NotFound(f"unknown reply_id {reply_id!r}")
        if reply.source != SHOP:
            raise Conflict(
                f"reply {reply_id!r} is the corpus's (from {reply.source}): only the shop's own replies change here; "
                "corpus replies are edited in scripts_corpus/knowledge"
            )
        if reply.knowledge_point in self.product_points:
            raise Conflict(f"reply {reply_id!r} belongs to product {self.product_points[reply.knowledge_point]!r}: "
                           "change it with the product (PUT /v1/products/{id})")
        return reply

    def edit_shop_reply(self, reply_id: str, record: dict, persist: Callable[[dict], None]) -> StandardReply:
        """Replace a shop reply's record (same id), validated like an addition; stored first, then indexed."""
        old = self.shop_reply(reply_id)
        try:
            reply = parse_shop_reply({**record, "id": reply_id}, "reply")
        except CorpusError as exc:
            raise InvalidReply(str(exc)) from None

        self._not_on_a_product(reply)

        def edit(points: dict[str, KnowledgePoint]) -> dict[str, KnowledgePoint]:
            points = _without_reply(points, old)
            _, point = attach(points, reply)
            return {**points, point.id: point}

        index = self._change(edit, lambda: persist({**record, "id": reply_id}))
        return index.corpus.replies[reply_id]

    def retire_shop_reply(self, reply_id: str, persist: Callable[[], None]) -> None:
        """Take a shop reply out of the suggestions (its record stays, marked retired)."""
        old = self.shop_reply(reply_id)
        self._change(lambda points: _without_reply(points, old), persist)

    def _products_edit(self, products: list[Product]) -> Callable[[dict[str, KnowledgePoint]], dict[str, KnowledgePoint]]:
        """The edit that puts these products' own points in place of the previous products'."""
        current = dict(self.product_points)

        def edit(points: dict[str, KnowledgePoint]) -> dict[str, KnowledgePoint]:
            kept = {pid: p for pid, p in points.items() if pid not in current}
            for product in products:
                for point in product.knowledge:
                    if point.id in kept:
                        raise Conflict(f"product {product.id!r}: knowledge point {point.id!r} has the id of another point")
                    kept[point.id] = point
            try:
                ReplyCorpus.of([r for p in kept.values() for r in p.replies])
            except CorpusError as exc:
                raise Conflict(f"a product's reply id is taken: {exc}") from None
            return kept

        return edit

    def check_products(self, products: Iterable[Product]) -> None:
        """Refuse (409) products whose own points or replies take ids the corpus, the shop or another product use."""
        self._products_edit(list(products))(dict(self.index.points))

    def set_products(self, products: Iterable[Product]) -> None:
        """The shop's products changed: their own knowledge points replace the previous products'."""
        products = list(products)
        self._change(self._products_edit(products), lambda: None)
        self.product_points = {point.id: product.id for product in products for point in product.knowledge}

    def _change(self, edit, persist: Callable[[], None]) -> ReplyIndex:
        try:
            return self.library.change(edit, persist)
        except CorpusError as exc:  # a duplicate reply id among the points
            raise Conflict(str(exc)) from None

    def list(self, intent: str | None, category: str | None, source: str | None, q: str | None) -> list[StandardReply]:
        return [
            r
            for r in self.index.corpus
            if (intent is None or intent in r.intents)
            and (category is None or r.category == category)
            and (source is None or (r.source == SHOP) == (source == "shop"))
            and (q is None or q in r.text)
        ]
