"""Read labelled examples (`<ids><TAB><message>` per line) and fingerprint them."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from intents.labels import INTENTS
from intents.resources import Source, children, packaged

EXAMPLES_DIR = packaged("intents", "examples")
PSYCHOLOGY_DIR = packaged("intents", "psychology")


class ExampleFormatError(ValueError):
    """A labelled-example file has a record that cannot be used."""


@dataclass(frozen=True)
class Example:
    text: str
    labels: tuple[str, ...]  # first = main intent
    source: str  # "file:line", for error messages and audits

    @property
    def label(self) -> str:
        return self.labels[0]


def read_examples(path: Source, known: tuple[str, ...] = INTENTS, kind: str = "intent") -> list[Example]:
    """Parse one file; a bad record raises with file, line and reason."""
    examples = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise ExampleFormatError(f"{path}: not UTF-8 ({exc.reason} at byte {exc.start})") from exc
    for lineno, raw in enumerate(lines, 1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        where = f"{path}:{lineno}"
        if "\t" not in raw:
            raise ExampleFormatError(f"{where}: expected '<{kind} ids><TAB><message>', found no TAB")
        ids, text = raw.split("\t", 1)
        text = text.strip()
        if not text:
            raise ExampleFormatError(f"{where}: empty message")
        labels = tuple(part.strip() for part in ids.split(",") if part.strip())
        if not labels:
            raise ExampleFormatError(f"{where}: no {kind} id")
        unknown = [label for label in labels if label not in known]
        if unknown:
            raise ExampleFormatError(f"{where}: unknown {kind} id {unknown[0]!r} (known: {', '.join(known)})")
        if len(set(labels)) != len(labels):
            raise ExampleFormatError(f"{where}: {kind} id repeated in {ids!r}")
        examples.append(Example(text=text, labels=labels, source=where))
    return examples


def load_examples(source: Source = EXAMPLES_DIR, known: tuple[str, ...] = INTENTS, kind: str = "intent") -> list[Example]:
    """Read a file, or every `*.tsv` in a folder (sorted, so the order is stable)."""
    if not source.is_file() and not source.is_dir():
        raise ExampleFormatError(f"{source}: no such file or folder")
    files = children(source, ".tsv")
    examples = [ex for path in files for ex in read_examples(path, known, kind)]
    if not examples:
        raise ExampleFormatError(f"{source}: no labelled examples found")
    return examples


def duplicate_texts(examples: list[Example]) -> list[tuple[Example, Example]]:
    """Pairs of records with the same text (the second repeats the first)."""
    seen: dict[str, Example] = {}
    pairs = []
    for ex in examples:
        if ex.text in seen:
            pairs.append((seen[ex.text], ex))
        else:
            seen[ex.text] = ex
    return pairs


def data_hash(examples: list[Example]) -> str:
    """SHA-256 over the records' labels and texts, independent of file layout."""
    digest = hashlib.sha256()
    for ex in examples:
        digest.update(",".join(ex.labels).encode())
        digest.update(b"\t")
        digest.update(ex.text.encode())
        digest.update(b"\n")
    return digest.hexdigest()


def read_reviews(path: Path, known: tuple[str, ...] = INTENTS) -> list[Example]:
    """Reviewed rows exported by `GET /v1/export` (JSON lines or CSV) as examples: the masked
    message labelled with the reviewed intents. A bad row raises with file, line and reason."""
    import csv
    import json

    from intents.csv_cells import read_cell

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ExampleFormatError(f"{path}: cannot be read ({exc})") from None
    rows: list[tuple[int, dict]] = []
    if path.suffix == ".csv":
        for lineno, row in enumerate(csv.DictReader(text.splitlines()), 2):
            row = {k: read_cell(v) if isinstance(v, str) else v for k, v in row.items()}  # as exported: formulas escaped
            rows.append((lineno, {**row, "intents": [i for i in (row.get("intents") or "").split(",") if i]}))
    else:
        for lineno, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ExampleFormatError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from None
            if not isinstance(row, dict):
                raise ExampleFormatError(f"{path}:{lineno}: expected a JSON object")
            rows.append((lineno, row))
    examples = []
    for lineno, row in rows:
        where = f"{path}:{lineno}"
        message, labels = row.get("message"), row.get("intents")
        if not isinstance(message, str) or not message.strip():
            raise ExampleFormatError(f"{where}: no message")
        if not isinstance(labels, list) or not labels or not all(isinstance(i, str) for i in labels):
            raise ExampleFormatError(f"{where}: no reviewed intents")
        unknown = [i for i in labels if i not in known]
        if unknown:
            raise ExampleFormatError(f"{where}: unknown intent id {unknown[0]!r}")
        examples.append(Example(text=message.strip(), labels=tuple(dict.fromkeys(labels)), source=where))
    if not examples:
        raise ExampleFormatError(f"{path}: no reviewed rows")
    return examples


def merge_reviews(examples: list[Example], reviews: list[Example]) -> list[Example]:
    """The training examples with the reviewed ones added; a review overrides an example with the same text."""
    reviewed = {ex.text: ex for ex in reviews}
    return [ex for ex in examples if ex.text not in reviewed] + list(reviewed.values())
