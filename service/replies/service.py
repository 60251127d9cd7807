"""The reply service: which replies to offer for a read message, in what order, filled in.

It owns the order of the list: an apology or empathy reply first for an angry customer, a clarifying
(holding) reply next when the intent is unsure (a handoff), then the best diverse answers. The API
and the CLI's evaluation both ask it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping


from intents.analyzer import Analyzer, Reading
from intents.caching import BatchingEncoder, MemoryCachedEncoder
from intents.classifier import EMBED_MAX_CHARS
from intents.encoder import Encoder, EncoderError, NullEncoder, load_ranking_encoder
from service.errors import InvalidReply, NotFound, Unprocessable
from service.replies.corpus import REPLIES_DIR, CorpusError, ReplyCorpus, StandardReply, fill, load_corpus, parse_reply
from service.replies.guidance import Advice
from service.replies.index import ReplyIndex, ReplyLibrary
from service.replies.priors import AdoptionPriors
from service.replies.ranking import RankedReply, RankingWeights, ReplyQuery, rank_replies

log = logging.getLogger("huashu")

# Replies offered for a message; holding replies only come first on a handoff.
ANSWER_CATEGORIES = (
    "opening", "answer", "reassurance", "waiting", "cannot_answer_now", "apology", "empathy",
    "solution", "escalation", "follow_up", "thanks", "closing",
)
# What an angry customer is offered first: the feeling before the facts.
FEELING_CATEGORIES = ("apology", "empathy")


@dataclass(frozen=True)
class OfferedReply:
    """A reply as offered: filled in, scored, with what the agent must still fill."""

    id: str
    text: str
    score: float
    intent: str
    category: str
    missing: tuple[str, ...]
    why: str

    @property
    def needs_edit(self) -> bool:
        return bool(self.missing)


@dataclass(frozen=True)
class Offer:
    replies: list[OfferedReply]
    handoff: bool  # the intent is unsure: the list opens with a clarifying reply


def load_replies(source=REPLIES_DIR, shop_replies: list[dict] = ()) -> ReplyCorpus:
    """The corpus files and the shop's stored replies, validated (a bad record raises with file and line)."""
    shop = [parse_reply(record, f"shop reply {record.get('id')!r}", "shop") for record in shop_replies]
    return load_corpus(source, shop)


