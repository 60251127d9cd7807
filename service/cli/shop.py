"""The shop's knowledge from the command line: write an example shop folder, load one into the store,
import products. Every file is validated whole first (a bad one names file, line and reason) and stored in
one transaction: nothing is half-imported. A running service picks the change up within
$HUASHU_SHOP_REFRESH_S seconds."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from service.cli.common import app, console, fail
from service.config import get_settings

shop_app = typer.Typer(help="The shop's profile, products and size charts in the store ($HUASHU_DB_PATH, or $HUASHU_DATABASE_URL).", no_args_is_help=True)
products_app = typer.Typer(help="The shop's products.", no_args_is_help=True)
app.add_typer(shop_app, name="shop")
app.add_typer(products_app, name="products")

ACTOR = "cli"


def _keeper():
    from service.config import ConfigError
    from service.shop.keeper import ShopKeeper, load_shop
    from service.shop.shop import ShopHolder
    from service.store import Store
    from service.store.db import StoreError

    settings = get_settings()
    if settings.demo_shop:
        fail("HUASHU_DEMO_SHOP=1 serves the bundled example shop, which is read-only: unset it to configure the shop")
    try:
        store = Store.open(settings, background_writer=False)
    except (ConfigError, StoreError) as exc:
        fail(str(exc))
    shop, version = load_shop(store.shop)
    return store, ShopKeeper(store.shop, ShopHolder(shop, version))


@app.command("init-shop")
def init_shop(
    folder: Annotated[Path, typer.Argument(help="Folder to write (created; must not hold a shop already).")],
    force: Annotated[bool, typer.Option("--force", help="Overwrite the files if they exist.")] = False,
) -> None:
    """Write a commented example shop: profile.toml, products.csv, knowledge.toml and size-charts/*.csv, to
    edit and then load with `huashu shop load FOLDER`."""
    from intents.resources import children
    from service.shop.shop import CHARTS_DIR, EXAMPLE_SHOP

    names = ["profile.toml", "products.csv", "knowledge.toml"]
    charts = [path.name for path in children(EXAMPLE_SHOP / CHARTS_DIR, ".csv")]
    targets = [folder / name for name in names] + [folder / CHARTS_DIR / name for name in charts]
    existing = [str(t) for t in targets if t.exists()]
    if existing and not force:
        fail(f"{existing[0]} exists; use --force to overwrite")
    (folder / CHARTS_DIR).mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_text((EXAMPLE_SHOP / name).read_text(encoding="utf-8"), encoding="utf-8")
    for name in charts:
        (folder / CHARTS_DIR / name).write_text((EXAMPLE_SHOP / CHARTS_DIR / name).read_text(encoding="utf-8"), encoding="utf-8")
    console.print(f"wrote {len(targets)} files to {folder}: edit them, then `huashu shop load {folder}`")


def _change(step):
    """Run `step(keeper)` on the stored shop and close the store; a refused change ends the command with
    its reason (exit 2)."""
    from service.errors import ServiceError
    from service.shop.keeper import ShopError

    store, keeper = _keeper()
    try:
        return step(keeper)
    except ShopError as exc:
        fail(str(exc))
    except ServiceError as exc:
        fail(exc.message)
    finally:
        store.close()


@shop_app.command("load")
def shop_load(folder: Annotated[Path, typer.Argument(help="A shop folder (see `huashu init-shop`).")]) -> None:
    """Load a shop folder: its products and size charts replace the stored ones, its profile (if the folder
    has one) the stored profile."""
    from service.shop.keeper import describe

    if not folder.is_dir():
        fail(f"{folder} is not a folder")
    shop = _change(lambda keeper: keeper.load_dir(ACTOR, folder))
    console.print(describe(shop))


@shop_app.command("show")
def shop_show() -> None:
    """What the store holds: the profile's facts, the facts missing, products and size charts."""
    from service.replies.corpus import SHOP_FACTS
    from service.shop.keeper import describe

    store, keeper = _keeper()
    store.close()
    shop = keeper.shop
    console.print(describe(shop))
    for key, value in shop.profile.facts.items():
        console.print(f"  {key:<18} {value}", markup=False)
    missing = [fact for fact in SHOP_FACTS if fact not in shop.profile.facts]
    if missing:
        console.print(f"  missing (replies show 【…】): {', '.join(missing)}", markup=False)
    for product in shop.products:
        console.print(f"  product {product.id:<12} {product.title}", markup=False)


@products_app.command("import")
def products_import(path: Annotated[Path, typer.Argument(help="A products .csv or .json file.")]) -> None:
    """Add the products of a file, replacing those with the same id (the others stay)."""
    if not path.is_file():
        fail(f"no file {path}")
    products = _change(lambda keeper: keeper.import_products(ACTOR, path))
    console.print(f"imported {len(products)} products from {path}")


__all__ = ["shop_app", "products_app"]
