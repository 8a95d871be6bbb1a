"""How the similarity mix was chosen: a grid over the component weights, scored on judged lists.

``python -m evals.similarity_grid --judged ../shared/evals/like_x_dev.json`` scores the
similarity model alone (no conversation, no popularity prior, no diversity) for every weight set
of :data:`GRID` and every exponent of :data:`EXPONENTS` (each component enters the mix as
``weight * value ** exponent``). It prints, per exponent:

- the best precision@5 in sample and the median over the grid;
- leave-one-anchor-out precision@5: for each anchor, the weight sets best on the *other* anchors
  are scored on it. This is the figure that says whether a choice carries over to anchors it
  was not chosen on (the held-out judged set has other anchors);
- the best weight sets.

Everything is a choice made on the judged file given: report it as tuned there.
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import numpy as np

from evals.similar import read_judged
from retrieval.catalog import load_catalog, normalize_title
from retrieval.modalities import load_precomputed
from retrieval.similarity import ItemSimilarity, read_likes

GRID: dict[str, list[float]] = {
    "people": [0.25, 0.5, 1.0], "genres": [0.1, 0.25], "tags": [0.1, 0.25, 0.5],
    "story": [0.1, 0.25, 0.5], "cf": [0.25, 0.5, 1.0], "era": [0.0, 0.1],
}
EXPONENTS = (1.0, 0.7, 0.5, 0.35)
K = 5


def anchor_components(catalog_dir: Path, judged: dict[str, list[str]]) -> list[tuple[int, dict, np.ndarray]]:
    """For each judged anchor in the catalog: its row, its component scores against every item,
    and which items are judged alike."""
    catalog = load_catalog(catalog_dir)
    story_path, ratings_path = catalog_dir / "story.npz", catalog_dir / "ratings.csv"
    story = load_precomputed(story_path, known_ids=catalog.ids) if story_path.exists() else None
    similarity = ItemSimilarity(catalog, likes=read_likes(ratings_path) if ratings_path.exists() else None,
                                story=(story.ids, story.vectors) if story is not None else None)
    titles = np.array([normalize_title(catalog.items[i].title) for i in similarity.ids])
    out = []
    for anchor, alike in judged.items():
        item = catalog.find_title(anchor)
        if item is not None:
            keys = {normalize_title(t) for t in alike}
            out.append((similarity.index[item.id], similarity.components(item.id), np.isin(titles, list(keys))))
    return out


def precision_table(anchors: list[tuple[int, dict, np.ndarray]], weight_sets: list[dict[str, float]],
                    exponent: float) -> np.ndarray:
    """Precision@K of each weight set (rows) on each anchor (columns)."""
    table = np.zeros((len(weight_sets), len(anchors)))
    for column, (row, parts, alike) in enumerate(anchors):
        powered = {name: np.power(np.clip(values, 0.0, None), exponent) for name, values in parts.items()}
        for n, weights in enumerate(weight_sets):
            score = sum(weights.get(name, 0.0) * values for name, values in powered.items())
            score[row] = -np.inf
            table[n, column] = alike[np.argpartition(-score, K)[:K]].mean()
    return table


def leave_one_out(table: np.ndarray) -> float:
    """Mean precision on each anchor of the weight sets best on all the other anchors."""
    scores = []
    for column in range(table.shape[1]):
        others = np.delete(table, column, axis=1).mean(axis=1)
        scores.append(table[others == others.max(), column].mean())
    return float(np.mean(scores))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--judged", type=Path, required=True, help="judged lists, the format of like_x_dev.json")
    parser.add_argument("--catalog", type=Path, default=Path(__file__).resolve().parents[1] / "data" / "demo")
    args = parser.parse_args(argv)
    anchors = anchor_components(args.catalog, read_judged(args.judged))
    weight_sets = [dict(zip(GRID, values)) for values in itertools.product(*GRID.values())]
    print(f"{len(anchors)} anchors, {len(weight_sets)} weight sets, precision@{K} of the similarity alone")
    for exponent in EXPONENTS:
        table = precision_table(anchors, weight_sets, exponent)
        means = table.mean(axis=1)
        print(f"exponent {exponent}: best {means.max():.4f}, median {np.median(means):.4f}, "
              f"leave-one-anchor-out {leave_one_out(table):.4f}")
        for n in np.argsort(-means, kind="stable")[:3]:
            print(f"    {means[n]:.4f}  {weight_sets[n]}")


if __name__ == "__main__":
    main()
