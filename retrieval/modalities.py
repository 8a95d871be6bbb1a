"""Modality encoders: one small interface for every kind of item vector the store holds.

A *modality* turns catalog items into rows of one vector space. Each has a ``modality`` word
(the store collection is ``items_<modality>``), a ``name`` (recorded in the collection's
manifest, so a changed encoder triggers a rebuild), a ``dim``, and
``embed_items(items) -> (len(items), dim) float32`` where an **all-zero row means "this item
has nothing in this modality"** (no poster, no precomputed vector): the store leaves such
items out, and they keep their other modalities. That is exactly the ``embed`` callable of
:meth:`retrieval.store.ItemStore.build_from`::

    modality = ImageModality(encoder, image_paths, allowed_roots=[posters_dir])
    ItemStore(client, modality.modality).build_from(
        catalog, modality.embed_items, encoder_name=modality.name, dim=modality.dim)
    modality.summary  # loaded / skipped-by-reason counts for the ingest summary

Three kinds:

- :class:`TextModality` wraps a :class:`retrieval.encoder.TextEncoder` (today's default);
- :class:`ImageModality` wraps an :class:`ImageEncoder` — the embedded poster CNN
  (:class:`PosterImageEncoder`) or CLIP (:mod:`retrieval.clip_encoder`) — and reads images
  safely through :mod:`retrieval.images`;
- :class:`PrecomputedModality` serves vectors computed elsewhere (audio, video, any image
  model), read by :func:`load_precomputed` from ``.npz`` / ``.npy`` + ids / ``.parquet`` files
  keyed by item id (the per-item array convention of MMRec and of the multimodal MovieLens
  resources). The whole file is validated before anything is written to a collection.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Collection, Iterable, Mapping, Protocol, Sequence, runtime_checkable

import numpy as np

from marquee.errors import BadInput, ConfigError
from retrieval.catalog import Item
from retrieval.images import ImageLimits, ImageLoadSummary, ImageRejected, load_image_checked

if TYPE_CHECKING:  # pragma: no cover
    from retrieval.encoder import TextEncoder
    from retrieval.poster_encoder import PosterEncoder

log = logging.getLogger(__name__)

MAX_LISTED_IDS = 5


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (all-zero rows stay zero), as float32."""
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)


@runtime_checkable
class ItemModality(Protocol):
    """Anything that embeds catalog items for one store collection."""

    modality: str  # the collection is items_<modality>
    name: str  # the encoder's identity, kept in the collection's manifest
    dim: int

    def embed_items(self, items: list[Item]) -> np.ndarray:
        """``(len(items), dim)`` float32 unit rows; an all-zero row = nothing for that item."""
        ...


@runtime_checkable
class ImageEncoder(Protocol):
    """An image model: pictures and words into one space of unit vectors."""

    name: str
    dim: int

    def encode_images(self, images: Sequence) -> np.ndarray:
        """RGB PIL images -> ``(n, dim)`` float32 unit rows."""
        ...

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """Words -> ``(n, dim)`` unit rows of the *image* space, for text-to-image search."""
        ...


# --------------------------------------------------------------------------------- text


class TextModality:
    """The text collection: :func:`retrieval.encoder.item_text` through a text encoder."""

    modality = "text"

    def __init__(self, encoder: "TextEncoder"):
        self.encoder = encoder
        self.name = encoder.name
        self.dim = encoder.dim

    def embed_items(self, items: list[Item]) -> np.ndarray:
        from retrieval.encoder import item_text

        return np.asarray(self.encoder.encode([item_text(i) for i in items]), dtype=np.float32)


