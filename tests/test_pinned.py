"""Responses of /v1/suggest and /v1/classify for a fixed set of messages, pinned: a restructuring of the
code must not change what an API user sees. Ids and timings aside, every field is compared (numbers within
1e-3). After an intended change of behaviour, rewrite the file with `HUASHU_PIN_WRITE=1 pytest tests/test_pinned.py`
and review the diff."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest

PINNED = Path(__file__).parent / "pinned" / "responses.json"

SUGGEST = [
    {"message": "亲 我165 110斤穿什么码"},
    {"message": "什么破东西!!! 我要给差评 还要去12315投诉你们", "top_k": 3},
    {"message": "在吗"},
    {"message": "能便宜点吗 老顾客了"},
    {"message": "什么时候发货 急用", "variables": {"nickname": "小美"}},
    {"message": "快递到哪了 单号SF1234567890123"},
    {"message": "我要退货 质量太差了"},
    {"message": "退款什么时候到账", "variables": {"order_id": "3829104475562018"}},
    {"message": "質量太差了 我要退貨"},
    {"message": "能开发票吗"},
    {"message": "这个是纯棉的吗"},
    {"message": "还没", "history": [{"role": "customer", "text": "我的快递怎么还没到"},
                                    {"role": "agent", "text": "亲，我帮您查一下物流，请问收到取件短信了吗？"}]},
    {"message": "那L呢", "history": [{"role": "customer", "text": "170 130斤穿M可以吗"}]},
    {"message": "第三次问了 到底什么时候退款", "history": [{"role": "customer", "text": "我的退款怎么还没到"},
                                                         {"role": "customer", "text": "退款呢？？"}]},
    {"message": "谢谢 辛苦了", "top_k": 2},
    {"message": "😭😭😭"},
    {"message": "你们客服态度太差了 叫你们主管来"},
    {"message": "给我妈买 她160 120斤", "top_k": 8},
    {"message": "能发顺丰吗 加钱也行"},
    {"message": "帮我改下地址 写错了"},
]
CLASSIFY = ["我要退货", "在吗", "165穿多大", "什么时候发货", "能便宜点吗", "你们卖假货 我要投诉", "运费险怎么理赔", "哈哈哈"]


def _strip(value):
    """The response without what differs between runs: request ids and the model version (it carries the training time)."""
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in ("request_id", "model_version")}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _same(a, b, where="") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        problems = [f"{where}.{k}: only in one" for k in set(a) ^ set(b)]
        for k in set(a) & set(b):
            problems += _same(a[k], b[k], f"{where}.{k}")
        return problems
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{where}: {len(a)} items, pinned {len(b)}"]
        return [p for i, (x, y) in enumerate(zip(a, b)) for p in _same(x, y, f"{where}[{i}]")]
    if isinstance(a, float) or isinstance(b, float):
        if isinstance(a, (int, float)) and isinstance(b, (int, float)) and math.isclose(a, b, abs_tol=1e-3):
            return []
    return [] if a == b else [f"{where}: {a!r}, pinned {b!r}"]


@pytest.mark.slow
def test_responses_are_as_pinned(client):
    answers = {
        "suggest": [_strip(client.post("/v1/suggest", json=body).json()) for body in SUGGEST],
        "classify": _strip(client.post("/v1/classify", json={"messages": CLASSIFY}).json()),
    }
    if os.environ.get("HUASHU_PIN_WRITE") == "1":
        PINNED.write_text(json.dumps(answers, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    pinned = json.loads(PINNED.read_text(encoding="utf-8"))
    problems = _same(answers, pinned)
    assert not problems, "\n".join(problems[:40])
