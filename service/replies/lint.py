"""Draft check: taboo wording, advertising-law absolute terms, unfilled placeholders and empty drafts.

The lexicon (`scripts_corpus/lint.tsv`) is matched in one Aho-Corasick pass over the draft; `allow`
phrases (第一时间, 最近 …) cover innocent uses of a pattern and drop the match they cover. A pattern
with `…` (您自己…不对) matches its parts in order with at most GAP characters between them, within one
clause (no sentence or clause punctuation between), for wording that varies in the middle ("是您自己洗的
方法不对"). Offsets are indices into the draft as the agent typed it (Python string indices: Unicode code
points).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from intents.lexicon import Hit, Lexicon, fold, longest_first, tsv_records
from intents.resources import Source, packaged
from service.replies.corpus import VARIABLES

LEXICON = packaged("scripts_corpus", "lint.tsv")

KIND_MESSAGES = {
    "taboo": {
        "arguing": "争辩：别和客户论对错，先认同感受再说明",
        "interrogating": "质问：反问、追问会让客户觉得被审问",
        "ordering": "命令口吻：换成建议的说法，让客户自己选择",
        "blaming": "指责客户或推卸责任：先说我们能做什么",
        "boasting": "自我夸耀：用事实和买家反馈说话",
        "criticising": "批评客户：不评价客户的做法和眼光",
        "cold": "冷淡的一词回复：补上称呼、原因和下一步",
        "brushing_off": "推诿：问题到了我们这里，就由我们跟进到底",
        "impatient": "不耐烦或让客户干等：说明要等多久、我在做什么",
        "cost_shifting": "把费用推给客户：先说我们能做什么，费用按店铺规则说明",
    },
    "ad_law": {
        "absolute": "广告法：绝对化用语（最、第一、唯一、顶级……）可能被处罚",
        "authority": "广告法：未经证明的权威或官方背书说法",
        "guarantee": "广告法：对效果作保证或承诺的说法",
    },
}
CATEGORY_SEVERITY = {"taboo": "warning", "ad_law": "error", "placeholder": "error", "empty": "error"}
CATEGORY_LABELS = {"taboo": "禁忌", "ad_law": "广告法", "placeholder": "占位符", "empty": "空草稿"}
CATEGORIES = tuple(CATEGORY_SEVERITY)

# {order_id}, {nickname|亲}, {{7*7}} … and the 【订单号】 marks a filled reply shows for a missing variable.
_BRACES = re.compile(r"\{[^{}\n]{0,60}\}")
_MARKS = re.compile("【(" + "|".join(map(re.escape, VARIABLES.values())) + ")】")
GAP = 8  # most characters between the parts of a `…` pattern
_CLAUSE_END = "。！？!?；;，,\n"


class LintFormatError(ValueError):
    """A lexicon record cannot be used; the message names file, line and reason."""


@dataclass(frozen=True)
class Rule:
    category: str  # taboo | ad_law | allow
    kind: str
    pattern: str  # folded; for whole-draft rules, the draft's core (see `_core`)
    suggestion: str | None
    whole: bool = False

    @property
    def gapped(self) -> bool:
        return "…" in self.pattern


@dataclass(frozen=True)
class Finding:
    start: int
    end: int
    text: str
    category: str
    kind: str
    severity: str
    message: str
    suggestion: str | None

    def as_dict(self) -> dict:
        return {
            "span": {"start": self.start, "end": self.end},
            "text": self.text,
            "category": self.category,
            "kind": self.kind,
            "severity": self.severity,
            "message": self.message,
            "suggestion": self.suggestion,
        }


def _is_filler(ch: str) -> bool:
    return ch.isspace() or unicodedata.category(ch)[0] in "PSZC"


def _core(folded: str) -> str:
    """A draft reduced to its words: no whitespace, punctuation, symbols or emoji, no leading 亲."""
    core = "".join(ch for ch in folded if not _is_filler(ch))
    return core[1:] if core.startswith("亲") else core


def read_rules(path: Source) -> list[Rule]:
    """Parse `category<TAB>kind<TAB>pattern<TAB>suggestion` records; a bad one raises with file and line."""
    rules: list[Rule] = []
    seen: set[tuple[str, str]] = set()
    for where, parts in tsv_records(path):
        if len(parts) != 4:
            raise LintFormatError(f"{where}: expected 'category<TAB>kind<TAB>pattern<TAB>suggestion', got {len(parts)} fields")
        category, kind, pattern, suggestion = (p.strip() for p in parts)
        if category == "allow":
            if kind != "-" or suggestion:
                raise LintFormatError(f"{where}: an allow row has kind '-' and no suggestion")
        elif category in KIND_MESSAGES:
            if kind not in KIND_MESSAGES[category]:
                raise LintFormatError(f"{where}: unknown {category} kind {kind!r} (known: {', '.join(KIND_MESSAGES[category])})")
            if not suggestion:
                raise LintFormatError(f"{where}: {category} {pattern!r} needs a suggestion")
        else:
            raise LintFormatError(f"{where}: unknown category {category!r} (known: taboo, ad_law, allow)")
        whole = pattern.startswith("=")
        if whole and category != "taboo":
            raise LintFormatError(f"{where}: only taboo rows can match the whole draft ('=')")
        folded = _core(fold(pattern[1:])) if whole else fold(pattern)
        if not folded:
            raise LintFormatError(f"{where}: empty pattern")
        if "…" in pattern and (whole or any(not part for part in folded.split("…"))):
            raise LintFormatError(f"{where}: '…' goes between two words, and not in a whole-draft ('=') pattern")
        if (category, pattern) in seen:
            raise LintFormatError(f"{where}: {category} {pattern!r} repeated")
        seen.add((category, pattern))
        rules.append(Rule(category, kind, folded, suggestion or None, whole))
    return rules


class DraftLinter:
    """Checks an agent's draft reply; `check` returns findings in text order."""

    def __init__(self, rules: list[Rule]):
        self.rules = rules
        self._whole = {r.pattern: r for r in rules if r.whole}
        self._lexicon: Lexicon[Rule] = Lexicon((r.pattern, r) for r in rules if not r.whole and not r.gapped)
        between = f"[^{re.escape(_CLAUSE_END)}]{{0,{GAP}}}?"
        self._gapped = [(re.compile(between.join(map(re.escape, r.pattern.split("…")))), r) for r in rules if r.gapped]
        self.counts = {c: sum(r.category == c for r in rules) for c in ("taboo", "ad_law", "allow")}

    @classmethod
    def load(cls, path: Source = LEXICON) -> "DraftLinter":
        rules = read_rules(path)
        if not any(r.category != "allow" for r in rules):
            raise LintFormatError(f"{path}: no taboo or ad_law rules")
        return cls(rules)

    def check(self, text: str) -> list[Finding]:
        if not text.strip():
            return [self._finding(text, 0, len(text), "empty", "empty", "草稿是空的：写好回复再发送", None)]
        findings = self._lexicon_findings(text)
        core = _core(fold(text))
        if core in self._whole:
            rule = self._whole[core]
            start = next(i for i, ch in enumerate(text) if not ch.isspace())
            end = len(text.rstrip())
            findings.append(self._finding(text, start, end, rule.category, rule.kind, None, rule.suggestion))
        for match in _BRACES.finditer(text):
            name = match.group()[1:-1].split("|")[0].strip()
            label = VARIABLES.get(name)
            what = f"{match.group()}（{label}）" if label else match.group()
            findings.append(
                self._finding(text, match.start(), match.end(), "placeholder", "unfilled",
                              f"未替换的占位符 {what}：填上实际内容再发送", None)
            )
        for match in _MARKS.finditer(text):
            findings.append(
                self._finding(text, match.start(), match.end(), "placeholder", "missing_value",
                              f"{match.group()} 还没有填写：在变量里设置或直接改成实际内容", None)
            )
        return sorted(findings, key=lambda f: (f.start, -f.end, f.category))

    def _lexicon_findings(self, text: str) -> list[Finding]:
        hits: dict[str, list] = {}
        found = self._lexicon.find(text)
        if self._gapped:
            folded = fold(text)
            found += [Hit(m.start(), m.end(), text[m.start():m.end()], rule) for pattern, rule in self._gapped for m in pattern.finditer(folded)]
        for hit in found:
            hits.setdefault(hit.payload.category, []).append(hit)
        allowed = hits.pop("allow", [])
        findings = []
        for category, found in hits.items():
            kept = [h for h in found if not any(a.start <= h.start and h.end <= a.end for a in allowed)]
            for hit in longest_first(kept):
                findings.append(self._finding(text, hit.start, hit.end, category, hit.payload.kind, None, hit.payload.suggestion))
        return findings

    @staticmethod
    def _finding(text, start, end, category, kind, message, suggestion) -> Finding:
        if message is None:
            message = KIND_MESSAGES[category][kind]
        return Finding(start, end, text[start:end], category, kind, CATEGORY_SEVERITY[category], message, suggestion)