class StoryModality:
    """The story collection of a catalog whose items bring descriptions: each description
    embedded with the text encoder (items without one get no row). What a film is about, in the
    space of the text encoder's queries. The demo catalog ships these vectors instead
    (``data/demo/story.npz``, computed from plots that cannot ship as text)."""

    modality = "story"

    def __init__(self, encoder: "TextEncoder"):
        self.encoder = encoder
        self.name = f"story:{encoder.name}"
        self.dim = encoder.dim

    def embed_items(self, items: list[Item]) -> np.ndarray:
        out = np.zeros((len(items), self.dim), dtype=np.float32)
        rows = [n for n, item in enumerate(items) if item.description and item.description.strip()]
        if rows:
            texts = [" ".join(items[n].description.split())[:2000] for n in rows]
            out[rows] = np.asarray(self.encoder.encode(texts), dtype=np.float32)
        return out


# --------------------------------------------------------------------------------- images


class PosterImageEncoder:
    """The embedded poster CNN as an :class:`ImageEncoder`.

    Its image vectors live in the text encoder's space, so queries in words are embedded by
    that same text encoder; the two must match (checked here).
    """

    def __init__(self, poster: "PosterEncoder", text_encoder: "TextEncoder"):
        if poster.text_encoder_name != text_encoder.name or poster.dim != text_encoder.dim:
            raise ConfigError(
                f"the poster encoder was trained for text encoder {poster.text_encoder_name!r} "
                f"({poster.dim} dims), not {text_encoder.name!r} ({text_encoder.dim} dims): "
                "train it again"
            )
        self.poster = poster
        self.text_encoder = text_encoder
        self.name = poster.name
        self.dim = poster.dim

    def encode_images(self, images: Sequence) -> np.ndarray:
        return self.poster.encode_images(images)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self.text_encoder.encode(list(texts)), dtype=np.float32)


class ImageModality:
    """The image collection: each item's picture through an :class:`ImageEncoder`.

    ``image_paths`` maps item id -> file (see :func:`collect_image_paths`); items without an
    entry, and files that :mod:`retrieval.images` rejects, get a zero row and are counted in
    :attr:`summary` by reason.
    """

    modality = "image"

    def __init__(
        self,
        encoder: ImageEncoder,
        image_paths: Mapping[str, str | Path],
        *,
        allowed_roots: Sequence[str | Path],
        limits: ImageLimits | None = None,
    ):
        self.encoder = encoder
        self.name = encoder.name
        self.dim = encoder.dim
        self.image_paths = dict(image_paths)
        self.allowed_roots = list(allowed_roots)
        self.limits = limits or ImageLimits()
        self.summary = ImageLoadSummary()
        self.without_image = 0

    def embed_items(self, items: list[Item]) -> np.ndarray:
        out = np.zeros((len(items), self.dim), dtype=np.float32)
        rows: list[int] = []
        images: list = []
        for row, item in enumerate(items):
            path = self.image_paths.get(item.id)
            if path is None:
                self.without_image += 1
                continue
            try:
                image, had_alpha = load_image_checked(
                    path, allowed_roots=self.allowed_roots, limits=self.limits
                )
            except ImageRejected as exc:
                self.summary.skip(exc)
                continue
            rows.append(row)
            images.append(image)
            self.summary.loaded += 1
            self.summary.alpha_flattened += int(had_alpha)
        if images:
            out[rows] = unit_rows(self.encoder.encode_images(images))
        return out


def collect_image_paths(
    items: Iterable[Item],
    *,
    folder: str | Path | None = None,
    base: str | Path | None = None,
) -> tuple[dict[str, str | Path], dict[str, int]]:
    """Where each item's picture is: ``(item id -> path, skipped counts)``.

    A file ``<item id>.<jpg|png|...>`` in ``folder`` wins; otherwise the item's own ``image``
    field, a path (relative ones resolved against ``base``, the catalog folder). URLs are not
    fetched (Marquee reads no network at run time): they are counted under ``remote``.
    Whether a path may be read is decided later, against the allowed folders.
    """
    from retrieval.images import scan_image_folder

    items = list(items)
    found: dict[str, str | Path] = dict(scan_image_folder(folder, [i.id for i in items])) if folder else {}
    skipped: dict[str, int] = {}
    for item in items:
        if item.id in found or not item.image:
            continue
        if "://" in item.image:
            skipped["remote"] = skipped.get("remote", 0) + 1
            continue
        path = Path(item.image).expanduser()
        if not path.is_absolute() and base is not None:
            path = Path(base) / path
        found[item.id] = path
    if skipped:
        log.info("image paths: %s", skipped)
    return found, skipped


