"""The shop's products: a catalogue imported from CSV or JSON, each product with its title, aliases, category,
attributes (material, colours, sizes, fit, care, features, stock, presale date, size chart …) and, in JSON,
knowledge points the shop writes for it. A product named in the conversation (or given as `product_id`) lets
a product question be answered from its attributes.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from dataclasses import dataclass, field

from intents.lexicon import Lexicon
from intents.resources import Source
from service.replies.knowledge import KnowledgeError, KnowledgePoint, parse_point

# Attributes a product may have, what each holds and its label; list attributes are "|"-separated in CSV.
ATTRIBUTES = {
    "material": ("text", "材质"), "colours": ("list", "颜色"), "sizes": ("list", "尺码"), "fit": ("fit", "版型"),
    "care": ("text", "洗护"), "features": ("list", "特点"), "in_stock": ("bool", "库存"), "presale_date": ("text", "预售发货"),
    "size_chart": ("text", "尺码表"), "thickness": ("text", "厚薄"), "origin": ("text", "产地"), "warranty": ("text", "保修"),
    "package": ("text", "包装清单"), "price": ("text", "价格"),
}
FITS = ("slim", "regular", "loose")
# Ids of the replies the service builds per conversation: from a product's attributes, from its size chart, and
# an answer joining the answers to a mixed ask (`service.replies.joining`). No written reply may take them.
JOINED_ID_PREFIX = "joined-"
GENERATED_ID_PREFIXES = ("catalogue-", "sizing-", JOINED_ID_PREFIX)
REQUIRED = ("id", "title")
CSV_COLUMNS = ("id", "title", "aliases", "category", *ATTRIBUTES)
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")
_TRUE, _FALSE = {"true", "yes", "1", "有", "有货", "是"}, {"false", "no", "0", "无", "没有", "缺货", "否"}


class ProductError(ValueError):
    """A product record cannot be used; the message names file, line and reason."""


@dataclass(frozen=True)
class Product:
    id: str
    title: str
    aliases: tuple[str, ...] = ()
    category: str | None = None
    attributes: dict = field(default_factory=dict)
    knowledge: tuple[KnowledgePoint, ...] = ()

    def as_dict(self) -> dict:
        return {
            "id": self.id, "title": self.title, "aliases": list(self.aliases), "category": self.category,
            "attributes": self.attributes, "knowledge": [_point_record(p) for p in self.knowledge],
        }


def _point_record(point: KnowledgePoint) -> dict:
    return {
        "id": point.id, "label": point.label, "intents": list(point.intents), "stage": point.stage, "scope": point.scope,
        "phrasings": list(point.phrasings),
        "reply": [{"id": r.id, "text": r.text, "category": r.category, "presumes": list(r.presumes)} for r in point.replies],
    }


def _attribute(name: str, value, where: str):
    kind, _ = ATTRIBUTES[name]
    if kind == "list":
        items = value.split("|") if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(v, str) and v.strip() for v in items):
            raise ProductError(f"{where}: {name} must be a list of names (\"|\"-separated in CSV)")
        return [v.strip() for v in items]
    if kind == "bool":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE or text in _FALSE:
            return text in _TRUE
        raise ProductError(f"{where}: in_stock must be true or false, got {value!r}")
    if kind == "fit":
        if value not in FITS:
            raise ProductError(f"{where}: fit must be one of {', '.join(FITS)}, got {value!r}")
        return value
    if not isinstance(value, str) or not value.strip() or len(value) > 300 or "{" in value or "}" in value:
        raise ProductError(f"{where}: {name} must be a text of up to 300 characters, without braces")
    return value.strip()


def parse_product(record: object, where: str) -> Product:
    """One product (a JSON object, or a CSV row as a dict of strings); a bad one raises naming `where`."""
    if not isinstance(record, dict):
        raise ProductError(f"{where}: expected an object")
    missing = [k for k in REQUIRED if not str(record.get(k) or "").strip()]
    if missing:
        raise ProductError(f"{where}: missing {missing[0]!r}")
    pid, title = str(record["id"]).strip(), str(record["title"]).strip()
    if not _ID.match(pid):
        raise ProductError(f"{where}: product id must be letters, digits, '-' and '_' (up to 40), got {pid!r}")
    if len(title) > 100:
        raise ProductError(f"{where}: title longer than 100 characters")
    unknown = sorted(set(record) - {"id", "title", "aliases", "category", "attributes", "knowledge", *ATTRIBUTES})
    if unknown:
        raise ProductError(f"{where}: unknown field {unknown[0]!r} (attributes: {', '.join(ATTRIBUTES)})")
    aliases = record.get("aliases") or []
    if isinstance(aliases, str):
        aliases = [a for a in aliases.split("|") if a.strip()]
    if not isinstance(aliases, list) or not all(isinstance(a, str) and 2 <= len(a.strip()) <= 40 for a in aliases):
        raise ProductError(f"{where}: aliases must be names of 2–40 characters")
    raw = dict(record.get("attributes") or {})
    raw.update({k: record[k] for k in ATTRIBUTES if k in record and record[k] not in (None, "")})
    attributes = {}
    for name, value in raw.items():
        if name not in ATTRIBUTES:
            raise ProductError(f"{where}: unknown attribute {name!r} (known: {', '.join(ATTRIBUTES)})")
        attributes[name] = _attribute(name, value, where)
    knowledge = []
    prefix = f"shop.{re.sub(r'[^a-z0-9]+', '-', pid.lower()).strip('-')}-"
    for n, point in enumerate(record.get("knowledge") or []):
        if isinstance(point, dict) and isinstance(point.get("id"), str) and not point["id"].startswith(prefix):
            # the product's own namespace: "pilling" of SW-2301 is shop.sw-2301-pilling
            point = {**point, "id": prefix + point["id"].split(".")[-1]}
        try:
            knowledge.append(parse_point(point, f"{where}: knowledge[{n}]", source="shop", min_phrasings=2))
        except KnowledgeError as exc:
            raise ProductError(str(exc)) from None
        taken = [r.id for r in knowledge[-1].replies if r.id.startswith(GENERATED_ID_PREFIXES)]
        if taken:
            raise ProductError(f"{where}: knowledge[{n}]: reply id {taken[0]!r}: ids starting with "
                               f"{' or '.join(GENERATED_ID_PREFIXES)} are kept for the replies the service builds")
    category = str(record.get("category") or "").strip() or None
    return Product(pid, title, tuple(a.strip() for a in aliases), category, attributes, tuple(knowledge))


def parse_products(text: str, where: str, kind: str) -> list[Product]:
    """Every product of a file's text (`kind` csv or json); the first bad one raises: nothing is half-imported."""
    products: list[Product] = []
    places: list[str] = []  # where each product is, for the messages
    if kind == "json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ProductError(f"{where}:{exc.lineno}: not valid JSON ({exc.msg})") from None
        if isinstance(data, dict):
            data = data.get("products")
        if not isinstance(data, list):
            raise ProductError(f"{where}: expected a list of products (or {{\"products\": [...]}})")
        lines = text.splitlines()
        for n, record in enumerate(data):
            pid = record.get("id") if isinstance(record, dict) else None
            # the line of this record's "id": the k-th line naming the id, for its k-th record
            at_lines = [i for i, l in enumerate(lines, 1) if pid is not None and '"id"' in l and f'"{pid}"' in l]
            k = sum(1 for other in data[:n] if isinstance(other, dict) and other.get("id") == pid)
            line = at_lines[k] if k < len(at_lines) else 0
            places.append(f"{where}:{line}" if line else f"{where}: products[{n}]")
            products.append(parse_product(record, places[-1]))
    elif kind == "csv":
        # Lines starting with # are comments; the first other line is the header.
        rows = [(n, row) for n, row in enumerate(csv.reader(io.StringIO(text.lstrip("\ufeff"))), 1)
                if any(cell.strip() for cell in row) and not row[0].lstrip().startswith("#")]
        if not rows:
            raise ProductError(f"{where}: no header (columns: {', '.join(CSV_COLUMNS)})")
        header_line, header = rows[0][0], [h.strip() for h in rows[0][1]]
        missing = [c for c in REQUIRED if c not in header]
        if missing:
            raise ProductError(f"{where}:{header_line}: missing column {missing[0]!r} (columns: {', '.join(CSV_COLUMNS)})")
        unknown = [c for c in header if c not in CSV_COLUMNS]
        if unknown:
            raise ProductError(f"{where}:{header_line}: unknown column {unknown[0]!r} (columns: {', '.join(CSV_COLUMNS)})")
        for lineno, row in rows[1:]:
            if len(row) != len(header):
                raise ProductError(f"{where}:{lineno}: {len(row)} cells, the header has {len(header)}")
            record = {k: v.strip() for k, v in zip(header, row) if v.strip()}
            places.append(f"{where}:{lineno}")
            products.append(parse_product(record, places[-1]))
    else:
        raise ProductError(f"{where}: products come as .csv or .json")
    seen: dict[str, str] = {}
    for product, at in zip(products, places):
        if product.id in seen:
            raise ProductError(f"{at}: product id {product.id!r} repeated (first at {seen[product.id]})")
        seen[product.id] = at
    return products


