"""A fake analyzer for the tests that are not about the models: the real Analyzer code with keyword
classifiers instead of trained ones and zero vectors instead of the sentence encoder. Loads in a second,
reads deterministically, and serves every endpoint."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from intents.analyzer import Analyzer
from intents.classifier import Document
from intents.emotion import EmotionReader
from intents.encoder import NullEncoder
from intents.labels import INTENTS, NO_PSYCHOLOGY, PSYCHOLOGY_CLASSES
from intents.models import NO_POINT
from intents.psychology import PsychologyReader
from intents.segment import Segmenter
from sklearn.feature_extraction.text import TfidfVectorizer

from service.api.app import Library, Loaded
from service.config import Settings
from service.replies.knowledge import KnowledgePoint
from service.replies.service import ReplyService

# Words that make the fake read an intent (first match wins the most weight).
KEYWORDS = {
    "size": ("码", "尺码", "身高", "斤", "偏大", "偏小"),
    "bargain": ("便宜", "优惠", "券", "抹零", "降价", "包邮吗"),
    "logistics": ("快递", "发货", "物流", "顺丰", "地址", "到哪"),
    "complaint": ("差评", "投诉", "质量", "破", "垃圾", "12315", "态度"),
    "refund": ("退", "换货", "运费险"),
    "product": ("材质", "颜色", "棉", "有货", "正品"),
    "greeting": ("在吗", "你好", "谢谢", "亲"),
}


class KeywordIntents:
    """`predict_proba` from keywords: matched intents share 0.9 (earlier matches more), the rest 0.1;
    with no keyword, every intent alike (an unsure reading, which the conversation can settle)."""

    classes_ = np.array(INTENTS)

    def predict_proba(self, docs: Sequence[Document]) -> np.ndarray:
        rows = []
        for doc in docs:
            hits = [i for i, words in KEYWORDS.items() if any(w in doc.text for w in words)]
            if not hits:
                rows.append(np.full(len(INTENTS), 1 / len(INTENTS)))
                continue
            row = np.full(len(INTENTS), 0.1 / (len(INTENTS) - len(hits)) if len(hits) < len(INTENTS) else 0.0)
            weights = np.array([2.0 ** -k for k in range(len(hits))])
            for intent, share in zip(hits, 0.9 * weights / weights.sum()):
                row[INTENTS.index(intent)] = share
            rows.append(row / row.sum())
        return np.vstack(rows)


class NoPsychology:
    """A psychology model with no opinion of its own: `none` unless cue words say otherwise."""

    classes_ = np.array(PSYCHOLOGY_CLASSES)

    def predict_proba(self, docs: Sequence[Document]) -> np.ndarray:
        row = np.full(len(PSYCHOLOGY_CLASSES), 0.8 / (len(PSYCHOLOGY_CLASSES) - 1))
        row[PSYCHOLOGY_CLASSES.index(NO_PSYCHOLOGY)] = 0.2
        return np.tile(row, (len(docs), 1))

    def explain(self, doc, label, top=3, min_weight=0.1):
        return []


class NearestPhrasing:
    """A knowledge model from character overlap: each point scored by its nearest phrasing, and `none`
    when no phrasing is close."""

    def __init__(self, points: Sequence[KnowledgePoint], none_at: float = 0.35, sharpness: float = 12.0):
        texts = [t for p in points for t in p.phrasings]
        self._owner = np.array([j for j, p in enumerate(points) for _ in p.phrasings])
        self._vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 2), sublinear_tf=True).fit(texts)
        self._phrasings = self._vectorizer.transform(texts)
        self.classes_ = np.array([p.id for p in points] + [NO_POINT])
        self._none_at, self._sharpness = none_at, sharpness

    def predict_proba(self, docs: Sequence[Document]) -> np.ndarray:
        sims = (self._vectorizer.transform([d.text for d in docs]) @ self._phrasings.T).toarray()
        best = np.full((len(docs), len(self.classes_)), -1.0)
        for j in range(len(self.classes_) - 1):
            best[:, j] = sims[:, self._owner == j].max(axis=1)
        best[:, -1] = self._none_at
        scores = np.exp(self._sharpness * (best - best.max(axis=1, keepdims=True)))
        return scores / scores.sum(axis=1, keepdims=True)


def fake_analyzer(segmenter: Segmenter | None = None) -> Analyzer:
    encoder = NullEncoder(name="none (fake)")
    return Analyzer(
        segmenter=segmenter or Segmenter(),
        encoder=encoder,
        intent_model=KeywordIntents(),
        intent_metadata={"version": "intent-fake"},
        psychology=PsychologyReader(NoPsychology(), PsychologyReader.load_cues()),
        psychology_metadata={"version": "psychology-fake"},
        emotion=EmotionReader.load(),
        base_encoder=encoder,
    )


def fake_loader(analyzer: Analyzer):
    """A `create_app(loader=…)` that serves `analyzer` with the real reply corpus, ranked without vectors."""

    def load(settings: Settings, library: Library) -> Loaded:
        replies = ReplyService.load(
            analyzer, library.points, library.shop, knowledge_model=NearestPhrasing(library.points),
            knowledge_version="knowledge-fake", feedback=library.feedback, handoff_below=settings.handoff_below,
        )
        return Loaded(analyzer, replies)

    return load
