"""``marquee chat`` as a person uses it in a terminal: the banner says how to leave, and
``quit``, ``exit`` or the end of input (Ctrl-D) leave without sending anything more."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from marquee import cli
from marquee.service import Marquee

runner = CliRunner()


@pytest.fixture
def chat_marquee(monkeypatch, marquee):
    monkeypatch.setattr(Marquee, "open", classmethod(lambda cls, settings, progress=True: marquee))
    return marquee


def conversation_utterances(marquee) -> list[str]:
    from sqlmodel import Session, select

    from marquee import db

    with Session(marquee.engine) as session:
        return [t.utterance for t in session.exec(select(db.Turn).order_by(db.Turn.id))]


def test_the_banner_says_how_to_leave(chat_marquee):
    done = runner.invoke(cli.app, ["chat"], input="")
    assert done.exit_code == 0, done.output
    banner = done.output.splitlines()[0]
    assert "quit" in banner and "exit" in banner and "Ctrl-D" in banner
    assert "Bye" in done.output


@pytest.mark.parametrize("leave", ["quit", "exit", "Quit.", "/exit"])
def test_quit_and_exit_leave_without_being_sent(chat_marquee, leave):
    done = runner.invoke(cli.app, ["chat"], input=f"a 90s comedy\n{leave}\na horror movie\n")
    assert done.exit_code == 0, done.output
    assert "Here are five 90s comedies." in done.output
    assert "horror" not in done.output.lower()
    assert conversation_utterances(chat_marquee) == ["a 90s comedy"]


def test_the_end_of_input_leaves_and_blank_lines_are_skipped(chat_marquee):
    done = runner.invoke(cli.app, ["chat"], input="\n   \nany good westerns?\n")
    assert done.exit_code == 0, done.output
    assert "Here are five westerns." in done.output
    assert conversation_utterances(chat_marquee) == ["any good westerns?"]
