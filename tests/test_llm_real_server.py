"""The LLM path against a real OpenAI-compatible server: llama.cpp's, serving SmolLM2-135M-Instruct.

Every other LLM test talks to ``fake_openai``, a server this project wrote. Here a real one
answers, with a model small enough to run on two cores and weak enough to be often wrong (it
reads "hi" as feedback, invents genres and years). The product must survive it: every turn is
answered, every card is a real catalog item that keeps the conversation's hard constraints and
has a grounded "why", the lists are the rule parser's where the rules are sure, rejected model
output is said in the notes, and a slow or dead server still gets the user an answer.

The server starts once per session (``tests/llama_server.py``); ``scripts/test.sh`` installs it.
"""

from __future__ import annotations

import threading
import time

import httpx
import pytest
from llama_server import MODEL_NAME, start_server

from chat.llm_parser import NOTE_INVALID_ANSWER, NOTE_NO_ANSWER, LLMParser
from chat.llm_planner import NOTE_FALLBACK, LLMPlanner
from chat.policy import PolicyPlanner
from chat.reconcile import NOTE_DISAGREED
from evals.grounding import grounding_errors
from marquee.llm import OUTPUT_MODES, build_chat_model
from marquee.service import Marquee, TurnResult
from marquee.settings import Settings
from tools.filtering import check_item

pytestmark = pytest.mark.slow

README_DIALOGUE = ["a feel-good 90s comedy, nothing with Adam Sandler", "more like the second one, but newer"]
HARD = ("genres_include", "genres_exclude", "people_include", "people_exclude", "year_min", "year_max",
        "runtime_min", "runtime_max", "audience", "anchor_ids", "seen_ids", "disliked_ids")
PARSER_NOTES = (NOTE_NO_ANSWER, NOTE_INVALID_ANSWER)


@pytest.fixture(scope="session")
def llama(tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp("llama"))
    try:
        yield server
    finally:
        server.stop()


def _settings(demo_workspace, tmp_path, url: str | None, **overrides) -> Settings:
    llm = dict(llm_base_url=url, llm_model=MODEL_NAME, llm_timeout_s=120, llm_max_retries=1) if url else {}
    return Settings(workspace=demo_workspace, database_url=f"sqlite:///{tmp_path / 'marquee.db'}",
                    **{**llm, **overrides})


def _converse(marquee: Marquee, utterances: list[str]) -> list[TurnResult]:
    results: list[TurnResult] = []
    conversation = None
    for text in utterances:
        results.append(marquee.respond(conversation, text))
        conversation = results[-1].conversation_id
    return results


def _assert_cards_keep_the_request(result: TurnResult, marquee: Marquee) -> None:
    """Real catalog items that pass the conversation's hard constraints, each with a grounded why."""
    for card in result.reply.items:
        item = marquee.catalog.get(card.id)
        assert item is not None, f"{card.title} is not a catalog item"
        ok, why_not = check_item(item, result.state)
        assert ok, f"{item.label} breaks the request: {why_not}"
        assert card.why and grounding_errors(card, marquee.catalog) == [], card


def _hard(result: TurnResult) -> dict:
    return result.state.model_dump(include=set(HARD))


def test_the_readme_dialogue_with_the_llm_parser_gives_the_rule_parsers_lists(llama, demo_deps, demo_workspace,
                                                                            tmp_path):
    (tmp_path / "rules").mkdir()
    rules = Marquee(_settings(demo_workspace, tmp_path / "rules", None), demo_deps)
    with_llm = Marquee(_settings(demo_workspace, tmp_path, llama.base_url), demo_deps, planner=PolicyPlanner())
    assert isinstance(with_llm.parser, LLMParser)

    for dialogue in (README_DIALOGUE, ["something like Inception"]):
        expected = _converse(rules, dialogue)
        got = _converse(with_llm, dialogue)

        for mine, theirs in zip(got, expected):
            assert _hard(mine) == _hard(theirs), mine.update
            assert [c.id for c in mine.reply.items] == [c.id for c in theirs.reply.items]
            assert mine.update.refers_to_shown == theirs.update.refers_to_shown
            _assert_cards_keep_the_request(mine, with_llm)
    inception = with_llm.catalog.find_title("Inception")
    assert got[0].state.anchor_ids == [inception.id] and got[0].state.year_min is None


def test_a_conversation_with_the_llm_parser_and_planner_answers_every_turn(llama, demo_deps, demo_workspace,
                                                                          tmp_path):
    marquee = Marquee(_settings(demo_workspace, tmp_path, llama.base_url), demo_deps)
    assert isinstance(marquee.parser, LLMParser) and isinstance(marquee.planner, LLMPlanner)
    conversation = None
    for text in ["hi", *README_DIALOGUE]:
        started = time.perf_counter()
        result = marquee.respond(conversation, text)
        conversation = result.conversation_id
        attempts, steps = marquee.parser.last_attempts, marquee.planner.last_steps
        print(f"{text!r}: {time.perf_counter() - started:.1f} s, {len(attempts)} parse + {len(steps)} plan "
              f"call(s); text {result.reply.text!r}; notes {result.reply.notes}")

        assert result.reply.text.strip()
        _assert_cards_keep_the_request(result, marquee)
        # honest notes: model output that was not used is said
        if attempts and all(a.error for a in attempts):
            assert any(note in result.update.notes for note in PARSER_NOTES)
        if result.update.intent in ("recommend", "refine") and steps and not any(s.ran for s in steps):
            assert NOTE_FALLBACK in result.reply.notes
        rejected = [n for n in result.update.notes if n.startswith(NOTE_DISAGREED.split("{")[0])]
        assert all(n in result.reply.notes for n in rejected)
        if text != "hi":
            assert len(result.reply.items) == 5

    second = marquee.catalog.get(marquee.turns(conversation)[1].reply_model().items[1].id)
    assert all(marquee.catalog.get(c.id).year > second.year for c in result.reply.items)  # "newer"
    assert second.id in result.state.anchor_ids


