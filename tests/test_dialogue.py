"""The core example dialogue, through ``Marquee.respond`` — the function the UI, API and CLI call."""

from __future__ import annotations

from sqlmodel import Session, select

from evals.grounding import grounding_errors
from marquee import db


def items_of(result, marquee):
    return [marquee.catalog.get(card.id) for card in result.reply.items]


def assert_grounded(result, marquee):
    for card in result.reply.items:
        assert card.why, f"{card.title} has no why"
        assert grounding_errors(card, marquee.catalog) == [], card


def test_greeting_says_what_it_can_do(marquee):
    result = marquee.respond(None, "hi")
    assert result.reply.items == []
    assert result.reply.question
    assert "recommend" in result.reply.text.lower() or "suggest" in result.reply.text.lower()


def test_example_dialogue(marquee):
    first = marquee.respond(None, "a feel-good 90s comedy, nothing with Adam Sandler")
    conversation = first.conversation_id
    assert len(first.reply.items) == 5
    for item in items_of(first, marquee):
        assert "Comedy" in item.genres
        assert 1990 <= item.year <= 1999
        assert item.has_person("Adam Sandler") is not True
    assert_grounded(first, marquee)

    second_card = first.reply.items[1]
    anchor = marquee.catalog.get(second_card.id)
    newer = marquee.respond(conversation, "more like the second one, but newer")
    assert newer.state.anchor_ids == [anchor.id]
    assert len(newer.reply.items) >= 3
    for item in items_of(newer, marquee):
        assert item.year > anchor.year
        assert item.id != anchor.id
    assert_grounded(newer, marquee)

    shown_so_far = {c.id for c in first.reply.items} | {c.id for c in newer.reply.items}
    seen = marquee.respond(conversation, "I've seen all of those")
    assert seen.reply.items, "after 'seen all of those' Marquee should offer new titles"
    assert not shown_so_far & {c.id for c in seen.reply.items}

    adults = marquee.respond(conversation, "something like Toy Story but for adults")
    toy_story = marquee.catalog.find_title("Toy Story (1995)")
    assert adults.state.anchor_ids == [toy_story.id]
    assert adults.reply.items
    for item in items_of(adults, marquee):
        assert "Children" not in item.genres
        assert item.id not in shown_so_far
    assert_grounded(adults, marquee)

    cleared = marquee.respond(conversation, "start over")
    assert cleared.reply.items == [] and cleared.reply.cleared  # a UI drops the cards it showed
    assert not cleared.state.has_request()
    assert cleared.state.shown_ids == []


def test_feedback_changes_next_results_and_is_stored(marquee):
    first = marquee.respond(None, "a heist movie")
    conversation = first.conversation_id
    disliked = first.reply.items[0].id
    marquee.feedback(conversation, disliked, "disliked")
    marquee.feedback(conversation, first.reply.items[1].id, "liked")
    marquee.reset(conversation)  # the reset button: the request and what was shown are cleared...
    again = marquee.respond(conversation, "a heist movie")
    again_ids = {c.id for c in again.reply.items}
    assert disliked not in again_ids  # ...but the dislike is remembered
    assert again_ids & {c.id for c in first.reply.items[1:]}, "reset should let earlier items come back"
    with Session(marquee.engine) as session:
        rows = session.exec(select(db.Feedback).where(db.Feedback.conversation_id == conversation)).all()
    assert {(r.item_id, r.kind) for r in rows} >= {(disliked, "disliked"), (first.reply.items[1].id, "liked")}


def test_a_turn_is_logged_with_its_tool_calls(marquee):
    result = marquee.respond(None, "a sci-fi film directed by Ridley Scott")
    assert result.reply.items
    for item in items_of(result, marquee):
        assert item.has_person("Ridley Scott")
    with Session(marquee.engine) as session:
        turn = session.exec(select(db.Turn).where(db.Turn.conversation_id == result.conversation_id)).one()
        tools = [c.tool for c in session.exec(select(db.ToolCall).where(db.ToolCall.turn_id == turn.id))]
    assert "search" in tools and "rank" in tools and "explain" in tools


def test_a_caller_that_needs_a_list_gets_items_even_for_small_talk(marquee):
    asked = marquee.respond(None, "Hi there, how are you?")
    assert asked.reply.items == []
    listed = marquee.respond(None, "Hi there, how are you?", n_items=10, must_list=True)
    assert len(listed.reply.items) == 10
    assert not listed.reply.question
    assert_grounded(listed, marquee)
