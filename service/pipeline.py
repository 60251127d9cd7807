"""Wires the stages of a request: normalise → segment → classify → (rank replies) → response."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from intents.classifier import IntentClassifier, make_documents
from intents.encoder import E5Encoder, Encoder
from intents.labels import INTENT_LABELS
from intents.segment import Segmenter
from intents.training import load_intent_model
from service.config import Settings
from service.schemas import Analysis, Intent, SegmentResponse, SuggestRequest, SuggestResponse


@dataclass
class SuggestPipeline:
    """The loaded models, shared read-only by every request."""

    segmenter: Segmenter
    encoder: Encoder
    intent_model: IntentClassifier
    intent_metadata: dict

    @classmethod
    def load(cls, settings: Settings) -> "SuggestPipeline":
        encoder = E5Encoder()
        model, metadata = load_intent_model(settings.model_dir / "intent", encoder.name)
        return cls(Segmenter(settings.shop_dict), encoder, model, metadata)

    @property
    def model_version(self) -> str:
        return self.intent_metadata["version"]

    @property
    def versions(self) -> dict[str, str]:
        return {"intent": self.model_version, "encoder": self.encoder.name}

    def analyze(self, messages: list[str]) -> list[Analysis]:
        """Normalise, segment and classify a batch in one pass of the model."""
        docs = make_documents(messages, self.segmenter, self.encoder)
        results = []
        for doc, ranked in zip(docs, self.intent_model.rank(docs)):
            intents = [Intent(id=i, label=INTENT_LABELS[i], confidence=round(p, 4)) for i, p in ranked]
            results.append(Analysis(normalized=doc.text, tokens=list(doc.tokens), intent=intents[0], intents=intents))
        return results

    def segment(self, text: str) -> SegmentResponse:
        (doc,) = make_documents([text], self.segmenter, None)
        return SegmentResponse(normalized=doc.text, tokens=list(doc.tokens))

    def suggest(self, request: SuggestRequest) -> SuggestResponse:
        (analysis,) = self.analyze([request.message])
        # Replies, psychology, emotion and guidance come with the reply-corpus
        # and psychology stages; until then the lists are honestly empty.
        return SuggestResponse(
            request_id=uuid.uuid4().hex,
            **analysis.model_dump(),
            guidance=[],
            replies=[],
            model_version=self.model_version,
        )
