"""Choosing the replies to offer among those of the matched knowledge points.

Each candidate reply is scored by how confident the match of its point is, then by what makes one reply
of a point better than another here: its etiquette category for this message, whether what it presumes
holds, whether every value it needs is known, the customer's psychology, the complaint's severity, the
shop's own wording, and how often agents used it. The list is picked by maximal marginal relevance, so it
never says the same thing twice.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from service.replies.corpus import StandardReply
from service.replies.index import ReplyIndex
from service.replies.priors import AdoptionPriors


@dataclass(frozen=True)
class RankingWeights:
    point: float = 0.6  # × the point's confidence relative to the best point's
    intent: float = 0.05  # × the top intent's confidence, if the reply is written for that intent
    answer: float = 0.10  # answer, solution, reassurance: what the customer asked for
    feeling: float = 0.10  # apology, empathy: for an upset or angry customer (else −feeling / 2)
    holding: float = -0.12  # a clarifying question, when an answer is at hand
    waiting: float = -0.06  # waiting, cannot_answer_now, opening, closing, thanks, escalation, follow_up
    psychology: float = 0.10  # × confidence, if the reply is tagged for the customer's psychology
    severity: float = 0.05  # a complaint reply written for this severity
    shop: float = 0.05  # the shop's own reply (where one says what a corpus reply says, it wins)
    adoption: float = 0.25  # × (2·prior − 1), the smoothed adoption rate for the point's intent
    needs_check: float = 0.25  # it presumes what the conversation has not shown
    # and more when that is the order's or the stock's state ("目前系统里显示有现货" unseen): the point's reply that
    # presumes nothing ("我现在就去系统里帮您查…") leads it (a blind round called such claims not sendable)
    status_check: float = 0.15
    settled: float = 0.05  # it presumes the customer's situation the conversation has shown (the shop's mistake …)
    missing: float = 0.08  # per template value still to fill
    asked_again: float = 0.30  # already sent, offered again because the customer asked again
    asks_known: float = 0.30  # asks the customer for a value the conversation already gave
    reuse: float = 0.06  # per value of the conversation the reply puts in (up to two)
    shop_fact: float = 0.10  # states a fact the shop's profile gives (over a general wording of the same answer)
    goods: float = 0.15  # the best point's reply written for the goods the conversation names ("剩下的先别吃了…"), over
    # its general wording (even one stating a shop fact: "退换运费按本店规则…" is true of the cookies, but not what a
    # child ate needs first)
    # × the reply's cosine to the message (e5: the message as a query, the reply as a passage), among the replies
    # of one kind of one point, shifted so the kind's best score stays: the one answering these words leads.
    relevance: float = 5.0
    mmr_lambda: float = 0.75  # 1 = relevance only, 0 = diversity only
    # e5 cosines between unrelated Chinese shop sentences sit near 0.85; for redundancy between two
    # replies this maps [0.85, 0.97] to [0, 1].
    redundancy_floor: float = 0.85
    redundancy_ceiling: float = 0.97
    per_point: int = 3  # most replies from the best point (2 from any other) when several points are offered
    offer_share: float = 0.3  # a point's replies are offered when its confidence is at least this share of the best's


ANSWER_CATEGORIES = ("answer", "solution", "reassurance")
FEELING_CATEGORIES = ("apology", "empathy")


@dataclass(frozen=True)
class Candidate:
    reply: StandardReply
    point: str
    score: float
    text: str  # filled in
    missing: tuple[str, ...]
    needs_check: str | None
    why: str
    own_facts: bool = False  # the shop's own reply, or one stating a fact of the shop's profile
    parts: tuple[str, ...] = ()  # a joined answer to a mixed ask: the ids of the replies it joins


def category_fit(category: str, emotion: str, weights: RankingWeights = RankingWeights()) -> float:
    if category in ANSWER_CATEGORIES:
        return weights.answer
    if category in FEELING_CATEGORIES:
        return weights.feeling if emotion != "calm" else -weights.feeling / 2
    if category == "holding":
        return weights.holding
    return weights.waiting


def pick(
    candidates: list[Candidate], index: ReplyIndex, k: int, weights: RankingWeights = RankingWeights(), single: bool = False
) -> list[Candidate]:
    """`k` candidates by maximal marginal relevance, at most `per_point` from the best point and two from any
    other (`single`: one point only, all its replies may come)."""
    if not candidates:
        return []
    # Scores that agree to 1e-9 are a tie (kept in candidate order): an answer missing two values and a waiting
    # reply score alike, and floating-point sums of the same terms differ in their last digits.
    scores = np.round(np.array([c.score for c in candidates]), 9)
    vectors = index.text_vectors[[index.rows[c.reply.id] for c in candidates]]
    span = weights.redundancy_ceiling - weights.redundancy_floor
    best_point = candidates[int(scores.argmax())].point
    chosen: list[int] = []
    taken: dict[str, int] = {}
    while len(chosen) < min(k, len(candidates)):
        mmr = scores.copy()
        if chosen:
            redundancy = np.clip(((vectors @ vectors[chosen].T).max(axis=1) - weights.redundancy_floor) / span, 0.0, 1.0)
            mmr = np.round(weights.mmr_lambda * scores - (1 - weights.mmr_lambda) * redundancy, 9)
        for i, c in enumerate(candidates):
            cap = k if single else weights.per_point if c.point == best_point else 2
            if i in chosen or taken.get(c.point, 0) >= cap:
                mmr[i] = -np.inf
        if not np.isfinite(mmr).any():
            break
        i = int(mmr.argmax())
        chosen.append(i)
        taken[candidates[i].point] = taken.get(candidates[i].point, 0) + 1
    return [candidates[i] for i in chosen]


def adoption_term(priors: AdoptionPriors, reply: StandardReply, weights: RankingWeights = RankingWeights()) -> tuple[float, float]:
    """(score term, prior) of a reply's adoption for the intent of its point."""
    prior = priors.prior(reply.id, reply.intents[0])
    return weights.adoption * (2 * prior - 1), prior
