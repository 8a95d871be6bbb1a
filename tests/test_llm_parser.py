"""The LLM parser against a real OpenAI-compatible HTTP server on loopback with scripted replies.

A caller hands it an utterance and the conversation context and must get a valid
``PreferenceUpdate``: from the model when it answers well (after re-asking when it does not),
from the rule parser, with a note saying so, when the endpoint is slow, down or keeps
answering garbage.
"""

from __future__ import annotations

import socket
import time

import pytest
from fake_openai import Delay, FakeOpenAI, HTTPError, Text, fake_openai  # noqa: F401  (fixture)
from langchain_openai import ChatOpenAI

from marquee.llm import build_chat_model
from chat.llm_parser import NOTE_INVALID_ANSWER, NOTE_NO_ANSWER, LLMParser
from chat.parser import ParseContext
from chat.rule_parser import RuleParser
from marquee.errors import ConfigError
from marquee.settings import Settings
from retrieval.catalog import Catalog, Item

GENRES = ["Comedy", "Drama", "Horror", "Animation", "Children", "Adventure", "Romance", "Sci-Fi", "Thriller"]


@pytest.fixture
def catalog() -> Catalog:
    rows = [
        dict(id="1", title="Toy Story", year=1995, genres=["Animation", "Children", "Comedy"],
             people={"stars": ["Tom Hanks", "Tim Allen"]}, n_ratings=200),
        dict(id="2", title="Jurassic Park", year=1993, genres=["Adventure", "Sci-Fi", "Thriller"],
             people={"directors": ["Steven Spielberg"]}, n_ratings=150),
        dict(id="3", title="Billy Madison", year=1995, genres=["Comedy"], people={"stars": ["Adam Sandler"]}),
        dict(id="4", title="Groundhog Day", year=1993, genres=["Comedy", "Romance"], people={"stars": ["Bill Murray"]}),
        dict(id="5", title="The Shining", year=1980, genres=["Horror"], people={"directors": ["Stanley Kubrick"]}),
        dict(id="6", title="Forrest Gump", year=1994, genres=["Comedy", "Drama", "Romance"],
             people={"stars": ["Tom Hanks"]}),
    ]
    return Catalog([Item(**row) for row in rows])


def _parser(server_url: str, catalog: Catalog, *, timeout: float = 5.0, max_retries: int = 2) -> LLMParser:
    settings = Settings(llm_base_url=server_url, llm_model="test-model", llm_timeout_s=timeout)
    return LLMParser(build_chat_model(settings), catalog, fallback=RuleParser(catalog), max_retries=max_retries)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _contents(request: dict) -> list[str]:
    return [m.get("content") or "" for m in request["messages"]]


def test_valid_json_becomes_a_preference_update(fake_openai: FakeOpenAI, catalog: Catalog) -> None:
    fake_openai.enqueue({
        "intent": "recommend", "genres_include": ["comedy"], "genres_exclude": ["Horror"],
        "year_min": 1990, "year_max": 1999, "people_exclude": ["adam sandler"],
        "titles_like": ["Toy Story"], "keywords": ["feel-good"], "audience": None,
        "notes": ["the model may not write notes"],
    })
    parser = _parser(fake_openai.base_url, catalog)

    update = parser.parse("a feel-good 90s comedy like toy story, no horror, nothing with Adam Sandler", ParseContext())

    assert update.intent == "recommend"
    assert update.genres_include == ["Comedy"]  # the catalog's spelling
    assert update.genres_exclude == ["Horror"]
    assert (update.year_min, update.year_max) == (1990, 1999)
    assert update.people_exclude == ["Adam Sandler"]
    assert [(t.text, t.item_id) for t in update.titles_like] == [("Toy Story", "1")]
    assert update.keywords == ["feel-good"]
    assert update.notes == []
    assert len(fake_openai.requests) == 1
    sent = fake_openai.requests[0]
    assert sent["model"] == "test-model"
    schema = sent["response_format"]["json_schema"]["schema"]  # the schema, the way OpenAI takes it
    assert sent["response_format"]["type"] == "json_schema"
    assert schema["properties"]["genres_include"]["items"]["enum"] == catalog.genres
    system, user = _contents(sent)
    assert all(genre in system for genre in catalog.genres)
    assert "nothing with Adam Sandler" in user
    assert [a.error for a in parser.last_attempts] == [None]


