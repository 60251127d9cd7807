"""rank_replies: pick a short, diverse list of corpus replies that fit a message."""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

from intents.encoder import CachedEncoder, Encoder
from intents.labels import INTENT_LABELS, INTENTS
from scripts_corpus.corpus import Reply, ReplyCorpus

# Where in the shopping journey each intent usually sits (domain.md): a
# pre-sale size question is better served by a 售前 reply than by an after-sale one.
INTENT_STAGE = {
    "size": "售前", "bargain": "售前", "product": "售前", "greeting": "售前",
    "logistics": "售中", "other": "售中", "refund": "售后", "complaint": "售后",
}

# Feedback actions and how much each says about a reply's fit: a sent reply
# was used as it was; an edited one was a good start; a click is interest.
ACTION_WEIGHTS = {"sent": (1.0, 0.0), "edited": (0.7, 0.0), "clicked": (0.3, 0.0), "dismissed": (0.0, 1.0)}


@dataclass(frozen=True)
class RankingWeights:
    """How the parts of a reply's score add up (see `rank_replies`)."""

    intent: float = 0.55
    semantic: float = 0.30
    psychology: float = 0.15
    adoption: float = 0.15
    stage: float = 0.05
    severity: float = 0.05  # a reply written for the complaint's severity (ordinary / serious)
    # The shop's own replies (POST /v1/replies) speak for its products: where one and a corpus
    # reply say the same thing, diversity keeps only one of them, and it should be the shop's.
    shop: float = 0.05
    mmr_lambda: float = 0.75  # 1 = relevance only, 0 = diversity only
    same_category: float = 0.05  # extra penalty per picked reply of the same etiquette category
    prior_strength: float = 8.0  # pseudo-observations behind the neutral 0.5 prior
    min_intent_confidence: float = 0.05
    lexical_share: float = 0.5  # of the similarity term: character overlap vs sentence embedding
    generic_discount: float = 0.85  # intent fit of a reply tagged for more than two intents
    # e5 cosines between unrelated Chinese shop sentences sit near 0.85; for
    # redundancy between two replies this maps [0.85, 0.97] to [0, 1].
    redundancy_floor: float = 0.85
    redundancy_ceiling: float = 0.97


@dataclass
class RankedReply:
    reply: Reply
    score: float
    intent: str
    why: str


class AdoptionPriors:
    """Smoothed adoption rate of each reply for each intent, learnt from agents' feedback.

    prior = (positive + k·0.5) / (positive + negative + k): with k pseudo
    observations at 0.5, one click barely moves it, fifty sends move it a lot.
    """

    def __init__(self, strength: float = RankingWeights.prior_strength):
        self.strength = strength
        self._counts: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
        self._lock = threading.Lock()

    def record(self, reply_id: str, intent: str, action: str) -> None:
        positive, negative = ACTION_WEIGHTS[action]
        with self._lock:
            counts = self._counts[(reply_id, intent)]
            counts[0] += positive
            counts[1] += negative

    def prior(self, reply_id: str, intent: str) -> float:
        positive, negative = self._counts.get((reply_id, intent), (0.0, 0.0))
        return (positive + self.strength * 0.5) / (positive + negative + self.strength)

    def counts(self, reply_id: str, intent: str) -> tuple[float, float]:
        return tuple(self._counts.get((reply_id, intent), (0.0, 0.0)))  # type: ignore[return-value]


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

    @classmethod
    def of(cls, replies: list[Reply]) -> "ReplyFacts":
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
        )


