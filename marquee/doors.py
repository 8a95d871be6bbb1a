"""One guard for every door: the JSON API, the Gradio UI and its gradio_client API, the widget.

A conversation is reachable only by whoever created it:

- through the API, the widget and ``gradio_client``, by the **site key** that created it
  (header ``X-Marquee-Key``; browsers only from the key's allowed origins);
- through the browser UI, by a **browser credential**: the conversation id signed with the
  server's UI secret (``MARQUEE_UI_SECRET``, or one generated once into the workspace). The
  browser keeps it in localStorage; the server never trusts a bare conversation id.

Every door shares one :class:`~marquee.security.RateLimiter`: per site key, per client IP, and
for anonymous (browser) users started per IP.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session

from marquee import db
from marquee.security import ApiError, RateLimiter, SiteKeys, check_key, check_owner, rate_limited
from marquee.settings import Settings

log = logging.getLogger(__name__)

SECRET_FILE = "ui_secret"
TOKEN_VERSION = "v1"
BROWSER_OWNER = None  # browser conversations carry no site key (the API refuses them to every key)


def ui_secret(settings: Settings) -> bytes:
    """The key that signs browser credentials: ``MARQUEE_UI_SECRET``, else the one stored in the
    workspace (generated on first use, readable by this user only). A workspace that cannot be
    written gives a key for this process only, with a warning: browser conversations then do
    not survive a restart."""
    if settings.ui_secret is not None:
        secret = settings.ui_secret  # a SecretStr (a plain str when a copy of the settings skipped validation)
        return (secret.get_secret_value() if hasattr(secret, "get_secret_value") else str(secret)).encode()
    path = Path(settings.workspace) / SECRET_FILE
    try:
        return _read_or_create(path)
    except OSError as exc:
        log.warning("cannot keep the UI secret in %s (%s): browser conversations will not survive a restart; "
                    "set MARQUEE_UI_SECRET", path, exc.strerror)
        return secrets.token_bytes(32)


def _read_or_create(path: Path) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # made by an earlier start, or by another worker just now
        for _ in range(50):
            text = path.read_text().strip()
            if text:
                return text.encode()
            time.sleep(0.02)
        raise OSError(0, "the secret file is empty")
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_urlsafe(32))
    return path.read_text().strip().encode()


@dataclass
class Guard:
    """What each door asks before it reads or writes a conversation."""

    keys: SiteKeys
    limiter: RateLimiter
    settings: Settings
    secret: bytes
    engine: Engine

    @classmethod
    def from_settings(cls, settings: Settings, engine: Engine, limiter: RateLimiter | None = None) -> "Guard":
        return cls(keys=SiteKeys.from_settings(settings), limiter=limiter or RateLimiter(), settings=settings,
                   secret=ui_secret(settings), engine=engine)

    # --- site keys (API, widget, gradio_client) ---------------------------------------------

    def site_key(self, key: str | None, origin: str | None) -> str:
        """The caller's site key, checked and counted against its rate limit, or ``ApiError``."""
        key = check_key(self.keys, key, origin)
        wait = self.limiter.take(f"key:{key}", self.settings.rate_limit_key_per_min)
        if wait:
            raise rate_limited(wait, "site key")
        return key

    def owned_by_key(self, conversation_id: str, key: str) -> db.Conversation:
        """The conversation, if ``key`` created it (``NotFound`` or a ``403 forbidden`` otherwise)."""
        with Session(self.engine) as session:
            conversation = db.get_conversation(session, conversation_id)
        check_owner(conversation.owner_key, key)
        return conversation

    # --- browsers (the Gradio UI) -----------------------------------------------------------

    def browser_token(self, conversation_id: str) -> str:
        """The credential a browser keeps for its conversation."""
        return f"{TOKEN_VERSION}.{conversation_id}.{self._signature(conversation_id)}"

    def browser_conversation(self, token: object) -> str | None:
        """The conversation a browser credential opens, or ``None`` (absent, forged, or the
        conversation was deleted). A credential never opens a conversation of a site key."""
        if not isinstance(token, str) or len(token) > 200 or token.count(".") != 2:
            return None
        version, conversation_id, signature = token.split(".")
        if version != TOKEN_VERSION or not hmac.compare_digest(signature, self._signature(conversation_id)):
            return None
        with Session(self.engine) as session:
            conversation = session.get(db.Conversation, conversation_id)
        if conversation is None or conversation.owner_key is not BROWSER_OWNER:
            return None
        return conversation_id

    def allow_new_user(self, ip: str | None) -> None:
        """Count an anonymous user started from ``ip``; ``429`` past the limit."""
        wait = self.limiter.take(f"new-user:{ip or 'unknown'}", self.settings.rate_limit_new_users_per_min)
        if wait:
            raise rate_limited(wait, "address (new conversations)")

    def limit_ip(self, ip: str | None) -> None:
        wait = self.limiter.take(f"ip:{ip or 'unknown'}", self.settings.rate_limit_ip_per_min)
        if wait:
            raise rate_limited(wait, "address")

    def _signature(self, conversation_id: str) -> str:
        digest = hmac.new(self.secret, f"marquee-browser:{conversation_id}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def browser_state_secret(self) -> str:
        """The key Gradio's BrowserState uses to scramble localStorage. Gradio sends it to the
        page (it protects nothing), so it is derived from the UI secret without revealing it,
        and stays the same across restarts so the browser can read its credential back."""
        return hmac.new(self.secret, b"gradio-browser-state", hashlib.sha256).hexdigest()[:32]


__all__ = ["ApiError", "Guard", "ui_secret"]
