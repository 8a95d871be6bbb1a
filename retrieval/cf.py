"""The collaborative model: items that people who liked X also liked, learned from ratings.

Two kinds, both linear item-to-item models scored as ``history @ W``:

- ``ease`` (the default, measured better on ml-latest-small — see ``evals/CF_CHOICE.md``):
  EASE (Steck 2019), ``B = I - P / diag(P)`` with ``P = (XᵀX + λI)⁻¹``, restricted to items with
  at least ``min_item_ratings`` interactions so the dense inverse stays cheap.
- ``itemknn``: item-item cosine similarity, each item keeping its ``neighbours`` closest items.

Ids are strings (the catalog's item ids). A history is ``item id -> weight``; negative weights
(dislikes) push similar items down. Models are saved as ``.npz`` in the workspace and cached by
a fingerprint of the ratings, so a restart does not refit.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Literal, Mapping, Sequence

import numpy as np
from scipy import sparse

from marquee.errors import BadInput, CatalogError

logger = logging.getLogger(__name__)

CFKind = Literal["ease", "itemknn"]
FORMAT_VERSION = 1
DEFAULT_PARAMS: dict[str, dict[str, float | int | None]] = {
    "ease": {"l2": 200.0, "min_item_ratings": 3, "positive_threshold": 4.0},
    "itemknn": {"neighbours": 400, "min_item_ratings": 5, "positive_threshold": 4.0},
}


class CFModel:
    """A fitted item-to-item model over ``item_ids``, plus per-item popularity.

    ``weights`` is an ``(n, n)`` matrix (dense for EASE, sparse CSR for item-kNN) where row ``i``
    says how much an interaction with item ``i`` predicts each other item.
    """

    def __init__(
        self,
        *,
        kind: str,
        item_ids: Sequence[str],
        weights: np.ndarray | sparse.csr_matrix,
        popularity_ids: Sequence[str],
        popularity_counts: np.ndarray,
        params: Mapping[str, float | int | None] | None = None,
        fingerprint: str = "",
    ):
        self.kind = kind
        self.item_ids: list[str] = [str(i) for i in item_ids]
        self.index: dict[str, int] = {item: i for i, item in enumerate(self.item_ids)}
        self.weights = weights
        self.popularity_ids: list[str] = [str(i) for i in popularity_ids]
        self.popularity_counts = np.asarray(popularity_counts, dtype=np.float32)
        self.params: dict[str, float | int | None] = dict(params or {})
        self.fingerprint = fingerprint
        self._popularity: dict[str, float] | None = None
        if self.weights.shape != (len(self.item_ids), len(self.item_ids)):
            raise ValueError(f"weights shape {self.weights.shape} does not match {len(self.item_ids)} items")

    def __len__(self) -> int:
        return len(self.item_ids)

    @property
    def popularity(self) -> dict[str, float]:
        """Item id -> share of interactions relative to the most popular item (0..1), all rated items."""
        if self._popularity is None:
            top = float(self.popularity_counts.max()) if len(self.popularity_counts) else 1.0
            top = top or 1.0
            self._popularity = {
                item: float(count) / top for item, count in zip(self.popularity_ids, self.popularity_counts)
            }
        return self._popularity

    def history_vector(self, history: Mapping[str, float]) -> np.ndarray:
        """The history as a weight vector over ``item_ids``; items the model does not know are skipped."""
        vector = np.zeros(len(self.item_ids), dtype=np.float32)
        for item, weight in history.items():
            position = self.index.get(str(item))
            if position is not None and np.isfinite(weight):
                vector[position] += float(weight)
        return vector

    def score_matrix(self, histories: np.ndarray) -> np.ndarray:
        """Scores for a batch of history vectors (rows over ``item_ids``) — the raw model output."""
        rows = sparse.csr_matrix(np.atleast_2d(np.asarray(histories, dtype=np.float32)))
        scores = rows @ self.weights  # histories are short: only their items' rows are read
        if sparse.issparse(scores):
            scores = scores.toarray()
        return np.asarray(scores, dtype=np.float32)

    def score_vector(self, history: Mapping[str, float]) -> np.ndarray:
        """Raw scores over ``item_ids`` for one history (history items are not excluded)."""
        return self.score_matrix(self.history_vector(history))[0]

    def score(self, history: Mapping[str, float], *, exclude_history: bool = True) -> dict[str, float]:
        """Item id -> score for every modelled item; by default the history's own items are left out.

        An empty history (or one whose items the model does not know) gives all zeros: the caller
        falls back to popularity or content.
        """
        scores = self.score_vector(history)
        skip = {str(i) for i in history} if exclude_history else set()
        return {item: float(s) for item, s in zip(self.item_ids, scores) if item not in skip}

    def similar(self, item_ids: Sequence[str], k: int = 10) -> dict[str, float]:
        """The ``k`` items most similar to these (jointly), best first, excluding them.

        Unknown ids are skipped; if none is known the answer is empty. Only items with a positive
        score are returned.
        """
        if k < 1:
            raise BadInput(f"k must be at least 1, got {k}")
        known = [str(i) for i in item_ids if str(i) in self.index]
        if not known:
            logger.debug("similar(): none of %d ids is in the collaborative model", len(item_ids))
            return {}
        scores = self.score_vector({item: 1.0 for item in known})
        for item in known:
            scores[self.index[item]] = -np.inf
        top = _top_k(scores, k)
        return {self.item_ids[i]: float(scores[i]) for i in top if scores[i] > 0}

    def save(self, path: Path) -> Path:
        """Write the model to ``path`` (``.npz``) atomically; returns the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, np.ndarray] = {
            "meta": np.array(json.dumps({
                "version": FORMAT_VERSION, "kind": self.kind, "params": self.params,
                "fingerprint": self.fingerprint,
            })),
            "item_ids": np.array(self.item_ids, dtype=str),
            "popularity_ids": np.array(self.popularity_ids, dtype=str),
            "popularity_counts": self.popularity_counts,
        }
        if sparse.issparse(self.weights):
            csr = sparse.csr_matrix(self.weights)
            arrays.update(w_data=csr.data, w_indices=csr.indices, w_indptr=csr.indptr)
        else:
            arrays["w_dense"] = np.asarray(self.weights, dtype=np.float32)
        handle, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz.tmp")
        os.close(handle)
        try:
            with open(tmp, "wb") as out:
                np.savez(out, **arrays)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return path

    @classmethod
    def load(cls, path: Path) -> "CFModel":
        """Read a model written by :meth:`save`. Raises ``CatalogError`` if the file is unusable."""
        try:
            with np.load(Path(path), allow_pickle=False) as data:
                meta = json.loads(str(data["meta"]))
                if meta.get("version") != FORMAT_VERSION:
                    raise CatalogError(f"{path}: collaborative model format {meta.get('version')} "
                                       f"is not {FORMAT_VERSION}")
                item_ids = data["item_ids"].tolist()
                if "w_dense" in data:
                    weights: np.ndarray | sparse.csr_matrix = data["w_dense"]
                else:
                    n = len(item_ids)
                    weights = sparse.csr_matrix(
                        (data["w_data"], data["w_indices"], data["w_indptr"]), shape=(n, n)
                    )
                return cls(
                    kind=meta["kind"], item_ids=item_ids, weights=weights,
                    popularity_ids=data["popularity_ids"].tolist(),
                    popularity_counts=data["popularity_counts"], params=meta.get("params"),
                    fingerprint=meta.get("fingerprint", ""),
                )
        except (OSError, ValueError, KeyError) as exc:
            raise CatalogError(f"cannot read collaborative model {path}: {exc}") from exc


