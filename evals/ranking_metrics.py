"""Top-k ranking metrics shared by the offline recommender evaluations (binary relevance)."""

from __future__ import annotations

from typing import Sequence

import numpy as np


def top_k_indices(scores: np.ndarray, k: int) -> np.ndarray:
    """Per row, the column indices of the ``k`` largest scores, best first (ties: lower index)."""
    scores = np.atleast_2d(scores)
    k = min(k, scores.shape[1])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    part.sort(axis=1)  # ties resolve to the lower index, independent of argpartition's order
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


def ndcg_and_recall(
    scores: np.ndarray, relevant: Sequence[np.ndarray], *, k_ndcg: int = 10, k_recall: int = 20
) -> tuple[np.ndarray, np.ndarray]:
    """Per-user NDCG@k_ndcg and Recall@k_recall.

    ``scores`` is users × items with excluded items already at ``-inf``; ``relevant[u]`` holds the
    column indices of user ``u``'s held-out positives (each user needs at least one).
    NDCG uses binary gains with the ideal DCG of ``min(|relevant|, k)`` hits; recall is
    ``hits / min(|relevant|, k_recall)`` (Liang et al. 2018), so a perfect list scores 1.
    """
    scores = np.atleast_2d(scores)
    if len(relevant) != scores.shape[0]:
        raise ValueError("one list of relevant items per score row is needed")
    is_relevant = np.zeros(scores.shape, dtype=bool)
    for row, targets in enumerate(relevant):
        is_relevant[row, np.asarray(targets, dtype=np.int64)] = True
    counts = is_relevant.sum(axis=1)
    if (counts == 0).any():
        raise ValueError(f"user row {int(np.argmin(counts))} has no relevant items")
    top = top_k_indices(scores, max(k_ndcg, k_recall))
    hits = np.take_along_axis(is_relevant, top, axis=1)
    discounts = 1.0 / np.log2(np.arange(2, k_ndcg + 2))
    ideal = np.cumsum(discounts)[np.minimum(counts, k_ndcg) - 1]
    ndcg = (hits[:, :k_ndcg] * discounts[: hits[:, :k_ndcg].shape[1]]).sum(axis=1) / ideal
    recall = hits[:, :k_recall].sum(axis=1) / np.minimum(counts, k_recall)
    return ndcg, recall
