"""A tiny load run: a real server process, a few users at once, every turn stored exactly once."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from evals.load import bench_load, format_table, misnumbered, run_load_test, stored_turns, verify_stored
from marquee import db
from marquee.errors import BadInput

pytestmark = pytest.mark.slow


def test_a_few_users_at_once_lose_no_turns(demo_deps, demo_workspace, database_url):
    report = run_load_test(users=4, turns=2, workspace=demo_workspace, database_url=database_url)
    assert {"users", "turns_sent", "turns_stored", "errors", "p50_ms", "p95_ms", "turns_per_s"} <= set(report)
    assert report["users"] == 4 and report["turns_sent"] == 8
    assert report["errors"] == 0, report["error_codes"]
    assert report["turns_stored"] == 8 and report["lost"] == report["duplicated"] == report["out_of_order"] == 0
    assert 0 < report["p50_ms"] <= report["p95_ms"] <= report["max_ms"]
    assert report["turns_per_s"] > 0 and report["misnumbered"] == 0
    assert report["database"] == database_url.split(":")[0].split("+")[0]
    assert report["server_cpu_ms_per_turn"] > 0 and report["client_cpu_ms_per_turn"] > 0
    assert len(report["load_average"]) == 2
    assert "8 / 8" in format_table(report) and "OK" in format_table(report)


def test_two_workers_on_postgresql_and_a_chroma_server_share_one_conversation(
        demo_deps, demo_workspace, postgres_url, monkeypatch):
    """The run that used to lose turns: several clients, one conversation, two server processes."""
    import shutil
    import tempfile
    from pathlib import Path

    from evals.services import start_chroma

    with tempfile.TemporaryDirectory(prefix="marquee-chroma-copy-") as tmp:
        copy = Path(tmp) / "chroma"
        shutil.copytree(demo_workspace / "chroma", copy)  # the built index, served by a Chroma server
        chroma = start_chroma(copy)
        try:
            monkeypatch.setenv("MARQUEE_CHROMA_HOST", "127.0.0.1")
            monkeypatch.setenv("MARQUEE_CHROMA_PORT", str(chroma.port))
            report = run_load_test(users=6, turns=3, workspace=demo_workspace, database_url=postgres_url,
                                   workers=2, one_conversation=True, startup_timeout_s=300)
        finally:
            chroma.stop()
    assert report["errors"] == 0, report["error_codes"]
    assert (report["workers"], report["database"], report["one_conversation"]) == (2, "postgresql", True)
    assert report["turns_sent"] == report["turns_stored"] == 18
    assert report["lost"] == report["duplicated"] == report["out_of_order"] == report["misnumbered"] == 0


def test_several_workers_need_postgresql():
    with pytest.raises(BadInput, match="--database-url"):
        run_load_test(users=2, turns=1, workers=2)


def test_the_check_catches_lost_and_duplicated_turns(tmp_path):
    url = f"sqlite:///{tmp_path / 'check.db'}"
    engine = db.make_engine(url)
    from chat.schemas import PreferenceState, Reply
    from sqlmodel import Session

    with Session(engine) as session:
        conversation = db.start_conversation(session)
        for text in ("hello", "a western", "a western"):
            db.add_turn(session, conversation=conversation, utterance=text, parsed="{}", reply=Reply(text="ok"),
                        tool_calls=[], parser="rules", planner="policy", latency_ms=1.0, state=PreferenceState())
        conversation_id = conversation.id
    engine.dispose()
    assert verify_stored(url, {conversation_id: ["hello", "a western", "a western"]}) == (3, 0, 0, 0)
    assert verify_stored(url, {conversation_id: ["hello", "a western", "newer", "a western"]}) == (3, 1, 0, 0)
    assert verify_stored(url, {conversation_id: ["hello", "a western"]}) == (3, 0, 1, 0)
    assert verify_stored(url, {conversation_id: ["a western", "hello", "a western"]}) == (3, 0, 0, 1)
    rows = stored_turns(url, [conversation_id])
    assert misnumbered([(conversation_id, "hello", 0), (conversation_id, "a western", 2)], rows) == 0
    assert misnumbered([(conversation_id, "hello", 1)], rows) == 1


def test_bad_sizes_are_refused_before_anything_starts():
    with pytest.raises(BadInput):
        run_load_test(users=0, turns=5)
    with pytest.raises(BadInput):
        run_load_test(users=10, turns=500)
    import typer

    app = typer.Typer()
    app.command()(bench_load)
    result = CliRunner().invoke(app, ["--users", "0", "--turns", "1", "--json"])
    assert result.exit_code == 2 and "users" in result.output


def test_a_command_runs_next_to_throw_away_postgresql_and_is_told_where_it_is(tmp_path):
    import sys

    from evals.services import main

    out = tmp_path / "seen.txt"
    script = ("import os, sys; open(sys.argv[1], 'w').write(os.environ['MARQUEE_DATABASE_URL'] + ' ' + sys.argv[2])")
    assert main(["--", sys.executable, "-c", script, str(out), "{database_url}"]) == 0
    url, argument = out.read_text().split()
    assert url.startswith("postgresql+psycopg://") and argument == url
    assert main(["--", sys.executable, "-c", "raise SystemExit(3)"]) == 3


def test_the_services_runner_needs_a_command():
    from evals.services import main

    with pytest.raises(SystemExit):
        main([])
