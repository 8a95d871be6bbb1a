"""The one place that builds a chat model, and the one place that calls it.

Agents (``chat.llm_parser``, ``chat.llm_planner``) take the model as an argument; they never
build one. ``invoke_model`` turns every way an endpoint can fail (refused, timed out, HTTP
error, malformed response) into an ``LLMError`` so agents handle one exception.
"""

from __future__ import annotations

import json
import logging
import re
import time
from typing import Any, Callable, Sequence, TypeVar

import httpx
import openai
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from pydantic import SecretStr

from marquee.errors import ConfigError, LLMError
from marquee.settings import Settings

logger = logging.getLogger(__name__)

# Local servers (vLLM, Ollama, llama.cpp) accept any key; the openai client insists on one.
PLACEHOLDER_API_KEY = "not-needed"

# What a client or an endpoint can raise during one request. Caught only in ``invoke_model``.
_ENDPOINT_ERRORS: tuple[type[BaseException], ...] = (
    openai.OpenAIError,
    httpx.HTTPError,
    OSError,
    TimeoutError,
    ValueError,  # langchain raises it for responses it cannot read (e.g. no choices)
    KeyError,
)


class EndpointError(LLMError):
    """The endpoint itself failed (refused, timed out, HTTP error, unreadable response)."""

    def __init__(self, message: str, *, retryable: bool, status: int | None = None):
        super().__init__(message, attempts=1)
        self.retryable = retryable
        self.status = status


def build_chat_model(settings: Settings) -> BaseChatModel | None:
    """The configured OpenAI-compatible chat model, or ``None`` when no endpoint is configured.

    Retries are the agents' job (they re-ask with the validation error), so the client's own
    retries are off; ``settings.llm_timeout_s`` bounds every request.
    """
    if not settings.llm_base_url:
        return None
    if not settings.llm_model:
        raise ConfigError("MARQUEE_LLM_BASE_URL is set but MARQUEE_LLM_MODEL is not: name the model to use")
    from langchain_openai import ChatOpenAI  # imported here: only needed when an endpoint is configured

    key = settings.llm_api_key or PLACEHOLDER_API_KEY
    return ChatOpenAI(
        base_url=settings.llm_base_url,
        api_key=SecretStr(key),
        model=settings.llm_model,
        timeout=settings.llm_timeout_s,
        max_retries=0,
        temperature=0.0,
    )


def invoke_model(model: BaseChatModel | Any, messages: Sequence[BaseMessage], **kwargs: Any) -> AIMessage:
    """Send ``messages`` and return the assistant message; any endpoint failure is an ``EndpointError``.

    ``EndpointError.retryable`` is True when asking again may help (rate limit, server error) and
    False for a refused connection or a timeout: retrying those would only make the user wait
    another ``llm_timeout_s``, so agents fall back at once.
    """
    started = time.perf_counter()
    try:
        reply = model.invoke(list(messages), **kwargs)
    except _ENDPOINT_ERRORS as exc:
        logger.warning("LLM request failed after %.2f s: %s", time.perf_counter() - started, _describe(exc))
        raise EndpointError(
            f"the language model endpoint failed: {_describe(exc)}",
            retryable=_retryable(exc),
            status=getattr(exc, "status_code", None),
        ) from exc
    logger.debug("LLM request took %.2f s", time.perf_counter() - started)
    if not isinstance(reply, AIMessage):
        raise EndpointError(f"the language model returned {type(reply).__name__}, not a message", retryable=False)
    return reply


def message_text(message: AIMessage) -> str:
    """The plain text of an assistant message (content may be a string or a list of parts)."""
    content = message.content
    if isinstance(content, str):
        return content
    parts = [p if isinstance(p, str) else p.get("text", "") for p in content if isinstance(p, (str, dict))]
    return "".join(parts)


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, (openai.APITimeoutError, openai.APIConnectionError, httpx.TimeoutException, OSError)):
        return False
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code == 429 or exc.status_code >= 500
    return False


