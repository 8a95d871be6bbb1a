"""Shared fixtures. Every test runs with outbound network blocked: only loopback is allowed."""

from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path

import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _is_local(address) -> bool:
    if isinstance(address, (str, bytes)):  # AF_UNIX path
        return True
    host = address[0]
    if host in ("localhost", "", "::1"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _guarded_connect(self, address):
    if not _is_local(address):
        raise RuntimeError(f"test tried to reach the network: {address!r}")
    return _real_connect(self, address)


def _guarded_connect_ex(self, address):
    if not _is_local(address):
        raise RuntimeError(f"test tried to reach the network: {address!r}")
    return _real_connect_ex(self, address)


@pytest.fixture(autouse=True)
def no_outbound_network(monkeypatch):
    """Fail any connection to a non-loopback address."""
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", _guarded_connect_ex)
    yield


# --- Marquee on the demo catalog -------------------------------------------------------------
# Building the demo catalog's index with the real MiniLM takes about a minute on 2 cores, so it
# is built once per test session; each test gets its own database.


@pytest.fixture(scope="session")
def demo_workspace(tmp_path_factory):
    """A fresh workspace per session; MARQUEE_TEST_WORKSPACE reuses a built one (local runs only)."""
    reuse = os.environ.get("MARQUEE_TEST_WORKSPACE")
    return Path(reuse) if reuse else tmp_path_factory.mktemp("workspace")


@pytest.fixture(scope="session")
def demo_deps(demo_workspace):
    from marquee.startup import load_deps
    from marquee.settings import Settings

    return load_deps(Settings(workspace=demo_workspace), progress=False)


@pytest.fixture
def marquee(demo_deps, demo_workspace, tmp_path):
    """A Marquee on the demo catalog with a fresh database, no LLM."""
    from marquee.service import Marquee
    from marquee.settings import Settings

    settings = Settings(workspace=demo_workspace, database_url=f"sqlite:///{tmp_path / 'marquee.db'}")
    return Marquee(settings, demo_deps)


# --- PostgreSQL and Redis: throw-away servers from the machine's binaries ----------------------
# Started once per session (about 2 s each). Outside CI a machine without the binaries skips
# those tests with the reason; in CI (CI=true) it fails them: no silent skip.


def _unavailable(what: str, exc: Exception):
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{what} could not start in CI: {exc}", pytrace=False)
    pytest.skip(f"{what} not available here: {exc}")


def _throwaway(start, what: str):
    """A server from ``start()`` for as long as the fixture lives, stopped after."""
    from evals.services import ServiceUnavailable

    try:
        server = start()
    except ServiceUnavailable as exc:
        _unavailable(what, exc)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_server():
    from evals.services import start_postgres

    yield from _throwaway(start_postgres, "PostgreSQL")


@pytest.fixture
def postgres_url(postgres_server) -> str:
    """A fresh, empty PostgreSQL database for this test."""
    return postgres_server.create_database()


@pytest.fixture(scope="session")
def redis_server():
    from evals.services import start_redis

    yield from _throwaway(start_redis, "redis-server")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> str:
    """A fresh database of each kind: the test runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'marquee.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def marquee_on_each_database(demo_deps, demo_workspace, database_url):
    """``marquee`` on a fresh SQLite file, then on a fresh PostgreSQL database."""
    from marquee.service import Marquee
    from marquee.settings import Settings

    settings = Settings(workspace=demo_workspace, database_url=database_url)
    instance = Marquee(settings, demo_deps)
    yield instance
    instance.engine.dispose()
