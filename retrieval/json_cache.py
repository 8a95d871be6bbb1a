"""Versioned JSON files for caches of slow model answers (generated histories, poster captions).

A cache file is ``{"version": n, "<key>": {...entries...}}``. Reading never fails: a missing,
unreadable or other-version file is an empty cache (logged). Writing is atomic (a temporary file
replaced in one step), so a crash never leaves half a file, and a failed write is logged, never
raised: a cache is an optimisation.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def read_entries(path: Path, *, version: int, key: str, what: str) -> dict[str, Any]:
    """The entries under ``key`` of the cache file at ``path`` (``what`` names it in logs)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log.warning("ignoring the unreadable %s %s: %s", what, path, exc)
        return {}
    if not isinstance(data, dict) or data.get("version") != version or not isinstance(data.get(key), dict):
        log.warning("ignoring the %s %s: unknown format", what, path)
        return {}
    return data[key]


def write_entries(path: Path, entries: dict[str, Any], *, version: int, key: str, what: str) -> bool:
    """Write ``entries`` under ``key`` atomically; False (logged) when the file could not be written."""
    path = Path(path)
    payload = json.dumps({"version": version, key: entries}, ensure_ascii=False)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    except OSError as exc:
        log.warning("could not write the %s %s: %s", what, path, exc)
        return False
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(payload)
        os.replace(temporary, path)
        return True
    except OSError as exc:
        log.warning("could not write the %s %s: %s", what, path, exc)
        Path(temporary).unlink(missing_ok=True)
        return False
