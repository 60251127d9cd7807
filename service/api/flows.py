"""The request flows at the edge: each asks the stages in turn (reading → advice → replies → audit row)
and builds the response models. Nothing below this layer knows pydantic or HTTP."""

from __future__ import annotations

import threading
import time
import uuid
from contextlib import contextmanager
from typing import Callable, Iterator, TypeVar

import anyio

from intents.analyzer import Analyzer, Reading, Turn
from intents.caching import SPARE_CORES
from intents.labels import COMPLAINT_PSYCHOLOGY, INTENT_LABELS, PSYCHOLOGY_LABELS
from intents.measurements import conversation_measurements
from intents.normalize import mask_pii, normalize
from service.api import metrics
from service.api.schemas import (
    Analysis,
    ClassifyResult,
    Emotion,
    FeedbackRequest,
    FeedbackResponse,
    Intent,
    KnowledgePointMatch,
    ProductRef,
    Psychology,
    Reply,
    ReplyRecord,
    SizeAdviceOut,
    SuggestRequest,
    SuggestResponse,
)
from service.errors import Conflict, NotFound, TimedOut
from service.replies.corpus import StandardReply
from service.replies.guidance import Advice, Guidance
from service.replies.lint import DraftLinter
from service.replies.priors import FeedbackFollower
from service.replies.service import Conversation, OfferedReply, ReplyService
from service.shop.shop import Shop
from service.store import AuditEntry, Store
from service.store.db import _past_deadline

T = TypeVar("T")


def analysis(reading: Reading, advice: Advice) -> Analysis:
    """The reading of one message as the API shows it."""
    ranked = [Intent(id=i, label=INTENT_LABELS[i], confidence=round(p, 4)) for i, p in reading.intents]
    psych = reading.psychology
    psychology = None
    if psych.id is not None:
        psychology = Psychology(
            id=psych.id,
            label=PSYCHOLOGY_LABELS[psych.id],
            family="complaint" if psych.id in COMPLAINT_PSYCHOLOGY else "purchase",
            confidence=round(psych.confidence, 4),
            cues=list(psych.cues),
        )
    emotion = reading.emotion
    return Analysis(
        normalized=reading.doc.text,
        tokens=list(reading.doc.tokens),
        intent=ranked[0],
        intents=ranked,
        psychology=psychology,
        emotion=Emotion(level=emotion.level, score=emotion.score, cues=list(emotion.cues)),
        guidance=list(advice.steps),
        escalate=advice.escalate,
        escalate_reason=advice.escalate_reason,
    )


def reply_model(reply: OfferedReply) -> Reply:
    return Reply(
        id=reply.id, text=reply.text, score=reply.score, intent=reply.intent, category=reply.category,
        needs_edit=reply.needs_edit, missing=list(reply.missing), why=reply.why, knowledge_point=reply.knowledge_point,
        source=reply.source, presumes=list(reply.presumes), needs_check=reply.needs_check, parts=list(reply.parts),
    )


def reply_record(reply: StandardReply) -> ReplyRecord:
    return ReplyRecord(**reply.as_dict(), source="shop" if reply.source == "shop" else "corpus")


def audit_entry(
    request_id: str, endpoint: str, reading: Reading, advice: Advice, analyzer: Analyzer,
    replies: list[str], handoff: bool, started: float, point=None, history: list[Turn] = (), reply_texts: list[str] = (),
) -> AuditEntry:
    masked, tokens = analyzer.masked(reading.doc)
    psych = reading.psychology
    return AuditEntry(
        id=request_id,
        endpoint=endpoint,
        normalized=reading.doc.text,
        masked=masked,
        tokens=tokens,
        intents=reading.intents,
        replies=replies,
        model_version=analyzer.model_version,
        latency_ms=(time.perf_counter() - started) * 1000,
        handoff=handoff,
        psychology=psych.id,
        psychology_confidence=round(psych.confidence, 4) if psych.id else None,
        emotion=reading.emotion.level,
        emotion_score=reading.emotion.score,
        escalate=advice.escalate,
        knowledge_point=point.id if point else None,
        knowledge_confidence=point.confidence if point else None,
        history=[(t.role, mask_pii(normalize(t.text))) for t in history],
        reply_texts=[mask_pii(text) for text in reply_texts],
    )


