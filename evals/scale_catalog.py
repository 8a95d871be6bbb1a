"""``marquee bench scale --catalog``: the catalog side of a turn at N items, beside the vector store.

A "like X" turn does more than ask the vector store: it holds the catalog's items in memory,
finds items like X from their facts (people, genres, tags, era: ``retrieval.similarity``), keeps
a keyword index (``retrieval.search.KeywordIndex``) and browses popular items that meet the hard
constraints (``tools.retrieve._browse``'s vector prefilter, then ``check_item``). This probe
builds those over a synthetic catalog of N items (random facts with realistic shares: genres as
in MovieLens, a pool of directors and stars, a tag vocabulary, long-tailed rating counts) in a
fresh process, times their queries and saves the items and structures (the first start); then
a second fresh process reads them back as a later start would and times the same queries. Each
process reports its build or load times and its peak RSS.

Not covered: the rule parser's lexicon (it indexes every title and person), the collaborative
model, story vectors, ranking and explanations over the candidates.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from evals.scale import GENRE_SHARE, GENRES, _peak_rss_mb, memory_status_mb, percentile_ms
from marquee.errors import MarqueeError

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


def _rss_mb() -> float:
    """This process's resident memory now (VmRSS), in MB."""
    return round(memory_status_mb("VmRSS") or 0.0, 0)


def _timed(fn, count: int) -> list[float]:
    out = []
    for q in range(count):
        t0 = time.perf_counter()
        fn(q)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def _requests(n: int, queries: int, seed: int):
    """The timed requests: "like X" anchors, keyword queries and browse states (the same ones in
    the build process and the loaded one)."""
    from chat.schemas import PreferenceState

    rng = np.random.default_rng(seed + 1)
    anchors = [f"s{i}" for i in rng.integers(0, n, queries)]
    texts = [" ".join(rng.choice(WORDS, 2)) for _ in range(queries)]
    states = [PreferenceState(genres_include=[str(rng.choice(["Comedy", "Drama", "Thriller", "Horror"]))],
                              year_min=int(start), year_max=int(start) + 9, people_exclude=["Star 1"])
              for start in rng.integers(1930, 2015, queries)]
    return anchors, texts, states


def _browse_order(catalog) -> tuple[list, Any]:
    """Items by popularity and their fact columns, timed with the "surprise me" order built beside
    them: what ``tools.retrieve.warm_up`` builds before a serving process's first request."""
    from tools.retrieve import browse_orders

    order, _surprise = browse_orders(list(catalog))
    return order.items, order.facts


def _time_queries(prefix: str, n: int, queries: int, seed: int, keywords, similarity, order, facts) -> dict[str, Any]:
    """p50/p95 of each kind of request, and the answers to the first few (to compare across processes)."""
    from tools.filtering import check_item

    anchors, texts, states = _requests(n, queries, seed)

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
    answers = [[(x.item_id, x.score) for x in similarity.similar([anchors[q]], LIKE_K)] for q in range(5)]
    answers += [keywords.top(texts[q], QUERY_K) for q in range(5)]
    return {
        f"{prefix}like_x_similar_p50_ms": percentile_ms(like, 50), f"{prefix}like_x_similar_p95_ms": percentile_ms(like, 95),
        f"{prefix}keyword_top50_p50_ms": percentile_ms(words, 50), f"{prefix}keyword_top50_p95_ms": percentile_ms(words, 95),
        f"{prefix}browse150_p50_ms": percentile_ms(browsing, 50), f"{prefix}browse150_p95_ms": percentile_ms(browsing, 95),
        "answers": json.loads(json.dumps(answers)),
    }


def build_and_save(n: int, queries: int, seed: int, folder: Path) -> dict[str, Any]:
    """The first start: build the catalog-side structures over ``n`` synthetic items, time their
    queries, then save the items (``items.jsonl``, the catalog format) and the structures."""
    from retrieval.catalog import Catalog, collector_paused
    from retrieval.saved import catalog_fingerprint
    from retrieval.search import KeywordIndex
    from retrieval.similarity import ItemSimilarity

    report: dict[str, Any] = {"catalog_items": n}
    t0 = time.perf_counter()
    with collector_paused():
        catalog = Catalog(synthetic_items(n, seed))
    report["catalog_build_s"] = round(time.perf_counter() - t0, 2)
    t0 = time.perf_counter()
    keywords = KeywordIndex(catalog)
    report["keyword_index_build_s"] = round(time.perf_counter() - t0, 2)
    t0 = time.perf_counter()
    similarity = ItemSimilarity(catalog)
    report["similarity_build_s"] = round(time.perf_counter() - t0, 2)
    t0 = time.perf_counter()
    order, facts = _browse_order(catalog)
    report["browse_order_build_s"] = round(time.perf_counter() - t0, 2)
    report.update(_time_queries("", n, queries, seed, keywords, similarity, order, facts))
    report["catalog_peak_rss_mb"] = round(_peak_rss_mb(), 0)

    t0 = time.perf_counter()
    with (folder / "items.jsonl").open("w", encoding="utf-8") as handle:
        for item in catalog:
            handle.write(item.model_dump_json() + "\n")
    report["save_items_s"] = round(time.perf_counter() - t0, 2)
    t0 = time.perf_counter()
    key = catalog_fingerprint(catalog)
    report["fingerprint_s"] = round(time.perf_counter() - t0, 2)
    t0 = time.perf_counter()
    keywords.save(folder / "keywords.npz", key)
    similarity.save(folder / "similarity.npz", key)
    report["save_structures_s"] = round(time.perf_counter() - t0, 2)
    report["saved_mb"] = round(sum(f.stat().st_size for f in folder.iterdir()) / 2**20, 0)
    return report


