"""A tiny load run: a real server process, a few users at once, every turn stored exactly once."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from evals.load import bench_load, format_table, run_load_test, verify_stored
from marquee import db
from marquee.errors import BadInput

pytestmark = pytest.mark.slow


def test_a_few_users_at_once_lose_no_turns(demo_deps, demo_workspace):
    report = run_load_test(users=4, turns=2, workspace=demo_workspace)
    assert {"users", "turns_sent", "turns_stored", "errors", "p50_ms", "p95_ms", "turns_per_s"} <= set(report)
    assert report["users"] == 4 and report["turns_sent"] == 8
    assert report["errors"] == 0, report["error_codes"]
    assert report["turns_stored"] == 8 and report["lost"] == report["duplicated"] == report["out_of_order"] == 0
    assert 0 < report["p50_ms"] <= report["p95_ms"] <= report["max_ms"]
    assert report["turns_per_s"] > 0
    assert "8 / 8" in format_table(report) and "OK" in format_table(report)


def test_the_check_catches_lost_and_duplicated_turns(tmp_path):
    url = f"sqlite:///{tmp_path / 'check.db'}"
    engine = db.make_engine(url)
    from chat.schemas import PreferenceState, Reply
    from sqlmodel import Session

    with Session(engine) as session:
        user = db.create_user(session)
        conversation = db.create_conversation(session, user=user)
        for text in ("hello", "a western", "a western"):
            db.add_turn(session, conversation=conversation, utterance=text, parsed="{}", reply=Reply(text="ok"),
                        tool_calls=[], parser="rules", planner="policy", latency_ms=1.0, state=PreferenceState())
        conversation_id = conversation.id
    engine.dispose()
    assert verify_stored(url, {conversation_id: ["hello", "a western", "a western"]}) == (3, 0, 0, 0)
    assert verify_stored(url, {conversation_id: ["hello", "a western", "newer", "a western"]}) == (3, 1, 0, 0)
    assert verify_stored(url, {conversation_id: ["hello", "a western"]}) == (3, 0, 1, 0)
    assert verify_stored(url, {conversation_id: ["a western", "hello", "a western"]}) == (3, 0, 0, 1)


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