class _InFlight:
    """How many suggestions this process is working on."""

    def __init__(self):
        self._count = 0
        self._lock = threading.Lock()

    @contextmanager
    def one(self) -> Iterator[bool]:
        """Counts one in for the block; yields whether it is the only one."""
        with self._lock:
            self._count += 1
            alone = self._count == 1
        try:
            yield alone
        finally:
            with self._lock:
                self._count -= 1


SUGGESTING = _InFlight()


async def in_turn(turns: anyio.CapacityLimiter, work: Callable[[], T]) -> T:
    """`work` on a thread once one of the process's analysis `turns` is free (`Settings.analysis_threads`).

    The Python of a suggestion runs one thread at a time (the interpreter lock), so forty threads working at
    once only hand the lock round more often: at 32 clients one worker spent 11.3 ms of CPU a request that way
    against 9.1 ms with two turns, and answered 120–130 requests/s against 146–156. A few turns keep the cores
    busy while one request waits for the encoder; the rest of the requests wait in the event loop, first come
    first served. One whose deadline passed while it waited (its client has had the 504) is not started."""

    def in_time() -> T:
        if _past_deadline():
            raise TimedOut("the request waited past its deadline for a turn")
        return work()

    return await anyio.to_thread.run_sync(in_time, limiter=turns)


def suggest(
    body: SuggestRequest, analyzer: Analyzer, guidance: Guidance, replies: ReplyService, store: Store, shop: Shop,
    alone: bool,
) -> SuggestResponse:
    """`alone`: no other suggestion is in progress or waiting in this process (`SUGGESTING`, counted by the
    caller before it waits for its turn)."""
    # the only suggestion in progress: a text it alone sends the encoder may run on every core
    token = SPARE_CORES.set(alone)
    try:
        return _suggest(body, analyzer, guidance, replies, store, shop, alone)
    finally:
        SPARE_CORES.reset(token)


def _suggest(
    body: SuggestRequest, analyzer: Analyzer, guidance: Guidance, replies: ReplyService, store: Store, shop: Shop, alone: bool
) -> SuggestResponse:
    started = time.perf_counter()
    store.audit.accepting()  # a request that could not be audited is refused before any work (503)
    history = [Turn(t.role, t.text) for t in body.history]
    # With a core to spare (no other suggestion in progress) the texts the knowledge-point matcher may need for
    # the conversation are embedded beside the message: at once, not in a second call after the reading. Under
    # load they are embedded only when the message turns out to need them, so no core works on texts unused.
    early = replies.matcher.view_texts(history) if alone and history and replies.matcher is not None else ()
    reading = analyzer.read_turn(body.message, history, early)
    advice = guidance.for_reading(reading)
    conversation = Conversation(history, body.variables, frozenset(body.sent), shop, body.product_id)
    offer = replies.suggest(reading, advice, conversation, body.top_k)
    size_advice = offer.size_advice
    response = SuggestResponse(
        request_id=uuid.uuid4().hex,
        **analysis(reading, advice).model_dump(),
        history_used=reading.history_used or offer.match.from_context,
        knowledge_points=[KnowledgePointMatch(id=p.id, label=p.label, confidence=p.confidence) for p in offer.match.points],
        slots=offer.slots,
        measurements=offer.measurements,
        product=ProductRef(id=offer.product.id, title=offer.product.title) if offer.product else None,
        size_advice=SizeAdviceOut(
            size=size_advice.size, between=size_advice.between, reason=size_advice.reason,
            missing=list(size_advice.missing), chart=size_advice.chart,
        ) if size_advice else None,
        replies=[reply_model(r) for r in offer.replies],
        handoff=offer.handoff,
        model_version=analyzer.model_version,
    )
    # The audit and the metrics name the outside point a message was answered as (a QA lead looks for wrong ones).
    point = offer.match.points[0] if offer.match.points else offer.outside
    store.audit.record(
        [audit_entry(
            response.request_id, "suggest", reading, advice, analyzer, [r.id for r in offer.replies], offer.handoff, started,
            point, history, [r.text for r in offer.replies],
        )]
    )
    intent = response.intent.id
    metrics.MESSAGES.labels("suggest", intent).inc()
    metrics.KNOWLEDGE_POINTS.labels(point.id if point else "none").inc()
    metrics.REPLIES_SHOWN.labels(intent).inc(len(offer.replies))
    if offer.handoff:
        metrics.HANDOFFS.inc()
    if advice.escalate:
        metrics.ESCALATIONS.labels("suggest").inc()
    return response


