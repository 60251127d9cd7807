"""The standard replies (标准话术): validated on load, with their template variables."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field

from intents.labels import INTENTS, PSYCHOLOGY
from intents.resources import Source, children, packaged

REPLIES_DIR = packaged("scripts_corpus", "replies")

STAGES = ("售前", "售中", "售后")
# Etiquette categories of a reply, with the name an agent sees.
CATEGORY_LABELS = {
    "opening": "开场", "answer": "解答", "reassurance": "打消顾虑", "waiting": "请稍等", "cannot_answer_now": "稍后答复",
    "apology": "道歉", "empathy": "共情", "solution": "解决方案", "escalation": "升级", "follow_up": "跟进",
    "thanks": "感谢", "closing": "结束", "holding": "澄清",
}
CATEGORIES = tuple(CATEGORY_LABELS)
SEVERITIES = ("ordinary", "serious")
# Template variables a reply may use, with the label an agent sees when one
# without a fallback is missing (so a raw {placeholder} never reaches a customer).
VARIABLES = {"nickname": "昵称", "order_id": "订单号", "courier": "快递公司", "tracking_no": "运单号", "shop_name": "店铺名"}

_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_SLOT = re.compile(r"\{([a-z_]+)(?:\|([^{}|]*))?\}")
_REQUIRED = ("id", "text", "intents", "stage", "category")
_OPTIONAL = ("psychology", "severity", "triggers")


class CorpusError(ValueError):
    """A reply record is invalid; the message names file, line and reason."""


@dataclass(frozen=True)
class StandardReply:
    """One ready-to-send reply of the corpus or of the shop, with what it is for."""

    id: str
    text: str
    intents: tuple[str, ...]
    stage: str
    category: str
    psychology: tuple[str, ...] = ()
    severity: str | None = None
    triggers: tuple[str, ...] = ()
    source: str = ""  # "file:line" for the corpus, "shop" for additions

    @property
    def slots(self) -> list[tuple[str, str | None]]:
        """The template variables in the text, in order: (name, fallback or None)."""
        return [(m.group(1), m.group(2)) for m in _SLOT.finditer(self.text)]

    def as_dict(self) -> dict:
        return {
            "id": self.id,
            "text": self.text,
            "intents": list(self.intents),
            "stage": self.stage,
            "category": self.category,
            "psychology": list(self.psychology),
            "severity": self.severity,
            "triggers": list(self.triggers),
        }


def check_template(text: str) -> str | None:
    """The problem with a reply text's template syntax, or None when it is sound."""
    depth = 0
    for ch in text:
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth < 0 or depth > 1:
            return "unbalanced braces"
    if depth:
        return "unbalanced braces"
    if _SLOT.sub("", text).count("{"):
        return "malformed placeholder (use {name} or {name|fallback})"
    for match in _SLOT.finditer(text):
        if match.group(1) not in VARIABLES:
            return f"unknown variable {match.group(1)!r} (known: {', '.join(VARIABLES)})"
    return None


def fill(text: str, variables: dict[str, str]) -> tuple[str, list[str]]:
    """Fill template variables: a given value, else the fallback, else a visible 【label】
    for the agent to replace. Returns the text and the names that still need a value."""
    missing: list[str] = []

    def slot(match: re.Match[str]) -> str:
        name, fallback = match.group(1), match.group(2)
        value = (variables.get(name) or "").strip()
        if value:
            return value
        if fallback is not None:
            return fallback
        missing.append(name)
        return f"【{VARIABLES.get(name, name)}】"

    return _SLOT.sub(slot, text), missing


