"""``marquee bench scale``: the vector store with a synthetic catalog of N items, 10k to 1M.

Items get precomputed vectors (clustered unit vectors, as real embeddings are; nothing is
encoded) and the filter metadata the store keeps (year, runtime, ratings, genre flags). The
run reports, for the N asked:

- **build**: how fast the store's files are written (the in-memory copy, and from
  ``ANN_MIN_ITEMS`` items on the approximate index), and how fast Chroma ingests the same
  items (up to ``--chroma-max`` items: Chroma's ingest is the slow part of a real build);
- **start-up**: a fresh process opens the built store from its files, the vector copy mapped
  as the app maps it (time, and the peak RSS of serving the timed queries, taken before the
  recall check's exact searches read every vector);
- **queries** in that process: a filtered top-50 search (year range + genre) and a "like X"
  search (the nearest items to an item's vector, the retrieval step of a "like X" turn),
  p50/p95, and the recall@50 the approximate index gives up against exact search.

Everything lives in a temporary folder (or ``--workspace``) and is removed afterwards.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

import numpy as np
import typer

from marquee.errors import BadInput, MarqueeError

log = logging.getLogger(__name__)

GENRES = ["Action", "Adventure", "Animation", "Children", "Comedy", "Crime", "Documentary", "Drama", "Fantasy",
          "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western"]
GENRE_SHARE = np.array([.12, .08, .04, .04, .30, .12, .04, .45, .06, .01, .09, .03, .06, .16, .08, .18, .04, .02])
DIM = 384
CLUSTERS = 1024
MIN_ITEMS, MAX_ITEMS = 1_000, 2_000_000
CHUNK = 100_000
TOP_K = 50


def synthetic_catalog(n: int, *, dim: int = DIM, seed: int = 7) -> tuple[list[str], np.ndarray, dict[str, np.ndarray]]:
    """Ids, unit vectors (float32, n x dim) and filter columns of ``n`` synthetic items."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((CLUSTERS, dim), dtype=np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    matrix = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, CHUNK):
        size = min(CHUNK, n - start)
        block = centres[rng.integers(0, CLUSTERS, size)] + 0.06 * rng.standard_normal((size, dim), dtype=np.float32)
        matrix[start:start + size] = block / np.linalg.norm(block, axis=1, keepdims=True)
    year = rng.integers(1920, 2026, n).astype(np.float64)
    runtime = rng.integers(70, 200, n).astype(np.float64)
    runtime[rng.random(n) < 0.2] = np.nan  # many catalogs do not know every runtime
    columns = {
        "year": year, "has_year": np.ones(n),
        "runtime": runtime, "has_runtime": (~np.isnan(runtime)).astype(np.float64),
        "n_ratings": np.floor(rng.pareto(1.2, n) * 5),
    }
    for genre, share in zip(GENRES, GENRE_SHARE):
        columns[f"g_{genre}"] = (rng.random(n) < share).astype(np.float64)
    return [f"s{i}" for i in range(n)], matrix, columns


def percentile_ms(values: list[float], p: float) -> float:
    """The ``p``-th percentile of timings in ms, rounded (0 when there are none)."""
    return round(float(np.percentile(values, p)), 2) if values else 0.0


def _peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, not inherited from the parent)."""
    peak = memory_status_mb("VmHWM")
    return peak if peak is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def memory_status_mb(field: str) -> float | None:
    """A memory line of ``/proc/self/status`` (``VmRSS``: resident now, ``VmHWM``: its peak) in MB;
    ``None`` where there is no such file."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def build(n: int, folder: Path, *, chroma_max: int, seed: int = 7) -> dict[str, Any]:
    """Generate the catalog and write the store's files to ``folder``; time each step."""
    from retrieval import ann

    began = time.perf_counter()
    ids, matrix, columns = synthetic_catalog(n, seed=seed)
    generated_s = time.perf_counter() - began
    folder.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    np.save(folder / "vectors.npy", matrix)
    (folder / "ids.txt").write_text("\n".join(ids))
    np.savez(folder / "columns.npz", **columns)
    files_s = time.perf_counter() - began
    index_s = None
    if n >= ann.ANN_MIN_ITEMS:
        began = time.perf_counter()
        ann.IvfIndex.build(matrix).save(folder / "index.ivf")
        index_s = time.perf_counter() - began
    chroma = chroma_ingest(ids, matrix, columns, folder / "chroma") if n <= chroma_max else None
    return {
        "generate_s": round(generated_s, 2), "files_s": round(files_s, 2),
        "index_s": None if index_s is None else round(index_s, 2),
        "build_items_per_s": round(n / (files_s + (index_s or 0.0)), 0),
        "chroma_ingest_items_per_s": chroma, "build_peak_rss_mb": round(_peak_rss_mb(), 0),
    }


