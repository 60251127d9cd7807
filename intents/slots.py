"""Slots: the values a customer (or the agent) named in the conversation — order and tracking numbers,
the courier, size, colour, quantity, amount, date — read from normalised text so replies can reuse them."""

from __future__ import annotations

import re
from typing import Iterable

import cn2an

# Couriers as customers write them, with the name a reply should use.
COURIERS = {
    "顺丰": "顺丰", "sf": "顺丰", "中通": "中通", "圆通": "圆通", "申通": "申通", "韵达": "韵达", "极兔": "极兔",
    "j&t": "极兔", "邮政": "邮政", "ems": "EMS", "京东快递": "京东快递", "京东物流": "京东物流", "德邦": "德邦",
    "百世": "百世", "天天快递": "天天快递", "优速": "优速", "丰网": "丰网", "宅急送": "宅急送", "安能": "安能",
    "跨越": "跨越速运",
}
# Tracking-number prefixes couriers print, and whose they are.
TRACKING_PREFIXES = {"SF": "顺丰", "YT": "圆通", "JT": "极兔", "JD": "京东快递", "JDV": "京东快递", "DPK": "德邦", "ZTO": "中通", "STO": "申通"}
_COURIER = re.compile("|".join(sorted((re.escape(c) for c in COURIERS), key=len, reverse=True)), re.IGNORECASE)
_TRACKING = re.compile(r"(?<![A-Za-z0-9])([A-Za-z]{2,4})\s?(\d{9,18})(?![0-9])")
_DIGITS = re.compile(r"(?<![0-9A-Za-z])(\d{10,20})(?![0-9])")
_PHONE = re.compile(r"^1[3-9]\d{9}$")
# A number pasted as apps print it, in groups of digits ("7730 1258 8823 4", "3829-1044-7556-2018").
_GROUPED = re.compile(r"(?<![0-9A-Za-z])\d{3,6}(?:[ -]\d{3,6})+(?:[ -]\d{1,6})?(?![0-9A-Za-z])")
_ORDER_CONTEXT = re.compile(r"(订单|订单号|订单编号)[是:]?\W{0,3}$")
_TRACKING_CONTEXT = re.compile(r"(快递|运单|物流|快递单)号?[是:]?\W{0,3}$")
# What joins a number to the one before it in a list ("订单4128836601927 和4128836603390"): the same kind of number.
_LISTED = re.compile(r"\s?(?:和|跟|与|及|以及|还有|、|,|，|/)\s?$")
# The letter sizes (a shared pattern: the size slot, the bare-size follow-up, a question about size in intents.asks).
SIZE_LETTERS = r"[2-6]XL|X{0,3}L|X{1,2}S|[SML]"
_SIZE = re.compile(
    rf"(?<![A-Za-z0-9])((?:{SIZE_LETTERS}))(?:码|号)?(?![A-Za-z0-9])|(均码|加大码|大码|小码)|(?<![0-9.])(\d{{2}}(?:\.5)?)\s?码|(\d{{3}}/\d{{2,3}}[A-Z]?)(?![0-9A-Za-z]|\s?(?:斤|公斤|kg|KG|cm|CM|厘米))"
)
_COLOUR_WORDS = (
    "黑色 白色 红色 蓝色 粉色 灰色 绿色 黄色 紫色 咖色 咖啡色 卡其色 杏色 米色 米白色 米白 燕麦色 藏青色 藏青 藏蓝色 藏蓝 酒红色 "
    "酒红 驼色 军绿色 军绿 橙色 棕色 银色 金色 奶白色 浅蓝色 深蓝色 雾霾蓝 香槟色 焦糖色 浅灰 深灰 浅粉 玫红 枣红 天蓝 墨绿 "
    "牛仔蓝 奶茶色 姜黄色 薄荷绿 黑 白 红 蓝 粉 灰"
).split()
_COLOUR = re.compile("(" + "|".join(sorted(map(re.escape, _COLOUR_WORDS), key=len, reverse=True)) + r")(?:色|的)?")
_NUMERAL = r"(?:\d+|[一二两三四五六七八九十百]+)"
_QUANTITY = re.compile(rf"({_NUMERAL})\s?(件|个|条|双|套|盒|瓶|包|只|台|支|张|份|箱|袋)(?!月|小时|星期|礼拜|钟|码|号|代发)")
_CHANGE_WORDS = r"换成|改成|换为|改为|换个|换|改"
_CHANGE_TO = re.compile(rf"({_CHANGE_WORDS}|想要)\s?$")
# A courier asked for ("能换邮政吗", "能发顺丰吗"), not the one sent ("写着顺丰给我发韵达").
_COURIER_TO = re.compile(rf"(?:{_CHANGE_WORDS}|改发|能发|可以发|想发|要发|帮我发|请发|能走|可以走|想走|要走|能用|可以用)\s?$")
_COURIER_REFUSED = re.compile(r"(?:别|不要|不想|不)\s?(?:发|走|用)?\s?$")
# A bare number changed to is a size ("现在66的 想要73", "换成100的吧"; not "想要2个"): kids' and numbered sizes.
_CHANGE_TO_NUMBER = re.compile(r"(?:换成|改成|换为|改为|想要)\s?(\d{2,3})(?=的|码|号|吧|$|\s|[，,。!！?？~])")
_AMOUNT = re.compile(r"(?:¥|￥)\s?(\d+(?:\.\d{1,2})?)|(\d+(?:\.\d{1,2})?)\s?(?:元|块钱|块|rmb)", re.IGNORECASE)
_DATE = re.compile(
    r"(今天|明天|后天|大后天|这周[一二三四五六日天末]?|下周[一二三四五六日天末]?|周[一二三四五六日天末]|星期[一二三四五六日天]|"
    r"礼拜[一二三四五六日天]|月底|月初|下个月|\d{1,2}月\d{1,2}[日号]|"
    # (an address's 8号, 12号院 and 3号楼 are no day)
    r"(?<![\d路街道巷弄里村区])\d{1,2}[日号](?![院楼门栋室房铺仓柜])(?:之前|前)?|双十一|双11|618|春节前|年前)"
    # When the order was placed, paid or received ("今天拍的", "3号下的单") is not a date the customer needs it by.
    r"(?!\s?(?:刚|才|已经)?(?:拍|买|下单|下的单|下了单|付|订|收到|签收))"
)
# Words that look like a colour or size but are not one here.
_NOT_COLOUR_AFTER = ("色差", "颜色")
# A one-character colour (白, 黑 …) is one only standing on its own: before 色/的/款, a particle, a size or the
# end, and not ending another word (白天, 蓝牙, 红包 and 明白, 拉黑, 网红 are no colours) or saying what skin or a
# garment turns (脸就红, 发黄, 泛红, 晒黑: a change described, not a colour asked for).
_LONE_COLOUR_SUFFIX = set("色的款系")
_LONE_COLOUR_BEFORE = _LONE_COLOUR_SUFFIX | set("吗呢吧啊呀哦嘛")
_LONE_COLOUR_NOT_AFTER = set("明空蛋苍坦表拉网奶面走")
_LONE_COLOUR_TURNS = set("就发泛变晒脸")  # before a bare colour only: "那就白的", "发黑的就行" are colours
# "The other one", "one of them", "article 24": a count after these is no quantity the customer wants.
_NOT_QUANTITY_AFTER = ("另", "第", "其中", "每", "哪")
SLOT_NAMES = ("order_id", "tracking_no", "courier", "size", "colour", "quantity", "amount", "date")


