"""A restart reads the keyword index and the similarity model the first start built and saved,
answers exactly as the built ones do, and never reads files built from another catalog."""

from __future__ import annotations

import numpy as np
import pytest

from evals.scale_catalog import synthetic_items
from retrieval.catalog import Catalog
from retrieval.saved import catalog_fingerprint
from retrieval.search import KeywordIndex
from retrieval.similarity import ItemSimilarity


def _catalog(n: int = 2000, seed: int = 3) -> Catalog:
    return Catalog(synthetic_items(n, seed=seed))


def test_a_saved_similarity_model_answers_like_the_built_one(tmp_path):
    catalog = _catalog()
    users = [f"u{n % 30}" for n in range(400)]
    liked = [f"s{(n * 13) % 200}" for n in range(400)]
    stories = np.random.default_rng(1).normal(size=(50, 8)).astype(np.float32)
    built = ItemSimilarity(catalog, likes=(users, liked), story=([f"s{n}" for n in range(50)], stories))
    key = catalog_fingerprint(catalog)
    built.save(tmp_path / "similarity.npz", key)

    again = Catalog(synthetic_items(2000, seed=3))  # the next start reads the same catalog again
    loaded = ItemSimilarity.load(tmp_path / "similarity.npz", again, catalog_fingerprint(again))
    assert loaded is not None
    for anchors in (["s0"], ["s7", "s120"], ["s1999"]):
        assert loaded.similar(anchors, 100) == built.similar(anchors, 100)
    assert loaded.similar(["s5"], 30, allowed={"s1", "s9", "s40"}) == built.similar(["s5"], 30, allowed={"s1", "s9", "s40"})
    for name, values in built.components("s3").items():
        assert np.array_equal(loaded.components("s3")[name], values), name
    vector = stories[4]
    assert loaded.story_relevance(vector) == built.story_relevance(vector)


def test_a_model_without_likes_or_stories_round_trips_too(tmp_path):
    catalog = _catalog(500)
    built = ItemSimilarity(catalog)
    built.save(tmp_path / "s.npz", "k")
    loaded = ItemSimilarity.load(tmp_path / "s.npz", catalog, "k")
    assert loaded.similar(["s2"], 50) == built.similar(["s2"], 50)
    assert loaded.story_cosines(np.ones(8)) is None


def test_a_saved_keyword_index_answers_like_the_built_one(tmp_path):
    catalog = _catalog()
    built = KeywordIndex(catalog)
    built.save(tmp_path / "keywords.npz", "key")
    loaded = KeywordIndex.load(tmp_path / "keywords.npz", catalog, "key")
    assert loaded is not None
    for query in ("dark night", "Director 12", "tag40 summer", "nothing-known-here"):
        assert loaded.top(query, 50) == built.top(query, 50)
        assert loaded.score(query, ["s1", "s2", "s3"]) == built.score(query, ["s1", "s2", "s3"])
    title = catalog.items["s10"].title
    assert loaded.title_matches(title) == built.title_matches(title)
    assert np.array_equal(loaded.popularity(["s4", "nope"]), built.popularity(["s4", "nope"]))


def test_files_built_from_another_catalog_are_not_read(tmp_path):
    catalog = _catalog(300)
    key = catalog_fingerprint(catalog)
    KeywordIndex(catalog).save(tmp_path / "keywords.npz", key)
    ItemSimilarity(catalog).save(tmp_path / "similarity.npz", key)

    changed = list(catalog)
    changed[5] = changed[5].model_copy(update={"tags": ["a new tag"]})
    other = Catalog(changed)
    assert catalog_fingerprint(other) != key
    assert KeywordIndex.load(tmp_path / "keywords.npz", other, catalog_fingerprint(other)) is None
    assert ItemSimilarity.load(tmp_path / "similarity.npz", other, catalog_fingerprint(other)) is None
    assert ItemSimilarity.load(tmp_path / "keywords.npz", catalog, key) is None  # another kind of file
    assert KeywordIndex.load(tmp_path / "missing.npz", catalog, key) is None


def test_the_app_reads_what_its_first_start_saved_and_rebuilds_a_damaged_file(demo_deps, demo_workspace, monkeypatch,
                                                                             caplog):
    from marquee.startup import load_deps
    from marquee.settings import Settings

    settings = Settings(workspace=demo_workspace)
    keywords_file, similarity_file = demo_workspace / "keywords.npz", demo_workspace / "similarity.npz"
    assert keywords_file.exists() and similarity_file.exists()  # the first start (demo_deps) saved both

    def never(*_args, **_kwargs):
        raise AssertionError("built again although a saved copy was current")

    with monkeypatch.context() as patched:
        patched.setattr(KeywordIndex, "__init__", never)
        patched.setattr(ItemSimilarity, "__init__", never)
        restarted = load_deps(settings, progress=False)
    assert restarted.keywords.top("toy story", 10) == demo_deps.keywords.top("toy story", 10)
    anchor = demo_deps.catalog.ids[0]
    again, first = restarted.similarity.similar([anchor], 50), demo_deps.similarity.similar([anchor], 50)
    # the same items in the same order, scores equal to 1e-6: the story vectors are normalised and
    # compared with float32 BLAS products, whose last bits differed between the two in a whole-suite
    # run (the cause was not pinned down; alone, they agree bit for bit)
    assert [(like.item_id, like.anchor_id) for like in again] == [(like.item_id, like.anchor_id) for like in first]
    for mine, theirs in zip(again, first):
        assert mine.score == pytest.approx(theirs.score, abs=1e-6)
        assert mine.parts == pytest.approx(theirs.parts, abs=1e-6)

    keywords_file.write_bytes(b"not an npz file")  # damaged: rebuilt with a warning, then saved afresh
    repaired = load_deps(settings, progress=False)
    assert repaired.keywords.top("toy story", 10) == demo_deps.keywords.top("toy story", 10)
    assert "building it again" in caplog.text
    assert KeywordIndex.load(keywords_file, demo_deps.catalog, catalog_fingerprint(demo_deps.catalog)) is not None
