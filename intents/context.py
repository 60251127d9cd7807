"""What the earlier turns of a conversation add to reading the newest message.

A follow-up such as "还没到" or "那M呢" says little on its own; after a
tracking or size question it clearly continues that topic. The current
message's intent probabilities are blended with those of the earlier turns,
the more so the shorter and the less certain the message is, so a message
that is clear on its own ("那能便宜点吗") keeps its own intent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

# Openings and endings that lean on what was said before.
_FOLLOW_UP = re.compile(r"^(那|那么|那个|还|还是|然后|所以|另外|这个|可是|但是|就是|是不是)|[呢]$")
# What the agent suggested did not help ("捏过了 没用 还是合不上", "重启了还是不行"), or was done already ("翻过了
# 整个包裹都倒出来了 就是没有"): the message goes on with the conversation's problem, whatever its own words ("过了",
# "包裹") look like. Not "没用过" (never used).
_DID_NOT_HELP = re.compile(
    r"没用(?![过的])|不管用|没效果|没有用(?![过的])|还是(?:不行|没用|一样|老样子|没反应)|试了?(?:也|还是)?不行"
    r"|^(?:我|都|也|已经|早就?)*(?:翻|找|试|看|查|弄|捏|按|擦|检查|重启|重装|清理|拔|插|刷新)(?:过了?|遍了)"
)
# Still waiting for something it does not name ("我昨天就确认收货了 咋还没看到", after the invoice's date): what was not
# seen or received is what the conversation is about.
_NOT_YET_SEEN = re.compile(r"没(?:有)?(?:看到|看见|收到|见到|找到|到)[啊呀呢哦吧]*$")
_CONTENT = re.compile(r"[\w]", re.UNICODE)
# A pasted order, tracking or phone number ("3829104475562018", "SF1234567890123"): data the conversation asked for,
# not words saying what the message is about ("<order number> 快点" is as short as "快点").
PASTED = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{0,4}\d{6,}(?![A-Za-z0-9])")


@dataclass(frozen=True)
class ContextWeights:
    follow_up: float = 0.9  # share of the uncertainty handed to the context for a short or elliptical message
    standalone: float = 0.4  # … for any other message
    short_chars: int = 8  # at most this many letters/digits/characters counts as short
    recency: tuple[float, ...] = (1.0, 0.5, 0.25)  # weight of the last, second-last, third-last customer turn
    agent: float = 0.5  # weight of the agent's last turn (what the agent just asked or said)


def is_short(text: str, weights: ContextWeights = ContextWeights()) -> bool:
    """At most `short_chars` letters, digits or characters, not counting pasted numbers."""
    return len(_CONTENT.findall(PASTED.sub(" ", text))) <= weights.short_chars


def is_follow_up(text: str, weights: ContextWeights = ContextWeights()) -> bool:
    """Short, opening/ending like a continuation of what was said before, saying that what was tried did not help,
    or still waiting for something it does not name."""
    bare = text.strip(" ?？!！。~～…")
    continues = _FOLLOW_UP.search(bare) or _DID_NOT_HELP.search(text) or _NOT_YET_SEEN.search(bare)
    return is_short(text, weights) or bool(continues)


def context_distribution(
    customer: list[np.ndarray], agent: np.ndarray | None, weights: ContextWeights = ContextWeights()
) -> np.ndarray | None:
    """Weighted mean of earlier turns' probabilities (`customer` oldest first), or None with no turns."""
    parts, total = [], 0.0
    for w, probs in zip(weights.recency, reversed(customer)):
        parts.append(w * probs)
        total += w
    if agent is not None:
        parts.append(weights.agent * agent)
        total += weights.agent
    if not parts:
        return None
    return np.sum(parts, axis=0) / total


def blend(
    current: np.ndarray, context: np.ndarray | None, text: str, weights: ContextWeights = ContextWeights()
) -> tuple[np.ndarray, float]:
    """The message's probabilities with the context mixed in, and the share the context got."""
    if context is None:
        return current, 0.0
    share = (weights.follow_up if is_follow_up(text, weights) else weights.standalone) * (1.0 - float(current.max()))
    mixed = (1.0 - share) * current + share * context
    return mixed / mixed.sum(), share
