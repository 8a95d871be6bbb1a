"""Browsing by popularity skips, in one vector operation, the items that certainly break a hard
constraint; what it returns must be exactly what checking every item one by one returns."""

from __future__ import annotations

import random

import numpy as np
import pytest

from chat.schemas import PreferenceState
from retrieval.relevance import SURPRISE, hidden_gem, popularity_prior
from tools.filtering import FactColumns, check_item
from tools.retrieve import _browse, by_popularity, hidden_gem_order, popularity_key, popularity_order

STATES = [
    {},
    {"genres_include": ["Comedy"], "year_min": 1990, "year_max": 1999, "people_exclude": ["Tom Cruise"]},
    {"genres_include": ["Comedy", "Romance"]},
    {"genres_include": ["Sci-Fi"], "genres_exclude": ["Horror", "Action"]},
    {"runtime_max": 90, "audience": "kids"},
    {"runtime_min": 150},
    {"audience": "adults", "genres_exclude": ["Drama"]},
    {"people_include": ["Clint Eastwood"], "genres_include": ["Western"]},
    {"people_include": ["Christopher Nolan"], "year_min": 2005},
    {"keywords": ["not sequel"], "genres_include": ["Action"]},
    {"keywords": [SURPRISE], "genres_include": ["Drama"], "year_max": 1980},
    {"genres_include": ["No Such Genre"]},
]


def one_by_one(deps, state: PreferenceState, k: int) -> list[str]:
    """The reference: every item in browsing order, checked against the constraints."""
    pool = by_popularity(deps)
    if SURPRISE in state.keywords:
        pool = sorted(pool, key=lambda it: -hidden_gem(it.n_ratings, it.mean_rating))
    return [item.id for item in pool if check_item(item, state)[0]][:k]


@pytest.mark.parametrize("constraints", STATES)
def test_browsing_returns_what_checking_every_item_returns(demo_deps, constraints):
    state = PreferenceState(**constraints)
    found = _browse(demo_deps, state, 150)
    assert [c.id for c in found] == one_by_one(demo_deps, state, 150)
    assert all(c.score == popularity_prior(demo_deps.catalog.get(c.id).n_ratings,
                                           demo_deps.catalog.get(c.id).mean_rating) for c in found)


def test_the_vector_test_never_drops_an_item_the_constraints_allow(demo_deps):
    items = list(demo_deps.catalog)
    facts = FactColumns.of(items)
    rng = random.Random(3)
    genres = demo_deps.catalog.genres
    for _ in range(60):
        state = PreferenceState(
            genres_include=rng.sample(genres, rng.choice([0, 0, 1, 2])),
            genres_exclude=rng.sample(genres, rng.choice([0, 1])),
            year_min=rng.choice([None, 1950, 1995]), year_max=rng.choice([None, 1985, 2010]),
            runtime_min=rng.choice([None, 80]), runtime_max=rng.choice([None, 100, 130]),
            audience=rng.choice([None, "kids", "adults"]),
        )
        may = facts.may_pass(state)
        allowed = [check_item(item, state)[0] for item in items]
        assert not any(a and not m for a, m in zip(allowed, may)), state
        # and it decides these constraints fully: nothing it lets through fails them
        assert [bool(m) for m in may] == allowed, state


def assert_same_facts(a: FactColumns, b: FactColumns) -> None:
    np.testing.assert_array_equal(a.years, b.years)
    np.testing.assert_array_equal(a.runtimes, b.runtimes)
    np.testing.assert_array_equal(a.has_genres, b.has_genres)
    assert a.genres.keys() == b.genres.keys() and a.audiences.keys() == b.audiences.keys()
    for genre in a.genres:
        np.testing.assert_array_equal(a.genres[genre], b.genres[genre])
    for audience in a.audiences:
        np.testing.assert_array_equal(a.audiences[audience], b.audiences[audience])


def test_the_browse_orders_are_stable_sorts_by_popularity_and_by_hidden_gem(demo_deps):
    """The orders are sorted as arrays; they must be exactly Python's stable sorts by the keys,
    ties (here: many items with the same ratings, and items without any) in their input order."""
    base = list(demo_deps.catalog)[:400]
    tied = [item.model_copy(update={"id": f"{item.id}-tied", "n_ratings": 12, "mean_rating": 4.0})
            for item in base[:40]]
    unrated = [item.model_copy(update={"id": f"{item.id}-unrated", "n_ratings": 0, "mean_rating": None})
               for item in base[40:60]]
    items = [*base, *tied, *unrated]
    random.Random(5).shuffle(items)
    facts = FactColumns.of(items)

    popular = popularity_order(items, facts)
    expected = sorted(items, key=popularity_key)
    assert [item.id for item in popular.items] == [item.id for item in expected]
    assert_same_facts(popular.facts, FactColumns.of(expected))
    rank = {item.id: n for n, item in enumerate(expected)}
    assert popular.position == rank

    gems = hidden_gem_order(items, facts, popular)
    expected = sorted(items, key=lambda it: (-hidden_gem(it.n_ratings, it.mean_rating), rank[it.id]))
    assert [item.id for item in gems.items] == [item.id for item in expected]
    assert_same_facts(gems.facts, FactColumns.of(expected))
