"""One reply answering each question of a mixed ask ("纯羊毛吗 会不会扎 163 52kg穿M还是L"): the questions'
answers, in the order asked, joined into one message as an agent would write it (one 亲 at the start).

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
# A part ending in a letter, a digit or a character gets a full stop before the next.
_OPEN_END = re.compile(r"[\w]$")


def joined_id(ids: Sequence[str]) -> str:
    return JOINED_ID_PREFIX + hashlib.sha1("+".join(ids).encode("utf-8")).hexdigest()[:12]


def join_texts(texts: Sequence[str]) -> str:
    out = texts[0].strip()
    for text in texts[1:]:
        if _OPEN_END.search(out):
            out += "。"
        out += _SALUTATION.sub("", text.strip())
    return out


def _unique(items) -> tuple:
    return tuple(dict.fromkeys(items))


def joined_candidate(parts: Sequence[Candidate]) -> Candidate:
    """The parts' answers as one reply: what any part misses, presumes or needs checked, the joined reply does."""
    lead = parts[0].reply
    ids = [p.reply.id for p in parts]
    text = join_texts([p.text for p in parts])
    reply = StandardReply(
        id=joined_id(ids), text=text, intents=lead.intents, stage=lead.stage, category="answer",
        source=lead.source, knowledge_point=lead.knowledge_point, presumes=_unique(f for p in parts for f in p.reply.presumes),
    )
    checks = _unique(p.needs_check for p in parts if p.needs_check)
    return Candidate(
        reply, parts[0].point, max(p.score for p in parts), text, _unique(m for p in parts for m in p.missing),
        "；".join(checks) or None, f"分别回答{len(parts)}个问题：" + " + ".join(p.point for p in parts),
        own_facts=any(p.own_facts for p in parts), parts=tuple(ids),
    )
