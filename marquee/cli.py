"""The ``marquee`` command: serve, chat, ingest, recommend, and the eval/bench suites."""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Iterator, Optional

import typer

from marquee.errors import MarqueeError
from marquee.settings import Settings

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

app = typer.Typer(help="Marquee: a conversational recommender for your catalog.", no_args_is_help=True)


def _settings(workspace: Optional[Path] = None, catalog: Optional[Path] = None) -> Settings:
    overrides = {k: v for k, v in {"workspace": workspace, "catalog": catalog}.items() if v is not None}
    try:
        return Settings(**overrides)
    except ValueError as exc:
        _fail(f"bad setting: {exc}")


def _fail(message: str, code: int = 2) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


WorkspaceOpt = typer.Option(None, help="Workspace folder (default: $MARQUEE_WORKSPACE or ./workspace).")
CatalogOpt = typer.Option(None, help="Catalog folder with items.jsonl (default: the demo catalog).")


@app.command()
def serve(workspace: Optional[Path] = WorkspaceOpt, catalog: Optional[Path] = CatalogOpt,
          host: Optional[str] = None, port: Optional[int] = None,
          workers: Optional[int] = typer.Option(None, help="Worker processes (default: $MARQUEE_WORKERS or 1).")) -> None:
    """Start the web app on host:port: the UI at /, the API at /api/v1, the widget at /widget.js."""
    import app as web

    settings = _settings(workspace, catalog)
    if host:
        settings.host = host
    if port:
        settings.port = port
    if workers is not None:
        if workers < 1:
            _fail("--workers must be at least 1")
        settings.workers = workers
    try:
        web.main(settings)
    except MarqueeError as exc:
        _fail(str(exc))


QUIT_WORDS = frozenset({"quit", "exit"})
CHAT_BANNER = (
    "Marquee — tell me what you'd like to watch. Say “start over” to clear the list; "
    "type quit or exit (or press Ctrl-D) to leave."
)


@app.command()
def chat(workspace: Optional[Path] = WorkspaceOpt, catalog: Optional[Path] = CatalogOpt) -> None:
    """A conversation in the terminal. quit, exit or Ctrl-D (end of input) ends it."""
    from marquee.service import Marquee

    marquee = Marquee.open(_settings(workspace, catalog))
    conversation = marquee.new_conversation()
    typer.echo(CHAT_BANNER)
    try:
        for line in _typed_lines("> "):
            if wants_to_leave(line):
                break
            if not line.strip():
                continue
            try:
                result = marquee.respond(conversation, line)
            except MarqueeError as exc:
                typer.echo(f"! {exc}")
                continue
            typer.echo(_format_reply(result))
    except KeyboardInterrupt:  # Ctrl-C while a reply is being made
        typer.echo()
    typer.echo("Bye!")


def _typed_lines(prompt: str) -> Iterator[str]:
    """Lines typed at a terminal (after a prompt) or piped in, until Ctrl-D or the end of input."""
    if not sys.stdin.isatty():
        yield from sys.stdin
        return
    while True:
        try:
            yield input(prompt)
        except (EOFError, KeyboardInterrupt):
            typer.echo()
            return


def wants_to_leave(line: str) -> bool:
    """``quit`` or ``exit`` (any case, with or without a leading slash or a final full stop)."""
    return line.strip().rstrip(".!").lstrip("/").lower() in QUIT_WORDS


def _format_reply(result) -> str:
    lines = [result.reply.text]
    for n, card in enumerate(result.reply.items, start=1):
        year = f" ({card.year})" if card.year else ""
        lines.append(f"  {n}. {card.title}{year} — {', '.join(card.genres)}")
        lines.append(f"     {card.why}")
    lines += [f"  note: {note}" for note in result.reply.notes]
    return "\n".join(lines)


