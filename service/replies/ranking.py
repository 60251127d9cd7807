"""rank_replies: pick a short, diverse list of replies that fit a read message."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from intents.labels import INTENT_LABELS, INTENTS
from service.replies.corpus import StandardReply
from service.replies.index import ReplyIndex
from service.replies.priors import AdoptionPriors


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
    min_intent_confidence: float = 0.05
    lexical_share: float = 0.5  # of the similarity term: character overlap vs sentence embedding
    generic_discount: float = 0.85  # intent fit of a reply tagged for more than two intents
    # e5 cosines between unrelated Chinese shop sentences sit near 0.85; for
    # redundancy between two replies this maps [0.85, 0.97] to [0, 1].
    redundancy_floor: float = 0.85
    redundancy_ceiling: float = 0.97


@dataclass(frozen=True)
class RankedReply:
    reply: StandardReply
    score: float
    intent: str
    why: str


@dataclass(frozen=True)
class ReplyQuery:
    """What the ranking needs to know of a read message."""

    vector: np.ndarray  # the message's sentence vector, in the reply index's space
    text: str  # the normalised message (for a follow-up, with the turn it leans on)
    intents: tuple[tuple[str, float], ...]  # every intent with its confidence, best first
    psychology: str | None = None
    psychology_confidence: float = 1.0
    severity: str | None = None  # complaint flow: "ordinary" | "serious"

    def with_intents(self, intents) -> "ReplyQuery":
        return ReplyQuery(self.vector, self.text, tuple(intents), self.psychology, self.psychology_confidence, self.severity)


_TIE_ORDER = np.array(sorted(range(len(INTENTS)), key=lambda j: INTENTS[j], reverse=True))


def _redundancy(similarity: np.ndarray, weights: RankingWeights) -> np.ndarray:
    span = weights.redundancy_ceiling - weights.redundancy_floor
    return np.clip((similarity - weights.redundancy_floor) / span, 0.0, 1.0)


def rank_replies(
    query: ReplyQuery,
    index: ReplyIndex,
    priors: AdoptionPriors,
    top_k: int = 5,
    categories: tuple[str, ...] | None = None,
    exclude: frozenset[str] = frozenset(),
    similarity: np.ndarray | None = None,
    weights: RankingWeights = RankingWeights(),
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
    psychology, psychology_confidence, severity = query.psychology, query.psychology_confidence, query.severity
    confidence = np.full(len(INTENTS), -1.0)
    for intent, conf in query.intents:
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
        keep &= ~np.isin(facts.ids, list(exclude))
    rows = np.flatnonzero(keep)
    if not len(rows):
        return []
    if similarity is None:  # a caller ranking several lists for one message computes it once
        similarity = index.similarity(query.vector, query.text, weights.lexical_share)
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
