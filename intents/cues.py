"""Cue lexicons: words and phrases that are evidence for a label, found in one Aho-Corasick pass."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import ahocorasick

CUES_DIR = Path(__file__).resolve().parent / "cues"


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


def tsv_records(path: Path) -> Iterator[tuple[str, list[str]]]:
    """`(where, fields)` for each record of a tab-separated lexicon: blank lines and `#` comments
    skipped, `where` as `file:line` for error messages."""
    for lineno, raw in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if raw.strip() and not raw.lstrip().startswith("#"):
            yield f"{path}:{lineno}", raw.split("\t")


def read_cues(path: Path, labels: Iterable[str], default_weights: dict[str, float] | None = None) -> list[Cue]:
    """Parse `<label><TAB><term>[<TAB><weight>]` records; a bad one raises with file, line and reason."""
    path = Path(path)
    known = tuple(labels)
    cues: list[Cue] = []
    seen: set[tuple[str, str]] = set()
    for where, parts in tsv_records(path):
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
    """Finds every cue of every label in a text with one automaton (not a loop over patterns)."""

    def __init__(self, cues: Iterable[Cue]):
        self.cues = list(cues)
        self._automaton = ahocorasick.Automaton()
        by_term: dict[str, list[Cue]] = {}
        for cue in self.cues:
            by_term.setdefault(cue.term, []).append(cue)
        for term, entries in by_term.items():
            self._automaton.add_word(term, tuple(entries))
        if by_term:
            self._automaton.make_automaton()
        self._empty = not by_term

    def find(self, text: str) -> list[CueHit]:
        """Each label's cues in `text`, longest first where a label's cues overlap, in text order.

        Matching is case-insensitive; offsets index the text as given.
        """
        if self._empty or not text:
            return []
        folded = text.lower()
        if len(folded) != len(text):  # a few characters change length when lower-cased
            folded = "".join(c if len(c.lower()) != 1 else c.lower() for c in text)
        found: dict[str, list[CueHit]] = {}
        for end, entries in self._automaton.iter(folded):
            for cue in entries:
                start = end - len(cue.term) + 1
                if cue.term.isdigit() and _inside_number(folded, start, end + 1):
                    continue  # "12315" inside a pasted order or phone number is not a cue
                found.setdefault(cue.label, []).append(CueHit(cue.label, text[start : end + 1], cue.weight, start, end + 1))
        hits: list[CueHit] = []
        for label_hits in found.values():
            taken: list[CueHit] = []
            for hit in sorted(label_hits, key=lambda h: (-(h.end - h.start), h.start)):
                if all(hit.end <= t.start or hit.start >= t.end for t in taken):
                    taken.append(hit)
            hits += taken
        return sorted(hits, key=lambda h: (h.start, h.label))

    def evidence(self, text: str) -> dict[str, float]:
        """Summed cue weight per label found in `text`."""
        totals: dict[str, float] = {}
        for hit in self.find(text):
            totals[hit.label] = totals.get(hit.label, 0.0) + hit.weight
        return totals
