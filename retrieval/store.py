"""The item vector store: one Chroma collection per modality, same item ids in each.

A collection ``items_<modality>`` (``items_text`` now; ``items_image`` later) holds one unit
vector per item in cosine space, plus flat metadata for filtering:

- ``year``, ``runtime`` (only when known) and ``has_year`` / ``has_runtime`` flags,
- ``n_ratings``,
- one boolean per catalog genre, ``g_<Genre>`` (e.g. ``g_Comedy: True``, ``g_Sci-Fi: False``),
  because Chroma filters on list metadata are awkward.

Vectors are always passed explicitly: no collection ever has a Chroma embedding function (the
default one would download a model).

The collection's own metadata is the *manifest* (catalog fingerprint, encoder name, dimension,
build time). A build writes to ``items_<modality>__building`` and only renames it to the live
name once every vector is in, so an interrupted build never leaves a collection that looks
current; the next start finds nothing (or the old index) and builds again.

The store also keeps every vector and the filter metadata in memory (loaded once at open,
~15 MB for 10k items x 384). Two ways to ask for neighbours, same answers:

- :meth:`ItemStore.query` asks Chroma (approximate, filters run in Chroma). This is the path
  for catalogs too big for memory. On the 9.7k demo catalog on a busy 2-core machine: ~4 ms
  unfiltered, but 80-100 ms with a year/genre filter.
- :meth:`ItemStore.nearest` scores every item in memory (exact, ~1.5 ms with any filter).
  Interactive search uses this one. From ``ANN_MIN_ITEMS`` items on (100k), exact scoring
  costs too much per query and it asks an inverted-file index instead (``retrieval/ann.py``,
  same filters; recall@50 measured by ``marquee bench scale``).

**Start-up at scale.** Reading every vector back from Chroma takes minutes at a million items
(and a Chroma server sends them as JSON), so the in-memory copy and the index are also kept as
files in ``<workspace>/index/`` named after the collection's manifest: a start finds them, a
rebuilt collection has another manifest and gets new files.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

import numpy as np

from marquee.errors import BadInput, ConfigError, NotFound
from retrieval import ann
from retrieval.catalog import Catalog, Item
from retrieval.encoder import TextEncoder, item_text

if TYPE_CHECKING:  # pragma: no cover
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection

    from marquee.settings import Settings

log = logging.getLogger(__name__)

MANIFEST_FORMAT = 1
BATCH_SIZE = 256
LOAD_PAGE = 5000
GENRE_PREFIX = "g_"

Where = dict[str, Any]


# --------------------------------------------------------------------------- clients, filters


def make_chroma_client(settings: "Settings") -> "ClientAPI":
    """Embedded Chroma in ``<workspace>/chroma``, or a Chroma server when ``chroma_host`` is set."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_host:
        try:
            client = chromadb.HttpClient(
                host=settings.chroma_host, port=settings.chroma_port, settings=chroma_settings
            )
            client.heartbeat()
        except Exception as exc:  # chromadb raises plain ValueError/httpx errors here
            raise ConfigError(
                f"MARQUEE_CHROMA_HOST/MARQUEE_CHROMA_PORT: no Chroma server at "
                f"{settings.chroma_host}:{settings.chroma_port} ({exc})"
            ) from exc
        return client
    path = settings.workspace / "chroma"
    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=chroma_settings)


def genre_key(genre: str) -> str:
    """Metadata key of a genre flag; ``genre`` is spelled as in the catalog (``Sci-Fi``)."""
    return GENRE_PREFIX + genre.strip()


