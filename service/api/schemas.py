"""Request and response models of the v1 API (field names are a contract: see docs/contract.md)."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from intents.labels import INTENTS, PSYCHOLOGY
from service.replies.corpus import CATEGORIES, MAX_GOODS, MAX_GOODS_CHARS, SEVERITIES, STAGES, VARIABLES
from service.replies.knowledge import PRESUMES

MAX_MESSAGE_CHARS = 2000
MAX_BATCH = 256
MAX_BATCH_CHARS = 20_000
MAX_HISTORY_TURNS = 50
MAX_VARIABLES = 20
MAX_VARIABLE_CHARS = 200
MAX_TOP_K = 20
MAX_SENT = 100


# What str.strip() removes, as a regex class body: Python's whitespace is not the \s of JSON schema
# (it has U+001C–U+001F and U+0085, and not U+FEFF). NOT_BLANK is the JSON-schema pattern of
# "not only whitespace": some character that strip() keeps.
WHITESPACE = r"\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
NOT_BLANK = rf"[^{WHITESPACE}]"


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty or whitespace only")
    return value


def _enum(values) -> Field:
    # Declared in the schema only: the validators name the unknown id in their own words.
    return Field(json_schema_extra={"enum": list(values)})


# The validator gives the message; the schema says the same thing to clients and fuzzers.
MessageText = Annotated[
    str,
    StringConstraints(strict=True, max_length=MAX_MESSAGE_CHARS),
    AfterValidator(_not_blank),
    Field(json_schema_extra={"minLength": 1, "pattern": NOT_BLANK}),
]


def _iso_day(value: object) -> object:
    # pydantic would also read "0" or 1700000000 as a Unix time, and a midnight datetime as a day.
    if isinstance(value, str) and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError("must be a day written YYYY-MM-DD")
    return value


Day = Annotated[date, BeforeValidator(_iso_day)]


def _integral(value: object) -> object:
    # JSON has one number type: 5.0 is the integer 5 to JSON schema (and to JavaScript); "5" stays refused.
    return int(value) if isinstance(value, float) and value.is_integer() else value


class Request(BaseModel):
    """Base of request bodies: unknown fields are refused, so a typo is reported, not ignored."""

    model_config = ConfigDict(extra="forbid")


class Turn(Request):
    role: Literal["customer", "agent"]
    text: MessageText


class ClassifyRequest(Request):
    messages: Annotated[list[MessageText], Field(min_length=1, max_length=MAX_BATCH)] = Field(
        description=f"1–{MAX_BATCH} customer messages, each 1–{MAX_MESSAGE_CHARS} characters, "
        f"{MAX_BATCH_CHARS} characters in all."
    )

    @field_validator("messages")
    @classmethod
    def _batch_size(cls, messages: list[str]) -> list[str]:
        # One batch must not hold a worker for long: the encoder's time grows with the text.
        total = sum(len(m) for m in messages)
        if total > MAX_BATCH_CHARS:
            raise ValueError(f"the messages hold {total} characters in all; at most {MAX_BATCH_CHARS} per request")
        return messages


class SegmentRequest(Request):
    text: MessageText


class LintRequest(Request):
    text: Annotated[str, StringConstraints(strict=True, max_length=MAX_MESSAGE_CHARS)] = Field(
        description=f"The agent's draft reply, up to {MAX_MESSAGE_CHARS} characters (an empty draft is a finding, not an error)."
    )


ReplyIdText = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=100)]


ProductIdText = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=40)]


class SuggestRequest(Request):
    message: MessageText
    history: Annotated[list[Turn], Field(max_length=MAX_HISTORY_TURNS)] = Field(
        default_factory=list, description="Earlier turns of the conversation, oldest first."
    )
    variables: Annotated[
        dict[Annotated[str, StringConstraints(strict=True, min_length=1, max_length=40)],
             Annotated[str, StringConstraints(strict=True, max_length=MAX_VARIABLE_CHARS)]],
        Field(max_length=MAX_VARIABLES),
    ] = Field(default_factory=dict, description="Template values such as nickname, order_id, courier.")
    top_k: Annotated[int, BeforeValidator(_integral)] = Field(
        5, ge=1, le=MAX_TOP_K, strict=True, description="How many replies to return."
    )
    sent: Annotated[list[ReplyIdText], Field(max_length=MAX_SENT)] = Field(
        default_factory=list,
        description="Ids of the replies already sent in this conversation: they are not suggested again unless "
        "the customer asks the same thing again.",
    )
    product_id: ProductIdText | None = Field(
        None,
        description="The product the customer is looking at, as the chat client knows it (an id of /v1/products). "
        "Without it, a product named in the message or history is matched by title or alias; an unknown id is "
        "ignored (`product` is then null).",
    )


class Intent(BaseModel):
    id: str
    label: str
    confidence: float


class Psychology(BaseModel):
    id: str = Field(description="One of the 8 purchase motives or 5 complaint psychologies (docs/domain.md).")
    label: str = Field(description="Its Chinese name: 求实, 求廉, 报复 …")
    family: Literal["purchase", "complaint"]
    confidence: float
    cues: list[str] = Field(description="Words of `normalized` that support the type (substrings of it).")


class Emotion(BaseModel):
    level: Literal["calm", "upset", "angry"]
    score: float = Field(description="0 (calm) to 1; upset from 0.3, angry from 0.6.")
    cues: list[str] = Field(default_factory=list, description="Substrings of `normalized` that raised the score.")


class Reply(BaseModel):
    id: str
    text: str = Field(description="Ready to send; a missing variable without fallback shows as 【label】.")
    score: float
    intent: str = Field(description="The intent this reply was chosen for.")
    category: str = Field(description="Etiquette category (opening, answer, apology, holding, …).")
    needs_edit: bool = False
    missing: list[str] = Field(default_factory=list, description="Template variables the agent must still fill in.")
    why: str = Field("", description="Short account of the choice: the knowledge point and its confidence, adoption.")
    knowledge_point: str | None = Field(None, description="The knowledge point the reply answers (null: a clarifying question).")
    source: Literal["corpus", "shop", "product", "size"] = Field(
        "corpus",
        description="Where the reply comes from: the corpus, the shop's own replies and product knowledge points "
        "(`shop`), a product's attributes (`product`), the size chart (`size`).",
    )
    presumes: list[str] = Field(default_factory=list, description="What the reply takes for granted (shipped, in_stock …).")
    needs_check: str | None = Field(
        None, description="What the agent must check before sending, when the conversation has not shown what the reply presumes."
    )
    parts: list[str] = Field(
        default_factory=list,
        description="A message asking several things gets one reply answering each question in turn (id `joined-…`): "
        "the ids of the replies it joins, in order. Empty for any other reply.",
    )


class KnowledgePointMatch(BaseModel):
    id: str
    label: str
    confidence: float


class Analysis(BaseModel):
    normalized: str
    tokens: list[str]
    intent: Intent
    intents: list[Intent]
    psychology: Psychology | None = Field(description="null when nothing in the message supports a type.")
    emotion: Emotion
    guidance: list[str] = Field(description="2–4 handling steps for the agent (not for the customer).")
    escalate: bool = Field(description="Hand to a supervisor: retaliation, an angry customer, or a legal/12315/platform threat.")
    escalate_reason: str | None = None


MEASUREMENTS_DESCRIPTION = (
    "Body measurements of the person the purchase is for (height_cm, weight_kg, bust_cm, waist_cm, hip_cm, foot_cm, "
    "usual_size), in cm and kg, only the keys found: from 165 / 1米65 / 5尺2, 110斤 / 55kg, 腰二尺一, 脚长24.5, 平时穿M …"
)


class SizeAdviceOut(BaseModel):
    size: str | None = Field(description="The size to take (with `between`: the one the fit leans to).")
    between: list[str] | None = Field(description="The two sizes the customer is between, smaller first; null when one fits.")
    reason: str = Field(description="Why, in words a reply can use: the measurements, the size, the fit.")
    missing: list[str] = Field(default_factory=list, description="Measurements the chart uses that the customer has not given.")
    chart: str = Field(description="The size chart used.")


class ProductRef(BaseModel):
    id: str
    title: str


class ClassifyResult(Analysis):
    request_id: str = Field(description="Id of this message's audit row (for QA review).")
    measurements: dict[str, float | int | str] = Field(default_factory=dict, description=MEASUREMENTS_DESCRIPTION)


class ClassifyResponse(BaseModel):
    results: list[ClassifyResult]
    model_version: str


class SegmentResponse(BaseModel):
    normalized: str
    tokens: list[str]


class SuggestResponse(Analysis):
    request_id: str
    history_used: bool = Field(
        False,
        description="True when the conversation history changed the top intent or knowledge point of this message "
        "(or gave it a knowledge point where the message alone fits none).",
    )
    knowledge_points: list[KnowledgePointMatch] = Field(
        description="The specific questions the message asks, best first; empty when none fits."
    )
    slots: dict[str, str] = Field(
        description="Values read from the message and history (order_id, tracking_no, courier, size, colour, quantity, "
        "amount, date); they fill the replies' variables unless the request's own `variables` give one."
    )
    measurements: dict[str, float | int | str] = Field(default_factory=dict, description=MEASUREMENTS_DESCRIPTION)
    product: ProductRef | None = Field(None, description="The product the conversation is about (from `product_id`, or named in it).")
    size_advice: SizeAdviceOut | None = Field(
        None, description="With a size chart for the product and measurements: the size, or the two sizes the customer is between."
    )
    replies: list[Reply]
    handoff: bool = Field(
        False, description="True when the service is unsure (no knowledge point fits): the first reply is a clarifying question."
    )
    model_version: str


FeedbackAction = Literal["clicked", "sent", "edited", "dismissed"]


class FeedbackRequest(Request):
    # `edited` needs the text the agent sent; the schema says so too, beside the validator.
    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"properties": {"action": {"enum": ["clicked", "sent", "dismissed"]}}},
                {"properties": {"final_text": {"type": "string"}}, "required": ["final_text"]},
            ]
        }
    )

    request_id: Annotated[str, StringConstraints(strict=True, min_length=1, max_length=64)]
    reply_id: Annotated[str, StringConstraints(strict=True, min_length=1, max_length=100)]
    action: FeedbackAction
    final_text: MessageText | None = Field(None, description="The text the agent actually sent (for `edited`).")

    @model_validator(mode="after")
    def _edited_needs_text(self) -> "FeedbackRequest":
        if self.action == "edited" and self.final_text is None:
            raise ValueError("final_text is required when action is 'edited'")
        return self


class FeedbackResponse(BaseModel):
    id: int
    request_id: str
    reply_id: str
    action: FeedbackAction


ReplyId = Annotated[str, StringConstraints(strict=True, pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$", max_length=80)]
ShortText = Annotated[
    str, StringConstraints(strict=True, min_length=1, max_length=200), Field(json_schema_extra={"pattern": NOT_BLANK})
]
# What service.replies.corpus.parse_reply accepts of a text, as one pattern: braces only in well-formed
# {name} or {name|fallback} slots of known variables, and 4 or more characters once stripped. A slot
# is longer than that by itself; without one, two kept characters at least 3 apart show the length.
_SLOT = r"\{(?:%s)(?:\|[^{}|]*)?\}" % "|".join(VARIABLES)
_TEMPLATE = rf"(?:[^{{}}]|{_SLOT})*"
_KEPT = rf"[^{{}}{WHITESPACE}]"
REPLY_TEXT = rf"^(?:{_TEMPLATE}{_SLOT}{_TEMPLATE}|[^{{}}]*{_KEPT}[^{{}}]{{2,}}{_KEPT}[^{{}}]*)$"


class ReplyRecord(Request):
    """A reply as listed, and a shop's own reply as added: the fields of a knowledge point's reply
    (scripts_corpus/knowledge/README.md) with its point's intents and stage, and the triggers that match
    a shop reply naming no point.

    The ids and the template rules are checked by the loader (422 `invalid_reply` naming the problem);
    the schema declares them too, so that a client knows them before it sends.
    """

    id: ReplyId
    text: Annotated[str, StringConstraints(strict=True, min_length=4, max_length=300)] = Field(
        json_schema_extra={"pattern": REPLY_TEXT}
    )
    intents: Annotated[list[Annotated[str, _enum(INTENTS)]], Field(min_length=1, max_length=8)]
    stage: Annotated[str, _enum(STAGES)]
    category: Annotated[str, _enum(CATEGORIES)]
    psychology: Annotated[list[Annotated[str, _enum(PSYCHOLOGY)]], Field(max_length=13)] = Field(default_factory=list)
    severity: Annotated[str, _enum(SEVERITIES)] | None = None
    triggers: Annotated[list[ShortText], Field(max_length=5)] = Field(default_factory=list)
    knowledge_point: Annotated[str, StringConstraints(strict=True, max_length=100)] | None = Field(
        None, description="The knowledge point the reply answers (for a shop reply: one that exists, or none to be matched by "
        "its triggers; it is then listed as `shop.<id>`)."
    )
    presumes: Annotated[list[Annotated[str, _enum(PRESUMES)]], Field(max_length=len(PRESUMES))] = Field(
        default_factory=list, description="What the reply takes for granted (see the knowledge points' README)."
    )
    goods: Annotated[
        list[Annotated[str, StringConstraints(strict=True, strip_whitespace=True, min_length=1, max_length=MAX_GOODS_CHARS)]],
        Field(max_length=MAX_GOODS),
    ] = Field(
        default_factory=list, description="The goods the reply is about, in words (\"纯银\", \"不粘锅\"): it is offered only in "
        "a conversation naming one of them (its turns, the product's title, aliases or category); empty for any goods."
    )
    source: Literal["corpus", "shop"] | None = Field(None, description="Set in answers; ignored in requests.")


class ReplyEdit(ReplyRecord):
    """A shop reply's new fields for PUT /v1/replies/{id}: the path names the reply; an `id` in the body
    is optional and, when sent, must be the path's (422 otherwise)."""

    id: ReplyId | None = Field(None, json_schema_extra={"readOnly": True})


