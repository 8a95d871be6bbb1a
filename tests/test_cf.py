"""The collaborative model, as the similar/rank tools and the app use it."""

from __future__ import annotations

import numpy as np
import pytest

from marquee.errors import BadInput, CatalogError
from retrieval import cf
from retrieval.cf import CFModel, fit_cf, load_or_fit, read_ratings_csv

A_ITEMS = [f"a{i}" for i in range(6)]
B_ITEMS = [f"b{i}" for i in range(6)]


def two_taste_ratings(seed: int = 0) -> tuple[list[str], list[str], list[float]]:
    """40 users who love the a-items and 40 who love the b-items; each dislikes a few of the other kind."""
    rng = np.random.default_rng(seed)
    users, items, ratings = [], [], []
    for u in range(80):
        mine, other = (A_ITEMS, B_ITEMS) if u < 40 else (B_ITEMS, A_ITEMS)
        rows = [(item, float(rng.choice([4.0, 4.5, 5.0]))) for item in rng.choice(mine, 4, replace=False)]
        rows += [(item, float(rng.choice([1.0, 2.0]))) for item in rng.choice(other, 2, replace=False)]
        for item, rating in rows:
            users.append(f"u{u}")
            items.append(str(item))
            ratings.append(rating)
    return users, items, ratings


@pytest.mark.parametrize("kind", ["ease", "itemknn"])
def test_similar_items_come_from_the_same_taste_and_exclude_the_query(kind):
    model = fit_cf(*two_taste_ratings(), kind=kind, min_item_ratings=1)
    similar = model.similar(["a0"], k=4)
    assert similar, "a liked item must have neighbours"
    assert "a0" not in similar
    assert set(similar) <= set(A_ITEMS)
    assert list(similar.values()) == sorted(similar.values(), reverse=True)


@pytest.mark.parametrize("kind", ["ease", "itemknn"])
def test_score_ranks_the_liked_taste_first_and_leaves_out_the_history(kind):
    model = fit_cf(*two_taste_ratings(), kind=kind, min_item_ratings=1)
    scores = model.score({"a0": 1.0, "a1": 1.0, "b0": -1.0})
    assert "a0" not in scores and "b0" not in scores
    ranked = sorted(scores, key=scores.get, reverse=True)
    assert set(ranked[:4]) == set(A_ITEMS) - {"a0", "a1"}
    vector = model.score_vector({"a0": 1.0})
    assert vector.shape == (len(model.item_ids),)


def test_a_dislike_pushes_its_neighbours_down():
    model = fit_cf(*two_taste_ratings(), min_item_ratings=1)
    neutral = model.score({"a0": 1.0})
    with_dislike = model.score({"a0": 1.0, "b1": -1.0})
    assert all(with_dislike[b] < neutral[b] for b in B_ITEMS if b != "b1")


def test_only_liked_ratings_count_by_default_and_every_rating_can_be_asked_for():
    users, items, ratings = two_taste_ratings()
    liked_only = fit_cf(users, items, ratings, min_item_ratings=1)
    every = fit_cf(users, items, ratings, min_item_ratings=1, positive_threshold=0.0)
    assert liked_only.params["positive_threshold"] == 4.0
    # all 12 items are liked by someone; popularity counts what the model counts
    assert liked_only.popularity["a0"] > 0 and max(liked_only.popularity.values()) == 1.0
    assert every.popularity_counts.sum() == len(ratings)
    assert liked_only.popularity_counts.sum() == sum(r >= 4 for r in ratings)


def test_rare_items_are_left_out_of_the_model_but_keep_their_popularity():
    users, items, ratings = two_taste_ratings()
    users, items, ratings = users + ["u0"], items + ["rare"], ratings + [5.0]
    model = fit_cf(users, items, ratings, min_item_ratings=3)
    assert "rare" not in model.item_ids
    assert model.popularity["rare"] > 0
    assert model.similar(["rare"], k=3) == {}
    assert model.score({"rare": 1.0}) == {item: 0.0 for item in model.item_ids}


def test_numeric_ids_are_read_as_strings():
    model = fit_cf([1, 1, 2, 2, 3, 3], [10, 20, 10, 20, 10, 20], np.full(6, 5.0), min_item_ratings=1)
    assert model.item_ids == ["10", "20"]
    assert list(model.similar(["10"], k=1)) == ["20"]


