"""The shop's knowledge kept: every change validated whole, stored in one transaction (with who made it),
then swapped in as a new snapshot. Used by the API (admin endpoints) and the CLI (`huashu shop load`,
`huashu products import`); nothing is half-imported, and a bad file names file, line and reason.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

from service.errors import Conflict, NotFound, Unprocessable
from service.shop.products import Catalogue, Product, ProductError, parse_product, read_products
from service.shop.profile import ProfileError, ShopProfile, parse_profile
from service.shop.shop import CHARTS_DIR, Shop, ShopHolder, example_shop, read_shop_dir, shop_from_records
from service.shop.sizes import SizeChartError, parse_chart
from service.store.shop import ShopRecords

log = logging.getLogger("huashu")

ShopError = (ProfileError, ProductError, SizeChartError)


class ReadOnlyShop(Conflict):
    """The bundled example shop is served (HUASHU_DEMO_SHOP=1): it is not changed through the API."""


def load_shop(records: ShopRecords, demo: bool = False) -> tuple[Shop, int]:
    """The shop to serve and the store's change number it reflects: the bundled example for a demo, else
    what the store holds (a shop never configured has no facts: replies show them as 【…】)."""
    version = records.version()
    if demo:
        return example_shop(), version
    profile, products, charts = records.load()
    return shop_from_records(profile, products, charts), version


def describe(shop: Shop) -> str:
    """One log line on what the replies can rely on."""
    if shop.source == "example":
        return (f"serving the bundled example shop (HUASHU_DEMO_SHOP=1): {len(shop.profile.facts)} profile facts, "
                f"{len(shop.catalogue)} products, {len(shop.charts)} size charts; not for a real shop")
    if not shop.configured:
        return ("no shop profile or products configured: replies show shop facts (shipping times, couriers, return "
                "window …) as 【…】 for the agent to fill. Load a shop with `huashu shop load DIR` (see "
                "`huashu init-shop`) or PUT /v1/shop/profile; HUASHU_DEMO_SHOP=1 serves the bundled example")
    return f"shop loaded: {len(shop.profile.facts)} profile facts, {len(shop.catalogue)} products, {len(shop.charts)} size charts"


class ShopKeeper:
    def __init__(self, records: ShopRecords, holder: ShopHolder, demo: bool = False):
        self.records = records
        self.holder = holder
        self.demo = demo
        # Checks a new shop must pass before it is stored (the reply service: no product point id clashes).
        self.checks: list[Callable[[Shop], None]] = []

    @property
    def shop(self) -> Shop:
        return self.holder.current

    def _writable(self) -> None:
        if self.demo:
            raise ReadOnlyShop("the bundled example shop is served (HUASHU_DEMO_SHOP=1) and is read-only; "
                               "unset it to configure the shop")

    def _commit(self, shop: Shop, store: Callable[[], None]) -> Shop:
        for check in self.checks:
            check(shop)
        store()
        self.holder.replace(shop, self.records.version())
        return shop

    # --- profile ------------------------------------------------------------------------------------

    def set_profile(self, actor: str, sections: dict) -> ShopProfile:
        self._writable()
        try:
            profile = parse_profile(sections, "profile")
        except ProfileError as exc:
            raise Unprocessable(str(exc)) from None
        current = self.shop
        new = Shop(profile, current.catalogue, current.charts, "store")
        self._commit(new, lambda: self.records.save(actor, profile=profile.as_dict()))
        return profile

    # --- products -----------------------------------------------------------------------------------

    def product(self, product_id: str) -> Product:
        product = self.shop.catalogue.products.get(product_id)
        if product is None:
            raise NotFound(f"unknown product {product_id!r}")
        return product

    def put_product(self, actor: str, record: dict, create: bool) -> Product:
        """Add (`create`: 409 if the id exists) or replace one product."""
        self._writable()
        try:
            product = parse_product(record, "product")
        except ProductError as exc:
            raise Unprocessable(str(exc)) from None
        exists = product.id in self.shop.catalogue.products
        if create and exists:
            raise Conflict(f"a product with id {product.id!r} already exists (PUT /v1/products/{product.id} replaces it)")
        self._check_chart(product, self.shop)
        current = self.shop
        new = Shop(current.profile, current.catalogue.with_product(product), current.charts, "store")
        self._commit(new, lambda: self.records.save(actor, products=[product.as_dict()]))
        return product

    def delete_product(self, actor: str, product_id: str) -> None:
        self._writable()
        self.product(product_id)
        current = self.shop
        new = Shop(current.profile, current.catalogue.without(product_id), current.charts, "store")
        self._commit(new, lambda: self.records.delete_product(actor, product_id))

    def import_products(self, actor: str, path: Path) -> list[Product]:
        """Every product of a CSV or JSON file, added or replacing those with the same id; all or nothing."""
        self._writable()
        products = read_products(path)
        current = self.shop
        catalogue = current.catalogue
        for product in products:
            self._check_chart(product, current)
            catalogue = catalogue.with_product(product)
        new = Shop(current.profile, catalogue, current.charts, "store")
        self._commit(new, lambda: self.records.save(actor, products=[p.as_dict() for p in products]))
        return products

    @staticmethod
    def _check_chart(product: Product, shop: Shop) -> None:
        chart = product.attributes.get("size_chart")
        if chart and chart not in shop.charts:
            raise Unprocessable(f"product {product.id!r}: size chart {chart!r} is not loaded (known: {', '.join(shop.charts) or 'none'})")

    # --- size charts --------------------------------------------------------------------------------

    def put_chart(self, actor: str, chart_id: str, text: str) -> None:
        self._writable()
        try:
            chart = parse_chart(chart_id, text, f"size chart {chart_id!r}")
        except SizeChartError as exc:
            raise Unprocessable(str(exc)) from None
        current = self.shop
        new = Shop(current.profile, current.catalogue, {**current.charts, chart.id: chart}, "store")
        self._commit(new, lambda: self.records.save(actor, charts={chart.id: text}))

    def delete_chart(self, actor: str, chart_id: str) -> None:
        self._writable()
        current = self.shop
        if chart_id not in current.charts:
            raise NotFound(f"unknown size chart {chart_id!r}")
        users = [p.id for p in current.products if p.attributes.get("size_chart") == chart_id]
        if users:
            raise Conflict(f"size chart {chart_id!r} is used by product {users[0]!r}")
        new = Shop(current.profile, current.catalogue, {k: v for k, v in current.charts.items() if k != chart_id}, "store")
        self._commit(new, lambda: self.records.delete_chart(actor, chart_id))

    # --- a whole folder -----------------------------------------------------------------------------

    def load_dir(self, actor: str, folder: Path) -> Shop:
        """A shop folder (profile.toml, products.csv|json, size-charts/*.csv) replaces the stored products and
        charts (and the profile, when the folder has one): validated entirely first, then stored in one
        transaction."""
        self._writable()
        shop = read_shop_dir(folder)
        for product in shop.products:
            self._check_chart(product, shop)
        charts = {}
        if (folder / CHARTS_DIR).is_dir():
            charts = {path.stem.lower(): path.read_text(encoding="utf-8") for path in sorted((folder / CHARTS_DIR).glob("*.csv"))}
        has_profile = (folder / "profile.toml").is_file()
        profile = shop.profile.as_dict() if has_profile else None  # no profile file: the stored one stays
        shop = Shop(shop.profile if has_profile else self.shop.profile, shop.catalogue, shop.charts, "store")
        self._commit(shop, lambda: self.records.save(
            actor, profile=profile, products=[p.as_dict() for p in shop.products], charts=charts, replace=True,
        ))
        return shop

    def refresh(self) -> bool:
        """Reload from the store when it changed elsewhere (the CLI, another replica); True when it did."""
        if self.demo:
            return False
        version = self.records.version()
        if version == self.holder.version:
            return False
        shop, version = load_shop(self.records)
        self.holder.replace(shop, version)
        log.info("shop reloaded from the store: %s", describe(shop))
        return True


__all__ = ["Catalogue", "ReadOnlyShop", "ShopError", "ShopKeeper", "describe", "load_shop"]
