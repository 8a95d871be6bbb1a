"""The LLM history generator against a real OpenAI-compatible HTTP server on loopback.

A caller asks for an imaginary history for a demographic profile and must get one whose
attributes are in the catalog's vocabulary: from the model when it answers well (after re-asking
when it invents a genre or an era), from the offline generator, with a note saying so, when the
endpoint is slow, down or keeps answering garbage. Histories are cached by profile.
"""

from __future__ import annotations

import json
import time

import pytest
from fake_openai import Delay, FakeOpenAI, HTTPError, fake_openai  # noqa: F401  (fixture)
from test_cold_start import write_ml100k

from marquee.llm import build_chat_model
from retrieval.catalog import Catalog
from retrieval.cf import fit_cf
from retrieval.cold_start import (
    AttributeMatcher, ColdStartPolicy, ColdStartRanker, DemographicNeighbourGenerator, DemographicNeighbours,
    HistoryGenerator,
)
from retrieval.demographics import Demographics, load_movielens
from retrieval.llm_history import (
    NOTE_INVALID, NOTE_NO_ANSWER, NOTE_RESTING, HistoryVocabulary, LLMHistoryGenerator, parse_history,
)
from marquee.settings import Settings

OLD = Demographics(age_group="56+", occupation="retired")
YOUNG = Demographics(age_group="18-24", occupation="college/grad student")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return load_movielens(write_ml100k(tmp_path_factory.mktemp("data") / "ml-100k"))


@pytest.fixture(scope="module")
def parts(data):
    neighbours = DemographicNeighbours.from_ratings(data.users, data.user_ids, data.item_ids, data.ratings,
                                                    data.timestamps)
    catalog = Catalog(data.items.values())
    return {"neighbours": neighbours, "catalog": catalog, "vocabulary": HistoryVocabulary(catalog),
            "offline": DemographicNeighbourGenerator(neighbours, data.items)}


def make_generator(server: FakeOpenAI, data, parts, *, timeout: float = 5.0, cache_path=None,
                   max_retries: int = 2) -> LLMHistoryGenerator:
    settings = Settings(llm_base_url=server.base_url, llm_model="test-model", llm_timeout_s=timeout)
    return LLMHistoryGenerator(
        build_chat_model(settings), neighbours=parts["neighbours"], profiles=data.users, items=data.items,
        vocabulary=parts["vocabulary"], fallback=parts["offline"], cache_path=cache_path, max_retries=max_retries,
    )


def answer(*items: dict) -> dict:
    return {"items": list(items)}


DRAMA = {"genres": ["drama", "War"], "era": "1950s", "keywords": ["heartfelt"]}
TOON = {"genres": ["Animation", "Comedy"], "era": "1990's"}


def sent(server: FakeOpenAI, request: int = 0) -> tuple[str, str]:
    messages = server.requests[request]["messages"]
    return messages[0]["content"], messages[-1]["content"]


def test_a_valid_answer_becomes_an_imaginary_history_in_the_catalogs_words(fake_openai, data, parts):
    fake_openai.enqueue(answer(DRAMA, TOON, {"genres": ["War"], "era": "1955", "title": "Drama Picture 33"}))
    generator = make_generator(fake_openai, data, parts)
    assert isinstance(generator, HistoryGenerator)

    history = generator.generate(OLD, n_items=5, seed=1)

    assert history.generator == "llm" and history.notes == []
    assert [(i.position, i.genres, i.era) for i in history.items] == [
        (0, ["Drama", "War"], "1950s"), (1, ["Animation", "Comedy"], "1990s"), (2, ["War"], "1950s")]
    assert history.items[0].keywords == ["heartfelt"]
    assert history.items[2].label == "Drama Picture 33 (1952)"  # a real catalog title is kept
    system, user = sent(fake_openai)
    assert all(g in system for g in ("Animation", "Comedy", "Drama", "War")) and "1950s, 1990s" in system
    assert "New user: 56+, retired." in user and "Write 5 imaginary items" in user
    # the in-context examples are real users alike: retired people over 56 and what they liked first
    assert user.count("56+") >= 3 and "retired" in user and "Drama Picture" in user
    schema = fake_openai.requests[0]["response_format"]["json_schema"]["schema"]  # the answer's shape, enforced
    item = schema["properties"]["items"]["items"]["properties"]
    assert item["genres"]["items"]["enum"] == parts["vocabulary"].genres and item["era"]["enum"] == ["1950s", "1990s"]


