"""Which collaborative model Marquee uses by default: EASE vs item-item cosine, measured.

Protocol (``evals/CF_CHOICE.md``): each user's ratings are split at random 80/20 (users with at
least 5 ratings); models are fitted on the 80%; each user is scored from their own 80%, every
item they have not rated in it is ranked, and the held-out ratings >= 4 are the targets.
Hyper-parameters are picked on a split made with ``tune_seed`` and reported on ``seed``.

    python -m evals.cf_choice ../shared/data/ml-latest-small/ratings.csv
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from evals.ranking_metrics import ndcg_and_recall
from retrieval.cf import CFModel, fit_cf, read_ratings_csv

logger = logging.getLogger(__name__)

GRID: dict[str, list[dict]] = {
    "ease": [
        {"l2": l2, "min_item_ratings": m, "positive_threshold": t}
        for l2 in (50.0, 200.0, 500.0) for m in (3, 5) for t in (0.0, 4.0)
    ],
    "itemknn": [
        {"neighbours": k, "min_item_ratings": m, "positive_threshold": t}
        for k in (20, 100, 400) for m in (2, 5) for t in (0.0, 4.0)
    ],
}


@dataclass
class Split:
    """Per-user random holdout: training rows and, per evaluated user, the held-out positives."""

    train_users: np.ndarray
    train_items: np.ndarray
    train_ratings: np.ndarray
    test_positives: dict[str, set[str]]


def split_by_user(users: list[str], items: list[str], ratings: np.ndarray, *, seed: int,
                  test_share: float = 0.2, min_ratings: int = 5) -> Split:
    """Hold out ``test_share`` of each user's ratings at random (users with ``min_ratings`` or more)."""
    rng = np.random.default_rng(seed)
    users_arr, items_arr = np.asarray(users, dtype=object), np.asarray(items, dtype=object)
    test_mask = np.zeros(len(users_arr), dtype=bool)
    order = np.argsort(users_arr, kind="stable")
    boundaries = np.flatnonzero(users_arr[order][1:] != users_arr[order][:-1]) + 1
    for rows in np.split(order, boundaries):
        if len(rows) >= min_ratings:
            n_test = int(round(test_share * len(rows)))
            test_mask[rng.choice(rows, n_test, replace=False)] = True
    positives: dict[str, set[str]] = {}
    for row in np.flatnonzero(test_mask & (ratings >= 4.0)):
        positives.setdefault(users_arr[row], set()).add(items_arr[row])
    keep = ~test_mask
    return Split(users_arr[keep], items_arr[keep], ratings[keep], positives)


def evaluate(model: CFModel, split: Split) -> dict[str, float]:
    """Mean NDCG@10 and Recall@20 of ``model`` on the split's held-out positives."""
    threshold = model.params.get("positive_threshold")
    histories: dict[str, dict[str, float]] = {}
    rated: dict[str, set[str]] = {}
    for user, item, rating in zip(split.train_users, split.train_items, split.train_ratings):
        rated.setdefault(user, set()).add(item)
        if rating >= threshold:
            histories.setdefault(user, {})[item] = 1.0
    users = [u for u in split.test_positives if any(i in model.index for i in split.test_positives[u])]
    missing_targets = len(split.test_positives) - len(users)
    H = np.stack([model.history_vector(histories.get(u, {})) for u in users])
    scores = model.score_matrix(H)
    for row, user in enumerate(users):
        seen = [model.index[i] for i in rated.get(user, ()) if i in model.index]
        scores[row, seen] = -np.inf
    relevant = [np.array([model.index[i] for i in split.test_positives[u] if i in model.index]) for u in users]
    # targets outside the model's items are misses, not dropped: count them in the denominators
    totals = [len(split.test_positives[u]) for u in users]
    ndcg, recall = ndcg_and_recall(scores, relevant)
    ideal_fix = np.array([_ideal(min(t, 10)) / _ideal(min(len(r), 10)) for t, r in zip(totals, relevant)])
    recall_fix = np.array([min(len(r), 20) / min(t, 20) for t, r in zip(totals, relevant)])
    n_all = len(split.test_positives)
    return {
        "ndcg@10": float((ndcg / ideal_fix).sum() / n_all),
        "recall@20": float((recall * recall_fix).sum() / n_all),
        "users": n_all,
        "users_without_modelled_target": missing_targets,
    }


def _ideal(n: int) -> float:
    return float((1.0 / np.log2(np.arange(2, n + 2))).sum()) if n else 1.0


def compare(ratings_path: Path, *, seed: int = 7, tune_seed: int = 1) -> dict:
    """Tune each kind on the ``tune_seed`` split, then report every configuration on ``seed``."""
    users, items, ratings = read_ratings_csv(ratings_path)
    tune = split_by_user(users, items, ratings, seed=tune_seed)
    test = split_by_user(users, items, ratings, seed=seed)
    report: dict = {"ratings": str(ratings_path), "seed": seed, "tune_seed": tune_seed, "kinds": {}}
    for kind, grid in GRID.items():
        rows = []
        for params in grid:
            started = time.perf_counter()
            model = fit_cf(tune.train_users, tune.train_items, tune.train_ratings, kind=kind, **params)
            fit_s = time.perf_counter() - started
            tuned = evaluate(model, tune)
            rows.append({"params": params, "tune": tuned, "fit_s": round(fit_s, 2)})
        best = max(rows, key=lambda r: r["tune"]["ndcg@10"])
        started = time.perf_counter()
        model = fit_cf(test.train_users, test.train_items, test.train_ratings, kind=kind, **best["params"])
        fit_s = time.perf_counter() - started
        report["kinds"][kind] = {"grid": rows, "best_params": best["params"],
                                 "test": evaluate(model, test), "fit_s": round(fit_s, 2)}
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ratings", type=Path)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--tune-seed", type=int, default=1)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    print(json.dumps(compare(args.ratings, seed=args.seed, tune_seed=args.tune_seed), indent=1))


if __name__ == "__main__":
    main()
