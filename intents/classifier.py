"""IntentClassifier: calibrated per-intent probabilities from jieba words and character n-grams."""

from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import MultiLabelBinarizer
from sklearn.svm import LinearSVC

from intents.labels import INTENTS
from intents.normalize import normalize
from intents.segment import Segmenter


class Document(NamedTuple):
    """A message as the classifiers see it: normalised text and its jieba tokens.

    The service segments each message once (the tokens are part of the
    response) and hands both to the classifiers, so nothing is segmented twice
    and the fitted model does not carry a jieba dictionary inside its pickle.
    """

    text: str
    tokens: tuple[str, ...]

    @classmethod
    def of(cls, message: str, segmenter: "Segmenter") -> "Document":
        """Normalise and segment a raw message."""
        text = normalize(message)
        return cls(text, tuple(segmenter(text)))


def _digit_shape(token: str) -> str:
    # 165, 110, 38 carry their meaning by position (height, weight, size), not
    # value: one shape per length keeps "165" and "170" the same feature.
    return "<num%d>" % min(len(token), 5) if token.isdigit() and token != "12315" else token


def word_features(doc: Document) -> list[str]:
    """Lower-cased words and word bigrams, numbers folded to their length."""
    words = [_digit_shape(tok.lower()) for tok in doc.tokens]
    return words + [f"{a} {b}" for a, b in zip(words, words[1:])]


def char_text(doc: Document) -> str:
    """The text the character n-grams are taken from."""
    return doc.text.lower()


class IntentClassifier(ClassifierMixin, BaseEstimator):
    """Multi-label intent classifier returning every intent with a calibrated confidence.

    One linear SVM per intent (one-vs-rest) over TF-IDF features of jieba words
    and character 1–3-grams; each SVM is wrapped in sigmoid calibration so its
    score reads as the probability that the message carries that intent. A
    message may carry two intents ("质量太差了 我要退货"), so the confidences
    are independent and need not sum to one.
    """

    def __init__(self, C: float = 0.5, char_ngram_max: int = 3, calibration_folds: int = 3):
        self.C = C
        self.char_ngram_max = char_ngram_max
        self.calibration_folds = calibration_folds

    def _build(self) -> Pipeline:
        features = FeatureUnion(
            [
                ("words", TfidfVectorizer(analyzer=word_features, sublinear_tf=True)),
                (
                    "chars",
                    TfidfVectorizer(
                        analyzer="char_wb",
                        preprocessor=char_text,
                        ngram_range=(1, self.char_ngram_max),
                        sublinear_tf=True,
                    ),
                ),
            ]
        )
        svm = LinearSVC(C=self.C, class_weight="balanced")
        model = OneVsRestClassifier(
            CalibratedClassifierCV(svm, method="sigmoid", cv=self.calibration_folds)
        )
        return Pipeline([("features", features), ("model", model)])

    def fit(self, docs: Sequence[Document], label_sets: Sequence[Sequence[str]]) -> "IntentClassifier":
        self.binarizer_ = MultiLabelBinarizer(classes=list(INTENTS))
        y = self.binarizer_.fit_transform(label_sets)
        self.pipeline_ = self._build().fit(list(docs), y)
        self.classes_ = np.array(self.binarizer_.classes_)
        return self

    def predict_proba(self, docs: Sequence[Document]) -> np.ndarray:
        """Shape (n, intents): the confidence of each intent, columns in `classes_` order."""
        return self.pipeline_.predict_proba(list(docs))

    def predict(self, docs: Sequence[Document]) -> np.ndarray:
        """The most likely intent of each document."""
        return self.classes_[self.predict_proba(docs).argmax(axis=1)]

    def rank(self, docs: Sequence[Document]) -> list[list[tuple[str, float]]]:
        """For each document, every intent with its confidence, best first."""
        probs = self.predict_proba(docs)
        order = np.argsort(-probs, axis=1, kind="stable")
        return [[(str(self.classes_[j]), float(row[j])) for j in idx] for row, idx in zip(probs, order)]
