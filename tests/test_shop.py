"""The shop's own knowledge: profile, products and size charts from files and the API, refused whole when
bad (file, line, reason), replies built from them, and honesty without them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from service.api.app import create_app
from service.config import Settings
from service.replies.knowledge import load_knowledge
from service.replies.service import Conversation
from service.shop.keeper import ShopKeeper, load_shop
from service.shop.products import ProductError, parse_products
from service.shop.profile import ProfileError, parse_profile, read_profile
from service.shop.shop import EXAMPLE_SHOP, ShopHolder, example_shop, read_shop_dir
from service.shop.sizes import SizeChartError
from service.store import Store
from tests.conftest import serving

ADMIN, QA, AGENT = "admin-key-1", "qa-key-1", "agent-key-1"
HEADERS = {role: {"Authorization": f"Bearer {key}"} for role, key in (("admin", ADMIN), ("qa", QA), ("agent", AGENT))}


@pytest.fixture
def shop_dir(tmp_path) -> Path:
    """A copy of the example shop, to edit."""
    folder = tmp_path / "shop"
    (folder / "size-charts").mkdir(parents=True)
    for name in ("profile.toml", "products.csv", "knowledge.toml"):
        (folder / name).write_text((EXAMPLE_SHOP / name).read_text(encoding="utf-8"), encoding="utf-8")
    for name in ("tops.csv", "jeans.csv", "shoes.csv"):
        (folder / "size-charts" / name).write_text((EXAMPLE_SHOP / "size-charts" / name).read_text(encoding="utf-8"), encoding="utf-8")
    return folder


@pytest.fixture
def app_settings(fake_settings, tmp_path):
    return fake_settings.model_copy(update={
        "db_path": tmp_path / "huashu.db", "admin_keys": ADMIN, "qa_keys": QA, "agent_keys": AGENT, "shop_refresh_s": 0,
    })


@pytest.fixture
def client(make_fake_app, app_settings):
    with serving(make_fake_app(app_settings)) as client:
        yield client


@pytest.fixture
def demo(make_fake_app, app_settings):
    with serving(make_fake_app(app_settings.model_copy(update={"demo_shop": True}))) as client:
        yield client


def suggest(client, message, **extra):
    response = client.post("/v1/suggest", json={"message": message, **extra}, headers=HEADERS["agent"])
    assert response.status_code == 200, response.text
    return response.json()


# --- files: everything validated, bad ones named by file and line ---------------------------------------


def test_example_shop_reads_whole():
    shop = example_shop()
    assert shop.source == "example" and shop.configured
    assert set(shop.charts) == {"tops", "jeans", "shoes"}
    assert shop.product("SW-2301", []).title == "羊毛混纺圆领毛衣"
    assert [p.id for p in shop.product("SW-2301", []).knowledge] == ["shop.sw-2301-pilling"]
    assert shop.chart(shop.product("DJ-9001", [])).id == "tops"  # by category
    assert shop.product(None, ["我想问下那个小白鞋"]).id == "SN-7700"  # named by an alias


@pytest.mark.parametrize(
    "name, edit, message",
    [
        ("products.csv", lambda t: t.replace("id,title,aliases", "sku,title,aliases"), r"products.csv:10: missing column 'id'"),
        ("products.csv", lambda t: t.replace("\nJN-5102,", "\nSW-2301,"), r"products.csv:12: product id 'SW-2301' repeated \(first at .*products.csv:11\)"),
        ("products.csv", lambda t: t.replace(",slim,", ",skinny,"), r"products.csv:12: fit must be one of slim, regular, loose"),
        ("products.csv", lambda t: t.replace(",true,,tops", ",maybe,,tops"), r"products.csv:11: in_stock must be true or false"),
        ("products.csv", lambda t: t.replace(",jeans\n", ",trousers\n"), r"size chart 'trousers' is not loaded"),
        ("size-charts/tops.csv", lambda t: t.replace("M,158-166", "M,156-166"), r"tops.csv:4: height range of M overlaps the one of S"),
        ("size-charts/tops.csv", lambda t: t.replace("weight_kg", "weight_lb"), r"tops.csv:2: unknown unit 'lb'"),
        ("size-charts/jeans.csv", lambda t: t.replace("size,waist_cm", "waist_cm"), r"jeans.csv:2: missing column 'size'"),
        ("size-charts/shoes.csv", lambda t: t.replace("36,23.0", "35,23.0"), r"shoes.csv:4: size '35' repeated"),
        ("profile.toml", lambda t: t.replace("[returns]", "[refunds]"), r"profile.toml:\d+: unknown section \[refunds\]"),
        ("profile.toml", lambda t: t.replace("ship_within =", "ships_in ="), r"profile.toml:11: unknown key 'ships_in' in \[shipping\]"),
        ("knowledge.toml", lambda t: t.replace('product = "SW-2301"', 'product = "SW-9999"'), r"knowledge.toml:6: a point names its product"),
        ("knowledge.toml", lambda t: t.replace('category = "answer"', 'category = "boast"'), r"knowledge.toml:6: .*unknown category 'boast'"),
    ],
)
def test_bad_files_are_refused_with_file_line_and_reason_and_nothing_is_half_imported(shop_dir, tmp_path, name, edit, message):
    store = Store(tmp_path / "huashu.db")
    try:
        keeper = ShopKeeper(store.shop, ShopHolder(*load_shop(store.shop)))
        keeper.load_dir("test", shop_dir)  # a good shop first
        before = store.shop.load()
        path = shop_dir / name
        path.write_text(edit(path.read_text(encoding="utf-8")), encoding="utf-8")
        with pytest.raises((ProductError, SizeChartError, ProfileError, Exception)) as error:
            keeper.load_dir("test", shop_dir)
        assert re.search(message, str(error.value)), str(error.value)
        assert store.shop.load() == before  # nothing half-imported
        assert keeper.shop.catalogue.products.keys() == {"SW-2301", "JN-5102", "DJ-9001", "SN-7700"}
    finally:
        store.close()


def test_products_json_duplicate_ids_name_each_line():
    text = '{"products": [\n  {"id": "A1", "title": "甲"},\n  {"id": "A1", "title": "乙"}\n]}'
    with pytest.raises(ProductError, match=r"p.json:3: product id 'A1' repeated \(first at p.json:2\)"):
        parse_products(text, "p.json", "json")


def test_a_product_is_found_by_the_name_its_title_and_aliases_share_when_no_other_has_it():
    """A rater's round: "羽絨服零下二十度頂得住嗎" in a shop whose only down jacket is "连帽短款羽绒服" (aliases 短款羽绒服,
    连帽羽绒服) found no product, and its warmth ("零下10℃左右可穿") was not said. The name every name of a product ends
    with (羽绒服) finds it, unless another product ends so too; a name of one character (鞋) finds nothing."""
    shop = example_shop()
    assert shop.product(None, ["羽绒服零下二十度顶得住吗 我在哈尔滨"]).id == "DJ-9001"
    assert shop.product(None, ["牛仔裤冬天穿冷不冷"]).id == "JN-5102"
    assert shop.product(None, ["毛衣起球吗"]).id == "SW-2301"
    assert shop.product(None, ["这双鞋磨脚吗"]) is None
    # a full name said earlier wins over a common name said in the same turn; the last turn naming one decides
    assert shop.product(None, ["小白鞋和毛衣哪个先发"]).id == "SN-7700"
    assert shop.product(None, ["连帽羽绒服还有吗", "那毛衣呢"]).id == "SW-2301"
    # a kind worn with the goods asked about, or two kinds asked about in one turn: no product from them
    assert shop.product(None, ["这件风衣厚不厚", "东北10月份能穿不 里面套个毛衣会不会撑不开"]) is None
    assert shop.product(None, ["170 125斤 毛衣拿L可以吧？牛仔裤28还是29"]) is None
    # two products sharing the name: it names neither
    catalogue = parse_products(
        "id,title,aliases\nA1,圆领羊毛毛衣,圆领毛衣\nA2,高领羊绒毛衣,高领毛衣\n", "p.csv", "csv")
    from service.shop.products import Catalogue
    assert Catalogue(catalogue).named_in(["毛衣起球吗"]) is None
    assert Catalogue(catalogue).named_in(["高领毛衣起球吗"]).id == "A2"


def test_with_no_product_the_chart_is_the_one_for_the_garment_named_or_the_measurements_given():
    """A rater's round: "165 110斤穿什么码啊 平时穿M" with no product got "我这就…比一比，马上告诉您" (stalling). The
    shop's charts answer: the one for the kind of garment named, else the one reading every measurement given."""
    shop = example_shop()
    h, w = {"height_cm": 165.0}, {"weight_kg": 55.0}

    def chart(texts, measurements, sizes=frozenset()):
        found = shop.general_chart(texts, measurements, sizes)
        return (found[0].id, found[1]) if found else None

    assert chart(["165 110斤穿什么码啊 平时穿M"], {**h, **w}) == ("tops", "上衣")  # the jeans' chart has no weight
    assert chart(["这个牛仔裤偏大还是偏小", "那我腰围2尺1 臀围90 拍哪个"], {"waist_cm": 70.0, "hip_cm": 90.0}) == ("jeans", "裤子")
    assert chart(["这件卫衣拿S可以吗", "那我男朋友呢 180 150斤"], {"height_cm": 180.0, "weight_kg": 75.0}) == ("tops", "上衣")
    assert chart(["脚长24.5 穿几码"], {"foot_cm": 24.5}) == ("shoes", "鞋子")
    assert chart(["裤子 我165"], h) == ("jeans", "裤子")  # the kind named decides
    # one measurement fits many garments: only a size named says which
    assert chart(["我165穿什么码"], h) is None
    assert chart(["几条装 有没有大码的 我140斤"], {"weight_kg": 70.0}) is None
    assert chart(["163 拍S还是M"], {"height_cm": 163.0}, {"S", "M"}) == ("tops", "上衣")
    # two garments named: each one's chart, in the order named (the fresh round's "毛衣拿L可以吧？牛仔裤28还是29" got
    # the sweater's size only)
    both = shop.general_charts(["170 125斤 腰二尺二 毛衣拿L可以吧？牛仔裤28还是29"], {**h, **w, "waist_cm": 73.3})
    assert [(c.id, kind) for c, kind in both] == [("tops", "上衣"), ("jeans", "裤子")]
    assert [(c.id, k) for c, k in shop.general_charts(["165 110斤穿什么码啊"], {**h, **w})] == [("tops", "上衣")]
    # a garment the shop has no chart for, or no charts at all
    assert chart(["连衣裙 165 110斤"], {**h, **w}) is None
    assert chart(["内裤 165 110斤穿什么码"], {**h, **w}) == ("tops", "上衣")  # no trousers: the measurements decide
    assert shop.general_charts(["内裤 165 110斤穿什么码"], {**h, **w}) == []  # and for underwear, no chart at all
    assert read_shop_dir(EXAMPLE_SHOP).__class__(shop.profile, shop.catalogue, {}, "example").general_chart(["165 110斤"], {**h, **w}) is None


