"""The separate questions of one message: "纯羊毛吗? 会不会扎 我163 52kg穿M还是L 燕麦色还有没" asks four things.

A message is cut where a clause ends (punctuation, a space, a numbered list's "2.", a question particle with more
after it). A clause that asks (a question particle or word, or a question mark after it) is a question; a 呢 after something
going on tells ("我怀着孕呢"). A clause that does not ask is what the customer tells about a question: before the first
question, or when it carries numbers (measurements, an order), it goes with the question after it ("腰2尺1 臀围90
穿几码"); otherwise with the question before ("能机洗吗 我家洗衣机有羊毛档").
A height and a weight told before a question about something else ask which size of their own ("他180 70公斤 黑色有么":
the size, then the colour).
A very short question or an alternative goes on with the question before ("发什么快递 中通吗", "送到家吗 还是放驿站"),
unless it asks what the thing can do ("纯羊毛的? 能机洗?").
Text from `intents.normalize.normalize` (ASCII punctuation).
"""

from __future__ import annotations

import re

from intents.measurements import read_measurements
from intents.slots import SIZE_LETTERS

# Where a clause ends: punctuation or spaces; after 吗/呢 with more words to come; before a numbered item ("2.", "3、").
_BREAK = re.compile(r"[?!。,;~\s]+|(?<=[吗呢])(?=[^?!。,;~\s吧啊呀哈哦])|(?<![\d.])(?=\d[.、](?!\d))")
_NUMBERED = re.compile(r"^\d[.、]\s*")
# A clause that asks: a question mark or particle, a question word, an A-not-A ("有没有", "扎不扎", "包邮不"). 几
# asks only of a size, a day or a time ("穿几码", "几天到"): "补几张图", "买几件" tell. 还是 asks for a choice, except
# where it says "still" ("显示的还是老地址", "还是没动", "还是一样").
_QUESTION = re.compile(
    r"[?吗呢嘛]|么$|[啥哪咋谁]|几(?=[码号天点时日月]|$)|什么|多少|多久|多大|多长|怎么|怎样|如何|是否|能否|可否|还是(?!老|原来|原先|旧|没|不|一样|那样|之前|以前)|(.)不\1|(.)没\2|[不没]$"
    # asking to be told yes ("换小一码可以吧", "能退吧"), not giving in ("那好吧", "行吧")
    r"|(?:可以|能[^吧\s]{0,3})吧$"
    # asked in Cantonese ("37码系咪脚长23.5", "运费几多", "有冇黑色", "好唔好洗")
    r"|系咪|几多|几时|点样|点解|咩|边度|边个|冇$|有冇|(.)唔\3"
    # asked as a request ("退货地址发下", "尺码表发我")
    r"|(?:发|告诉|说)(?:一?下|我|给我)$"
)
# A 呢 that tells, not asks: after something going on ("我怀着孕呢", "我在上班呢", "人家等着穿呢").
_TELLS = re.compile(r"(?:着.*|^(?:我|我们|人家|孩子|宝宝|家里)?(?:正|还|都)?在(?!哪|吗|不|没).*)呢$")
_HAN = re.compile(r"[\u4e00-\u9fff]")
# A clause opening another topic ("还有哈尔滨零下二十几度 这件扛的住吗"): it goes with the question after it.
_NEW_TOPIC = re.compile(r"^(?:还有|另外|对了|顺便|再问)")
_DIGIT = re.compile(r"\d")


# A question this short ("中通吗", "包邮不") or offering an alternative ("还是放驿站") goes on with the one before,
# unless it asks what the thing can do or will do ("能机洗", "会缩水?"; a modal with a verb after it, not "能吗").
_OWN_QUESTION_CHARS = 4
_GOES_ON = re.compile(r"^(?:还是|或者|或是)")
_CAN_DO = re.compile(r"^(?:能|会|可以)(?![吗么嘛呢不没?]|$)")


# Words of a question about size or fit: measurements told before it go with it ("173 65kg 选L会不会大", "腰围2尺1
# 臀围90 拍哪个": which one to buy is which size).
_ABOUT_SIZE = re.compile(
    rf"码|号|尺|大小|穿|合身|合适|偏大|偏小|显|肥|瘦|紧|松|长|短|宽|窄|(?:拍|选|买|要|下单?)哪(?:个|一个)?(?:好|呢|啊|呀|吧)?$|(?<![a-z0-9])(?:{SIZE_LETTERS})(?![a-z0-9])", re.IGNORECASE
)


