"""Smaller doors: the UI secret, slow clients, shared caches under threads, per-conversation locks."""

from __future__ import annotations

import socket
import stat
import threading
import time

import httpx

from marquee.doors import Guard, ui_secret
from marquee.settings import Settings
from marquee.web import create_app
from marquee.serving import serve_in_thread
from tools.retrieve import _cached_vector


def test_the_ui_secret_is_generated_once_kept_private_and_read_back(tmp_path, marquee):
    settings = Settings(workspace=tmp_path / "ws")
    first = Guard.from_settings(settings, marquee.engine)
    path = tmp_path / "ws" / "ui_secret"
    assert path.exists() and stat.S_IMODE(path.stat().st_mode) == 0o600
    conversation = marquee.new_conversation()
    token = first.browser_token(conversation)

    restarted = Guard.from_settings(settings, marquee.engine)  # a new process reads the same secret
    assert restarted.browser_conversation(token) == conversation
    other_site = Guard.from_settings(Settings(workspace=tmp_path / "other"), marquee.engine)
    assert other_site.browser_conversation(token) is None
    assert ui_secret(Settings(workspace=tmp_path / "ws", ui_secret="configured-secret-123")) == b"configured-secret-123"


def test_the_ui_secret_never_reaches_the_page(marquee):
    secret = "a-secret-that-must-stay-home-42"
    settings = marquee.settings.model_copy(update={"ui_secret": secret})
    with serve_in_thread(create_app(marquee, settings), settings=settings) as url:
        config = httpx.get(f"{url}/config", timeout=60).text
        page = httpx.get(url, timeout=60).text
    assert secret not in config and secret not in page
    assert "marquee_ui" in config  # the browser's credential store is there, keyed by a derived value


def test_a_client_that_sends_its_headers_too_slowly_is_cut_off(marquee):
    settings = marquee.settings.model_copy(update={"http_header_timeout_s": 0.5})
    with serve_in_thread(create_app(marquee, settings, ui=False), settings=settings) as url:
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port))) as slow:
            slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # never finishes its headers
            slow.settimeout(5)
            started = time.monotonic()
            assert slow.recv(1024) == b""  # closed by the server...
            assert time.monotonic() - started < 3  # ...soon after the timeout
        with httpx.Client(base_url=url) as client:  # a normal client on a keep-alive connection is served
            assert [client.get("/healthz").status_code for _ in range(3)] == [200] * 3


def test_tool_caches_hold_under_many_threads(demo_deps):
    failures: list[BaseException] = []

    def work(offset: int) -> None:
        try:
            for n in range(400):
                text = f"query {offset * 1000 + n % 300}"
                assert _cached_vector(demo_deps, "fuzz_vectors", text, lambda t: [len(t)]) == [len(text)]
        except BaseException as exc:  # noqa: BLE001 (collected for the assertion below)
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert len(demo_deps.extras["fuzz_vectors"]) <= 257
    demo_deps.extras.pop("fuzz_vectors")


def test_per_conversation_locks_do_not_pile_up(marquee):
    conversations = [marquee.new_conversation() for _ in range(50)]
    for conversation in conversations:
        marquee.reset(conversation)
        marquee.feedback(conversation, marquee.catalog.ids[0], "seen")
    assert len(marquee._locks) == 0  # none held, none kept