def test_bad_profile_value_names_the_line(tmp_path):
    path = tmp_path / "profile.toml"
    path.write_text('[shipping]\nship_within = "48小时内"\ndefault_courier = ""\n', encoding="utf-8")
    with pytest.raises(ProfileError, match=r"profile.toml:3: default_courier must be a non-empty string"):
        read_profile(path)


def test_init_shop_writes_files_the_loader_accepts(tmp_path):
    from typer.testing import CliRunner

    from service.cli import app

    result = CliRunner().invoke(app, ["init-shop", str(tmp_path / "mine")])
    assert result.exit_code == 0, result.output
    shop = read_shop_dir(tmp_path / "mine")
    assert len(shop.catalogue) == 4 and set(shop.charts) == {"tops", "jeans", "shoes"} and shop.profile.facts
    assert "#" in (tmp_path / "mine" / "profile.toml").read_text(encoding="utf-8")  # commented
    again = CliRunner().invoke(app, ["init-shop", str(tmp_path / "mine")])
    assert again.exit_code == 2 and "exists" in again.output


def test_cli_load_and_import_store_the_shop(shop_dir, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from service.cli import app
    from service.config import get_settings

    monkeypatch.setenv("HUASHU_DB_PATH", str(tmp_path / "cli.db"))
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        loaded = runner.invoke(app, ["shop", "load", str(shop_dir)])
        assert loaded.exit_code == 0, loaded.output
        extra = tmp_path / "more.csv"
        extra.write_text("id,title,category,material\nTS-1,纯棉短袖T恤,tops,100%棉\n", encoding="utf-8")
        imported = runner.invoke(app, ["products", "import", str(extra)])
        assert imported.exit_code == 0, imported.output
        bad = tmp_path / "bad.csv"
        bad.write_text("id,title,colour\nTS-2,短袖,红\n", encoding="utf-8")
        refused = runner.invoke(app, ["products", "import", str(bad)])
        assert refused.exit_code == 2 and "bad.csv:1: unknown column 'colour'" in refused.output
        store = Store(tmp_path / "cli.db")
        try:
            profile, products, charts = store.shop.load()
            assert {p["id"] for p in products} == {"SW-2301", "JN-5102", "DJ-9001", "SN-7700", "TS-1"}
            assert set(charts) == {"tops", "jeans", "shoes"} and profile["shipping"]["ship_within"] == "48小时内"
            assert {c["actor"] for c in store.shop.changes()} == {"cli"}
        finally:
            store.close()
    finally:
        get_settings.cache_clear()


# --- the API --------------------------------------------------------------------------------------------


def test_no_shop_is_said_and_shop_facts_stay_blank(client, caplog):
    summary = client.get("/v1/shop", headers=HEADERS["agent"]).json()
    assert summary["source"] == "none" and summary["configured"] is False and "ship_within" in summary["missing"]
    answer = suggest(client, "几天发货")
    assert any("【发货时效】" in r["text"] and r["needs_edit"] for r in answer["replies"])


def test_start_up_log_says_when_no_shop_is_configured(make_fake_app, app_settings, caplog):
    with caplog.at_level("WARNING", logger="huashu"), serving(make_fake_app(app_settings)):
        pass
    assert any("no shop profile or products configured" in r.getMessage() for r in caplog.records)


def test_profile_put_by_admin_fills_the_replies(client):
    profile = {"shipping": {"ship_within": "24小时内", "default_courier": "圆通快递", "couriers": ["圆通", "申通"]}}
    assert client.put("/v1/shop/profile", json=profile, headers=HEADERS["agent"]).status_code == 403
    response = client.put("/v1/shop/profile", json=profile, headers=HEADERS["admin"])
    assert response.status_code == 200, response.text
    assert response.json()["profile"]["shipping"]["couriers"] == "圆通、申通"
    texts = [r["text"] for r in suggest(client, "几天发货")["replies"]]
    assert any("24小时内" in t for t in texts) and not any("【发货时效】" in t for t in texts)
    bad = client.put("/v1/shop/profile", json={"shipping": {"ship_in": "1天"}}, headers=HEADERS["admin"])
    assert bad.status_code == 422 and "unknown key 'ship_in'" in bad.json()["message"]
    bad = client.put("/v1/shop/profile", json={"refunds": {"x": "y"}}, headers=HEADERS["admin"])
    assert bad.status_code == 422 and "unknown section [refunds]" in bad.json()["message"]
    assert client.get("/v1/shop/profile", headers=HEADERS["agent"]).json()["profile"]["shipping"]["ship_within"] == "24小时内"


def test_products_crud_and_answers_from_attributes(client):
    product = {"id": "TS-1", "title": "纯棉短袖T恤", "aliases": ["短袖T恤"], "category": "tops",
               "attributes": {"material": "100%新疆长绒棉", "colours": ["白色", "藏青"], "in_stock": True}}
    assert client.post("/v1/products", json=product, headers=HEADERS["qa"]).status_code == 403
    created = client.post("/v1/products", json=product, headers=HEADERS["admin"])
    assert created.status_code == 201, created.text
    assert client.post("/v1/products", json=product, headers=HEADERS["admin"]).status_code == 409
    answer = suggest(client, "这件什么材质的", product_id="TS-1")
    assert answer["product"] == {"id": "TS-1", "title": "纯棉短袖T恤"}
    first = answer["replies"][0]
    assert first["source"] == "product" and "100%新疆长绒棉" in first["text"] and first["id"] == "catalogue-ts-1-material"
    # The data's stock is the whole item's: a size asked after is not shown in stock by it, so the answers for a size
    # that is out (which presume it) are offered, with their check.
    restock = {r["id"]: r for r in suggest(client, "M码什么时候补货", product_id="TS-1", top_k=10)["replies"]}
    assert "product-stock-002" in restock and restock["product-stock-002"]["needs_check"], list(restock)
    # named in the conversation instead of given
    answer = suggest(client, "这件什么材质的", history=[{"role": "customer", "text": "你好 短袖T恤还有吗"}])
    assert answer["product"]["id"] == "TS-1"
    # replaced: the new attribute answers
    product["attributes"]["material"] = "95%棉、5%氨纶"
    assert client.put("/v1/products/TS-1", json=product, headers=HEADERS["admin"]).status_code == 200
    assert "95%棉" in suggest(client, "这件什么材质的", product_id="TS-1")["replies"][0]["text"]
    assert client.put("/v1/products/TS-2", json=product, headers=HEADERS["admin"]).status_code == 422  # ids differ
    bad = client.post("/v1/products", json={**product, "id": "TS-3", "attributes": {"fit": "baggy"}}, headers=HEADERS["admin"])
    assert bad.status_code == 422 and "fit must be one of" in bad.json()["message"]
    listed = client.get("/v1/products", params={"q": "T恤"}, headers=HEADERS["agent"]).json()
    assert listed["total"] == 1 and listed["products"][0]["attributes"]["material"] == "95%棉、5%氨纶"
    assert client.delete("/v1/products/TS-1", headers=HEADERS["admin"]).status_code == 204
    assert client.get("/v1/products/TS-1", headers=HEADERS["agent"]).status_code == 404
    assert suggest(client, "这件什么材质的", product_id="TS-1")["product"] is None  # unknown ids are ignored
    log = client.get("/v1/shop/changes", params={"target": "TS-1"}, headers=HEADERS["qa"]).json()["changes"]
    assert [c["action"] for c in log] == ["delete", "update", "add"]
    assert all(re.fullmatch(r"admin:[0-9a-f]{8}", c["actor"]) for c in log)


def test_size_chart_by_csv_and_size_advice_first(client):
    chart = "size,height_cm,weight_jin\nS,150-160,80-100\nM,160-168,100-120\nL,168-176,120-140\n"
    bad = client.put("/v1/size-charts/tees", content="size,height_cm\nS,150-160\nM,159-168\n",
                     headers={**HEADERS["admin"], "Content-Type": "text/csv"})
    assert bad.status_code == 422 and "size chart 'tees':3: height range of M overlaps" in bad.json()["message"]
    response = client.put("/v1/size-charts/tees", content=chart.encode(), headers={**HEADERS["admin"], "Content-Type": "text/csv"})
    assert response.status_code == 200, response.text
    assert response.json()["rows"][1] == {"size": "M", "height": [160.0, 168.0], "weight": [50.0, 60.0]}
    product = {"id": "TS-1", "title": "纯棉短袖T恤", "category": "tops", "attributes": {"size_chart": "tees", "fit": "slim"}}
    assert client.post("/v1/products", json=product, headers=HEADERS["admin"]).status_code == 201
    answer = suggest(client, "亲 我165 110斤穿什么码", product_id="TS-1")
    assert answer["measurements"] == {"height_cm": 165, "weight_kg": 55}
    assert answer["size_advice"]["size"] == "M" and answer["size_advice"]["chart"] == "tees"
    first = answer["replies"][0]
    assert first["source"] == "size" and first["text"].startswith("亲，按身高165、体重110斤，这款建议M码")
    assert "修身" in first["text"]  # the fit leans
    # between two sizes, and only what is missing is asked
    answer = suggest(client, "我身高170 穿什么码", product_id="TS-1")
    assert answer["size_advice"]["size"] == "L" and "体重" in answer["replies"][0]["text"]
    assert client.delete("/v1/size-charts/tees", headers=HEADERS["admin"]).status_code == 409  # in use


def test_classify_reads_measurements(client):
    results = client.post("/v1/classify", json={"messages": ["给我妈买 一米五八 一百二十斤", "几天发货"]}, headers=HEADERS["agent"]).json()["results"]
    assert results[0]["measurements"] == {"height_cm": 158, "weight_kg": 60}
    assert results[1]["measurements"] == {}


def test_shop_replies_edited_and_retired_with_who_and_when(client):
    reply = {"id": "shop-hello-01", "text": "亲，欢迎光临小店，有什么我可以帮您的吗？", "intents": ["greeting"], "stage": "售前",
             "category": "opening", "triggers": ["你好在吗"]}
    assert client.post("/v1/replies", json=reply, headers=HEADERS["admin"]).status_code == 201
    edited = {**reply, "text": "亲，欢迎来到小店，想看点什么呀？"}
    assert client.put("/v1/replies/shop-hello-01", json=edited, headers=HEADERS["qa"]).status_code == 403
    response = client.put("/v1/replies/shop-hello-01", json=edited, headers=HEADERS["admin"])
    assert response.status_code == 200 and response.json()["text"] == edited["text"]
    shop_replies = client.get("/v1/replies", params={"source": "shop"}, headers=HEADERS["agent"]).json()["replies"]
    assert [r["text"] for r in shop_replies] == [edited["text"]]
    corpus_id = client.get("/v1/replies", params={"source": "corpus", "limit": 1}, headers=HEADERS["agent"]).json()["replies"][0]["id"]
    assert client.put(f"/v1/replies/{corpus_id}", json={**edited, "id": corpus_id}, headers=HEADERS["admin"]).status_code == 409
    assert client.delete("/v1/replies/nope-01", headers=HEADERS["admin"]).status_code == 404
    assert client.delete("/v1/replies/shop-hello-01", headers=HEADERS["admin"]).status_code == 204
    assert client.get("/v1/replies", params={"source": "shop"}, headers=HEADERS["agent"]).json()["total"] == 0
    assert client.post("/v1/replies", json=reply, headers=HEADERS["admin"]).status_code == 409  # a retired id stays taken
    # the ids of the replies the service builds (shop data, a joined answer) cannot be taken
    for kept in ("catalogue-x-material", "joined-0123456789ab"):
        response = client.post("/v1/replies", json={**reply, "id": kept}, headers=HEADERS["admin"])
        assert response.status_code == 422 and "kept for the replies the service builds" in response.text, response.text
    log = client.get("/v1/shop/changes", params={"kind": "reply"}, headers=HEADERS["qa"]).json()["changes"]
    assert [c["action"] for c in log] == ["retire", "update", "add"]
    assert log[1]["detail"]["before"]["text"] == reply["text"] and log[1]["detail"]["after"]["text"] == edited["text"]
    assert all(c["created"] for c in log)


def test_edited_shop_reply_is_what_is_suggested(client):
    reply = {"id": "shop-ship-01", "text": "亲，小店今天的单子都会在今晚发出哦~", "intents": ["logistics"], "stage": "售中",
             "category": "answer", "knowledge_point": "logistics.ship-when"}
    assert client.post("/v1/replies", json=reply, headers=HEADERS["admin"]).status_code == 201
    assert any(r["id"] == "shop-ship-01" for r in suggest(client, "几天发货", top_k=10)["replies"])
    client.put("/v1/replies/shop-ship-01", json={**reply, "text": "亲，小店付款后当天就发出哦~"}, headers=HEADERS["admin"])
    texts = {r["id"]: r["text"] for r in suggest(client, "几天发货", top_k=10)["replies"]}
    assert texts.get("shop-ship-01") == "亲，小店付款后当天就发出哦~"
    client.delete("/v1/replies/shop-ship-01", headers=HEADERS["admin"])
    assert "shop-ship-01" not in {r["id"] for r in suggest(client, "几天发货", top_k=10)["replies"]}


def test_a_shop_reply_about_some_goods_is_suggested_only_when_the_conversation_names_them(client):
    reply = {"id": "shop-ship-fresh-01", "text": "亲，生鲜都是下单当天走冷链发出的哦~", "intents": ["logistics"], "stage": "售中",
             "category": "answer", "knowledge_point": "logistics.ship-when", "goods": ["生鲜", " 冷冻 "]}
    response = client.post("/v1/replies", json=reply, headers=HEADERS["admin"])
    assert response.status_code == 201 and response.json()["goods"] == ["生鲜", "冷冻"], response.text
    assert "shop-ship-fresh-01" not in {r["id"] for r in suggest(client, "几天发货", top_k=10)["replies"]}
    history = [{"role": "customer", "text": "我买的是冷凍牛排"}]  # traditional characters, folded like the message
    assert "shop-ship-fresh-01" in {r["id"] for r in suggest(client, "几天发货", top_k=10, history=history)["replies"]}
    listed = client.get("/v1/replies", params={"source": "shop"}, headers=HEADERS["agent"]).json()["replies"]
    assert listed[0]["goods"] == ["生鲜", "冷冻"]
    # (a control character normalises to nothing; a ligature to two letters, beyond 12 characters here)
    for bad in ("生鲜", ["一二三四五六七八九十一二三"], [""], ["x"] * 31, ["\x1b"], ["生鲜", "\u200b"], ["\ufb00" * 7]):
        response = client.post("/v1/replies", json={**reply, "id": "shop-bad-goods", "goods": bad}, headers=HEADERS["admin"])
        assert response.status_code == 422 and "goods" in response.text, (bad, response.text)


def test_feedback_on_a_reply_built_from_the_shop(demo):
    answer = suggest(demo, "这件什么材质的", product_id="SW-2301")
    made = answer["replies"][0]
    assert made["source"] == "product"
    body = {"request_id": answer["request_id"], "reply_id": made["id"], "action": "sent"}
    response = demo.post("/v1/feedback", json=body, headers=HEADERS["agent"])
    assert response.status_code == 201, response.text
    other = {"request_id": answer["request_id"], "reply_id": "catalogue-dj-9001-material", "action": "sent"}
    assert demo.post("/v1/feedback", json=other, headers=HEADERS["agent"]).status_code == 422  # not suggested there


# --- the example shop, and honesty without one ------------------------------------------------------------


def test_demo_shop_answers_policy_and_product_questions_with_its_facts(demo):
    facts = demo.get("/v1/shop", headers=HEADERS["agent"]).json()["facts"]
    for message, fact in [("几天发货", "ship_within"), ("用什么快递", "default_courier"), ("包邮吗", "free_shipping"),
                          ("能开发票吗", "invoice_types"), ("客服几点下班", "working_hours"),
                          ("退货运费谁出", "return_shipping"), ("寄到哈尔滨大概几天", "delivery_time")]:
        first = suggest(demo, message)["replies"][0]
        assert facts[fact] in first["text"] and not first["needs_edit"], (message, first)
    assert "50%羊毛" in suggest(demo, "这件什么材质的", product_id="SW-2301")["replies"][0]["text"]
    stock = suggest(demo, "有货吗", product_id="JN-5102")["replies"]
    assert "预售" in stock[0]["text"] and "12月15日前" in stock[0]["text"]
    assert not any("现货" in r["text"] for r in stock)  # the corpus's "in stock" reply is contradicted by the data
    assert "没有白色" in suggest(demo, "白色的有吗", product_id="SW-2301")["replies"][0]["text"]
    shoe = suggest(demo, "我脚长24.3 穿几码", product_id="SN-7700")
    assert shoe["size_advice"]["size"] == "39" and shoe["replies"][0]["source"] == "size"
    assert demo.put("/v1/shop/profile", json={}, headers=HEADERS["admin"]).status_code == 409  # the demo is read-only


def test_a_presale_product_ships_on_its_date_not_within_the_usual_time(demo):
    """A rater's round: "牛仔裤啥时候能发货" on the presale jeans got "付款后48小时内发货" first (the shop's usual time,
    false for this product). The presale date answers when it ships; an in-stock product keeps the usual time."""
    for message in ("几天发货", "今天能发货吗", "寄到哈尔滨大概几天"):
        first = suggest(demo, message, product_id="JN-5102")["replies"][0]
        assert "12月15日前" in first["text"] and first["source"] == "product", (message, first["text"])
    assert "48小时" in suggest(demo, "几天发货", product_id="SW-2301")["replies"][0]["text"]
    stock = suggest(demo, "有货吗", product_id="JN-5102")["replies"][0]["text"]
    assert "预售" in stock and "补货" not in stock  # a presale item is ordered now, not waited for


def test_the_example_profiles_facts_read_well_in_every_reply_that_states_them(demo):
    """The example profile's extra_courier_fee was "补10元差价", which the replies put in "补{extra_courier_fee}运费差价":
    "补补10元差价运费差价" (a rater's round). Every reply stating a profile fact, filled with the example's values,
    repeats none of its own words around the value."""
    facts = demo.get("/v1/shop", headers=HEADERS["agent"]).json()["facts"]
    replies = demo.app.state.replies
    texts = [r.text for p in replies.index.points.values() for r in p.replies if any("{" + k in r.text for k in facts)]
    assert texts
    for text in texts:
        for name, value in facts.items():
            if not isinstance(value, str) or "{" + name not in text:
                continue
            at = text.index("{" + name)
            before, after = text[max(0, at - 1) : at], text[text.index("}", at) + 1 :][:2]
            assert not (before and value.startswith(before)) and not (after and value.endswith(after)), (name, value, text)
    # member_policy is the benefits (会员权益): the replies say "入会的话还能享受{member_policy}" (it was "关注店铺入会即享95折…")
    assert "入会" not in facts["member_policy"], facts["member_policy"]


def test_a_looser_fit_asked_for_is_answered_by_the_cut():
    """A rater's round: "我喜欢穿宽松点的 要不要拿L" on a regular cut got "按平时的码数拍就可以", which does not answer it."""
    from service.shop.answers import product_answers
    from service.shop.products import Product

    regular = Product(id="R1", title="毛衣", attributes={"fit": "regular"})
    (looser,) = product_answers(regular, "size.fit-style", {}, "我喜欢穿宽松点的 要不要拿L")
    assert "宽松" in looser.text and "大一码" in looser.text, looser.text
    (plain,) = product_answers(regular, "size.runs-large-small", {}, "这款偏大还是偏小")
    assert plain.text == "亲，这款是标准版型，按平时的码数拍就可以～"


def test_a_feel_asked_of_the_material_is_answered_by_the_feature_saying_it():
    """A round of ours: "黑色的也是这个料吗 我皮肤有点敏感 会不会扎啊" got the composition alone, though the product's features
    say "不扎身的细针织"."""
    from service.shop.answers import product_answers
    from service.shop.products import Product

    sweater = Product(id="S1", title="毛衣", attributes={"material": "50%羊毛", "features": ["不扎身的细针织", "下摆防卷边"]})
    (asked,) = product_answers(sweater, "product.material", {}, "会不会扎啊 我皮肤敏感")
    assert asked.text == "亲，这款毛衣的材质是50%羊毛，不扎身的细针织哦～", asked.text
    (plain,) = product_answers(sweater, "product.material", {}, "什么材质的")
    assert plain.text == "亲，这款毛衣的材质是50%羊毛哦～"


def test_a_colour_asked_how_it_looks_is_not_answered_by_its_being_made():
    """A round of ours: "雾霾蓝偏灰还是偏蓝呀 我黄黑皮穿显黑不" got "这款…有雾霾蓝的哦，拍的时候选上就可以", which answers
    neither question; the reply about skin tones answers it."""
    from service.shop.answers import product_answers
    from service.shop.products import Product

    sweater = Product(id="R1", title="毛衣", attributes={"colours": ["燕麦色", "雾霾蓝"]})
    assert product_answers(sweater, "product.colour", {"colour": "雾霾蓝"}, "雾霾蓝偏灰还是偏蓝呀 我黄黑皮穿显黑不") == []
    (made,) = product_answers(sweater, "product.colour", {"colour": "雾霾蓝"}, "雾霾蓝还有吗")
    assert "有雾霾蓝" in made.text
    (absent,) = product_answers(sweater, "product.colour", {"colour": "焦糖色"}, "焦糖色会偏红吗")
    assert "没有焦糖色" in absent.text  # a colour not made: said so, whatever was asked of it


def test_other_goods_asked_for_by_a_colour_are_answered_by_the_products_colours():
    """A rated conversation: on the jeans, "有没有同款黑色的 或者阔腿的" got "您想要的款式、颜色或者价位有具体要求吗"
    (asking again what was just said); the jeans' data says they come in two other colours. Asked for other goods by
    no colour, the product's colours answer nothing."""
    from service.shop.answers import product_answers
    from service.shop.products import Product

    jeans = Product(id="J1", title="牛仔裤", attributes={"colours": ["浅蓝", "深蓝"]})
    (absent,) = product_answers(jeans, "product.catalogue", {"colour": "黑色"}, "有没有同款黑色的")
    assert absent.text == "亲，这款牛仔裤没有黑色，现在有浅蓝、深蓝，您看看有没有喜欢的～", absent.text
    (made,) = product_answers(jeans, "product.catalogue", {"colour": "深蓝"}, "有深蓝的同款吗")
    assert "有深蓝" in made.text
    assert product_answers(jeans, "product.catalogue", {}, "还有别的款吗 想要阔腿的") == []


def test_a_cold_named_is_compared_with_the_cold_the_product_is_made_for():
    """Rated conversations: "哈尔滨零下25度 这件扛得住吗" and "零下二十几度 扛的住吗" got "厚款，零下10℃左右可穿" alone, which
    leaves the customer to work out that it is not made for that cold."""
    from service.shop.answers import product_answers
    from service.shop.products import Product

    jacket = Product(id="D1", title="羽绒服", attributes={"thickness": "厚款，零下10℃左右可穿"})
    text = lambda message: product_answers(jacket, "product.thickness", {}, message)[0].text  # noqa: E731
    assert "零下25度比它标的温度低" in text("元旦去哈尔滨 那边零下25度左右 这件扛得住吗")
    assert "零下二十几度比它标的温度低" in text("哈尔滨零下二十几度 这件扛的住吗")
    assert "零下20度比它标的温度低" in text("-20°C能穿吗")
    assert "零下十几度比它标的温度低" in text("零下十几度够不够暖")  # ten-odd: beyond "零下10℃左右"
    assert "零下三四度在它标的温度范围里" in text("最冷零下三四度 够吗")  # three or four, not thirty-four
    assert text("白天10-20度 晚上冷点 厚吗") == "亲，这款羽绒服的厚薄：厚款，零下10℃左右可穿～"  # a range's dash is no minus
    assert text("厚不厚") == "亲，这款羽绒服的厚薄：厚款，零下10℃左右可穿～"
    sweater = Product(id="S1", title="毛衣", attributes={"thickness": "中厚，秋冬单穿或内搭都合适"})
    assert "零下" not in product_answers(sweater, "product.thickness", {}, "零下五度够不够")[0].text  # no cold given: not compared


def test_the_chart_asks_for_what_it_is_read_by():
    """The chart's closing question asked every chart for 身高体重, a shoe's too."""
    from service.shop.answers import chart_answer
    from service.shop.sizes import parse_chart
    from service.shop.products import Product

    shoe = Product(id="S1", title="板鞋", category="shoes")
    assert chart_answer(shoe, parse_chart("s", "size,foot_cm\n38,24\n39,24.5\n"), "size.chart").text.endswith("您发我脚长，我帮您对一下～")
    jeans = parse_chart("j", "size,waist_cm,hip_cm,height_cm\n26,64-67,88-91,156-160\n")
    assert chart_answer(shoe, jeans, "size.chart").text.endswith("您发我腰围和臀围，我帮您对一下～")


def test_the_chart_says_how_long_a_size_is():
    from service.shop.answers import length_answer
    from service.shop.products import Product
    from service.shop.sizes import parse_chart

    chart = parse_chart("tops", "size,height_cm,length_cm,sleeve_cm\nS,150-158,60,55\nM,158-166,62,57\n")
    top = Product(id="T1", title="圆领卫衣", category="tops")
    assert length_answer(top, chart, "m码衣长多少", "M", "size.length").text.startswith("亲，这款圆领卫衣M码的衣长是62cm（S码60cm）")
    assert "袖长：S码55cm，M码57cm" in length_answer(top, chart, "袖子多长", None, "size.length").text
    assert "衣长是62cm" in length_answer(top, chart, "这件短袖M码多长", "M", "size.length").text  # 短袖: still the length
    no_sleeve = parse_chart("t", "size,height_cm,length_cm\nS,150-158,60\n")
    assert "衣长" in length_answer(top, no_sleeve, "袖子多长", None, "size.length").text  # no sleeve column: the length
    jeans = Product(id="J1", title="直筒裤", category="jeans")
    assert "裤长" in length_answer(jeans, chart, "多长", None, "size.length").text
    assert length_answer(top, parse_chart("t", "size,height_cm\nS,150-158\n"), "多长", None, "size.length") is None


def test_one_size_asked_about_is_answered_by_its_row():
    """A rater's round: "27呢" after "牛仔裤26码腰围多少" got a general chart reply. A question about one size by name
    gets what that size fits, from the chart, in the chart's own figures."""
    from service.shop.answers import chart_row, row_answer
    from service.shop.products import Product
    from service.shop.sizes import parse_chart

    jeans = parse_chart("j", "size,waist_cm,hip_cm,height_cm\n26,64-67,88-91,156-160\n27,67-70,91-94,160-164\n")
    product = Product(id="JN-1", title="直筒牛仔裤", category="jeans")
    row = row_answer(product, jeans, "27码", "size.chart")
    assert row.text == "亲，这款直筒牛仔裤27码适合腰围67-70cm、臀围91-94cm、身高160-164cm。您发我腰围和臀围，我帮您对一下～"
    assert row.id == "sizing-row-jn-1" and row.source == "size" and row.knowledge_point == "size.chart"
    assert row_answer(product, jeans, "29码", "size.chart") is None and row_answer(product, jeans, None, "size.chart") is None
    tops = parse_chart("t", "size,height_cm,weight_kg,bust_cm,length_cm\nM,158-166,48-56,100,62\nL,166-172,56-64,104,64\n")
    top = Product(id="T1", title="毛衣", category="tops")
    assert chart_row(tops, "l号").size == "L" and chart_row(tops, "XL") is None
    said = row_answer(top, tops, "L", "size.chart", "L的胸围多少").text
    assert said == "亲，这款毛衣L码适合身高166-172cm、体重112-128斤，衣服本身胸围104cm、衣长64cm。您发我身高体重，我帮您对一下～"
    # a measure the chart does not have is not answered with others
    assert row_answer(top, tops, "M", "size.chart", "M码臀围多少") is None
    shoes = parse_chart("s", "size,foot_cm\n38,24\n39,24.5\n")
    shoe = row_answer(Product(id="S1", title="板鞋"), shoes, "39码", "size.shoes").text
    assert shoe == "亲，这款板鞋39码对应脚长24.5cm。您发我脚长，我帮您对一下～"


def test_two_sizes_compared_are_answered_by_their_rows():
    """A round of ours: "那M和L差多少啊" got "按身高168、体重116斤，这款建议L码" and nothing of how the two differ. Two
    sizes named with a comparing word get both rows from the chart and the difference of the garment's measures."""
    from service.shop.answers import compare_answer
    from service.shop.products import Product
    from service.shop.sizes import parse_chart

    tops = parse_chart("t", "size,height_cm,weight_kg,bust_cm,length_cm\nM,158-166,48-56,100,62\nL,166-172,56-64,104,64\n")
    top = Product(id="T1", title="毛衣", category="tops")
    said = compare_answer(top, tops, "那m和L差多少啊 想要贴身一点的", "size.between-sizes")
    assert said.text == "亲，这款毛衣M码胸围100cm、衣长62cm，L码胸围104cm、衣长64cm，L码胸围大4cm、衣长长2cm～", said.text
    assert said.id == "sizing-compare-t1" and said.source == "size"
    jeans = parse_chart("j", "size,waist_cm,hip_cm\n27,67-70,91-94\n28,70-74,94-97\n")
    body = compare_answer(Product(id="J1", title="牛仔裤", category="jeans"), jeans, "27和28区别大吗", "size.between-sizes")
    assert body.text == "亲，这款牛仔裤27码适合腰围67-70cm、臀围91-94cm，28码适合腰围70-74cm、臀围94-97cm～", body.text
    # one size, no comparing word, or a size the chart lacks: none
    assert compare_answer(top, tops, "L码胸围多少", "size.chart") is None
    assert compare_answer(top, tops, "M还是L", "size.between-sizes") is None
    assert compare_answer(top, tops, "L和XL差多少", "size.between-sizes") is None


@pytest.fixture(scope="module")
def demo_real(settings, tmp_path_factory):
    """The real models serving the bundled example shop."""
    own = settings.model_copy(update={"demo_shop": True, "db_path": tmp_path_factory.mktemp("demo") / "huashu.db"})
    with serving(create_app(own)) as client:
        yield client


@pytest.mark.slow
def test_a_question_about_other_goods_is_not_answered_with_the_products_data(demo_real):
    """A round of ours: on the sweater's page, "那有没有配它的半身裙呀" got "这款羊毛混纺圆领毛衣目前有货的…": the
    sweater's data answers nothing about a skirt. The same question of the sweater itself is answered by it."""
    said = [{"role": "customer", "text": "这个圆领毛衣燕麦色还有M吗"}, {"role": "agent", "text": "有的亲，现货哦~"}]
    other = suggest(demo_real, "好嘞 那有没有配它的半身裙呀 想一起买", product_id="SW-2301", history=said)["replies"]
    assert not any(r["source"] == "product" for r in other), other
    own = suggest(demo_real, "有货吗", product_id="SW-2301")["replies"]
    assert any(r["source"] == "product" and "有货" in r["text"] for r in own), own


@pytest.mark.slow
def test_an_unsure_message_on_the_topic_the_customer_raised_is_not_asked_about_it_again(demo_real):
    """A round of ours (AF03 of tests/dev): after "拉链坏的 拉到一半就卡住", a photo and the agent's "确实是拉链的质量问题…换新还是退款",
    "换？？上次买的那条也是这样…退钱！！运费谁出" got "您是想问「质量问题（开线、破洞、坏了）」的事吗": unsure of the
    message alone, the service asked about what the conversation is plainly about. Its answers lead instead."""
    said = [
        {"role": "customer", "text": "牛仔裤拉链坏的 拉到一半就卡住"},
        {"role": "agent", "text": "亲，真的非常抱歉给您带来不好的体验😢 麻烦您拍一张拉链的照片或小视频发给我们，我们马上帮您处理哈"},
        {"role": "customer", "text": "[图片]"},
        {"role": "agent", "text": "收到亲，确实是拉链的质量问题，这边给您申请售后哦，请问您是想换一条新的还是直接退款呢？"},
    ]
    first = suggest(demo_real, "换？？上次买的那条也是这样 你们家拉链是不是都这德性 退钱！！运费谁出", history=said)["replies"][0]
    assert not first["id"].startswith("clarify"), first


@pytest.mark.slow
def test_two_sizes_compared_lead_with_how_they_differ(demo_real):
    said = [{"role": "customer", "text": "168 58kg 毛衣哪个码"}, {"role": "agent", "text": "建议L哦亲，L适合166-174cm、56-65kg"}]
    first = suggest(demo_real, "那M和L差多少啊 想要贴身一点的", product_id="SW-2301", history=said)["replies"][0]
    assert first["id"] == "sizing-compare-sw-2301" and "胸围大4cm" in first["text"], first
    jeans = suggest(demo_real, "27和28区别大吗", product_id="JN-5102")["replies"][0]
    assert jeans["id"] == "sizing-compare-jn-5102", jeans


@pytest.mark.slow
def test_a_joined_reply_claims_nothing_the_conversation_has_not_shown(demo_real):
    # a round of ours: "…有红色的吗 没有的话黑的L码还有没" got a joined reply ending "您要的红色L这款目前系统里显示有现货":
    # a part that needs a check hides its claim among the others. Such a part is offered on its own, with its check.
    replies = suggest(demo_real, "有红色的吗 没有的话黑色L码还有货没")["replies"]
    assert not any(r.get("parts") and r["needs_check"] for r in replies), [r for r in replies if r.get("parts")]
    assert not any(r.get("parts") and "现货" in r["text"] for r in replies), replies[:2]


@pytest.mark.slow
def test_demo_shop_with_the_real_models(demo_real):
    # the product's own point (matched by similarity, the model was not trained on it), only on that product
    pilling = suggest(demo_real, "这件毛衣会起球吗", product_id="SW-2301")["replies"][0]
    assert pilling["source"] == "shop" and pilling["knowledge_point"] == "shop.sw-2301-pilling"
    assert all(r["knowledge_point"] != "shop.sw-2301-pilling" for r in suggest(demo_real, "这件毛衣会起球吗", product_id="DJ-9001")["replies"])
    # a colour the product lacks, a size from the chart, the product named in the message
    assert "没有白色" in suggest(demo_real, "有没有白色的", product_id="SW-2301")["replies"][0]["text"]
    size = suggest(demo_real, "我身高165 体重110斤 穿多大", product_id="SW-2301")
    assert size["size_advice"]["size"] == "M" and size["replies"][0]["text"].startswith("亲，按身高165、体重110斤，这款建议M码")
    named = suggest(demo_real, "小白鞋我脚长23.4 穿几码")
    assert named["product"]["id"] == "SN-7700" and named["size_advice"]["size"] == "37"
    later = suggest(demo_real, "那这个呢 什么料子", history=[{"role": "customer", "text": "看中了你家高腰直筒牛仔裤"}])
    assert later["product"]["id"] == "JN-5102" and "98%棉" in later["replies"][0]["text"]
    # a shoe's design features answer chafing and the insole (a rater's round: "磨脚吗" got the wide-feet advice)
    for message in ("磨脚吗😭 我脚后跟特别容易磨破 还有鞋垫能拿出来不", "这鞋穿着磨脚不"):
        first = suggest(demo_real, message, product_id="SN-7700")["replies"][0]
        assert "后跟加厚防磨脚" in first["text"], (message, first["text"])


@pytest.mark.slow
def test_a_reply_for_the_situation_the_conversation_established_leads(demo_real):
    """After the agent owned that the warehouse sent the wrong colour, "…运费你们出" got the shop's postage rule first
    ("质量问题来回运费由我们承担，非质量问题…") and the reply for the shop's own mistake second (a round of our own
    conversations): a reply presuming what the conversation has shown (the shop's mistake) answers it more closely."""
    history = [{"role": "customer", "text": "我拍的是灰色 寄来的是白色"}, {"role": "agent", "text": "亲，核实了，确实是仓库发错了，给您换货哦"},
               {"role": "customer", "text": "我下周就要用"}, {"role": "agent", "text": "亲，理解的，我尽快给您安排"}]
    body = suggest(demo_real, "你们发错了还要我自己寄 直接退款 运费你们出", history=history, top_k=5)
    assert "shop_fault" in body["replies"][0]["presumes"], [(r["id"], r["presumes"]) for r in body["replies"]]


@pytest.mark.slow
def test_a_reply_written_for_the_goods_named_leads_the_general_one(demo_real):
    """A dev conversation: expired cookies a child had eaten got the general quality reply ("…退换运费按本店规则") first
    and the one written for food ("剩下的先别吃了…") third. Of two answers, the one written for the goods the
    conversation names answers it more closely."""
    body = suggest(demo_real, "收到的曲奇早就过期了 我孩子都吃了一块 今天必须给个说法 订单号3921847562018374651", top_k=5)
    ids = [r["id"] for r in body["replies"]]
    assert "complaint-quality-food-01" in ids, ids
    assert "complaint-quality-defect-01" not in ids or ids.index("complaint-quality-food-01") < ids.index("complaint-quality-defect-01"), ids
    # with goods it is not written for, the general answer stays
    jumper = [r["id"] for r in suggest(demo_real, "毛衣才穿一次袖口就开线了", top_k=5)["replies"]]
    assert "complaint-quality-food-01" not in jumper and "complaint-quality-defect-01" in jumper, jumper
    # only the best point's: a comparison of two trousers was led by the fabric point's cotton answer (read second)
    first = suggest(demo_real, "这两条休闲裤有啥区别 一个说是垂感面料一个是棉的")["replies"][0]
    assert first["knowledge_point"] == "product.compare", first


@pytest.mark.slow
def test_hong_kong_and_overseas_are_answered_with_the_shops_own_rule_for_them(demo_real):
    """Five of 400 dev conversations asked to ship to Hong Kong (in traditional characters, with the cost and the
    days); every one got "港澳台和海外能不能配送需要先跟仓库确认一下…", the shop having no fact for it, and the
    point shared its replies with Xinjiang's. Hong Kong, Taiwan and abroad are their own point, answered by the
    shop's own rule for them; a remote mainland province still gets the remote-area rule. The rule's part for where
    the customer is (a later round: Hong Kong was told of the forwarding warehouse for other countries too)."""
    for message, part, other in (("請問可以寄去香港嗎 運費大概幾錢", "港澳台顺丰", "集运仓"),
                                  ("我在新加坡读书 能直接寄过来吗", "其他海外地区暂不直邮", "港澳台顺丰")):
        first = suggest(demo_real, message)["replies"][0]
        assert first["knowledge_point"] == "logistics.overseas", (message, first)
        assert part in first["text"] and other not in first["text"] and not first["needs_edit"], (message, first["text"])
    remote = suggest(demo_real, "新疆能发吗 要补运费不")["replies"][0]
    assert remote["knowledge_point"] == "logistics.remote-area" and "补运费15元" in remote["text"], remote


@pytest.mark.slow
def test_the_size_advice_answers_which_size_and_the_chart_answers_how_long(demo_real):
    """A rater's round on follow-ups: once the customer's height and weight were known, every size question got the
    size advice again ("按身高165、体重104斤，这款建议M码") whatever it asked: how long M is, whether wide feet need a
    size up. The advice answers which size to take; the chart's lengths answer how long a size is."""
    said = [{"role": "customer", "text": "一米六五 104斤 拿哪个码"}, {"role": "agent", "text": "亲，建议您拿M码哦"}]
    length = suggest(demo_real, "那M的衣长是多少 我想扎进裤子", product_id="SW-2301", history=said)["replies"][0]
    assert "62" in length["text"] and "建议M码" not in length["text"], length["text"]
    shoes = [{"role": "customer", "text": "平时穿38的"}, {"role": "agent", "text": "亲，这款是正码，按平时的码数拍就可以"}]
    wide = suggest(demo_real, "我脚背高 脚也宽 用不用拿大一码", product_id="SN-7700", history=shoes)["replies"][0]
    assert not wide["text"].startswith("亲，您平时穿38码"), wide["text"]
    # which shoe size, with no foot length: the chart answers ("那39呢" after the agent's "38码对应脚长24cm" got no
    # figure), the size named first: its own row
    said_shoe = [{"role": "customer", "text": "脚长多少穿38"}, {"role": "agent", "text": "亲，38码对应脚长24cm哦~"}]
    first = suggest(demo_real, "那39呢", product_id="SN-7700", history=said_shoe)["replies"][0]
    assert "39码对应脚长24.5cm" in first["text"] and first["text"].endswith("您发我脚长，我帮您对一下～"), first["text"]
    first = suggest(demo_real, "鞋码表发我看看", product_id="SN-7700", history=said_shoe)["replies"][0]
    assert "39码 脚长24.5cm" in first["text"] and "38码 脚长24cm" in first["text"], first["text"]  # the chart asked for
    # the chart asked for by a customer who gave a usual size: the chart still (it got a general wording)
    first = suggest(demo_real, "尺码表发我看看 我平时穿M", product_id="SW-2301")["replies"][0]
    assert first["id"] == "sizing-chart-sw-2301" and "M码 身高158-166" in first["text"], first["text"]
    # one size of the jeans by name, then the next by a bare number (a rater's round: "27呢" got a general reply)
    said_jeans = [{"role": "customer", "text": "牛仔裤26码腰围多少"}, {"role": "agent", "text": "亲，26码适合腰围64-67cm，臀围88-91cm哦~"}]
    first = suggest(demo_real, "27呢", product_id="JN-5102", history=said_jeans)["replies"][0]
    assert first["text"].startswith("亲，这款高腰直筒牛仔裤27码适合腰围67-70cm、臀围91-94cm"), first["text"]
    # a measure of a size by name, whatever point it reads as
    first = suggest(demo_real, "L的胸围多少", product_id="SW-2301")["replies"][0]
    assert "L码适合" in first["text"] and "胸围104cm" in first["text"], first["text"]
    first = suggest(demo_real, "xl呢", product_id="SW-2301", history=[{"role": "customer", "text": "L的胸围多少"}])["replies"][0]
    assert "XL码适合" in first["text"] and "胸围108cm" in first["text"], first["text"]
    # asked which size, the advice still leads
    which = suggest(demo_real, "那我男朋友呢 178 135斤", product_id="SW-2301", history=said)["replies"][0]
    assert which["source"] == "size" and "XL" in which["text"], which["text"]


@pytest.mark.slow
def test_with_no_product_the_size_comes_from_the_shops_chart_for_the_garment(demo_real):
    """A rater's round: size questions with no product got "我这就对照这款的尺码表…马上告诉您" (stalling, the customer's
    figures unused). The shop's chart for the garment answers, said of the shop's garments."""
    first = suggest(demo_real, "165 110斤穿什么码啊 平时穿M")
    reply = first["replies"][0]
    assert first["product"] is None and first["size_advice"]["chart"] == "tops" and reply["source"] == "size", reply
    assert reply["text"] == "亲，按身高165、体重110斤，我们家上衣一般建议M码～", reply["text"]
    said = [{"role": "customer", "text": "这个牛仔裤偏大还是偏小"}, {"role": "agent", "text": "亲，这款是标准码的哦，按平时尺码拍就可以啦~"}]
    reply = suggest(demo_real, "那我腰围2尺1 臀围90 拍哪个", history=said)["replies"][0]
    assert "腰围70对应28码" in reply["text"] and "选28码" in reply["text"], reply["text"]
    # she does not know her weight: not asked for it
    reply = suggest(demo_real, "帮闺蜜买的 她大概163 偏瘦 不知道体重 拍S还是M")["replies"][0]
    assert "M码" in reply["text"] and "体重" not in reply["text"], reply["text"]
    reply = suggest(demo_real, "想给男朋友买件羽绒服 他180左右 偏瘦 具体多重我也不太清楚 拿什么码")["replies"][0]
    assert "XL码" in reply["text"] and "体重" not in reply["text"], reply["text"]
    # a bra's size from the chest measures, with or without a product
    reply = suggest(demo_real, "胸围下围70 上围85 选神马码")["replies"][0]
    assert "一般对应70C" in reply["text"] and reply["why"] == "按上下胸围差换算的内衣尺码", reply
    # asked mostly about a high instep: a size for an unknown shoe cannot weigh it
    reply = suggest(demo_real, "脚长24.5 脚背有点高 穿39还是40")["replies"][0]
    assert reply["source"] != "size", reply["text"]


@pytest.mark.slow
def test_the_shops_facts_lead_over_a_general_wording_of_the_same_answer(demo_real):
    """Ranking a point's answers by how near their words are to the message put "我们默认发合作快递，具体是哪一家
    以发货后订单里显示的为准" above the reply stating the shop's own courier: the shop's wording and facts are
    compared only among themselves."""
    first = suggest(demo_real, "几天能发货 用什么快递", top_k=3)["replies"][0]
    assert FACT.search(first["text"]) and not first["needs_edit"], first["text"]


@pytest.mark.slow
def test_a_message_asking_several_things_gets_one_reply_answering_each(demo_real):
    """A rater's round: nine of 24 unsendable first replies answered one question of several ("纯羊毛吗 会不会扎
    163 52kg穿M还是L 燕麦色还有没" got "建议M码" alone). The first reply now answers each question it is sure of, in
    the order asked, from the shop's data where it has it."""
    answer = suggest(demo_real, "这个毛衣是纯羊毛吗？会不会扎 我163 52kg穿M还是L 燕麦色还有没", product_id="SW-2301")
    first = answer["replies"][0]
    assert len(first["parts"]) >= 3 and first["id"].startswith("joined-"), first
    text = first["text"]
    assert text.startswith("亲，") and text.count("亲") == 1, text
    assert text.index("50%羊毛") < text.index("建议M码") < text.index("燕麦色"), text  # in the order asked
    assert {"sizing-sw-2301", "catalogue-sw-2301-material"} <= set(first["parts"])
    # the shop's policies, in a numbered list
    policies = suggest(demo_real, "想问下 1.支持7天无理由吗 2.退货运费谁出 3.可以开发票吗 要公司抬头的")["replies"][0]
    assert len(policies["parts"]) == 3 and all(f in policies["text"] for f in ("7天", "非质量问题", "发票")), policies
    # credited like any suggested reply
    body = {"request_id": answer["request_id"], "reply_id": first["id"], "action": "sent"}
    assert demo_real.post("/v1/feedback", json=body, headers=HEADERS["agent"]).status_code == 201
    # sent already in this conversation: not offered again
    again = suggest(demo_real, "这个毛衣是纯羊毛吗？会不会扎 我163 52kg穿M还是L 燕麦色还有没", product_id="SW-2301", sent=[first["id"]])
    assert first["id"] not in [r["id"] for r in again["replies"]]
    # one question, or a second clause that only says more about it: no joined reply
    for message in ("165 110斤穿什么码", "能机洗吗 我家洗衣机有羊毛档", "买了十天了还能退吗 衣服没穿过 吊牌都在"):
        assert not any(r["parts"] for r in suggest(demo_real, message, product_id="SW-2301")["replies"]), message
    # a height and a weight, then a colour asked (a rater's round: "他180 70公斤 黑色有么 …" got the size and lost the
    # colour): the size, then the colour
    for message, colour in (("我爸178 150斤 雾霾蓝有没有", "雾霾蓝"), ("身高162 体重50kg 燕麦色的还有吗 啥时候能发", "燕麦色")):
        first = suggest(demo_real, message, product_id="SW-2301")["replies"][0]
        assert "sizing-sw-2301" in first["parts"] and colour in first["text"], (message, first)
        assert first["text"].index("码") < first["text"].index(colour), first["text"]
    # the measurements' own question read as one size point or another (for someone else, which size, a petite
    # figure): all of them get the chart's advice, so together they are sure enough (a rater's round lost the size)
    first = suggest(demo_real, "她158 110斤 燕麦色有么 能机洗?", product_id="SW-2301")["replies"][0]
    assert "sizing-sw-2301" in first["parts"] and all(w in first["text"] for w in ("M码", "燕麦色", "洗")), first
    # read in its conversation, the message's best point changed (the gift wrap, not the size): its questions are still
    # answered each
    said_gift = [{"role": "customer", "text": "想给男朋友买个毛衣 圣诞节送"},
                 {"role": "agent", "text": "亲，可以看看这款羊毛混纺圆领毛衣哦，男生穿也很好看~"}]
    first = suggest(demo_real, "他180 70公斤 黑色有么 能不能帮忙包装一下写个贺卡", product_id="SW-2301", history=said_gift)["replies"][0]
    assert len(first["parts"]) == 3 and all(w in first["text"] for w in ("XL码", "黑色", "贺卡")), first
    # "怎么理赔" read alone is a scam question; the message as a whole does not list it, and it is not sure enough
    insured = suggest(demo_real, "我有运费险吗 怎么理赔")["replies"][0]
    assert not insured["parts"] and "验证码" not in insured["text"], insured
    # A question read alone is vaguer than the whole message; it is answered when its reading is clear all the same, by
    # a margin over any other (a round of ours: the remote areas' fee and the exchange were left out), and read without
    # the courtesy opening it ("好的 退回去寄到哪" read as "好的", an acknowledgement)
    for message, words in (("好的 退回去寄到哪 运费险要自己申请吗", ("退货地址", "运费险")),
                           ("我人在拉萨。。那得补多少 能发圆通不 中通我这取不到", ("15元", "圆通")),
                           ("前天收到的 有点大 换小一码可以吧 邮费谁出", ("换码", "运费"))):
        first = suggest(demo_real, message)["replies"][0]
        assert len(first["parts"]) == 2 and all(w in first["text"] for w in words), (message, first)


@pytest.mark.slow
def test_a_shop_point_near_in_words_but_not_asked_is_not_offered(demo_real):
    """"毛衣什么材质的" is a cosine of 0.94 from the example shop's own "这件毛衣起球吗", and got its pilling answer first. The
    knowledge model reads the point's phrasings as pilling (and shedding) and is sure the message asks the material."""
    first = suggest(demo_real, "毛衣什么材质的", product_id="SW-2301")["replies"][0]
    assert "50%羊毛" in first["text"] and "起球" not in first["text"], first
    for message in ("毛衣起球吗", "这件毛衣会掉毛吗"):
        first = suggest(demo_real, message, product_id="SW-2301")["replies"][0]
        assert first["id"] == "shop-sw2301-pilling-01", (message, first)
    # asking several things, none of them pilling (a rated conversation: "那袋子是跟毛衣先发还是等裤子一起啊？毛衣能不能先发"
    # got the pilling answer); one of them pilling keeps it
    answer = suggest(demo_real, "毛衣可以先发吗？收纳袋是跟毛衣一起寄还是跟裤子一起", product_id="SW-2301")
    assert "shop.sw-2301-pilling" not in [p["id"] for p in answer["knowledge_points"]], answer["knowledge_points"]
    answer = suggest(demo_real, "毛衣会起球吗？能不能直接洗衣机洗啊", product_id="SW-2301")
    assert any("起球" in r["text"] for r in answer["replies"][:2]), answer["replies"][:2]


@pytest.mark.slow
def test_measurements_with_a_fit_wish_get_the_size_advice_answering_it(demo_real):
    """A round of ours: "毛衣165 104斤 想穿宽松点 拿M还是L呀" read as how it should sit, and got "这款是标准版型…" without the
    measurements' size; now the chart's advice, answering the wish."""
    first = suggest(demo_real, "165 104斤 想穿宽松点 拿M还是L呀", product_id="SW-2301")["replies"][0]
    assert first["id"] == "sizing-sw-2301" and "建议M码" in first["text"] and "拿大一码L码" in first["text"], first


def test_the_overseas_policy_is_quoted_for_where_the_customer_is():
    """Raters' rounds: a customer in Hong Kong was told "其他海外地区暂不直邮，可以填您在国内的集运仓地址" too, five times."""
    from service.shop.profile import overseas_part

    policy = "港澳台顺丰直邮，一般3到5天送达；其他海外地区暂不直邮，可以填您在国内的集运仓地址"
    assert overseas_part(policy, ["你好 我喺香港 可以寄过来吗"]) == "港澳台顺丰直邮，一般3到5天送达"
    assert overseas_part(policy, ["请问寄台湾吗"]) == "港澳台顺丰直邮，一般3到5天送达"
    assert overseas_part(policy, ["你们寄澳洲吗", "集运仓是啥"]) == "其他海外地区暂不直邮，可以填您在国内的集运仓地址"
    for said in (["能寄到国外吗 香港也有朋友"], ["包邮吗"]):  # both, or neither: the whole policy
        assert overseas_part(policy, said) == policy
    assert overseas_part("港澳台和海外都不发", ["香港能寄吗"]) == "港澳台和海外都不发"  # one clause: as it is


@pytest.mark.slow
def test_a_special_vat_invoice_is_answered_from_the_invoices_the_shop_issues(demo_real):
    """Raters' rounds, four times: "专票能开不" got "本店目前可开的发票是电子普通发票…专票能不能开以这个为准；需要开的话，麻烦把
    公司全称、税号、地址电话、开户行及账号发我" (neither yes nor no, and asking for what only a special invoice needs). The
    profile's invoice types say whether one is issued."""
    first = suggest(demo_real, "发票能开专票吗？公司报销要的")["replies"][0]
    assert "专票暂时开不了" in first["text"] and "开户行" not in first["text"] and not first["needs_edit"], first
    # Hong Kong: the policy's part for it
    first = suggest(demo_real, "你好 我喺香港 想買小白鞋 可以寄過嚟嗎？幾日到呀")["replies"][0]
    assert "港澳台顺丰直邮" in first["text"] and "集运仓" not in first["text"], first


@pytest.mark.slow
def test_an_exchange_of_a_presale_item_ships_on_its_date(demo_real):
    """A rater's round: the presale jeans exchanged for a 28, "大概多久能给我发过来" got "…按我们的发货时效安排发出：48小时内",
    which the product's data contradicts. Out of stock with a presale date, the item is presale for the replies."""
    said = [{"role": "customer", "text": "牛仔裤27的穿不上 扣子扣不上"}, {"role": "agent", "text": "亲，签收后15天内可以换码的~"}]
    offered = suggest(demo_real, "好 那我换28 多久能给我发过来", history=said, product_id="JN-5102")["replies"]
    assert "12月15日前" in offered[0]["text"], offered[0]
    assert not any("48小时" in r["text"] for r in offered), [r["text"] for r in offered]
    in_stock = suggest(demo_real, "好 那我换S 多久能给我发过来", history=said, product_id="SW-2301")["replies"]
    assert "48小时" in in_stock[0]["text"], in_stock[0]


@pytest.mark.slow
def test_an_order_the_agent_looked_up_is_not_asked_for_again(demo_real):
    """A rater's round: after "帮您看了一下，两个订单目前都还没发货哦～", "那能不能放一个箱子里一起发" got "您把两个订单号发我"
    first. The agent has the orders in front of them; a reply asking for their numbers yields."""
    bought = {"role": "customer", "text": "我前天拍了件毛衣 昨天又拍了条裤子"}
    looked = [bought, {"role": "agent", "text": "亲，帮您看了一下，两个订单都还没发货哦～"}]
    first = suggest(demo_real, "那能合在一起发吗 同一个地址", history=looked)["replies"][0]
    assert "订单号" not in first["text"], first["text"]
    # not looked up: asking for them still leads
    told = [bought, {"role": "agent", "text": "亲，两个订单可以看下是否还没发货哦～"}]
    first = suggest(demo_real, "那能合在一起发吗 同一个地址", history=told)["replies"][0]
    assert "订单号" in first["text"], first["text"]


@pytest.mark.slow
def test_a_live_stream_price_after_buying_is_answered_with_the_price_protection_rule(demo_real):
    """A round of ours: "直播间的也算吗", after the agent said price drops are refunded within 7 days, got "直播专享价一般要
    从直播间的链接拍~ 您把看到的链接或截图发我" four times. Once something is bought, the reply quotes the shop's rule,
    which says whether live-stream prices count."""
    rule = demo_real.get("/v1/shop", headers=HEADERS["agent"]).json()["facts"]["price_protection"]
    said = [{"role": "customer", "text": "上周买的卫衣 今天降了30 能退差价吗"},
            {"role": "agent", "text": "亲，付款后7天内同款降价可以退差价的，您是在哪里看到的价格呢？"}]
    first = suggest(demo_real, "在你们直播间看到的 那个价也能退吗", history=said)["replies"][0]
    assert rule in first["text"] and "订单号" in first["text"], first["text"]
    # the order's number given: used, not asked for
    first = suggest(demo_real, "4012837795561028 直播间那个价格也算吗", history=said)["replies"][0]
    assert rule in first["text"] and "4012837795561028" in first["text"], first["text"]


@pytest.mark.slow
def test_a_shop_fact_is_stated_once_in_a_reply(demo_real):
    """A round of our own conversations: the price-protection rule twice in one joined reply (the answer about waiting
    for a sale quotes it, and so does the price-protection answer), and "原路退回" twice where the refund timing, which
    says it, was followed by "款项会原路退回"."""
    for message in ("双十一会不会更便宜 现在买了到时候降价能补差价吗", "退货仓库签收了 多久到账"):
        for reply in suggest(demo_real, message, top_k=5)["replies"]:
            for clause in ("付款后7天内同款降价可退差价", "原路退回"):
                assert reply["text"].count(clause) <= 1, (message, reply["text"])
    # the answer about waiting for a sale, which quotes the rule, answers both questions: it leads
    first = suggest(demo_real, "双十一会不会更便宜 现在买了到时候降价能补差价吗")["replies"][0]
    assert "以当时页面为准" in first["text"] and "付款后7天内同款降价可退差价" in first["text"], first


# What states a shop-specific fact in plain words: a number of hours, days or yuan, or a courier's name.
FACT = re.compile(r"[0-9０-９一二两三四五六七八九十百]+ *(个)?(小时|天|日|工作日|元|块钱|块)|顺丰|中通|圆通|申通|韵达|京东快递|邮政|EMS|极兔|德邦")


def test_without_a_profile_no_reply_states_a_shop_fact(client):
    """Every knowledge point asked once (by its first phrasing, through the reply service the endpoint asks):
    outside 【…】 and what the customer said (the slots), no reply names a courier or a number of hours,
    days or yuan."""
    state = client.app.state
    assert state.shop.shop.source == "none"
    points = load_knowledge(Settings().data_file("knowledge_dir"))
    stated = []
    for point in points:
        reading = state.analyzer.read_turn(point.phrasings[0], [])
        offer = state.replies.suggest(reading, state.guidance.for_reading(reading), Conversation(shop=state.shop.shop))
        for reply in offer.replies:
            text = re.sub(r"【[^】]*】", "", reply.text).replace("七天无理由", "")  # the platform rule's name
            for value in offer.slots.values():
                text = text.replace(value, "")
            if FACT.search(text):
                stated.append((point.id, reply.text))
    assert not stated, stated[:5]


def test_refresh_picks_up_a_change_made_elsewhere(make_fake_app, app_settings, shop_dir):
    with serving(make_fake_app(app_settings)) as client:
        keeper = client.app.state.shop
        other = Store(app_settings.db_path)
        try:
            ShopKeeper(other.shop, ShopHolder(*load_shop(other.shop))).load_dir("cli", shop_dir)
        finally:
            other.close()
        assert client.get("/v1/shop", headers=HEADERS["agent"]).json()["configured"] is False
        assert keeper.refresh() is True
        assert client.get("/v1/shop", headers=HEADERS["agent"]).json()["products"] == 4
        assert "50%羊毛" in suggest(client, "这件什么材质的", product_id="SW-2301")["replies"][0]["text"]
        assert keeper.refresh() is False


def test_a_reply_edit_is_named_by_its_path(fake_client):
    """Found by fuzzing: PUT /v1/replies/{id} required the id twice and refused a schema-valid body."""
    reply = {"id": "shop-path-01", "text": "亲，欢迎光临小店，有什么我可以帮您的吗？", "intents": ["greeting"], "stage": "售前",
             "category": "opening", "triggers": ["你好在吗"]}
    assert fake_client.post("/v1/replies", json=reply).status_code == 201
    edit = {k: v for k, v in reply.items() if k != "id"} | {"text": "亲，欢迎来到小店，想看点什么呀？"}
    response = fake_client.put("/v1/replies/shop-path-01", json=edit)
    assert response.status_code == 200, response.text
    assert response.json()["id"] == "shop-path-01" and response.json()["text"] == edit["text"]
    mismatch = fake_client.put("/v1/replies/shop-path-01", json=edit | {"id": "shop-other-01"})
    assert mismatch.status_code == 422 and "shop-other-01" in mismatch.json()["message"]
    assert fake_client.delete("/v1/replies/shop-path-01").status_code == 204


def test_a_shop_reply_with_the_longest_id_is_listed(fake_client):
    """Found by fuzzing: a shop reply naming no point gets the point `shop.<id>`, longer than the answer
    model allowed for an 80-character id (a 500 after the reply was stored)."""
    rid = "a" * 80
    reply = {"id": rid, "text": "亲，欢迎光临小店，有什么我可以帮您的吗？", "intents": ["greeting"], "stage": "售前",
             "category": "opening", "triggers": ["你好在吗"]}
    response = fake_client.post("/v1/replies", json=reply)
    assert response.status_code == 201, response.text
    assert response.json()["knowledge_point"] == f"shop.{rid}"
    assert fake_client.delete(f"/v1/replies/{rid}").status_code == 204


def test_couriers_the_shop_sends_with():
    profile = parse_profile({"shipping": {"default_courier": "中通快递", "couriers": ["中通", "圆通", "韵达"], "extra_courier": "顺丰"}})
    assert [profile.sends_with(c) for c in ("中通", "韵达快递", "顺丰", "邮政", "EMS")] == ["listed", "listed", "extra", "unlisted", "unlisted"]
    assert parse_profile({"shipping": {"ship_within": "48小时内"}}).sends_with("中通") is None


def test_a_courier_asked_for_is_answered_from_the_shops_couriers(demo):
    # "邮政在里面的话…" to a courier the shop does not send with (a rater's round, twice)
    def courier_replies(message):
        return {r["id"]: r["text"] for r in suggest(demo, message)["replies"] if r["knowledge_point"] == "logistics.courier-request"}

    unlisted = courier_replies("韵达我们这不送上门啊 能换邮政吗")
    assert "logistics-courier-request-04" in unlisted and "邮政我们这边暂时发不了" in unlisted["logistics-courier-request-04"]
    assert "logistics-courier-request-02" not in unlisted
    listed = courier_replies("能发圆通吗")
    assert "logistics-courier-request-02" in listed and "logistics-courier-request-04" not in listed


def test_a_free_courier_is_not_answered_with_the_extra_cost_one(demo):
    # a round of ours: "那圆通呢 也要补？" after "顺丰的话需要补10元" got "您想发圆通的话，我们加急走的是顺丰，补10元…": 圆通 is
    # one of the shop's couriers, at no extra cost
    said = [{"role": "customer", "text": "能发顺丰吗 急用"}, {"role": "agent", "text": "可以的亲，默认发中通，顺丰的话需要补10元运费差价哦~"}]

    def upgrade(message, history=()):
        return [r["text"] for r in suggest(demo, message, history=list(history))["replies"]
                if r["knowledge_point"] == "logistics.courier-upgrade"]

    free = upgrade("那圆通呢 也要补？", said)
    assert not any("加急走的是" in text for text in free)
    assert free and free[0].startswith("亲，圆通是我们本来就能发的快递，不用补运费"), free  # it answers the question
    assert any("加急走的是顺丰" in text for text in upgrade("想快点 京东能发吗 加钱也行"))


@pytest.mark.slow
def test_a_childs_height_gets_no_advice_from_the_shops_adult_charts(demo_real):
    # "拿110的话…" after a 95 cm child: "按身高95，我们家裤子一般最小的25码也会大不少" (an adult chart, no product known)
    history = [{"role": "customer", "text": "宝宝两岁半 95公分 14kg 穿什么码"}, {"role": "agent", "text": "亲，95cm的宝宝建议拿100码哦"}]
    got = suggest(demo_real, "小孩长太快了 拿110的话今年穿会不会拖地啊", history=history)
    assert not any(r["source"] == "size" for r in got["replies"]), got["replies"][:2]
    # an adult's measurements still get the shop's chart
    adult = suggest(demo_real, "165 110斤 上衣穿什么码")
    assert adult["replies"][0]["source"] == "size"


@pytest.mark.slow
def test_an_unseen_stock_state_is_not_claimed_first(demo_real):
    # a blind round called "您要的黑色L这款目前系统里显示有现货…" unsendable when nobody had said so (the trench coat is
    # not among the shop's products): the point's reply presuming nothing leads, the claim stays offered with its check
    history = [{"role": "customer", "text": "这款风衣卡其色L还有吗"}, {"role": "agent", "text": "亲，卡其色L码目前有货的哦，现在拍48小时内发货~"}]
    replies = suggest(demo_real, "黑的呢", history=history)["replies"]
    assert replies[0]["presumes"] == [] and "黑色L" in replies[0]["text"], replies[:2]
    claim = next(r for r in replies if "in_stock" in r["presumes"])
    assert claim["needs_check"]


@pytest.mark.slow
def test_a_height_alone_does_not_overrule_the_size_she_wears(demo_real):
    # a blind round: "她平时穿S 身高165左右 偏瘦" got "按身高165，我们家上衣一般建议M码" (no: nothing says M fits her)
    got = suggest(demo_real, "想给老婆买件大衣 她平时穿S 身高165左右 偏瘦 拿什么码")
    assert not any(r["source"] == "size" and "M码" in r["text"] for r in got["replies"]), got["replies"][:2]
    # with her weight too, the chart's reading stands
    weighed = suggest(demo_real, "想给老婆买件大衣 她平时穿S 165 110斤 拿什么码")
    assert weighed["replies"][0]["source"] == "size"


@pytest.mark.slow
def test_a_reply_written_for_a_photo_sent_leads_the_one_asking_for_it(demo_real):
    # a blind round: "图都发了还不够" got "…您先拍张问题的照片，连同订单号发我就好~" first, the photo reply second
    history = [{"role": "customer", "text": "[图片] 羽绒服拉链才拉了两下就坏了"},
               {"role": "agent", "text": "亲非常抱歉给您带来不好的体验！麻烦您再拍一段拉拉链的视频，方便我们登记处理哦🙏"}]
    replies = suggest(demo_real, "还要视频？？图都发了还不够 才穿一次就坏成这样 你们质量也太差了 直接给我退款 别墨迹", history=history)["replies"]
    assert replies[0]["id"] == "complaint-quality-photo-01", [r["id"] for r in replies]


@pytest.mark.slow
def test_a_personal_title_a_colour_change_and_a_new_phone_are_each_answered_as_asked(demo_real):
    """Three rated conversations answered the wrong question: a personal invoice title was asked for a company's name
    and tax number, a colour change before shipping got how to change the quantity, and a new phone number got a
    tracking problem. Written anew here (not the rated sentences)."""
    title = suggest(demo_real, "行 抬头写个人就好 写我爸名字可以不", history=[
        {"role": "customer", "text": "发票啥时候开啊"},
        {"role": "agent", "text": "亲，发票是确认收货后3个工作日内开具的电子普通发票哦～"}])
    first = title["replies"][0]["text"]
    assert "个人抬头" in first and "税号发" not in first and "公司全称" not in first, first
    colour = suggest(demo_real, "顺便把燕麦色改成黑色 尺码不变 别发错哈", history=[
        {"role": "customer", "text": "刚下了一单毛衣"}, {"role": "agent", "text": "好的亲，收到~"}])
    assert colour["knowledge_points"][0]["id"] == "order.modify-order", colour["knowledge_points"]
    assert "数量" not in colour["replies"][0]["text"], colour["replies"][0]["text"]
    phone = suggest(demo_real, "3920571836402957 新号是13958021746 发货没", history=[
        {"role": "customer", "text": "电话填错了 少了一位"},
        {"role": "agent", "text": "亲，麻烦把订单号和正确的手机号发我一下~"}])
    assert "新号码收到" in phone["replies"][0]["text"], phone["replies"][0]["text"]


@pytest.mark.slow
def test_a_question_after_a_choice_is_answered_not_the_choice(demo_real):
    """A rated conversation: after the jeans' sizes were given, "松点的吧 那就拿大那个码 现在拍啥时候能发货" read as no
    point and got "我正在拿它和这款的尺码表逐项对照" (a size long chosen); the presale jeans ship on their date."""
    said = [{"role": "customer", "text": "高腰直筒牛仔裤 腰68 臀95 穿几号啊"},
            {"role": "agent", "text": "亲，腰围68在27码，臀围95在28码哦，这款是修身的~"}]
    answer = suggest(demo_real, "那就28吧 现在拍啥时候能发货", history=said)
    assert answer["knowledge_points"] and answer["knowledge_points"][0]["id"] == "logistics.ship-when", answer["knowledge_points"]
    assert "12月15日前" in answer["replies"][0]["text"], answer["replies"][0]["text"]