class ReplyList(BaseModel):
    total: int
    replies: list[ReplyRecord]


class Health(BaseModel):
    status: str


class StoreState(BaseModel):
    status: Literal["ok", "unavailable", "opening"] = Field(
        description="unavailable: the store refuses writes (read-only file or file system, disk full); requests "
        "that need to write answer 503 until it takes writes again, checked about once a second."
    )
    reason: str | None = None
    audit_pending: int = Field(0, description="Audit rows accepted and not yet committed.")


class Readiness(BaseModel):
    status: Literal["ready", "degraded", "loading", "failed", "unavailable"] = Field(
        description="degraded: serving without a part (the sentence encoder), see `reason`; failed: the models could "
        "not be loaded (the QA endpoints still answer); unavailable: the store cannot be written (503)."
    )
    models: dict[str, str] = Field(default_factory=dict, description="Loaded model versions by name.")
    reason: str | None = None
    store: StoreState = Field(default_factory=lambda: StoreState(status="opening"))


# --- QA: audit log, reviews, reports -----------------------------------------------------------


class FinalText(BaseModel):
    reply_id: str
    action: Literal["clicked", "sent", "edited", "dismissed"]
    text: str = Field(description="What the agent sent (PII-masked).")
    findings: list[dict] = Field(default_factory=list, description="The draft check's findings on it, as the console sent it past them.")