@dataclass
class ReplyIndex:
    """Reply vectors, computed once: each reply's text (as a passage) and its triggers (as queries)."""

    corpus: ReplyCorpus
    encoder: Encoder  # the plain encoder: requests and shop additions never touch the disk cache
    ids: list[str] = field(default_factory=list)
    text_vectors: np.ndarray | None = None  # (replies, dim), for diversity
    match_vectors: np.ndarray | None = None  # (text + triggers, dim), for relevance
    match_owner: np.ndarray | None = None  # reply row of each match vector
    lexical: TfidfVectorizer | None = None  # character n-grams of texts and triggers
    match_terms: object = None  # sparse (text + triggers, terms), rows as match_vectors
    _facts: "ReplyFacts | None" = field(default=None, repr=False)

    @classmethod
    def build(cls, corpus: ReplyCorpus, encoder: Encoder, cache_dir: Path | None = None) -> "ReplyIndex":
        index = cls(corpus, encoder)
        replies = list(corpus)
        index.lexical = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 2), sublinear_tf=True)
        index.lexical.fit([r.text for r in replies] + [t for r in replies for t in r.triggers])
        # The corpus is embedded through the disk cache (the same texts at every start).
        index._embed(replies, CachedEncoder(encoder, cache_dir) if cache_dir else encoder)
        return index

    def _embed(self, replies: list[Reply], encoder: Encoder) -> None:
        texts = encoder.encode([r.text for r in replies], passage=True)
        triggers = [(row, t) for row, r in enumerate(replies, start=len(self.ids)) for t in r.triggers]
        trigger_vectors = encoder.encode([t for _, t in triggers])
        owners = np.concatenate([np.arange(len(self.ids), len(self.ids) + len(replies)), [row for row, _ in triggers]])
        matches = np.vstack([texts, trigger_vectors]) if len(triggers) else texts
        terms = self.lexical.transform([r.text for r in replies] + [t for _, t in triggers])
        if self.text_vectors is None:
            self.text_vectors, self.match_vectors, self.match_owner = texts, matches, owners.astype(int)
            self.match_terms = terms
        else:
            self.text_vectors = np.vstack([self.text_vectors, texts])
            self.match_vectors = np.vstack([self.match_vectors, matches])
            self.match_owner = np.concatenate([self.match_owner, owners.astype(int)])
            self.match_terms = sparse.vstack([self.match_terms, terms]).tocsr()
        self.ids += [r.id for r in replies]
        self._facts = None

    @property
    def facts(self) -> "ReplyFacts":
        """The replies' tags as arrays, rebuilt after an addition, so scoring is vectorised."""
        if self._facts is None:
            self._facts = ReplyFacts.of([self.corpus.replies[i] for i in self.ids])
        return self._facts

    def add(self, reply: Reply) -> None:
        """Index one more reply (a shop addition) without re-embedding the corpus."""
        self.corpus.add(reply)
        self._embed([reply], self.encoder)

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


_TIE_ORDER = np.array(sorted(range(len(INTENTS)), key=lambda j: INTENTS[j], reverse=True))


def _redundancy(similarity: np.ndarray, weights: RankingWeights) -> np.ndarray:
    span = weights.redundancy_ceiling - weights.redundancy_floor
    return np.clip((similarity - weights.redundancy_floor) / span, 0.0, 1.0)


