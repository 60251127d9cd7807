"""Cue lexicons: words and phrases that are evidence for a label (a psychology type, an emotion signal)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from intents.lexicon import Hit, Lexicon, longest_first, tsv_records
from intents.resources import Source, packaged

CUES_DIR = packaged("intents", "cues")


class CueFormatError(ValueError):
    """A cue file has a record that cannot be used; the message names file, line and reason."""


@dataclass(frozen=True)
class Cue:
    label: str
    term: str
    weight: float


@dataclass(frozen=True)
class CueHit:
    """One cue found in a text: `text[start:end]` is the matched substring as written."""

    label: str
    term: str
    weight: float
    start: int
    end: int


def read_cues(source: Source, labels: Iterable[str], default_weights: dict[str, float] | None = None) -> list[Cue]:
    """Parse `<label><TAB><term>[<TAB><weight>]` records; a bad one raises with file, line and reason."""
    known = tuple(labels)
    cues: list[Cue] = []
    seen: set[tuple[str, str]] = set()
    for where, parts in tsv_records(source):
        if len(parts) not in (2, 3):
            raise CueFormatError(f"{where}: expected '<label><TAB><term>[<TAB><weight>]'")
        label, term = parts[0].strip(), parts[1].strip().lower()
        if label not in known:
            raise CueFormatError(f"{where}: unknown label {label!r} (known: {', '.join(known)})")
        if not term:
            raise CueFormatError(f"{where}: empty term")
        weight = (default_weights or {}).get(label, 1.0)
        if len(parts) == 3:
            try:
                weight = float(parts[2])
            except ValueError:
                raise CueFormatError(f"{where}: weight {parts[2]!r} is not a number") from None
        if (label, term) in seen:
            raise CueFormatError(f"{where}: {label} {term!r} repeated")
        seen.add((label, term))
        cues.append(Cue(label, term, weight))
    return cues


def _inside_number(text: str, start: int, end: int) -> bool:
    return (start > 0 and text[start - 1].isdigit()) or (end < len(text) and text[end].isdigit())


class CueMatcher:
    """Finds every cue of every label in a text (one pass of the shared lexicon matcher)."""

    def __init__(self, cues: Iterable[Cue]):
        self.cues = list(cues)
        self._lexicon: Lexicon[Cue] = Lexicon((cue.term, cue) for cue in self.cues)

    def find(self, text: str) -> list[CueHit]:
        """Each label's cues in `text`, longest first where a label's cues overlap, in text order.

        Matching is case-insensitive; offsets index the text as given.
        """
        found: dict[str, list[Hit[Cue]]] = {}
        for hit in self._lexicon.find(text):
            if hit.payload.term.isdigit() and _inside_number(text, hit.start, hit.end):
                continue  # "12315" inside a pasted order or phone number is not a cue
            found.setdefault(hit.payload.label, []).append(hit)
        hits = [
            CueHit(h.payload.label, h.text, h.payload.weight, h.start, h.end)
            for label_hits in found.values()
            for h in longest_first(label_hits)
        ]
        return sorted(hits, key=lambda h: (h.start, h.label))

    def evidence(self, text: str) -> dict[str, float]:
        """Summed cue weight per label found in `text`."""
        totals: dict[str, float] = {}
        for hit in self.find(text):
            totals[hit.label] = totals.get(hit.label, 0.0) + hit.weight
        return totals