class AgentChoice(BaseModel):
    clicked: list[str]
    sent: list[str]
    edited: list[str]
    dismissed: list[str]
    final_texts: list[FinalText] = Field(default_factory=list, description="The texts the agent sent, with their draft-check findings.")


class HistoryTurn(BaseModel):
    role: Literal["customer", "agent"]
    text: str = Field(description="PII-masked.")


class ReviewOut(BaseModel):
    id: int
    created: str
    reviewer: str
    intents: list[str]
    psychology: str | None
    comment: str | None


class AuditItem(BaseModel):
    id: str
    created: str
    endpoint: str | None
    message: str = Field(description="Normalised and PII-masked.")
    tokens: list[str]
    intent: str
    confidence: float | None
    margin: float | None = Field(description="Top intent's confidence minus the second's.")
    intents: list[dict]
    psychology: str | None
    psychology_confidence: float | None
    emotion: str | None
    emotion_score: float | None
    escalate: bool
    handoff: bool
    replies: list[str]
    reply_texts: list[str] = Field(default_factory=list, description="The replies' texts as shown, in the order of `replies` (PII-masked).")
    history: list[HistoryTurn] = Field(default_factory=list, description="The conversation before the message (PII-masked), oldest first.")
    knowledge_point: str | None = Field(None, description="The knowledge point matched (null: none fitted, or a classify row).")
    knowledge_confidence: float | None = None
    agent: AgentChoice
    review: ReviewOut | None
    priority: float | None = Field(None, description="Review-queue usefulness: low confidence, a narrow margin, agents disagreeing.")
    model_version: str
    latency_ms: float