@dataclass
class ReplyService:
    library: ReplyLibrary
    priors: AdoptionPriors
    handoff_below: float = 0.5
    # Messages are embedded again for ranking only when the reply encoder is not the classifiers' own.
    query_encoder: Encoder | None = None
    degraded: str | None = None  # the configured reply encoder could not be loaded

    @classmethod
    def load(
        cls,
        analyzer: Analyzer,
        corpus: ReplyCorpus,
        *,
        feedback: list[tuple[str, str, str]] = (),
        encoder: str = "e5-int8",
        model_dir: Path = Path("models"),
        cache_dir: Path | None = None,
        handoff_below: float = 0.5,
        cache_size: int = 8192,
        max_batch: int = 64,
        batch_window: float = 0.002,
    ) -> "ReplyService":
        """The corpus (with the shop's own replies: `load_replies`) indexed with the configured encoder
        (the analyzer's own by default), and the adoption priors replayed from the stored feedback."""
        base = analyzer.base_encoder
        degraded = None
        ranking = base
        if not isinstance(base, NullEncoder):
            try:
                ranking = load_ranking_encoder(encoder, model_dir, base)
            except EncoderError as exc:
                degraded = f"reply encoder {encoder!r} failed to load ({exc}); replies ranked with the built-in encoder"
                log.error("%s", degraded)
        # The corpus vectors come from the disk cache, except in degraded mode (nothing to cache).
        index = ReplyIndex.build(corpus, ranking, None if isinstance(base, NullEncoder) else cache_dir)
        query_encoder = None
        if ranking is not base:
            query_encoder = MemoryCachedEncoder(BatchingEncoder(ranking, max_batch, batch_window), cache_size)
        priors = AdoptionPriors()
        for reply_id, intent, action in feedback:
            priors.record(reply_id, intent, action)
        return cls(ReplyLibrary(index, ranking), priors, handoff_below, query_encoder, degraded)

    @property
    def index(self) -> ReplyIndex:
        return self.library.current

    @property
    def versions(self) -> dict[str, str]:
        corpus = self.index.corpus
        return {"reply_encoder": self.library.encoder.name, "replies": f"{len(corpus)} replies, corpus {corpus.hash[:8]}"}

    def query(self, reading: Reading, advice: Advice) -> ReplyQuery:
        """The ranking's view of a read message."""
        doc = reading.match_doc
        vector = doc.vector
        if self.query_encoder is not None:
            vector = self.query_encoder.encode([doc.text[:EMBED_MAX_CHARS]])[0]
        psychology = reading.psychology
        return ReplyQuery(
            vector=vector,
            text=doc.text,
            intents=tuple(reading.intents),
            psychology=psychology.id,
            psychology_confidence=psychology.confidence if psychology.id else 1.0,
            severity=advice.severity,
        )

    def suggest(self, reading: Reading, advice: Advice, variables: Mapping[str, str], top_k: int = 5) -> Offer:
        return self.offer(self.query(reading, advice), reading.emotion.level, variables, top_k)

    def offer(self, query: ReplyQuery, emotion: str, variables: Mapping[str, str], top_k: int = 5) -> Offer:
        """The replies to offer, in order, and whether to hand off (see the module's docstring)."""
        index = self.index  # one snapshot for the whole request
        handoff = query.intents[0][1] < self.handoff_below
        similarity = index.similarity(query.vector, query.text, RankingWeights().lexical_share)
        ranked: list[RankedReply] = []

        def more(q: ReplyQuery, k: int, categories: tuple[str, ...]) -> None:
            taken = frozenset(r.reply.id for r in ranked)
            ranked.extend(rank_replies(q, index, self.priors, k, categories, exclude=taken, similarity=similarity))

        if emotion == "angry":
            more(query, 1, FEELING_CATEGORIES)
        if handoff:
            more(query.with_intents([(intent, 1.0) for intent, _ in query.intents]), 1, ("holding",))
        more(query, top_k, ANSWER_CATEGORIES)
        return Offer(_filled(ranked, variables, top_k), handoff)

    def credit(self, reply_id: str, request: dict) -> str:
        """The intent a reply of an earlier suggestion is credited under (the one it was suggested for)."""
        replies = self.index.corpus.replies
        if reply_id not in replies:
            raise NotFound(f"unknown reply_id {reply_id!r}")
        if reply_id not in request["replies"]:
            raise Unprocessable(f"reply {reply_id!r} was not suggested in request {request['id']!r}")
        confidence = dict(request["intents"])
        return max((i for i in replies[reply_id].intents if i in confidence), key=confidence.get, default=request["intent"])

    def add_shop_reply(self, record: dict, persist: Callable[[dict], None]) -> StandardReply:
        """Validate a shop's own reply like the corpus, store it with `persist` and index it."""
        try:
            reply = parse_reply(record, "reply", "shop")
        except CorpusError as exc:
            raise InvalidReply(str(exc)) from None
        self.library.add(reply, lambda: persist(record))
        return reply

    def list(self, intent: str | None, category: str | None, source: str | None, q: str | None) -> list[StandardReply]:
        return [
            r
            for r in self.index.corpus
            if (intent is None or intent in r.intents)
            and (category is None or r.category == category)
            and (source is None or (r.source == "shop") == (source == "shop"))
            and (q is None or q in r.text)
        ]


def _filled(ranked: list[RankedReply], variables: Mapping[str, str], top_k: int) -> list[OfferedReply]:
    replies: list[OfferedReply] = []
    seen: set[str] = set()
    for item in ranked:
        text, missing = fill(item.reply.text, dict(variables))
        if text in seen:
            continue
        seen.add(text)
        replies.append(
            OfferedReply(item.reply.id, text, round(item.score, 4), item.intent, item.reply.category, tuple(missing), item.why)
        )
    return replies[:top_k]
