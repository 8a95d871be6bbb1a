"""The load benchmark: N simulated users chatting at once with a real Marquee server over HTTP.

``run_load_test`` starts the server (``marquee serve``, the real app, ``workers`` processes) on a free
loopback port with a fresh SQLite database or the given one (PostgreSQL for several workers,
with ``MARQUEE_CHROMA_HOST`` naming a Chroma server), lets ``users`` simulated users each open a
conversation (or all share one: ``one_conversation``) and send ``turns`` messages back to back
(half of them through the streaming endpoint, as the widget does; each user on a connection of its
own, as each browser has its own), then stops the server and
checks in the database that every message sent is stored exactly once, in order, at the turn
number its reply gave.

Rate limits are switched off for the run: every simulated user comes from 127.0.0.1, and what is
measured is the service, not the limiter.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any, Optional

import httpx
import numpy as np
import typer
from pydantic import BaseModel, Field
from sqlmodel import Session, select

from marquee import db
from marquee.errors import BadInput, MarqueeError
from marquee.settings import REPO_ROOT

log = logging.getLogger(__name__)

SITE_KEY = "load-test"
MAX_USERS = 1000
MAX_TURNS = 50
REQUEST_TIMEOUT_S = 300.0
CLIENT_KEEPALIVE_S = 2.0

# What simulated users say, in order; user i starts at line i so the server sees varied turns.
UTTERANCES: tuple[str, ...] = (
    "a feel-good 90s comedy, nothing with Tom Cruise",
    "more like the second one, but newer",
    "something like Toy Story but for adults",
    "less violent",
    "a scary movie, not too gory",
    "shorter please",
    "sci-fi with a twist ending",
    "older, something from the 80s",
    "a romantic comedy for date night",
    "funnier",
    "movies directed by Christopher Nolan",
    "an animated movie for my kids under 90 minutes",
    "I loved Inception and The Matrix",
    "a western with Clint Eastwood",
    "a war movie that is not too long",
    "documentary about music",
)


class LoadReport(BaseModel):
    """What a load run measured. The first seven fields are the benchmark's JSON contract."""

    users: int
    turns_sent: int = Field(description="Message requests sent.")
    turns_stored: int = Field(description="Turns found in the database for the run's conversations.")
    errors: int = Field(description="Requests that failed (any non-2xx, a stream error, a timeout).")
    p50_ms: float
    p95_ms: float
    turns_per_s: float = Field(description="Successful turns per second of the whole run.")
    turns_per_user: int
    lost: int = Field(description="Messages sent but not stored.")
    duplicated: int = Field(description="Messages stored more than once.")
    out_of_order: int = Field(description="Conversations whose stored turns are not in the order sent.")
    max_ms: float
    wall_s: float
    startup_s: float
    error_codes: dict[str, int] = Field(default_factory=dict)
    misnumbered: int = Field(0, description="Replies whose turn number is not where the database stored that message.")
    workers: int = 1
    database: str = "sqlite"
    one_conversation: bool = False
    server_cpu_ms_per_turn: float | None = Field(
        None, description="CPU time of the server's processes during the run per successful turn (all cores).")
    client_cpu_ms_per_turn: float | None = Field(None, description="CPU time of this load client per successful turn.")
    load_average: list[float] = Field(default_factory=list, description="The machine's 1-minute load average at "
                                      "the start and at the end of the run (other work shares the cores).")


