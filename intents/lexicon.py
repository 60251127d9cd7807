"""The one pattern matcher: cue words, emotion signals and the draft check find their lexicons with it.

Patterns and text are folded the same way (lower case, half-width, simplified), one character for one
character, so a match's offsets index the text as given. Every pattern is found in one Aho-Corasick pass.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Generic, Iterable, Iterator, TypeVar

import ahocorasick

from intents.normalize import to_simplified
from intents.resources import Source

T = TypeVar("T")


def fold(text: str) -> str:
    """Lower-case, half-width, simplified `text` with the same length, so offsets carry over."""
    chars = []
    for ch in text:
        folded = unicodedata.normalize("NFKC", ch).lower()
        chars.append(folded if len(folded) == 1 else ch)
    folded = "".join(chars)
    simplified = to_simplified(folded)
    return simplified if len(simplified) == len(folded) else folded


@dataclass(frozen=True)
class Hit(Generic[T]):
    """One pattern found: `text[start:end]` as written, and what the pattern stands for."""

    start: int
    end: int
    text: str
    payload: T


class Lexicon(Generic[T]):
    """Patterns, each with a payload (a cue, a rule), found together in one pass over a text."""

    def __init__(self, entries: Iterable[tuple[str, T]]):
        self._automaton = ahocorasick.Automaton()
        by_pattern: dict[str, list[T]] = {}
        for pattern, payload in entries:
            folded = fold(pattern)
            if folded:
                by_pattern.setdefault(folded, []).append(payload)
        for pattern, payloads in by_pattern.items():
            self._automaton.add_word(pattern, (len(pattern), tuple(payloads)))
        if by_pattern:
            self._automaton.make_automaton()
        self._empty = not by_pattern

    def find(self, text: str) -> list[Hit[T]]:
        """Every occurrence of every pattern in `text`, overlapping ones included, in the order they end."""
        if self._empty or not text:
            return []
        hits = []
        for last, (length, payloads) in self._automaton.iter(fold(text)):
            start, end = last - length + 1, last + 1
            hits += [Hit(start, end, text[start:end], payload) for payload in payloads]
        return hits


def longest_first(hits: Iterable[Hit[T]]) -> list[Hit[T]]:
    """Non-overlapping hits, the longer one kept where two overlap (the earlier one on a tie)."""
    taken: list[Hit[T]] = []
    for hit in sorted(hits, key=lambda h: (-(h.end - h.start), h.start)):
        if all(hit.end <= t.start or hit.start >= t.end for t in taken):
            taken.append(hit)
    return taken


def tsv_records(source: Source) -> Iterator[tuple[str, list[str]]]:
    """`(where, fields)` for each record of a tab-separated lexicon: blank lines and `#` comments
    skipped, `where` as `file:line` for error messages."""
    for lineno, raw in enumerate(source.read_text(encoding="utf-8").splitlines(), 1):
        if raw.strip() and not raw.lstrip().startswith("#"):
            yield f"{source}:{lineno}", raw.split("\t")
