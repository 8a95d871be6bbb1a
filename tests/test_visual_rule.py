"""The rule parser marks requests about a look ("a poster like Se7en's") as visual, and only those."""

from __future__ import annotations

import pytest

from chat.rule_parser import RuleParser
from retrieval.catalog import Catalog, Item


@pytest.fixture(scope="module")
def parser() -> RuleParser:
    items = [
        Item(id="47", title="Seven (a.k.a. Se7en)", year=1995, genres=["Thriller", "Crime"], n_ratings=200),
        Item(id="541", title="Blade Runner", year=1982, genres=["Sci-Fi"], n_ratings=200),
        Item(id="1", title="Toy Story", year=1995, genres=["Comedy", "Children"], n_ratings=200),
        Item(id="2", title="Unforgiven", year=1992, genres=["Western"], n_ratings=150),
    ]
    return RuleParser(Catalog(items))


@pytest.mark.parametrize("text, anchor", [
    ("something with a dark, gritty look like Se7en's poster", "47"),
    ("a poster like Blade Runner", "541"),
    ("anything that looks like Blade Runner?", "541"),
    ("visually similar to Toy Story", "1"),
    ("a dark gritty look", None),
])
def test_requests_about_a_look_are_visual(parser, text, anchor):
    update = parser.parse(text)
    assert update.visual, text
    assert [t.item_id for t in update.titles_like] == ([anchor] if anchor else [])
    assert "poster" not in update.query and "look" not in update.query


@pytest.mark.parametrize("text", [
    "I'm looking for a comedy", "take a look at westerns", "something like Blade Runner",
    "a movie that looks fun", "I look forward to a thriller",
])
def test_other_requests_are_not(parser, text):
    assert not parser.parse(text).visual
