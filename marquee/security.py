"""What guards the HTTP doors: site keys, per-key CORS allow-lists, body limits and rate limits.

``RequestGuard`` stands in front of the whole app: the JSON API under ``/api/`` and the Gradio
UI's routes (``/gradio_api/...``, ``/login``) alike. Who may touch which conversation is
decided by ``marquee.doors.Guard``.

- A **site key** (header ``X-Marquee-Key``) names the site that embeds the widget; each key has
  an allow-list of browser origins (``MARQUEE_SITE_KEYS``). A conversation created with a key
  can only be read or written with that key.
- **CORS** is answered per key: a preflight is accepted when some key allows the origin, an
  actual request only when *its* key does.
- **Bodies** over ``MARQUEE_MAX_BODY_BYTES`` are refused before they are parsed (``413``), and so
  is a JSON body with more values than any request needs (a 600,000-key object would hold the
  event loop for seconds while it is parsed).
- **Rate limits** are token buckets per client IP (every ``/api`` request, before the key is
  checked) and per site key; an empty bucket answers ``429`` with ``Retry-After``. The buckets
  live in this process: with several workers or replicas each has its own, so the effective
  limit is multiplied; a shared limit needs a shared store (Redis, or the load balancer's own
  limiter) in front of the replicas.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from marquee.settings import Settings

log = logging.getLogger(__name__)

KEY_HEADER = "X-Marquee-Key"
DEMO_KEY = "demo"
DEMO_ORIGINS = ["http://localhost:*", "http://127.0.0.1:*", "http://[::1]:*"]
ALLOWED_METHODS = "GET, POST, DELETE, OPTIONS"
ALLOWED_HEADERS = f"Content-Type, {KEY_HEADER}"
EXPOSED_HEADERS = "Retry-After"
BODY_METHODS = {"POST", "PUT", "PATCH"}
# Separators and brackets a JSON body may hold: a message or a Gradio call needs a few dozen;
# counting them is a C-speed scan, parsing a hostile 8 MB body is seconds of event loop.
MAX_JSON_SEPARATORS = 20_000
MAX_JSON_BRACKETS = 2_000
# Gradio routes whose body may carry a picture (an upload, or a base64 picture given to /recommend)
PICTURE_ROUTES = ("/gradio_api/upload", "/gradio_api/queue/join", "/gradio_api/call/", "/gradio_api/run/",
                  "/gradio_api/api/")


class ApiError(Exception):
    """A failure the API answers with ``{"error": {"code", "message"}}`` and ``status``."""

    def __init__(self, status: int, code: str, message: str, *, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def error_body(code: str, message: str) -> bytes:
    return json.dumps({"error": {"code": code, "message": message}}).encode()


# --- site keys and origins --------------------------------------------------------------------


def origin_matches(pattern: str, origin: str) -> bool:
    """``*`` matches any origin; ``http://host:*`` any port of that host; otherwise exact."""
    origin = origin.rstrip("/").lower()
    pattern = pattern.rstrip("/").lower()
    if pattern == "*":
        return True
    if pattern.endswith(":*"):
        base = pattern[:-2]
        return origin == base or (origin.startswith(base + ":") and origin[len(base) + 1:].isdigit())
    return origin == pattern


@dataclass(frozen=True)
class SiteKeys:
    """The configured site keys and the origins each may be used from."""

    origins: dict[str, tuple[str, ...]]

    @classmethod
    def from_settings(cls, settings: Settings) -> "SiteKeys":
        if not settings.site_keys:
            log.warning("MARQUEE_SITE_KEYS is not set: only the key %r works, from loopback origins", DEMO_KEY)
            return cls({DEMO_KEY: tuple(DEMO_ORIGINS)})
        return cls({key: tuple(origins) for key, origins in settings.site_keys.items()})

    def known(self, key: str | None) -> bool:
        return key is not None and key in self.origins

    def allows(self, key: str, origin: str) -> bool:
        return any(origin_matches(p, origin) for p in self.origins.get(key, ()))

    def any_allows(self, origin: str) -> bool:
        return any(self.allows(key, origin) for key in self.origins)


