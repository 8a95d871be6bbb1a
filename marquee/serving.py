"""Serving the web app: the processes that run :func:`marquee.web.create_app` under uvicorn.

``serve(settings)`` runs one process, or ``settings.workers`` processes (``marquee.workers``),
each built by :func:`serving_app`: the app opened once, its one-time work done and its start-up
objects frozen before the first request. ``serve_in_thread`` runs an app in a background thread
for tests and examples.
"""

from __future__ import annotations

import gc
import json
import os
import threading
import time
from contextlib import contextmanager
from typing import Any, Iterator

from fastapi import FastAPI
from pydantic import SecretStr

from marquee.errors import ConfigError
from marquee.service import Marquee
from marquee.settings import Settings
from marquee.web import create_app


def create_app_from_env() -> FastAPI:
    """The factory uvicorn workers call (``uvicorn --factory marquee.serving:create_app_from_env``)."""
    return serving_app(Settings(), progress=False)


def serving_app(settings: Settings, *, progress: bool) -> FastAPI:
    """The app as a serving process runs it: one thread per request for torch and BLAS, the
    one-time work done before the first request (:func:`tools.retrieve.warm_up`), and the
    start-up's objects moved out of the garbage collector's sight (:func:`gc.freeze`)."""
    from retrieval.encoder import one_thread_per_request
    from tools.retrieve import warm_up

    marquee = Marquee.open(settings, progress=progress)
    one_thread_per_request()
    warm_up(marquee.deps)
    app = create_app(marquee, settings)
    # The catalog, lexicons and models are ~900k objects that live as long as the process: left in
    # view, every full collection walks them all (0.46 s on the demo catalog, every request in flight
    # stopped meanwhile). Frozen, a collection sees only the objects made afterwards.
    gc.collect()
    gc.freeze()
    return app


def export_settings(settings: Settings) -> None:
    """Put ``settings`` in the environment, so worker processes build the same ``Settings()``."""
    for name, value in settings.model_dump(mode="json").items():
        secret = getattr(settings, name)
        if isinstance(secret, SecretStr):
            value = secret.get_secret_value()
        if value is not None:
            os.environ[f"MARQUEE_{name.upper()}"] = value if isinstance(value, str) else json.dumps(value)


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """Connection timeouts: idle keep-alive connections and clients slow to send their headers are closed."""
    from marquee.slow_clients import HeaderTimeoutH11Protocol

    HeaderTimeoutH11Protocol.header_timeout_s = settings.http_header_timeout_s
    return {"http": HeaderTimeoutH11Protocol, "timeout_keep_alive": settings.http_keep_alive_s}


def serve(settings: Settings) -> None:
    """Serve the app with uvicorn on ``settings.host:settings.port`` with ``settings.workers``."""
    import uvicorn

    if settings.workers == 1:
        app = serving_app(settings, progress=True)
        uvicorn.run(app, host=settings.host, port=settings.port, log_level="info", **uvicorn_options(settings))
        return
    problem = settings.shared_services_problem()
    if problem:
        raise ConfigError(problem)
    from marquee.startup import load_deps
    from marquee.workers import reuse_port_supported, run_workers

    load_deps(settings, progress=True)  # build the index once, before the workers open it
    export_settings(settings)
    if reuse_port_supported():  # a socket per worker: connections spread evenly (marquee/workers.py)
        run_workers(settings.workers, settings.host, settings.port, uvicorn_options(settings))
        return
    uvicorn.run("marquee.serving:create_app_from_env", factory=True, host=settings.host, port=settings.port,
                workers=settings.workers, log_level="info", **uvicorn_options(settings))


@contextmanager
def serve_in_thread(app: FastAPI, *, host: str = "127.0.0.1", port: int = 0, start_timeout_s: float = 60.0,
                    settings: Settings | None = None) -> Iterator[str]:
    """Run ``app`` under uvicorn in a background thread (tests, examples); yields its base URL."""
    import uvicorn

    options = uvicorn_options(settings or Settings())
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                                           **options))
    thread = threading.Thread(target=server.run, name="marquee-web", daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the web server did not start on {host}:{port}")
        time.sleep(0.02)
    bound = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{bound}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