def _describe(exc: BaseException) -> str:
    if isinstance(exc, openai.APITimeoutError):
        return "timed out"
    if isinstance(exc, openai.APIConnectionError):
        return f"cannot connect ({exc.__cause__ or exc})"
    if isinstance(exc, openai.APIStatusError):
        return f"HTTP {exc.status_code}: {str(exc)[:200]}"
    return f"{type(exc).__name__}: {str(exc)[:200]}"


_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.I)


def json_object(text: str, *, error: type[Exception]) -> dict[str, Any]:
    """The JSON object in a model's answer (code fences and text around it are tolerated).

    Raises ``error`` with a message the model can act on when there is no JSON object.
    """
    stripped = _FENCE.sub("", text.strip())
    try:
        data = json.loads(stripped)
    except json.JSONDecodeError:
        start, end = stripped.find("{"), stripped.rfind("}")
        if start < 0 or end <= start:
            raise error("the answer is not valid JSON: it holds no {...} object") from None
        try:
            data = json.loads(stripped[start : end + 1])
        except json.JSONDecodeError as exc:
            raise error(f"the answer is not valid JSON ({exc.msg} at character {exc.pos})") from None
    if not isinstance(data, dict):
        raise error(f"the answer is JSON {type(data).__name__}, not an object")
    return data


T = TypeVar("T")
JSON_MODE = {"response_format": {"type": "json_object"}}
Attempt = Callable[[int, "str | None", "str | None", float], None]  # number, output, error, seconds


class JsonAsker:
    """Asks a chat model for a JSON answer, validates it and re-asks with what was wrong.

    Shared by the agents that need structured output (the LLM parser, the LLM history
    generator). ``json_mode`` asks for ``response_format=json_object`` until an endpoint refuses
    it with a 400, then for plain JSON text; endpoint failures that cannot get better (a 401, a
    404) end the attempts at once.
    """

    def __init__(self, model: Any, *, max_retries: int = 2, json_mode: bool = True):
        self.model, self.max_retries, self.json_mode = model, max_retries, json_mode

    def ask(self, messages: Sequence[BaseMessage], validate: Callable[[str], T], *, invalid: type[Exception],
            reask: Callable[[str], BaseMessage], on_attempt: Attempt | None = None, what: str = "answer") -> T:
        """``validate(text)`` of the first answer that passes; raises ``LLMError`` (caused by the
        last failure) when out of attempts. ``invalid``: the exception ``validate`` raises for an
        answer worth re-asking; ``reask(problem)``: the message that says what to fix."""
        messages = list(messages)
        last_output: str | None = None
        total = self.max_retries + 1
        for number in range(1, total + 1):
            started = time.perf_counter()

            def record(output: str | None, error: str | None) -> None:
                if on_attempt is not None:
                    on_attempt(number, output, error, time.perf_counter() - started)

            try:
                reply = invoke_model(self.model, messages, **(JSON_MODE if self.json_mode else {}))
            except EndpointError as exc:
                record(None, str(exc))
                if self.json_mode and exc.status == 400:
                    logger.info("endpoint rejected JSON mode; asking for plain JSON text from now on")
                    self.json_mode = False
                elif not exc.retryable:
                    raise LLMError(str(exc), attempts=number, last_output=last_output) from exc
                if number == total:
                    raise LLMError(str(exc), attempts=number, last_output=last_output) from exc
                continue
            last_output = message_text(reply)
            try:
                result = validate(last_output)
            except invalid as exc:
                record(last_output, str(exc))
                logger.info("LLM %s %d did not validate: %s", what, number, exc)
                if number == total:
                    raise LLMError(f"no valid {what} in {number} attempt(s): {exc}", attempts=number,
                                   last_output=last_output) from exc
                messages = [*messages, AIMessage(last_output), reask(str(exc))]
                continue
            record(last_output, None)
            return result
        raise LLMError("no attempts were made", attempts=0)  # only when max_retries < 0
