"""Safe image loading for the image modality: posters from a folder, catalog paths, uploads.

Every image goes through :func:`load_image` (or :func:`load_image_bytes` for uploads):

- a path must resolve (symlinks followed) inside one of the *allowed folders*, else
  :class:`ImageRejected` with reason ``outside_allowed``;
- files above ``max_bytes`` and images above ``max_pixels`` are refused before decoding
  (``too_large``), so a decompression bomb never reaches memory;
- unreadable or truncated files are refused (``corrupt``); images smaller than ``min_side``
  on a side (a 1x1 tracking pixel) are refused (``too_small``);
- transparency (PNG/WebP with alpha, palette images with a transparent colour) is flattened
  onto white; an image that is fully transparent is refused (``empty``).

The result is always an RGB :class:`PIL.Image.Image`. Batch loaders never raise for one bad
file: they count it in an :class:`ImageLoadSummary` by reason, for the ingest summary.
"""

from __future__ import annotations

import io
import logging
import re
import warnings
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np
from pydantic import BaseModel, Field

from marquee.errors import BadInput

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp")
REJECT_REASONS = ("outside_allowed", "missing", "too_large", "corrupt", "too_small", "empty", "remote")
_SAFE_ID = re.compile(r"^[\w.\-]{1,64}$")


class ImageRejected(BadInput):
    """An image that cannot be used; ``reason`` is one of :data:`REJECT_REASONS`."""

    code = "image_rejected"

    def __init__(self, message: str, *, reason: str):
        super().__init__(message)
        self.reason = reason


class ImageLimits(BaseModel):
    """Bounds an image must respect before it is decoded and after."""

    max_bytes: int = Field(20_000_000, ge=1, description="Largest file accepted, in bytes.")
    max_pixels: int = Field(40_000_000, ge=1, description="Largest width x height accepted.")
    min_side: int = Field(16, ge=1, description="Smallest width or height accepted, in pixels.")


class ImageLoadSummary(BaseModel):
    """What a batch load did: how many images were used and why the others were skipped."""

    loaded: int = 0
    alpha_flattened: int = 0
    skipped: dict[str, int] = Field(default_factory=dict, description="reason -> count")
    problems: list[str] = Field(default_factory=list, description="First messages, for the log.")

    def skip(self, error: ImageRejected, *, keep_messages: int = 20) -> None:
        self.skipped[error.reason] = self.skipped.get(error.reason, 0) + 1
        if len(self.problems) < keep_messages:
            self.problems.append(str(error))

    @property
    def n_skipped(self) -> int:
        return sum(self.skipped.values())


def resolve_allowed(path: str | Path, allowed_roots: Sequence[str | Path]) -> Path:
    """``path`` resolved (symlinks followed), if it lies inside one of ``allowed_roots``.

    Raises :class:`ImageRejected` (``outside_allowed``) otherwise, and also when no folder is
    allowed at all: reading images is opt-in per folder.
    """
    if isinstance(path, str) and re.match(r"^[a-z][a-z0-9+.-]*://", path, flags=re.I):
        raise ImageRejected(f"image {path!r} is a URL; only local files are read", reason="remote")
    resolved = Path(path).expanduser().resolve()
    for root in allowed_roots:
        if resolved.is_relative_to(Path(root).expanduser().resolve()):
            return resolved
    raise ImageRejected(
        f"image path {path} is outside the allowed image folders "
        f"({', '.join(str(r) for r in allowed_roots) or 'none configured'})",
        reason="outside_allowed",
    )


def _flatten_alpha(image) -> tuple[object, bool]:
    """RGB version of ``image``, transparency composited onto white; (image, had_alpha)."""
    from PIL import Image

    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        alpha = np.asarray(rgba.getchannel("A"))
        if alpha.max() == 0:
            raise ImageRejected("image is fully transparent", reason="empty")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB"), True
    return image.convert("RGB"), False


