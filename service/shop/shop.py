"""The shop as the service knows it: profile, products and size charts, one immutable snapshot.

Loaded from the store at start-up (or the bundled example shop for a demo) and swapped whole when an admin
changes something, so a request reads one consistent shop.
"""

from __future__ import annotations

import logging
import re
import threading
import tomllib
from dataclasses import dataclass, field
from functools import cached_property
from typing import Callable

from intents.resources import Source, children, packaged
from service.replies.knowledge import KnowledgeError, parse_point
from service.shop.products import Catalogue, Product, ProductError, parse_product, read_products
from service.shop.profile import ShopProfile, parse_profile, read_profile
from service.shop.sizes import BODY, SizeChart, parse_chart, read_chart

log = logging.getLogger("huashu")

EXAMPLE_SHOP = packaged("scripts_corpus", "example_shop")
PROFILE_FILE = "profile.toml"
KNOWLEDGE_FILE = "knowledge.toml"
CHARTS_DIR = "size-charts"

# The kinds of garment customers name, with the words naming them. With no product known, the kind a conversation
# names picks the shop's size chart: the chart of the shop's products of that kind.
GARMENT_KINDS: dict[str, tuple[str, ...]] = {
    "上衣": ("上衣", "毛衣", "卫衣", "外套", "羽绒服", "棉服", "棉衣", "大衣", "风衣", "夹克", "衬衫", "衬衣", "t恤",
           "短袖", "长袖", "针织衫", "开衫", "毛衫", "羊绒衫", "打底衫", "背心", "马甲", "冲锋衣", "西装", "polo", "皮衣"),
    "裤子": ("裤",),
    "裙子": ("裙",),
    "鞋子": ("鞋", "靴"),
}
# The kind of a chart no product of the shop uses, by its id ("tops.csv").
_KIND_OF_CHART_ID = {
    "tops": "上衣", "top": "上衣", "shirts": "上衣", "coats": "上衣", "jeans": "裤子", "pants": "裤子", "trousers": "裤子",
    "skirts": "裙子", "skirt": "裙子", "dresses": "裙子", "shoes": "鞋子", "boots": "鞋子",
}


# Underwear and hosiery: no kind above, whatever their names share with it ("内裤", "连裤袜").
_NOT_GARMENT = re.compile(r"内裤|内衣|裤袜|袜")


def garment_kinds(text: str) -> set[str]:
    """The kinds of garment `text` names ("这件卫衣" 上衣, "鞋码39" 鞋子; not "内裤")."""
    text = _NOT_GARMENT.sub(" ", text.lower())
    return {kind for kind, words in GARMENT_KINDS.items() if any(word in text for word in words)}


def product_kinds(product: Product) -> set[str]:
    """The kinds of garment a product is, as its title, aliases and category name them."""
    return garment_kinds(" ".join([product.title, *product.aliases, product.category or ""]))


def _first_at(text: str, kind: str) -> int:
    """Where `text` first names a garment of `kind`."""
    text = _NOT_GARMENT.sub(" ", text.lower())
    return min((text.find(word) for word in GARMENT_KINDS[kind] if word in text), default=len(text))


def _given(measurements: dict) -> set[str]:
    """The body measures the customer gave (as the charts name them)."""
    return {m for m, key in BODY.items() if isinstance(measurements.get(key), (int, float))}


def _measures_read(chart: SizeChart) -> set[str]:
    """The body measures a chart reads a size by (a shoe chart's foot lengths included)."""
    return {m for row in chart.rows for m in row.ranges if m in BODY} | {m for row in chart.rows for m in row.values if m == "foot"}


