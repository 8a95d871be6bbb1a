"""Hybrid item search: dense (vector store) + keyword (BM25) scores, fused.

:class:`KeywordIndex` is BM25 over each item's title (counted twice), genres, tags, people and
description, held as one sparse matrix of precomputed term weights, so scoring a query is a sum
of a few columns (well under a millisecond on 10k items). It also finds fuzzy title matches.

:func:`hybrid_search` generates candidates from both channels and scores them with the one
relevance model (``retrieval.relevance``).
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from scipy import sparse

from marquee.errors import BadInput
from retrieval.catalog import Catalog, Item, collector_paused, fold, normalize_title
from retrieval.relevance import DENSE_SHARE, popularity_prior, text_parts
from retrieval.saved import read_arrays, sparse_arrays, sparse_from, words_array, words_from, write_arrays

if TYPE_CHECKING:  # pragma: no cover
    from retrieval.encoder import TextEncoder
    from retrieval.store import ItemStore, Where

log = logging.getLogger(__name__)

STOPWORDS = frozenset(
    """a an the and or but of in on at to for with without from by about as into like than
    is are was were be been being it its this that these those i me my we our you your he she
    they them their his her some any something anything movie movies film films one ones
    want looking look show find watch recommend please me more less very really just good""".split()
)

POPULARITY_WEIGHT = 0.3  # the prior in candidate generation (see hybrid_search)
MIN_CANDIDATES = 100


def tokenize(text: str) -> list[str]:
    """Folded words without stopwords, with a light plural stem (``zombies`` -> ``zombie``)."""
    tokens = []
    for word in fold(text).split():
        if word in STOPWORDS or len(word) < 2:
            continue
        if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
            word = word[:-1]
        tokens.append(word)
    return tokens


def _item_tokens(item: Item, title_weight: int = 2) -> list[str]:
    fields = [item.title] * title_weight + [" ".join(item.genres), " ".join(item.tags)]
    fields += [" ".join(item.all_people()), item.description or ""]
    return tokenize(" ".join(fields))


class KeywordIndex:
    """BM25 over item facts, plus fuzzy title lookup. Built once per catalog (~1 s for 10k)."""

    def __init__(self, catalog: Catalog, *, k1: float = 1.2, b: float = 0.75, title_weight: int = 2):
        self._attach(catalog)
        self.vocabulary: dict[str, int] = {}
        rows: list[int] = []
        cols: list[int] = []
        counts: list[float] = []
        lengths = np.zeros(len(self.ids), dtype=np.float64)
        with collector_paused():  # millions of list entries, no cycles (see collector_paused)
            for row, item_id in enumerate(self.ids):
                tokens = Counter(_item_tokens(catalog.items[item_id], title_weight))
                lengths[row] = sum(tokens.values())
                for token, count in tokens.items():
                    rows.append(row)
                    cols.append(self.vocabulary.setdefault(token, len(self.vocabulary)))
                    counts.append(count)
        tf = sparse.csr_matrix(
            (np.array(counts, dtype=np.float64), (rows, cols)),
            shape=(len(self.ids), max(len(self.vocabulary), 1)),
        )
        df = np.bincount(tf.indices, minlength=tf.shape[1])
        n = len(self.ids)
        idf = np.log(1.0 + (n - df + 0.5) / (df + 0.5))
        avg = lengths.mean() if n and lengths.mean() > 0 else 1.0
        norm = k1 * (1.0 - b + b * lengths / avg)
        weights = tf.tocoo()
        data = weights.data * (k1 + 1.0) / (weights.data + norm[weights.row]) * idf[weights.col]
        self._weights = sparse.csc_matrix((data, (weights.row, weights.col)), shape=tf.shape)
        self._popularity = np.array([popularity_prior(catalog.items[i].n_ratings, catalog.items[i].mean_rating)
                                     for i in self.ids])
        self._index_titles()

    def _attach(self, catalog: Catalog) -> None:
        """The catalog the index covers; its ids' order is the rows' order."""
        self.catalog = catalog
        self.ids: list[str] = list(catalog.ids)
        self._row = {item_id: row for row, item_id in enumerate(self.ids)}
        self._id_array = np.array(self.ids, dtype=str)

    def _index_titles(self) -> None:
        """Distinct title keys, and the items of each, most rated first (for :meth:`title_matches`)."""
        catalog = self.catalog
        self._titles: list[str] = []
        self._title_ids: list[list[str]] = []
        for key, ids in catalog.by_title.items():
            if key:
                self._titles.append(key)
                self._title_ids.append(sorted(ids, key=lambda i: -catalog.items[i].n_ratings))

    def save(self, path: Path, key: str) -> None:
        """Write the index to ``path`` (``.npz``) as built from the catalog ``key`` names
        (:func:`retrieval.saved.catalog_fingerprint`)."""
        arrays = {"vocabulary": words_array(list(self.vocabulary)), "popularity": self._popularity,
                  **sparse_arrays("weights", self._weights)}
        write_arrays(path, "keyword-index", key, arrays)

    @classmethod
    def load(cls, path: Path, catalog: Catalog, key: str) -> "KeywordIndex | None":
        """The index :meth:`save` wrote for this catalog; ``None`` when there is none (build it then)."""
        arrays = read_arrays(path, "keyword-index", key)
        if arrays is None:
            return None
        index = cls.__new__(cls)
        index._attach(catalog)
        index.vocabulary = {word: column for column, word in enumerate(words_from(arrays["vocabulary"]))}
        index._weights = sparse_from(arrays, "weights", sparse.csc_matrix)
        index._popularity = arrays["popularity"]
        index._index_titles()
        return index

    def popularity(self, ids: list[str]) -> np.ndarray:
        """:func:`retrieval.relevance.popularity_prior` of each item (0 for unknown ids)."""
        return np.array([self._popularity[self._row[i]] if i in self._row else 0.0 for i in ids])

    def score(self, query: str, candidate_ids: set[str] | list[str] | None = None) -> dict[str, float]:
        """BM25 score of every item that matches at least one query word.

        ``candidate_ids`` restricts the answer to those items (e.g. the ones passing filters).
        """
        rows, totals = self._hits(query, candidate_ids)
        return dict(zip([self.ids[row] for row in rows.tolist()], totals.tolist()))

    def top(self, query: str, k: int, candidate_ids: set[str] | list[str] | None = None) -> list[tuple[str, float]]:
        """The ``k`` best keyword matches, best first (ties: by id)."""
        rows, totals = self._hits(query, candidate_ids)
        if rows.size == 0:
            return []
        order = np.lexsort((self._id_array[rows], -totals))[:k]
        return list(zip(self._id_array[rows[order]].tolist(), totals[order].tolist()))

    def _hits(self, query: str, candidate_ids: set[str] | list[str] | None) -> tuple[np.ndarray, np.ndarray]:
        """Rows of the items sharing a word with ``query`` (within ``candidate_ids``) and their BM25 scores."""
        columns = [self.vocabulary[t] for t in tokenize(query) if t in self.vocabulary]
        if not columns:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        totals = np.asarray(self._weights[:, columns].sum(axis=1)).ravel()
        if candidate_ids is not None:
            mask = np.zeros(len(self.ids), dtype=bool)
            row = self._row
            mask[[row[i] for i in candidate_ids if i in row]] = True
            totals = np.where(mask, totals, 0.0)
        hits = np.flatnonzero(totals > 0)
        return hits, totals[hits]

    def title_matches(self, text: str, *, limit: int = 5, min_score: float = 88.0) -> list[tuple[str, float]]:
        """Items whose title fuzzily matches ``text`` (typos, missing articles), best first.

        Scores are rapidfuzz WRatio values (0-100); among items sharing a title the most rated
        comes first. A year in ``text`` ("Heat (1995)") keeps only that year's items when any match.
        """
        from rapidfuzz import fuzz, process

        key = normalize_title(text)
        if not key:
            return []
        year = re.search(r"\((\d{4})\)\s*$", text)
        found = process.extract(key, self._titles, scorer=fuzz.WRatio, limit=limit, score_cutoff=min_score)
        out: list[tuple[str, float]] = []
        for _title, value, index in found:
            ids = self._title_ids[index]
            if year:
                same_year = [i for i in ids if self.catalog.items[i].year == int(year.group(1))]
                ids = same_year or ids
            out += [(i, float(value)) for i in ids]
        out.sort(key=lambda kv: -kv[1])  # stable: most rated first within a score
        return out[:limit]


def hybrid_search(
    query: str,
    *,
    k: int,
    store: "ItemStore",
    encoder: "TextEncoder",
    keywords: KeywordIndex,
    where: "Where | None" = None,
    popularity_weight: float = POPULARITY_WEIGHT,
    candidates: int | None = None,
    vector: np.ndarray | None = None,
) -> list[tuple[str, float, dict[str, float]]]:
    """Items for a free-text query, best first: ``(item_id, score, parts)``.

    ``parts`` is ``{"dense": d, "keyword": w, "popularity": p}``, each in [0, 1]. Candidates are the
    ``max(100, 5k)`` items nearest to the query vector and as many best BM25 matches, all
    passing ``where`` (a Chroma filter, see :func:`retrieval.store.chroma_where`). Each is scored
    by the one relevance model (``retrieval.relevance``)::

        d, w = text_parts(query)     (rescaled cosine; BM25 relative to the best candidate)
        p = popularity_prior(item)
        score = 0.7 d + 0.3 w + popularity_weight * p

    Search is a candidate generator: what matters is that the items a person would want are in
    the pool the rank step sees, where the weights of the kind of request decide. A small
    popularity prior keeps a theme query ("space adventure") from being won by obscure titles
    sharing one query word. (Until the taste work the fusion was a min-max sum measured on
    ReDial turns, dense 0.6 / keyword 0.4 / popularity 0.3; the candidate pools of both
    formulas are compared in ``evals/REPORT.md`` §taste.)
    """
    if not query or not query.strip():
        raise BadInput("the search query is empty")
    if k < 1:
        raise BadInput(f"k must be at least 1, got {k}")
    if popularity_weight < 0:
        raise BadInput("the popularity weight must be non-negative")
    pool = candidates or max(MIN_CANDIDATES, 5 * k)
    vector = encoder.encode([query])[0] if vector is None else vector
    dense_hits = store.nearest(vector, pool, where=where)
    allowed = store.matching_ids(where) if where is not None else None
    keyword_hits = keywords.top(query, pool, candidate_ids=allowed)
    ids = list(dict.fromkeys([i for i, _ in dense_hits] + [i for i, _ in keyword_hits]))
    ids = [i for i in ids if i in store]
    if not ids:
        return []
    parts = text_parts(query, vector, ids, store=store, keywords=keywords)
    popularity = keywords.popularity(ids)
    text = np.array([DENSE_SHARE * parts[i][0] + (1 - DENSE_SHARE) * parts[i][1] for i in ids])
    fused = text + popularity_weight * popularity
    order = np.lexsort((np.array(ids), -fused))[:k]
    return [(ids[j], float(fused[j]), {"dense": parts[ids[j]][0], "keyword": parts[ids[j]][1],
                                       "popularity": float(popularity[j])}) for j in order]
