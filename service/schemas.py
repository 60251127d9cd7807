"""Request and response models of the v1 API (field names are a contract: see design.md)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

MAX_MESSAGE_CHARS = 2000
MAX_BATCH = 256
MAX_HISTORY_TURNS = 50
MAX_VARIABLES = 20
MAX_VARIABLE_CHARS = 200


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty or whitespace only")
    return value


MessageText = Annotated[
    str,
    StringConstraints(strict=True, max_length=MAX_MESSAGE_CHARS),
    AfterValidator(_not_blank),
]


class Request(BaseModel):
    """Base of request bodies: unknown fields are refused, so a typo is reported, not ignored."""

    model_config = ConfigDict(extra="forbid")


class Turn(Request):
    role: Literal["customer", "agent"]
    text: MessageText


class ClassifyRequest(Request):
    messages: Annotated[list[MessageText], Field(min_length=1, max_length=MAX_BATCH)] = Field(
        description=f"1–{MAX_BATCH} customer messages, each 1–{MAX_MESSAGE_CHARS} characters."
    )


class SegmentRequest(Request):
    text: MessageText


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
    top_k: int = Field(5, ge=1, le=20, strict=True, description="How many replies to return.")


class Intent(BaseModel):
    id: str
    label: str
    confidence: float


class Psychology(BaseModel):
    id: str
    label: str
    confidence: float
    cues: list[str]


class Emotion(BaseModel):
    level: Literal["calm", "upset", "angry"]
    score: float


class Reply(BaseModel):
    id: str
    text: str
    score: float
    intent: str
    needs_edit: bool = False


class Analysis(BaseModel):
    normalized: str
    tokens: list[str]
    intent: Intent
    intents: list[Intent]
    psychology: Psychology | None = None
    emotion: Emotion | None = None


class ClassifyResponse(BaseModel):
    results: list[Analysis]
    model_version: str


class SegmentResponse(BaseModel):
    normalized: str
    tokens: list[str]


class SuggestResponse(Analysis):
    request_id: str
    guidance: list[str]
    replies: list[Reply]
    model_version: str


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: Literal["ready", "loading"]
    models: dict[str, str] = Field(default_factory=dict, description="Loaded model versions by name.")
    reason: str | None = None