def parse_reply(record: object, where: str, source: str) -> StandardReply:
    """Validate one record (a decoded JSON object); raise CorpusError naming `where`."""
    if not isinstance(record, dict):
        raise CorpusError(f"{where}: expected a JSON object")
    missing = [key for key in _REQUIRED if key not in record]
    if missing:
        raise CorpusError(f"{where}: missing field {missing[0]!r}")
    unknown = sorted(set(record) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:
        raise CorpusError(f"{where}: unknown field {unknown[0]!r}")

    def strings(key: str, allowed: tuple[str, ...] | None, required: bool) -> tuple[str, ...]:
        value = record.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise CorpusError(f"{where}: {key} must be a list of non-empty strings")
        if required and not value:
            raise CorpusError(f"{where}: {key} must not be empty")
        for v in value:
            if allowed is not None and v not in allowed:
                kind = {"intents": "intent id", "psychology": "psychology id"}.get(key, key)
                raise CorpusError(f"{where}: unknown {kind} {v!r}")
        return tuple(value)

    rid, text = record["id"], record["text"]
    if not isinstance(rid, str) or not _ID.match(rid):
        raise CorpusError(f"{where}: id must be lowercase letters, digits and '-', got {rid!r}")
    if not isinstance(text, str) or not 4 <= len(text.strip()) <= 300:
        raise CorpusError(f"{where}: text must be a string of 4–300 characters")
    problem = check_template(text)
    if problem:
        raise CorpusError(f"{where}: {problem} in text {text!r}")
    if record["stage"] not in STAGES:
        raise CorpusError(f"{where}: unknown stage {record['stage']!r} (known: {', '.join(STAGES)})")
    if record["category"] not in CATEGORIES:
        raise CorpusError(f"{where}: unknown category {record['category']!r} (known: {', '.join(CATEGORIES)})")
    severity = record.get("severity")
    if severity is not None and severity not in SEVERITIES:
        raise CorpusError(f"{where}: unknown severity {severity!r} (known: {', '.join(SEVERITIES)})")
    triggers = strings("triggers", None, False)
    if len(triggers) > 5 or any(len(t) > 200 for t in triggers):
        raise CorpusError(f"{where}: at most 5 triggers of up to 200 characters")
    return StandardReply(
        id=rid,
        text=text.strip(),
        intents=strings("intents", INTENTS, True),
        stage=record["stage"],
        category=record["category"],
        psychology=strings("psychology", PSYCHOLOGY, False),
        severity=severity,
        triggers=triggers,
        source=source,
    )


@dataclass(frozen=True)
class ReplyCorpus:
    """All replies by id, corpus first, then shop additions. Never changed once built: adding a
    reply makes a new corpus (`with_reply`), so a reader never sees one half-updated."""

    replies: dict[str, StandardReply] = field(default_factory=dict)

    @classmethod
    def of(cls, replies: list[StandardReply]) -> "ReplyCorpus":
        corpus: dict[str, StandardReply] = {}
        for reply in replies:
            if reply.id in corpus:
                raise CorpusError(f"{reply.source}: duplicate id {reply.id!r} (first at {corpus[reply.id].source})")
            corpus[reply.id] = reply
        return cls(corpus)

    def __len__(self) -> int:
        return len(self.replies)

    def __iter__(self):
        return iter(self.replies.values())

    def with_reply(self, reply: StandardReply) -> "ReplyCorpus":
        return ReplyCorpus.of([*self.replies.values(), reply])

    @property
    def hash(self) -> str:
        """Fingerprint of the texts and triggers (what the embeddings depend on)."""
        digest = hashlib.sha256()
        for reply in self:
            digest.update(json.dumps([reply.id, reply.text, list(reply.triggers)], ensure_ascii=False).encode())
        return digest.hexdigest()


def load_corpus(source: Source = REPLIES_DIR, extra: list[StandardReply] = ()) -> ReplyCorpus:
    """Read every `*.jsonl` in a folder (or one file), then `extra` (the shop's own replies); the
    first bad record stops with file, line and reason."""
    if not source.is_file() and not source.is_dir():
        raise CorpusError(f"{source}: no such file or folder")
    files = children(source, ".jsonl")
    if not files:
        raise CorpusError(f"{source}: no reply files (*.jsonl)")
    replies: list[StandardReply] = []
    for path in files:
        for lineno, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not raw.strip() or raw.lstrip().startswith("#"):
                continue
            where = f"{path}:{lineno}"
            try:
                record = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise CorpusError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno})") from None
            replies.append(parse_reply(record, where, where))
    if not replies:
        raise CorpusError(f"{source}: no replies")
    return ReplyCorpus.of(replies + list(extra))