# --------------------------------------------------------------------------------- precomputed


class PrecomputedVectors:
    """Validated vectors keyed by item id, read from a file by :func:`load_precomputed`."""

    def __init__(self, ids: list[str], vectors: np.ndarray, *, source: str, digest: str,
                 skipped_zero: int = 0):
        self.ids = ids
        self.vectors = vectors
        self.source = source
        self.digest = digest
        self.skipped_zero = skipped_zero
        self.dim = int(vectors.shape[1])
        self.row = {item_id: n for n, item_id in enumerate(ids)}

    def __len__(self) -> int:
        return len(self.ids)


class PrecomputedModality:
    """A collection served from :class:`PrecomputedVectors` (items absent there get zero rows)."""

    def __init__(self, vectors: PrecomputedVectors, modality: str = "precomputed"):
        if not modality.isidentifier():
            raise BadInput(f"modality must be a plain word, got {modality!r}")
        self.vectors = vectors
        self.modality = modality
        self.dim = vectors.dim
        self.name = f"precomputed:{Path(vectors.source).name}:{vectors.digest}"
        self.without_vector = 0

    def embed_items(self, items: list[Item]) -> np.ndarray:
        out = np.zeros((len(items), self.dim), dtype=np.float32)
        for row, item in enumerate(items):
            source_row = self.vectors.row.get(item.id)
            if source_row is None:
                self.without_vector += 1
            else:
                out[row] = self.vectors.vectors[source_row]
        return out


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes (hex), read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _file_digest(path: Path) -> str:
    return file_sha256(path)[:12]


def _listed(values: Sequence[str]) -> str:
    shown = ", ".join(repr(v) for v in values[:MAX_LISTED_IDS])
    return shown + (f" and {len(values) - MAX_LISTED_IDS} more" if len(values) > MAX_LISTED_IDS else "")