def _courier_of_tracking(prefix: str) -> str | None:
    return TRACKING_PREFIXES.get(prefix.upper())


def waybill_courier(number: str, turns: Iterable[str] = ()) -> str | None:
    """The courier of a waybill: the one its letters name ("JT5318872046193" 极兔, "JDVA…" 京东快递), else the one named
    in the turn (normalised text, latest first) that gave the number ("走的中通，单号7730…"); None when neither says."""
    upper = (number or "").upper()
    for prefix in sorted(TRACKING_PREFIXES, key=len, reverse=True):
        if upper.startswith(prefix) and upper[len(prefix) : len(prefix) + 1].isalnum():
            return TRACKING_PREFIXES[prefix]
    for text in turns if number else ():
        found = read_slots(text)
        if found.get("tracking_no") == number and found.get("courier"):
            return found["courier"]
    return None


def _quantity(value: str) -> str | None:
    try:
        number = int(value) if value.isdigit() else int(cn2an.cn2an(value, "smart"))
    except (ValueError, TypeError):
        return None
    return str(number) if 0 < number < 100000 else None


def _lone_colour(text: str, at: int) -> bool:
    after = text[at + 1 : at + 2]
    before = text[at - 1 : at] if at else ""
    standing = not after or after in _LONE_COLOUR_BEFORE or not ("\u4e00" <= after <= "\u9fff")
    bare = after not in _LONE_COLOUR_SUFFIX
    return standing and before not in _LONE_COLOUR_NOT_AFTER and not (bare and before in _LONE_COLOUR_TURNS)


