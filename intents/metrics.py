"""Scores of a classifier against gold labels: per-class precision, recall, F1, support and confusion.

Used by evaluation (`intents.build.evaluate`) and by the QA report of reviewed rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support


@dataclass
class Scores:
    """Top-1 scores of a classifier against gold label sets."""

    classes: list[str]
    gold: list[str]  # the gold label each prediction is scored against
    predicted: list[str]
    precision: dict[str, float] = field(default_factory=dict)
    recall: dict[str, float] = field(default_factory=dict)
    f1: dict[str, float] = field(default_factory=dict)
    support: dict[str, int] = field(default_factory=dict)
    confusion: list[list[int]] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return float(np.mean([g == p for g, p in zip(self.gold, self.predicted)])) if self.gold else 0.0

    @property
    def macro_f1(self) -> float:
        present = [c for c in self.classes if self.support.get(c, 0) > 0]
        return float(np.mean([self.f1[c] for c in present])) if present else 0.0

    def as_dict(self) -> dict:
        return {
            "n": len(self.gold),
            "accuracy": round(self.accuracy, 4),
            "macro_f1": round(self.macro_f1, 4),
            "per_class": {
                c: {
                    "precision": round(self.precision[c], 4),
                    "recall": round(self.recall[c], 4),
                    "f1": round(self.f1[c], 4),
                    "support": self.support[c],
                }
                for c in self.classes
            },
            "confusion": {"labels": self.classes, "matrix": self.confusion},
        }


def score(
    label_sets: Sequence[Sequence[str]], predicted: Iterable[str], classes: Sequence[str]
) -> Scores:
    """Score top-1 predictions. A prediction that is any of a message's gold
    labels counts as right (a complaint-and-refund message predicted refund is
    right); otherwise it is counted against the message's main label."""
    predicted = [str(p) for p in predicted]
    gold = [p if p in labels else labels[0] for labels, p in zip(label_sets, predicted)]
    classes = list(classes)
    if not gold:  # nothing to score yet (a report before any review): zeros, not an error
        zero = dict.fromkeys(classes, 0.0)
        return Scores(classes, [], [], dict(zero), dict(zero), dict(zero), dict.fromkeys(classes, 0),
                      [[0] * len(classes) for _ in classes])
    p, r, f, s = precision_recall_fscore_support(gold, predicted, labels=classes, zero_division=0)
    return Scores(
        classes=classes,
        gold=gold,
        predicted=predicted,
        precision=dict(zip(classes, map(float, p))),
        recall=dict(zip(classes, map(float, r))),
        f1=dict(zip(classes, map(float, f))),
        support=dict(zip(classes, map(int, s))),
        confusion=confusion_matrix(gold, predicted, labels=classes).tolist(),
    )
