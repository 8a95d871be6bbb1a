"""Throw-away local servers for tests and benchmarks: PostgreSQL, Redis and a Chroma server.

Each starts from the machine's own binaries (Debian's ``postgresql`` and ``redis-server``
packages, the ``chroma`` command of the chromadb package) in a temporary folder, on a free
loopback port, and is removed again by ``stop()``. PostgreSQL refuses to run as root: as root
it runs as the ``postgres`` user. Missing binaries raise :class:`ServiceUnavailable`.
"""

from __future__ import annotations

import glob
import logging
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from marquee.errors import MarqueeError

log = logging.getLogger(__name__)


class ServiceUnavailable(MarqueeError):
    """A local server could not be started (binary missing, no unprivileged user, did not answer)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_port(port: int, process: subprocess.Popen | None, what: str, timeout_s: float, log_path: Path) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise ServiceUnavailable(f"{what} exited with code {process.returncode}: {_tail(log_path)}")
        with socket.socket() as sock:
            sock.settimeout(0.5)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise ServiceUnavailable(f"{what} did not listen on 127.0.0.1:{port} within {timeout_s:.0f} s: {_tail(log_path)}")


def _tail(path: Path, chars: int = 1500) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return "(no log)"


# --- PostgreSQL -------------------------------------------------------------------------------


def postgres_bindir() -> Path:
    """The folder of ``initdb`` and ``pg_ctl``: Debian's /usr/lib/postgresql/N/bin, else the PATH."""
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[4]))
    if versions:
        return Path(versions[-1]).parent
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    raise ServiceUnavailable("no PostgreSQL binaries (pg_ctl, initdb): apt-get install postgresql")


def _unprivileged_user() -> str | None:
    """The user PostgreSQL runs as: ``postgres`` when we are root, else ourselves (``None``)."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError as exc:
        raise ServiceUnavailable("running as root and there is no 'postgres' user to run PostgreSQL as") from exc
    return "postgres"


@dataclass
class Postgres:
    """A running throw-away PostgreSQL; ``url(db)`` names a database on it (``create_database`` makes one)."""

    port: int
    folder: Path
    bindir: Path
    user: str | None
    databases: int = 0

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://marquee@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str | None = None) -> str:
        """A new empty database; returns its SQLAlchemy URL."""
        import psycopg

        self.databases += 1
        name = name or f"marquee_{os.getpid()}_{self.databases}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=marquee dbname=postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        _run_as([str(self.bindir / "pg_ctl"), "-D", str(self.folder / "data"), "-m", "immediate", "-w", "stop"],
                self.user, check=False)
        shutil.rmtree(self.folder, ignore_errors=True)


def _run_as(command: list[str], user: str | None, *, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(command, user=user, capture_output=True, text=True, cwd="/", timeout=120)
    if check and result.returncode != 0:
        raise ServiceUnavailable(f"{Path(command[0]).name} failed: {(result.stderr or result.stdout)[-1500:]}")
    return result


def start_postgres(*, durable: bool = False, max_connections: int = 200) -> Postgres:
    """initdb + pg_ctl start in a new temporary folder on a free loopback port (trust auth, user ``marquee``).

    ``durable=False`` (tests) turns fsync off; benchmarks keep PostgreSQL's defaults.
    """
    bindir, user = postgres_bindir(), _unprivileged_user()
    folder = Path(tempfile.mkdtemp(prefix="marquee-pg-"))
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(folder, entry.pw_uid, entry.pw_gid)
    data, port = folder / "data", free_port()
    try:
        _run_as([str(bindir / "initdb"), "-D", str(data), "-U", "marquee", "-A", "trust", "-E", "UTF8",
                 "--locale=C", "--no-sync"], user)
        options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c max_connections={max_connections}"
        if not durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        _run_as([str(bindir / "pg_ctl"), "-D", str(data), "-l", str(folder / "server.log"), "-o", options,
                 "-w", "-t", "60", "start"], user)
    except (ServiceUnavailable, subprocess.TimeoutExpired, OSError) as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise ServiceUnavailable(f"PostgreSQL did not start: {exc}") from exc
    log.info("PostgreSQL %s on 127.0.0.1:%d (%s)", bindir.parent.name, port, folder)
    return Postgres(port=port, folder=folder, bindir=bindir, user=user)


# --- Redis and the Chroma server --------------------------------------------------------------


@dataclass
class Server:
    """A server process on a loopback port, with its temporary folder."""

    port: int
    folder: Path
    process: subprocess.Popen
    url: str = ""
    extra: dict = field(default_factory=dict)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        shutil.rmtree(self.folder, ignore_errors=True)


def _start(command: list[str], what: str, port: int, folder: Path, timeout_s: float) -> subprocess.Popen:
    log_path = folder / "server.log"
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT, cwd=folder)
    try:
        _wait_for_port(port, process, what, timeout_s, log_path)
    except ServiceUnavailable:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return process


def start_redis(timeout_s: float = 30.0) -> Server:
    """``redis-server`` with no persistence on a free loopback port; ``.url`` is its redis:// URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise ServiceUnavailable("no redis-server: apt-get install redis-server")
    folder, port = Path(tempfile.mkdtemp(prefix="marquee-redis-")), free_port()
    process = _start([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                      "--dir", str(folder)], "redis-server", port, folder, timeout_s)
    return Server(port=port, folder=folder, process=process, url=f"redis://127.0.0.1:{port}/0")