def classify(messages: list[str], analyzer: Analyzer, guidance: Guidance, store: Store) -> list[ClassifyResult]:
    """Read a batch; each message gets a request id and an audit row."""
    started = time.perf_counter()
    store.audit.accepting()
    results, entries = [], []
    for reading in analyzer.read_batch(messages):
        advice = guidance.for_reading(reading)
        result = ClassifyResult(
            **analysis(reading, advice).model_dump(), request_id=uuid.uuid4().hex,
            measurements=conversation_measurements(reading.doc.text),
        )
        results.append(result)
        entries.append(audit_entry(result.request_id, "classify", reading, advice, analyzer, [], False, started))
    store.audit.record(entries)
    for result in results:
        metrics.MESSAGES.labels("classify", result.intent.id).inc()
        if result.escalate:
            metrics.ESCALATIONS.labels("classify").inc()
    return results


def feedback(
    body: FeedbackRequest, replies: ReplyService, store: Store, linter: DraftLinter, follower: FeedbackFollower,
    idempotency_key: str | None = None,
) -> tuple[FeedbackResponse, bool]:
    """Record what the agent did with a suggestion, credited under the intent it was suggested for, with the
    draft check's findings on the text sent. (response, new): a retry with the same Idempotency-Key returns
    the first answer and changes nothing."""
    request = store.records.get_request(body.request_id)
    if request is None:
        raise NotFound(f"unknown request_id {body.request_id!r}: it must come from a /v1/suggest response")
    intent = replies.credit(body.reply_id, request)
    final = mask_pii(body.final_text) if body.final_text else None
    findings = [f.as_dict() for f in linter.check(final)] if final else None
    feedback_id, new = store.records.record_feedback(
        body.request_id, body.reply_id, intent, body.action, final, findings, idempotency_key
    )
    if new:
        follower.catch_up()  # this feedback into the priors now, with any other process's since the last round
        metrics.FEEDBACK.labels(body.action).inc()
    return FeedbackResponse(id=feedback_id, request_id=body.request_id, reply_id=body.reply_id, action=body.action), new


def add_reply(record: ReplyRecord, replies: ReplyService, store: Store, actor: str) -> ReplyRecord:
    # `source` is set in answers and ignored in requests (the corpus format has no such field).
    data = record.model_dump(exclude_none=True, exclude={"source"})

    def persist(data: dict) -> None:
        try:
            store.shop.add_reply(actor, data)
        except KeyError:
            raise Conflict(f"reply id {data['id']!r} was used by a retired reply; choose another") from None

    return reply_record(replies.add_shop_reply(data, persist))


def edit_reply(record: ReplyRecord, replies: ReplyService, store: Store, actor: str) -> ReplyRecord:
    data = record.model_dump(exclude_none=True, exclude={"source"})
    return reply_record(replies.edit_shop_reply(record.id, data, lambda data: store.shop.update_reply(actor, data)))
