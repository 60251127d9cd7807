"""Which knowledge points a message asks about, read in its conversation.

The knowledge model (a calibrated classifier over the points' phrasings: words, characters, the sentence
embedding and a vote of the nearest phrasings, with a `none` class learnt from messages no point answers)
scores the message on its own. A follow-up that leans on the conversation ("那怎么弄?", "顺丰呢", a pasted
order number) is also scored together with the customer's previous turn, and the point of that turn and of
the agent's last reply weigh in; a message clear on its own keeps its own reading. "None fits" is a real
outcome: the `none` class, or no point confident enough. The `outside.*` points (requests the shop cannot
help with, messages sent to the wrong chat, the customer's platform account, other shops' orders) are learnt
like the others but never listed: when one of them is the best reading none fits, and the match names it so
the reply can say so politely.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from intents.analyzer import Reading, Turn
from intents.asks import after_choice, asks_anything, split_asks
from intents.classifier import EMBED_MAX_CHARS, Document, make_documents
from intents.context import PASTED, is_follow_up, is_short
from intents.encoder import Encoder, encode_mixed
from intents.models import NO_POINT
from intents.normalize import mask_pii, normalize
from intents.segment import Segmenter
from intents.slots import read_slots
from service.replies.knowledge import KnowledgePoint, is_outside
from service.shop.answers import SIZE_ADVICE_POINTS

# A message that is nothing but a number, a code or a phone (the answer to "方便发一下订单号吗？").
_ONLY_DATA = re.compile(r"^[\s\d\-+()（）a-zA-Z:：#]{6,}$")
# A message that only hurries ("快点", "麻烦快点啊", "<order number> 尽快"): it urges on whatever the conversation is about.
_ONLY_URGES = re.compile(r"^(?:亲|麻烦|请|拜托|帮我|你们|能不能|可以)*(?:快点|快一点|快些|尽快|赶紧|抓紧|快|急|着急)+(?:处理|弄)?[啊呀吧哦哈呢了的\s\W_]*$")
# What is left of a turn once its contact details are masked ("[地址] 电话不变", "新地址:[地址] 李先生").
_PLACEHOLDER = re.compile(r"\[[^\]]*\]")
_HAN = re.compile(r"[\u4e00-\u9fff]")
# A province, city, district or county (a 小区 or 社区 is no district).
_ADMIN = re.compile(r"省|市|县|自治区|(?<![小社园校景])区")


def _pasted_address(text: str) -> bool:
    """A turn that is an address the customer pasted, with a few words at most ("<address> 电话不变"): the answer to
    a question, not what the conversation is about."""
    if not _ADMIN.search(text):
        return False  # the masking also takes a sentence about a building for an address ("小区对的 但是栋号写成了8栋")
    masked = mask_pii(text)
    return "[地址]" in masked and len(_HAN.findall(_PLACEHOLDER.sub("", masked))) <= 6


# "改好了吗", "弄好了没", "怎么样了": only whether what was asked is done.
_ONLY_STATUS = re.compile(
    r"^(?:亲|那|请问|所以|现在|我的|帮我)*"
    r"(?:(?:(?:改|弄|办|处理|搞|查|问|催|备注|登记|申请|安排|修改|换)(?:好|完|定|到)?了?|好了|搞定了?|有(?:结果|消息|回复|回音|进展)了?)"
    r"(?:吗|没|没有|么|嘛|不|呢|[?？])|(?:怎么样|咋样|如何)了?(?:吗|呢)?)[?？~。！!\s]*$"
)
# "那L呢", "黑的呢", "那藏青色的呢？": the question before, asked again of another size or colour.
_ANOTHER = re.compile(r"^(?:那|那么|那个|还有|换成)?(?P<value>.+?)(?:的|码|号)?(?:呢|嘞)[?？~。！!\s]*$")


def _names_no_topic(text: str) -> bool:
    """Only a hurry (perhaps with a pasted number), only whether it is done yet, or only another size or colour: no
    topic of its own, the conversation says what it is about."""
    bare = PASTED.sub("", text).strip()
    if _ONLY_URGES.match(bare) or _ONLY_STATUS.match(bare):
        return True
    found = _ANOTHER.match(text.strip())
    if found is None:
        return False
    value = found.group("value")
    slots = read_slots(value)
    if not slots or not set(slots) <= {"size", "colour"}:
        return False
    for said in slots.values():
        value = value.replace(said, "", 1) if said in value else value.replace(said.rstrip("色"), "", 1)
    return not value.strip("的色码号 ")


# A turn that only acknowledges or thanks ("好的谢谢", "嗯嗯 辛苦了", "收到~"): it names no topic.
_ACKNOWLEDGES = re.compile(
    r"^(?:好的?|好吧|行|嗯+|哦+|噢+|ok|okay|谢谢|多谢|感谢|辛苦|麻烦|收到|知道|明白|了解|懂|"
    r"亲|你|您|啦|了|呀|吧|哒|滴|嘞|哟|哈+|啊|呢|的|[\s\W_])+$",
    re.IGNORECASE,
)


# An acknowledgement, an apology, a greeting or a "还有" opening a message, each followed by a pause ("嗯嗯 还有 裤子呢
# 我腰围2尺5", "不好意思啊 刚才看错了 是3栋…"): what the message asks comes after it. Read without it only when it
# made the message read as a greeting point: stripped, "好 那这条裙子…" opens like a follow-up and loses its own topic.
_OPENER = re.compile(
    r"^(?:(?:嗯+|哦+|噢+|喔+|好的?|好吧|好嘞|好滴|行吧?|ok|okay|对的?|是的|收到|明白了?|知道了|了解|谢谢(?:你|您|亲)?(?:啦|了)?|多谢"
    r"|不好意思(?:啊|呀|哈|哦)?|抱歉|打扰(?:一下|了)?|麻烦(?:你|您|亲)?了|你好|您好|亲+|在吗|在不在|哈喽|hello|hi|嗨"
    r"|还有|另外|对了|顺便问下?)(?:[\s,.!~?]+))+",
    re.IGNORECASE,
)
# What follows the opener must ask something of its own: at least this many Chinese characters.
_AFTER_OPENER = 4
GREETING = "greeting."
# How much surer of a point a question must read without the choice told before it, for that reading to be taken.
CHOICE_GAIN = 0.1


def _after_opener(text: str) -> str | None:
    """The message without the courtesy opening it, when it asks something after it; else None ("好嘞 那我拍了" only
    tells)."""
    found = _OPENER.match(text)
    if found is None:
        return None
    rest = text[found.end():]
    return rest if len(_HAN.findall(rest)) >= _AFTER_OPENER and asks_anything(rest) else None


@dataclass(frozen=True)
class MatchWeights:
    """How the views of a message combine (chosen by cross-checking on conversations; see the model card)."""

    confident: float = 0.7  # a message this sure of a point on its own is a new topic: no context
    own_sure: float = 0.45  # from this sure on its own, the context may reorder the message's points but not add any
    # Within the conversation's view: the previous customer turn and the message read together, that turn's
    # own point, and the point the agent's last reply belongs to.
    context: float = 2.0
    previous: float = 0.5
    agent: float = 0.3
    # The first view's sentence vector: the two turns' vectors, each weighted by its length to this power (a
    # longer turn says more, but not in proportion: "还没" must not pull "帮我查下快递到哪了" off its topic).
    length_power: float = 0.3
    # The conversation's share: this times the message's own uncertainty (1 − its best point's probability),
    # for an elliptical follow-up and for any other message; a pasted number or code leans on it entirely.
    follow_up: float = 1.0
    standalone: float = 0.4
    min_confidence: float = 0.15  # below this the best point is not offered as a match
    # Below this the likeliest point is not even what a clarifying question asks about (on the dev sets, where
    # none fitted, the likeliest points under it were nearly all wrong: "嗯那然后呢" asked about 退货单号).
    lean_floor: float = 0.1
    # An `outside.*` point this sure, and the likeliest reading of all, is what a message no point fits is about.
    outside: float = 0.3
    listed: float = 0.03  # points listed in the answer: at least this confident
    max_listed: int = 3
    # A message asking several things ("纯羊毛吗 会不会扎 163 52kg穿M还是L"): each question read on its own names
    # its point when it is this sure of it (and that is its likeliest reading); at most `max_asks` questions read.
    ask: float = 0.4
    # … and this sure when the message read as a whole does not list the point ("怎么理赔" alone reads as a scam
    # question; after "我有运费险吗" it is not one)
    ask_unlisted: float = 0.5
    # … or this sure and `ask_margin` times as sure as any reading but its own, when the whole message lists the point
    # (a question read alone is vaguer than the message: "我就在拉萨 那要补多少钱" is 0.33 the remote areas' fee and
    # 0.16 anything else); when it does not, `ask_clear_unlisted` and `ask_margin_unlisted` ("寄到哪啊": 0.50 the
    # return address, 0.08 anything else)
    ask_clear: float = 0.3
    ask_margin: float = 2.0
    ask_clear_unlisted: float = 0.4
    ask_margin_unlisted: float = 3.0
    max_asks: int = 4


# How a garment should sit ("想穿宽松点"): with measurements, the size advice answers it too.
FIT_STYLE = "size.fit-style"

# Whether a colour is there: the question spreads over the product's colours and its stock.
COLOUR_THERE = frozenset({"product.colour", "product.stock"})

# Points a question of a mixed ask is not answered with in a joined reply: greetings, complaints (a complaint
# gets its own flow: apology first) and a pasted order number.
NOT_JOINED = (GREETING, "complaint.", "order.info-provided")


@dataclass(frozen=True)
class PointMatch:
    id: str
    label: str
    confidence: float


@dataclass(frozen=True)
class Ask:
    """One question of a message asking several things: its words, its point and its sentence vector."""

    text: str
    point: PointMatch
    vector: np.ndarray | None


@dataclass(frozen=True)
class Match:
    points: tuple[PointMatch, ...]  # best first; empty when none fits
    leaning: str | None  # the most likely point even when none fits (what a clarifying reply asks about)
    from_context: bool = False  # the conversation changed the reading of the message
    outside: PointMatch | None = None  # none fits, and the message is outside the shop's service: this `outside.*` point
    # the knowledge model's points, when the shop's own (found by similarity) were merged into `points`
    model_points: tuple[PointMatch, ...] | None = None


class KnowledgeMatcher:
    def __init__(
        self,
        model,
        points: dict[str, KnowledgePoint],
        segmenter: Segmenter,
        encoder: Encoder,
        reply_vectors: np.ndarray | None = None,
        reply_points: Sequence[str] = (),
        weights: MatchWeights = MatchWeights(),
    ):
        self.model = model
        self.points = points
        self.segmenter = segmenter
        self.encoder = encoder
        self.weights = weights
        self.classes = [str(c) for c in model.classes_]
        self._none = self.classes.index(NO_POINT)
        self._column = {c: j for j, c in enumerate(self.classes)}
        # `none` and the `outside.*` points: together, the chance that no point fits.
        self._unlisted = np.array([j == self._none or is_outside(c) for j, c in enumerate(self.classes)], dtype=bool)
        self._outside = np.flatnonzero(self._unlisted & (np.arange(len(self.classes)) != self._none))
        self._listable = np.array([not self._unlisted[j] and c in points for j, c in enumerate(self.classes)], dtype=bool)
        # Points one answer serves together, for a question of a mixed ask: which size to take (the chart's advice for
        # the measurements, which also answers how it should sit: "165 104斤 想穿宽松点 拿M还是L"), and whether a colour
        # is there (the product's colours and stock: "雾霾蓝有没有").
        self._together = [
            np.array([c in group for c in self.classes], dtype=bool) for group in (SIZE_ADVICE_POINTS | {FIT_STYLE}, COLOUR_THERE)
        ]
        # The agent's replies, by point, to tell which point the agent's last turn belonged to.
        self._reply_vectors = reply_vectors
        self._reply_owner = np.array([self._column.get(p, -1) for p in reply_points], dtype=int)

    def _probabilities(self, docs: list[Document]) -> np.ndarray:
        return self.model.predict_proba(docs)

    def _text(self, text: str) -> np.ndarray:
        return self._probabilities(make_documents([text], self.segmenter, self.encoder))[0]

    def _reads_agent(self) -> bool:
        return self.weights.agent > 0 and self._reply_vectors is not None and len(self._reply_owner) > 0

    @staticmethod
    def _embedded(previous: str | None, agent: str | None) -> list[tuple[str, bool]]:
        """What the encoder is given for the views, as (text, passage): the customer's topic turn (normalised)
        as a query and the agent's turn as a reply."""
        wanted = [(previous[:EMBED_MAX_CHARS], False)] if previous is not None else []
        if agent is not None:
            wanted.append((normalize(agent)[:EMBED_MAX_CHARS], True))
        return wanted

    def _view_inputs(self, history: Sequence[Turn]) -> tuple[str | None, str | None]:
        """The customer's topic turn (normalised) and the agent turn read as a reply, if the views read one."""
        customer = [t.text for t in history if t.role == "customer"]
        agent = next((t.text for t in reversed(history) if t.role == "agent"), None)
        previous = self._topic_turn(customer) if customer else None
        return previous, agent if agent is not None and self._reads_agent() else None

    def view_texts(self, history: Sequence[Turn]) -> list[tuple[str, bool]]:
        """What `probabilities` may embed for a message in this conversation, as (text, passage): embedded
        early, beside the message, the views cost no second encoder call when the message turns out unsure.
        They no longer depend on the message (its view with the topic turn reuses the two turns' vectors)."""
        if not history:
            return []
        return self._embedded(*self._view_inputs(history))

    def _views(
        self, message: Document, previous: str | None, agent: str | None, data_only: bool = False
    ) -> tuple[list[np.ndarray], np.ndarray | None]:
        """The point distributions of the message read with the customer's topic turn and of that turn alone,
        and the agent's turn's vector as a reply (passage); what is not cached is embedded in one call.

        The message read with the turn is their words together and a weighted mean of their two sentence vectors
        (embedding the joined text was the longest encoder run of a follow-up; on the conversation dev set the
        mean reads as well, see the model card). A message that is only a number or a code means nothing to the
        encoder: the turn's vector and words stand for both."""
        wanted = self._embedded(previous, agent)
        vectors = encode_mixed(self.encoder, [t for t, _ in wanted], [p for _, p in wanted]) if wanted else None
        docs = []
        if previous is not None:
            topic = Document(previous, tuple(self.segmenter(previous)), vectors[0])
            if data_only:
                # a number alone says nothing of the topic in words either (its digits would pull towards the points
                # whose phrasings happen to carry a pasted number): the view read with it is the topic turn's own
                docs = [topic, topic]
            else:
                own = message.vector
                if own is None:
                    own = encode_mixed(self.encoder, [message.text[:EMBED_MAX_CHARS]], [False])[0]
                power = self.weights.length_power
                together = vectors[0] * len(previous) ** power + own * len(message.text) ** power
                norm = float(np.linalg.norm(together))
                together = together / norm if norm > 1e-6 else np.zeros_like(together)
                joined = f"{previous} {message.text}"
                docs = [Document(joined, tuple(self.segmenter(joined)), together), topic]
        probs = list(self._probabilities(docs)) if docs else []
        return probs, (vectors[-1] if agent is not None else None)

    def _agent_point(self, vector: np.ndarray) -> np.ndarray | None:
        """A distribution over points from how close the agent's turn (its vector as a reply) is to each
        point's replies."""
        if not np.any(vector):
            return None
        sims = self._reply_vectors @ vector
        best = np.full(len(self.classes), -1.0)
        known = self._reply_owner >= 0
        np.maximum.at(best, self._reply_owner[known], sims[known])
        if self._unlisted[int(np.argmax(best))]:
            return None  # the agent's turn was an outside point's polite answer: no topic to lean on
        weights = np.where(best > -1, np.exp((best - best.max()) / 0.02), 0.0)
        weights[self._unlisted] = 0.0
        total = weights.sum()
        return weights / total if total > 0 else None

    @staticmethod
    def _topic_turn(customer: Sequence[str]) -> str:
        """The customer's latest turn that says what the conversation is about: not an elliptical
        follow-up, an acknowledgement, a pasted number or a pasted address ("好", "M", "2207719304482561",
        "<address> 电话不变"). When every turn reads as a follow-up, the latest that is not short ("这个毛衣还有货吗
        想要燕麦色" opens like one, before "M"), else the latest that is more than a thank-you ("地址写错了 能改吗"
        before "好的谢谢")."""
        turns = [normalize(text) for text in customer]
        for normalized in reversed(turns):
            if not is_follow_up(normalized) and not _ONLY_DATA.match(normalized) and not _pasted_address(normalized):
                return normalized
        said = [t for t in turns if not _ACKNOWLEDGES.match(t) and not _ONLY_DATA.match(t)]
        return ([t for t in said if not is_short(t)] or said or turns)[-1]

    def probabilities(self, reading: Reading, history: Sequence[Turn] = ()) -> tuple[np.ndarray, np.ndarray, bool]:
        """The distribution over points (and `none`) for the message in its conversation, the message's
        own, and whether the conversation changed the best point."""
        w = self.weights
        message = reading.doc
        own = self._probabilities([message])[0]
        rest = _after_opener(message.text)
        if rest is not None and self.classes[int(np.argmax(own))].startswith(GREETING):
            # "嗯嗯 还有 裤子呢 …" read as an acknowledgement: what it asks is read without the courtesy opening it
            stripped = make_documents([rest], self.segmenter, self.encoder)[0]
            probs = self._probabilities([stripped])[0]
            if not self.classes[int(np.argmax(probs))].startswith(GREETING):
                message, own = stripped, probs
        asked = after_choice(message.text)
        if asked is not None:
            # "松点的吧 那就拿大那个码 现在拍啥时候能发货": the choice told first blurs what is asked; read without it when
            # that is surer of a point
            stripped = make_documents([asked], self.segmenter, self.encoder)[0]
            probs = self._probabilities([stripped])[0]
            if self._best_point(probs) >= self._best_point(own) + CHOICE_GAIN:
                message, own = stripped, probs
        alone = own
        customer = [t.text for t in history if t.role == "customer"]
        agent = next((t.text for t in reversed(history) if t.role == "agent"), None)
        if not customer and agent is None:
            return own, alone, False
        text = message.text
        data_only = bool(_ONLY_DATA.match(text))
        topicless = data_only or _names_no_topic(text)
        confidence = max(p for j, p in enumerate(own) if j != self._none)
        if confidence >= w.confident and not topicless:
            return own, alone, False  # clear on its own: a new topic keeps its own reading
        follow = is_follow_up(text) or topicless
        if follow:
            # "None" for an elliptical message read alone means it leans on what came before: the
            # conversation decides, not that no point fits.
            own = own.copy()
            own[self._none] = 0.0
            own = own / own.sum() if own.sum() > 0 else own
        # The views of the conversation, mixed in by how unsure the message is on its own (as the intents are).
        views = []
        previous, agent = self._view_inputs(history)
        probs, agent_vector = self._views(message, previous, agent, data_only)
        if previous is not None:
            views += [(w.context, probs[0]), (w.previous, probs[1])]
        if agent_vector is not None:
            agent_point = self._agent_point(agent_vector)
            if agent_point is not None:
                views.append((w.agent, agent_point))
        if not views:
            return own, alone, False  # agent turns alone, none of them near a point: nothing to lean on
        context = sum(weight * p for weight, p in views) / sum(weight for weight, _ in views)
        if follow:
            # A follow-up continues the conversation's topic: the views' "none" does not apply to it.
            context = context.copy()
            context[self._none] = 0.0
            context = context / context.sum() if context.sum() > 0 else context
        share = 1.0 if topicless else min(1.0, (w.follow_up if follow else w.standalone) * (1.0 - confidence))
        mixed = (1.0 - share) * own + share * context
        # Changed by the conversation: another best point than the message's own, or a point at all where the message
        # alone reads as none ("那钱多久到" after a refund question; a follow-up's own "none" was set aside above).
        return mixed, alone, bool(np.argmax(mixed) != np.argmax(alone))

    def _best_point(self, probs: np.ndarray) -> float:
        """The likeliest point's probability (not `none`'s)."""
        return max(p for j, p in enumerate(probs) if j != self._none)

    def asks(self, reading: Reading, listed: Sequence[str] = (), agrees: str | None = None) -> list[Ask]:
        """The separate questions of a message asking several things, each sure of its own point, in the order
        asked (one per point); empty for a message asking one thing. Each question is read on its own: its
        words, not the conversation, say what it asks. A point the whole message does not list (`listed`) must be
        surer. With `agrees` (the message's best point read as a whole), none unless some question's likeliest reading,
        sure or not, is that point (or one answered with it): read as a whole and question by question, the message
        says what it is mostly about."""
        questions = split_asks(reading.doc.text)
        if len(questions) < 2:
            return []
        w = self.weights
        # A question read without the courtesy opening it: "ok 寄到哪啊" alone reads as "ok" (an acknowledgement).
        questions = [_after_opener(q) or q for q in questions]
        docs = make_documents([q[:EMBED_MAX_CHARS] for q in questions[: w.max_asks]], self.segmenter, self.encoder)
        out: dict[str, Ask] = {}
        likeliest = set()
        for doc, probs in zip(docs, self._probabilities(docs)):
            j = int(np.argmax(probs))
            point = self.classes[j]
            # a point one answer serves with others stands for them all
            group = next((g for g in self._together if g[j]), None)
            likeliest |= {self.classes[k] for k in np.flatnonzero(group)} if group is not None else {point}
            floor = w.ask if point in listed else w.ask_unlisted
            # A question which size to take may spread over several such points ("她158 110斤": for someone else,
            # which size, a petite figure), and one whether a colour is there over the colours and the stock; they share
            # one answer, so together they say how sure it is.
            sure = next((probs[group].sum() for group in self._together if group[j]), probs[j])
            clear, margin = (w.ask_clear, w.ask_margin) if point in listed else (w.ask_clear_unlisted, w.ask_margin_unlisted)
            if clear <= sure < floor:
                others = probs.copy()
                others[group if group is not None else j] = 0.0
                floor = max(clear, margin * float(others.max()))
            if not self._listable[j] or sure < floor or point.startswith(NOT_JOINED) or point in out:
                continue
            out[point] = Ask(doc.text, PointMatch(point, self.points[point].label, round(float(probs[j]), 4)), doc.vector)
        return [] if agrees is not None and agrees not in likeliest else list(out.values())

    def sureness(self, doc: Document, points: Iterable[str]) -> float:
        """How sure the model is, reading `doc` alone, that it asks one of `points` (the likeliest of them)."""
        probs = self._probabilities([doc])[0]
        return max((float(probs[self._column[p]]) for p in points if p in self._column), default=0.0)

    def best(self, text: str) -> str | None:
        """The point a normalised text asks about on its own, or None when none fits."""
        probs = self._text(text)
        j = int(np.argmax(probs))
        return None if self._unlisted[j] or probs[j] < self.weights.min_confidence else self.classes[j]

    def match(self, reading: Reading, history: Sequence[Turn] = (), weigh=None) -> Match:
        """The points the message asks about. `weigh(point id)` (optional) scales a point's probability,
        for what the conversation has established (a point about shipped parcels, once shipping is said)."""
        probs, alone, from_context = self.probabilities(reading, history)
        if weigh is not None:
            factors = np.array([1.0 if j == self._none else weigh(c) for j, c in enumerate(self.classes)])
            if np.any(factors != 1.0):
                probs = probs * factors
                probs = probs / probs.sum()
        w = self.weights
        ranked = np.argsort(-probs, kind="stable")
        order = ranked[self._listable[ranked]]
        if not len(order):
            return Match((), None, from_context)
        best = int(order[0])
        leaning = self.classes[best] if probs[best] >= w.lean_floor else None
        if probs[self._unlisted].sum() >= probs[best] or probs[best] < w.min_confidence:
            outside = None
            # A number or a code alone is the answer to a question (an order number), never a misfire.
            text = reading.doc.text
            code = bool(_ONLY_DATA.match(text)) and any(ch.isdigit() for ch in text)
            if len(self._outside) and not code:
                j = int(self._outside[np.argmax(probs[self._outside])])
                # The likeliest reading of all, and the message's own too: an earlier homework question does
                # not make an unsure shop question outside.
                if probs[j] >= w.outside and probs[j] >= probs.max() and alone[j] >= w.outside:
                    outside = PointMatch(self.classes[j], self.points[self.classes[j]].label, round(float(probs[j]), 4))
            return Match((), leaning, from_context, outside)
        listed = [int(j) for j in order[: w.max_listed] if probs[j] >= w.listed] or [best]
        if max(p for j, p in enumerate(alone) if j != self._none) >= w.own_sure and not _names_no_topic(reading.doc.text):
            # Sure on its own: the conversation may reorder the message's points, not add its own topic.
            listed = [j for j in listed if alone[j] >= w.listed] or [best]
        points = tuple(
            PointMatch(self.classes[j], self.points[self.classes[j]].label, round(float(probs[j]), 4)) for j in listed
        )
        return Match(points, leaning, from_context)
