"""The huashu command: every command has help, and the commands do what they say."""

import json

import pytest
from typer.testing import CliRunner

from service.cli import app
from service.config import get_settings

runner = CliRunner()
COMMANDS = ["train", "evaluate", "classify", "serve"]


@pytest.fixture
def env(monkeypatch, settings):
    monkeypatch.setenv("HUASHU_MODEL_DIR", str(settings.model_dir))
    monkeypatch.setenv("HUASHU_CACHE_DIR", str(settings.cache_dir))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command):
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0
    assert "Usage" in result.output


def test_classify_prints_one_json_line_per_message(env):
    result = runner.invoke(app, ["classify", "亲 我165 110斤穿什么码", "我要退货"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["intent"]["id"] for line in lines] == ["size", "refund"]


def test_classify_reads_stdin(env):
    result = runner.invoke(app, ["classify", "-"], input="在吗\n\n能便宜点吗\n")
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["intent"]["id"] for line in result.stdout.splitlines()] == ["greeting", "bargain"]


def test_evaluate_scores_a_file(env, tmp_path):
    data = tmp_path / "check.tsv"
    data.write_text("size\t170 65kg拿哪个码\nrefund\t不想要了 怎么退\nlogistics\t今天能发货吗\n", encoding="utf-8")
    result = runner.invoke(app, ["evaluate", "--data", str(data), "--json"])
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert scores["n"] == 3
    assert set(scores["per_class"]) == {"size", "bargain", "logistics", "complaint", "refund", "product", "greeting", "other"}
    assert scores["confusion"]["labels"][0] == "size"


def test_evaluate_reports_a_bad_data_file_with_its_line(env, tmp_path):
    data = tmp_path / "bad.tsv"
    data.write_text("size\t165穿多大\nsizes\t腰围多少\n", encoding="utf-8")
    result = runner.invoke(app, ["evaluate", "--data", str(data)])
    assert result.exit_code == 2
    assert "bad.tsv:2: unknown intent id 'sizes'" in result.output


def test_train_writes_model_and_metadata(env, tmp_path):
    data = tmp_path / "tiny.tsv"
    data.write_text(
        "\n".join(
            ["size\t165穿多大", "size\t腰围多少", "size\t偏大吗", "size\t拿m还是l",
             "bargain\t能便宜点吗", "bargain\t有券吗", "bargain\t抹个零", "bargain\t送赠品吗",
             "refund\t我要退货", "refund\t怎么退款", "refund\t取消订单", "refund\t退款到哪了"]
        ),
        encoding="utf-8",
    )
    out = tmp_path / "model"
    result = runner.invoke(app, ["train", "--task", "intent", "--data", str(data), "--out", str(out), "--folds", "2"])
    assert result.exit_code == 0, result.output
    metadata = json.loads((out / "metadata.json").read_text(encoding="utf-8"))
    assert metadata["data"]["examples"] == 12
    assert metadata["cv"]["folds"] == 2
    assert (out / "model.joblib").exists()


def test_evaluate_psychology_scores_a_file(env, tmp_path):
    data = tmp_path / "psy.tsv"
    data.write_text("thrift\t能不能再便宜二十\nretaliation\t不处理我就去12315投诉你们\nnone\t好的收到\n", encoding="utf-8")
    result = runner.invoke(app, ["evaluate", "--task", "psychology", "--data", str(data), "--json"])
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert scores["n"] == 3 and "retaliation" in scores["per_class"] and "none" in scores["per_class"]
    assert scores["title"].startswith("psychology: model psychology-")


def test_a_bad_psychology_label_is_named(env, tmp_path):
    data = tmp_path / "psy.tsv"
    data.write_text("thrift\t能便宜吗\ngreedy\t便宜点\n", encoding="utf-8")
    result = runner.invoke(app, ["evaluate", "--task", "psychology", "--data", str(data)])
    assert result.exit_code == 2
    assert "psy.tsv:2: unknown psychology id 'greedy'" in result.output


def test_train_all_refuses_one_data_file_for_both_models(env, tmp_path):
    result = runner.invoke(app, ["train", "--data", str(tmp_path / "x.tsv")])
    assert result.exit_code == 2
    assert "--data and --out need a single --task" in result.output
