"""The LLM parser's answer reconciled with the rule parser's: a valid answer is not a right answer.

These are the wrong-but-valid answers a small real model gave (issue 15): the rule parser's
confident reading must stand, the model may only add what the message shows, and the user is
told when the model's reading was set aside.
"""

from __future__ import annotations

import pytest
from fake_openai import FakeOpenAI, fake_openai  # noqa: F401  (fixture)

from chat.llm_parser import LLMParser
from chat.parser import ParseContext
from chat.reconcile import NOTE_DISAGREED, reconcile
from chat.rule_parser import RuleParser
from chat.schemas import Critique, PreferenceUpdate, TitleRef
from marquee.llm import build_chat_model
from marquee.settings import Settings
from retrieval.catalog import Catalog, Item

ROWS = [
    ("1", "Clerks", 1994, ["Comedy"], ["Kevin Smith"]),
    ("2", "Groundhog Day", 1993, ["Comedy", "Romance"], ["Bill Murray"]),
    ("3", "The Big Lebowski", 1998, ["Comedy", "Crime"], ["Jeff Bridges"]),
    ("4", "Inception", 2010, ["Action", "Sci-Fi", "Thriller"], ["Leonardo DiCaprio"]),
    ("5", "Pulp Fiction", 1994, ["Comedy", "Crime", "Drama"], ["John Travolta"]),
    ("6", "The Shining", 1980, ["Horror"], ["Jack Nicholson"]),
    ("7", "Paddington", 2014, ["Children", "Comedy"], ["Ben Whishaw"]),
]


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog([Item(id=i, title=t, year=y, genres=g, people={"stars": p}, n_ratings=100 - int(i))
                    for i, t, y, g, p in ROWS])


@pytest.fixture(scope="module")
def rules(catalog: Catalog) -> RuleParser:
    return RuleParser(catalog)


def _disagreed(update: PreferenceUpdate) -> str:
    notes = [n for n in update.notes if n.startswith(NOTE_DISAGREED.split("{")[0])]
    assert len(notes) == 1, update.notes
    return notes[0]


def test_an_invented_title_genre_and_decade_are_set_aside(rules: RuleParser) -> None:
    said = "something like Inception"
    model = PreferenceUpdate(intent="recommend", titles_like=[TitleRef(text="Pulp Fiction", item_id="5")],
                             genres_include=["Comedy"], year_min=1990, year_max=1999, keywords=["mind-bending"])

    update = reconcile(rules.parse(said, ParseContext()), model, said)

    assert [t.item_id for t in update.titles_like] == ["4"]
    assert update.genres_include == [] and update.year_min is None and update.year_max is None
    assert "mind-bending" in update.keywords  # a theme: the model's to add
    note = _disagreed(update)
    assert "titles" in note and "years" in note and "genres" in note


def test_a_reference_to_a_shown_item_stays_the_one_the_user_meant(rules: RuleParser, catalog: Catalog) -> None:
    said = "more like the second one, but newer"
    shown = [catalog.get("1"), catalog.get("2"), catalog.get("3")]
    context = ParseContext(shown=shown)
    model = PreferenceUpdate(intent="refine", titles_like=[TitleRef(text="Clerks", item_id="1")],
                             refers_to_shown=[1], year_min=1990, year_max=1999)

    update = reconcile(rules.parse(said, context), model, said)

    assert update.refers_to_shown == [2] and update.titles_like == []
    assert Critique(attribute="recency", direction="more") in update.critiques
    assert update.year_min is None and update.year_max is None
    assert "which shown items are meant" in _disagreed(update)


def test_a_greeting_stays_a_greeting(rules: RuleParser) -> None:
    model = PreferenceUpdate(intent="feedback", feedback="liked", genres_include=["Drama", "Horror"])

    update = reconcile(rules.parse("hi", ParseContext()), model, "hi")

    assert update.intent == "greet" and update.genres_include == [] and update.feedback is None
    assert "what the message asks for" in _disagreed(update)


def test_a_ruled_out_genre_is_never_wanted(rules: RuleParser) -> None:
    said = "no horror please, something funny"
    model = PreferenceUpdate(intent="recommend", genres_include=["Horror", "Comedy"])

    update = reconcile(rules.parse(said, ParseContext()), model, said)

    assert "Horror" in update.genres_exclude and "Horror" not in update.genres_include
    assert "what is ruled out" in _disagreed(update)


def test_the_model_adds_what_the_rules_could_not_read(rules: RuleParser) -> None:
    said = "I need something that will make me laugh after a long week"
    model = PreferenceUpdate(intent="recommend", genres_include=["Comedy"], keywords=["light-hearted", "uplifting"])

    update = reconcile(rules.parse(said, ParseContext()), model, said)

    assert update.intent in ("recommend", "refine")
    assert update.genres_include == []  # a reading, not something said: a soft preference, not a filter
    assert {"comedy", "light-hearted", "uplifting"} <= set(update.keywords)
    assert not any(n.startswith(NOTE_DISAGREED[:20]) for n in update.notes)


def test_a_year_or_runtime_the_rules_missed_counts_only_when_it_is_written(rules: RuleParser) -> None:
    said = "a short one, under 90 minutes"
    model = PreferenceUpdate(intent="recommend", year_max=1990, runtime_max=90)

    update = reconcile(PreferenceUpdate(intent="recommend"), model, said)

    assert update.runtime_max == 90 and update.year_max is None


def test_a_person_or_title_the_model_names_must_be_in_the_message(rules: RuleParser) -> None:
    said = "a crime comedy with jef bridges"
    model = PreferenceUpdate(intent="recommend", people_include=["Jeff Bridges", "John Travolta"],
                             titles_like=[TitleRef(text="The Big Lebowski", item_id="3")])

    update = reconcile(rules.parse(said, ParseContext()), model, said)

    assert "John Travolta" not in update.people_include and update.titles_like == []
    assert "Jeff Bridges" in update.people_include


def test_the_llm_parser_returns_the_reconciled_reading(fake_openai: FakeOpenAI, catalog: Catalog) -> None:
    fake_openai.enqueue({"intent": "recommend", "titles_like": ["Pulp Fiction"], "genres_include": ["Comedy"],
                         "year_min": 1990, "year_max": 1999})
    model = build_chat_model(Settings(llm_base_url=fake_openai.base_url, llm_model="m", llm_timeout_s=5))
    parser = LLMParser(model, catalog, fallback=RuleParser(catalog))

    update = parser.parse("something like Inception", ParseContext())

    assert [t.text for t in update.titles_like] == ["Inception"] and update.year_min is None
    assert update.genres_include == [] and _disagreed(update)
    assert parser.last_attempts[0].error is None  # the answer was valid: it was the reading that was wrong