def chroma_ingest(ids: list[str], matrix: np.ndarray, columns: dict[str, np.ndarray], path: Path) -> float:
    """Items per second that an embedded Chroma ingests (vectors and filter metadata, batches of 1,000)."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    client = chromadb.PersistentClient(path=str(path), settings=ChromaSettings(anonymized_telemetry=False))
    collection = client.create_collection("items_text", embedding_function=None,
                                          configuration={"hnsw": {"space": "cosine"}})
    keys = list(columns)
    began = time.perf_counter()
    for start in range(0, len(ids), 1000):
        stop = min(start + 1000, len(ids))
        metadatas = [{k: (bool(columns[k][r]) if k.startswith(("g_", "has_")) else float(columns[k][r]))
                      for k in keys if not np.isnan(columns[k][r])} for r in range(start, stop)]
        collection.add(ids=ids[start:stop], embeddings=matrix[start:stop], metadatas=metadatas)
    rate = len(ids) / (time.perf_counter() - began)
    del client
    shutil.rmtree(path, ignore_errors=True)
    return round(rate, 0)


def _queries(n: int, matrix: np.ndarray, count: int, seed: int) -> list[tuple[str, np.ndarray, dict | None]]:
    """Half filtered searches (a query near some item, a 20-year range and a genre), half "like X"."""
    rng = np.random.default_rng(seed + 1)
    out = []
    for q in range(count):
        row = int(rng.integers(0, n))
        if q % 2 == 0:
            vector = matrix[row] + 0.05 * rng.standard_normal(matrix.shape[1]).astype(np.float32)
            start = int(rng.integers(1930, 2005))
            genre = str(rng.choice(["Comedy", "Drama", "Thriller", "Romance", "Action", "Horror"]))
            where = {"$and": [{"year": {"$gte": start}}, {"year": {"$lte": start + 20}}, {f"g_{genre}": True}]}
            out.append(("filtered", vector / np.linalg.norm(vector), where))
        else:
            out.append(("like_x", matrix[row].copy(), None))
    return out


def probe(folder: Path, queries: int, seed: int, recall_queries: int) -> dict[str, Any]:
    """What a fresh process sees: open the store from ``folder``, then time queries (and recall@50)."""
    from retrieval import ann
    from retrieval.store import ItemStore

    began = time.perf_counter()
    matrix = np.load(folder / "vectors.npy", mmap_mode="r")  # as the app reads its vector copy
    ids = (folder / "ids.txt").read_text().split("\n")
    with np.load(folder / "columns.npz") as saved:
        columns = {k: saved[k] for k in saved.files}
    index = ann.IvfIndex.load(folder / "index.ivf") if (folder / "index.ivf").exists() else None
    store = ItemStore.from_arrays(ids, matrix, columns, index=index)
    startup_s = time.perf_counter() - began

    timings: dict[str, list[float]] = {"filtered": [], "like_x": []}
    answers = []
    planned = _queries(len(ids), matrix, queries, seed)
    for kind, vector, where in planned:
        t0 = time.perf_counter()
        answers.append(store.nearest(vector, TOP_K + (1 if kind == "like_x" else 0), where))
        timings[kind].append((time.perf_counter() - t0) * 1000)
    serve_rss_mb = _peak_rss_mb()  # serving: before exact search reads every vector for the recall

    recalls: dict[str, list[float]] = {"filtered": [], "like_x": []}
    exact_ms: list[float] = []
    for (kind, vector, where), got in list(zip(planned, answers))[:recall_queries]:
        t0 = time.perf_counter()
        truth = store.nearest_exact(vector, TOP_K + (1 if kind == "like_x" else 0), where)
        exact_ms.append((time.perf_counter() - t0) * 1000)
        truth_ids = {i for i, _ in truth}
        recalls[kind].append(len(truth_ids & {i for i, _ in got}) / max(1, len(truth_ids)))

    return {
        "index": "ivf" if store.approximate else "exact",
        "startup_s": round(startup_s, 2), "serve_peak_rss_mb": round(serve_rss_mb, 0),
        "filtered_p50_ms": percentile_ms(timings["filtered"], 50), "filtered_p95_ms": percentile_ms(timings["filtered"], 95),
        "like_x_p50_ms": percentile_ms(timings["like_x"], 50), "like_x_p95_ms": percentile_ms(timings["like_x"], 95),
        "exact_p50_ms": percentile_ms(exact_ms, 50), "exact_p95_ms": percentile_ms(exact_ms, 95),
        "recall_at_50_filtered": round(float(np.mean(recalls["filtered"])), 4) if recalls["filtered"] else None,
        "recall_at_50_like_x": round(float(np.mean(recalls["like_x"])), 4) if recalls["like_x"] else None,
        "queries": queries,
    }


def run_scale_bench(items: int, *, queries: int = 200, recall_queries: int = 60, chroma_max: int = 100_000,
                    workspace: Path | None = None, seed: int = 7, catalog: bool = False) -> dict[str, Any]:
    """Build, then open and query in a fresh process; one JSON-ready dict. ``catalog``: also the
    catalog side of a turn at the same N, in another fresh process (``evals.scale_catalog``)."""
    if not MIN_ITEMS <= items <= MAX_ITEMS:
        raise BadInput(f"--items must be between {MIN_ITEMS} and {MAX_ITEMS}")
    if not 10 <= queries <= 10_000:
        raise BadInput("--queries must be between 10 and 10000")
    with tempfile.TemporaryDirectory(prefix="marquee-scale-", dir=workspace) as tmp:
        folder = Path(tmp) / "store"
        built = build(items, folder, chroma_max=chroma_max, seed=seed)
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "evals.scale", "probe", str(folder), str(queries), str(seed),
             str(min(recall_queries, queries))],
            capture_output=True, text=True, timeout=3600, env={**os.environ, "OMP_NUM_THREADS": "1"},
        )
        process_s = time.perf_counter() - started
        if result.returncode != 0:
            raise MarqueeError(f"the query process failed: {result.stderr[-1500:]}")
        probed = json.loads(result.stdout.strip().splitlines()[-1])
    report = {"items": items, "dim": DIM, **built, **probed, "process_start_and_queries_s": round(process_s, 1)}
    if catalog:
        report.update(catalog_side(items, max(10, queries // 2), seed, workspace))
    return report


def catalog_side(items: int, queries: int, seed: int, workspace: Path | None = None) -> dict[str, Any]:
    """:func:`evals.scale_catalog.catalog_probe`: a first start that builds and saves, and a later
    one that loads, each in a fresh process (its own peak RSS)."""
    from evals.scale_catalog import catalog_probe

    return catalog_probe(items, queries, seed, workspace)


def format_table(report: dict[str, Any]) -> str:
    rows = [
        ("items", f"{report['items']:,} x {report['dim']} ({report['index']} search)"),
        ("build", f"{report['build_items_per_s']:,.0f} items/s (files {report['files_s']} s, index "
                  f"{report['index_s'] if report['index_s'] is not None else '-'} s)"),
        ("chroma ingest", f"{report['chroma_ingest_items_per_s']:,.0f} items/s" if report["chroma_ingest_items_per_s"]
         else "not run (over --chroma-max)"),
        ("start-up (open the store)", f"{report['startup_s']} s"),
        ("peak RSS build / serve", f"{report['build_peak_rss_mb']:,.0f} / {report['serve_peak_rss_mb']:,.0f} MB"),
        ("filtered top-50 p50 / p95", f"{report['filtered_p50_ms']} / {report['filtered_p95_ms']} ms"),
        ('"like X" top-50 p50 / p95', f"{report['like_x_p50_ms']} / {report['like_x_p95_ms']} ms"),
        ("exact search p50 / p95", f"{report['exact_p50_ms']} / {report['exact_p95_ms']} ms"),
        ("recall@50 filtered / like X", f"{report['recall_at_50_filtered']} / {report['recall_at_50_like_x']}"),
    ]
    if "catalog_build_s" in report:
        rows += [
            ("catalog side, first start: build", f"items {report['catalog_build_s']} s, keyword index "
                                                 f"{report['keyword_index_build_s']} s, similarity "
                                                 f"{report['similarity_build_s']} s, browse order "
                                                 f"{report['browse_order_build_s']} s"),
            ("  save", f"items {report['save_items_s']} s, fingerprint {report['fingerprint_s']} s, structures "
                       f"{report['save_structures_s']} s ({report['saved_mb']:,.0f} MB)"),
            ('  "like X" from facts p50 / p95', f"{report['like_x_similar_p50_ms']} / {report['like_x_similar_p95_ms']} ms"),
            ("  keyword top-50 p50 / p95", f"{report['keyword_top50_p50_ms']} / {report['keyword_top50_p95_ms']} ms"),
            ("  browse 150 p50 / p95", f"{report['browse150_p50_ms']} / {report['browse150_p95_ms']} ms"),
            ("  peak RSS", f"{report['catalog_peak_rss_mb']:,.0f} MB"),
            ("catalog side, later start", f"{report['startup_after_build_s']} s: items {report['loaded_items_s']} s, "
                                          f"fingerprint {report['loaded_fingerprint_s']} s, keyword index "
                                          f"{report['loaded_keyword_index_s']} s, similarity {report['loaded_similarity_s']} s "
                                          "(then both browse orders, as a serving process builds them before its first "
                                          f"request: {report['loaded_browse_order_s']} s)"),
            ('  "like X" from facts p50 / p95', f"{report['loaded_like_x_similar_p50_ms']} / "
                                               f"{report['loaded_like_x_similar_p95_ms']} ms"),
            ("  keyword top-50 p50 / p95", f"{report['loaded_keyword_top50_p50_ms']} / {report['loaded_keyword_top50_p95_ms']} ms"),
            ("  browse 150 p50 / p95", f"{report['loaded_browse150_p50_ms']} / {report['loaded_browse150_p95_ms']} ms"),
            ("  peak RSS", f"{report['loaded_peak_rss_mb']:,.0f} MB (after reading the items "
                           f"{report['loaded_items_rss_mb']:,.0f} MB, then keyword index and similarity "
                           f"+{report['loaded_structures_rss_mb']:,.0f} MB)"),
            ("  same answers as the first start", "yes" if report["loaded_answers_match"] else "NO"),
        ]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def bench_scale(
    items: int = typer.Option(..., help="Synthetic catalog size (e.g. 10000, 100000, 1000000)."),
    json_out: bool = typer.Option(False, "--json", help="Print exactly one JSON object on stdout."),
    queries: int = typer.Option(200, help="Queries timed (half filtered, half \"like X\")."),
    chroma_max: int = typer.Option(100_000, help="Also time Chroma's ingest up to this many items."),
    workspace: Optional[Path] = typer.Option(None, help="Folder for the temporary store (default: the system's)."),
    catalog: bool = typer.Option(False, "--catalog", help="Also the catalog side of a turn at N items: items in "
                                 "memory, \"like X\" from facts, keyword index, browsing, built then saved and loaded by a later start "
                                 "(evals/scale_catalog.py)."),
) -> None:
    """Vector store at N items: build rate, start-up, peak RSS, query p50/p95, recall@50 of the index."""
    if not logging.getLogger().handlers:
        logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        report = run_scale_bench(items, queries=queries, chroma_max=chroma_max, workspace=workspace, catalog=catalog)
    except MarqueeError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2)
    typer.echo(json.dumps(report) if json_out else format_table(report))


if __name__ == "__main__":  # the query process: python -m evals.scale probe FOLDER QUERIES SEED RECALL
    if len(sys.argv) == 6 and sys.argv[1] == "probe":
        print(json.dumps(probe(Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))))
    else:
        sys.exit("usage: python -m evals.scale probe FOLDER QUERIES SEED RECALL_QUERIES")
