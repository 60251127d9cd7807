from intents.normalize import mask_pii, normalize


def test_traditional_becomes_simplified():
    assert normalize("請問這個運費怎麼算 發貨了嗎") == "请问这个运费怎么算 发货了吗"


def test_fullwidth_becomes_halfwidth():
    assert normalize("１６５ １１０斤 穿ＸＬ嗎？") == "165 110斤 穿XL吗?"


def test_whitespace_folded_and_invisible_characters_dropped():
    assert normalize("  在吗\u200b\t\n 亲\u3000\u3000发货  ") == "在吗 亲 发货"


def test_emoji_kept():
    assert normalize("快点发货😭🙏👍🏻") == "快点发货😭🙏👍🏻"
    assert "👨‍👩‍👧" in normalize("一家人👨‍👩‍👧穿")


def test_control_characters_become_spaces():
    assert normalize("退款\x00\x07了") == "退款 了"


def test_mask_mobile_numbers_in_every_common_form():
    for raw in ("13812345678", "138 1234 5678", "138-1234-5678", "+86 13812345678", "138****5678"):
        masked = mask_pii(f"电话{raw}谢谢")
        assert masked == "电话[手机号]谢谢", raw


def test_mask_id_card_only_when_checksum_is_valid():
    assert mask_pii("身份证11010519491231002X") == "身份证[身份证号]"
    # Same length, bad checksum: still masked, as an order number.
    assert mask_pii("11010519491231002Y") != "11010519491231002Y"
    assert "[身份证号]" not in mask_pii("110105194912310021")


def test_mask_order_and_tracking_numbers():
    assert mask_pii("订单号4129837465012938471 查下") == "订单号[订单号] 查下"
    assert mask_pii("SF1320987765432到哪了") == "[运单号]到哪了"
    assert mask_pii("中通 75312498806621 帮我看看") == "中通 [运单号] 帮我看看"
    assert mask_pii("YT8811223344556 JT0001112223334") == "[运单号] [运单号]"


def test_mask_email_and_landline():
    assert mask_pii("发到 li.ming+shop@example.com 哦") == "发到 [邮箱] 哦"
    assert mask_pii("座机010-12345678") == "座机[电话]"


def test_mask_leaves_ordinary_numbers():
    assert mask_pii("165 110斤 穿38码 99块") == "165 110斤 穿38码 99块"


def test_nothing_digit_like_survives_the_mask():
    text = mask_pii("卡号6222021234567890123 手机13912345678 单号JD0012345678901 邮箱a@b.cn")
    assert not any(run for run in __import__("re").findall(r"\d{7,}", text))
