"""The LLM seam: the one place that builds a chat model and the one place that calls it.

It sits below ``chat/`` and ``retrieval/``: the LLM parser and planner, the imaginary-history
generator and the poster captioner all take a model built here and call it through here. Agents
take the model as an argument; they never build one. ``invoke_model`` and ``stream_model`` turn
every way an endpoint can fail (refused, timed out, HTTP error, malformed response) into an
``EndpointError`` so agents handle one exception.

Structured output uses what each endpoint offers (``OutputModes``): a JSON schema where it is
accepted (OpenAI's ``json_schema``, then llama.cpp's ``json_object`` with a ``schema``), then
plain JSON mode, then plain text. A mode the endpoint refuses is remembered for that endpoint,
so the refusal costs one request per process, not one per turn.
"""

from __future__ import annotations

import json
import logging
import re
import threading
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
Attempt = Callable[[int, "str | None", "str | None", float], None]  # number, output, error, seconds

# Structured-output modes, most constrained first. ``text`` sends no ``response_format``.
MODES = ("json_schema", "json_object_schema", "json_object", "text")
# Statuses with which servers refuse a ``response_format`` they do not take: OpenAI-style servers
# use 400/422; llama.cpp answers ``json_schema`` with a 500, so a 500 counts only for that mode
# (a crashing server must not cost a request per mode).
REFUSAL_STATUSES = frozenset({400, 415, 422})
SCHEMA_REFUSAL_STATUSES = frozenset({400, 415, 422, 500, 501})


def response_format(mode: str, schema: dict[str, Any] | None, name: str = "answer") -> dict[str, Any]:
    """The request arguments of one structured-output mode (empty for ``text``)."""
    if mode == "json_schema" and schema is not None:
        return {"response_format": {"type": "json_schema",
                                    "json_schema": {"name": name, "schema": schema, "strict": False}}}
    if mode == "json_object_schema" and schema is not None:
        return {"response_format": {"type": "json_object", "schema": schema}}
    if mode in ("json_object", "json_object_schema", "json_schema"):
        return {"response_format": {"type": "json_object"}}
    return {}


def endpoint_key(model: Any) -> str:
    """What identifies an endpoint: its base URL and model name (an object without them: itself)."""
    url = getattr(model, "openai_api_base", None)
    name = getattr(model, "model_name", None)
    return f"{url}|{name}" if url else f"object:{id(model)}"


class OutputModes:
    """The structured-output modes (and features, such as a forced tool choice) each endpoint
    refused, learned once per endpoint per process.

    Shared by every agent that asks one endpoint, so a refusal costs one request.
    """

    def __init__(self) -> None:
        self._refused: dict[str, set[str]] = {}
        self._lock = threading.Lock()

    def usable(self, model: Any, *, with_schema: bool, start: str = MODES[0]) -> list[str]:
        """The modes to try for this endpoint, best first."""
        with self._lock:
            refused = set(self._refused.get(endpoint_key(model), ()))
        modes = [m for m in MODES[MODES.index(start):] if m not in refused]
        if not with_schema:
            modes = [m for m in modes if m in ("json_object", "text")]
        return modes or ["text"]

    def refuse(self, model: Any, mode: str) -> None:
        with self._lock:
            self._refused.setdefault(endpoint_key(model), set()).add(mode)
        logger.info("endpoint %s refused structured output mode %s; not asking for it again",
                    endpoint_key(model), mode)

    def refused(self, model: Any) -> set[str]:
        with self._lock:
            return set(self._refused.get(endpoint_key(model), ()))


OUTPUT_MODES = OutputModes()


