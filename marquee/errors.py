"""Marquee's errors. Code raises these; only the edges (UI, API, CLI) turn them into words."""

from __future__ import annotations


class MarqueeError(Exception):
    """Base of every error Marquee raises on purpose."""

    code = "marquee_error"


class ConfigError(MarqueeError):
    """A setting is missing or wrong; the message names the variable."""

    code = "config_error"


class BadInput(MarqueeError):
    """What a person or a caller sent cannot be used (empty, too long, malformed)."""

    code = "bad_input"


class CatalogError(MarqueeError):
    """A catalog source cannot be read or a row is unusable."""

    code = "catalog_error"


class NotFound(MarqueeError):
    """An item, conversation or user does not exist."""

    code = "not_found"


class ToolError(MarqueeError):
    """A tool was called with arguments it cannot use; the planner retries or falls back."""

    code = "tool_error"


class LLMError(MarqueeError):
    """The LLM endpoint failed, timed out or kept returning output that does not validate."""

    code = "llm_error"

    def __init__(self, message: str, *, attempts: int = 0, last_output: str | None = None):
        super().__init__(message)
        self.attempts = attempts
        self.last_output = last_output
