"""A scripted OpenAI-compatible chat-completions server on loopback, for tests of the LLM path.

It is a real HTTP server (stdlib ``http.server`` in a thread) on ``127.0.0.1`` and a free port,
so the code under test goes through ``langchain-openai``, the ``openai`` client and ``httpx``
exactly as it would against vLLM, Ollama or OpenAI. Tests queue replies and read what was sent::

    fake_openai.enqueue('{"intent": "greet"}')                 # text content
    fake_openai.enqueue(ToolCalls([ToolCall("search", {"query": "heist"})]))
    fake_openai.enqueue(Delay(2.0, Text("too late")))           # answers after 2 s
    fake_openai.enqueue(HTTPError(500, "boom"))                 # an error status
    ... run code against fake_openai.base_url ...
    fake_openai.requests[0]["messages"]                         # the JSON bodies received

Only ``POST /v1/chat/completions`` is served, non-streaming and streaming (SSE, ``stream: true``).
A request that finds the queue empty gets HTTP 500 "no scripted reply left", so a test that
makes more calls than it scripted fails loudly instead of hanging.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator, Union

import pytest

COMPLETIONS_PATH = "/v1/chat/completions"


@dataclass
class Text:
    """An assistant message with text content; streamed, ``pause`` seconds between its chunks."""

    content: str
    pause: float = 0.0


@dataclass
class ToolCall:
    """One function call the assistant asks for. ``arguments`` may be a dict or a raw (bad) string."""

    name: str
    arguments: dict[str, Any] | str = field(default_factory=dict)
    id: str | None = None


@dataclass
class ToolCalls:
    """An assistant message asking for tool calls, with optional text beside them."""

    calls: list[ToolCall]
    content: str | None = None


@dataclass
class Delay:
    """Wait ``seconds`` before answering with ``then`` (to trigger client timeouts)."""

    seconds: float
    then: "Scripted" = field(default_factory=lambda: Text("(late answer)"))


@dataclass
class HTTPError:
    """Answer with an HTTP error status and an OpenAI-style error body."""

    status: int
    message: str = "scripted error"


Scripted = Union[Text, ToolCalls, Delay, HTTPError]


def _as_scripted(reply: Scripted | str | dict) -> Scripted:
    if isinstance(reply, str):
        return Text(reply)
    if isinstance(reply, dict):
        return Text(json.dumps(reply))
    if isinstance(reply, (Text, ToolCalls, Delay, HTTPError)):
        return reply
    raise TypeError(f"cannot script a reply of type {type(reply).__name__}")


def _tool_call_json(call: ToolCall, index: int) -> dict[str, Any]:
    arguments = call.arguments if isinstance(call.arguments, str) else json.dumps(call.arguments)
    return {
        "index": index,
        "id": call.id or f"call_{uuid.uuid4().hex[:12]}",
        "type": "function",
        "function": {"name": call.name, "arguments": arguments},
    }


def _message(reply: Text | ToolCalls) -> tuple[dict[str, Any], str]:
    """The assistant message and finish reason for a scripted reply."""
    if isinstance(reply, Text):
        return {"role": "assistant", "content": reply.content}, "stop"
    calls = [_tool_call_json(call, i) for i, call in enumerate(reply.calls)]
    return {"role": "assistant", "content": reply.content, "tool_calls": calls}, "tool_calls"


class FakeOpenAI:
    """The server: a reply queue, the recorded requests, and its base URL."""

    def __init__(self) -> None:
        self._queue: deque[Scripted] = deque()
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-openai", daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> "FakeOpenAI":
        self._thread.start()
        return self

    def close(self) -> None:
        self._closing.set()  # wakes handlers sleeping in a Delay
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def enqueue(self, *replies: Scripted | str | dict) -> None:
        """Queue replies, answered in order, one per request. A str is text; a dict is JSON text."""
        with self._lock:
            self._queue.extend(_as_scripted(r) for r in replies)

    @property
    def pending(self) -> int:
        """Scripted replies not yet consumed."""
        with self._lock:
            return len(self._queue)

    def _next(self, body: dict[str, Any], headers: dict[str, str]) -> Scripted | None:
        with self._lock:
            self.requests.append(body)
            self.headers.append(headers)
            return self._queue.popleft() if self._queue else None

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
                return

            def do_POST(self) -> None:  # noqa: N802 (http.server naming)
                try:
                    self._answer()
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (its timeout)
                    self.close_connection = True

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if self.path.rstrip("/") != COMPLETIONS_PATH:
                    self._send_json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
                    return
                try:
                    body = json.loads(raw or b"{}")
                except json.JSONDecodeError:
                    self._send_json(400, {"error": {"message": "body is not JSON", "type": "invalid_request_error"}})
                    return
                reply = fake._next(body, {k.lower(): v for k, v in self.headers.items()})
                while isinstance(reply, Delay):
                    if fake._closing.wait(reply.seconds):
                        return
                    reply = reply.then
                if reply is None:
                    self._send_json(500, {"error": {"message": "no scripted reply left", "type": "server_error"}})
                elif isinstance(reply, HTTPError):
                    self._send_json(reply.status, {"error": {"message": reply.message, "type": "server_error"}})
                elif body.get("stream"):
                    self._send_stream(body, reply)
                else:
                    self._send_json(200, self._completion(body, reply))

            def _completion(self, body: dict[str, Any], reply: Text | ToolCalls) -> dict[str, Any]:
                message, finish = _message(reply)
                for call in message.get("tool_calls", []):
                    call.pop("index")
                return {
                    "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": body.get("model", "fake"),
                    "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
                    "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
                }

            def _send_stream(self, body: dict[str, Any], reply: Text | ToolCalls) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Connection", "close")
                self.end_headers()
                for chunk in _stream_chunks(body, reply):
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.flush()
                    if isinstance(reply, Text) and reply.pause and fake._closing.wait(reply.pause):
                        return
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()
                self.close_connection = True

            def _send_json(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler


def _stream_chunks(body: dict[str, Any], reply: Text | ToolCalls) -> Iterator[dict[str, Any]]:
    """OpenAI streaming chunks: role, content in pieces, tool-call deltas, then the finish reason."""
    base = {"id": f"chatcmpl-{uuid.uuid4().hex[:12]}", "object": "chat.completion.chunk",
            "created": int(time.time()), "model": body.get("model", "fake")}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]}

    message, finish = _message(reply)
    yield chunk({"role": "assistant", "content": ""})
    content = message.get("content") or ""
    for start in range(0, len(content), 8):
        yield chunk({"content": content[start:start + 8]})
    for call in message.get("tool_calls", []):
        yield chunk({"tool_calls": [call]})
    yield chunk({}, finish)


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    """A running scripted OpenAI-compatible server on loopback, closed after the test."""
    server = FakeOpenAI().start()
    try:
        yield server
    finally:
        server.close()
