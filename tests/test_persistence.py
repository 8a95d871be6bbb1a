"""A conversation, its preferences and its feedback survive a restart (a new engine, same database),
on SQLite and on PostgreSQL; on PostgreSQL, processes answering one conversation take turns."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from sqlmodel import Session, select

from marquee import db
from marquee.service import Marquee


@pytest.fixture
def marquee(marquee_on_each_database):
    return marquee_on_each_database


def test_conversation_survives_restart(marquee, demo_deps):
    first = marquee.respond(None, "a comedy from the 80s with Bill Murray")
    conversation = first.conversation_id
    marquee.feedback(conversation, first.reply.items[0].id, "seen")
    marquee.engine.dispose()

    restarted = Marquee(marquee.settings, demo_deps)  # a new process would do exactly this
    state = restarted.state(conversation)
    assert state.genres_include == ["Comedy"]
    assert (state.year_min, state.year_max) == (1980, 1989)
    assert first.reply.items[0].id in state.seen_ids
    turns = restarted.turns(conversation)
    assert [t.utterance for t in turns] == ["a comedy from the 80s with Bill Murray"]
    assert [c.id for c in turns[0].reply_model().items] == [c.id for c in first.reply.items]

    follow_up = restarted.respond(conversation, "funnier please")
    assert follow_up.state.genres_include == ["Comedy"]
    assert follow_up.turn == 1
    assert not {c.id for c in first.reply.items} & {c.id for c in follow_up.reply.items}
    restarted.engine.dispose()


def test_two_processes_on_one_conversation_lose_and_misnumber_nothing(postgres_url, demo_deps, demo_workspace):
    """Two app processes (own engines, own in-process locks) and four clients each, all writing to
    one conversation at once: the row lock makes them take turns."""
    from marquee.settings import Settings

    settings = Settings(workspace=demo_workspace, database_url=postgres_url)
    processes = [Marquee(settings, demo_deps), Marquee(settings, demo_deps)]
    conversation = processes[0].new_conversation()
    answered: list[tuple[str, int]] = []
    failures: list[BaseException] = []

    def client(process: Marquee, name: str) -> None:
        for n in range(3):
            text = f"a comedy, message {n} from {name}"
            try:
                answered.append((text, process.respond(conversation, text).turn))
                process.feedback(conversation, "1", "seen")  # state writes interleave with turns too
            except BaseException as exc:  # noqa: BLE001 - reported below
                failures.append(exc)

    threads = [threading.Thread(target=client, args=(processes[i % 2], f"client {i}")) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not failures, failures

    with Session(processes[1].engine) as session:
        stored = list(session.exec(select(db.Turn).where(db.Turn.conversation_id == conversation)
                                   .order_by(db.Turn.position)))
    assert [t.position for t in stored] == list(range(24))
    assert Counter(t.utterance for t in stored) == Counter(text for text, _ in answered)
    assert {text: turn for text, turn in answered} == {t.utterance: t.position for t in stored}
    for name in {text.split(" from ")[1] for text, _ in answered}:  # each client's turns in the order sent
        mine = [t.utterance for t in stored if t.utterance.endswith(f"from {name}")]
        assert mine == [f"a comedy, message {n} from {name}" for n in range(3)]
    assert processes[0].state(conversation).seen_ids == ["1"]
    for process in processes:
        process.engine.dispose()