def _joined(match: re.Match) -> str:
    digits = re.sub(r"[ -]", "", match.group(0))
    return digits if 10 <= len(digits) <= 20 else match.group(0)


def read_slots(text: str) -> dict[str, str]:
    """The slots one normalised message names (the first mention of each)."""
    found: dict[str, str] = {}
    numbers = _GROUPED.sub(_joined, text)  # the text the order and tracking numbers are read from
    # A courier the customer names is the one the message is about ("能走中通吗" with an SF number pasted);
    # the prefix of a pasted number (its own "SF" included) tells the courier only when none is named.
    # Of several, the one changed to ("韵达不送上门 能换邮政吗"), else the first not refused ("别发韵达 圆通可以吗").
    bare = _TRACKING.sub(lambda m: " " * len(m.group(0)), numbers)
    couriers = list(_COURIER.finditer(bare))
    wanted = [m for m in couriers if not _COURIER_REFUSED.search(bare[max(0, m.start() - 4) : m.start()])] or couriers
    named = next((m for m in wanted if _COURIER_TO.search(bare[max(0, m.start() - 4) : m.start()])), wanted[0] if wanted else None)
    if named:
        found["courier"] = COURIERS[named.group(0).lower()]
    for match in _TRACKING.finditer(numbers):
        courier = _courier_of_tracking(match.group(1))
        if courier or match.group(1).isupper():
            found.setdefault("tracking_no", match.group(1) + match.group(2))
            if courier:
                found.setdefault("courier", courier)
    listed = None  # the number before, when its words said what it is: (kind, where it ended, its length)
    for match in _DIGITS.finditer(numbers):
        digits = match.group(1)
        if _PHONE.match(digits):
            continue  # a phone number: personal, never a slot
        before = numbers[max(0, match.start() - 8) : match.start()]
        said = None
        if _ORDER_CONTEXT.search(before):
            kind = said = "order_id"
        elif _TRACKING_CONTEXT.search(before) or _COURIER.search(before):
            kind = said = "tracking_no"
        elif listed is not None and _LISTED.match(numbers[listed[1] : match.start()]) and abs(listed[2] - len(digits)) <= 2:
            kind = said = listed[0]  # "订单A 和B": a second order, not a waybill
        elif len(digits) >= 15:
            kind = "order_id"
        else:
            kind = "tracking_no"
        found.setdefault(kind, digits)
        listed = (said, match.end(), len(digits)) if said else None
    sizes = list(_SIZE.finditer(text))
    # The size the customer changes to ("选的M码 想换成L") is the one they want; else the first named.
    changed = next((m for m in sizes if _CHANGE_TO.search(text[max(0, m.start() - 4) : m.start()])), None)
    wanted = changed or (sizes[0] if sizes else None)
    changed_to = _CHANGE_TO_NUMBER.search(text)  # a bare number changed to, when no size named is
    if changed is None and changed_to:
        found.setdefault("size", f"{changed_to.group(1)}码")
    elif wanted is not None:
        letters, word, number, chest = wanted.groups()
        found.setdefault("size", letters.upper() if letters else word or (f"{number}码" if number else chest))
    colours = [
        match for match in _COLOUR.finditer(text)
        if not any(text[match.start() : match.start() + 3].startswith(w) for w in _NOT_COLOUR_AFTER)
        and text[match.end() : match.end() + 1] != "差"
        and (len(match.group(1)) > 1 or _lone_colour(text, match.start(1)))
    ]
    # As for the size: the colour the customer changes to ("灰色那件想换成藏青") is the one they want; else the first.
    wanted = next((m for m in colours if _CHANGE_TO.search(text[max(0, m.start() - 4) : m.start()])), colours[0] if colours else None)
    if wanted is not None:
        word = wanted.group(1)
        found.setdefault("colour", word if word.endswith("色") or len(word) > 1 else word + "色")
    for match in _QUANTITY.finditer(text):
        if text[: match.start()].endswith(_NOT_QUANTITY_AFTER):
            continue
        quantity = _quantity(match.group(1))
        if quantity:
            found.setdefault("quantity", f"{quantity}{match.group(2)}")
            break
    amount = _AMOUNT.search(text)
    if amount:
        found.setdefault("amount", f"{amount.group(1) or amount.group(2)}元")
    date = _DATE.search(text)
    if date:
        found.setdefault("date", date.group(1))
    return found