class _Run:
    """The client side of one run: what each user sent, latencies and errors."""

    def __init__(self) -> None:
        self.sent: dict[str, list[str]] = {}
        self.numbered: list[tuple[str, str, int]] = []  # (conversation, text, turn number of its reply)
        self.user_turns: dict[int, list[int]] = {}
        self.latencies_ms: list[float] = []
        self.errors: Counter[str] = Counter()

    def fail(self, code: str) -> None:
        self.errors[code] += 1


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _server_env(workspace: Path | None, catalog: Path | None, database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MARQUEE_")}
    env.update({
        "MARQUEE_DATABASE_URL": database_url,
        "MARQUEE_SITE_KEYS": json.dumps({SITE_KEY: []}),
        "MARQUEE_RATE_LIMIT_KEY_PER_MIN": "0",
        "MARQUEE_RATE_LIMIT_IP_PER_MIN": "0",
        "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
        "ANONYMIZED_TELEMETRY": "False", "GRADIO_ANALYTICS_ENABLED": "False",
    })
    for name in ("LLM_BASE_URL", "LLM_API_KEY", "LLM_MODEL", "CHROMA_HOST", "CHROMA_PORT", "TEXT_MODEL", "REDIS_URL",
                 "TURN_THREADS"):
        if f"MARQUEE_{name}" in os.environ:
            env[f"MARQUEE_{name}"] = os.environ[f"MARQUEE_{name}"]
    if workspace is not None:
        env["MARQUEE_WORKSPACE"] = str(workspace)
    elif "MARQUEE_WORKSPACE" in os.environ:
        env["MARQUEE_WORKSPACE"] = os.environ["MARQUEE_WORKSPACE"]
    if catalog is not None:
        env["MARQUEE_CATALOG"] = str(catalog)
    elif "MARQUEE_CATALOG" in os.environ:
        env["MARQUEE_CATALOG"] = os.environ["MARQUEE_CATALOG"]
    return env


def start_server(port: int, env: dict[str, str], log_path: Path, *, workers: int = 1) -> subprocess.Popen:
    """The app as ``marquee serve`` runs it, in its own process(es) (the client must not share their GIL)."""
    command = [sys.executable, "-m", "marquee", "serve", "--host", "127.0.0.1", "--port", str(port),
               "--workers", str(workers)]
    with open(log_path, "wb") as log_file:
        return subprocess.Popen(command, env=env, cwd=REPO_ROOT, stdout=log_file, stderr=subprocess.STDOUT)


def process_tree_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) used so far by a process and its living children."""
    import psutil

    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0.0
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def wait_until_healthy(process: subprocess.Popen, url: str, log_path: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise MarqueeError(f"the server exited with code {process.returncode}: {_tail(log_path)}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise MarqueeError(f"the server did not answer /healthz within {timeout_s:.0f} s: {_tail(log_path)}")


def stop_server(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _tail(path: Path, chars: int = 2000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return "(no server log)"


async def _send(client: httpx.AsyncClient, conversation_id: str, text: str, stream: bool) -> tuple[str | None, int]:
    """One turn: (None, its turn number) when it succeeded, else (the error code, -1)."""
    path = f"/api/v1/conversations/{conversation_id}/messages"
    if not stream:
        response = await client.post(path, json={"text": text})
        return (None, response.json()["turn"]) if response.status_code == 200 else (_code(response), -1)
    async with client.stream("POST", f"{path}/stream", json={"text": text}) as response:
        if response.status_code != 200:
            await response.aread()
            return _code(response), -1
        lines = [line async for line in response.aiter_lines()]
    events = [line[7:].strip() for line in lines if line.startswith("event: ")]
    if "error" in events:
        return "stream_error", -1
    if not events or events[-1] != "done":
        return "stream_incomplete", -1
    done = json.loads(next(line[6:] for line in reversed(lines) if line.startswith("data: ")))
    return None, done["turn"]


def _code(response: httpx.Response) -> str:
    try:
        return response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return f"http_{response.status_code}"


async def _open_conversation(client: httpx.AsyncClient, run: _Run) -> str | None:
    try:
        response = await client.post("/api/v1/conversations", json={})
    except httpx.HTTPError as exc:
        run.fail(type(exc).__name__)
        return None
    if response.status_code != 201:
        run.fail(_code(response))
        return None
    return response.json()["conversation_id"]


async def _user(client: httpx.AsyncClient, index: int, turns: int, run: _Run, shared: str | None = None) -> None:
    conversation_id = shared or await _open_conversation(client, run)
    if conversation_id is None:
        return
    sent = run.sent.setdefault(conversation_id, [])
    mine = run.user_turns.setdefault(index, [])
    for turn in range(turns):
        text = UTTERANCES[(index + turn) % len(UTTERANCES)]
        sent.append(text)
        started = time.perf_counter()
        try:
            failure, number = await _send(client, conversation_id, text, stream=index % 2 == 1)
        except httpx.HTTPError as exc:
            failure, number = type(exc).__name__, -1
        if failure:
            run.fail(failure)
        else:
            run.latencies_ms.append((time.perf_counter() - started) * 1000)
            run.numbered.append((conversation_id, text, number))
            mine.append(number)


async def _user_with_own_connection(url: str, tls: ssl.SSLContext, index: int, turns: int, run: _Run,
                                    shared: str | None) -> None:
    async with _client(url, tls) as client:
        await _user(client, index, turns, run, shared)


def _client(url: str, tls: ssl.SSLContext) -> httpx.AsyncClient:
    """One user's HTTP client: one connection, as a browser sends one message after the other.

    Each user has its own (a browser does): one client shared by 100 users held requests in its
    connection pool for up to 2.5 s before it sent them, a delay the server never saw (evals/REPORT.md
    section 9, session 6), and it spent 6 ms of CPU per turn against 2.6 for a client per user.
    """
    # Idle connections are dropped before the server's keep-alive timeout (uvicorn: 5 s) closes them:
    # a request sent on a connection the server is closing at that moment fails with a ReadError.
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1, keepalive_expiry=CLIENT_KEEPALIVE_S)
    return httpx.AsyncClient(base_url=url, headers={"X-Marquee-Key": SITE_KEY}, limits=limits, verify=tls,
                             timeout=httpx.Timeout(REQUEST_TIMEOUT_S, connect=30.0))


async def _simulate(url: str, users: int, turns: int, timeout_s: float, run: _Run, one_conversation: bool) -> None:
    tls = ssl.create_default_context()  # one for all users: each costs ~20 ms of CPU to load
    shared = None
    if one_conversation:
        async with _client(url, tls) as client:
            shared = await _open_conversation(client, run)
        if shared is None:
            return
    tasks = [asyncio.create_task(_user_with_own_connection(url, tls, i, turns, run, shared)) for i in range(users)]
    done, pending = await asyncio.wait(tasks, timeout=timeout_s)
    for task in pending:
        task.cancel()
        run.fail("timeout")
    await asyncio.gather(*pending, return_exceptions=True)


def stored_turns(database_url: str, conversation_ids: list[str]) -> dict[str, list[tuple[int, str]]]:
    """Each conversation's stored (position, utterance) pairs, in position order."""
    engine = db.make_engine(database_url)
    try:
        with Session(engine) as session:
            return {cid: [tuple(row) for row in session.exec(
                select(db.Turn.position, db.Turn.utterance).where(db.Turn.conversation_id == cid)
                .order_by(db.Turn.position)).all()] for cid in conversation_ids}
    finally:
        engine.dispose()


