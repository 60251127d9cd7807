"""The shop's knowledge: profile, products, size charts (admin writes; any role reads) and the log of changes.

These need no model: they answer while the models load. A change is validated whole, stored, then served
at once (the products' own knowledge points are indexed as soon as the replies are loaded).
"""

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, Response

from service.api.auth import Actor, AdminRole, AgentRole, QaRole
from service.api.deps import KeeperDep, RepliesDep, StoreDep
from service.api.errors import error_responses
from service.api.routes.audit import Limit, Offset
from service.api.schemas import (
    ProductEdit,
    ProductIn,
    ProductList,
    ProductOut,
    ReplyEdit,
    ReplyRecord,
    ShopChangeList,
    ShopProfileIn,
    ShopProfileOut,
    ShopSummary,
    SizeChartList,
    SizeChartOut,
)
from service.api import flows
from service.replies.corpus import SHOP_FACTS
from service.shop.shop import Shop
from service.errors import Unprocessable

router = APIRouter(prefix="/v1", tags=["shop"], responses=error_responses(401, 403, 422))

ProductId = Annotated[str, Path(min_length=1, max_length=40)]
ChartId = Annotated[str, Path(min_length=1, max_length=60)]
ReplyIdPath = Annotated[str, Path(min_length=1, max_length=80)]
MAX_CHART_BYTES = 200_000


def _missing(shop: Shop) -> list[str]:
    return [fact for fact in SHOP_FACTS if fact not in shop.profile.facts]


def _profile(shop: Shop) -> ShopProfileOut:
    return ShopProfileOut(profile=shop.profile.as_dict(), missing=_missing(shop), source=shop.source)


def _product(product) -> ProductOut:
    return ProductOut(**product.as_dict())


def _chart(shop: Shop, chart_id: str) -> SizeChartOut:
    chart = shop.charts[chart_id]
    users = [p.id for p in shop.products if shop.chart(p) is chart]
    return SizeChartOut(id=chart.id, sizes=chart.sizes, rows=chart.as_records(), products=users)


@router.get("/shop", response_model=ShopSummary, dependencies=[AgentRole])
def shop_summary(keeper: KeeperDep) -> ShopSummary:
    """What the replies can rely on: the profile's facts, those missing (shown as 【…】), products and charts."""
    shop = keeper.shop
    return ShopSummary(
        source=shop.source, configured=shop.configured, name=shop.profile.name, facts=dict(shop.profile.facts),
        missing=_missing(shop), products=len(shop.catalogue), size_charts=sorted(shop.charts),
    )


@router.get("/shop/profile", response_model=ShopProfileOut, dependencies=[AgentRole])
def get_profile(keeper: KeeperDep) -> ShopProfileOut:
    """The shop's profile, by section."""
    return _profile(keeper.shop)


@router.put("/shop/profile", response_model=ShopProfileOut, dependencies=[AdminRole], responses=error_responses(409))
def put_profile(body: ShopProfileIn, keeper: KeeperDep, who: Actor) -> ShopProfileOut:
    """Replace the shop's profile (validated whole; unknown sections or keys are refused)."""
    keeper.set_profile(who, body.model_dump(exclude_none=True))
    return _profile(keeper.shop)


