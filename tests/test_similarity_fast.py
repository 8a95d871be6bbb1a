""""Something like X" scores a million items without scoring each one, and gives the very answer
scoring each one gives: the same items, in the same order, with the same scores and parts.

The reference below is the plain computation (every component as a product over the whole
catalog, then the mix), written out from the model's matrices."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from evals.scale_catalog import synthetic_items
from retrieval.catalog import Catalog, Item, load_catalog
from retrieval.similarity import (CF_POPULARITY_EXPONENT, CF_SHRINK, ERA_SCALE, STORY_FLOOR, STORY_SPAN,
                                  ItemSimilarity, Likeness, read_likes)

DEMO = Path(__file__).resolve().parents[1] / "data" / "demo"


def reference_components(model: ItemSimilarity, anchor_id: str) -> dict[str, np.ndarray]:
    """Each component for every item, each a product over the whole catalog."""
    row, n = model.index[anchor_id], len(model.ids)
    out = {name: np.asarray((matrix @ matrix[row].T).todense()).ravel()
           for name, matrix in (("people", model._people), ("genres", model._genres), ("tags", model._tags))}
    year = model._years[row]
    out["era"] = np.zeros(n) if np.isnan(year) else np.nan_to_num(np.exp(-np.abs(model._years - year) / ERA_SCALE), nan=0.0)
    out["story"] = np.zeros(n)
    if model._story is not None and model._has_story[row]:
        cosine = model._story @ model._story[row]
        out["story"] = np.where(model._has_story, np.clip((cosine - STORY_FLOOR) / STORY_SPAN, 0.0, 1.0), 0.0)
    out["cf"] = np.zeros(n)
    if model._likes is not None and model._like_counts[row] > 0:
        co = np.asarray((model._likes.T @ model._likes[:, row]).todense()).ravel()
        a = CF_POPULARITY_EXPONENT
        denominator = model._like_counts[row] ** (1 - a) * np.maximum(model._like_counts, 1.0) ** a
        out["cf"] = np.clip(co / denominator * co / (co + CF_SHRINK), 0.0, 1.0)
    return out


def reference_similar(model: ItemSimilarity, anchor_ids, k: int, allowed=None) -> list[Likeness]:
    """Every item scored against every anchor; the best ``k`` by score, ties by catalog order."""
    anchors = [a for a in anchor_ids if a in model.index]
    if not anchors:
        return []
    best = np.full(len(model.ids), -np.inf)
    best_anchor = np.zeros(len(model.ids), dtype=np.int64)
    all_parts = [reference_components(model, anchor) for anchor in anchors]
    for n, parts in enumerate(all_parts):
        score = model.mix(parts)
        better = score > best
        best, best_anchor = np.where(better, score, best), np.where(better, n, best_anchor)
    for anchor in anchors:
        best[model.index[anchor]] = -np.inf
    if allowed is not None:
        best = np.where(np.isin(np.array(model.ids), list(allowed)), best, -np.inf)
    k = min(k, int(np.isfinite(best).sum()))
    if k <= 0:
        return []
    top = np.argpartition(-best, k - 1)[:k]
    top = top[np.lexsort((top, -best[top]))]
    return [Likeness(item_id=model.ids[j], anchor_id=anchors[best_anchor[j]], score=float(best[j]),
                     parts={name: float(values[j]) for name, values in all_parts[best_anchor[j]].items()})
            for j in top]


def assert_same_answers(model: ItemSimilarity, anchors: list[str], k: int = 150) -> None:
    for anchor in anchors:
        fast, plain = model.components(anchor), reference_components(model, anchor)
        assert list(fast) == list(plain)
        for name in plain:
            assert np.array_equal(fast[name], plain[name]), (anchor, name)
        assert model.similar([anchor], k) == reference_similar(model, [anchor], k), anchor
    several = anchors[:3]
    assert model.similar(several, k) == reference_similar(model, several, k)
    allowed = set(model.ids[::7]) | {anchors[0], "no such id"}
    assert model.similar(several, 40, allowed=allowed) == reference_similar(model, several, 40, allowed)
    assert model.similar(anchors[:1], 10, allowed=set()) == []
    assert model.similar(["no such id"], 10) == []


def _bare(item_id: str, genres: list[str], **facts) -> Item:
    """An item that knows little: no year, no tags, often no people."""
    return Item(id=item_id, title=f"Bare {item_id}", genres=genres, **facts)


@pytest.fixture(scope="module")
def synthetic_model() -> ItemSimilarity:
    items = synthetic_items(3000, seed=5)
    items += [_bare("b1", ["Drama"]), _bare("b2", ["Comedy", "Drama"], people={"directors": ["Director 3"]}),
              _bare("b3", []), _bare("b4", ["Drama"], year=1990, tags=["tag7", "tag11"])]
    users = [f"u{n % 40}" for n in range(600)]
    liked = [f"s{(n * 37) % 300}" for n in range(590)] + ["b1", "b2", "b4"] * 3 + ["b1"]
    return ItemSimilarity(Catalog(items), likes=(users, liked))


def test_like_x_on_a_synthetic_catalog_is_the_plain_computation(synthetic_model):
    model = synthetic_model
    assert_same_answers(model, ["s0", "s11", "s257", "b1", "b2", "b3", "b4", "s2999"])


def test_like_x_on_the_demo_catalog_is_the_plain_computation():
    catalog = load_catalog(DEMO)
    stories = np.load(DEMO / "story.npz", allow_pickle=False)
    model = ItemSimilarity(catalog, likes=read_likes(DEMO / "ratings.csv"),
                           story=(stories["ids"].tolist(), stories["vectors"].astype(np.float32)))
    no_story = next(i for i in catalog.ids if not model._has_story[model.index[i]])
    no_year = [i for i in catalog.ids if not catalog.items[i].year][:1]
    no_tags = next(i for i in catalog.ids if not catalog.items[i].tags)
    anchors = [catalog.ids[0], catalog.ids[500], no_story, no_tags, *no_year, catalog.ids[-1]]
    assert_same_answers(model, anchors)


def test_like_x_with_one_component_weighted_is_the_plain_computation(synthetic_model):
    for weights in ({"people": 1.0}, {"genres": 1.0}, {"era": 1.0, "tags": 0.5}):
        model = ItemSimilarity(synthetic_model.catalog, weights=weights)
        assert_same_answers(model, ["s3", "b4", "s1500"], k=60)
