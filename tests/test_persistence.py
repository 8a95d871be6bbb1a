"""A conversation, its preferences and its feedback survive a restart (a new engine, same file)."""

from __future__ import annotations

from marquee.service import Marquee


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
    assert not {c.id for c in first.reply.items} & {c.id for c in follow_up.reply.items}
