"""``marquee bench scale --catalog``: the catalog side of a turn at N items, beside the vector store.

A "like X" turn does more than ask the vector store: it holds the catalog's items in memory,
finds items like X from their facts (people, genres, tags, era: ``retrieval.similarity``), keeps
a keyword index (``retrieval.search.KeywordIndex``) and browses popular items that meet the hard
constraints (``tools.retrieve._browse``'s vector prefilter, then ``check_item``). This probe
builds those over a synthetic catalog of N items (random facts with realistic shares: genres as
in MovieLens, a pool of directors and stars, a tag vocabulary, long-tailed rating counts) in a
fresh process and reports build times, peak RSS and query p50/p95 for each.

Not covered: the rule parser's lexicon (it indexes every title and person), the collaborative
model, story vectors, ranking and explanations over the candidates.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import numpy as np

from evals.scale import GENRE_SHARE, GENRES, _peak_rss_mb

WORDS = ("night day love war city dead last blue dark gold star road house king river girl man "
         "story secret storm fire ice shadow dream heart game ghost wild lost summer winter home").split()
TAG_VOCABULARY = 2_000
QUERY_K, LIKE_K, BROWSE_K = 50, 150, 150


def synthetic_items(n: int, seed: int = 7) -> list:
    """``n`` catalog items with random facts (ids ``s0``... as in :func:`evals.scale.synthetic_catalog`)."""
    from retrieval.catalog import Item

    rng = np.random.default_rng(seed)
    directors, stars = max(50, n // 8), max(200, n // 2)
    genre_hits = rng.random((n, len(GENRES))) < GENRE_SHARE
    titles = rng.integers(0, len(WORDS), (n, 3))
    years = rng.integers(1920, 2026, n)
    runtimes = rng.integers(70, 200, n)
    known_runtime = rng.random(n) > 0.2
    cast = rng.integers(0, stars, (n, 3))
    director = rng.integers(0, directors, n)
    tag_counts = rng.integers(0, 6, n)
    ratings = np.floor(rng.pareto(1.2, n) * 5).astype(int)
    means = np.round(rng.uniform(2.0, 4.8, n), 2)
    items = []
    for i in range(n):
        tags = [f"tag{t}" for t in rng.integers(0, TAG_VOCABULARY, tag_counts[i])]
        items.append(Item.model_construct(
            id=f"s{i}", title=" ".join(WORDS[w] for w in titles[i]).title() + f" {i}", year=int(years[i]),
            genres=[g for g, hit in zip(GENRES, genre_hits[i]) if hit] or ["Drama"],
            people={"directors": [f"Director {director[i]}"], "stars": [f"Star {s}" for s in cast[i]]},
            runtime=int(runtimes[i]) if known_runtime[i] else None, age_rating=None, tags=list(dict.fromkeys(tags)),
            description=None, image=None, n_ratings=int(ratings[i]), mean_rating=float(means[i]) if ratings[i] else None,
        ))
    return items


def _pct(values: list[float], p: float) -> float:
    return round(float(np.percentile(values, p)), 2) if values else 0.0


def _timed(fn, count: int) -> list[float]:
    out = []
    for q in range(count):
        t0 = time.perf_counter()
        fn(q)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def catalog_probe(n: int, queries: int = 100, seed: int = 7) -> dict[str, Any]:
    """Build the catalog-side structures over ``n`` synthetic items and time their queries."""
    from chat.schemas import PreferenceState
    from retrieval.catalog import Catalog
    from retrieval.relevance import popularity_prior
    from retrieval.search import KeywordIndex
    from retrieval.similarity import ItemSimilarity
    from tools.filtering import FactColumns, check_item

    report: dict[str, Any] = {"catalog_items": n}
    t0 = time.perf_counter()
    catalog = Catalog(synthetic_items(n, seed))
    report["catalog_build_s"] = round(time.perf_counter() - t0, 2)
    t0 = time.perf_counter()
    keywords = KeywordIndex(catalog)
    report["keyword_index_build_s"] = round(time.perf_counter() - t0, 2)
    t0 = time.perf_counter()
    similarity = ItemSimilarity(catalog)
    report["similarity_build_s"] = round(time.perf_counter() - t0, 2)
    t0 = time.perf_counter()
    order = sorted(catalog, key=lambda it: -popularity_prior(it.n_ratings, it.mean_rating))
    facts = FactColumns.of(order)
    report["browse_order_build_s"] = round(time.perf_counter() - t0, 2)

    rng = np.random.default_rng(seed + 1)
    anchors = [f"s{i}" for i in rng.integers(0, n, queries)]
    texts = [" ".join(rng.choice(WORDS, 2)) for _ in range(queries)]
    states = [PreferenceState(genres_include=[str(rng.choice(["Comedy", "Drama", "Thriller", "Horror"]))],
                              year_min=int(start), year_max=int(start) + 9, people_exclude=["Star 1"])
              for start in rng.integers(1930, 2015, queries)]

    def browse(q: int) -> None:
        found = 0
        for row in np.flatnonzero(facts.may_pass(states[q])).tolist():
            if check_item(order[row], states[q])[0]:
                found += 1
                if found == BROWSE_K:
                    break

    like = _timed(lambda q: similarity.similar([anchors[q]], LIKE_K), queries)
    words = _timed(lambda q: keywords.top(texts[q], QUERY_K), queries)
    browsing = _timed(browse, queries)
    report.update({
        "like_x_similar_p50_ms": _pct(like, 50), "like_x_similar_p95_ms": _pct(like, 95),
        "keyword_top50_p50_ms": _pct(words, 50), "keyword_top50_p95_ms": _pct(words, 95),
        "browse150_p50_ms": _pct(browsing, 50), "browse150_p95_ms": _pct(browsing, 95),
        "catalog_peak_rss_mb": round(_peak_rss_mb(), 0), "catalog_queries": queries,
    })
    return report


if __name__ == "__main__":  # python -m evals.scale_catalog N QUERIES SEED
    if len(sys.argv) != 4:
        sys.exit("usage: python -m evals.scale_catalog ITEMS QUERIES SEED")
    print(json.dumps(catalog_probe(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))))
