"""The reply index: each reply's vectors, character n-grams and tags as arrays, for vectorised ranking.

An index is an immutable snapshot. Adding a shop reply builds a new index (embedding only the new
reply) and `ReplyLibrary` swaps the reference under a lock, so a request reading the index never sees
arrays of different lengths or a dict that changes under it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

from intents.encoder import DiskCachedEncoder, Encoder
from intents.labels import INTENTS
from service.errors import Conflict
from service.replies.corpus import ReplyCorpus, StandardReply

# Where in the shopping journey each intent usually sits: a pre-sale size question
# is better served by a 售前 reply than by an after-sale one.
INTENT_STAGE = {
    "size": "售前", "bargain": "售前", "product": "售前", "greeting": "售前",
    "logistics": "售中", "other": "售中", "refund": "售后", "complaint": "售后",
}


@dataclass(frozen=True)
class ReplyFacts:
    """Per reply (rows in index order): its intents, stage fit per intent, category, psychology, severity."""

    intents: np.ndarray  # (replies, intents) bool, columns in INTENTS order
    generic: np.ndarray  # (replies,) bool: tagged with more than two intents
    stage_fit: np.ndarray  # (replies, intents) bool: the reply's stage is the intent's usual one
    category: np.ndarray  # (replies,) str
    category_code: np.ndarray  # (replies,) int
    psychology: dict[str, np.ndarray]  # id → (replies,) bool
    severity: np.ndarray  # (replies,) str ("" when none)
    shop: np.ndarray  # (replies,) bool: added by the shop, not from the corpus files
    ids: np.ndarray  # (replies,) object: the reply ids

    @classmethod
    def of(cls, replies: list[StandardReply]) -> "ReplyFacts":
        intents = np.array([[i in r.intents for i in INTENTS] for r in replies], dtype=bool).reshape(len(replies), len(INTENTS))
        stage_fit = np.array([[r.stage == INTENT_STAGE[i] for i in INTENTS] for r in replies], dtype=bool).reshape(intents.shape)
        category = np.array([r.category for r in replies], dtype=object)
        _, codes = np.unique(category.astype(str), return_inverse=True) if replies else (None, np.zeros(0, dtype=int))
        types = {p for r in replies for p in r.psychology}
        return cls(
            intents=intents,
            generic=np.array([len(r.intents) > 2 for r in replies], dtype=bool),
            stage_fit=stage_fit,
            category=category,
            category_code=np.asarray(codes, dtype=int),
            psychology={p: np.array([p in r.psychology for r in replies], dtype=bool) for p in types},
            severity=np.array([r.severity or "" for r in replies], dtype=object),
            shop=np.array([r.source == "shop" for r in replies], dtype=bool),
            ids=np.array([r.id for r in replies], dtype=object),
        )

    def appended(self, reply: StandardReply) -> "ReplyFacts":
        """These facts with one more reply's row (new arrays: the old ones are never changed)."""
        row = ReplyFacts.of([reply])
        category = np.concatenate([self.category, row.category])
        _, codes = np.unique(category.astype(str), return_inverse=True)
        types = set(self.psychology) | set(row.psychology)
        return ReplyFacts(
            intents=np.vstack([self.intents, row.intents]),
            generic=np.concatenate([self.generic, row.generic]),
            stage_fit=np.vstack([self.stage_fit, row.stage_fit]),
            category=category,
            category_code=np.asarray(codes, dtype=int),
            psychology={
                p: np.concatenate([self.psychology.get(p, np.zeros(len(self.ids), bool)), row.psychology.get(p, np.zeros(1, bool))])
                for p in types
            },
            severity=np.concatenate([self.severity, row.severity]),
            shop=np.concatenate([self.shop, row.shop]),
            ids=np.concatenate([self.ids, row.ids]),
        )