def check_key(keys: SiteKeys, key: str | None, origin: str | None) -> str:
    """The request's site key, or ``ApiError`` (missing, unknown, or used from a foreign origin).

    A request without an ``Origin`` header is not from a browser: the key alone authorises it.
    """
    if not key:
        raise ApiError(401, "missing_key", f"send your site key in the {KEY_HEADER} header")
    if not keys.known(key):
        raise ApiError(401, "invalid_key", "this site key is not configured on the server")
    if origin is not None and not keys.allows(key, origin):
        raise ApiError(403, "origin_not_allowed", f"the origin {origin} is not on this site key's allow-list")
    return key


def check_owner(owner_key: str | None, key: str, what: str = "conversation") -> None:
    """Refuse access to a conversation (or user) that another site key created."""
    if owner_key != key:
        raise ApiError(403, "forbidden", f"this {what} belongs to another site key")


# --- rate limits ------------------------------------------------------------------------------


@dataclass
class _Bucket:
    tokens: float
    stamp: float


@dataclass
class RateLimiter:
    """Token buckets by name, thread-safe. ``take`` returns 0 when allowed, else seconds to wait.

    A bucket holds ``per_min`` tokens (the largest burst) and refills at ``per_min`` per minute.
    Buckets that are full again are dropped when the table grows past ``max_buckets``.
    """

    max_buckets: int = 100_000
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[str, _Bucket] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, name: str, per_min: int) -> float:
        if per_min <= 0:
            return 0.0
        rate = per_min / 60.0
        now = self.clock()
        with self._lock:
            bucket = self._buckets.get(name)
            if bucket is None:
                if len(self._buckets) >= self.max_buckets:
                    self._forget_full(now, rate, per_min)
                bucket = self._buckets[name] = _Bucket(tokens=float(per_min), stamp=now)
            bucket.tokens = min(float(per_min), bucket.tokens + (now - bucket.stamp) * rate)
            bucket.stamp = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / rate

    def _forget_full(self, now: float, rate: float, capacity: int) -> None:
        full = [n for n, b in self._buckets.items() if b.tokens + (now - b.stamp) * rate >= capacity]
        for name in full:
            del self._buckets[name]


def rate_limited(wait_s: float, scope: str) -> ApiError:
    seconds = max(1, math.ceil(wait_s))
    return ApiError(429, "rate_limited", f"too many requests for this {scope}; try again in {seconds} s",
                    headers={"Retry-After": str(seconds)})


def json_too_complex(body: bytes) -> bool:
    """More JSON values or nesting than any request of Marquee needs (checked before parsing)."""
    if body.count(b"[") + body.count(b"{") > MAX_JSON_BRACKETS:
        return True
    return body.count(b",") + body.count(b":") > MAX_JSON_SEPARATORS


# --- the ASGI guard in front of the app -------------------------------------------------------


