"""The Analyzer: normalise, segment, embed, classify and read the customer — the language side of a request.

It returns plain dataclasses (a `Reading`); what to reply, what to store and how to answer over HTTP
are other stages' business.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import sklearn
from threadpoolctl import threadpool_limits

from intents.caching import BatchingEncoder, CachedProbabilities, MemoryCachedEncoder
from intents.classifier import Document, IntentClassifier, make_documents
from intents.context import blend, context_distribution
from intents.emotion import EmotionContext, EmotionReader, EmotionReading
from intents.encoder import ENCODER_NAME, Encoder, NullEncoder, load_default_encoder
from intents.models import load_intent_model, load_psychology_model
from intents.normalize import mask_pii
from intents.psychology import PsychologyReader, PsychologyReading
from intents.resources import Source
from intents.segment import SHOP_DICT, Segmenter

log = logging.getLogger("huashu")

# Earlier customer turns read with a message, and the intents where asking again
# about the same thing means the problem is still open (and raises the emotion).
CONTEXT_TURNS = 3
PROBLEM_INTENTS = ("complaint", "refund", "logistics")
# Context share from which a follow-up's replies are matched against the previous turn too.
MATCH_CONTEXT_FROM = 0.2


@dataclass(frozen=True)
class Turn:
    """One earlier turn of the conversation."""

    role: str  # "customer" | "agent"
    text: str


@dataclass(frozen=True)
class Reading:
    """Everything read from one message: its document, intents, psychology and emotion."""

    doc: Document
    intents: list[tuple[str, float]]  # every intent, best first
    psychology: PsychologyReading  # id None when nothing supports a type
    emotion: EmotionReading
    history_used: bool = False  # the conversation changed the top intent
    # What replies are matched against: the message, or for a follow-up that leans on its
    # context, the message together with the customer's last turn.
    match: Document | None = None

    @property
    def match_doc(self) -> Document:
        return self.match or self.doc

    @property
    def intent(self) -> str:
        return self.intents[0][0]


def _trusted_inputs(method):
    """Skip sklearn's per-call input checks: the features come from our own code, never from a client."""

    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
            return method(*args, **kwargs)

    return wrapper


@dataclass
class Analyzer:
    """The loaded language models, shared read-only by every request."""

    segmenter: Segmenter
    encoder: Encoder  # as requests use it: an LRU cache in front of the micro-batcher
    intent_model: IntentClassifier
    intent_metadata: dict
    psychology: PsychologyReader
    psychology_metadata: dict
    emotion: EmotionReader
    base_encoder: Encoder  # the encoder itself, for indexing replies
    degraded: str | None = None  # why the reading runs without its sentence encoder, if it does

    @classmethod
    def load(
        cls,
        model_dir: Path,
        *,
        shop_dict: Source = SHOP_DICT,
        encoder_threads: int = 0,
        encoder_solo: bool = False,
        cache_size: int = 8192,
        max_batch: int = 64,
        batch_window: float = 0.002,
    ) -> "Analyzer":
        # A request's matrix products are small (a message against ~1,500 reply vectors): BLAS
        # threads cost more to wake than they save, and on a busy machine they spin against the
        # request threads (a 0.05 ms product took 7.7 ms). The encoder keeps its own threads.
        threadpool_limits(limits=1, user_api="blas")
        model_dir = Path(model_dir)
        # The classifiers first: without them there is nothing to serve, and the error names the command.
        model, metadata = load_intent_model(model_dir / "intent", ENCODER_NAME)
        psych_model, psych_metadata = load_psychology_model(model_dir / "psychology", ENCODER_NAME)
        degraded = None
        try:
            base: Encoder = load_default_encoder(model_dir, encoder_threads, encoder_solo)
        except Exception as exc:  # noqa: BLE001 - a missing folder, a broken engine, no memory …
            # Degraded mode: serve from words and characters rather than not at all; /readyz says so.
            degraded = (
                f"sentence encoder failed to load ({type(exc).__name__}: {exc}); "
                "intents from words and characters only, replies ranked without semantic similarity"
            )
            log.error("%s", degraded)
            base = NullEncoder(name="none (degraded)")
        # Repeated texts (and the history turns of a conversation) are read once; the rest is batched.
        encoder = MemoryCachedEncoder(BatchingEncoder(base, max_batch, batch_window), cache_size)
        reader = PsychologyReader(CachedProbabilities(psych_model, cache_size, "psychology"), PsychologyReader.load_cues())
        return cls(
            Segmenter(shop_dict), encoder, CachedProbabilities(model, cache_size, "intents"), metadata, reader, psych_metadata,
            EmotionReader.load(), base_encoder=base, degraded=degraded,
        )

    @property
    def model_version(self) -> str:
        return f"{self.intent_metadata['version']}+{self.psychology_metadata['version']}"

    @property
    def versions(self) -> dict[str, str]:
        return {
            "intent": self.intent_metadata["version"],
            "psychology": self.psychology_metadata["version"],
            "encoder": self.encoder.name,
        }

    def _ranked(self, probs: np.ndarray) -> list[tuple[str, float]]:
        classes = self.intent_model.classes_
        return [(str(classes[j]), float(probs[j])) for j in np.argsort(-probs, kind="stable")]

    @_trusted_inputs
    def read_batch(self, messages: Sequence[str]) -> list[Reading]:
        """Read independent messages (no history) in one pass of the encoder and models."""
        docs = make_documents(messages, self.segmenter, self.encoder)
        ranked = [self._ranked(probs) for probs in self.intent_model.predict_proba(docs)]
        psychs = self.psychology.read(docs, [dict(intents) for intents in ranked])
        return [
            Reading(doc, intents, psych, self.emotion.read(doc.text, None, psych.id))
            for doc, intents, psych in zip(docs, ranked, psychs)
        ]

    @_trusted_inputs
    def read_turn(self, message: str, history: Sequence[Turn] = (), also: Sequence[tuple[str, bool]] = ()) -> Reading:
        """Read the newest message of a conversation; earlier turns inform its intent and emotion. `also`:
        (text, passage) pairs a later step may embed, embedded now in the same call (the cache keeps them)."""
        customer = [t.text for t in history if t.role == "customer"][-CONTEXT_TURNS:]
        agent = next((t.text for t in reversed(history) if t.role == "agent"), None)
        texts = [message, *customer] + ([agent] if agent is not None else [])
        docs = make_documents(texts, self.segmenter, self.encoder, also if getattr(self.encoder, "enabled", False) else ())
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
        emotion = self.emotion.read(docs[0].text, emotion_context, psych.id)
        own_top = self.intent_model.classes_[probs[0].argmax()]
        return Reading(docs[0], intents, psych, emotion, history_used=bool(own_top != top), match=match)

    def masked(self, doc: Document) -> tuple[str, list[str]]:
        """The message and its tokens as the audit log keeps them: PII masked before segmenting."""
        masked = mask_pii(doc.text)
        return masked, (list(doc.tokens) if masked == doc.text else self.segmenter(masked))

    def segment(self, text: str) -> Document:
        """The normalised text and its tokens, without embedding."""
        (doc,) = make_documents([text], self.segmenter, None)
        return doc