@dataclass(frozen=True)
class ReplyIndex:
    """Reply vectors, computed once: each reply's text (as a passage) and its triggers (as queries)."""

    corpus: ReplyCorpus
    ids: tuple[str, ...]
    text_vectors: np.ndarray  # (replies, dim), for diversity
    match_vectors: np.ndarray  # (text + triggers, dim), for relevance
    match_owner: np.ndarray  # reply row of each match vector
    lexical: TfidfVectorizer  # character n-grams of texts and triggers, fitted on the corpus
    match_terms: sparse.csr_matrix  # (text + triggers, terms), rows as match_vectors
    facts: ReplyFacts

    @classmethod
    def build(cls, corpus: ReplyCorpus, encoder: Encoder, cache_dir: Path | None = None) -> "ReplyIndex":
        replies = list(corpus)
        lexical = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 2), sublinear_tf=True)
        lexical.fit([r.text for r in replies] + [t for r in replies for t in r.triggers])
        # The corpus is embedded through the disk cache (the same texts at every start).
        embedder = DiskCachedEncoder(encoder, cache_dir) if cache_dir else encoder
        texts, matches, owners, terms = _vectors(replies, 0, embedder, lexical)
        return cls(corpus, tuple(r.id for r in replies), texts, matches, owners, lexical, terms, ReplyFacts.of(replies))

    def with_reply(self, reply: StandardReply, encoder: Encoder) -> "ReplyIndex":
        """A new index with one more reply (a shop addition), embedding only that reply."""
        texts, matches, owners, terms = _vectors([reply], len(self.ids), encoder, self.lexical)
        corpus = self.corpus.with_reply(reply)
        ids = (*self.ids, reply.id)
        return ReplyIndex(
            corpus,
            ids,
            np.vstack([self.text_vectors, texts]),
            np.vstack([self.match_vectors, matches]),
            np.concatenate([self.match_owner, owners]),
            self.lexical,
            sparse.vstack([self.match_terms, terms]).tocsr(),
            self.facts.appended(reply),
        )

    def _best_per_reply(self, sims: np.ndarray) -> np.ndarray:
        best = np.full(len(self.ids), -1.0)
        np.maximum.at(best, self.match_owner, sims)
        return best

    def similarity(self, message_vector: np.ndarray, message_text: str, lexical_share: float) -> np.ndarray:
        """How close each reply (its text or one of its triggers) is to the message, in [0, 1].

        Sentence-embedding cosines of short shop sentences crowd into a narrow
        band, so they are rescaled per message (median → 0, best → 1); the
        character-overlap cosine sharpens what the embedding blurs.
        """
        dense = self._best_per_reply(self.match_vectors @ message_vector)
        middle, top = np.median(dense), dense.max()
        dense = np.clip((dense - middle) / max(top - middle, 1e-6), 0.0, 1.0)
        terms = self.lexical.transform([message_text])
        lexical = self._best_per_reply((self.match_terms @ terms.T).toarray().ravel())
        lexical = lexical / max(lexical.max(), 1e-6)
        return (1 - lexical_share) * dense + lexical_share * lexical


def _vectors(replies: list[StandardReply], first_row: int, encoder: Encoder, lexical: TfidfVectorizer):
    """Text vectors, match vectors (texts then triggers), each match row's reply row, and n-gram rows."""
    texts = encoder.encode([r.text for r in replies], passage=True)
    triggers = [(row, t) for row, r in enumerate(replies, start=first_row) for t in r.triggers]
    trigger_vectors = encoder.encode([t for _, t in triggers])
    owners = np.concatenate([np.arange(first_row, first_row + len(replies)), [row for row, _ in triggers]]).astype(int)
    matches = np.vstack([texts, trigger_vectors]) if triggers else texts
    terms = lexical.transform([r.text for r in replies] + [t for _, t in triggers])
    return texts, matches, owners, terms


class ReplyLibrary:
    """The current reply index. Requests take `current` once and use that snapshot throughout;
    an addition builds the next snapshot and swaps it in under a lock."""

    def __init__(self, index: ReplyIndex, encoder: Encoder):
        self._index = index
        self.encoder = encoder  # the plain encoder: shop additions never touch the disk cache
        self._lock = threading.Lock()

    @property
    def current(self) -> ReplyIndex:
        return self._index

    def add(self, reply: StandardReply, persist: Callable[[], None]) -> None:
        """Add `reply` unless its id is taken; `persist` stores it first, so a failed write adds nothing."""
        with self._lock:
            if reply.id in self._index.corpus.replies:
                raise Conflict(f"a reply with id {reply.id!r} already exists")
            index = self._index.with_reply(reply, self.encoder)
            persist()
            self._index = index