def _sizes_someone(told: list[str], question: str) -> bool:
    """Measurements enough to choose a size by (a height and a weight, or two body measures), told before a question
    that is not about size: they ask for a size themselves."""
    measured, _ = read_measurements(" ".join(told))
    return len(measured) >= 2 and not _ABOUT_SIZE.search(question)


def _asks(clause: str, marked: bool = False) -> bool:
    """A clause that asks: a question particle or word in it, or a question mark after it (`marked`: "L码有货?")."""
    if _TELLS.search(clause):
        clause = clause[:-1]  # its 呢 tells; the clause asks only by a question word of its own
    return len(_HAN.findall(clause)) >= 2 and (marked or bool(_QUESTION.search(clause)))


def _clauses(text: str) -> list[tuple[str, bool]]:
    """The clauses of a message, each with whether a question mark ends it (the cut takes the mark away)."""
    out, start = [], 0
    for cut in [*_BREAK.finditer(text), None]:
        end = cut.start() if cut else len(text)
        part = _NUMBERED.sub("", text[start:end].strip())
        if part:
            out.append((part, bool(cut and "?" in cut.group())))
        if cut:
            start = cut.end()
    return out


def _goes_on(clause: str) -> bool:
    short = len(clause.replace(" ", "")) < _OWN_QUESTION_CHARS and not _CAN_DO.match(clause)
    return short or bool(_GOES_ON.match(clause))


def asks_anything(text: str) -> bool:
    """Whether any clause of the text asks something ("裤子呢 我腰围2尺5" does, "那我拍了" does not)."""
    return any(_asks(part, marked) for part, marked in _clauses(text))


# A clause saying what the customer has chosen or wants ("那就拿大那个码", "那就L吧", "行 就拿28", "松点的吧"); and one only
# agreeing ("好", "行"), which may come with it. Neither tells anything a question after them is about.
_CHOSEN = re.compile(r"^(?:好|行|嗯+|ok)?(?:那就|就|那|还是)+(?:拍|拿|要|选|买|定)[^\s]{0,8}$|^(?!好吧|行吧)[^\s]{1,8}吧$", re.IGNORECASE)
_AGREED = re.compile(r"^(?:好的?|好吧|行吧?|嗯+|ok|可以|那好)$", re.IGNORECASE)


def after_choice(text: str) -> str | None:
    """The message from its first question on, when the clauses before that say what the customer chose, and
    perhaps agree ("松点的吧 那就拿大那个码 现在拍啥时候能发货" asks when it ships); else None (nothing told before the
    question, or something it is about: "我是油皮 这个适合吗", "买了两百多 说好的收纳袋呢")."""
    clauses = _clauses(text)
    first = next((i for i, (part, marked) in enumerate(clauses) if _asks(part, marked)), None)
    told = [part for part, _ in clauses[:first or 0]]
    if not told or not all(_CHOSEN.search(part) or _AGREED.search(part) for part in told):
        return None
    if not any(_CHOSEN.search(part) for part in told):
        return None
    return " ".join(part for part, _ in clauses[first:])


def split_asks(text: str) -> list[str]:
    """The message's questions in order, each with what the customer said about it; one item for a message
    asking one thing (or nothing)."""
    questions: list[str] = []
    lead: list[str] = []  # told before the question it belongs to
    for part, marked in _clauses(text):
        if _asks(part, marked) and questions and not lead and _goes_on(part):
            questions[-1] += " " + part
        elif _asks(part, marked):
            if lead and _sizes_someone(lead, part):
                questions += [" ".join(lead), part]
            else:
                questions.append(" ".join([*lead, part]))
            lead = []
        elif questions and not _DIGIT.search(part) and not lead and not _NEW_TOPIC.match(part):
            questions[-1] += " " + part
        else:
            lead.append(part)
    if lead:
        if questions:
            questions[-1] += " " + " ".join(lead)
        else:
            questions.append(" ".join(lead))
    return questions or [text.strip()]