class RequestGuard:
    """ASGI middleware. Under ``prefix`` (the JSON API): CORS, body size and shape, content type,
    per-IP limit. Elsewhere (the Gradio UI and its API): the same per-IP limit, body size and
    shape on every request with a body; pages, scripts and streams (GET) pass.

    The body is read here in full (it is small by definition) and replayed to the app, so an
    oversize body is refused with ``413`` whether or not it declared its length.
    """

    def __init__(self, app, *, keys: SiteKeys, limiter: RateLimiter, settings: Settings, prefix: str = "/api/"):
        self.app = app
        self.keys = keys
        self.limiter = limiter
        self.settings = settings
        self.prefix = prefix

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if not scope["path"].startswith(self.prefix):
            await self._guard_ui(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        origin = headers.get("origin")
        cors = self._cors_headers(origin, headers.get(KEY_HEADER.lower()))
        send = _with_headers(send, cors)
        try:
            if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
                await self._preflight(origin, send)
                return
            self._limit_ip(scope)
            if scope["method"] in BODY_METHODS:
                body = await self._read_body(receive, headers, self._body_limit(scope))
                if body:
                    self._check_content_type(headers.get("content-type", ""))
                    self._check_shape(body)
                receive = _replay(body, receive)
        except ApiError as exc:
            await send_error(send, exc)
            return
        await self._call_app(scope, receive, send)

    async def _guard_ui(self, scope, receive, send) -> None:
        """The Gradio routes: every call with a body counts against the client's IP and must fit."""
        if scope["method"] not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            self._limit_ip(scope)
            path = scope["path"]
            pictures = path.startswith(PICTURE_ROUTES)
            limit = max(self.settings.max_body_bytes, self.settings.max_picture_body_bytes) if pictures \
                else self.settings.max_body_bytes
            body = await self._read_body(receive, headers, limit)
            if "json" in headers.get("content-type", "").lower():
                self._check_shape(body)
        except ApiError as exc:
            await send_error(send, exc)
            return
        await self.app(scope, _replay(body, receive), send)

    @staticmethod
    def _check_shape(body: bytes) -> None:
        if json_too_complex(body):
            raise ApiError(413, "too_large", "the request body holds more JSON values than any request needs")

    async def _call_app(self, scope, receive, send) -> None:
        """Run the app; a bug becomes ``500 internal_error`` (no details) instead of a dropped connection."""
        started = False

        async def sending(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception:
            log.exception("unexpected error in %s %s", scope["method"], scope["path"])
            if started:
                raise
            await send_error(send, ApiError(500, "internal_error", "something went wrong on the server"))

    def _cors_headers(self, origin: str | None, key: str | None) -> list[tuple[bytes, bytes]]:
        if origin is None:
            return []
        allowed = self.keys.allows(key, origin) if self.keys.known(key) else self.keys.any_allows(origin)
        if not allowed:
            return [(b"vary", b"Origin")]
        return [(b"access-control-allow-origin", origin.encode("latin-1")), (b"vary", b"Origin"),
                (b"access-control-expose-headers", EXPOSED_HEADERS.encode())]

    async def _preflight(self, origin: str | None, send) -> None:
        if origin is None or not self.keys.any_allows(origin):
            raise ApiError(403, "origin_not_allowed", f"the origin {origin} is not allowed by any site key")
        await send({"type": "http.response.start", "status": 204, "headers": [
            (b"access-control-allow-methods", ALLOWED_METHODS.encode()),
            (b"access-control-allow-headers", ALLOWED_HEADERS.encode()),
            (b"access-control-max-age", b"600"),
        ]})
        await send({"type": "http.response.body", "body": b""})

    def _limit_ip(self, scope) -> None:
        client = scope.get("client")
        ip = client[0] if client else "unknown"
        wait = self.limiter.take(f"ip:{ip}", self.settings.rate_limit_ip_per_min)
        if wait:
            raise rate_limited(wait, "address")

    def _body_limit(self, scope) -> int:
        """Posting a message may carry a picture: its route has the larger picture limit."""
        if scope["path"].rstrip("/").endswith(("/messages", "/messages/stream")):
            return max(self.settings.max_body_bytes, self.settings.max_picture_body_bytes)
        return self.settings.max_body_bytes

    async def _read_body(self, receive, headers: dict[str, str], limit: int) -> bytes:
        too_large = ApiError(413, "too_large", f"the request body is over {limit} bytes")
        declared = headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            raise too_large
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise too_large
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    @staticmethod
    def _check_content_type(content_type: str) -> None:
        media = content_type.split(";", 1)[0].strip().lower()
        if media != "application/json" and not media.endswith("+json"):
            raise ApiError(415, "unsupported_media_type", "send the body as application/json")


async def send_error(send, exc: ApiError) -> None:
    body = error_body(exc.code, exc.message)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in exc.headers.items()]
    await send({"type": "http.response.start", "status": exc.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _with_headers(send, extra: list[tuple[bytes, bytes]]):
    if not extra:
        return send

    async def sending(message):
        if message["type"] == "http.response.start":
            names = {k.lower() for k, _ in extra}
            kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
            message = {**message, "headers": [*kept, *extra]}
        await send(message)

    return sending


def _replay(body: bytes, receive):
    sent = False

    async def replaying():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replaying
