"""Which purchase motive or complaint psychology drives a message, with the cues that show it.

The reading combines three things:
- the learned probabilities of a classifier over the 13 types plus `none`
  (the same model as the intents, over psychology examples);
- the message's intents: purchase motives belong to pre-/in-sale messages,
  complaint psychologies to complaints and refunds (a soft weight, so a
  misread intent does not rule a type out);
- cue words from `cues/psychology.tsv`, which add evidence and are returned,
  with the words the classifier weighted most, as the cues an agent sees.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from intents.classifier import Document, IntentClassifier
from intents.cues import CUES_DIR, CueMatcher, read_cues
from intents.resources import Source
from intents.labels import (
    AFTER_SALE_INTENTS,
    COMPLAINT_PSYCHOLOGY,
    NO_PSYCHOLOGY,
    PSYCHOLOGY,
    PSYCHOLOGY_CLASSES,
)

PSYCHOLOGY_CUES = CUES_DIR / "psychology.tsv"
NOT_EVIDENCE = CUES_DIR / "not_evidence.txt"


def read_word_list(source: Source) -> frozenset[str]:
    lines = source.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line.strip() and not line.lstrip().startswith("#"))


_NEUTRAL_INTENTS = ("greeting", "other")


@dataclass(frozen=True)
class PsychologyWeights:
    """How the reading's parts combine (tuned by cross-validation on our examples)."""

    cue: float = 0.3  # weight of cue evidence (1 − e^(−summed cue weight)) beside the probability
    family_floor: float = 0.3  # weight a type keeps when the intents say it is the other family
    min_confidence: float = 0.25  # below this, a type with no cue in the message is not reported
    max_cues: int = 5
    model_cues: int = 3  # words the classifier weighs most for the type, shown beside the cue words
    model_cue_weight: float = 0.02  # least push (TF-IDF × SVM weight) for such a word


@dataclass(frozen=True)
class PsychologyReading:
    id: str | None  # None: nothing in the message supports a type
    confidence: float
    cues: tuple[str, ...]
    scores: dict[str, float]  # every type and `none`, summing to 1


def new_psychology_model() -> IntentClassifier:
    return IntentClassifier(classes=PSYCHOLOGY_CLASSES)


def family_weights(intent_confidence: dict[str, float] | None, floor: float) -> tuple[float, float]:
    """(purchase, complaint) weights from a message's intent confidences; greeting/other count for both."""
    if not intent_confidence:
        return 1.0, 1.0
    after_sale = sum(intent_confidence.get(i, 0.0) for i in AFTER_SALE_INTENTS)
    neutral = sum(intent_confidence.get(i, 0.0) for i in _NEUTRAL_INTENTS)
    before_sale = max(0.0, 1.0 - after_sale - neutral)
    purchase = min(1.0, before_sale + neutral)
    complaint = min(1.0, after_sale + neutral)
    return floor + (1 - floor) * purchase, floor + (1 - floor) * complaint


class PsychologyReader:
    def __init__(self, model: IntentClassifier, matcher: CueMatcher, weights: PsychologyWeights = PsychologyWeights()):
        if list(model.classes_) != list(PSYCHOLOGY_CLASSES):
            raise ValueError(f"not a psychology model: its classes are {list(model.classes_)}")
        self.model = model
        self.matcher = matcher
        self.weights = weights
        self.not_evidence = read_word_list(NOT_EVIDENCE)
        self._complaint = np.array([c in COMPLAINT_PSYCHOLOGY for c in PSYCHOLOGY_CLASSES])
        self._none = PSYCHOLOGY_CLASSES.index(NO_PSYCHOLOGY)

    @staticmethod
    def load_cues(source: Source = PSYCHOLOGY_CUES) -> CueMatcher:
        return CueMatcher(read_cues(source, PSYCHOLOGY))

    def scores(self, docs: Sequence[Document], intents: Sequence[dict[str, float] | None] | None = None) -> np.ndarray:
        """(n, 14) combined scores per class in `PSYCHOLOGY_CLASSES` order, each row summing to 1."""
        docs = list(docs)
        probs = self.model.predict_proba(docs)
        w = self.weights
        out = np.empty_like(probs)
        for row, doc in enumerate(docs):
            purchase, complaint = family_weights(intents[row] if intents else None, w.family_floor)
            gate = np.where(self._complaint, complaint, purchase)
            gate[self._none] = 1.0
            evidence = np.zeros(len(PSYCHOLOGY_CLASSES))
            for label, total in self.matcher.evidence(doc.text).items():
                evidence[PSYCHOLOGY_CLASSES.index(label)] = 1 - math.exp(-total)
            combined = probs[row] * gate + w.cue * evidence
            out[row] = combined / combined.sum()
        return out

    def read(self, docs: Sequence[Document], intents: Sequence[dict[str, float] | None] | None = None) -> list[PsychologyReading]:
        docs = list(docs)
        w = self.weights
        readings = []
        for doc, row in zip(docs, self.scores(docs, intents)):
            scores = {c: float(p) for c, p in zip(PSYCHOLOGY_CLASSES, row)}
            best = max(PSYCHOLOGY, key=scores.__getitem__)
            hits = [h for h in self.matcher.find(doc.text) if h.label == best]
            if row.argmax() == self._none or (scores[best] < w.min_confidence and not hits):
                readings.append(PsychologyReading(None, scores[NO_PSYCHOLOGY], (), scores))
                continue
            # Cue words first, then the words the classifier weighs most, shown in text order.
            cues = [(h.start, h.term) for h in hits][: w.max_cues]
            covered = [(h.start, h.end) for h in hits]
            added = 0
            for token, start in self.model.explain(doc, best, top=w.model_cues + 5, min_weight=w.model_cue_weight):
                end = start + len(token)
                if added == w.model_cues or len(cues) == w.max_cues:
                    break
                if token.lower() in self.not_evidence or any(s < end and start < e for s, e in covered):
                    continue
                cues.append((start, token))
                covered.append((start, end))
                added += 1
            ordered = tuple(dict.fromkeys(term for _, term in sorted(cues)))
            readings.append(PsychologyReading(best, scores[best], ordered, scores))
        return readings

    def predict(self, docs: Sequence[Document], intents: Sequence[dict[str, float] | None] | None = None) -> list[str]:
        """The reading's id for each message, `none` where it reports no type (for scoring)."""
        return [r.id or NO_PSYCHOLOGY for r in self.read(docs, intents)]
