"""Hybrid search: BM25 keywords, fuzzy titles and dense vectors over a real Chroma store."""

from __future__ import annotations

from pathlib import Path

import pytest

from marquee.errors import BadInput
from marquee.settings import Settings
from retrieval.catalog import Catalog, Item
from retrieval.encoder import HashingEncoder, load_text_encoder
from retrieval.search import KeywordIndex, hybrid_search, tokenize
from retrieval.store import chroma_where, open_item_store


def make_items() -> list[Item]:
    return [
        Item(id="sw", title="Star Wars", year=1977, genres=["Action", "Adventure", "Sci-Fi"],
             tags=["space", "epic"], people={"directors": ["George Lucas"], "stars": ["Mark Hamill"]},
             n_ratings=250),
        Item(id="nh", title="Notting Hill", year=1999, genres=["Comedy", "Romance"],
             tags=["romantic", "london"], people={"stars": ["Hugh Grant", "Julia Roberts"]}, n_ratings=90),
        Item(id="sh", title="The Shining", year=1980, genres=["Horror"], tags=["stephen king", "hotel"],
             people={"directors": ["Stanley Kubrick"]}, n_ratings=120),
        Item(id="ts", title="Toy Story", year=1995, genres=["Animation", "Children", "Comedy"],
             tags=["pixar", "toys"], n_ratings=215),
        Item(id="ts2", title="Toy Story 2", year=1999, genres=["Animation", "Children", "Comedy"],
             tags=["pixar"], n_ratings=100),
        Item(id="al", title="Alien", year=1979, genres=["Horror", "Sci-Fi"], tags=["space", "creature"],
             people={"directors": ["Ridley Scott"]}, n_ratings=140),
        Item(id="he", title="Heat", year=1995, genres=["Action", "Crime", "Thriller"], tags=["heist"],
             people={"directors": ["Michael Mann"], "stars": ["Al Pacino", "Robert De Niro"]}, n_ratings=110),
        Item(id="he86", title="Heat", year=1986, genres=["Action"], n_ratings=3),
        Item(id="am", title="Amelie", year=2001, genres=["Comedy", "Romance"], tags=["paris", "quirky"],
             n_ratings=120),
        Item(id="zb", title="Dawn of the Dead", year=2004, genres=["Action", "Horror"],
             tags=["zombies", "mall"], description="Survivors of a zombie outbreak hide in a shopping mall.",
             n_ratings=60),
        Item(id="in", title="Inception", year=2010, genres=["Action", "Sci-Fi", "Thriller"],
             tags=["dreams", "mind-bending"], people={"directors": ["Christopher Nolan"]}, n_ratings=200),
    ]


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog(make_items())


@pytest.fixture(scope="module")
def keywords(catalog) -> KeywordIndex:
    return KeywordIndex(catalog)


@pytest.fixture
def hashed(tmp_path: Path, catalog):
    """(store, encoder) with the hashing encoder: search mechanics without a model."""
    encoder = HashingEncoder(dim=64)
    store = open_item_store(Settings(workspace=tmp_path), catalog, encoder, progress=False)
    return store, encoder


@pytest.fixture(scope="module")
def minilm(tmp_path_factory, catalog):
    """(store, encoder) with the real MiniLM model."""
    settings = Settings(workspace=tmp_path_factory.mktemp("minilm"))
    encoder = load_text_encoder(settings)
    return open_item_store(settings, catalog, encoder, progress=False), encoder


# --------------------------------------------------------------------------- keywords


def test_tokenize_folds_drops_stopwords_and_plurals():
    assert tokenize("The ZOMBIES movie, with Amélie!") == ["zombie", "amelie"]


def test_keyword_scores_find_words_in_tags_people_and_descriptions(keywords):
    assert max(keywords.score("zombies"), key=keywords.score("zombies").get) == "zb"
    assert set(keywords.score("shopping mall outbreak")) == {"zb"}
    assert set(keywords.score("Christopher Nolan")) == {"in"}
    assert keywords.score("a movie with the") == {}
    restricted = keywords.score("space", candidate_ids={"al", "nh"})
    assert set(restricted) == {"al"}


