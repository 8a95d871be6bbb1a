"""Several workers on one port: each listens on a socket of its own, and new connections spread
over them (``marquee/workers.py``)."""

from __future__ import annotations

import socket

import pytest

from marquee.errors import ConfigError
from marquee.workers import listening_socket, reuse_port_supported, run_workers

pytestmark = pytest.mark.skipif(not reuse_port_supported(), reason="this system has no SO_REUSEPORT")


def test_connections_spread_over_the_workers_sockets():
    first = listening_socket("127.0.0.1", 0)
    port = first.getsockname()[1]
    second = listening_socket("127.0.0.1", port)
    clients = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(40)]
    try:
        accepted = []
        for sock in (first, second):
            sock.setblocking(False)
            count = 0
            while True:
                try:
                    conn, _ = sock.accept()
                except BlockingIOError:
                    break
                conn.close()
                count += 1
            accepted.append(count)
        assert sum(accepted) == 40 and min(accepted) > 0, accepted  # both workers got some (40 in one: 2^-39)
    finally:
        for sock in (*clients, first, second):
            sock.close()


def test_workers_are_not_started_on_a_port_another_program_holds():
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        with pytest.raises(ConfigError, match="cannot listen on 127.0.0.1"):
            run_workers(2, "127.0.0.1", taken.getsockname()[1], {})
    finally:
        taken.close()