def test_the_context_of_the_conversation_is_sent(fake_openai: FakeOpenAI, catalog: Catalog) -> None:
    fake_openai.enqueue(
        {"intent": "refine", "refers_to_shown": [2], "critiques": [{"attribute": "recency", "direction": "more"}]}
    )
    parser = _parser(fake_openai.base_url, catalog)
    context = ParseContext(
        shown=[catalog.get("4"), catalog.get("6")],
        history=[("user", "a 90s comedy"), ("assistant", "Here are two comedies.")],
    )

    update = parser.parse("more like the second one, but newer", context)

    assert update.intent == "refine" and update.refers_to_shown == [2]
    assert [(c.attribute, c.direction) for c in update.critiques] == [("recency", "more")]
    user = _contents(fake_openai.requests[0])[-1]
    assert "2. Forrest Gump (1994)" in user
    assert "assistant: Here are two comedies." in user


def test_invalid_json_then_valid_is_retried_once(fake_openai: FakeOpenAI, catalog: Catalog) -> None:
    fake_openai.enqueue(
        'Sure! {intent: "recommend", genres_include: [Horror', {"intent": "recommend", "genres_include": ["Horror"]}
    )
    parser = _parser(fake_openai.base_url, catalog)

    update = parser.parse("something scary", ParseContext())

    assert update.genres_include == ["Horror"] and update.notes == []
    assert len(fake_openai.requests) == 2
    retry = fake_openai.requests[1]["messages"]
    assert retry[-2] == {"role": "assistant", "content": 'Sure! {intent: "recommend", genres_include: [Horror'}
    assert retry[-1]["role"] == "user" and "not valid JSON" in retry[-1]["content"]
    assert [a.error is None for a in parser.last_attempts] == [False, True]


def test_a_genre_the_catalog_lacks_is_reasked(fake_openai: FakeOpenAI, catalog: Catalog) -> None:
    fake_openai.enqueue(
        {"intent": "recommend", "genres_include": ["Feel-Good Cinema"]},
        {"intent": "recommend", "genres_include": ["Comedy"], "keywords": ["feel-good"]},
    )
    parser = _parser(fake_openai.base_url, catalog)

    update = parser.parse("something feel-good", ParseContext())

    # the model's reading of a genre the message does not name is a soft preference (chat.reconcile)
    assert update.genres_include == [] and "comedy" in update.keywords
    reask = fake_openai.requests[1]["messages"][-1]["content"]
    assert "'Feel-Good Cinema'" in reask and "Use only: " in reask and "Comedy" in reask


def test_pointing_past_the_shown_items_is_reasked(fake_openai: FakeOpenAI, catalog: Catalog) -> None:
    fake_openai.enqueue({"intent": "refine", "refers_to_shown": [4]}, {"intent": "refine", "refers_to_shown": [2]})
    parser = _parser(fake_openai.base_url, catalog)

    update = parser.parse("more like the last one", ParseContext(shown=[catalog.get("1"), catalog.get("2")]))

    assert update.refers_to_shown == [2]
    assert "points past the 2 item(s) shown" in fake_openai.requests[1]["messages"][-1]["content"]


def test_garbage_every_time_gives_up_and_uses_the_rule_parser(fake_openai: FakeOpenAI, catalog: Catalog) -> None:
    fake_openai.enqueue("I think you would like horror!", '["Horror"]')
    parser = _parser(fake_openai.base_url, catalog, max_retries=1)

    update = parser.parse("no horror please", ParseContext())

    assert len(fake_openai.requests) == 2  # bounded: one answer, one re-ask
    assert NOTE_INVALID_ANSWER in update.notes
    assert "Horror" in update.genres_exclude and "Horror" not in update.genres_include  # the rule parser's reading
    assert len(parser.last_attempts) == 2 and all(a.error for a in parser.last_attempts)


