"""One reply answering each question of a mixed ask ("纯羊毛吗 会不会扎 163 52kg穿M还是L"): the questions'
answers, in the order asked, joined into one message as an agent would write it (one 亲 at the start). An answer
that ends by asking the customer something ("方便再说下您的身高吗？") goes after the others, so that the message
ends with its question instead of asking it midway.

Also one reply that soothes and answers: an apology or empathy reply leading the list, then its point's best answer
(`soothed_candidate`). A complaint's feeling comes before its facts, but a message that only apologises
leaves the customer asking what happens now.

The joined reply is offered like any other: its id (`joined-` and a digest of the replies it joins) is the same
whenever the same replies are joined, so its adoption is learnt; `parts` names the replies.
"""

from __future__ import annotations

import hashlib
import re
from typing import Sequence

from service.replies.corpus import StandardReply
from service.replies.ranking import Candidate
from service.shop.products import JOINED_ID_PREFIX

# The salutation a later part loses: the joined reply greets once.
_SALUTATION = re.compile(r"^(?:亲亲|亲爱的|亲)[，,～~！!、\s]*")
# The customer addressed as 亲 anywhere in a part ("真抱歉亲，…"), not 亲自 or 亲手.
_ADDRESSED = re.compile(r"亲(?![自手戚人友身口眼])")
# A part ending in a letter, a digit or a character gets a full stop before the next.
_OPEN_END = re.compile(r"[\w]$")
# Where a reply's sentences end; a last sentence with a question mark or 吗, or ending in 呢, asks the customer
# something ("方便再说下您的身高吗，我帮您看得更准～").
_SENTENCE_END = re.compile(r"[。！!；;]")
_ASKS = re.compile(r"[？?]|吗|呢[～~…\s]*$")


def joined_id(ids: Sequence[str]) -> str:
    return JOINED_ID_PREFIX + hashlib.sha1("+".join(ids).encode("utf-8")).hexdigest()[:12]


def join_texts(texts: Sequence[str]) -> str:
    """The texts as one message: the first part's salutation (or 亲, when only a later part had one and the first
    does not say 亲 elsewhere: "真抱歉亲，…") opens it."""
    out = texts[0].strip()
    if not _ADDRESSED.search(out) and any(_SALUTATION.match(t.strip()) for t in texts[1:]):
        out = "亲，" + out
    for text in texts[1:]:
        if _OPEN_END.search(out):
            out += "。"
        out += _SALUTATION.sub("", text.strip())
    return out


def _unique(items) -> tuple:
    return tuple(dict.fromkeys(items))


def asks_back(text: str) -> bool:
    """True if `text` ends by asking the customer something."""
    sentences = [part for part in _SENTENCE_END.split(text.strip()) if part.strip()]
    return bool(sentences) and bool(_ASKS.search(sentences[-1]))


def _combined(parts: Sequence[Candidate], lead: Candidate, category: str, why: str) -> Candidate:
    """`parts` as one reply, in the order given: `lead` lends it its intents, stage, source, knowledge point and
    point; what any part misses, presumes or needs checked, it does."""
    ids = [p.reply.id for p in parts]
    text = join_texts([p.text for p in parts])
    reply = StandardReply(
        id=joined_id(ids), text=text, intents=lead.reply.intents, stage=lead.reply.stage, category=category,
        source=lead.reply.source, knowledge_point=lead.reply.knowledge_point,
        presumes=_unique(f for p in parts for f in p.reply.presumes),
    )
    checks = _unique(p.needs_check for p in parts if p.needs_check)
    return Candidate(
        reply, lead.point, max(p.score for p in parts), text, _unique(m for p in parts for m in p.missing),
        "；".join(checks) or None, why, own_facts=any(p.own_facts for p in parts), parts=tuple(ids),
    )


def joined_candidate(parts: Sequence[Candidate]) -> Candidate:
    """The parts' answers as one reply: what any part misses, presumes or needs checked, the joined reply does.
    The first part (the first question asked) lends it its intents, stage, source and knowledge point. In the
    text, parts that end by asking the customer something go last, each group in the order given."""
    first = parts[0]
    parts = sorted(parts, key=lambda p: asks_back(p.text))  # stable: the order asked within each group
    return _combined(parts, first, "answer", f"分别回答{len(parts)}个问题：" + " + ".join(p.point for p in parts))


# An answer that apologises itself soothes on its own ("确实是我们发错了，真不好意思…").
APOLOGISES = re.compile(r"抱歉|对不起|不好意思|歉意")
# A feeling reply that says what I will do or asks for what I need ("这件事我接手了", "麻烦把订单号发我，我这就核对")
# answers on its own.
ACTS = re.compile(r"发我|麻烦您|我这就|我现在就|我马上|马上[给帮去]|帮您|接手|提交|安排|处理")


def soothed_candidate(feeling: Candidate, answer: Candidate) -> Candidate:
    """`feeling` (an apology or empathy reply) and then `answer` (its point's answer) as one reply. It keeps the
    feeling's category, point, intents and stage: it opens with it. What either part misses, presumes or needs
    checked, it does."""
    return _combined([feeling, answer], feeling, feeling.reply.category, "先安抚，再给办法：" + answer.why)
