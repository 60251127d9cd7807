"""How upset the customer is: calm, upset or angry, with a score and the signals behind it.

Explainable by design: the score adds up weighted signals (words, punctuation,
emoji, shouting, repeated contact, the conversation so far) and every signal
that fired is returned as a cue an agent can see in the message.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from intents.cues import CUES_DIR, CueMatcher, read_cues
from intents.resources import Source

EMOTION_CUES = CUES_DIR / "emotion.tsv"
KINDS = {"anger": 0.6, "swear": 0.8, "upset": 0.4, "repeat": 0.35, "threat": 0.35, "calm": -0.25}

# Runs of ! and ? (after normalisation full-width ！？ are ASCII).
_EXCLAIM = re.compile(r"!{2,}|(?:[!?]*\?[!?]*!|[!?]*![!?]*\?)[!?]*")
_QUESTION = re.compile(r"\?{3,}")
# A shouted Latin word: three or more capitals (sizes like XXL and codes like SF are not shouting).
_CAPS = re.compile(r"(?<![A-Za-z])[A-Z]{3,}(?![A-Za-z])")
_NOT_SHOUTING = {"XXL", "XXXL", "XXS", "USB", "LED", "APP", "VIP", "EMS", "DIY", "CEO", "PDF", "SKU", "LOL", "ISBN"}
# A character repeated to stretch it out: 啊啊啊, 。。。。 does not count.
_STRETCH = re.compile(r"([啊呀哦嗷靠])\1{2,}")


@dataclass(frozen=True)
class EmotionContext:
    """What the conversation so far says: earlier turns' emotion and contacts about the same problem."""

    earlier_score: float = 0.0  # highest emotion score of the customer's earlier turns
    same_issue_turns: int = 0  # earlier customer turns about the same problem (same main intent)


@dataclass(frozen=True)
class EmotionReading:
    level: str
    score: float
    cues: tuple[str, ...] = ()
    threats: tuple[str, ...] = ()  # legal, 12315, platform or media threats found
    signals: dict[str, float] = field(default_factory=dict)  # signal kind → weight it added


@dataclass(frozen=True)
class EmotionThresholds:
    upset: float = 0.3  # score at which the level becomes upset
    angry: float = 0.6  # … and angry
    carry_over: float = 0.75  # share of an earlier turn's score that a calm follow-up keeps
    third_contact: float = 0.5  # added when this is the third (or later) contact about one problem
    second_contact: float = 0.2
    # Complaint psychologies that carry emotion the words may not show.
    psychology: tuple[tuple[str, float], ...] = (("venting", 0.35), ("retaliation", 0.35), ("recognition", 0.15))


class EmotionReader:
    def __init__(self, matcher: CueMatcher, thresholds: EmotionThresholds = EmotionThresholds()):
        self.matcher = matcher
        self.thresholds = thresholds

    @classmethod
    def load(cls, source: Source = EMOTION_CUES) -> "EmotionReader":
        return cls(CueMatcher(read_cues(source, KINDS, KINDS)))

    def read(self, text: str, context: EmotionContext | None = None, psychology: str | None = None) -> EmotionReading:
        """Score a normalised message; `context` and `psychology` add what the words alone miss."""
        t = self.thresholds
        signals: dict[str, float] = {}
        cues: list[tuple[int, str]] = []
        threats: list[str] = []

        def add(kind: str, weight: float, start: int | None = None, cue: str | None = None) -> None:
            signals[kind] = signals.get(kind, 0.0) + weight
            if cue is not None and start is not None and weight > 0:
                cues.append((start, cue))

        for hit in self.matcher.find(text):
            add(hit.label, hit.weight, hit.start, hit.term)
            if hit.label == "threat":
                threats.append(hit.term)
        exclaims = list(_EXCLAIM.finditer(text))
        for m in exclaims[:2]:
            add("punctuation", 0.4 if len(m.group()) >= 3 else 0.25, m.start(), m.group())
        for m in list(_QUESTION.finditer(text))[:2]:
            add("punctuation", 0.4, m.start(), m.group())
        for m in _CAPS.finditer(text):
            if m.group() not in _NOT_SHOUTING:
                add("shouting", 0.25, m.start(), m.group())
                break
        for m in _STRETCH.finditer(text):
            add("shouting", 0.15, m.start(), m.group())
            break
        for kind, weight in t.psychology:
            if psychology == kind:
                add("psychology", weight)
        if context is not None:
            if context.same_issue_turns >= 2:
                add("history", t.third_contact)
            elif context.same_issue_turns == 1:
                add("history", t.second_contact)
        total = sum(signals.values())
        score = 1 - math.exp(-max(total, 0.0))
        if context is not None:
            score = max(score, t.carry_over * context.earlier_score)
        level = "angry" if score >= t.angry else "upset" if score >= t.upset else "calm"
        ordered = tuple(dict.fromkeys(cue for _, cue in sorted(cues)))
        return EmotionReading(level, round(score, 4), ordered, tuple(dict.fromkeys(threats)), signals)
