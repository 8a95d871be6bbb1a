"""The rule-based simulated user: never names its target, answers from the target's attributes,
critiques wrong lists in the right direction, and the loop counts success and turns."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from fake_openai import HTTPError, fake_openai  # noqa: F401  (fixture)

from chat.schemas import Recommendation, Reply
from evals.simulator import (
    RuleBasedUser, leaks, read_targets_file, run_simulation, sample_targets, title_words,
)
from marquee.errors import BadInput
from retrieval.catalog import Catalog, Item, load_catalog

DEMO = Path(__file__).resolve().parent.parent / "data" / "demo"


@pytest.fixture(scope="module")
def demo_catalog() -> Catalog:
    return load_catalog(DEMO)


def _item(id_: str, title: str, year: int, genres: list[str], **extra) -> Item:
    return Item(id=id_, title=title, year=year, genres=genres, n_ratings=extra.pop("n_ratings", 50), **extra)


@pytest.fixture
def small_catalog() -> Catalog:
    return Catalog([
        _item("t", "Sunny Days in Paris", 2012, ["Comedy", "Romance"], tags=["paris", "charming"],
              people={"stars": ["Ann Lee"], "directors": ["Bo Kim"]}),
        _item("a", "Blood Storm", 1984, ["Action", "War", "Thriller"], tags=["violent", "gory"]),
        _item("b", "Night Killer", 1981, ["Horror", "Thriller"], tags=["dark", "brutal"]),
        _item("c", "Iron Fist", 1986, ["Action", "Crime"]),
        _item("d", "Paris Love", 2011, ["Comedy", "Romance"], people={"stars": ["Ann Lee"]}),
    ])


def _reply(ids: list[str], catalog: Catalog, *, question: bool = False, text: str = "Here you go") -> Reply:
    items = [Recommendation(id=i, title=catalog.get(i).title, year=catalog.get(i).year, genres=catalog.get(i).genres,
                            why="x", reasons=["genre:x"]) for i in ids]
    return Reply(text=text, items=items, question=question)


def test_the_opening_never_contains_a_word_of_the_target_title(demo_catalog):
    targets = sample_targets(demo_catalog, 300, seed=3)
    for n, target in enumerate(targets):
        user = RuleBasedUser(target, demo_catalog, random.Random(n))
        opening = user.opening().text
        assert not leaks(opening, target), (target.label, opening)
        assert target.title.lower() not in opening.lower()


def test_no_later_turn_leaks_the_title_either(demo_catalog):
    for n, target in enumerate(sample_targets(demo_catalog, 60, seed=5)):
        user = RuleBasedUser(target, demo_catalog, random.Random(n))
        user.opening()
        wrong = [i.id for i in list(demo_catalog)[:5] if i.id != target.id]
        for reply in (_reply([], demo_catalog, question=True, text="What kind of movie?"), _reply(wrong, demo_catalog)):
            assert not leaks(user.answer(reply).text, target)


def test_the_opening_describes_the_target_vaguely_from_its_genres(small_catalog):
    user = RuleBasedUser(small_catalog.get("t"), small_catalog, random.Random(1))
    turn = user.opening()
    assert any(word in turn.text for word in ("comedy", "romance"))
    assert "Ann Lee" not in turn.text  # people are kept for later turns
    assert not leaks(turn.text, small_catalog.get("t"))
    assert "paris" not in turn.text.lower()  # the tag "paris" is a title word


def test_questions_are_answered_from_the_target_attributes(small_catalog):
    target = small_catalog.get("t")
    user = RuleBasedUser(target, small_catalog, random.Random(2))
    user.opening()
    era = user.answer(_reply([], small_catalog, question=True, text="Any period in mind, like the 90s or something recent?"))
    assert "recent" in era.text and "era" in era.revealed
    who = user.answer(_reply([], small_catalog, question=True, text="Any actor or director you like?"))
    assert "Ann Lee" in who.text or "Bo Kim" in who.text


def test_wrong_old_violent_lists_get_newer_and_gentler_critiques(small_catalog):
    target = small_catalog.get("t")
    user = RuleBasedUser(target, small_catalog, random.Random(4))
    user.opening()
    turn = user.answer(_reply(["a", "b", "c"], small_catalog))
    critiques = [key for key in turn.revealed if ":" in key]
    assert "recency:more" in critiques or "newer" in turn.text
    assert any(k.startswith(("violence:less", "darkness:less", "genre_out:", "humor:more", "genre:")) for k in critiques)
    assert "older" not in turn.text and "more violent" not in turn.text


def test_a_close_shown_item_is_pointed_at(small_catalog):
    user = RuleBasedUser(small_catalog.get("t"), small_catalog, random.Random(4))
    user.opening()
    turn = user.answer(_reply(["a", "d"], small_catalog))
    assert "more like the second one" in turn.text


class _ScriptedMarquee:
    """Stands in for Marquee: shows fixed lists turn by turn; records what the user said."""

    def __init__(self, catalog: Catalog, lists: list[list[str]]):
        self.catalog = catalog
        self.lists = lists
        self.said: list[str] = []
        self.turn = 0

    def new_conversation(self, **_):
        return "c"

    def respond(self, conversation, utterance, n_items=None):
        from types import SimpleNamespace

        if conversation is None:  # the first-turn probe for recall@10
            return SimpleNamespace(reply=_reply(self.lists[0][:10], self.catalog))
        self.said.append(utterance)
        ids = self.lists[min(self.turn, len(self.lists) - 1)]
        self.turn += 1
        return SimpleNamespace(reply=_reply(ids, self.catalog, question=not ids, text="Which kind?"))


def test_success_is_counted_at_the_turn_the_target_is_shown(small_catalog):
    fake = _ScriptedMarquee(small_catalog, [[], ["a", "b"], ["d", "t"]])
    report = run_simulation(fake, [small_catalog.get("t")], seed=1, max_turns=5)
    data = report.as_json()
    assert data["targets"] == 1
    assert data["success@T"] == 1.0 and data["success@5"] == 1.0
    assert data["avg_turns"] == 3
    assert data["questions_asked"] == 1
    assert data["recall@10_first_turn"] == 0.0
    assert len(fake.said) == 3


def test_a_target_never_shown_is_a_failure_at_max_turns(small_catalog):
    fake = _ScriptedMarquee(small_catalog, [["a", "b", "c"]])
    data = run_simulation(fake, [small_catalog.get("t")], seed=1, max_turns=3).as_json()
    assert data["success@T"] == 0.0 and data["avg_turns"] == 3


def test_targets_are_sampled_reproducibly_from_rated_items(demo_catalog):
    first = sample_targets(demo_catalog, 10, seed=7)
    assert [t.id for t in first] == [t.id for t in sample_targets(demo_catalog, 10, seed=7)]
    assert [t.id for t in first] != [t.id for t in sample_targets(demo_catalog, 10, seed=8)]
    assert all(t.n_ratings >= 20 for t in first)


def test_a_targets_file_names_items_by_id_or_title(demo_catalog, tmp_path):
    path = tmp_path / "targets.txt"
    path.write_text("1\nThe Matrix\n# a comment\nno such movie at all xyz\n\n", encoding="utf-8")
    items, unknown = read_targets_file(path, demo_catalog)
    assert [i.title for i in items] == ["Toy Story", "Matrix, The"] or [i.id for i in items][0] == "1"
    assert len(items) == 2
    assert unknown == ["no such movie at all xyz"]
    empty = tmp_path / "empty.txt"
    empty.write_text("nothing here qq\n", encoding="utf-8")
    with pytest.raises(BadInput):
        read_targets_file(empty, demo_catalog)


def test_title_words_are_folded():
    assert title_words(_item("x", "Léon: The Professional", 1994, ["Action"])) >= {"leon", "professional"}


def test_the_simulation_runs_against_the_real_pipeline(marquee):
    targets = sample_targets(marquee.catalog, 2, seed=11)
    data = run_simulation(marquee, targets, seed=11, max_turns=2).as_json()
    assert data["targets"] == 2
    assert 0.0 <= data["success@T"] <= 1.0
    assert 1.0 <= data["avg_turns"] <= 2.0
    assert set(data) >= {"targets", "success@T", "avg_turns", "recall@10_first_turn", "questions_asked"}


def test_the_llm_user_rephrases_but_never_lets_the_title_through(small_catalog, fake_openai):
    from marquee.llm import build_chat_model
    from evals.simulator import LLMUser
    from marquee.settings import Settings

    model = build_chat_model(Settings(llm_base_url=fake_openai.base_url, llm_model="fake", llm_timeout_s=5))
    target = small_catalog.get("t")
    fake_openai.enqueue("Something light and romantic, maybe a comedy?", "I loved Sunny Days in Paris!",
                        HTTPError(500, "down"))
    user = LLMUser(RuleBasedUser(target, small_catalog, random.Random(1)), model)

    assert user.opening().text == "Something light and romantic, maybe a comedy?"
    leaked = user.answer(_reply(["a", "b"], small_catalog))
    assert not leaks(leaked.text, target) and "Sunny" not in leaked.text  # the rule wording instead
    failed = user.answer(_reply(["c"], small_catalog))
    assert failed.text and not leaks(failed.text, target)
    assert "Never say its title" in fake_openai.requests[0]["messages"][0]["content"]
    brief = fake_openai.requests[0]["messages"][0]["content"].lower()
    assert "sunny" not in brief and "paris" not in brief and "charming" in brief
