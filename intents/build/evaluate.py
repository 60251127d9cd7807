"""Cross-validation of classifiers and a plain-text report of their scores (precision, recall, F1, confusion)."""

from __future__ import annotations

from collections import Counter
from typing import Callable, Sequence

from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold

from intents.classifier import Document
from intents.metrics import Scores, score


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