def _top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` largest scores, best first (stable for ties)."""
    k = min(k, len(scores))
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    part = np.argpartition(-scores, k - 1)[:k]
    return part[np.argsort(-scores[part], kind="stable")]


def interaction_matrix(
    user_ids: Sequence, item_ids: Sequence, ratings: Sequence | None = None, *,
    positive_threshold: float | None = None, min_item_ratings: int = 1,
) -> tuple[sparse.csr_matrix, list[str], list[str], np.ndarray]:
    """Binary users × items matrix of the interactions that count, and the item vocabulary.

    Returns ``(X, modelled item ids, all rated item ids, per-item counts over all rated items)``.
    With ``positive_threshold`` only ratings at or above it count as interactions; items with
    fewer than ``min_item_ratings`` interactions are left out of ``X``.
    """
    users = np.asarray([str(u) for u in user_ids], dtype=object)
    items = np.asarray([str(i) for i in item_ids], dtype=object)
    if len(users) != len(items) or (ratings is not None and len(ratings) != len(items)):
        raise BadInput("user_ids, item_ids and ratings must have the same length")
    keep = np.ones(len(items), dtype=bool)
    if ratings is not None:
        values = np.asarray(ratings, dtype=np.float64)
        finite = np.isfinite(values)
        if (~finite).any():
            logger.warning("skipped %d ratings that are not numbers", int((~finite).sum()))
        keep &= finite
        if positive_threshold is not None:
            keep &= np.where(finite, values, -np.inf) >= positive_threshold
    users, items = users[keep], items[keep]
    if len(items) == 0:
        raise BadInput("no interactions to fit the collaborative model on")
    all_items, item_codes, counts = np.unique(items, return_inverse=True, return_counts=True)
    user_codes = np.unique(users, return_inverse=True)[1]
    modelled = counts >= max(1, min_item_ratings)
    if not modelled.any():
        raise BadInput(f"no item has {min_item_ratings} or more interactions")
    new_code = np.full(len(all_items), -1, dtype=np.int64)
    new_code[modelled] = np.arange(int(modelled.sum()))
    columns = new_code[item_codes]
    inside = columns >= 0
    X = sparse.csr_matrix(
        (np.ones(int(inside.sum()), dtype=np.float32), (user_codes[inside], columns[inside])),
        shape=(int(user_codes.max()) + 1, int(modelled.sum())),
    )
    X.sum_duplicates()
    X.data[:] = 1.0  # a (user, item) pair rated twice counts once
    return X, all_items[modelled].tolist(), all_items.tolist(), counts.astype(np.float32)


def ease_weights(X: sparse.csr_matrix, l2: float) -> np.ndarray:
    """EASE's closed form ``B = I - P / diag(P)`` (zero diagonal), ``P = (XᵀX + λI)⁻¹``."""
    gram = (X.T @ X).toarray().astype(np.float64)
    gram[np.diag_indices_from(gram)] += l2
    precision = np.linalg.inv(gram)
    weights = precision / (-np.diag(precision))
    weights[np.diag_indices_from(weights)] = 0.0
    return weights.astype(np.float32)


def itemknn_weights(X: sparse.csr_matrix, neighbours: int) -> sparse.csr_matrix:
    """Cosine item-item similarity, each row keeping its ``neighbours`` largest entries."""
    gram = (X.T @ X).tocsr().astype(np.float32)
    norms = np.sqrt(np.asarray(X.sum(axis=0)).ravel()).astype(np.float32)  # binary X: ||x_i||² = count
    norms[norms == 0] = 1.0
    inverse = sparse.diags(1.0 / norms)
    cosine = (inverse @ gram @ inverse).tocsr()
    cosine.setdiag(0.0)
    cosine.eliminate_zeros()
    rows, cols, vals = [], [], []
    for i in range(cosine.shape[0]):
        start, end = cosine.indptr[i], cosine.indptr[i + 1]
        if start == end:
            continue
        row_vals = cosine.data[start:end]
        keep = _top_k(row_vals, neighbours)
        rows.append(np.full(len(keep), i))
        cols.append(cosine.indices[start:end][keep])
        vals.append(row_vals[keep])
    if not rows:
        return sparse.csr_matrix(cosine.shape, dtype=np.float32)
    return sparse.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=cosine.shape
    )


def fit_cf(
    user_ids: Sequence, item_ids: Sequence, ratings: Sequence | None = None, *,
    kind: CFKind = "ease", l2: float | None = None, neighbours: int | None = None,
    min_item_ratings: int | None = None, positive_threshold: float | None = None,
    fingerprint: str = "",
) -> CFModel:
    """Fit a collaborative model on parallel sequences of (user, item, rating).

    Only ratings at or above ``positive_threshold`` count as interactions (default 4.0, the
    measured choice; pass ``0.0`` or ``-inf`` to count every rating). Unset hyper-parameters take
    the measured defaults in ``DEFAULT_PARAMS``.
    """
    if kind not in DEFAULT_PARAMS:
        raise BadInput(f"unknown collaborative model kind {kind!r}; use one of {sorted(DEFAULT_PARAMS)}")
    params = dict(DEFAULT_PARAMS[kind])
    given = {"l2": l2, "neighbours": neighbours, "min_item_ratings": min_item_ratings,
             "positive_threshold": positive_threshold}
    params.update({key: value for key, value in given.items() if value is not None and key in params})
    started = time.perf_counter()
    X, modelled, all_items, counts = interaction_matrix(
        user_ids, item_ids, ratings, positive_threshold=params["positive_threshold"],
        min_item_ratings=int(params["min_item_ratings"] or 1),
    )
    if kind == "ease":
        weights: np.ndarray | sparse.csr_matrix = ease_weights(X, float(params["l2"]))
    else:
        weights = itemknn_weights(X, int(params["neighbours"]))
    logger.info("fitted %s on %d interactions, %d items in %.1fs", kind, X.nnz, len(modelled),
                time.perf_counter() - started)
    return CFModel(kind=kind, item_ids=modelled, weights=weights, popularity_ids=all_items,
                   popularity_counts=counts, params=params, fingerprint=fingerprint)


def read_ratings_csv(path: Path) -> tuple[list[str], list[str], np.ndarray]:
    """Read ``user_id,item_id,rating[,timestamp]`` (MovieLens ``userId,movieId`` headers too).

    Rows that cannot be read are skipped and counted in the log.
    """
    aliases = {"user": ("user_id", "userid", "user"), "item": ("item_id", "movieid", "item", "movie_id"),
               "rating": ("rating", "label", "score")}
    try:
        handle = Path(path).open(encoding="utf-8", newline="")
    except OSError as exc:
        raise CatalogError(f"cannot read ratings file {path}: {exc.strerror}") from exc
    users: list[str] = []
    items: list[str] = []
    values: list[float] = []
    skipped = 0
    with handle:
        reader = csv.reader(handle)
        header = [h.strip().lower() for h in next(reader, [])]
        columns = {}
        for name, options in aliases.items():
            found = [header.index(o) for o in options if o in header]
            if not found:
                raise CatalogError(f"{path}: no {name} column in header {header}")
            columns[name] = found[0]
        for row in reader:
            try:
                rating = float(row[columns["rating"]])
                user, item = row[columns["user"]].strip(), row[columns["item"]].strip()
            except (IndexError, ValueError):
                skipped += 1
                continue
            if not user or not item:
                skipped += 1
                continue
            users.append(user)
            items.append(item)
            values.append(rating)
    if skipped:
        logger.warning("%s: skipped %d unreadable rating rows", path, skipped)
    return users, items, np.asarray(values, dtype=np.float32)


def file_fingerprint(path: Path, extra: Mapping[str, object] | None = None) -> str:
    """Hex digest of a file's bytes plus the fitting parameters: the cache key of a fitted model."""
    digest = hashlib.sha256()
    try:
        with Path(path).open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        raise CatalogError(f"cannot read ratings file {path}: {exc.strerror}") from exc
    digest.update(json.dumps({"v": FORMAT_VERSION, **(extra or {})}, sort_keys=True).encode())
    return digest.hexdigest()[:20]


def load_or_fit(ratings_path: Path, cache_dir: Path, *, kind: CFKind = "ease", **params) -> CFModel:
    """The model for this ratings file: read from ``cache_dir`` if fitted before, else fit and save."""
    settings = {key: value for key, value in params.items() if value is not None}
    fingerprint = file_fingerprint(ratings_path, {"kind": kind, **settings})
    cached = Path(cache_dir) / f"cf-{kind}-{fingerprint}.npz"
    if cached.exists():
        try:
            return CFModel.load(cached)
        except CatalogError as exc:
            logger.warning("refitting: %s", exc)
    users, items, ratings = read_ratings_csv(ratings_path)
    model = fit_cf(users, items, ratings, kind=kind, fingerprint=fingerprint, **settings)
    model.save(cached)
    return model