class AuditPage(BaseModel):
    total: int
    items: list[AuditItem]
    next: str | None = Field(None, description="Cursor of the next page (pass it as `after`); null on the last page.")


class ReviewRequest(Request):
    intents: Annotated[
        list[Annotated[str, _enum(INTENTS)]], Field(min_length=1, max_length=3, json_schema_extra={"uniqueItems": True})
    ] = Field(description="The correct intents, main first (ids of the API contract).")
    psychology: Annotated[str, _enum(PSYCHOLOGY)] | None = Field(None, description="The correct psychology id, or null for none.")
    reviewer: Annotated[str, StringConstraints(strict=True, min_length=1, max_length=80)]
    comment: Annotated[str, StringConstraints(strict=True, max_length=1000)] | None = None

    @field_validator("intents")
    @classmethod
    def _known_intents(cls, intents: list[str]) -> list[str]:
        unknown = [i for i in intents if i not in INTENTS]
        if unknown:
            raise ValueError(f"unknown intent id {unknown[0]!r} (known: {', '.join(INTENTS)})")
        if len(set(intents)) != len(intents):
            raise ValueError("an intent is repeated")
        return intents

    @field_validator("psychology")
    @classmethod
    def _known_psychology(cls, psychology: str | None) -> str | None:
        if psychology is not None and psychology not in PSYCHOLOGY:
            raise ValueError(f"unknown psychology id {psychology!r} (known: {', '.join(PSYCHOLOGY)})")
        return psychology


