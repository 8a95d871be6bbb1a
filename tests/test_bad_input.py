"""Bad input gets a clear message, never a crash, and nothing stored is lost."""

from __future__ import annotations

import json

import pytest

from marquee.errors import BadInput, NotFound
from marquee.ingest import ingest_catalog, write_items
from retrieval.catalog import Item, load_catalog


@pytest.mark.parametrize("text", ["", "   ", "\x00\x01\x02", "\n\t"])
def test_empty_messages_are_refused_clearly(marquee, text):
    with pytest.raises(BadInput, match="empty"):
        marquee.respond(None, text)


@pytest.mark.parametrize(
    "text",
    [
        "a" * 20000,
        "comedy " * 3000,
        "🎬🍿 something fun 😂 \u202eedoc\u202c مرحبا فيلم",
        "'; DROP TABLE turn; --",
        "Robert'); DELETE FROM conversation;--",
        "<script>alert(1)</script> a thriller",
        "\x1b[31mred\x1b[0m horror \x07",
    ],
)
def test_hostile_or_odd_messages_get_an_answer_and_keep_the_history(marquee, text):
    first = marquee.respond(None, "a western")
    conversation = first.conversation_id
    result = marquee.respond(conversation, text)
    assert result.reply.text
    turns = marquee.turns(conversation)
    assert len(turns) == 2 and turns[0].utterance == "a western"
    if len(text) > marquee.settings.max_utterance_chars:
        assert any("first" in note and "characters" in note for note in result.reply.notes)


def test_unknown_conversation_and_item_are_clear_errors(marquee):
    with pytest.raises(NotFound):
        marquee.respond("no-such-conversation", "a comedy")
    conversation = marquee.respond(None, "a comedy").conversation_id
    with pytest.raises(NotFound, match="no item"):
        marquee.feedback(conversation, "no-such-item", "liked")
    with pytest.raises(BadInput):
        marquee.feedback(conversation, marquee.catalog.ids[0], "loved")  # type: ignore[arg-type]


def test_catalog_rows_with_missing_fields_are_skipped_with_a_count(tmp_path):
    rows = [
        {"id": "1", "title": "Only A Title"},
        {"id": "2", "title": "Full", "year": 1999, "genres": ["Comedy"], "people": {"stars": ["X"]}, "runtime": 90},
        {"id": "3"},
        {"title": "no id"},
        {"id": "4", "title": "Bad year", "year": "soon"},
    ]
    path = tmp_path / "items.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\nnot json at all\n\x00\x01\n")
    catalog = load_catalog(tmp_path)
    assert sorted(catalog.ids) == ["1", "2"]
    assert catalog.get("1").runtime is None and catalog.get("1").genres == []
    assert len(catalog.problems) == 5
    assert all("line" in p for p in catalog.problems)


def test_failed_ingest_keeps_the_previous_catalog(tmp_path):
    workspace = tmp_path / "ws"
    items_file = workspace / "catalog" / "items.jsonl"
    write_items([Item(id="1", title="Kept", year=2000, genres=["Drama"])], items_file)
    before = items_file.read_text()
    broken = tmp_path / "broken.jsonl"
    broken.write_text("garbage\n{\"id\": \"\"}\n")
    with pytest.raises(Exception, match="no usable items"):
        ingest_catalog(broken, workspace=workspace, progress=False)
    assert items_file.read_text() == before
