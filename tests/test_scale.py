"""Large catalogs: the approximate index answers like exact search, filters included, and the
scale benchmark reports what it measured."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from evals.scale import bench_scale, synthetic_catalog
from retrieval import ann
from retrieval.store import ItemStore


@pytest.fixture
def big_store(monkeypatch):
    """A 6,000-item store that counts as large (the index takes over from 3,000 items)."""
    monkeypatch.setattr(ann, "ANN_MIN_ITEMS", 3_000)
    monkeypatch.setattr(ann, "EXACT_MAX_ROWS", 300)
    ids, matrix, columns = synthetic_catalog(6_000, dim=32, seed=3)
    return ItemStore.from_arrays(ids, matrix, columns), matrix


def test_the_index_finds_what_exact_search_finds(big_store):
    store, matrix = big_store
    assert store.approximate
    recalls = []
    for row in range(0, 6_000, 300):
        exact = {i for i, _ in store.nearest_exact(matrix[row], 20)}
        found = store.nearest(matrix[row], 20)
        assert found[0][0] == f"s{row}" and len(found) == 20
        assert [s for _, s in found] == sorted((s for _, s in found), reverse=True)
        recalls.append(len(exact & {i for i, _ in found}) / 20)
    assert np.mean(recalls) >= 0.9


def test_filters_hold_on_the_index_and_narrow_ones_are_answered_exactly(big_store):
    store, matrix = big_store
    wide = {"year": {"$gte": 1950}}
    for item_id, _ in store.nearest(matrix[5], 20, wide):
        assert store._columns["year"][int(item_id[1:])] >= 1950
    narrow = {"$and": [{"year": {"$gte": 1990}}, {"year": {"$lte": 1991}}, {"g_Comedy": True}]}
    assert store.filter_mask(narrow).sum() <= ann.EXACT_MAX_ROWS
    assert store.nearest(matrix[7], 10, narrow) == store.nearest_exact(matrix[7], 10, narrow)
    nothing = {"year": {"$gte": 3000}}
    assert store.nearest(matrix[7], 10, nothing) == []


def test_bench_scale_reports_build_start_up_memory_latency_and_recall():
    from typer import Typer

    app = Typer()
    app.command()(bench_scale)
    result = CliRunner().invoke(app, ["--items", "2000", "--queries", "20", "--chroma-max", "1000", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["items"] == 2000 and report["index"] == "exact"
    assert report["build_items_per_s"] > 0 and report["chroma_ingest_items_per_s"] is None
    assert report["startup_s"] >= 0 and report["serve_peak_rss_mb"] > 0
    assert 0 < report["filtered_p50_ms"] <= report["filtered_p95_ms"]
    assert report["recall_at_50_filtered"] == report["recall_at_50_like_x"] == 1.0
    refused = CliRunner().invoke(app, ["--items", "5", "--json"])
    assert refused.exit_code == 2 and "--items" in refused.output


def test_bench_scale_measures_the_catalog_side_of_a_turn_too():
    from typer import Typer

    app = Typer()
    app.command()(bench_scale)
    result = CliRunner().invoke(app, ["--items", "2000", "--queries", "20", "--chroma-max", "0", "--catalog", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["catalog_items"] == 2000 and report["catalog_queries"] == 10
    for part in ("catalog_build_s", "keyword_index_build_s", "similarity_build_s", "browse_order_build_s"):
        assert report[part] >= 0
    for query in ("like_x_similar", "keyword_top50", "browse150"):
        assert 0 < report[f"{query}_p50_ms"] <= report[f"{query}_p95_ms"]
        assert 0 < report[f"loaded_{query}_p50_ms"] <= report[f"loaded_{query}_p95_ms"]
    for part in ("save_items_s", "fingerprint_s", "save_structures_s", "loaded_items_s", "loaded_keyword_index_s",
                 "loaded_similarity_s", "startup_after_build_s"):
        assert report[part] >= 0
    assert report["loaded_answers_match"] is True  # the later start reads back what the first one built
    assert report["catalog_peak_rss_mb"] > 0 and report["loaded_peak_rss_mb"] > 0
    assert report["catalog_peak_rss_mb"] > 0


def test_synthetic_items_have_the_facts_a_turn_reads():
    from evals.scale_catalog import synthetic_items

    items = synthetic_items(500, seed=2)
    assert [i.id for i in items[:3]] == ["s0", "s1", "s2"]
    assert all(i.genres and i.people["directors"] and len(i.people["stars"]) == 3 for i in items)
    assert any(i.runtime is None for i in items) and any(i.tags for i in items)