def start_chroma(path: Path | None = None, timeout_s: float = 120.0) -> Server:
    """``chroma run`` on ``path`` (a new empty folder when ``None``) on a free loopback port."""
    binary = Path(sys.executable).with_name("chroma")
    if not binary.exists():
        found = shutil.which("chroma")
        if found is None:
            raise ServiceUnavailable("no `chroma` command (it comes with the chromadb package)")
        binary = Path(found)
    folder, port = Path(tempfile.mkdtemp(prefix="marquee-chroma-")), free_port()
    data = path or folder / "data"
    process = _start([str(binary), "run", "--path", str(data), "--host", "127.0.0.1", "--port", str(port)],
                     "chroma run", port, folder, timeout_s)
    return Server(port=port, folder=folder, process=process, url=f"http://127.0.0.1:{port}")


# --- around a command -------------------------------------------------------------------------


def run_with_services(command: list[str], *, chroma_copy: Path | None = None, redis: bool = False) -> int:
    """Run ``command`` with a throw-away durable PostgreSQL and a Chroma server, then stop both.

    The Chroma server serves a copy of ``chroma_copy`` (a built workspace's ``chroma`` folder).
    The command finds them in ``MARQUEE_DATABASE_URL``, ``MARQUEE_CHROMA_HOST``/``MARQUEE_CHROMA_PORT``
    (and ``MARQUEE_REDIS_URL`` with ``redis``); a literal ``{database_url}`` in its arguments is
    replaced by a fresh database's URL. Returns the command's exit code.
    """
    postgres = start_postgres(durable=True)
    started: list[Server] = []
    try:
        env = dict(os.environ, MARQUEE_DATABASE_URL=postgres.create_database())
        if chroma_copy is not None:
            data = Path(tempfile.mkdtemp(prefix="marquee-chroma-copy-")) / "chroma"
            shutil.copytree(chroma_copy, data)
            started.append(start_chroma(data))
            env.update(MARQUEE_CHROMA_HOST="127.0.0.1", MARQUEE_CHROMA_PORT=str(started[-1].port))
        if redis:
            started.append(start_redis())
            env["MARQUEE_REDIS_URL"] = started[-1].url
        command = [part.replace("{database_url}", env["MARQUEE_DATABASE_URL"]) for part in command]
        return subprocess.run(command, env=env).returncode
    finally:
        for server in started:
            server.stop()
            if server.process.args and "--path" in server.process.args:  # the copy served
                path = Path(server.process.args[server.process.args.index("--path") + 1])
                shutil.rmtree(path.parent, ignore_errors=True)
        postgres.stop()


def main(argv: list[str] | None = None) -> int:
    """``python -m evals.services [--chroma WORKSPACE/chroma] [--redis] -- COMMAND ...``"""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m evals.services", description=(
        "Run a command next to a throw-away PostgreSQL (durable settings), a Chroma server serving a copy "
        "of --chroma, and optionally Redis; '{database_url}' in the command names the fresh database."))
    parser.add_argument("--chroma", type=Path, help="A built workspace's chroma folder to serve (copied).")
    parser.add_argument("--redis", action="store_true", help="Start a redis-server too (MARQUEE_REDIS_URL).")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to run after --")
    if args.chroma is not None and not (args.chroma / "chroma.sqlite3").exists():
        parser.error(f"{args.chroma} is not a Chroma folder (no chroma.sqlite3)")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        return run_with_services(command, chroma_copy=args.chroma, redis=args.redis)
    except ServiceUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
