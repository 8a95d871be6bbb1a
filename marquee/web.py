"""One ASGI app for the web: the Gradio UI at ``/``, the JSON API under ``/api/v1``, the
embeddable widget at ``/widget.js`` and ``/healthz``.

``create_app(marquee, settings)`` adapts an open :class:`~marquee.service.Marquee` (nothing here
decides anything about recommendations); ``marquee.serving.serve(settings)`` runs it with
uvicorn. Every API failure is ``{"error": {"code", "message"}}`` with a stable code
(``api_models.ErrorCode``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from functools import partial
from pathlib import Path
from typing import Any, AsyncIterator, Callable, TypeVar

from fastapi import APIRouter, Depends, FastAPI, Header, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.security import APIKeyHeader
from pydantic import BaseModel
from sqlalchemy import text as sql_text
from sqlmodel import Session, select
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from chat.schemas import Recommendation, Reply
from marquee import db
from marquee.api_models import (
    API_PREFIX, IDEMPOTENCY_HEADER, ConversationCreate, ConversationCreated, ConversationHistory, ErrorResponse,
    FeedbackCreate, FeedbackState, Health, ItemOut, MessageCreate, MessageReply, ReplyOut,
    StreamDone, StreamItems, StreamStart, StreamText, TurnOut, UserDeleted, decode_picture, item_image_url,
)
from marquee.errors import BadInput, ConfigError, LLMError, MarqueeError, NotFound
from marquee.ingest import image_roots
from marquee.doors import Guard
from marquee.rate_limits import make_rate_limiter
from marquee.security import KEY_HEADER, ApiError, RequestGuard, check_owner
from marquee.service import Marquee, check_request_key, clean_utterance
from marquee.settings import REPO_ROOT, Settings
from marquee.streaming import aturn_pieces

log = logging.getLogger(__name__)

WIDGET_JS = REPO_ROOT / "static" / "widget.js"
STREAM_WORDS = 3  # words per streamed text event
STREAM_PAUSE_S = 0.01  # between text events, so a client can render them as they come
IMAGE_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp", ".gif": "image/gif"}

T = TypeVar("T")

ERRORS = {status: {"model": ErrorResponse} for status in (400, 401, 403, 404, 413, 415, 422, 429)}
STATUS_CODES = {400: "bad_input", 401: "invalid_key", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
                413: "too_large", 415: "unsupported_media_type", 429: "rate_limited"}


class TurnGate:
    """Bounds how many turns run at once in the thread pool (created lazily: it needs a loop)."""

    def __init__(self, tokens: int):
        self.tokens = tokens
        self._limiter = None

    async def run(self, fn: Callable[[], T]) -> T:
        import anyio

        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self.tokens)
        return await anyio.to_thread.run_sync(fn, limiter=self._limiter)


# --- conversions ------------------------------------------------------------------------------


class Posters:
    """Maps a card's image to a URL a browser can load: http(s) as is, local files through the API.

    A local poster is the item's own ``image`` path (relative to the catalog folder) or, for
    items without one, its file in the image folder (``folder_posters``: item id -> path, the
    files start-up found readable inside the allowed folders).
    """

    def __init__(self, catalog_folder: Path, folder_posters: dict[str, Path] | None = None,
                 roots: list[Path] | None = None):
        self.folder = catalog_folder
        self.folder_posters = dict(folder_posters or {})
        self.roots = roots if roots is not None else [catalog_folder]

    def path(self, image: str | None) -> Path | None:
        """The poster file named by a catalog ``image`` field, only inside the allowed folders
        (the catalog and image folders): a catalog row cannot make the API serve other files."""
        from retrieval.images import resolve_allowed

        if not image or image.startswith(("http://", "https://")):
            return None
        path = Path(image) if Path(image).is_absolute() else self.folder / image
        try:
            path = resolve_allowed(path, self.roots)
        except BadInput:
            return None
        return path if path.suffix.lower() in IMAGE_TYPES and path.is_file() else None

    def item_path(self, item_id: str, image: str | None) -> Path | None:
        """The local poster file of an item: its catalog ``image`` path, else its image-folder file."""
        own = self.path(image)
        if own is not None:
            return own
        path = self.folder_posters.get(item_id)
        return path if path is not None and path.suffix.lower() in IMAGE_TYPES and path.is_file() else None

    def url(self, card: Recommendation, base_url: str) -> str | None:
        if card.image and card.image.startswith(("http://", "https://")):
            return card.image
        if self.item_path(card.id, card.image) is not None:
            return item_image_url(card.id, base_url)
        return None


def reply_out(reply: Reply, posters: Posters, base_url: str) -> ReplyOut:
    return ReplyOut(text=reply.text, question=reply.question, notes=reply.notes,
                    items=[item_out(card, posters, base_url) for card in reply.items])


def item_out(card: Recommendation, posters: Posters, base_url: str) -> ItemOut:
    return ItemOut(id=card.id, title=card.title, year=card.year, genres=card.genres, people=card.people,
                   image=posters.url(card, base_url), why=card.why)


def text_chunks(text: str, words: int = STREAM_WORDS) -> list[str]:
    """Pieces of ``text`` of a few words each; joined they give ``text`` back exactly."""
    pieces = [p for p in re.split(r"(?<=\s)(?=\S)", text) if p]
    return ["".join(pieces[i:i + words]) for i in range(0, len(pieces), words)]


def sse(event: str, data: BaseModel) -> bytes:
    return f"event: {event}\ndata: {data.model_dump_json()}\n\n".encode()


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


# --- errors -----------------------------------------------------------------------------------


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


def marquee_error_status(exc: MarqueeError) -> tuple[int, str]:
    if isinstance(exc, NotFound):
        return 404, "not_found"
    if isinstance(exc, BadInput):
        return 400, "bad_input"
    if isinstance(exc, (LLMError, ConfigError)):
        return 503, "service_unavailable"
    return 500, "internal_error"


def validation_message(errors: list[dict[str, Any]]) -> str:
    parts = []
    for error in errors[:5]:
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "body"
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return "; ".join(parts)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = list(exc.errors())
        if any(e.get("type") == "json_invalid" for e in errors):
            return error_response(400, "malformed_json", "the body is not valid JSON")
        return error_response(422, "validation_error", validation_message(errors))

    @app.exception_handler(MarqueeError)
    async def marquee_error(_request: Request, exc: MarqueeError) -> JSONResponse:
        status, code = marquee_error_status(exc)
        if status >= 500:
            log.error("API request failed: %s", exc)
            return error_response(status, code, "the service failed; try again later")
        return error_response(status, code, str(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = STATUS_CODES.get(exc.status_code, "internal_error" if exc.status_code >= 500 else "bad_input")
        return error_response(exc.status_code, code, str(exc.detail))


# --- the API ----------------------------------------------------------------------------------


def api_router(marquee: Marquee, settings: Settings, guard: Guard) -> APIRouter:
    """The ``/api/v1`` routes. Every route but the poster images needs a site key."""
    router = APIRouter(prefix=API_PREFIX, tags=["api"])
    posters = Posters(Path(settings.catalog), marquee.deps.posters, image_roots(settings))
    gate = TurnGate(settings.resolved_turn_threads)
    key_header = APIKeyHeader(name=KEY_HEADER, auto_error=False,
                              description="The site key; browsers may use it only from its allowed origins.")

    def site_key(request: Request, key: str | None = Security(key_header)) -> str:
        return guard.site_key(key, request.headers.get("origin"))

    def owned(conversation_id: str, key: str) -> db.Conversation:
        return guard.owned_by_key(conversation_id, key)

    retry_key = Header(None, alias=IDEMPOTENCY_HEADER, max_length=200, description=(
        "Any unique string (a UUID): a retry with the same key returns the stored answer and stores nothing twice."))

    @router.post("/conversations", status_code=201, response_model=ConversationCreated, responses=ERRORS,
                 summary="Start a conversation (optionally with the user's demographics)")
    def create_conversation(body: ConversationCreate | None = None, key: str = Depends(site_key)) -> ConversationCreated:
        demographics = db.UserBase(**body.demographics.model_dump()) if body and body.demographics else None
        conversation = marquee.start_conversation(demographics=demographics, owner_key=key)
        return ConversationCreated(conversation_id=conversation.id, user_id=conversation.user_id,
                                   created_at=conversation.created_at)

    @router.get("/conversations/{conversation_id}", response_model=ConversationHistory, responses=ERRORS,
                summary="Read a conversation: every exchange and the feedback given")
    def read_conversation(conversation_id: str, request: Request, key: str = Depends(site_key)) -> ConversationHistory:
        with Session(marquee.engine) as session:
            conversation = db.get_conversation(session, conversation_id)
            check_owner(conversation.owner_key, key)
            turns = db.list_turns(session, conversation_id)
            state = conversation.preferences()
        url = base_url(request)
        return ConversationHistory(
            conversation_id=conversation.id, user_id=conversation.user_id, created_at=conversation.created_at,
            turns=[TurnOut(turn=t.position, utterance=t.utterance, created_at=t.created_at,
                           reply=reply_out(t.reply_model(), posters, url)) for t in turns],
            feedback=FeedbackState(conversation_id=conversation.id, liked=state.liked_ids,
                                   disliked=state.disliked_ids, seen=state.seen_ids),
        )

    @router.post("/conversations/{conversation_id}/messages", response_model=MessageReply, responses=ERRORS,
                 summary="Send a message; get the reply and its recommendations")
    async def send_message(conversation_id: str, body: MessageCreate, request: Request,
                           key: str = Depends(site_key), idempotency_key: str | None = retry_key) -> MessageReply:
        def answer():  # one trip to a worker thread, one transaction: the owner check, then the turn
            return marquee.respond(conversation_id, body.text, n_items=body.n_items, image=decode_picture(body.image),
                                   request_key=idempotency_key, check=lambda c: check_owner(c.owner_key, key))

        result = await gate.run(answer)
        return MessageReply(conversation_id=conversation_id, turn=result.turn,
                            reply=reply_out(result.reply, posters, base_url(request)))

    @router.post(
        "/conversations/{conversation_id}/messages/stream", response_class=StreamingResponse,
        responses={**ERRORS, 200: {"description": (
            "Server-Sent Events, in order: `start` (StreamStart), `text` (StreamText, repeated: concatenate "
            "the deltas), `items` (StreamItems), `done` (StreamDone). A failure after `start` is one "
            "`error` event (ErrorResponse) and ends the stream."), "content": {"text/event-stream": {}}}},
        summary="Send a message; the reply streams as Server-Sent Events",
    )
    async def stream_message(conversation_id: str, body: MessageCreate, request: Request,
                             key: str = Depends(site_key), idempotency_key: str | None = retry_key) -> StreamingResponse:
        await run_in_threadpool(owned, conversation_id, key)
        clean_utterance(body.text, max_chars=settings.max_utterance_chars)  # bad input: a 400, not a stream
        check_request_key(idempotency_key)
        picture = decode_picture(body.image)
        if picture is not None:
            from retrieval.images import load_image_bytes

            await run_in_threadpool(load_image_bytes, picture, label="the picture you sent")  # a 400 too
        url = base_url(request)

        async def events() -> AsyncIterator[bytes]:
            yield sse("start", StreamStart(conversation_id=conversation_id))
            streamed = False  # a model's text goes out piece by piece as it is written
            try:
                async for piece in aturn_pieces(lambda on_text: gate.run(partial(
                        marquee.respond, conversation_id, body.text, n_items=body.n_items, image=picture,
                        request_key=idempotency_key, on_text=on_text))):
                    if isinstance(piece, str):
                        streamed = True
                        yield sse("text", StreamText(delta=piece))
                    else:
                        result = piece
            except Exception as exc:  # the status line is sent: report it in the stream
                yield sse("error", stream_error(exc))
                return
            for chunk in [] if streamed else text_chunks(result.reply.text):  # a template reply, in chunks
                yield sse("text", StreamText(delta=chunk))
                await asyncio.sleep(STREAM_PAUSE_S)
            reply = reply_out(result.reply, posters, url)
            yield sse("items", StreamItems(items=reply.items))
            yield sse("done", StreamDone(conversation_id=conversation_id, turn=result.turn,
                                         question=reply.question, notes=reply.notes))

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    @router.post("/conversations/{conversation_id}/feedback", response_model=FeedbackState, responses=ERRORS,
                 summary="Like, dislike or mark as seen an item; later replies take it into account")
    def send_feedback(conversation_id: str, body: FeedbackCreate, key: str = Depends(site_key),
                      idempotency_key: str | None = retry_key) -> FeedbackState:
        owned(conversation_id, key)
        state = marquee.feedback(conversation_id, body.item_id, body.kind, request_key=idempotency_key)
        return FeedbackState(conversation_id=conversation_id, liked=state.liked_ids,
                             disliked=state.disliked_ids, seen=state.seen_ids)

    @router.delete("/users/{user_id}", response_model=UserDeleted, responses=ERRORS,
                   summary="Delete a user with their demographics, conversations, messages and feedback")
    def delete_user(user_id: str, key: str = Depends(site_key)) -> UserDeleted:
        with Session(marquee.engine) as session:
            if session.get(db.User, user_id) is None:
                raise NotFound(f"no user {user_id!r}")
            owners = set(session.exec(select(db.Conversation.owner_key).where(db.Conversation.user_id == user_id)))
            if owners != {key}:
                raise ApiError(403, "forbidden", "this user belongs to another site key")
        marquee.delete_user(user_id)
        return UserDeleted(user_id=user_id)

    @router.get("/items/{item_id}/image", response_class=FileResponse, responses={404: {"model": ErrorResponse}},
                summary="An item's poster (no key: browsers load it with an <img> tag)")
    def item_image(item_id: str) -> FileResponse:
        item = marquee.catalog.get(item_id)
        path = posters.item_path(item.id, item.image) if item else None
        if path is None:
            raise NotFound(f"no poster for item {item_id!r}")
        return FileResponse(path, media_type=IMAGE_TYPES[path.suffix.lower()],
                            headers={"Cache-Control": "public, max-age=86400"})

    return router


def stream_error(exc: Exception) -> ErrorResponse:
    if isinstance(exc, MarqueeError):
        status, code = marquee_error_status(exc)
        message = str(exc) if status < 500 else "the service failed; try again later"
    else:
        log.exception("unexpected error while streaming", exc_info=exc)
        code, message = "internal_error", "something went wrong on the server"
    return ErrorResponse.model_validate({"error": {"code": code, "message": message}})


def unknown_api_route(router: APIRouter) -> Callable:
    """``404 not_found`` for paths under /api that no route serves, ``405`` for a wrong method."""

    async def unknown(request: Request) -> JSONResponse:
        path = request.url.path
        allowed = {method for route in router.routes if getattr(route, "path_regex", None) is not None
                   and route.path_regex.match(path) for method in getattr(route, "methods", ())}
        if allowed:
            return error_response(405, "method_not_allowed", f"{request.method} is not allowed on {path}",
                                  {"Allow": ", ".join(sorted(allowed))})
        return error_response(404, "not_found", f"no API route {path}")

    return unknown


# --- the app ----------------------------------------------------------------------------------


def create_app(marquee: Marquee, settings: Settings | None = None, *, ui: bool = True) -> FastAPI:
    """The whole web app over ``marquee``; ``ui=False`` leaves the Gradio UI out."""
    settings = settings or marquee.settings
    guard = Guard.from_settings(settings, marquee.engine, make_rate_limiter(settings))
    app = FastAPI(
        title="Marquee", version="1.0.0",
        description="Conversational recommendations over a catalog. Send your site key in the "
                    f"`{KEY_HEADER}` header. Errors are `{{\"error\": {{\"code\", \"message\"}}}}`.",
        openapi_url=f"{API_PREFIX}/openapi.json", docs_url=f"{API_PREFIX}/docs", redoc_url=None,
    )
    install_error_handlers(app)
    document_stream_events(app)
    app.add_middleware(RequestGuard, keys=guard.keys, limiter=guard.limiter, settings=settings)
    router = api_router(marquee, settings, guard)
    app.include_router(router)
    app.add_api_route("/api/{rest:path}", unknown_api_route(router), include_in_schema=False,
                      methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"])

    @app.get("/healthz", response_model=Health, tags=["ops"], responses={503: {"model": ErrorResponse}})
    def healthz() -> Health:
        try:
            with Session(marquee.engine) as session:
                session.exec(sql_text("SELECT 1"))
        except Exception as exc:  # any driver error means the database is not usable
            raise ApiError(503, "service_unavailable", "the database is not reachable") from exc
        return Health(items=len(marquee.catalog))

    @app.get("/widget.js", include_in_schema=False)
    def widget() -> FileResponse:
        return FileResponse(WIDGET_JS, media_type="text/javascript; charset=utf-8",
                            headers={"Cache-Control": "public, max-age=300"})

    if ui:
        mount_ui(app, marquee, settings, guard)
    return app


STREAM_EVENTS: dict[str, type[BaseModel]] = {
    "start": StreamStart, "text": StreamText, "items": StreamItems, "done": StreamDone, "error": ErrorResponse,
}


def document_stream_events(app: FastAPI) -> None:
    """Add the Server-Sent Event payloads to the OpenAPI schema (FastAPI only sees JSON bodies)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for model in STREAM_EVENTS.values():
                model_schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
                for name, definition in model_schema.pop("$defs", {}).items():
                    components.setdefault(name, definition)
                components.setdefault(model.__name__, model_schema)
            stream = schema["paths"][f"{API_PREFIX}/conversations/{{conversation_id}}/messages/stream"]["post"]
            stream["responses"]["200"]["content"]["text/event-stream"] = {
                "schema": {"type": "string", "description": "`event: NAME` and `data: JSON` blocks."},
                "x-events": {name: {"$ref": f"#/components/schemas/{model.__name__}"}
                             for name, model in STREAM_EVENTS.items()},
            }
        return app.openapi_schema

    app.openapi = openapi


def mount_ui(app: FastAPI, marquee: Marquee, settings: Settings, guard: Guard) -> None:
    """The Gradio UI at ``/`` (its gradio_client API with it), behind a login when MARQUEE_UI_AUTH is set."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    import gradio as gr

    from marquee.ui import CSS, HEAD, build_ui

    auth = tuple(settings.ui_auth.split(":", 1)) if settings.ui_auth else None
    blocks = build_ui(marquee, guard).queue(default_concurrency_limit=8)
    picture_limit = max(settings.max_body_bytes, settings.max_picture_body_bytes)
    gr.mount_gradio_app(app, blocks, path="/", auth=auth, css=CSS, head=HEAD, show_error=False, ssr_mode=False,
                        max_file_size=picture_limit)