def invoke_structured(model: Any, messages: Sequence[BaseMessage], *, schema: dict[str, Any] | None,
                      start: str = MODES[0], modes: OutputModes = OUTPUT_MODES, **kwargs: Any) -> AIMessage:
    """``invoke_model`` with the best structured-output mode this endpoint takes.

    A mode answered with a refusal status is retried at once in the next mode; the refusal is
    remembered only when the next mode gets an answer (a server that is simply down is not
    taken for one that refuses a mode).
    """
    tried: list[str] = []
    for mode in modes.usable(model, with_schema=schema is not None, start=start):
        try:
            reply = invoke_model(model, messages, **response_format(mode, schema), **kwargs)
        except EndpointError as exc:
            statuses = SCHEMA_REFUSAL_STATUSES if mode == "json_schema" else REFUSAL_STATUSES
            if mode != "text" and exc.status in statuses:
                tried.append(mode)
                continue
            raise
        for refused in tried:
            modes.refuse(model, refused)
        return reply
    raise EndpointError(f"the endpoint refused every structured output mode ({', '.join(tried)})", retryable=False,
                        status=400)


class JsonAsker:
    """Asks a chat model for a JSON answer, validates it and re-asks with what was wrong.

    Shared by the agents that need structured output (the LLM parser, the LLM history
    generator). ``schema`` (a JSON schema) is sent the way the endpoint takes it
    (``invoke_structured``); ``json_mode=False`` asks for plain JSON text only. Endpoint
    failures that cannot get better (a 401, a 404, a timeout) end the attempts at once.
    """

    def __init__(self, model: Any, *, max_retries: int = 2, json_mode: bool = True,
                 schema: dict[str, Any] | None = None, max_tokens: int | None = None,
                 modes: OutputModes = OUTPUT_MODES):
        self.model, self.max_retries, self.json_mode = model, max_retries, json_mode
        self.schema, self.max_tokens, self.modes = schema, max_tokens, modes

    def _call(self, messages: Sequence[BaseMessage], schema: dict[str, Any] | None) -> AIMessage:
        extra = {"max_tokens": self.max_tokens} if self.max_tokens else {}
        if not self.json_mode:
            return invoke_model(self.model, messages, **extra)
        return invoke_structured(self.model, messages, schema=schema,
                                 start=MODES[0] if schema else "json_object", modes=self.modes, **extra)

    def ask(self, messages: Sequence[BaseMessage], validate: Callable[[str], T], *, invalid: type[Exception],
            reask: Callable[[str], BaseMessage], on_attempt: Attempt | None = None, what: str = "answer",
            schema: dict[str, Any] | None = None) -> T:
        """``validate(text)`` of the first answer that passes; raises ``LLMError`` (caused by the
        last failure) when out of attempts. ``invalid``: the exception ``validate`` raises for an
        answer worth re-asking; ``reask(problem)``: the message that says what to fix; ``schema``:
        this request's schema, instead of the asker's."""
        schema = schema or self.schema
        messages = list(messages)
        last_output: str | None = None
        total = self.max_retries + 1
        for number in range(1, total + 1):
            started = time.perf_counter()

            def record(output: str | None, error: str | None) -> None:
                if on_attempt is not None:
                    on_attempt(number, output, error, time.perf_counter() - started)

            try:
                reply = self._call(messages, schema)
            except EndpointError as exc:
                record(None, str(exc))
                if not exc.retryable or number == total:
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


def stream_model(model: Any, messages: Sequence[BaseMessage], on_delta: Callable[[str], bool | None],
                 **kwargs: Any) -> str:
    """Stream a plain-text answer: ``on_delta`` gets each piece of text as the endpoint sends it.

    ``on_delta`` returns True to stop reading (the rest is not wanted). Returns the text read.
    Any endpoint failure is an ``EndpointError``, like ``invoke_model``; the text streamed before
    it is lost to the caller, who decides what to keep.
    """
    started = time.perf_counter()
    parts: list[str] = []
    try:
        for chunk in model.stream(list(messages), **kwargs):
            piece = message_text(chunk)
            if not piece:
                continue
            parts.append(piece)
            if on_delta(piece):
                break
    except _ENDPOINT_ERRORS as exc:
        logger.warning("LLM stream failed after %.2f s: %s", time.perf_counter() - started, _describe(exc))
        raise EndpointError(f"the language model endpoint failed: {_describe(exc)}", retryable=_retryable(exc),
                            status=getattr(exc, "status_code", None)) from exc
    logger.debug("LLM stream took %.2f s", time.perf_counter() - started)
    return "".join(parts)