def _all_of(clauses: list[Where]) -> Where | None:
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def chroma_where(
    *,
    year_min: int | None = None,
    year_max: int | None = None,
    runtime_min: int | None = None,
    runtime_max: int | None = None,
    genres_include: Iterable[str] = (),
    genres_exclude: Iterable[str] = (),
    min_ratings: int | None = None,
    keep_unknown: bool = False,
) -> Where | None:
    """Hard constraints as a Chroma ``where`` dict, or ``None`` when there are none.

    ``genres_include`` must all be present, ``genres_exclude`` must all be absent; genre names
    are spelled as in the catalog. Items whose year or runtime is unknown fail a year or runtime
    bound unless ``keep_unknown`` (useful for runtime, which many catalogs lack).
    """
    clauses: list[Where] = []
    for field, low, high in (("year", year_min, year_max), ("runtime", runtime_min, runtime_max)):
        if low is not None and high is not None and low > high:
            raise BadInput(f"{field} bounds are reversed: {low} > {high}")
        bounds = [{field: {op: v}} for op, v in (("$gte", low), ("$lte", high)) if v is not None]
        bound = _all_of(bounds)
        if bound is not None:
            clauses.append({"$or": [bound, {f"has_{field}": False}]} if keep_unknown else bound)
    clauses += [{genre_key(g): True} for g in dict.fromkeys(genres_include)]
    clauses += [{genre_key(g): {"$ne": True}} for g in dict.fromkeys(genres_exclude)]
    if min_ratings is not None:
        clauses.append({"n_ratings": {"$gte": int(min_ratings)}})
    return _all_of(clauses)


def item_metadata(item: Item, genres: list[str]) -> dict[str, Any]:
    """Flat filter metadata of one item; ``genres`` is the catalog's genre list."""
    meta: dict[str, Any] = {
        "n_ratings": item.n_ratings,
        "has_year": item.year is not None,
        "has_runtime": item.runtime is not None,
    }
    if item.year is not None:
        meta["year"] = item.year
    if item.runtime is not None:
        meta["runtime"] = item.runtime
    own = set(item.genres)
    for genre in genres:
        meta[genre_key(genre)] = genre in own
    return meta