@router.get("/products", response_model=ProductList, dependencies=[AgentRole])
def list_products(
    keeper: KeeperDep,
    q: Annotated[str | None, Query(max_length=100, description="Text in the title or an alias.")] = None,
    category: Annotated[str | None, Query(max_length=60)] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> ProductList:
    found = [
        p for p in keeper.shop.products
        if (q is None or q in p.title or any(q in a for a in p.aliases)) and (category is None or p.category == category)
    ]
    return ProductList(total=len(found), products=[_product(p) for p in found[offset : offset + limit]])


@router.get("/products/{product_id}", response_model=ProductOut, dependencies=[AgentRole], responses=error_responses(404))
def get_product(product_id: ProductId, keeper: KeeperDep) -> ProductOut:
    return _product(keeper.product(product_id))


@router.post("/products", response_model=ProductOut, status_code=201, dependencies=[AdminRole], responses=error_responses(409))
def add_product(body: ProductIn, keeper: KeeperDep, who: Actor) -> ProductOut:
    """Add a product (409 if its id exists); its attributes answer product questions from now on."""
    return _product(keeper.put_product(who, body.model_dump(exclude_none=True), create=True))


@router.put("/products/{product_id}", response_model=ProductOut, dependencies=[AdminRole], responses=error_responses(409))
def put_product(product_id: ProductId, body: ProductEdit, keeper: KeeperDep, who: Actor) -> ProductOut:
    """Add or replace the product with this id."""
    if body.id is not None and body.id != product_id:
        raise Unprocessable(f"the body's id {body.id!r} is not the path's {product_id!r}")
    record = body.model_copy(update={"id": product_id}).model_dump(exclude_none=True)
    return _product(keeper.put_product(who, record, create=False))


@router.delete("/products/{product_id}", status_code=204, dependencies=[AdminRole], responses=error_responses(404, 409))
def delete_product(product_id: ProductId, keeper: KeeperDep, who: Actor) -> Response:
    keeper.delete_product(who, product_id)
    return Response(status_code=204)


@router.get("/size-charts", response_model=SizeChartList, dependencies=[AgentRole])
def list_charts(keeper: KeeperDep) -> SizeChartList:
    shop = keeper.shop
    return SizeChartList(charts=[_chart(shop, chart_id) for chart_id in sorted(shop.charts)])


@router.put(
    "/size-charts/{chart_id}", response_model=SizeChartOut, dependencies=[AdminRole], responses=error_responses(409),
    openapi_extra={"requestBody": {"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}}},
)
async def put_chart(chart_id: ChartId, request: Request, keeper: KeeperDep, who: Actor) -> SizeChartOut:
    """Add or replace a size chart: the CSV file itself as the body (`Content-Type: text/csv`), one row per
    size, smallest first (docs/shop.md)."""
    raw = await request.body()
    if len(raw) > MAX_CHART_BYTES:
        raise Unprocessable(f"a size chart is at most {MAX_CHART_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Unprocessable("the size chart must be UTF-8 text (CSV)") from None
    keeper.put_chart(who, chart_id, text)
    return _chart(keeper.shop, chart_id)


@router.delete("/size-charts/{chart_id}", status_code=204, dependencies=[AdminRole], responses=error_responses(404, 409))
def delete_chart(chart_id: ChartId, keeper: KeeperDep, who: Actor) -> Response:
    keeper.delete_chart(who, chart_id)
    return Response(status_code=204)


@router.get("/shop/changes", response_model=ShopChangeList, dependencies=[QaRole])
def changes(
    store: StoreDep,
    kind: Literal["profile", "product", "size_chart", "reply"] | None = None,
    target: Annotated[str | None, Query(max_length=80, description="A product, chart or reply id.")] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> ShopChangeList:
    """Who changed what in the shop's knowledge, and when (newest first)."""
    return ShopChangeList(changes=store.shop.changes(kind, target, limit, offset))


@router.put("/replies/{reply_id}", response_model=ReplyRecord, dependencies=[AdminRole], responses=error_responses(404, 409, 503))
def edit_reply(reply_id: ReplyIdPath, body: ReplyEdit, replies: RepliesDep, store: StoreDep, who: Actor) -> ReplyRecord:
    """Edit one of the shop's own replies (the corpus's are edited in scripts_corpus/knowledge: 409)."""
    if body.id is not None and body.id != reply_id:
        raise Unprocessable(f"the body's id {body.id!r} is not the path's {reply_id!r}")
    return flows.edit_reply(body.model_copy(update={"id": reply_id}), replies, store, who)


@router.delete("/replies/{reply_id}", status_code=204, dependencies=[AdminRole], responses=error_responses(404, 409, 503))
def retire_reply(reply_id: ReplyIdPath, replies: RepliesDep, store: StoreDep, who: Actor) -> Response:
    """Retire one of the shop's own replies: no longer suggested; kept in the store (the audit log names it)."""
    replies.retire_shop_reply(reply_id, lambda: store.shop.retire_reply(who, reply_id))
    return Response(status_code=204)
