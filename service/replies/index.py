"""The reply index: every knowledge point with its replies, each reply's vector and tags as arrays.

An index is an immutable snapshot. Adding a shop reply builds a new index (embedding only the new reply)
and `ReplyLibrary` swaps the reference under a lock, so a request reading the index never sees arrays of
different lengths or a dict that changes under it.
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Callable, Iterable, Mapping

import numpy as np

from intents.encoder import DiskCachedEncoder, Encoder
from intents.labels import INTENTS
from service.errors import Conflict, InvalidReply
from service.replies.corpus import ReplyCorpus, StandardReply
from service.replies.knowledge import KnowledgePoint, is_outside


@dataclass(frozen=True)
class ReplyFacts:
    """Per reply (rows in index order): its intents, category, psychology, severity, source."""

    intents: np.ndarray  # (replies, intents) bool, columns in INTENTS order
    category: np.ndarray  # (replies,) str
    psychology: dict[str, np.ndarray]  # id → (replies,) bool
    severity: np.ndarray  # (replies,) str ("" when none)
    shop: np.ndarray  # (replies,) bool: the shop's own, not from the corpus files
    ids: np.ndarray  # (replies,) object

    @classmethod
    def of(cls, replies: list[StandardReply]) -> "ReplyFacts":
        types = {p for r in replies for p in r.psychology}
        return cls(
            intents=np.array([[i in r.intents for i in INTENTS] for r in replies], dtype=bool).reshape(len(replies), len(INTENTS)),
            category=np.array([r.category for r in replies], dtype=object),
            psychology={p: np.array([p in r.psychology for r in replies], dtype=bool) for p in types},
            severity=np.array([r.severity or "" for r in replies], dtype=object),
            shop=np.array([r.source == "shop" for r in replies], dtype=bool),
            ids=np.array([r.id for r in replies], dtype=object),
        )

    def appended(self, reply: StandardReply) -> "ReplyFacts":
        """These facts with one more reply's row (new arrays: the old ones are never changed)."""
        row = ReplyFacts.of([reply])
        types = set(self.psychology) | set(row.psychology)
        return ReplyFacts(
            intents=np.vstack([self.intents, row.intents]),
            category=np.concatenate([self.category, row.category]),
            psychology={
                p: np.concatenate([self.psychology.get(p, np.zeros(len(self.ids), bool)), row.psychology.get(p, np.zeros(1, bool))])
                for p in types
            },
            severity=np.concatenate([self.severity, row.severity]),
            shop=np.concatenate([self.shop, row.shop]),
            ids=np.concatenate([self.ids, row.ids]),
        )


def shop_point(reply: StandardReply) -> KnowledgePoint:
    """A point of its own for a shop reply that names none: asked as its triggers (or its text) say."""
    return KnowledgePoint(
        id=f"shop.{reply.id}", label=reply.text[:14], intents=reply.intents, stage=reply.stage,
        scope="本店自己的回复", phrasings=reply.triggers or (reply.text,), replies=(reply,), source="shop",
    )


def attach(points: Mapping[str, KnowledgePoint], reply: StandardReply) -> tuple[StandardReply, KnowledgePoint]:
    """The reply tied to its point: the one it names (which must exist), else a point of its own."""
    if reply.knowledge_point is None:
        point = shop_point(reply)
        reply = dataclasses.replace(reply, knowledge_point=point.id)
        return reply, dataclasses.replace(point, replies=(reply,))
    point = points.get(reply.knowledge_point)
    if point is None:
        raise InvalidReply(f"reply {reply.id!r}: unknown knowledge point {reply.knowledge_point!r}")
    return reply, dataclasses.replace(point, replies=(*point.replies, reply))


