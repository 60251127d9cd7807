"""Adoption priors: how often agents used each reply for each intent, learnt from their feedback."""

from __future__ import annotations

import threading
from collections import defaultdict

# Feedback actions and how much each says about a reply's fit: a sent reply
# was used as it was; an edited one was a good start; a click is interest.
ACTION_WEIGHTS = {"sent": (1.0, 0.0), "edited": (0.7, 0.0), "clicked": (0.3, 0.0), "dismissed": (0.0, 1.0)}
PRIOR_STRENGTH = 8.0  # pseudo-observations behind the neutral 0.5 prior


class AdoptionPriors:
    """Smoothed adoption rate of each reply for each intent.

    prior = (positive + k·0.5) / (positive + negative + k): with k pseudo
    observations at 0.5, one click barely moves it, fifty sends move it a lot.
    """

    def __init__(self, strength: float = PRIOR_STRENGTH):
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