@dataclass(frozen=True)
class Shop:
    profile: ShopProfile = field(default_factory=ShopProfile)
    catalogue: Catalogue = field(default_factory=lambda: Catalogue([]))
    charts: dict[str, SizeChart] = field(default_factory=dict)
    source: str = "none"  # none | store | example

    @property
    def configured(self) -> bool:
        return bool(self.profile.facts or len(self.catalogue))

    @property
    def products(self) -> list[Product]:
        return list(self.catalogue.products.values())

    def product(self, product_id: str | None, texts: list[str]) -> Product | None:
        """The product the conversation is about: the one the client names, else the last one named."""
        if product_id:
            return self.catalogue.products.get(product_id)
        return self.catalogue.named_in(texts)

    def chart(self, product: Product | None) -> SizeChart | None:
        """The product's size chart: its own (`size_chart`), else its category's (a chart named like it)."""
        if product is None:
            return None
        own = product.attributes.get("size_chart")
        if own and own in self.charts:
            return self.charts[own]
        return self.charts.get((product.category or "").lower())

    @cached_property
    def _chart_kinds(self) -> dict[str, set[str]]:
        """Each chart's kinds of garment: those its products' titles, aliases and category name, else its id's."""
        kinds: dict[str, set[str]] = {chart_id: set() for chart_id in self.charts}
        for product in self.products:
            chart = self.chart(product)
            if chart is not None:
                kinds[chart.id] |= product_kinds(product)
        for chart_id, found in kinds.items():
            if not found and chart_id.lower() in _KIND_OF_CHART_ID:
                found.add(_KIND_OF_CHART_ID[chart_id.lower()])
        return kinds

    def general_charts(self, texts: list[str], measurements: dict, sizes: set[str] = frozenset()) -> list[tuple[SizeChart, str | None]]:
        """With no product known: the shop's charts the customer's measurements are for, each with its kind of
        garment. The latest text naming kinds of garment names them; two or more named ("毛衣拿L可以吧？牛仔裤28还是29"):
        the chart of each, in the order named, for each kind with one chart that reads a measurement given; else the
        one chart `general_chart` finds. None for a message about underwear or hosiery."""
        if texts and _NOT_GARMENT.search(texts[-1].lower()):
            return []  # underwear asked about: none of the charts
        named = next((text for text in reversed(texts) if garment_kinds(text)), "")
        kinds = sorted(garment_kinds(named), key=lambda kind: _first_at(named, kind))
        if len(kinds) < 2:
            found = self.general_chart(texts, measurements, sizes)
            return [found] if found is not None else []
        given = _given(measurements)
        out = []
        for kind in kinds:
            charts = [chart for chart in self.charts.values() if kind in self._chart_kinds[chart.id] and _measures_read(chart) & given]
            if len(charts) == 1:
                out.append((charts[0], kind))
        return out

    def general_chart(self, texts: list[str], measurements: dict, sizes: set[str] = frozenset()) -> tuple[SizeChart, str | None] | None:
        """With no product known: the shop's chart the customer's measurements are for, and its kind of garment.
        The chart of the kind of garment the conversation names (`texts`, oldest first; the latest naming one),
        else the one chart reading every body measurement given (165 and 110斤: the tops', not the jeans' read by
        height alone; a single measurement other than a foot length only with a size named); a tie is broken by the
        sizes named (`sizes`: "拍S还是M"). None when no one chart is left."""
        given = _given(measurements)
        readable = [chart for chart in self.charts.values() if _measures_read(chart) & given]
        named = next((kinds for kinds in map(garment_kinds, reversed(texts)) if kinds), set())
        if named:
            found = [chart for chart in readable if self._chart_kinds[chart.id] & named]
        else:
            found = [chart for chart in readable if given <= _measures_read(chart)]
        wanted = {size.upper() for size in sizes}
        # One measurement ("我140斤") fits many garments, some the shop may have no chart for: only a kind or a size
        # named says which (a foot length is a shoe's).
        vague = len(given) < 2 and not named and given != {"foot"}
        if (len(found) > 1 or vague) and wanted:
            found = [chart for chart in found if wanted & {size.upper() for size in chart.sizes}]
        elif vague:
            return None
        if len(found) != 1:
            return None
        kinds = (self._chart_kinds[found[0].id] & named) or self._chart_kinds[found[0].id]
        return found[0], (next(iter(kinds)) if len(kinds) == 1 else None)