def read_products(source: Source) -> list[Product]:
    kind = source.name.rsplit(".", 1)[-1].lower()
    return parse_products(source.read_text(encoding="utf-8"), str(source), kind)


# Before goods named: they are worn with the goods asked about ("里面套个毛衣", "内搭你家那个毛衣", "我想扎进裤子").
WORN_WITH = r"(?:扎进|塞进|扎到|塞到|里面|内搭|套|搭)[^\s,.!?。，！？]{0,4}"
_WORN_WITH_BEFORE = re.compile(WORN_WITH + "$")


def _shared_ending(names: list[str]) -> str:
    """The longest ending all `names` have ("羽绒服" of 连帽短款羽绒服, 短款羽绒服 and 连帽羽绒服)."""
    return os.path.commonprefix([n.strip()[::-1] for n in names])[::-1]


class Catalogue:
    """The products by id, and a lexicon of their titles and aliases to find one named in a message."""

    def __init__(self, products: list[Product]):
        self.products = {p.id: p for p in products}
        names = [(name, p.id) for p in products for name in (p.title, *p.aliases) if len(name) >= 2]
        self._lexicon: Lexicon[str] = Lexicon(names)
        # The kind of goods a product is, named as customers name it ("羽绒服" for 连帽短款羽绒服, aliases 短款羽绒服 and
        # 连帽羽绒服): the ending its title and aliases share, of two characters or more. It names the product when no
        # other product has it.
        kinds: dict[str, set[str]] = {}
        for p in products:
            if p.aliases:
                kinds.setdefault(_shared_ending([p.title, *p.aliases]), set()).add(p.id)
        self._kinds: Lexicon[str] = Lexicon(
            (kind, ids.pop()) for kind, ids in kinds.items() if len(kind) >= 2 and len(ids) == 1
        )

    def __len__(self) -> int:
        return len(self.products)

    def named_in(self, texts: list[str]) -> Product | None:
        """The product named last in `texts` (oldest first), by its longest title or alias, else by the kind of
        goods only it is."""
        for text in reversed(texts):
            hits = self._lexicon.find(text)
            if not hits:
                # A kind named as what is worn with it ("里面套个毛衣会不会撑不开") is not the goods asked about; two kinds
                # named ("毛衣拿L可以吧？牛仔裤28还是29") are two goods, and neither is the conversation's.
                kinds = [h for h in self._kinds.find(text) if not _WORN_WITH_BEFORE.search(text[: h.start])]
                if len({h.payload for h in kinds}) > 1:
                    return None
                hits = kinds
            if hits:
                best = max(hits, key=lambda h: (h.end - h.start, h.end))
                return self.products.get(best.payload)
        return None

    def with_product(self, product: Product) -> "Catalogue":
        return Catalogue([*[p for p in self.products.values() if p.id != product.id], product])

    def without(self, product_id: str) -> "Catalogue":
        return Catalogue([p for p in self.products.values() if p.id != product_id])

