import pytest

from intents.segment import Segmenter, ShopDictionaryError

SHOP_TERMS = ["七天无理由", "运费险", "仅退款", "尺码表", "顺丰", "揽件", "差评", "12315", "退货退款", "价保", "好评返现", "菜鸟驿站"]


@pytest.mark.parametrize("term", SHOP_TERMS)
def test_shop_terms_stay_whole(segmenter, term):
    sentences = [f"亲{term}怎么说", f"我想问{term}的事", f"{term}吧"]
    for sentence in sentences:
        assert term in segmenter(sentence), sentence


def test_whitespace_is_not_a_token(segmenter):
    assert segmenter("在吗  发顺丰") == ["在", "吗", "发", "顺丰"]


def test_own_tokenizer_instance_does_not_touch_jieba_default():
    import jieba

    Segmenter()
    assert "好评返现" not in jieba.lcut("好评返现")


def test_bad_dictionary_line_names_file_and_line(tmp_path):
    bad = tmp_path / "dict.txt"
    bad.write_text("# terms\n运费险 100 n\n仅退款 many n\n", encoding="utf-8")
    with pytest.raises(ShopDictionaryError, match=r"dict.txt:3: frequency must be a whole number"):
        Segmenter(bad)