def verify_stored(database_url: str, sent: dict[str, list[str]], *,
                  stored_rows: dict[str, list[tuple[int, str]]] | None = None) -> tuple[int, int, int, int]:
    """(stored, lost, duplicated, out_of_order) for the run's conversations, read from the database.

    Order is checked per conversation against the order sent; a conversation shared by several
    clients has no one order sent (:func:`misnumbered` checks each client's order instead).
    """
    rows_by_id = stored_rows if stored_rows is not None else stored_turns(database_url, list(sent))
    stored = lost = duplicated = out_of_order = 0
    for conversation_id, texts in sent.items():
        rows = [text for _, text in rows_by_id.get(conversation_id, [])]
        stored += len(rows)
        lost += sum((Counter(texts) - Counter(rows)).values())
        duplicated += sum((Counter(rows) - Counter(texts)).values())
        out_of_order += int(Counter(rows) == Counter(texts) and list(rows) != texts)
    return stored, lost, duplicated, out_of_order


def misnumbered(numbered: list[tuple[str, str, int]], stored_rows: dict[str, list[tuple[int, str]]]) -> int:
    """Replies whose turn number does not hold the message they answered in the database."""
    at = {(cid, position): text for cid, rows in stored_rows.items() for position, text in rows}
    return sum(at.get((cid, number)) != text for cid, text, number in numbered)