def test_a_timeout_falls_back_to_the_rule_parser_without_waiting(fake_openai: FakeOpenAI, catalog: Catalog) -> None:
    fake_openai.enqueue(Delay(5.0, Text('{"intent": "greet"}')))
    parser = _parser(fake_openai.base_url, catalog, timeout=0.5)

    started = time.monotonic()
    update = parser.parse("a 90s comedy, no horror", ParseContext())
    waited = time.monotonic() - started

    assert waited < 4.0  # gave up at the timeout instead of waiting for the 5 s answer
    assert len(fake_openai.requests) == 1  # a timeout is not retried
    assert update.notes == [NOTE_NO_ANSWER]
    assert update.intent != "greet"
    assert "Comedy" in update.genres_include and "Horror" in update.genres_exclude
    assert "timed out" in (parser.last_attempts[0].error or "")


def test_a_refused_connection_falls_back_to_the_rule_parser(catalog: Catalog) -> None:
    parser = _parser(f"http://127.0.0.1:{_closed_port()}/v1", catalog)

    update = parser.parse("something like Toy Story", ParseContext())

    assert update.notes == [NOTE_NO_ANSWER]
    assert [t.item_id for t in update.titles_like] == ["1"]
    assert len(parser.last_attempts) == 1


def test_a_server_error_is_retried(fake_openai: FakeOpenAI, catalog: Catalog) -> None:
    fake_openai.enqueue(HTTPError(503, "overloaded"), {"intent": "greet"})
    parser = _parser(fake_openai.base_url, catalog)

    assert parser.parse("hello", ParseContext()).intent == "greet"
    assert len(fake_openai.requests) == 2


def test_an_endpoint_without_json_mode_gets_plain_requests(fake_openai: FakeOpenAI, catalog: Catalog) -> None:
    fake_openai.enqueue(*[HTTPError(400, "response_format is not supported")] * 3,
                        '```json\n{"intent": "reset"}\n```', '{"intent": "greet"}')
    parser = _parser(fake_openai.base_url, catalog)

    assert parser.parse("start over", ParseContext()).intent == "reset"
    sent = [r.get("response_format", {}).get("type") for r in fake_openai.requests]
    assert sent == ["json_schema", "json_object", "json_object", None]
    assert "schema" in fake_openai.requests[1]["response_format"]  # llama.cpp's way to send the schema
    assert parser.parse("hello", ParseContext()).intent == "greet"
    assert "response_format" not in fake_openai.requests[4]  # the refusals were learned once


def test_a_server_that_refuses_json_schema_with_a_500_gets_the_llama_cpp_form(
    fake_openai: FakeOpenAI, catalog: Catalog
) -> None:
    fake_openai.enqueue(HTTPError(500, "json_schema is not supported"), '{"intent": "greet"}', '{"intent": "greet"}')
    parser = _parser(fake_openai.base_url, catalog)

    assert parser.parse("hello", ParseContext()).intent == "greet"
    assert parser.parse("hi", ParseContext()).intent == "greet"
    sent = [r["response_format"] for r in fake_openai.requests]
    assert [f["type"] for f in sent] == ["json_schema", "json_object", "json_object"]
    assert sent[1]["schema"]["properties"]["intent"]["enum"][0] == "greet" and sent[2] == sent[1]


def test_build_chat_model_needs_an_endpoint_and_a_model_name(fake_openai: FakeOpenAI) -> None:
    assert build_chat_model(Settings()) is None
    with pytest.raises(ConfigError, match="MARQUEE_LLM_MODEL"):
        build_chat_model(Settings.model_construct(llm_base_url=fake_openai.base_url, llm_model=None))
    model = build_chat_model(Settings(llm_base_url=fake_openai.base_url, llm_model="m", llm_timeout_s=3))
    assert isinstance(model, ChatOpenAI)
    assert model.max_retries == 0 and model.request_timeout == 3


def test_the_scripted_server_also_streams(fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue("Hello there, movie fan.")
    model = build_chat_model(Settings(llm_base_url=fake_openai.base_url, llm_model="m"))

    chunks = [chunk.content for chunk in model.stream("hi")]

    assert "".join(chunks) == "Hello there, movie fan." and len(chunks) > 2
    assert fake_openai.requests[0]["stream"] is True
