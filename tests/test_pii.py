"""PII masking against the held-out evasion and innocent sets, and per kind of personal data."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from intents.normalize import mask_pii, normalize

HELDOUT = Path(__file__).parent / "heldout"
KINDS = {"phone", "id", "order", "tracking", "bank", "email", "name", "address", "wechat"}
PLACEHOLDER = re.compile(r"\[(手机号|电话|身份证号|订单号|运单号|邮箱|银行卡号|姓名|地址|微信号|数字)\]")
# What may stand between the digits of a number (stripped before looking for its digits).
SEPARATORS = re.compile(r"[\s.,，·・/_()\-\u2010-\u2015\u2212杠]")
NUMBER_KINDS = {"phone", "id", "order", "tracking", "bank"}


def _evasion() -> list[tuple[str, str, str]]:
    rows = [line.split("\t") for line in (HELDOUT / "pii_evasion.tsv").read_text(encoding="utf-8").splitlines()]
    assert all(len(row) == 3 for row in rows)
    return [(kind, message, secret) for kind, message, secret in rows]


def _innocent() -> list[str]:
    return (HELDOUT / "pii_innocent.tsv").read_text(encoding="utf-8").splitlines()


EVASION = _evasion()
INNOCENT = _innocent()


def _leaks(kind: str, message: str, secret: str) -> list[str]:
    """What of `secret` survives masking `message`; empty when it is masked."""
    masked = mask_pii(normalize(message))
    secret = normalize(secret)
    leaks = [secret] if secret in masked else []
    if kind in NUMBER_KINDS:
        bare = SEPARATORS.sub("", secret)
        if bare in SEPARATORS.sub("", masked):
            leaks.append(bare)
        # No four digits in a row of the number are left either (a masked prefix with its tail kept).
        digits = re.sub(r"\D", "", bare)
        leaks += [run for run in re.findall(r"\d{4,}", masked) if run in digits]
    if not PLACEHOLDER.search(masked):
        leaks.append("no placeholder")
    return leaks


def test_heldout_sets_are_well_formed():
    assert len(EVASION) >= 120 and len(INNOCENT) >= 60
    assert {kind for kind, _, _ in EVASION} == KINDS
    assert all(secret in message for _, message, secret in EVASION)
    assert len(set(INNOCENT)) == len(INNOCENT) and all(INNOCENT)


@pytest.mark.parametrize(("kind", "message", "secret"), EVASION, ids=[f"{k}-{i}" for i, (k, _, _) in enumerate(EVASION)])
def test_evasion_case_is_masked(kind, message, secret):
    assert _leaks(kind, message, secret) == [], mask_pii(normalize(message))


def test_evasion_pass_rate_is_total():
    """The whole set at once, so a failure report shows the pass rate."""
    failed = [(kind, message) for kind, message, secret in EVASION if _leaks(kind, message, secret)]
    assert failed == [], f"{len(EVASION) - len(failed)}/{len(EVASION)} masked"


@pytest.mark.parametrize("message", INNOCENT)
def test_innocent_message_is_unchanged(message):
    normalized = normalize(message)
    assert mask_pii(normalized) == normalized


@pytest.mark.parametrize("message", [m for _, m, _ in EVASION] + INNOCENT)
def test_masking_masked_text_changes_nothing(message):
    masked = mask_pii(normalize(message))
    assert mask_pii(masked) == masked


# --- per kind ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "138.1234.5678", "1 3 8 1 2 3 4 5 6 7 8", "一三八一二三四五六七八", "幺三八幺二三四五六七八", "1381 2345 678",
        "13812 345678", "138—1234—5678", "138–1234–5678", "138 — 1234 — 5678", "138杠1234杠5678",
        "壹叁捌壹贰叁肆伍陆柒捌", "一三八 一二三四 五六七八", "13八12345678", "+86 138 1234 5678", "138，1234，5678",
    ],
)
def test_phone_numbers_in_every_disguise(raw):
    assert mask_pii(normalize(f"电话{raw}谢谢")) == "电话[手机号]谢谢"


def test_brackets_inside_a_phone_number_do_not_hide_it():
    assert mask_pii("电话(139)1234-5678") == "电话([手机号]"


def test_fullwidth_phone_digits_are_folded_then_masked():
    assert normalize("１３８１２３４５６７８") == "13812345678"
    assert mask_pii(normalize("电话１３８-１２３４-５６７８")) == "电话[手机号]"


def test_a_phone_keeps_the_words_and_quantities_around_it():
    assert mask_pii("电话13812345678一直打不通") == "电话[手机号]一直打不通"
    assert mask_pii("手机13812345678 2件") == "手机[手机号] 2件"


@pytest.mark.parametrize("raw", ["110101 19900307 1233", "1101 0119 9003 0712 33", "110101-19900307-1233", "33010619950211304 X"])
def test_id_cards_with_spaces_dashes_and_a_detached_x(raw):
    assert mask_pii(f"身份证{raw}") == "身份证[身份证号]"


def test_grouped_order_tracking_and_card_numbers():
    assert mask_pii("订单号2207-7193-0448-2561 没发货") == "订单号[订单号] 没发货"
    assert mask_pii("中通 7531 2498 8066 21") == "中通 [运单号]"
    assert mask_pii("顺丰 SF 1320 9877 6543 2") == "顺丰 SF [运单号]"
    assert mask_pii("卡号6222 0202 0000 1234 562") == "卡号[银行卡号]"
    # A Luhn-valid UnionPay number is a card even without the word 卡.
    assert mask_pii("退到 6214 8309 8765 4323") == "退到 [银行卡号]"


@pytest.mark.parametrize(
    "raw",
    [
        "zhangsan (at) qq (dot) com", "zhangsan@qq.com", "zhangsan＠qq.com", "zhangsan[at]qq[dot]com", "zhang san@qq.com",
        "zhangsan @ qq . com", "zhangsan艾特qq点com", "zhangsan at qq dot com", "zhangsan#qq.com", "zhangsan(at)qq",
    ],
)
def test_email_addresses_spelt_out(raw):
    assert mask_pii(normalize(f"邮箱 {raw} 谢谢")) == "邮箱 [邮箱] 谢谢"


@pytest.mark.parametrize(
    ("message", "masked"),
    [
        ("收件人:王小明 电话稍后发", "收件人:[姓名] 电话稍后发"),
        ("收货人张伟,尽快发", "收货人[姓名],尽快发"),
        ("联系人 陈静女士", "联系人 [姓名]女士"),
        ("姓名:欧阳娜娜", "姓名:[姓名]"),
        ("我叫刘洋,问下发货", "我叫[姓名],问下发货"),
        ("名字叫孙悦的订单", "名字叫[姓名]的订单"),
        ("收件人改成郑凯", "收件人改成[姓名]"),
    ],
)
def test_names_after_a_cue(message, masked):
    assert mask_pii(message) == masked


@pytest.mark.parametrize("message", ["收件人写错了", "我叫了快递", "联系人电话写错了", "收货人信息要改", "姓名那栏写什么", "收件人不是我"])
def test_a_cue_without_a_name_masks_nothing(message):
    assert mask_pii(message) == message


def test_addresses_after_a_cue_up_to_their_last_part():
    assert mask_pii("地址:浙江省杭州市西湖区文三路478号A座1702,放前台") == "地址:[地址],放前台"
    assert mask_pii("送到阳光花园小区12栋2单元501 谢谢") == "送到[地址] 谢谢"
    assert mask_pii("寄到沈阳市和平区三好街96号 电话发你") == "寄到[地址] 电话发你"


def test_a_whole_address_is_masked_without_a_cue_but_a_city_is_not():
    # The first part reaches back over the words before it (我在深圳市): more is masked, not less.
    assert mask_pii("我在深圳市南山区科苑路15号上班") == "[地址]上班"
    for message in ("寄到北京要几天", "送到小区门口", "广东省深圳市南山区发货吗", "住在偏远地区能发吗"):
        assert mask_pii(message) == message


@pytest.mark.parametrize(
    ("message", "masked"),
    [
        ("加我微信 zhang_san1990", "加我微信 [微信号]"),
        ("vx: lily-2023", "vx: [微信号]"),
        ("V信:yy_0808_yy", "V信:[微信号]"),
        ("weixin是 tom_cat_007", "weixin是 [微信号]"),
        ("加微 abc_def_123", "加微 [微信号]"),
        ("wxid_a1b2c3d4e5", "[微信号]"),
    ],
)
def test_wechat_ids(message, masked):
    assert mask_pii(message) == masked


def test_a_digit_only_wechat_id_is_masked_as_the_number_it_is():
    assert mask_pii("微信13812345678") == "微信[手机号]"
    assert mask_pii("微信支付可以吗 vx扫码") == "微信支付可以吗 vx扫码"


@pytest.mark.parametrize(
    "message",
    ["165 110斤", "身高165 170 175 180", "38 39 40 41 42码", "2023.12.03下的单", "2023-12-03 14:30", "160/84A", "1299和1599", "身高一六五 体重一一零"],
)
def test_lists_dates_and_sizes_are_not_numbers_to_mask(message):
    assert mask_pii(message) == message