def catalog_fingerprint(catalog: Catalog) -> str:
    """A hash of every item's facts: changes whenever the index would need rebuilding."""
    digest = hashlib.sha256()
    for item_id in sorted(catalog.ids):
        digest.update(catalog.items[item_id].model_dump_json().encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()[:32]


class _Unsupported(Exception):
    """A ``where`` the in-memory evaluator does not handle; Chroma answers it instead."""


def _metadata_columns(metadatas: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    """Numeric and boolean metadata as float columns (``nan`` = key missing)."""
    keys = {key for meta in metadatas for key, value in meta.items() if isinstance(value, (bool, int, float))}
    columns = {}
    for key in keys:
        column = np.full(len(metadatas), np.nan)
        for row, meta in enumerate(metadatas):
            value = meta.get(key)
            if isinstance(value, (bool, int, float)):
                column[row] = float(value)
        columns[key] = column
    return columns


_COMPARE = {
    "$eq": np.equal, "$gt": np.greater, "$gte": np.greater_equal,
    "$lt": np.less, "$lte": np.less_equal,
}


def _evaluate(where: Where, columns: dict[str, np.ndarray], n: int) -> np.ndarray:
    """Rows passing a Chroma ``where`` over numeric/boolean columns; raises ``_Unsupported``."""
    masks = []
    for key, condition in where.items():
        if key in ("$and", "$or"):
            if not isinstance(condition, list) or not condition:
                raise _Unsupported(key)
            parts = [_evaluate(part, columns, n) for part in condition]
            masks.append(np.logical_and.reduce(parts) if key == "$and" else np.logical_or.reduce(parts))
            continue
        if key.startswith("$"):
            raise _Unsupported(key)
        ops = condition if isinstance(condition, dict) else {"$eq": condition}
        column = columns.get(key, np.full(n, np.nan))
        for op, value in ops.items():
            values = value if op in ("$in", "$nin") else [value]
            if not all(isinstance(v, (bool, int, float)) for v in values):
                raise _Unsupported(f"{key} {op} {value!r}")
            with np.errstate(invalid="ignore"):
                if op in _COMPARE:
                    masks.append(_COMPARE[op](column, float(value)))
                elif op == "$ne":
                    masks.append(~np.equal(column, float(value)))
                elif op in ("$in", "$nin"):
                    hit = np.isin(column, [float(v) for v in values])
                    masks.append(hit if op == "$in" else ~hit)
                else:
                    raise _Unsupported(op)
    return np.logical_and.reduce(masks) if masks else np.ones(n, dtype=bool)


def _dot_rows(matrix: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """``matrix @ vector`` on one thread: on a busy 2-core machine a multi-threaded BLAS gemv
    of 10k x 384 took 8 ms CPU / 24 ms wall, this 1 ms / 3 ms (same results)."""
    return np.einsum("ij,j->i", matrix, vector)


# --------------------------------------------------------------------------- the store


class ItemStore:
    """Item vectors of one modality in Chroma, with filters, plus an in-memory copy."""

    def __init__(self, client: "ClientAPI", modality: str = "text"):
        if not modality.isidentifier():
            raise BadInput(f"modality must be a plain word, got {modality!r}")
        self.client = client
        self.modality = modality
        self.collection_name = f"items_{modality}"
        self._collection: "Collection | None" = None
        self._ids: list[str] = []
        self._row: dict[str, int] = {}
        self._matrix = np.zeros((0, 0), dtype=np.float32)
        self._columns: dict[str, np.ndarray] = {}
        self._ann = None  # retrieval.ann.IvfIndex from ANN_MIN_ITEMS items on
        self.cache_dir: Path | None = None  # where the vector copy and the index are kept (open_item_store)
        self.rebuilt = False  # set by open_item_store: whether this open built the index

    # ---- manifest

    def _get_collection(self, name: str) -> "Collection | None":
        names = {c if isinstance(c, str) else c.name for c in self.client.list_collections()}
        if name not in names:
            return None
        return self.client.get_collection(name, embedding_function=None)

    @property
    def manifest(self) -> dict[str, Any] | None:
        """What the live collection was built from, or ``None`` when there is none."""
        collection = self._get_collection(self.collection_name)
        if collection is None:
            return None
        meta = dict(collection.metadata or {})
        if meta.get("marquee_format") != MANIFEST_FORMAT:
            return None
        return {k.removeprefix("marquee_"): v for k, v in meta.items() if k.startswith("marquee_")}

    def is_current(self, catalog: Catalog, encoder: TextEncoder) -> bool:
        """True when the live collection holds this catalog embedded by this encoder."""
        return self.is_current_for(catalog, encoder_name=encoder.name, dim=encoder.dim)

    def is_current_for(self, catalog: Catalog, *, encoder_name: str, dim: int) -> bool:
        """True when the live collection holds this catalog embedded by the encoder named so
        (any modality: the name identifies the encoder *and* its inputs, e.g. the poster files)."""
        manifest = self.manifest
        return bool(
            manifest
            and manifest.get("fingerprint") == catalog_fingerprint(catalog)
            and manifest.get("encoder") == encoder_name
            and manifest.get("dim") == dim
            and manifest.get("count") == len(catalog)
        )

    # ---- build

    def build(self, catalog: Catalog, encoder: TextEncoder, *, progress: bool = True) -> None:
        """Embed every item's :func:`item_text` and replace the live collection with it."""
        self.build_from(
            catalog,
            lambda items: encoder.encode([item_text(i) for i in items]),
            encoder_name=encoder.name,
            dim=encoder.dim,
            progress=progress,
        )

    def build_from(
        self,
        catalog: Catalog,
        embed: Callable[[list[Item]], np.ndarray],
        *,
        encoder_name: str,
        dim: int,
        progress: bool = True,
        manifest_extra: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        """Build from any per-batch embedder (other modalities plug in here).

        ``embed`` gets a batch of items and returns one row per item; an all-zero row means
        "this item has nothing in this modality" and the item is left out of the collection.
        ``manifest_extra`` is called once every item is embedded; what it returns (str, int,
        float or bool values) is kept in the manifest, e.g. how many images were skipped and why.
        """
        from tqdm.auto import tqdm

        staging = f"{self.collection_name}__building"
        if self._get_collection(staging) is not None:
            self.client.delete_collection(staging)
        collection = self.client.create_collection(
            staging,
            embedding_function=None,
            configuration={"hnsw": {"space": "cosine"}},
            metadata={"marquee_format": 0, "marquee_building": True},
        )
        items = list(catalog)
        genres = list(catalog.genres)
        kept_ids: list[str] = []
        kept_vectors: list[np.ndarray] = []
        kept_meta: list[dict[str, Any]] = []
        with tqdm(total=len(items), desc=f"embedding {self.collection_name}", unit="item",
                  disable=not progress) as bar:
            for start in range(0, len(items), BATCH_SIZE):
                batch = items[start : start + BATCH_SIZE]
                vectors = np.asarray(embed(batch), dtype=np.float32)
                if vectors.shape != (len(batch), dim):
                    raise ConfigError(
                        f"the {encoder_name} encoder returned shape {vectors.shape}, "
                        f"expected ({len(batch)}, {dim})"
                    )
                keep = np.linalg.norm(vectors, axis=1) > 0
                batch_items = [item for item, k in zip(batch, keep) if k]
                if batch_items:
                    metadatas = [item_metadata(i, genres) for i in batch_items]
                    collection.add(
                        ids=[i.id for i in batch_items], embeddings=vectors[keep], metadatas=metadatas
                    )
                    kept_ids += [i.id for i in batch_items]
                    kept_meta += metadatas
                    kept_vectors.append(vectors[keep])
                bar.update(len(batch))
        manifest = {
            "marquee_format": MANIFEST_FORMAT,
            "marquee_fingerprint": catalog_fingerprint(catalog),
            "marquee_encoder": encoder_name,
            "marquee_dim": dim,
            "marquee_count": len(items),
            "marquee_stored": len(kept_ids),
            "marquee_built_at": datetime.now(timezone.utc).isoformat(timespec="microseconds"),
        }
        if manifest_extra is not None:
            manifest.update({f"marquee_{k}": v for k, v in manifest_extra().items()})
        # The swap: only a complete collection ever carries the live name and a manifest.
        if self._get_collection(self.collection_name) is not None:
            self.client.delete_collection(self.collection_name)
        collection.modify(name=self.collection_name, metadata=manifest)
        log.info("built %s: %d vectors (%s)", self.collection_name, len(kept_ids), encoder_name)
        self._collection = self.client.get_collection(self.collection_name, embedding_function=None)
        matrix = np.concatenate(kept_vectors) if kept_vectors else np.zeros((0, dim), np.float32)
        self._set_vectors(kept_ids, matrix, kept_meta)
        self._save_cached()

    # ---- open

    def load(self, catalog: Catalog | None = None) -> None:
        """Attach to the live collection and read all its vectors and filter metadata into memory.

        With the ``catalog`` the index was built from (:meth:`is_current`), the metadata is
        recomputed from it instead of read back: reading it from Chroma took 3 s of the 6 s
        load of the 9.7k-item demo catalog.
        """
        collection = self._get_collection(self.collection_name)
        if collection is None:
            raise NotFound(f"no collection {self.collection_name}: build the index first")
        self._collection = collection
        if catalog is not None and self._load_cached(catalog):
            return
        include = ["embeddings"] if catalog is not None else ["embeddings", "metadatas"]
        ids: list[str] = []
        chunks: list[np.ndarray] = []
        metadatas: list[dict[str, Any]] = []
        offset = 0
        while True:
            got = collection.get(include=include, limit=LOAD_PAGE, offset=offset)
            if not got["ids"]:
                break
            ids += got["ids"]
            chunks.append(np.asarray(got["embeddings"], dtype=np.float32))
            if catalog is None:
                metadatas += [dict(m or {}) for m in got["metadatas"]]
            offset += len(got["ids"])
        if catalog is not None:
            genres = list(catalog.genres)
            metadatas = [item_metadata(catalog.items[i], genres) if i in catalog else {} for i in ids]
        dim = int((self.manifest or {}).get("dim") or (chunks[0].shape[1] if chunks else 0))
        matrix = np.concatenate(chunks) if chunks else np.zeros((0, dim), np.float32)
        self._set_vectors(ids, matrix, metadatas)
        self._save_cached()

    def _set_vectors(self, ids: list[str], matrix: np.ndarray, metadatas: list[dict[str, Any]] | None,
                     columns: dict[str, np.ndarray] | None = None, index: "ann.IvfIndex | None" = None) -> None:
        self._ids = list(ids)
        self._row = {item_id: row for row, item_id in enumerate(self._ids)}
        self._matrix = np.ascontiguousarray(matrix, dtype=np.float32)
        self._columns = columns if columns is not None else _metadata_columns(metadatas or [])
        self._ann = index
        if index is None and len(self._ids) >= ann.ANN_MIN_ITEMS:
            self._ann = self._cached_index()

    @classmethod
    def from_arrays(cls, ids: list[str], matrix: np.ndarray, columns: dict[str, np.ndarray], *,
                    index: "ann.IvfIndex | None" = None, modality: str = "text") -> "ItemStore":
        """A store over vectors and filter columns already in memory, without Chroma (benchmarks)."""
        store = cls(None, modality)  # type: ignore[arg-type]  - query() and the manifest need a client
        store._set_vectors(ids, matrix, None, columns=columns, index=index)
        return store

    @property
    def approximate(self) -> bool:
        """Whether :meth:`nearest` asks the approximate index (a catalog of ANN_MIN_ITEMS or more)."""
        return self._ann is not None

    # ---- files beside the collection: the in-memory copy and the approximate index

    def _cache_stem(self) -> Path | None:
        manifest = self.manifest if self.cache_dir is not None else None
        if not manifest:
            return None
        key = hashlib.sha256(json.dumps(manifest, sort_keys=True, default=str).encode()).hexdigest()[:16]
        return self.cache_dir / f"{self.collection_name}-{key}"

    def _load_cached(self, catalog: Catalog) -> bool:
        """Read the in-memory copy from its files when they match the live collection."""
        stem = self._cache_stem()
        if stem is None or not stem.with_suffix(".npy").exists():
            return False
        try:
            text = stem.with_suffix(".ids").read_text()
            ids = text.split("\n") if text else []
            # mapped, not read: at a million items the approximate index answers most queries, and
            # only the rows exact search and candidate scoring touch become resident
            matrix = np.load(stem.with_suffix(".npy"), mmap_mode="r")
        except (OSError, ValueError) as exc:
            log.warning("ignoring the vector copy %s: %s", stem, exc)
            return False
        if len(ids) != matrix.shape[0]:
            return False
        genres = list(catalog.genres)
        self._set_vectors(ids, matrix, [item_metadata(catalog.items[i], genres) if i in catalog else {} for i in ids])
        log.info("read %d vectors of %s from %s", len(ids), self.collection_name, stem.parent)
        return True

    def _save_cached(self) -> None:
        stem = self._cache_stem()
        if stem is None:
            return
        try:
            stem.parent.mkdir(parents=True, exist_ok=True)
            for old in stem.parent.glob(f"{self.collection_name}-*"):
                if not old.name.startswith(stem.name):
                    old.unlink(missing_ok=True)
            partial = stem.with_name(f"{stem.name}.{os.getpid()}.partial")  # workers may start at once
            partial.write_text("\n".join(self._ids))
            partial.replace(stem.with_suffix(".ids"))
            with open(partial, "wb") as out:
                np.save(out, self._matrix)
            partial.replace(stem.with_suffix(".npy"))  # last: its presence means both files are whole
            if self._ann is not None and not stem.with_suffix(".ivf").exists():
                self._ann.save(stem.with_suffix(".ivf"))
        except OSError as exc:  # a read-only workspace: the next start reads from Chroma again
            log.warning("could not keep the vector copy in %s: %s", stem.parent, exc)

    def _cached_index(self) -> "ann.IvfIndex":
        stem = self._cache_stem()
        if stem is not None and stem.with_suffix(".ivf").exists():
            index = ann.IvfIndex.load(stem.with_suffix(".ivf"))
            if index.size == len(self._ids):
                return index
        log.info("building the approximate index of %s (%d items)", self.collection_name, len(self._ids))
        index = ann.IvfIndex.build(self._matrix)
        if stem is not None:
            try:
                index.save(stem.with_suffix(".ivf"))
            except OSError as exc:
                log.warning("could not keep the approximate index in %s: %s", stem.parent, exc)
        return index

    @property
    def collection(self) -> "Collection":
        if self._collection is None:
            raise NotFound(f"{self.collection_name} is not open: call load() or build() first")
        return self._collection

    # ---- reads

    def count(self) -> int:
        """Number of items in the live collection."""
        return self.collection.count()

    @property
    def ids(self) -> list[str]:
        """Ids of every stored item, in the row order of the in-memory matrix."""
        return list(self._ids)

    @property
    def dim(self) -> int:
        """Width of the stored vectors."""
        return int(self._matrix.shape[1])

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._row

    def _check_vector(self, vector: np.ndarray) -> np.ndarray:
        vector = np.asarray(vector, dtype=np.float32).reshape(-1)
        if vector.shape[0] != self._matrix.shape[1]:
            raise BadInput(f"query vector has {vector.shape[0]} dims, the store {self._matrix.shape[1]}")
        return vector

    def query(self, vector: np.ndarray, k: int, where: Where | None = None) -> list[tuple[str, float]]:
        """The ``k`` items nearest to ``vector`` (cosine similarity, best first), filtered by ``where``."""
        if k < 1:
            raise BadInput(f"k must be at least 1, got {k}")
        vector = self._check_vector(vector)
        k = min(k, len(self._ids))
        if k == 0:
            return []
        result = self.collection.query(
            query_embeddings=vector[None, :], n_results=k, where=where, include=["distances"]
        )
        return [(i, 1.0 - float(d)) for i, d in zip(result["ids"][0], result["distances"][0])]

    def filter_mask(self, where: Where | None) -> np.ndarray:
        """Which stored items (rows of the in-memory matrix) pass ``where``.

        Evaluated in memory (~0.1 ms instead of 20-80 ms for a Chroma ``get``) for the operators
        :func:`chroma_where` writes, with Chroma's semantics (a missing key fails ``$eq`` and
        the range operators, and passes ``$ne``/``$nin``); anything else is asked of Chroma.
        """
        if where is None:
            return np.ones(len(self._ids), dtype=bool)
        try:
            return _evaluate(where, self._columns, len(self._ids))
        except _Unsupported:
            passing = set(self.collection.get(where=where, include=[])["ids"])
            return np.fromiter((i in passing for i in self._ids), dtype=bool, count=len(self._ids))

    def matching_ids(self, where: Where | None) -> set[str]:
        """Ids of the stored items that pass ``where`` (all ids when it is ``None``)."""
        mask = self.filter_mask(where)
        return {self._ids[row] for row in np.flatnonzero(mask)}

    def nearest(self, vector: np.ndarray, k: int, where: Where | None = None) -> list[tuple[str, float]]:
        """Exact in-memory twin of :meth:`query`: same answer (Chroma's is approximate), ~1 ms.

        :meth:`query` is the path that scales past memory (a Chroma server); this one is what
        interactive search uses while the catalog fits in memory.
        """
        if k < 1:
            raise BadInput(f"k must be at least 1, got {k}")
        mask = self.filter_mask(where)
        if self._ann is not None:
            return self._nearest_approx(self._check_vector(vector), k, mask, where is None)
        scores = self.similarities(vector)
        rows = np.flatnonzero(mask)
        if rows.size == 0:
            return []
        k = min(k, rows.size)
        picked = rows[np.argpartition(-scores[rows], k - 1)[:k]]
        picked = picked[np.argsort(-scores[picked], kind="stable")]
        return [(self._ids[r], float(scores[r])) for r in picked]

    def nearest_exact(self, vector: np.ndarray, k: int, where: Where | None = None) -> list[tuple[str, float]]:
        """:meth:`nearest` scoring every passing item, whatever the catalog's size (the reference)."""
        return self._exact(self._check_vector(vector), k, self.filter_mask(where))

    def _exact(self, vector: np.ndarray, k: int, mask: np.ndarray) -> list[tuple[str, float]]:
        rows = np.flatnonzero(mask)
        if rows.size == 0:
            return []
        scores = _dot_rows(self._matrix[rows] if rows.size < len(mask) else self._matrix, vector)
        k = min(k, rows.size)
        best = np.argpartition(-scores, k - 1)[:k]
        best = best[np.argsort(-scores[best], kind="stable")]
        return [(self._ids[rows[b]], float(scores[b])) for b in best]

    def _nearest_approx(self, vector: np.ndarray, k: int, mask: np.ndarray, unfiltered: bool) -> list[tuple[str, float]]:
        """The index's answer; exact over the passing rows when few pass or the index finds too few."""
        passing = int(mask.sum())
        if passing <= ann.EXACT_MAX_ROWS:
            return self._exact(vector, k, mask)
        rows, scores = self._ann.search(vector, k, None if unfiltered else mask)
        if len(rows) < min(k, passing):
            return self._exact(vector, k, mask)
        return [(self._ids[r], float(s)) for r, s in zip(rows, scores)]

    def vectors(self, ids: list[str]) -> np.ndarray:
        """Stored vectors of ``ids`` (rows in the same order); unknown ids raise :class:`NotFound`."""
        missing = [i for i in ids if i not in self._row]
        if missing:
            raise NotFound(f"items not in {self.collection_name}: {', '.join(missing[:5])}")
        return self._matrix[[self._row[i] for i in ids]]

    def similarities(self, vector: np.ndarray, ids: list[str] | None = None) -> np.ndarray:
        """Cosine similarity of ``vector`` to each of ``ids`` (every stored item when ``None``).

        Ids the store does not hold score ``nan``.
        """
        vector = self._check_vector(vector)
        if ids is None:
            return _dot_rows(self._matrix, vector)
        rows = np.array([self._row.get(i, -1) for i in ids], dtype=np.int64)
        out = np.full(len(ids), np.nan, dtype=np.float32)
        known = rows >= 0
        if known.any():
            out[known] = _dot_rows(self._matrix[rows[known]], vector)
        return out


def open_item_store(
    settings: "Settings",
    catalog: Catalog,
    encoder: TextEncoder,
    *,
    progress: bool = True,
    modality: str = "text",
    client: "ClientAPI | None" = None,
) -> ItemStore:
    """The item store for ``catalog``: reused when current, (re)built when missing or stale.

    ``store.rebuilt`` tells whether this call built the index.
    """
    store = ItemStore(client or make_chroma_client(settings), modality)
    store.cache_dir = Path(settings.workspace) / "index"
    if store.is_current(catalog, encoder):
        store.load(catalog)
        store.rebuilt = False
        log.info("reusing %s (%d items)", store.collection_name, len(store.ids))
    else:
        log.info("building %s for %d items", store.collection_name, len(catalog))
        store.build(catalog, encoder, progress=progress)
        store.rebuilt = True
    return store