def run_load_test(users: int, turns: int, *, workspace: Path | None = None, catalog: Path | None = None,
                  timeout_s: float = 900.0, startup_timeout_s: float = 600.0, workers: int = 1,
                  database_url: str | None = None, one_conversation: bool = False) -> dict[str, Any]:
    """Run the benchmark and return its JSON report (see :class:`LoadReport`).

    ``timeout_s`` bounds the simulation (unfinished users count as errors); the server's start
    (loading the models, building the index on a fresh workspace) is bounded by ``startup_timeout_s``.
    ``database_url``: the server's database (default: a new SQLite file); ``workers`` > 1 needs
    PostgreSQL there and a Chroma server in ``MARQUEE_CHROMA_HOST`` (the server refuses otherwise).
    """
    if not 1 <= users <= MAX_USERS:
        raise BadInput(f"--users must be between 1 and {MAX_USERS}")
    if not 1 <= turns <= MAX_TURNS:
        raise BadInput(f"--turns must be between 1 and {MAX_TURNS}")
    if not 1 <= workers <= 64:
        raise BadInput("--workers must be between 1 and 64")
    if workers > 1 and (database_url is None or database_url.startswith("sqlite")):
        raise BadInput(f"--workers {workers} needs --database-url postgresql+psycopg://... (SQLite serves one "
                       "process) and MARQUEE_CHROMA_HOST naming a Chroma server")
    with tempfile.TemporaryDirectory(prefix="marquee-load-") as tmp:
        database_url = database_url or f"sqlite:///{Path(tmp) / 'load.db'}"
        port, log_path = free_port(), Path(tmp) / "server.log"
        url = f"http://127.0.0.1:{port}"
        started = time.perf_counter()
        db.make_engine(database_url).dispose()  # migrate once here, before the workers start
        env = _server_env(workspace, catalog, database_url)
        env["MARQUEE_WORKERS"] = str(workers)
        process = start_server(port, env, log_path, workers=workers)
        run = _Run()
        try:
            wait_until_healthy(process, url, log_path, startup_timeout_s)
            startup_s = time.perf_counter() - started
            log.info("server up in %.1f s; %d users x %d turns", startup_s, users, turns)
            load_before, server_cpu, client_cpu = os.getloadavg()[0], process_tree_cpu_s(process.pid), time.process_time()
            began = time.perf_counter()
            asyncio.run(_simulate(url, users, turns, timeout_s, run, one_conversation))
            wall_s = time.perf_counter() - began
            server_cpu = process_tree_cpu_s(process.pid) - server_cpu
            client_cpu = time.process_time() - client_cpu
            load_after = os.getloadavg()[0]
        finally:
            stop_server(process)
        rows = stored_turns(database_url, list(run.sent))
        stored, lost, duplicated, out_of_order = verify_stored(database_url, run.sent, stored_rows=rows)
        if one_conversation:  # no one order sent: each client's replies must come in increasing turns
            out_of_order = sum(numbers != sorted(set(numbers)) for numbers in run.user_turns.values())
    report = _report(users, turns, run, stored, lost, duplicated, out_of_order, wall_s, startup_s)
    report.misnumbered = misnumbered(run.numbered, rows)
    done = len(run.latencies_ms)
    if done:
        report.server_cpu_ms_per_turn = round(server_cpu * 1000 / done, 1)
        report.client_cpu_ms_per_turn = round(client_cpu * 1000 / done, 1)
    report.load_average = [round(load_before, 2), round(load_after, 2)]
    report.workers, report.one_conversation = workers, one_conversation
    report.database = database_url.split(":", 1)[0].split("+", 1)[0]
    return report.model_dump()