# What an agent's turn can tell: the courier and tracking number the agent gave. Dates, sizes and amounts
# in an agent's turn are the agent's words, not the customer's.
AGENT_SLOTS = ("courier", "tracking_no")
# An agent's turn names the parcel's courier when it gives the waybill number, or says the parcel goes by it ("走的是中通",
# "发的是顺丰"); the shop's default or the couriers it can use ("默认是中通", "我们一般发圆通") are not the courier a
# reply means by {courier} (the one the customer names, or the parcel's).
_PARCEL_COURIER = re.compile(r"(?:走|发|用|寄)的(?:是)?")


# A follow-up naming nothing but a size ("27呢", "那L的呢", "39码呢"): a bare number is a size only once sizes are talked of.
_BARE_SIZE = re.compile(
    rf"^\s*(?:那么?|那个)?\s*(?:(\d{{2}}(?:\.5)?)|({SIZE_LETTERS}))\s*(?:码|号)?\s*的?\s*(?:呢|咧|嘞|捏)\s*[？?。~～!！]*\s*$",
    re.IGNORECASE,
)


def asked_size(message: str, earlier: Iterable[str | tuple[str, str]] = ()) -> str | None:
    """The size the message names ("26码腰围多少"), or the one an elliptical follow-up names after a turn (either
    side's) that named a size ("27呢" after "26码腰围多少", "那39呢" after "38码对应脚长24cm"); else None."""
    named = read_slots(message).get("size")
    if named:
        return named
    bare = _BARE_SIZE.match(message)
    if bare is None:
        return None
    texts = [turn[1] if isinstance(turn, tuple) else turn for turn in earlier]
    if not any(_SIZE.search(text) for text in texts):
        return None
    number, letters = bare.groups()
    return f"{number}码" if number else letters.upper()


def conversation_slots(message: str, earlier: Iterable[str | tuple[str, str]] = ()) -> dict[str, str]:
    """Slots of the newest message, then of the earlier turns from the latest back (what was said last wins).
    An earlier turn is a text (the customer's) or (role, text). A follow-up naming only a size names that size."""
    earlier = list(earlier)
    slots = read_slots(message)
    size = asked_size(message, earlier)
    if size:
        slots["size"] = size
    for turn in reversed(earlier):
        role, text = turn if isinstance(turn, tuple) else ("customer", turn)
        found = read_slots(text)
        if role != "customer" and "tracking_no" not in found and not _PARCEL_COURIER.search(text):
            found.pop("courier", None)
        for name, value in found.items():
            if role == "customer" or name in AGENT_SLOTS:
                slots.setdefault(name, value)
    return {name: slots[name] for name in SLOT_NAMES if name in slots}


