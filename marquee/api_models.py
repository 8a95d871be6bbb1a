"""The HTTP API's request and response bodies (``/api/v1``). The OpenAPI schema is built from these.

Requests forbid unknown fields, so a typo in a field name is a ``validation_error`` instead of
being silently ignored. Responses carry only what a caller needs to render a chat.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field

from chat.schemas import FeedbackKind
from marquee.errors import BadInput

if TYPE_CHECKING:
    from marquee.service import TurnResult

API_PREFIX = "/api/v1"
IDEMPOTENCY_HEADER = "Idempotency-Key"


def item_image_url(item_id: str, base_url: str = "") -> str:
    """Where the API serves an item's poster file (``GET /api/v1/items/{id}/image``)."""
    return f"{base_url}{API_PREFIX}/items/{quote(item_id, safe='')}/image"


def image_url(item_id: str, image: str | None) -> str | None:
    """A card's poster as a browser loads it: http(s) as is, a local file through the API (never its path)."""
    if not image:
        return None
    return image if image.startswith(("http://", "https://")) else item_image_url(item_id)


def result_json(result: "TurnResult") -> dict:
    """The JSON shape shared by ``marquee recommend --json`` and the Gradio API."""
    return {
        "conversation": result.conversation_id,
        "reply": result.reply.text,
        "question": result.reply.question,
        "notes": result.reply.notes,
        "items": [
            {"id": c.id, "title": c.title, "year": c.year, "genres": c.genres, "people": c.people,
             "image": image_url(c.id, c.image), "why": c.why}
            for c in result.reply.items
        ],
    }


def decode_picture(data: str | None) -> bytes | None:
    """The bytes of a base64 picture field (``data:`` URL prefix allowed); ``BadInput`` when it is not base64."""
    import base64
    import binascii

    if data is None:
        return None
    text = data.strip()
    if text.startswith("data:"):
        header, _, text = text.partition(",")
        if ";base64" not in header:
            raise BadInput("the image must be base64-encoded (data:image/...;base64,...)")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadInput("the image is not valid base64") from exc

ErrorCode = Literal[
    "validation_error",        # 422: a field is missing, of the wrong type or out of bounds
    "malformed_json",          # 400: the body is not valid JSON
    "unsupported_media_type",  # 415: a body that is not application/json
    "bad_input",               # 400: well-formed but unusable (an empty message, an unknown feedback kind)
    "missing_key",             # 401: no X-Marquee-Key header
    "invalid_key",             # 401: the site key is not configured
    "origin_not_allowed",      # 403: the browser origin is not on the key's allow-list
    "forbidden",               # 403: the conversation or user belongs to another site key
    "not_found",               # 404: no such conversation, user, item or route
    "method_not_allowed",      # 405
    "too_large",               # 413: the body is over MARQUEE_MAX_BODY_BYTES
    "rate_limited",            # 429: see the Retry-After header
    "internal_error",          # 500: a bug; the message carries no details
    "service_unavailable",     # 503: a configured service (LLM, database) failed
]


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Demographics(Request):
    """Optional facts about a new user; they personalise the first recommendations (cold start)."""

    age: int | None = Field(None, ge=1, le=120)
    gender: str | None = Field(None, max_length=40)
    occupation: str | None = Field(None, max_length=80)


class ConversationCreate(Request):
    demographics: Demographics | None = None


class ConversationCreated(BaseModel):
    conversation_id: str
    user_id: str = Field(description="The user this conversation belongs to (for DELETE /users/{user_id}).")
    created_at: datetime


class MessageCreate(Request):
    text: str = Field(min_length=1, max_length=10_000, description="What the user says.",
                      examples=["a feel-good 90s comedy, nothing with Tom Cruise"])
    n_items: int | None = Field(None, ge=1, le=20, description="How many items to recommend (default: the server's).")
    image: str | None = Field(
        None, max_length=28_000_000,
        description="A picture sent with the message (\"more like this\"): a JPEG, PNG or WebP file, base64-encoded "
        "(a `data:image/...;base64,` prefix is accepted). Items whose posters look like it are recommended when "
        "the catalog has posters. The whole body must fit MARQUEE_MAX_BODY_BYTES (16 KB by default: raise it "
        "to accept pictures).",
    )


class ItemOut(BaseModel):
    """One recommendation card."""

    id: str
    title: str
    year: int | None
    genres: list[str]
    people: dict[str, list[str]] = Field(default_factory=dict, description="Role (directors, writers, stars) -> names.")
    image: str | None = Field(None, description="Absolute URL of a poster, when the catalog has one.")
    why: str = Field(description="Why it was picked, citing only this item's own attributes.")


class ReplyOut(BaseModel):
    text: str
    question: bool = Field(description="True when the reply asks something instead of recommending.")
    notes: list[str] = Field(description="Honest notes: ignored input, unknown facts, fallbacks.")
    items: list[ItemOut]


class MessageReply(BaseModel):
    conversation_id: str
    turn: int = Field(description="0-based position of this exchange in the conversation.")
    reply: ReplyOut


class TurnOut(BaseModel):
    turn: int
    utterance: str
    reply: ReplyOut
    created_at: datetime


class FeedbackCreate(Request):
    item_id: str = Field(min_length=1, max_length=64)
    kind: FeedbackKind


class FeedbackState(BaseModel):
    """The items this conversation has liked, disliked and marked as seen."""

    conversation_id: str
    liked: list[str]
    disliked: list[str]
    seen: list[str]


class ConversationHistory(BaseModel):
    conversation_id: str
    user_id: str
    created_at: datetime
    turns: list[TurnOut]
    feedback: FeedbackState


class UserDeleted(BaseModel):
    user_id: str
    deleted: bool = True


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    items: int = Field(description="Items in the catalog.")


class ErrorBody(BaseModel):
    code: ErrorCode
    message: str = Field(description="What went wrong, for a person.")


class ErrorResponse(BaseModel):
    """Every failure of the API has this body."""

    error: ErrorBody


# --- Server-Sent Events of POST .../messages/stream, in order ---------------------------------


class StreamStart(BaseModel):
    """``event: start`` — the message was accepted."""

    conversation_id: str


class StreamText(BaseModel):
    """``event: text`` — the next piece of the reply text; concatenate them."""

    delta: str


class StreamItems(BaseModel):
    """``event: items`` — the recommendation cards, once the text is complete."""

    items: list[ItemOut]


class StreamDone(BaseModel):
    """``event: done`` — the exchange is stored; nothing follows."""

    conversation_id: str
    turn: int
    question: bool
    notes: list[str]
