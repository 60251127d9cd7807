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


class FeedbackFollower:
    """Keeps one process's priors current with the feedback every process and replica writes to the shared
    store: `catch_up` reads the feedback rows above the last one it applied, in id order, and records
    them. Called after each feedback this process stores (so its own is counted at once, and once), and
    every few seconds by a background thread for the others' (the staleness bound)."""

    def __init__(self, read_since, priors: AdoptionPriors, last_id: int):
        self._read_since = read_since  # (after id) -> (events, last id)
        self.priors = priors
        self.last_id = last_id
        self._lock = threading.Lock()

    def catch_up(self) -> int:
        """Apply the feedback not applied yet; returns how many rows."""
        with self._lock:
            events, last = self._read_since(self.last_id)
            for reply_id, intent, action in events:
                self.priors.record(reply_id, intent, action)
            self.last_id = last
            return len(events)