def test_the_stream_route_sends_the_models_words_as_they_come(llama, demo_deps, demo_workspace, tmp_path):
    from marquee.web import create_app
    from marquee.serving import serve_in_thread
    from test_api import KEYS, key, sse_events, start_conversation

    marquee = Marquee(_settings(demo_workspace, tmp_path, llama.base_url), demo_deps)
    app = create_app(marquee, marquee.settings.model_copy(update={"site_keys": KEYS}), ui=False)
    with serve_in_thread(app) as url, httpx.Client(base_url=url, timeout=300) as client:
        conversation = start_conversation(client)["conversation_id"]
        response = client.post(f"/api/v1/conversations/{conversation}/messages/stream",
                               json={"text": README_DIALOGUE[0]}, headers=key())
        stored = client.get(f"/api/v1/conversations/{conversation}", headers=key()).json()["turns"][0]

    events = sse_events(response)
    names = [name for name, _ in events]
    assert names[0] == "start" and names[-2:] == ["items", "done"] and "text" in names
    assert "".join(data["delta"] for name, data in events if name == "text") == stored["reply"]["text"]
    assert [i["id"] for i in events[-2][1]["items"]] == [i["id"] for i in stored["reply"]["items"]]
    for item in stored["reply"]["items"]:
        found = marquee.catalog.get(item["id"])
        assert "Comedy" in found.genres and 1990 <= found.year <= 1999
        assert "Adam Sandler" not in found.all_people()


def test_the_imaginary_history_is_validated_or_a_clean_fallback(llama, tmp_path_factory):
    from test_cold_start import write_ml100k

    from retrieval.catalog import Catalog
    from retrieval.cold_start import DemographicNeighbourGenerator, DemographicNeighbours
    from retrieval.demographics import Demographics, load_movielens
    from retrieval.llm_history import NOTE_INVALID, NOTE_NO_ANSWER as HISTORY_NO_ANSWER, HistoryVocabulary, \
        LLMHistoryGenerator

    data = load_movielens(write_ml100k(tmp_path_factory.mktemp("data") / "ml-100k"))
    neighbours = DemographicNeighbours.from_ratings(data.users, data.user_ids, data.item_ids, data.ratings,
                                                    data.timestamps)
    catalog = Catalog(data.items.values())
    vocabulary = HistoryVocabulary(catalog)
    settings = Settings(llm_base_url=llama.base_url, llm_model=MODEL_NAME, llm_timeout_s=120)
    generator = LLMHistoryGenerator(
        build_chat_model(settings), neighbours=neighbours, profiles=data.users, items=data.items,
        vocabulary=vocabulary, fallback=DemographicNeighbourGenerator(neighbours, data.items), max_retries=1,
    )

    history = generator.generate(Demographics(age_group="25-34", gender="F", occupation="writer"), n_items=4)

    print(f"history by {history.generator}: {[(i.genres, i.era, i.label) for i in history.items]} {history.notes}")
    assert history.items
    if history.generator == "llm":
        for item in history.items:
            assert set(item.genres) <= set(vocabulary.genres) and item.era in vocabulary.eras
            assert item.label is None or any(i.label == item.label for i in catalog)  # never an invented title
    else:
        assert history.notes[0] in (NOTE_INVALID, HISTORY_NO_ANSWER)
    assert "json_schema" in OUTPUT_MODES.refused(generator.model)  # llama.cpp refuses it: learned, not re-sent


def test_a_timeout_still_answers_the_turn(llama, demo_deps, demo_workspace, tmp_path):
    marquee = Marquee(_settings(demo_workspace, tmp_path, llama.base_url, llm_timeout_s=0.05), demo_deps)

    result = marquee.respond(None, README_DIALOGUE[0])

    _assert_cards_keep_the_request(result, marquee)
    assert len(result.reply.items) == 5
    assert NOTE_NO_ANSWER in result.update.notes and NOTE_FALLBACK in result.reply.notes


def test_a_server_killed_mid_call_still_answers_the_turn(demo_deps, demo_workspace, tmp_path):
    victim = start_server(tmp_path)
    try:
        marquee = Marquee(_settings(demo_workspace, tmp_path, victim.base_url), demo_deps)
        results: list[TurnResult] = []
        turn = threading.Thread(target=lambda: results.append(marquee.respond(None, README_DIALOGUE[0])))
        turn.start()
        time.sleep(0.3)  # the parser's request is on its way or being answered
        victim.kill()
        turn.join(timeout=120)
    finally:
        victim.stop()

    assert results, "the turn did not finish"
    result = results[0]
    _assert_cards_keep_the_request(result, marquee)
    assert len(result.reply.items) == 5 and result.reply.text
    assert NOTE_FALLBACK in result.reply.notes