def test_an_invented_genre_is_sent_back_and_the_corrected_answer_is_used(fake_openai, data, parts):
    fake_openai.enqueue(answer({"genres": ["Space Opera"], "era": "1990s"}, DRAMA), answer(DRAMA))
    generator = make_generator(fake_openai, data, parts)

    history = generator.generate(YOUNG, n_items=3, seed=1)

    assert [i.genres for i in history.items] == [["Drama", "War"]]
    assert len(fake_openai.requests) == 2
    retry = fake_openai.requests[1]["messages"]
    assert retry[-2]["role"] == "assistant" and "Space Opera" in retry[-2]["content"]
    assert "'Space Opera'" in retry[-1]["content"] and "Genres ONLY from" in retry[-1]["content"]


def test_an_invented_era_is_sent_back(fake_openai, data, parts):
    fake_openai.enqueue(answer({"genres": ["Drama"], "era": "2080s"}), answer({"genres": ["Drama"], "era": "1950s"}))
    history = make_generator(fake_openai, data, parts).generate(OLD, n_items=3, seed=2)
    assert [i.era for i in history.items] == ["1950s"]
    assert "2080s" in fake_openai.requests[1]["messages"][-1]["content"]


def test_invented_titles_are_dropped_with_a_note_and_their_attributes_kept(fake_openai, data, parts):
    fake_openai.enqueue(answer({**DRAMA, "title": "The Imaginary Epic of 1953"}, TOON))
    history = make_generator(fake_openai, data, parts).generate(OLD, n_items=3, seed=3)
    assert [i.label for i in history.items] == [None, None]
    assert history.items[0].genres == ["Drama", "War"]
    assert len(history.notes) == 1 and "not in the catalog" in history.notes[0]
    assert "The Imaginary Epic of 1953" in history.notes[0]


def test_garbage_is_re_asked_a_bounded_number_of_times_then_the_offline_generator_answers(fake_openai, data, parts):
    fake_openai.enqueue("Sure! Here are some movies: Casablanca, Ben-Hur", '["not", "an object"]',
                        {"items": "none"})
    generator = make_generator(fake_openai, data, parts, max_retries=2)

    history = generator.generate(OLD, n_items=10, seed=4)

    assert len(fake_openai.requests) == 3
    assert history.generator == parts["offline"].name
    assert history.notes[0] == NOTE_INVALID
    assert history.items == parts["offline"].generate(OLD, n_items=10, seed=4).items


def test_a_timeout_falls_back_at_once_and_the_endpoint_rests(fake_openai, data, parts):
    fake_openai.enqueue(Delay(3.0, {"items": [DRAMA]}))
    generator = make_generator(fake_openai, data, parts, timeout=0.5)

    started = time.perf_counter()
    first = generator.generate(OLD, n_items=5, seed=5, variant=0)
    second = generator.generate(OLD, n_items=5, seed=5, variant=1)

    assert time.perf_counter() - started < 2.5
    assert first.notes[0] == NOTE_NO_ANSWER and first.generator == parts["offline"].name and first.items
    assert second.notes[0] == NOTE_RESTING and second.items
    assert len(fake_openai.requests) == 1  # the second variant did not wait for another timeout


def test_server_errors_are_retried_then_fall_back(fake_openai, data, parts):
    fake_openai.enqueue(HTTPError(503, "overloaded"), answer(DRAMA))
    history = make_generator(fake_openai, data, parts).generate(OLD, n_items=3, seed=6)
    assert history.generator == "llm" and len(fake_openai.requests) == 2

    fake_openai.enqueue(*[HTTPError(500)] * 6)
    history = make_generator(fake_openai, data, parts).generate(YOUNG, n_items=3, seed=6)
    # 3 attempts; a 500 to json_schema may be a refusal (llama.cpp's), so each also tries json_object once
    assert history.notes[0] == NOTE_NO_ANSWER and len(fake_openai.requests) == 8


