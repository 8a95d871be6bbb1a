"""The LLM planner against a real OpenAI-compatible HTTP server on loopback with scripted replies.

The model chooses tool calls; the real tools run over one candidate buffer on a tiny catalog
(a real Chroma store in a temporary folder, a deterministic hashing embedder). Whatever the model
says, the cards must be catalog items from the buffer that fit the request, and a failing
endpoint must still give the user an answer (from the policy planner).
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from fake_openai import Delay, FakeOpenAI, HTTPError, Text, ToolCall, ToolCalls, fake_openai  # noqa: F401  (fixture)

from marquee.llm import build_chat_model
from chat.llm_planner import NOTE_FALLBACK, NOTE_TEXT_CUT, LLMPlanner
from chat.planning import PlannerResult, TurnInput
from chat.policy import PolicyPlanner
from chat.schemas import PreferenceState, PreferenceUpdate
from marquee.settings import Settings
from retrieval.catalog import Catalog, Item
from retrieval.encoder import HashingEncoder
from retrieval.search import KeywordIndex
from retrieval.store import open_item_store
from tools.base import TOOLS, ToolDeps

ROWS = [
    ("1", "Toy Story", 1995, ["Animation", "Children", "Comedy"], ["Tom Hanks", "Tim Allen"]),
    ("2", "Jurassic Park", 1993, ["Adventure", "Sci-Fi", "Thriller"], ["Sam Neill"]),
    ("3", "Billy Madison", 1995, ["Comedy"], ["Adam Sandler"]),
    ("4", "Groundhog Day", 1993, ["Comedy", "Romance"], ["Bill Murray"]),
    ("5", "The Shining", 1980, ["Horror"], ["Jack Nicholson"]),
    ("6", "Forrest Gump", 1994, ["Comedy", "Drama", "Romance"], ["Tom Hanks"]),
    ("7", "Clueless", 1995, ["Comedy", "Romance"], ["Alicia Silverstone"]),
    ("8", "The Big Lebowski", 1998, ["Comedy", "Crime"], ["Jeff Bridges"]),
    ("9", "Happy Gilmore", 1996, ["Comedy"], ["Adam Sandler"]),
    ("10", "Mrs. Doubtfire", 1993, ["Comedy", "Drama"], ["Robin Williams"]),
    ("11", "Galaxy Quest", 1999, ["Adventure", "Comedy", "Sci-Fi"], ["Tim Allen"]),
    ("12", "Shrek", 2001, ["Animation", "Children", "Comedy"], ["Mike Myers"]),
    ("13", "Alien", 1979, ["Horror", "Sci-Fi"], ["Sigourney Weaver"]),
    ("14", "Heat", 1995, ["Action", "Crime", "Thriller"], ["Al Pacino"]),
]


@pytest.fixture(scope="module")
def deps(tmp_path_factory: pytest.TempPathFactory) -> ToolDeps:
    catalog = Catalog([
        Item(id=i, title=t, year=y, genres=g, people={"stars": p}, n_ratings=10 * int(i))
        for i, t, y, g, p in ROWS
    ])
    settings = Settings(workspace=Path(tmp_path_factory.mktemp("workspace")))
    encoder = HashingEncoder(dim=64)
    store = open_item_store(settings, catalog, encoder, progress=False)
    return ToolDeps(catalog=catalog, store=store, encoder=encoder, keywords=KeywordIndex(catalog), cf=None,
                    settings=settings)


def _planner(url: str, *, max_steps: int = 6) -> LLMPlanner:
    model = build_chat_model(Settings(llm_base_url=url, llm_model="test-model", llm_timeout_s=5))
    return LLMPlanner(model, fallback=PolicyPlanner(), max_steps=max_steps)


def _nineties_comedy() -> TurnInput:
    update = PreferenceUpdate(intent="recommend", genres_include=["Comedy"], year_min=1990, year_max=1999,
                              people_exclude=["Adam Sandler"], query="90s comedy")
    state = PreferenceState(genres_include=["Comedy"], year_min=1990, year_max=1999,
                            people_exclude=["Adam Sandler"], query="90s comedy")
    return TurnInput(utterance="a feel-good 90s comedy, nothing with Adam Sandler", update=update, state=state,
                     n_items=3)


def _assert_cards_fit(result: PlannerResult, deps: ToolDeps) -> None:
    """Every card is a catalog item from the buffer: a 1990s comedy without Adam Sandler."""
    assert result.reply.items
    buffer_ids = {c.id for c in result.buffer.items}
    for card in result.reply.items:
        item = deps.catalog.get(card.id)
        assert item is not None and card.id in buffer_ids
        assert "Comedy" in item.genres and 1990 <= item.year <= 1999
        assert "Adam Sandler" not in item.all_people()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_scripted_tool_calls_then_text_give_cards_from_the_buffer(fake_openai: FakeOpenAI, deps: ToolDeps) -> None:
    fake_openai.enqueue(
        ToolCalls([ToolCall("search", {"query": "comedy", "k": 20})]),
        ToolCalls([ToolCall("rank", {"k": 30})]),
        "Done searching.",
        "Here are a few light 90s comedies.",  # the text, written for the cards and streamed
    )
    pieces: list[str] = []
    turn = _nineties_comedy()
    turn.on_text = pieces.append

    result = _planner(fake_openai.base_url).respond(turn, deps=deps)

    _assert_cards_fit(result, deps)
    assert result.reply.text == "Here are a few light 90s comedies."
    assert "".join(pieces) == result.reply.text  # one sentence: it goes out whole
    assert NOTE_FALLBACK not in result.reply.notes
    assert [c["tool"] for c in result.buffer.calls][:2] == ["search", "rank"]
    first, second, third, writer = fake_openai.requests
    assert {t["function"]["name"] for t in first["tools"]} == set(TOOLS)
    assert first["tool_choice"] == {"type": "function", "function": {"name": "search"}}  # forced
    assert "tool_choice" not in second or second["tool_choice"] == "auto"
    assert "nothing with Adam Sandler" in first["messages"][-1]["content"]
    tool_answer = second["messages"][-1]
    assert tool_answer["role"] == "tool" and "candidates" in tool_answer["content"]
    assert third["messages"][-1]["role"] == "tool"
    assert writer["stream"] is True and "tools" not in writer
    assert all(card.title in writer["messages"][-1]["content"] for card in result.reply.items)


def test_a_bad_tool_name_or_bad_arguments_are_fed_back_and_the_model_recovers(
    fake_openai: FakeOpenAI, deps: ToolDeps
) -> None:
    fake_openai.enqueue(
        ToolCalls([ToolCall("serach", {"query": "comedy"}), ToolCall("rank", {"k": "many"})]),
        ToolCalls([ToolCall("search", "{not json")]),
        ToolCalls([ToolCall("search", {"query": "comedy"})]),
        "Done.",
        "A few comedies from the 90s.",
    )

    result = _planner(fake_openai.base_url).respond(_nineties_comedy(), deps=deps)

    _assert_cards_fit(result, deps)
    assert len(fake_openai.requests) == 5 and result.reply.text == "A few comedies from the 90s."
    errors = [m["content"] for m in fake_openai.requests[1]["messages"] if m["role"] == "tool"]
    assert "unknown tool 'serach'" in errors[0] and "bad arguments for rank" in errors[1]
    not_json = fake_openai.requests[2]["messages"][-1]["content"]
    assert "not valid JSON" in not_json
    failed = [c for c in result.buffer.calls if "error" in c]
    assert [c["tool"] for c in failed] == ["serach", "rank", "search"]


@pytest.mark.parametrize("failure", ["server error", "refused"])
def test_an_endpoint_failure_falls_back_to_the_policy_planner(
    fake_openai: FakeOpenAI, deps: ToolDeps, failure: str
) -> None:
    fake_openai.enqueue(HTTPError(500, "model crashed"))
    url = fake_openai.base_url if failure == "server error" else f"http://127.0.0.1:{_closed_port()}/v1"

    result = _planner(url).respond(_nineties_comedy(), deps=deps)

    _assert_cards_fit(result, deps)
    assert NOTE_FALLBACK in result.reply.notes


def test_failing_after_some_tool_calls_still_answers(fake_openai: FakeOpenAI, deps: ToolDeps) -> None:
    fake_openai.enqueue(ToolCalls([ToolCall("search", {"query": "comedy"})]), HTTPError(502, "bad gateway"))

    result = _planner(fake_openai.base_url).respond(_nineties_comedy(), deps=deps)

    _assert_cards_fit(result, deps)
    assert NOTE_FALLBACK in result.reply.notes


def test_text_without_any_tool_call_is_not_a_recommendation(fake_openai: FakeOpenAI, deps: ToolDeps) -> None:
    fake_openai.enqueue("You should watch Jurassic Park and The Shining!", HTTPError(500, "writer down"))

    result = _planner(fake_openai.base_url).respond(_nineties_comedy(), deps=deps)

    _assert_cards_fit(result, deps)  # the policy planner's cards
    assert "Jurassic Park" not in result.reply.text
    assert NOTE_FALLBACK in result.reply.notes


def test_text_naming_a_title_that_is_not_on_the_cards_is_cut_before_it(fake_openai: FakeOpenAI, deps: ToolDeps) -> None:
    fake_openai.enqueue(ToolCalls([ToolCall("search", {"query": "comedy"})]), "Done.",
                        "Three light comedies for tonight. You will also love Jurassic Park, trust me.")
    pieces: list[str] = []
    turn = _nineties_comedy()
    turn.on_text = pieces.append

    result = _planner(fake_openai.base_url).respond(turn, deps=deps)

    _assert_cards_fit(result, deps)
    assert all(card.title != "Jurassic Park" for card in result.reply.items)
    assert result.reply.text.startswith("Three light comedies for tonight.")
    assert "Jurassic" not in result.reply.text and "".join(pieces) == result.reply.text
    assert NOTE_TEXT_CUT in result.reply.notes


def test_text_that_goes_wrong_before_anything_was_shown_becomes_the_template(
    fake_openai: FakeOpenAI, deps: ToolDeps
) -> None:
    fake_openai.enqueue(ToolCalls([ToolCall("search", {"query": "comedy"})]), "Done.", "Jurassic Park!")
    pieces: list[str] = []
    turn = _nineties_comedy()
    turn.on_text = pieces.append

    result = _planner(fake_openai.base_url).respond(turn, deps=deps)

    _assert_cards_fit(result, deps)
    assert "Jurassic" not in result.reply.text and result.reply.text.startswith("Here")
    assert pieces == []  # nothing was passed on: the caller shows the template text as usual


def test_the_loop_is_bounded(fake_openai: FakeOpenAI, deps: ToolDeps) -> None:
    fake_openai.enqueue(*[ToolCalls([ToolCall("search", {"query": "comedy"})]) for _ in range(5)])

    planner = _planner(fake_openai.base_url, max_steps=3)
    result = planner.respond(_nineties_comedy(), deps=deps)

    assert len(fake_openai.requests) == 4 and fake_openai.pending == 1  # 3 planning steps, then the text
    assert len(planner.last_steps) == 4
    _assert_cards_fit(result, deps)  # the candidates it gathered still make cards


def test_a_greeting_is_answered_in_the_models_words(fake_openai: FakeOpenAI, deps: ToolDeps) -> None:
    fake_openai.enqueue("Hi! What kind of movie are you in the mood for?")
    turn = TurnInput(utterance="hi", update=PreferenceUpdate(intent="greet"), state=PreferenceState())

    result = _planner(fake_openai.base_url).respond(turn, deps=deps)

    assert result.reply.text == "Hi! What kind of movie are you in the mood for?"
    assert result.reply.question and not result.reply.items and not result.reply.notes


def test_a_conversation_through_the_llm_path_always_gets_an_answer(
    fake_openai: FakeOpenAI, deps: ToolDeps, tmp_path: Path
) -> None:
    """The service wired to an endpoint: valid JSON, then invalid-then-valid, then a timeout."""
    from chat.llm_parser import NOTE_NO_ANSWER, LLMParser
    from marquee.service import Marquee

    settings = Settings(
        workspace=tmp_path, database_url=f"sqlite:///{tmp_path / 'marquee.db'}", n_recommendations=3,
        llm_base_url=fake_openai.base_url, llm_model="test-model", llm_timeout_s=1.0,
    )
    marquee = Marquee(settings, deps)
    assert isinstance(marquee.parser, LLMParser) and isinstance(marquee.planner, LLMPlanner)
    fake_openai.enqueue(
        # turn 1: the parser answers well; the planner searches, then answers
        {"intent": "recommend", "genres_include": ["Comedy"], "year_min": 1990, "year_max": 1999,
         "people_exclude": ["Adam Sandler"], "keywords": ["feel-good"]},
        ToolCalls([ToolCall("search", {"query": "feel-good comedy"})]),
        "Done.",
        "Some feel-good 90s comedies.",
        # turn 2: the parser's first answer is not JSON, the re-ask is; the planner searches again
        "refine: the second one, newer",
        {"intent": "refine", "refers_to_shown": [2], "critiques": [{"attribute": "recency", "direction": "more"}]},
        ToolCalls([ToolCall("similar", {})]),
        "Done.",
        "More in the same vein.",
        # turn 3: the parser times out and the planner's endpoint fails: rule parser + policy planner
        Delay(3.0, Text('{"intent": "greet"}')),
        HTTPError(500, "model crashed"),
    )

    first = marquee.respond(None, "a feel-good 90s comedy, nothing with Adam Sandler")
    conversation = first.conversation_id
    second = marquee.respond(conversation, "more like the second one, but newer")
    third = marquee.respond(conversation, "something with Tom Hanks or Jeff Bridges")

    assert fake_openai.pending == 0 and len(fake_openai.requests) == 11
    assert first.reply.text == "Some feel-good 90s comedies." and first.reply.items
    for card in first.reply.items:
        item = deps.catalog.get(card.id)
        assert "Comedy" in item.genres and 1990 <= item.year <= 1999 and "Adam Sandler" not in item.all_people()
    assert second.update.refers_to_shown == [2] and second.reply.text and not second.update.notes
    assert "not valid JSON" in fake_openai.requests[5]["messages"][-1]["content"]
    assert third.reply.text
    assert NOTE_NO_ANSWER in third.update.notes and NOTE_FALLBACK in third.reply.notes
    earlier = {c.id for c in first.reply.items} | {c.id for c in second.reply.items}
    assert not earlier & {c.id for c in third.reply.items}


def test_the_model_text_never_ends_in_a_colon_over_the_cards(fake_openai: FakeOpenAI, deps: ToolDeps) -> None:
    fake_openai.enqueue(
        ToolCalls([ToolCall("search", {"query": "comedy", "k": 20})]), "Done.",
        "Here are some 90s comedies you might enjoy:",
    )

    result = _planner(fake_openai.base_url).respond(_nineties_comedy(), deps=deps)

    assert result.reply.items
    assert result.reply.text == "Here are some 90s comedies you might enjoy."


def test_an_endpoint_that_refuses_a_forced_tool_choice_is_asked_without_it_from_then_on(
    fake_openai: FakeOpenAI, deps: ToolDeps
) -> None:
    fake_openai.enqueue(HTTPError(400, "tool_choice must be auto"), ToolCalls([ToolCall("search", {"query": "comedy"})]),
                        "Done.", "Some comedies.", ToolCalls([ToolCall("search", {"query": "comedy"})]), "Done.",
                        "More comedies.")
    planner = _planner(fake_openai.base_url)

    first = planner.respond(_nineties_comedy(), deps=deps)
    second = planner.respond(_nineties_comedy(), deps=deps)

    assert (first.reply.text, second.reply.text) == ("Some comedies.", "More comedies.")
    choices = [r.get("tool_choice") for r in fake_openai.requests if "tools" in r]
    assert choices[0] == {"type": "function", "function": {"name": "search"}}
    assert all(c in (None, "auto") for c in choices[1:])  # learned once


def test_a_model_parroting_its_instructions_is_not_shown(fake_openai: FakeOpenAI, deps: ToolDeps) -> None:
    fake_openai.enqueue("The user said: hi There are no cards this time. Answer the user in one or two sentences.")
    pieces: list[str] = []
    turn = TurnInput(utterance="hi", update=PreferenceUpdate(intent="greet"), state=PreferenceState(),
                     on_text=pieces.append)

    result = _planner(fake_openai.base_url).respond(turn, deps=deps)

    assert "There are no cards" not in result.reply.text and result.reply.text  # the policy planner's welcome
    assert pieces == [] and NOTE_FALLBACK in result.reply.notes


@pytest.mark.parametrize("said", [
    "I'm sorry for the misunderstanding, but as a chatbot I cannot browse movies.",
    "The user asked for a list of 90s comedy films, in plain text.",
])
def test_a_refusal_or_a_retelling_of_the_instructions_is_not_the_reply(
    fake_openai: FakeOpenAI, deps: ToolDeps, said: str
) -> None:
    fake_openai.enqueue(ToolCalls([ToolCall("search", {"query": "comedy"})]), "Done.", said)
    pieces: list[str] = []
    turn = _nineties_comedy()
    turn.on_text = pieces.append

    result = _planner(fake_openai.base_url).respond(turn, deps=deps)

    _assert_cards_fit(result, deps)
    assert result.reply.text != said and "user" not in result.reply.text and pieces == []