class BulkReviewRequest(ReviewRequest):
    """The same review of several rows (identical messages confirmed at once)."""

    request_ids: Annotated[
        list[Annotated[str, StringConstraints(strict=True, min_length=1, max_length=64)]],
        Field(min_length=1, max_length=500, json_schema_extra={"uniqueItems": True}),
    ]

    @field_validator("request_ids")
    @classmethod
    def _distinct(cls, ids: list[str]) -> list[str]:
        if len(set(ids)) != len(ids):
            raise ValueError("request ids must not repeat")
        return ids


class BulkReviewOut(BaseModel):
    reviews: list[ReviewOut]


class ClassScores(BaseModel):
    """null: no data (nothing predicted or reviewed as this intent), never a made-up 0."""

    precision: float | None
    recall: float | None
    f1: float | None
    support: int


class Confusion(BaseModel):
    labels: list[str]
    matrix: list[list[int]] = Field(description="Rows: reviewed (gold) intent; columns: predicted intent.")


class ConfidenceBin(BaseModel):
    low: float
    high: float
    count: int = Field(description="Requests whose top-intent confidence falls in the bin.")
    reviewed: int
    correct: int = Field(description="Reviewed requests whose predicted intent the review confirmed.")


class Adoption(BaseModel):
    shown: int
    clicked: int
    sent: int
    edited: int
    dismissed: int
    rate: float | None = Field(description="(sent + edited) / shown; null when nothing was shown.")


class ReplyAdoption(Adoption):
    reply_id: str


class IntentReport(BaseModel):
    since: str | None
    until: str | None
    requests: int
    reviewed: int
    accuracy: float | None = Field(description="null with no reviewed row (no data).")
    macro_f1: float | None = Field(description="null with no reviewed row (no data).")
    per_intent: dict[str, ClassScores]
    confusion: Confusion
    confidence_histogram: list[ConfidenceBin]
    adoption_per_intent: dict[str, Adoption]
    adoption_per_reply: list[ReplyAdoption]
    never_used: list[str] = Field(
        default_factory=list, description="Replies shown in the period but never sent or edited, most shown first (up to 100); joined replies, "
        "made for one message asking several things, are not listed: their ids name no reply to edit or retire."
    )


# --- Errors: every error answer is one of these (service/api/errors.py) ------------------------------


class ErrorBody(BaseModel):
    """An error answer: a stable code for programs and a message for people."""

    error: str = Field(description="not_found, conflict, unauthorized, forbidden, not_ready, invalid_request, invalid_reply …")
    message: str


class FieldProblem(BaseModel):
    field: str = Field(description="Where: `messages[1]`, `query.until`, `body` for the request as a whole.")
    problem: str
    type: str = Field(description="Kind of problem (pydantic's error type, or the error code).")


class ValidationErrorBody(ErrorBody):
    """A 422 answer: the error and message, and each field with its problem."""

    detail: list[FieldProblem]


class Span(BaseModel):
    start: int = Field(description="Index of the first character (Unicode code points, as Python counts).")
    end: int = Field(description="Index just past the last character.")


