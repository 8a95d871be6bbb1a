"""Several worker processes on one port, each with its own listening socket.

uvicorn's ``--workers`` share one listening socket: the worker whose event loop wakes first
accepts a whole burst of new connections, and since clients keep their connections alive the
imbalance lasts (68 and 50 of 118 connections for a whole load run: ``evals/REPORT.md`` §9), so
the busier worker's users wait longer. Here each worker listens on a socket of its own with
``SO_REUSEPORT``, and the kernel spreads new connections over the workers by a hash of each
client's address and port.

The supervisor is deliberately small: it starts the workers, passes SIGINT/SIGTERM on to them
(uvicorn shuts each down gracefully) and, when a worker dies on its own, stops the others and
exits with an error, so that whatever runs Marquee (systemd, a container runtime) restarts it.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import time
from typing import Any

from marquee.errors import ConfigError

log = logging.getLogger(__name__)

APP = "marquee.serving:create_app_from_env"
BACKLOG = 2048  # uvicorn's default
STOP_TIMEOUT_S = 30.0


def reuse_port_supported() -> bool:
    return hasattr(socket, "SO_REUSEPORT")


def listening_socket(host: str, port: int, *, listen: bool = True) -> socket.socket:
    """A TCP socket bound to ``host:port`` that other processes may bind too (``SO_REUSEPORT``)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
        if listen:
            sock.listen(BACKLOG)
    except OSError:
        sock.close()
        raise
    return sock


def _worker(host: str, port: int, options: dict[str, Any]) -> None:  # runs in a spawned process
    import uvicorn

    config = uvicorn.Config(APP, factory=True, host=host, port=port, log_level="info", **options)
    uvicorn.Server(config).run(sockets=[listening_socket(host, port)])


def run_workers(count: int, host: str, port: int, options: dict[str, Any]) -> None:
    """Serve the app (:data:`APP`, built from the environment) with ``count`` worker processes.

    ``options``: more ``uvicorn.Config`` arguments (the HTTP protocol, timeouts). Returns when
    the workers were stopped by a signal; raises ``ConfigError`` when the port is taken or a
    worker exited by itself."""
    try:  # a port another program holds (without SO_REUSEPORT) is refused here, not in each worker
        listening_socket(host, port, listen=False).close()
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    context = multiprocessing.get_context("spawn")  # a fresh interpreter each: nothing half-built is copied
    workers = [context.Process(target=_worker, args=(host, port, options), name=f"marquee-worker-{n}")
               for n in range(count)]
    stopping = []

    def stop(signum: int, _frame: Any) -> None:
        stopping.append(signum)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        for worker in workers:
            worker.start()
        log.info("%d workers listening on http://%s:%d", count, host, port)
        while not stopping and all(worker.is_alive() for worker in workers):
            time.sleep(0.2)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        _stop(workers)
    if not stopping:
        dead = [w.name for w in workers if w.exitcode not in (None, 0)] or [w.name for w in workers]
        raise ConfigError(f"a worker process stopped on its own ({', '.join(dead)}): see its log above")


def _stop(workers: list) -> None:
    """SIGTERM to every worker still running (uvicorn finishes its requests), then SIGKILL to any
    that outlives :data:`STOP_TIMEOUT_S`."""
    for worker in workers:
        if worker.is_alive():
            worker.terminate()
    deadline = time.monotonic() + STOP_TIMEOUT_S
    for worker in workers:
        worker.join(max(0.0, deadline - time.monotonic()))
        if worker.is_alive():
            worker.kill()
            worker.join(5)
