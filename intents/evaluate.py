"""Cross-validation and scoring of classifiers: per-class precision, recall, F1 and confusion."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

import numpy as np
from sklearn.base import clone
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support
from sklearn.model_selection import StratifiedKFold

from intents.classifier import Document


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


def cross_validate(
    estimator,
    docs: Sequence[Document],
    label_sets: Sequence[Sequence[str]],
    classes: Sequence[str],
    folds: int = 5,
    seed: int = 13,
    progress: Callable[[int], None] | None = None,
    predict: Callable[[object, list[int]], Sequence[str]] | None = None,
) -> Scores:
    """Stratified k-fold (on the main label): each message is predicted by a
    model that never saw it, and all folds are scored together.

    `predict(model, rows)`, if given, turns a fold's fitted model into labels
    for those rows (to score more than the bare model, e.g. cues on top).
    """
    docs = list(docs)
    main = [labels[0] for labels in label_sets]
    rarest, count = min(Counter(main).items(), key=lambda item: item[1])
    if count < folds:
        raise ValueError(f"{folds}-fold cross-validation needs at least {folds} examples of each label; {rarest!r} has {count}")
    predicted: list[str | None] = [None] * len(docs)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for k, (train, test) in enumerate(splitter.split(docs, main), 1):
        model = clone(estimator).fit([docs[i] for i in train], [label_sets[i] for i in train])
        labels = predict(model, list(test)) if predict else model.predict([docs[i] for i in test])
        for i, label in zip(test, labels):
            predicted[i] = str(label)
        if progress:
            progress(k)
    return score(label_sets, predicted, classes)


def format_report(scores: Scores, title: str) -> str:
    """A plain-text report: per-class table, then the confusion matrix (rows gold, columns predicted)."""
    lines = [title, ""]
    lines.append(f"{'class':<16}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}")
    for c in scores.classes:
        lines.append(
            f"{c:<16}{scores.precision[c]:>10.3f}{scores.recall[c]:>10.3f}{scores.f1[c]:>10.3f}{scores.support[c]:>10d}"
        )
    lines.append("")
    lines.append(f"accuracy {scores.accuracy:.4f}   macro-F1 {scores.macro_f1:.4f}   n={len(scores.gold)}")
    lines.append("")
    lines.append("confusion matrix (rows: gold, columns: predicted)")
    width = max(6, max(len(c) for c in scores.classes) + 1)
    lines.append(" " * width + "".join(f"{c[:width - 1]:>{width}}" for c in scores.classes))
    for c, row in zip(scores.classes, scores.confusion):
        lines.append(f"{c:<{width}}" + "".join(f"{v:>{width}d}" for v in row))
    return "\n".join(lines)
