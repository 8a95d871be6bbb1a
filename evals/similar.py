"""``marquee eval similar``: are the picks for "something like X" really like X?

Input: a judged file in the format of ``like_x_dev.json``::

    {"about": "...", "anchors": {"Inception": ["Interstellar", "The Prestige", ...], ...}}

For each anchor, the request ``something like <anchor>`` goes to a fresh conversation through
:meth:`marquee.service.Marquee.respond` (the function the UI and the API call), and the first
cards are compared with the judged list: precision@5 and @10 (the lists are not exhaustive, so
both are lower bounds). The same table holds the most-rated baseline (the catalog's most-rated
items, the anchor left out) and how popular the picks are: the mean popularity percentile of
the picked items in the catalog (100 = the most-rated item; a list of blockbusters scores ~99).

Judged titles are matched to catalog items by normalised title ("The Matrix" = "Matrix, The");
a title with several catalog items counts for any of them. Anchors missing from the catalog are
skipped and listed; judged titles missing from the catalog are counted (they can never be hit).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from marquee.errors import BadInput
from retrieval.catalog import Catalog, normalize_title

K_SMALL, K_LARGE = 5, 10


@dataclass
class AnchorResult:
    anchor: str
    anchor_id: str
    picks: list[str]
    hits: list[bool]
    judged_in_catalog: int
    baseline_hits: int

    def precision(self, k: int) -> float:
        return sum(self.hits[:k]) / k


@dataclass
class SimilarReport:
    anchors: list[AnchorResult] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    popularity_percentiles: list[float] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        n = len(self.anchors)
        mean = (lambda xs: round(float(np.mean(xs)), 4) if xs else 0.0)
        return {
            "n_anchors": n,
            "precision@5": mean([a.precision(K_SMALL) for a in self.anchors]),
            "precision@10": mean([a.precision(K_LARGE) for a in self.anchors]),
            "baseline_precision@5": mean([a.baseline_hits / K_SMALL for a in self.anchors]),
            "mean_popularity_percentile": mean(self.popularity_percentiles),
            "skipped_anchors": self.skipped,
            "per_anchor": [
                {"anchor": a.anchor, "precision@5": a.precision(K_SMALL), "precision@10": a.precision(K_LARGE),
                 "picks": a.picks, "hits": a.hits, "judged_in_catalog": a.judged_in_catalog}
                for a in self.anchors
            ],
        }


def read_judged(path: Path) -> dict[str, list[str]]:
    """The anchors and their judged titles; ``BadInput`` on anything else."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInput(f"{path}: not a readable JSON file: {exc}") from exc
    anchors = data.get("anchors") if isinstance(data, dict) else None
    if not isinstance(anchors, dict) or not anchors:
        raise BadInput(f'{path}: expected {{"anchors": {{"<title>": ["<title>", ...]}}}}')
    judged: dict[str, list[str]] = {}
    for anchor, titles in anchors.items():
        if not isinstance(titles, list) or not all(isinstance(t, str) for t in titles):
            raise BadInput(f"{path}: the judged list of {anchor!r} must be a list of titles")
        judged[str(anchor)] = titles
    return judged


def _title_keys(catalog: Catalog, titles: list[str]) -> tuple[set[str], int]:
    """Normalised keys of the judged titles, and how many of them the catalog holds."""
    keys = {normalize_title(t) for t in titles}
    return keys, sum(1 for k in keys if catalog.by_title.get(k))


def popularity_percentiles(catalog: Catalog) -> dict[str, float]:
    """Each item's percentile by number of ratings (100 = the most rated)."""
    ids = list(catalog.ids)
    counts = np.array([catalog.items[i].n_ratings for i in ids], dtype=np.float64)
    order = counts.argsort(kind="stable")
    ranks = np.empty(len(ids))
    ranks[order] = np.arange(1, len(ids) + 1)
    return {i: float(100.0 * r / len(ids)) for i, r in zip(ids, ranks)}


def run_similar_eval(marquee, judged: dict[str, list[str]]) -> SimilarReport:
    """Ask "something like <anchor>" for each anchor in a fresh conversation and score the cards."""
    catalog: Catalog = marquee.catalog
    percentile = popularity_percentiles(catalog)
    most_rated = sorted(catalog.ids, key=lambda i: -catalog.items[i].n_ratings)
    report = SimilarReport()
    for anchor, titles in judged.items():
        found = catalog.find_title(anchor)
        if found is None:
            report.skipped.append(anchor)
            continue
        anchor_id = found.id
        keys, in_catalog = _title_keys(catalog, titles)
        result = marquee.respond(None, f"something like {anchor}", n_items=K_LARGE, must_list=True)
        picks = [card.id for card in result.reply.items]
        hits = [normalize_title(catalog.items[i].title) in keys for i in picks]
        baseline = [i for i in most_rated if i != anchor_id][:K_SMALL]
        report.anchors.append(AnchorResult(
            anchor=anchor, anchor_id=anchor_id, picks=[catalog.items[i].label for i in picks], hits=hits,
            judged_in_catalog=in_catalog,
            baseline_hits=sum(normalize_title(catalog.items[i].title) in keys for i in baseline),
        ))
        report.popularity_percentiles += [percentile[i] for i in picks[:K_SMALL]]
    return report


def format_table(report: SimilarReport) -> str:
    data = report.as_json()
    lines = [f"{'anchor':32} {'P@5':>5} {'P@10':>5}  first picks (* = judged alike)"]
    for a in report.anchors:
        first = ", ".join(("*" if h else "") + p for p, h in zip(a.picks[:K_SMALL], a.hits))
        lines.append(f"{a.anchor[:32]:32} {a.precision(K_SMALL):5.2f} {a.precision(K_LARGE):5.2f}  {first}")
    lines.append("")
    lines.append(f"anchors {data['n_anchors']}  precision@5 {data['precision@5']:.3f}  "
                 f"precision@10 {data['precision@10']:.3f}  most-rated baseline P@5 {data['baseline_precision@5']:.3f}  "
                 f"mean popularity percentile {data['mean_popularity_percentile']:.1f}")
    if report.skipped:
        lines.append(f"skipped (not in the catalog): {', '.join(report.skipped)}")
    return "\n".join(lines)