def read_shop_dir(folder: Source, source: str = "store") -> Shop:
    """A shop from a folder: `profile.toml`, `products.csv` or `products.json`, `knowledge.toml` (the shop's own
    knowledge points, each naming its `product`), `size-charts/*.csv` (each optional). Everything is
    validated before anything is returned: a bad file raises with file, line and reason."""
    profile = read_profile(folder / PROFILE_FILE) if (folder / PROFILE_FILE).is_file() else ShopProfile()
    products: list[Product] = []
    for name in ("products.csv", "products.json"):
        if (folder / name).is_file():
            products += read_products(folder / name)
    seen: set[str] = set()
    for product in products:
        if product.id in seen:
            raise ProductError(f"{folder}: product id {product.id!r} is in both products.csv and products.json")
        seen.add(product.id)
    if (folder / KNOWLEDGE_FILE).is_file():
        products = _with_knowledge(products, folder / KNOWLEDGE_FILE)
    charts = {}
    if (folder / CHARTS_DIR).is_dir():
        for path in children(folder / CHARTS_DIR, ".csv"):
            chart = read_chart(path)
            charts[chart.id] = chart
    return Shop(profile, Catalogue(products), charts, source)


def _with_knowledge(products: list[Product], source: Source) -> list[Product]:
    """The products with the knowledge points of a `knowledge.toml` ([[point]] tables as in our own knowledge
    files, each with `product = "<id>"`) added to the product each names."""
    text = source.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProductError(f"{source}: not valid TOML ({exc})") from None
    unknown = sorted(set(data) - {"point"})
    if unknown:
        raise ProductError(f"{source}:1: unknown table {unknown[0]!r} (the file holds [[point]] tables)")
    starts = [n for n, line in enumerate(text.splitlines(), 1) if line.strip() == "[[point]]"]
    by_id = {p.id: p.as_dict() for p in products}
    for n, point in enumerate(data.get("point", [])):
        where = f"{source}:{starts[n] if n < len(starts) else 1}"
        point = dict(point)
        owner = point.pop("product", None)
        if owner not in by_id:
            raise ProductError(f"{where}: a point names its product (product = \"<id>\"), one of the products file's; got {owner!r}")
        try:  # checked here too, so that a bad point is named by its line
            parse_point({**point, "id": f"shop.check-{str(point.get('id', '')).split('.')[-1]}"}, where, source="shop", min_phrasings=2)
        except KnowledgeError as exc:
            raise ProductError(str(exc)) from None
        by_id[owner]["knowledge"].append(point)
    out = []
    for product in products:
        try:
            out.append(parse_product(by_id[product.id], f"{source}: product {product.id!r}"))
        except ProductError as exc:
            raise ProductError(str(exc)) from None
    return out


def shop_from_records(profile: dict | None, products: list[dict], charts: dict[str, str]) -> Shop:
    """A shop from what the store keeps (profile sections, product records, chart id → CSV text); its source
    is `none` when the store holds nothing."""
    source = "store" if profile or products or charts else "none"
    return Shop(
        parse_profile(profile, "stored profile") if profile else ShopProfile(),
        Catalogue([parse_product(record, f"stored product {record.get('id')!r}") for record in products]),
        {chart_id: parse_chart(chart_id, text, f"stored size chart {chart_id!r}") for chart_id, text in charts.items()},
        source,
    )


def example_shop() -> Shop:
    """The bundled example shop (HUASHU_DEMO_SHOP=1): a clothing shop with a profile, products and charts."""
    return read_shop_dir(EXAMPLE_SHOP, "example")


class ShopHolder:
    """The current shop; a change builds a new snapshot and swaps it in under a lock, then tells whoever
    listens (the reply service re-indexes the products' own knowledge points)."""

    def __init__(self, shop: Shop, version: int = 0):
        self._shop = shop
        self.version = version  # the store's change number the snapshot reflects
        self.lock = threading.Lock()
        self._listeners: list[Callable[[Shop], None]] = []

    @property
    def current(self) -> Shop:
        return self._shop

    def listen(self, listener: Callable[[Shop], None]) -> None:
        with self.lock:
            self._listeners.append(listener)
            listener(self._shop)

    def replace(self, shop: Shop, version: int | None = None) -> None:
        with self.lock:
            for listener in self._listeners:
                listener(shop)  # a listener that refuses the shop (raises) leaves the old one in place
            self._shop = shop
            if version is not None:
                self.version = version