class LintFinding(BaseModel):
    span: Span
    text: str = Field(description="The draft's text at the span.")
    category: Literal["taboo", "ad_law", "placeholder", "empty"]
    kind: str = Field(description="ordering, interrogating, cold …; absolute, authority, guarantee; unfilled, missing_value; empty.")
    severity: Literal["error", "warning"] = Field(description="error: must not be sent as is; warning: should be reworded.")
    message: str = Field(description="What is wrong, for the agent.")
    suggestion: str | None = Field(description="Wording to put in place of the span, when there is one.")


class LintResponse(BaseModel):
    findings: list[LintFinding] = Field(description="In text order; findings of different categories may overlap.")
    ok: bool = Field(description="True when nothing was found.")


# --- the shop's knowledge ---------------------------------------------------------------------------

ProfileValue = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=300)] | Annotated[
    list[Annotated[str, StringConstraints(strict=True, min_length=1, max_length=40)]], Field(min_length=1, max_length=20)
]


class ShopProfileOut(BaseModel):
    profile: dict[str, dict[str, str]] = Field(
        description="Sections shop, shipping, returns, service, each key → the shop's wording (docs/shop.md)."
    )
    missing: list[str] = Field(description="Facts replies use that the profile does not give: they show as 【…】.")
    source: Literal["none", "store", "example"] = Field(description="example: the bundled demo shop (HUASHU_DEMO_SHOP=1).")


class ShopProfileIn(Request):
    """The whole profile (it replaces the stored one): sections and keys as in docs/shop.md; an unknown
    section is refused (422)."""

    shop: dict[str, ProfileValue] | None = None
    shipping: dict[str, ProfileValue] | None = None
    returns: dict[str, ProfileValue] | None = None
    service: dict[str, ProfileValue] | None = None

    @model_validator(mode="before")
    @classmethod
    def _known_sections(cls, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(cls.model_fields))
            if unknown:
                raise ValueError(f"unknown section [{unknown[0]}] (known: {', '.join(cls.model_fields)})")
        return data


class ShopSummary(BaseModel):
    source: Literal["none", "store", "example"]
    configured: bool = Field(description="False: no profile facts and no products; replies show shop facts as 【…】.")
    name: str | None
    facts: dict[str, str] = Field(description="Template variable → the shop's wording.")
    missing: list[str]
    products: int
    size_charts: list[str]


class ProductIn(Request):
    id: Annotated[str, StringConstraints(strict=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")]
    title: Annotated[str, StringConstraints(strict=True, min_length=1, max_length=100)]
    aliases: Annotated[list[Annotated[str, StringConstraints(strict=True, min_length=2, max_length=40)]], Field(max_length=20)] = Field(
        default_factory=list
    )
    category: Annotated[str, StringConstraints(strict=True, max_length=60)] | None = Field(
        None, description="Also names the size chart used when the product names none (a chart with this id)."
    )
    attributes: dict[str, object] = Field(
        default_factory=dict,
        description="material, colours, sizes, fit (slim/regular/loose), care, features, in_stock, presale_date, size_chart, "
        "thickness, origin, warranty, package, price (docs/shop.md).",
    )
    knowledge: Annotated[list[dict], Field(max_length=50)] = Field(
        default_factory=list, description="The shop's own knowledge points for this product (source `shop`)."
    )


class ProductEdit(ProductIn):
    """A product for PUT /v1/products/{id}: the path names it; an `id` in the body is optional and, when
    sent, must be the path's (422 otherwise)."""

    id: Annotated[str, StringConstraints(strict=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")] | None = Field(
        None, json_schema_extra={"readOnly": True}
    )


class ProductOut(BaseModel):
    id: str
    title: str
    aliases: list[str]
    category: str | None
    attributes: dict[str, object]
    knowledge: list[dict]


class ProductList(BaseModel):
    total: int
    products: list[ProductOut]


class SizeChartOut(BaseModel):
    id: str
    sizes: list[str]
    rows: list[dict] = Field(description="Per size: each body range as [low, high) in cm / kg, each garment measure as a number.")
    products: list[str] = Field(description="Products that use it (by `size_chart`, or by category).")


class SizeChartList(BaseModel):
    charts: list[SizeChartOut]


class ShopChange(BaseModel):
    id: int
    created: str
    actor: str = Field(description="Who: the key's role and a fingerprint of it (role:abcd1234), `open` without keys, `cli` from the command line.")
    kind: Literal["profile", "product", "size_chart", "reply"]
    target: str
    action: Literal["set", "add", "update", "delete", "retire"]
    detail: dict


class ShopChangeList(BaseModel):
    changes: list[ShopChange]
