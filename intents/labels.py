"""Intent ids and their Chinese labels: part of the API contract."""

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