def rank_replies(
    message_vector: np.ndarray,
    message_text: str,
    intents: list[tuple[str, float]],
    index: ReplyIndex,
    priors: AdoptionPriors,
    top_k: int = 5,
    psychology: str | None = None,
    categories: tuple[str, ...] | None = None,
    weights: RankingWeights = RankingWeights(),
    severity: str | None = None,
    psychology_confidence: float = 1.0,
    exclude: frozenset[str] = frozenset(),
    similarity: np.ndarray | None = None,
) -> list[RankedReply]:
    """Score candidate replies and pick `top_k` by maximal marginal relevance.

    Candidates are the replies tagged with an intent the classifier found
    (confidence ≥ `min_intent_confidence`), limited to `categories` if given,
    less the ids in `exclude` (replies already placed above this list).
    score = intent·(confidence of the reply's best-matching intent, discounted
                   for generic replies tagged with more than two intents)
          + semantic·(similarity of message and reply text/triggers: embedding and characters)
          + psychology·(confidence of the detected type, if the reply is tagged for it)
          + stage·(1 if the reply is for the intent's usual stage: 售前/售中/售后)
          + severity·(1 if the reply is written for the complaint's severity)
          + shop·(1 if the shop added the reply itself)
          + adoption·(2·prior − 1), the smoothed adoption rate for that intent.
    Then each pick maximises λ·score − (1−λ)·(similarity to replies already
    picked) − (a small penalty per picked reply of the same etiquette
    category), so the top of the list never says the same thing twice.
    """
    facts = index.facts
    confidence = np.full(len(INTENTS), -1.0)
    for intent, conf in intents:
        if conf >= weights.min_intent_confidence:
            confidence[INTENTS.index(intent)] = conf
    # Each reply's best-fitting intent among those found; a reply for none of them is no candidate.
    # Columns in descending id order, so a tie goes to the same intent as max((confidence, id)).
    fits = np.where(facts.intents, confidence, -1.0)[:, _TIE_ORDER]
    best = _TIE_ORDER[fits.argmax(axis=1)]
    intent_fit = fits.max(axis=1)
    keep = intent_fit >= 0
    if categories is not None:
        keep &= np.isin(facts.category, list(categories))
    if exclude:
        keep &= ~np.isin(np.array(index.ids, dtype=object), list(exclude))
    rows = np.flatnonzero(keep)
    if not len(rows):
        return []
    if similarity is None:  # a caller ranking several lists for one message computes it once
        similarity = index.similarity(message_vector, message_text, weights.lexical_share)
    semantic = similarity[rows]
    best, intent_fit = best[rows], intent_fit[rows]
    intent_fit = np.where(facts.generic[rows], intent_fit * weights.generic_discount, intent_fit)  # generic replies yield
    member = facts.psychology.get(psychology) if psychology else None
    psych_fit = member[rows] * psychology_confidence if member is not None else np.zeros(len(rows))
    stage_fit = facts.stage_fit[rows, best].astype(float)
    severity_fit = (facts.severity[rows] == severity).astype(float) if severity else np.zeros(len(rows))
    ids = [index.ids[r] for r in rows]
    prior = np.array([priors.prior(reply_id, INTENTS[j]) for reply_id, j in zip(ids, best)])
    scores = (
        weights.intent * intent_fit
        + weights.semantic * semantic
        + weights.psychology * psych_fit
        + weights.stage * stage_fit
        + weights.severity * severity_fit
        + weights.shop * facts.shop[rows]
        + weights.adoption * (2 * prior - 1)
    )
    vectors = index.text_vectors[rows]
    codes = facts.category_code[rows]
    chosen: list[int] = []
    while len(chosen) < min(top_k, len(rows)):
        if chosen:
            redundancy = (vectors @ vectors[chosen].T).max(axis=1)
            repeats = np.bincount(codes[chosen], minlength=codes.max() + 1)[codes]
            mmr = (
                weights.mmr_lambda * scores
                - (1 - weights.mmr_lambda) * _redundancy(redundancy, weights)
                - weights.same_category * repeats
            )
        else:
            mmr = scores.copy()
        mmr[chosen] = -np.inf
        chosen.append(int(mmr.argmax()))
    ranked = []
    for i in chosen:
        intent = INTENTS[best[i]]
        positive, negative = priors.counts(ids[i], intent)
        why = f"{INTENT_LABELS[intent]} {intent_fit[i]:.2f} · 语义 {semantic[i]:.2f}"
        if psych_fit[i]:
            why += f" · 心理 {psychology}"
        if facts.shop[rows[i]]:
            why += " · 本店"
        if positive or negative:
            why += f" · 采纳 {prior[i]:.2f} (+{positive:g}/−{negative:g})"
        ranked.append(RankedReply(index.corpus.replies[ids[i]], float(scores[i]), intent, why))
    return ranked