# What a customer gave that is no slot: a phone or an address (personal: never put in a reply), a photo or a screenshot (no
# text), an invoice's tax id. A reply must not ask for them again.
_GAVE = {
    "photo": re.compile(
        r"\[(?:图片|照片|视频|截图)\]|(?:图|照片|截图|视频)[^,。!?，！？]{0,4}(?:发|传)(?:你|您|给你|过去|过来)?了"
        r"|(?:发|传)(?:了|过)[^,。!?，！？]{0,4}(?:图|照片|截图|视频)|拍给你了|拍好?了\s?(?:刚|已经)?(?:发|传)(?:你|您|给你|给您|过去)了"
        r"|我(?:发|传)的(?:图|照片|截图|视频)|看(?:这个|这张|一下)(?:截图|图片?|照片|视频)"
    ),
    "tax_id": re.compile(r"(?<![0-9A-Za-z])[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}(?![0-9A-Za-z])"),
    # a street address: a district, town or road, then a number, building or room ("双桥东路12号院3号楼")
    "address": re.compile(r"[省市区县镇路街巷弄村][^,。!?，！？\s]{0,14}\d+\s?(?:号(?!线)|栋|幢|单元|室|弄|楼)"),
    # a selling platform named ("拼多多", "我在抖音开的店"): a merchant's answer to "您在哪个平台开店"
    "platform": re.compile(r"淘宝|天猫|拼多多|拼夕夕|抖音|抖店|快手|小红书|京东|1688|阿里巴巴|闲鱼|微店|视频号|得物|唯品会|有赞|虾皮|shopee|亚马逊|amazon", re.IGNORECASE),
    # what is wrong with the thing ("开胶了", "插上电没反应", "小了", the wrong one sent): a reply asking what the problem is asks again. A worry
    # before buying ("会不会起球", "会掉色吗") tells none, nor does the customer's camera ("摄像头坏了") or temper ("气坏了").
    "problem": re.compile(
        r"(?<!会)(?<!容易)(?:开胶|脱胶|开线|脱线|破洞|有个?洞|破了|断了|裂了|裂开|掉色|褪色|起球|漏水|漏液|漏气|不亮"
        r"|没反应|开不了机|开不开机|充不进电|有划痕|划花了|有污渍|发霉|变形了|卡住了|卡死|拉不上|合不上|有异味|发臭"
        r"|不转了|不转动|焦味|糊味|烧焦|冒烟|不制冷|不制热|不加热|不出水|不工作|用不了了|有杂音|有异响|滋滋响|黑屏|死机"
        r"|(?<![会不])(?:[买穿拍]|偏|有点)?[小大]了|不合身|穿不上|扣不上|太[紧松肥瘦]了"
        r"|(?<![会是怕])有点[大小](?![吗么嘛呢吧了])"  # "感觉有点大" (without 了, which the pattern before takes)
        # the wrong thing sent ("怎么给我发了个五香的", "颜色不对", "码都配错了")
        # (said as done: not a warning, "千万别发错了", "会不会给我发错啊", "颜色不对的话能换吗", nor another number's 码)
        r"|(?<!别)(?<!怕)(?<!会)(?<!别给我)(?<!要给我)(?:发|寄|配|拿)错(?:了|货|颜色|码|尺码|东西|款)(?![吗么嘛])"
        r"|颜色不对(?!的话)|(?:尺码|(?<![号件证])码)不对(?!的话)|不是我(?:买|拍|要|订)的"
        r"|给我发了(?:个|一[件双条个盒包])[^，,。!！?？\s]{0,6}的"
        r"|(?<![气急累饿吓乐笑])(?<!摄像头)(?<!相机)(?<!镜头)坏了)(?![吗么嘛]|不)"
    ),
    # something the customer entered wrong ("单号填错了", "快递公司选错了"): not where to fill it in
    "wrong_entry": re.compile(r"(?:填|写|输|选|打)(?:错|的不对|得不对)|错填|填成了"),
    # how much the 运费险 or a claim paid out, as too little ("才赔6块", "赔得太少"): not "没赔", "钱呢 我没收到"
    "payout": re.compile(
        r"(?:只|才|就)赔了?\s?(?:\d|这么|这点|那么|一点)|赔(?:得|的)(?:钱)?(?:太|有点|这么|也太)?少|赔.{0,6}不够|赔付金额不对"
    ),
}


# What a customer says they cannot give ("截图早删了", "拍不了照片", "聊天记录找不到了", "我哪截得到").
# 拍 alone is also placing an order ("拍不了 一直付款失败"), and an order's record no picture: a picture or a chat is named.
_CANNOT = {
    "photo": re.compile(
        r"(?:截图|照片|图片|视频|聊天记录)[^,。!?，！？]{0,3}(?:删了|没了|找不到|丢了)|截(?:不了|不到)|哪截得(?:到|了)"
        r"|拍不(?:了|到|出)(?:照片?|图|视频)|(?:照片?|图|视频)(?:拍|截)不(?:了|到|出)"
        r"|(?:摄像头|相机|镜头)[^,。!?，！？]{0,2}(?:坏|碎|不能用|用不了|打不开)"
    ),
}


def customer_gave(message: str, earlier: Iterable[str] = ()) -> frozenset[str]:
    """What the customer's normalised message and earlier turns gave that is no slot: "phone", "photo", "tax_id",
    "address", "platform", "problem" (what is wrong with the thing); a photo also when they said they cannot give
    one (either way, not to be asked for again)."""
    gave = set(customer_cannot_give(message, earlier))
    for text in [message, *earlier]:
        numbers = _GROUPED.sub(_joined, text)
        if any(_PHONE.match(m.group(1)) for m in _DIGITS.finditer(numbers)):
            gave.add("phone")
        gave.update(name for name, pattern in _GAVE.items() if pattern.search(text))
    return frozenset(gave)


def customer_cannot_give(message: str, earlier: Iterable[str] = ()) -> frozenset[str]:
    """What the customer's normalised message and earlier turns say they cannot give ("photo"): a reply asking for
    it is not sendable, whatever else it says."""
    cannot: set[str] = set()
    for text in [*earlier, message]:  # oldest first: a picture sent after all wins
        for name, pattern in _CANNOT.items():
            if pattern.search(text):
                cannot.add(name)
            elif name in _GAVE and _GAVE[name].search(text):
                cannot.discard(name)
    return frozenset(cannot)