def _decode(source, label: str, limits: ImageLimits):
    """Open, bound-check and fully decode an image from a path or a file object."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(source)
            width, height = image.size
            if width * height > limits.max_pixels:
                raise ImageRejected(
                    f"{label} is {width}x{height}: more than {limits.max_pixels:,} pixels",
                    reason="too_large",
                )
            if min(width, height) < limits.min_side:
                raise ImageRejected(
                    f"{label} is {width}x{height}: smaller than {limits.min_side} px on a side",
                    reason="too_small",
                )
            image.load()
    except ImageRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageRejected(f"{label} is too large to decode safely", reason="too_large") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageRejected(f"{label} is not a readable image ({exc})", reason="corrupt") from exc
    return image


def _finish(image, label: str):
    rgb, had_alpha = _flatten_alpha(image)
    if had_alpha:
        log.debug("%s: transparency flattened onto white", label)
    return rgb, had_alpha


def load_image(
    path: str | Path,
    *,
    allowed_roots: Sequence[str | Path],
    limits: ImageLimits | None = None,
):
    """An RGB image read from ``path`` (inside ``allowed_roots``), or :class:`ImageRejected`."""
    return load_image_checked(path, allowed_roots=allowed_roots, limits=limits)[0]


def load_image_checked(
    path: str | Path,
    *,
    allowed_roots: Sequence[str | Path],
    limits: ImageLimits | None = None,
):
    """Like :func:`load_image`, returning ``(image, had_alpha)`` for summaries."""
    limits = limits or ImageLimits()
    resolved = resolve_allowed(path, allowed_roots)
    if not resolved.is_file():
        raise ImageRejected(f"image file not found: {path}", reason="missing")
    size = resolved.stat().st_size
    if size > limits.max_bytes:
        raise ImageRejected(
            f"image {path} is {size:,} bytes: more than {limits.max_bytes:,}", reason="too_large"
        )
    with resolved.open("rb") as handle:
        image = _decode(handle, f"image {path}", limits)
        return _finish(image, str(path))


def load_image_bytes(data: bytes, *, limits: ImageLimits | None = None, label: str = "upload"):
    """An RGB image decoded from bytes (an upload), or :class:`ImageRejected`."""
    limits = limits or ImageLimits()
    if not data:
        raise ImageRejected(f"{label} is empty", reason="corrupt")
    if len(data) > limits.max_bytes:
        raise ImageRejected(
            f"{label} is {len(data):,} bytes: more than {limits.max_bytes:,}", reason="too_large"
        )
    image = _decode(io.BytesIO(data), label, limits)
    return _finish(image, label)[0]


def scan_image_folder(folder: str | Path, item_ids: Iterable[str] | None = None) -> dict[str, Path]:
    """``item id -> image path`` for files named ``<item id>.<jpg|png|...>`` in ``folder``.

    With ``item_ids``, only those ids are kept (files of unknown items are ignored). When an id
    has several files, the first suffix in :data:`IMAGE_SUFFIXES` order wins.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise BadInput(f"image folder not found: {folder}")
    wanted = set(item_ids) if item_ids is not None else None
    rank = {suffix: n for n, suffix in enumerate(IMAGE_SUFFIXES)}
    found: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        suffix = path.suffix.lower()
        if suffix not in rank or not path.is_file():
            continue
        item_id = path.stem
        if not _SAFE_ID.match(item_id) or (wanted is not None and item_id not in wanted):
            continue
        if item_id not in found or rank[suffix] < rank[found[item_id].suffix.lower()]:
            found[item_id] = path
    return found


def load_images(
    paths: Mapping[str, str | Path],
    *,
    allowed_roots: Sequence[str | Path],
    limits: ImageLimits | None = None,
) -> tuple[dict[str, object], ImageLoadSummary]:
    """Load ``item id -> path``; bad files are skipped and counted, never raised."""
    summary = ImageLoadSummary()
    images: dict[str, object] = {}
    for item_id, path in paths.items():
        try:
            image, had_alpha = load_image_checked(path, allowed_roots=allowed_roots, limits=limits)
        except ImageRejected as exc:
            summary.skip(exc)
            continue
        images[item_id] = image
        summary.loaded += 1
        summary.alpha_flattened += int(had_alpha)
    if summary.n_skipped:
        log.warning("skipped %d of %d images: %s", summary.n_skipped, len(paths), summary.skipped)
    return images, summary


def to_array(image, size: tuple[int, int]) -> np.ndarray:
    """``image`` resized to ``size`` = (width, height) as a ``(height, width, 3)`` uint8 array."""
    from PIL import Image

    resized = image.convert("RGB").resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    return np.asarray(resized, dtype=np.uint8)


def images_to_array(
    paths: Mapping[str, str | Path],
    size: tuple[int, int],
    *,
    allowed_roots: Sequence[str | Path],
    limits: ImageLimits | None = None,
    progress: bool = False,
) -> tuple[list[str], np.ndarray, ImageLoadSummary]:
    """Decode and resize every loadable image: ``(ids, (n, height, width, 3) uint8, summary)``.

    This is the cache format of the poster encoder: small, decoded once.
    """
    from tqdm.auto import tqdm

    summary = ImageLoadSummary()
    ids: list[str] = []
    rows: list[np.ndarray] = []
    for item_id, path in tqdm(list(paths.items()), desc="decoding images", unit="img",
                              disable=not progress):
        try:
            image, had_alpha = load_image_checked(path, allowed_roots=allowed_roots, limits=limits)
        except ImageRejected as exc:
            summary.skip(exc)
            continue
        ids.append(item_id)
        rows.append(to_array(image, size))
        summary.loaded += 1
        summary.alpha_flattened += int(had_alpha)
    width, height = size
    array = np.stack(rows) if rows else np.zeros((0, height, width, 3), dtype=np.uint8)
    if summary.n_skipped:
        log.warning("skipped %d of %d images: %s", summary.n_skipped, len(paths), summary.skipped)
    return ids, array, summary