@dataclass(frozen=True)
class ReplyIndex:
    corpus: ReplyCorpus  # every reply by id
    points: Mapping[str, KnowledgePoint]  # every point by id, with all its replies (the shop's included)
    ids: tuple[str, ...]  # reply ids in row order
    rows: Mapping[str, int]  # reply id → row
    text_vectors: np.ndarray  # (replies, dim): what each reply says, for diversity
    facts: ReplyFacts
    # Phrasings of the points the knowledge model was not trained on (the shop's own), matched by similarity.
    extra_vectors: np.ndarray
    extra_owner: tuple[str, ...]

    @classmethod
    def build(
        cls, points: Iterable[KnowledgePoint], shop: Iterable[StandardReply], encoder: Encoder,
        known: Iterable[str] = (), cache_dir: Path | None = None, point_encoder: Encoder | None = None,
    ) -> "ReplyIndex":
        """`encoder` embeds the replies (for diversity), `point_encoder` (default: the same) the phrasings of
        the points the knowledge model does not know, in the space of the messages' own vectors."""
        by_id = {p.id: p for p in points}
        for reply in shop:
            reply, point = attach(by_id, reply)
            by_id[point.id] = point
        replies = [r for p in by_id.values() for r in p.replies]
        corpus = ReplyCorpus.of(replies)
        # The corpus is embedded through the disk cache (the same texts at every start).
        embedder = DiskCachedEncoder(encoder, cache_dir) if cache_dir else encoder
        vectors = embedder.encode([r.text for r in replies], passage=True)
        phrasings = point_encoder or encoder
        if cache_dir and point_encoder is not None:
            phrasings = DiskCachedEncoder(point_encoder, cache_dir)
        known = set(known)
        # An outside point is never matched by its phrasings: a model trained before it existed leaves it out.
        extra = [(p.id, t) for p in by_id.values() if p.id not in known and not is_outside(p.id) for t in p.phrasings]
        extra_vectors = phrasings.encode([t for _, t in extra]) if extra else np.zeros((0, phrasings.dim), np.float32)
        ids = tuple(r.id for r in replies)
        return cls(
            corpus, MappingProxyType(by_id), ids, MappingProxyType({r: i for i, r in enumerate(ids)}), vectors,
            ReplyFacts.of(replies), extra_vectors, tuple(p for p, _ in extra),
        )

    def with_reply(self, reply: StandardReply, encoder: Encoder, point_encoder: Encoder | None = None) -> "ReplyIndex":
        """A new index with one more reply (a shop addition), embedding only what is new."""
        if reply.id in self.corpus.replies:
            raise Conflict(f"a reply with id {reply.id!r} already exists")
        reply, point = attach(self.points, reply)
        points = {**self.points, point.id: point}
        new_point = point.source == "shop" and point.id not in self.points
        extra_vectors, extra_owner = self.extra_vectors, self.extra_owner
        if new_point:
            extra_vectors = np.vstack([extra_vectors, (point_encoder or encoder).encode(list(point.phrasings))])
            extra_owner = (*extra_owner, *[point.id] * len(point.phrasings))
        return ReplyIndex(
            self.corpus.with_reply(reply),
            MappingProxyType(points),
            (*self.ids, reply.id),
            MappingProxyType({**self.rows, reply.id: len(self.ids)}),
            np.vstack([self.text_vectors, encoder.encode([reply.text], passage=True)]),
            self.facts.appended(reply),
            extra_vectors,
            extra_owner,
        )

    def rebuilt(self, points: Mapping[str, KnowledgePoint], encoder: Encoder, point_encoder: Encoder | None = None) -> "ReplyIndex":
        """A new index over `points` (every point with all its replies), embedding only the replies and the
        phrasings this one does not already hold: an edited, retired or added shop reply, a product's points."""
        replies = [r for p in points.values() for r in p.replies]
        corpus = ReplyCorpus.of(replies)
        kept = [self.rows.get(r.id) if r.id in self.corpus.replies and self.corpus.replies[r.id].text == r.text else None for r in replies]
        new = [r.text for r, row in zip(replies, kept) if row is None]
        fresh = iter(encoder.encode(new, passage=True)) if new else iter(())
        dim = self.text_vectors.shape[1]
        vectors = np.vstack([self.text_vectors[row] if row is not None else next(fresh) for row in kept]) if replies else np.zeros((0, dim), np.float32)
        old_extra = {(owner, i): n for n, (owner, i) in enumerate(_numbered(self.extra_owner))}
        owners = set(self.extra_owner)
        extra = [(p.id, t) for p in points.values() if p.id in owners or p.source in ("shop", "product") for t in p.phrasings]
        unchanged = {p.id for p in points.values() if p.id in self.points and self.points[p.id].phrasings == p.phrasings}
        rows = [old_extra.get((pid, i)) if pid in unchanged else None for pid, i in _numbered([o for o, _ in extra])]
        todo = [t for (_, t), row in zip(extra, rows) if row is None]
        fresh_extra = iter((point_encoder or encoder).encode(todo)) if todo else iter(())
        extra_vectors = (
            np.vstack([self.extra_vectors[row] if row is not None else next(fresh_extra) for row in rows])
            if extra else np.zeros((0, self.extra_vectors.shape[1]), np.float32)
        )
        ids = tuple(r.id for r in replies)
        return ReplyIndex(
            corpus, MappingProxyType(dict(points)), ids, MappingProxyType({r: i for i, r in enumerate(ids)}), vectors,
            ReplyFacts.of(replies), extra_vectors, tuple(o for o, _ in extra),
        )


def _numbered(owners: Iterable[str]) -> list[tuple[str, int]]:
    """(owner, n): the n-th phrasing of each owner, in order."""
    seen: dict[str, int] = {}
    out = []
    for owner in owners:
        out.append((owner, seen.get(owner, 0)))
        seen[owner] = seen.get(owner, 0) + 1
    return out


class ReplyLibrary:
    """The current reply index. Requests take `current` once and use that snapshot throughout;
    an addition builds the next snapshot and swaps it in under a lock."""

    def __init__(self, index: ReplyIndex, encoder: Encoder, point_encoder: Encoder | None = None):
        self._index = index
        # The plain encoders (shop additions never touch the disk cache): replies, and phrasings.
        self.encoder = encoder
        self.point_encoder = point_encoder or encoder
        self._lock = threading.Lock()

    @property
    def current(self) -> ReplyIndex:
        return self._index

    def add(self, reply: StandardReply, persist: Callable[[], None]) -> StandardReply:
        """Add `reply` unless its id is taken; `persist` stores it first, so a failed write adds nothing."""
        with self._lock:
            index = self._index.with_reply(reply, self.encoder, self.point_encoder)
            persist()
            self._index = index
            return index.corpus.replies[reply.id]

    def change(self, edit: Callable[[dict[str, KnowledgePoint]], dict[str, KnowledgePoint]], persist: Callable[[], None]) -> ReplyIndex:
        """Apply `edit` to the points (a copy) and swap in the rebuilt index; `persist` stores the change
        first, so a failed write or a bad edit changes nothing."""
        with self._lock:
            points = edit(dict(self._index.points))
            index = self._index.rebuilt(points, self.encoder, self.point_encoder)
            persist()
            self._index = index
            return index