def _report(users: int, turns: int, run: _Run, stored: int, lost: int, duplicated: int, out_of_order: int,
            wall_s: float, startup_s: float) -> LoadReport:
    latencies = np.array(run.latencies_ms) if run.latencies_ms else np.zeros(1)
    return LoadReport(
        users=users, turns_sent=sum(len(t) for t in run.sent.values()), turns_stored=stored,
        errors=sum(run.errors.values()),
        p50_ms=round(float(np.percentile(latencies, 50)), 1), p95_ms=round(float(np.percentile(latencies, 95)), 1),
        turns_per_s=round(len(run.latencies_ms) / wall_s, 2) if wall_s > 0 else 0.0, turns_per_user=turns,
        lost=lost, duplicated=duplicated, out_of_order=out_of_order,
        max_ms=round(float(latencies.max()), 1), wall_s=round(wall_s, 2), startup_s=round(startup_s, 1),
        error_codes=dict(run.errors),
    )


def format_table(report: dict[str, Any]) -> str:
    """The report as a few aligned lines for a person."""
    verdict = "OK" if not (report["errors"] or report["lost"] or report["duplicated"] or report["out_of_order"]
                           or report.get("misnumbered")) else "PROBLEMS"
    rows = [
        ("users x turns", f"{report['users']} x {report['turns_per_user']}"),
        ("turns sent / stored", f"{report['turns_sent']} / {report['turns_stored']}"),
        ("lost / duplicated / out of order", f"{report['lost']} / {report['duplicated']} / {report['out_of_order']}"),
        ("replies with a wrong turn number", f"{report.get('misnumbered', 0)}"),
        ("workers, database", f"{report.get('workers', 1)}, {report.get('database', 'sqlite')}"
                              + (", one shared conversation" if report.get("one_conversation") else "")),
        ("errors", f"{report['errors']} {report['error_codes'] or ''}".strip()),
        ("turn latency p50 / p95 / max", f"{report['p50_ms']:.0f} / {report['p95_ms']:.0f} / {report['max_ms']:.0f} ms"),
        ("throughput", f"{report['turns_per_s']:.2f} turns/s over {report['wall_s']:.1f} s"),
        ("server start", f"{report['startup_s']:.1f} s"),
        ("CPU per turn: server / client", f"{report.get('server_cpu_ms_per_turn')} / "
                                          f"{report.get('client_cpu_ms_per_turn')} ms"),
        ("load average start / end", " / ".join(f"{v:.2f}" for v in report.get("load_average", []))),
        ("verdict", verdict),
    ]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def bench_load(
    users: int = typer.Option(100, help="Simulated users chatting at once."),
    turns: int = typer.Option(5, help="Messages each user sends."),
    json: bool = typer.Option(False, "--json", help="Print exactly one JSON object on stdout."),
    workspace: Optional[Path] = typer.Option(None, help="Workspace folder (default: $MARQUEE_WORKSPACE or ./workspace)."),
    catalog: Optional[Path] = typer.Option(None, help="Catalog folder (default: the demo catalog)."),
    timeout_s: float = typer.Option(900.0, "--timeout", help="Seconds the simulation may take."),
    workers: int = typer.Option(1, help="Server worker processes (more than 1: --database-url PostgreSQL and "
                                "MARQUEE_CHROMA_HOST)."),
    database_url: Optional[str] = typer.Option(None, help="The server's database (default: a new SQLite file)."),
    one_conversation: bool = typer.Option(False, "--one-conversation",
                                          help="Every user writes to the same conversation."),
) -> None:
    """N users chat at once with a real server on loopback: latency, throughput, errors, lost turns.

    Exit code 1 when a request failed or a turn was lost, duplicated, out of order or misnumbered;
    2 on bad options.
    """
    import json as json_lib

    if not logging.getLogger().handlers:
        logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        report = run_load_test(users, turns, workspace=workspace, catalog=catalog, timeout_s=timeout_s,
                               workers=workers, database_url=database_url, one_conversation=one_conversation)
    except MarqueeError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2)
    typer.echo(json_lib.dumps(report) if json else format_table(report))
    if report["errors"] or report["lost"] or report["duplicated"] or report["out_of_order"] or report["misnumbered"]:
        raise typer.Exit(1)