def load_and_query(folder: Path, queries: int, seed: int) -> dict[str, Any]:
    """A later start in a fresh process: read the items as the app does (``load_catalog``:
    validated), check the fingerprint, read the saved structures, then time the same queries."""
    from retrieval.catalog import load_catalog
    from retrieval.saved import catalog_fingerprint
    from retrieval.search import KeywordIndex
    from retrieval.similarity import ItemSimilarity

    report: dict[str, Any] = {}
    started = t0 = time.perf_counter()
    catalog = load_catalog(folder)
    report["loaded_items_s"] = round(time.perf_counter() - t0, 2)
    report["loaded_items_rss_mb"] = _rss_mb()
    t0 = time.perf_counter()
    key = catalog_fingerprint(catalog)
    report["loaded_fingerprint_s"] = round(time.perf_counter() - t0, 2)
    t0 = time.perf_counter()
    keywords = KeywordIndex.load(folder / "keywords.npz", catalog, key)
    report["loaded_keyword_index_s"] = round(time.perf_counter() - t0, 2)
    t0 = time.perf_counter()
    similarity = ItemSimilarity.load(folder / "similarity.npz", catalog, key)
    report["loaded_similarity_s"] = round(time.perf_counter() - t0, 2)
    if keywords is None or similarity is None:
        raise MarqueeError("the saved structures were not read back")
    report["startup_after_build_s"] = round(time.perf_counter() - started, 2)
    report["loaded_structures_rss_mb"] = round(_rss_mb() - report["loaded_items_rss_mb"], 0)
    t0 = time.perf_counter()
    order, facts = _browse_order(catalog)
    report["loaded_browse_order_s"] = round(time.perf_counter() - t0, 2)
    report.update(_time_queries("loaded_", len(catalog), queries, seed, keywords, similarity, order, facts))
    report["loaded_peak_rss_mb"] = round(_peak_rss_mb(), 0)
    return report


def catalog_probe(n: int, queries: int = 100, seed: int = 7, workspace: Path | None = None) -> dict[str, Any]:
    """The first start (build, time, save) and a later one (load, time) in two fresh processes,
    each with its own peak RSS; one JSON-ready dict. ``loaded_answers_match``: the later start
    answered the first queries exactly as the first one did."""
    with tempfile.TemporaryDirectory(prefix="marquee-catalog-", dir=workspace) as folder:
        built = _run_step(["build", str(n), str(queries), str(seed), folder])
        loaded = _run_step(["load", folder, str(queries), str(seed)])
    same = built.pop("answers") == loaded.pop("answers")
    return {**built, **loaded, "loaded_answers_match": same, "catalog_queries": queries}


def _run_step(arguments: list[str]) -> dict[str, Any]:
    result = subprocess.run([sys.executable, "-m", "evals.scale_catalog", *arguments], capture_output=True, text=True,
                            timeout=3600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    if result.returncode != 0:
        raise MarqueeError(f"the catalog process ({arguments[0]}) failed: {result.stderr[-1500:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    # python -m evals.scale_catalog ITEMS QUERIES SEED     (both starts; what `bench scale --catalog` runs)
    # python -m evals.scale_catalog build ITEMS QUERIES SEED FOLDER | load FOLDER QUERIES SEED
    arguments = sys.argv[1:]
    if len(arguments) == 3:
        print(json.dumps(catalog_probe(int(arguments[0]), int(arguments[1]), int(arguments[2]))))
    elif len(arguments) == 5 and arguments[0] == "build":
        print(json.dumps(build_and_save(int(arguments[1]), int(arguments[2]), int(arguments[3]), Path(arguments[4]))))
    elif len(arguments) == 4 and arguments[0] == "load":
        print(json.dumps(load_and_query(Path(arguments[1]), int(arguments[2]), int(arguments[3]))))
    else:
        sys.exit("usage: python -m evals.scale_catalog ITEMS QUERIES SEED")