def test_a_title_word_outweighs_the_same_word_in_a_tag(catalog):
    extra = Catalog([*make_items(), Item(id="ph", title="Paris", year=2008, genres=["Drama"])])
    top = KeywordIndex(extra).top("paris", 2)
    assert top[0][0] == "ph" and top[1][0] == "am"


def test_title_matches_forgive_typos_and_honour_a_year(keywords):
    assert keywords.title_matches("Toy Sotry")[0][0] == "ts"
    assert keywords.title_matches("the shining")[0][0] == "sh"
    assert keywords.title_matches("Heat")[0][0] == "he"  # the most rated Heat
    assert keywords.title_matches("Heat (1986)")[0][0] == "he86"
    assert keywords.title_matches("Casablanca") == []
    assert keywords.title_matches("") == []


# --------------------------------------------------------------------------- hybrid mechanics


def test_hybrid_search_returns_k_ranked_items_with_a_breakdown(hashed, keywords):
    store, encoder = hashed
    hits = hybrid_search("zombies in a mall", k=3, store=store, encoder=encoder, keywords=keywords)
    assert len(hits) == 3 and hits[0][0] == "zb"
    scores = [score for _, score, _ in hits]
    assert scores == sorted(scores, reverse=True)
    for _, score, parts in hits:
        assert set(parts) == {"dense", "keyword", "popularity"}
        assert all(0.0 <= value <= 1.0 for value in parts.values())
        assert score == pytest.approx(0.7 * parts["dense"] + 0.3 * parts["keyword"] + 0.3 * parts["popularity"])
    assert hits[0][2]["keyword"] == 1.0


def test_hybrid_search_respects_filters(hashed, keywords, catalog):
    store, encoder = hashed
    where = chroma_where(genres_include=["Sci-Fi"], genres_exclude=["Horror"], year_min=1970)
    hits = hybrid_search("space creature horror", k=10, store=store, encoder=encoder,
                         keywords=keywords, where=where)
    assert {i for i, _, _ in hits} == {"sw", "in"}
    nothing = chroma_where(genres_include=["Western"])
    assert hybrid_search("space", k=5, store=store, encoder=encoder, keywords=keywords, where=nothing) == []


def test_popularity_is_a_prior_that_breaks_near_ties(hashed, keywords):
    store, encoder = hashed
    args = dict(store=store, encoder=encoder, keywords=keywords)
    words = hybrid_search("pixar", k=2, popularity_weight=0.0, **args)
    assert {i for i, _, _ in words} == {"ts", "ts2"}
    popular = hybrid_search("pixar", k=2, popularity_weight=5.0, **args)
    assert popular[0][0] == "ts" and popular[0][2]["popularity"] > popular[1][2]["popularity"]


def test_bad_search_calls_are_bad_input(hashed, keywords):
    store, encoder = hashed
    with pytest.raises(BadInput):
        hybrid_search("   ", k=5, store=store, encoder=encoder, keywords=keywords)
    with pytest.raises(BadInput):
        hybrid_search("space", k=0, store=store, encoder=encoder, keywords=keywords)
    with pytest.raises(BadInput):
        hybrid_search("space", k=5, store=store, encoder=encoder, keywords=keywords, popularity_weight=-1.0)


# --------------------------------------------------------------------------- meaning (real model)


@pytest.mark.slow
def test_space_adventure_finds_science_fiction_above_romance(minilm, keywords):
    store, encoder = minilm
    ranked = [i for i, _, _ in hybrid_search("space adventure", k=11, store=store, encoder=encoder,
                                             keywords=keywords)]
    assert ranked[0] == "sw"
    assert ranked.index("al") < ranked.index("nh") and ranked.index("in") < ranked.index("am")


@pytest.mark.slow
def test_meaning_finds_items_that_share_no_word_with_the_query(minilm, keywords):
    store, encoder = minilm
    query = "something frightening to watch"
    assert keywords.score(query) == {}
    hits = hybrid_search(query, k=3, store=store, encoder=encoder, keywords=keywords)
    assert {"sh", "zb", "al"} & {hits[0][0], hits[1][0]}
    assert hits[0][2]["keyword"] == 0.0
    assert keywords.score("a cartoon for little kids") == {}
    cartoons = hybrid_search("a cartoon for little kids", k=2, store=store, encoder=encoder, keywords=keywords,
                             where=chroma_where(year_max=1996))
    assert cartoons[0][0] == "ts"
