"""Intent and psychology ids with their Chinese labels: part of the API contract."""

INTENT_LABELS: dict[str, str] = {
    "size": "尺码咨询",
    "bargain": "议价/优惠",
    "logistics": "物流",
    "complaint": "投诉/不满",
    "refund": "退款/退换货",
    "product": "商品咨询",
    "greeting": "问候/寒暄",
    "other": "其他",
}
INTENTS: tuple[str, ...] = tuple(INTENT_LABELS)

# The eight purchase motives (八大购买心理) and the five complaint psychologies (投诉心理).
PURCHASE_LABELS: dict[str, str] = {
    "practical": "求实",
    "aesthetic": "求美",
    "prestige": "求名",
    "speed": "求速",
    "thrift": "求廉",
    "conformity": "求同",
    "habit": "求惯",
    "safety": "求安",
}
COMPLAINT_LABELS: dict[str, str] = {
    "remedy": "补救",
    "recognition": "认同",
    "self_expression": "表现",
    "venting": "发泄",
    "retaliation": "报复",
}
PSYCHOLOGY_LABELS: dict[str, str] = {**PURCHASE_LABELS, **COMPLAINT_LABELS}
PURCHASE_PSYCHOLOGY: tuple[str, ...] = tuple(PURCHASE_LABELS)
COMPLAINT_PSYCHOLOGY: tuple[str, ...] = tuple(COMPLAINT_LABELS)
PSYCHOLOGY: tuple[str, ...] = PURCHASE_PSYCHOLOGY + COMPLAINT_PSYCHOLOGY
# The label of training messages that show no motive; never returned (the API says null).
NO_PSYCHOLOGY = "none"
PSYCHOLOGY_CLASSES: tuple[str, ...] = PSYCHOLOGY + (NO_PSYCHOLOGY,)

# Intents whose messages carry a complaint psychology; the other intents carry purchase motives.
AFTER_SALE_INTENTS: tuple[str, ...] = ("complaint", "refund")
EMOTION_LABELS: dict[str, str] = {"calm": "平静", "upset": "不满", "angry": "愤怒"}
EMOTION_LEVELS: tuple[str, ...] = tuple(EMOTION_LABELS)