def _read_ids_file(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        values = json.loads(text)
        if not isinstance(values, list):
            raise BadInput(f"{path} must hold a JSON list of item ids")
        return [str(v) for v in values]
    return [line.strip() for line in text.splitlines() if line.strip()]


def _read_npy(path: Path) -> tuple[list[str], np.ndarray]:
    try:
        matrix = np.load(path, allow_pickle=False)
    except ValueError as exc:
        raise BadInput(
            f"{path} holds Python objects (a pickled dict?); they are not loaded for safety. "
            "Save an .npz with arrays 'ids' and 'vectors' instead"
        ) from exc
    for ids_path in (path.with_suffix(".ids.txt"), path.with_suffix(".ids.json")):
        if ids_path.is_file():
            return _read_ids_file(ids_path), matrix
    raise BadInput(
        f"{path} has no item ids: put one id per line, in row order, in "
        f"{path.with_suffix('.ids.txt').name} beside it (or use an .npz with 'ids' and 'vectors')"
    )


def _read_npz(path: Path) -> tuple[list[str], np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as data:
            if "ids" not in data or "vectors" not in data:
                raise BadInput(f"{path} must hold arrays 'ids' and 'vectors', found {list(data.keys())}")
            return [str(v) for v in data["ids"].tolist()], data["vectors"]
    except ValueError as exc:
        raise BadInput(f"{path}: arrays must be plain (no pickled objects): {exc}") from exc


def _read_parquet(path: Path) -> tuple[list[str], np.ndarray]:
    try:
        import pandas as pd

        frame = pd.read_parquet(path)
    except ImportError as exc:
        raise ConfigError(
            f"reading {path.name} needs a parquet engine: pip install pyarrow"
        ) from exc
    id_column = next((c for c in ("item_id", "id", "movieId", "item") if c in frame.columns), None)
    if id_column is None:
        raise BadInput(f"{path} has no id column (item_id, id, movieId or item): {list(frame.columns)}")
    ids = [str(v) for v in frame[id_column].tolist()]
    vector_column = next((c for c in ("vector", "embedding", "features") if c in frame.columns), None)
    if vector_column is not None:
        rows = frame[vector_column].tolist()
        lengths = {len(r) for r in rows}
        if len(lengths) > 1:
            raise BadInput(f"{path}: rows of {vector_column!r} have different lengths {sorted(lengths)}")
        return ids, np.asarray(rows, dtype=np.float64).reshape(len(rows), -1)
    numeric = frame.drop(columns=[id_column]).select_dtypes("number")
    if numeric.shape[1] == 0:
        raise BadInput(f"{path} has no vector column (vector, embedding, features) and no numeric columns")
    return ids, numeric.to_numpy(dtype=np.float64)


def load_precomputed(
    path: str | Path,
    *,
    known_ids: Collection[str],
    dim: int | None = None,
) -> PrecomputedVectors:
    """Read and validate a per-item vector file; raise :class:`BadInput` on any problem.

    Formats: ``.npz`` with arrays ``ids`` and ``vectors``; ``.npy`` (a 2-D array) with a
    ``<name>.ids.txt`` (one id per line, row order) or ``<name>.ids.json`` beside it;
    ``.parquet`` with an id column and a list column ``vector``/``embedding`` or numeric columns.

    Refused as a whole (nothing half-loaded): wrong shape or ``dim``, ids unknown to the
    catalog (``known_ids``), duplicate ids, non-finite values. All-zero rows are dropped and
    counted (``skipped_zero``). Rows are L2-normalized.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise BadInput(f"vector file not found: {path}")
    readers = {".npz": _read_npz, ".npy": _read_npy, ".parquet": _read_parquet}
    reader = readers.get(path.suffix.lower())
    if reader is None:
        raise BadInput(f"{path.name}: unsupported vector file, expected one of {', '.join(readers)}")
    ids, matrix = reader(path)
    matrix = np.asarray(matrix)
    if matrix.ndim != 2 or not np.issubdtype(matrix.dtype, np.number):
        raise BadInput(f"{path.name}: vectors must be a 2-D numeric array, got {matrix.dtype} {matrix.shape}")
    if matrix.shape[0] != len(ids):
        raise BadInput(f"{path.name}: {matrix.shape[0]} vectors but {len(ids)} ids")
    if dim is not None and matrix.shape[1] != dim:
        raise BadInput(f"{path.name}: vectors have {matrix.shape[1]} dimensions, expected {dim}")
    seen: set[str] = set()
    duplicates = [i for i in ids if i in seen or seen.add(i)]
    if duplicates:
        raise BadInput(f"{path.name}: {len(duplicates)} duplicate ids: {_listed(duplicates)}")
    known = set(known_ids)
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise BadInput(f"{path.name}: {len(unknown)} ids are not in the catalog: {_listed(unknown)}")
    matrix = matrix.astype(np.float32)
    if not np.all(np.isfinite(matrix)):
        bad = [ids[n] for n in np.flatnonzero(~np.all(np.isfinite(matrix), axis=1))]
        raise BadInput(f"{path.name}: non-finite values for {len(bad)} items: {_listed(bad)}")
    keep = np.linalg.norm(matrix, axis=1) > 0
    skipped_zero = int((~keep).sum())
    if skipped_zero:
        log.warning("%s: dropped %d all-zero vectors", path.name, skipped_zero)
    kept_ids = [i for i, k in zip(ids, keep) if k]
    return PrecomputedVectors(
        kept_ids, unit_rows(matrix[keep]), source=str(path), digest=_file_digest(path),
        skipped_zero=skipped_zero,
    )