def test_bad_input_is_refused_clearly():
    with pytest.raises(BadInput, match="same length"):
        fit_cf(["u1", "u2"], ["i1"], [5.0, 4.0])
    with pytest.raises(BadInput, match="kind"):
        fit_cf(*two_taste_ratings(), kind="svd")  # type: ignore[arg-type]
    with pytest.raises(BadInput, match="no interactions"):
        fit_cf(["u1"], ["i1"], [1.0])
    model = fit_cf(*two_taste_ratings(), min_item_ratings=1)
    with pytest.raises(BadInput):
        model.similar(["a0"], k=0)
    assert model.similar(["no such item"], k=3) == {}


def test_nan_ratings_are_skipped():
    users, items, ratings = two_taste_ratings()
    model = fit_cf(users + ["u1"], items + ["a0"], ratings + [float("nan")], min_item_ratings=1)
    assert model.similar(["a0"], k=2)


@pytest.mark.parametrize("kind", ["ease", "itemknn"])
def test_a_saved_model_loads_with_the_same_answers(tmp_path, kind):
    model = fit_cf(*two_taste_ratings(), kind=kind, min_item_ratings=1)
    path = model.save(tmp_path / "cf.npz")
    loaded = CFModel.load(path)
    assert loaded.kind == kind and loaded.item_ids == model.item_ids
    assert loaded.similar(["b2"], 5) == pytest.approx(model.similar(["b2"], 5))
    assert loaded.popularity == pytest.approx(model.popularity)


def test_an_unreadable_model_file_is_a_catalog_error(tmp_path):
    path = tmp_path / "broken.npz"
    path.write_bytes(b"not a model")
    with pytest.raises(CatalogError):
        CFModel.load(path)


def write_ratings(path, users, items, ratings, header="user_id,item_id,rating,timestamp"):
    lines = [header] + [f"{u},{i},{r},{1000 + n}" for n, (u, i, r) in enumerate(zip(users, items, ratings))]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_load_or_fit_reuses_the_cache_after_a_restart_and_refits_when_ratings_change(tmp_path, monkeypatch):
    ratings_csv = tmp_path / "ratings.csv"
    write_ratings(ratings_csv, *two_taste_ratings())
    cache = tmp_path / "workspace"
    first = load_or_fit(ratings_csv, cache, min_item_ratings=1)
    assert len(list(cache.glob("cf-ease-*.npz"))) == 1

    def no_refit(*args, **kwargs):
        raise AssertionError("a cached model must not be refitted")

    monkeypatch.setattr(cf, "fit_cf", no_refit)
    again = load_or_fit(ratings_csv, cache, min_item_ratings=1)
    assert again.item_ids == first.item_ids
    assert again.similar(["a3"], 3) == pytest.approx(first.similar(["a3"], 3))
    monkeypatch.undo()

    write_ratings(ratings_csv, *two_taste_ratings(seed=1))
    changed = load_or_fit(ratings_csv, cache, min_item_ratings=1)
    assert changed.fingerprint != first.fingerprint
    assert len(list(cache.glob("cf-ease-*.npz"))) == 2


def test_a_corrupt_cache_file_is_refitted(tmp_path):
    ratings_csv = tmp_path / "ratings.csv"
    write_ratings(ratings_csv, *two_taste_ratings())
    model = load_or_fit(ratings_csv, tmp_path, min_item_ratings=1)
    cached = next(tmp_path.glob("cf-ease-*.npz"))
    cached.write_bytes(b"garbage")
    again = load_or_fit(ratings_csv, tmp_path, min_item_ratings=1)
    assert again.item_ids == model.item_ids


def test_ratings_files_with_movielens_headers_and_bad_rows(tmp_path):
    path = tmp_path / "ratings.csv"
    path.write_text("userId,movieId,rating,timestamp\n1,10,4.0,1\n1,oops\n2,10,five,3\n2,20,3.5,4\n")
    users, items, ratings = read_ratings_csv(path)
    assert users == ["1", "2"] and items == ["10", "20"] and ratings.tolist() == [4.0, 3.5]
    (tmp_path / "bad.csv").write_text("who,what\n1,2\n")
    with pytest.raises(CatalogError, match="user"):
        read_ratings_csv(tmp_path / "bad.csv")
    with pytest.raises(CatalogError):
        read_ratings_csv(tmp_path / "missing.csv")