def test_histories_are_cached_by_profile_in_memory_and_in_the_workspace(fake_openai, data, parts, tmp_path):
    cache = tmp_path / "cache" / "histories.json"
    fake_openai.enqueue(answer(DRAMA), answer(TOON))
    generator = make_generator(fake_openai, data, parts, cache_path=cache)

    first = generator.generate(OLD, n_items=3, seed=7)
    assert generator.generate(OLD, n_items=3, seed=7) == first
    other = generator.generate(YOUNG, n_items=3, seed=7)
    assert other.items[0].genres == ["Animation", "Comedy"]
    assert len(fake_openai.requests) == 2

    restarted = make_generator(fake_openai, data, parts, cache_path=cache)
    assert restarted.generate(OLD, n_items=3, seed=7) == first
    assert len(fake_openai.requests) == 2
    assert len(json.loads(cache.read_text())["histories"]) == 2


def test_fallback_histories_are_not_written_to_the_cache_file(fake_openai, data, parts, tmp_path):
    cache = tmp_path / "histories.json"
    fake_openai.enqueue("garbage", "garbage", "garbage")
    make_generator(fake_openai, data, parts, cache_path=cache).generate(OLD, n_items=3, seed=8)
    assert not cache.exists()


def test_a_corrupt_cache_file_is_ignored(fake_openai, data, parts, tmp_path):
    cache = tmp_path / "histories.json"
    cache.write_text("{not json")
    fake_openai.enqueue(answer(DRAMA))
    history = make_generator(fake_openai, data, parts, cache_path=cache).generate(OLD, n_items=3, seed=9)
    assert history.generator == "llm"
    assert json.loads(cache.read_text())["version"] == 1


def test_parse_history_cuts_extra_items_and_names_every_problem(parts):
    vocabulary = parts["vocabulary"]
    items, notes = parse_history(json.dumps(answer(DRAMA, TOON, DRAMA)), vocabulary, n_items=2)
    assert len(items) == 2 and notes == []
    with pytest.raises(ValueError, match="genres"):
        parse_history(json.dumps(answer({"era": "1950s"})), vocabulary, n_items=2)


def test_the_ranker_serves_a_list_from_llm_histories(fake_openai, data, parts):
    replies = [answer(DRAMA, DRAMA, {"genres": ["War"], "era": "1950s"}) for _ in range(3)]
    fake_openai.enqueue(*replies)
    generator = make_generator(fake_openai, data, parts)
    model = fit_cf(data.user_ids, data.item_ids, data.ratings)
    policy = ColdStartPolicy(n_items=5, n_variants=3, demographic_initial=0.0)  # the imaginary part alone
    ranker = ColdStartRanker(model, parts["neighbours"], generator, AttributeMatcher(data.items.values()),
                             sorted(data.items), policy)

    top = ranker.recommend(YOUNG, {}, k=10)  # young, but the model imagined old dramas

    assert len(fake_openai.requests) == 3
    assert sum("Drama" in data.items[i].genres for i, _ in top) >= 8


def test_the_cold_start_eval_adds_llm_rows_only_when_an_endpoint_is_configured(fake_openai, tmp_path):
    from evals.cold_start import LLM_METHODS, METHODS, run_cold_start_eval

    folder = write_ml100k(tmp_path / "ml-100k")
    without = run_cold_start_eval(folder, seed=7)
    measured = [m for m in METHODS if m in without["results"]]  # the shipped model knows none of these films
    assert measured == [m for m in METHODS if m != "shipped"]

    fake_openai.enqueue(*[answer(DRAMA, TOON, DRAMA) for _ in range(400)])
    settings = Settings(llm_base_url=fake_openai.base_url, llm_model="test-model", workspace=tmp_path / "ws")
    with_llm = run_cold_start_eval(folder, seed=7, settings=settings)

    assert list(with_llm["results"]) == measured + list(LLM_METHODS)
    for method in LLM_METHODS:
        assert list(with_llm["results"][method]) == ["0", "1", "3", "5"]
        assert all(0.0 <= v <= 1.0 for figures in with_llm["results"][method].values() for v in figures.values())
    for method in ("popularity", "demographic_popularity", "cf", "early_fusion", "late_fusion"):
        assert with_llm["results"][method] == without["results"][method]
    # one request per (test profile, variant): histories are cached by demographic profile
    profiles = {r["messages"][-1]["content"].split("New user: ")[1] for r in fake_openai.requests}
    assert len(profiles) >= 2 and len(fake_openai.requests) == 10 * len(profiles)
    assert (tmp_path / "ws" / "cache" / "cold_start_eval_ml-100k_seed7.json").is_file()