@app.command()
def recommend(
    utterance: str = typer.Argument(..., help="What the user says."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    conversation: Optional[str] = typer.Option(None, help="Continue a stored conversation."),
    age: Optional[str] = typer.Option(None, help="New user's age in years or a range like 25-34 (optional)."),
    gender: Optional[str] = typer.Option(None, help="New user's gender, e.g. female or male (optional)."),
    occupation: Optional[str] = typer.Option(None, help="New user's occupation, e.g. programmer (optional)."),
    workspace: Optional[Path] = WorkspaceOpt,
    catalog: Optional[Path] = CatalogOpt,
) -> None:
    """One turn, in-process: print the reply and the items. --age, --gender and --occupation
    personalise a new conversation's first list (with MARQUEE_DEMOGRAPHICS_DIR set)."""
    from marquee.api_models import result_json
    from marquee.service import GivenDemographics, Marquee

    given = [v for v in (age, gender, occupation) if v is not None]
    if conversation and given:
        _fail("--age, --gender and --occupation only apply to a new conversation (leave out --conversation)")
    marquee = Marquee.open(_settings(workspace, catalog), progress=not as_json)
    if conversation and not marquee.has_conversation(conversation):
        _fail(f"no conversation {conversation!r} in this workspace")
    try:
        if given:
            demographics = GivenDemographics(age=age, gender=gender, occupation=occupation)
            conversation = marquee.new_conversation(demographics=demographics)
        result = marquee.respond(conversation, utterance)
    except MarqueeError as exc:
        _fail(str(exc))
    typer.echo(json.dumps(result_json(result), ensure_ascii=False) if as_json else _format_reply(result))
    if not as_json:
        typer.echo(f"(conversation {result.conversation_id})")


@app.command()
def ingest(
    source: Path = typer.Argument(..., help="A MovieLens folder, a ReDial id2info.json, a .jsonl of items, or a Marquee catalog folder."),
    workspace: Path = typer.Option(..., help="Workspace folder to build (catalog + index)."),
    ratings: Optional[Path] = typer.Option(None, help="Ratings CSV (user_id,item_id,rating,timestamp) for the collaborative model."),
    images: Optional[Path] = typer.Option(None, help="Poster folder (<item id>.jpg|.png|...): builds the image collection."),
    vectors: Optional[list[Path]] = typer.Option(None, "--vectors", help="Precomputed vector file (.npz, .npy + .ids.txt, .parquet); "
                                                 "repeat for several. Its name gives the modality: audio.npz -> items_audio."),
    vector_dim: Optional[list[str]] = typer.Option(None, "--vector-dim", help="Expected width of a modality, NAME=DIM "
                                                   "(e.g. audio=128); a file of another width is refused."),
) -> None:
    """Build a workspace from a catalog source: items, vector index, and with --images / --vectors the
    image and precomputed collections (with progress bars). Bad images are skipped and counted."""
    from marquee.ingest import ingest_catalog

    dims: dict[str, int] = {}
    for spec in vector_dim or []:
        name, _, value = spec.partition("=")
        if not name or not value.isdigit():
            _fail(f"--vector-dim {spec!r}: use NAME=DIM, e.g. audio=128")
        dims[name] = int(value)
    try:
        summary = ingest_catalog(source, workspace=workspace, ratings=ratings, images=images,
                                 vectors=vectors or [], vector_dims=dims)
    except MarqueeError as exc:
        _fail(str(exc))
    typer.echo(summary.render())


db_app = typer.Typer(help="The database: schema migrations.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade(
    database_url: Optional[str] = typer.Option(None, help="SQLAlchemy URL (default: $MARQUEE_DATABASE_URL, else "
                                               "the SQLite file in the workspace)."),
    workspace: Optional[Path] = WorkspaceOpt,
) -> None:
    """Migrate the database schema to the newest revision (safe while other processes start)."""
    from marquee import db, schema

    settings = _settings(workspace)
    url = database_url or settings.resolved_database_url
    try:
        engine = db.make_engine(url, migrate=True)
        typer.echo(f"database at revision {schema.current_revision(engine)} (newest: {schema.head_revision()})")
        engine.dispose()
    except MarqueeError as exc:
        _fail(str(exc))


users_app = typer.Typer(help="Operators: people's stored data.", no_args_is_help=True)
app.add_typer(users_app, name="users")


@users_app.command("delete")
def delete_user(
    user_id: str = typer.Argument(..., help="The user's id (the UI shows it under Options > Your data; the API "
                                  "returns it as user_id)."),
    workspace: Optional[Path] = WorkspaceOpt,
) -> None:
    """Delete a user with their demographics, conversations, messages, tool calls and feedback."""
    from sqlmodel import Session

    from marquee import db

    engine = db.make_engine(_settings(workspace).resolved_database_url)
    try:
        with Session(engine) as session:
            counts = db.user_footprint(session, user_id)
            db.delete_user(session, user_id)
    except MarqueeError as exc:
        _fail(str(exc), code=1)
    typer.echo(f"deleted user {user_id}: " + ", ".join(f"{n} {what}" for what, n in counts.items()))


def _register_suites() -> None:
    try:
        from evals.cli import bench_app, eval_app
    except ImportError:  # the eval suite is optional in a stripped install
        logging.getLogger(__name__).debug("evals not installed")
        return
    app.add_typer(eval_app, name="eval")
    app.add_typer(bench_app, name="bench")


_register_suites()
