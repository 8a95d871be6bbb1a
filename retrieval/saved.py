"""Catalog-side structures kept in files, so a start-up reads them instead of rebuilding them.

At a million items the keyword index and the similarity model take minutes to build from the
items and seconds to read back. Each is one ``.npz`` of plain numeric arrays (written with
``np.savez``, read with ``allow_pickle=False``: nothing in the file can run code) with a small
JSON header. The header names what the file holds, the file format, and the *key* of what it
was built from: :func:`catalog_fingerprint` of the catalog, plus whatever else the caller built
it from (ratings, story vectors). A file whose key differs is stale and is not read.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

from retrieval.catalog import Catalog

log = logging.getLogger(__name__)

FORMAT = 1


def catalog_fingerprint(catalog: Catalog) -> str:
    """A digest of every item's facts in catalog order: two catalogs share it only when the
    structures built from them would be the same (~2 s per million items)."""
    digest = hashlib.sha256()
    for item in catalog:
        digest.update(item.model_dump_json().encode())
        digest.update(b"\n")
    return digest.hexdigest()


def write_arrays(path: Path, kind: str, key: str, arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` to ``path`` (an ``.npz``) with a header naming ``kind`` and ``key``.

    Written to a temporary name of this process and renamed, so a reader never sees half a file
    (nor do two workers that start together write into one file)."""
    header = json.dumps({"kind": kind, "format": FORMAT, "key": key})
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    with partial.open("wb") as handle:
        np.savez(handle, header=np.array(header), **arrays)
    os.replace(partial, path)


def read_arrays(path: Path, kind: str, key: str) -> dict[str, np.ndarray] | None:
    """The arrays written by :func:`write_arrays`, or ``None`` when there is no such file or it
    holds something else, in another format, or was built from something else (``key``)."""
    if not path.exists():
        return None
    with np.load(path, allow_pickle=False) as saved:
        header: dict[str, Any] = json.loads(str(saved["header"]))
        if (header.get("kind"), header.get("format"), header.get("key")) != (kind, FORMAT, key):
            log.info("not reading %s: built for another catalog or format", path)
            return None
        return {name: saved[name] for name in saved.files if name != "header"}


def sparse_arrays(name: str, matrix: sparse.csr_matrix | sparse.csc_matrix) -> dict[str, np.ndarray]:
    """A CSR or CSC matrix as plain arrays, exactly as stored (entry order included)."""
    return {f"{name}.data": matrix.data, f"{name}.indices": matrix.indices, f"{name}.indptr": matrix.indptr,
            f"{name}.shape": np.array(matrix.shape, dtype=np.int64)}


def sparse_from(arrays: dict[str, np.ndarray], name: str, kind: type = sparse.csr_matrix):
    """The matrix :func:`sparse_arrays` wrote, entry for entry (``kind``: CSR or CSC)."""
    return kind((arrays[f"{name}.data"], arrays[f"{name}.indices"], arrays[f"{name}.indptr"]),
                shape=tuple(int(n) for n in arrays[f"{name}.shape"]), copy=False)


def words_array(words: list[str]) -> np.ndarray:
    """Words without whitespace (tokens) as one UTF-8 byte array: compact and pickle-free."""
    return np.frombuffer("\n".join(words).encode(), dtype=np.uint8)


def words_from(array: np.ndarray) -> list[str]:
    text = array.tobytes().decode()
    return text.split("\n") if text else []
