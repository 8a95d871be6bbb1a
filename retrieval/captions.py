""""Describe what you see": poster captions from a vision model, embedded as text.

A :class:`PosterCaptioner` sends one chat request per poster to a vision model behind the
configured OpenAI-compatible endpoint (built by :func:`marquee.llm.build_chat_model`, called through
:func:`marquee.llm.invoke_model`) and keeps a short plain-text description of what the poster
shows: mood, colours, setting, people, genre cues. :class:`CaptionModality` embeds those captions
with the *text* encoder, so the ``items_caption`` collection lives in the text space and joins the
similarity to named titles like any precomputed modality (``MARQUEE_MODALITY_WEIGHTS``).

Vision calls are slow, so captions are cached on disk (JSON, keyed by the image file's content
hash and the model name): a second ingest asks nothing for posters it has seen. Nothing here
raises for one bad poster or one failed request: an unreadable image, an endpoint error or
timeout, an empty, refused or garbage answer skips that poster and is counted by reason. After
``max_failures`` endpoint failures in a row the captioner stops asking and counts the rest as
``endpoint_gave_up``.
"""

from __future__ import annotations

import base64
import io
import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np
from pydantic import BaseModel, Field

from marquee.errors import LLMError
from retrieval.catalog import Item
from retrieval.images import ImageLimits, ImageRejected, load_image_checked
from retrieval.json_cache import read_entries, write_entries
from retrieval.modalities import file_sha256

if TYPE_CHECKING:  # pragma: no cover
    from retrieval.encoder import TextEncoder

log = logging.getLogger(__name__)

CACHE_VERSION = 1
MAX_SIDE = 512  # the longest side sent to the model, in pixels
JPEG_QUALITY = 85
MIN_LETTERS = 8  # fewer letters than this is no description
# Reasons that mean "the endpoint did not answer": a collection built with any of them is retried.
ENDPOINT_REASONS = ("endpoint_error", "timeout", "endpoint_gave_up")

_FENCE = re.compile(r"```[a-zA-Z]*")
_LABEL = re.compile(r"^\s*(?:caption|description|answer)\s*:\s*", re.I)
_MARKDOWN = re.compile(r"[*_#>`|]+")
_BULLET = re.compile(r"(?m)^\s*(?:[-•]|\d+[.)])\s+")
_REFUSAL = re.compile(
    r"^\s*(?:i'?m sorry|sorry|i (?:am )?(?:cannot|can'?t|am unable|'m unable)|i'?m not able|as an ai|"
    r"unfortunately,? i)\b", re.I)
_SENTENCE_END = re.compile(r"[.!?](?=\s|$)")


class UnusableCaption(ValueError):
    """A model answer that cannot be used as a caption; ``reason`` is the skip counter's key."""

    def __init__(self, message: str, *, reason: str):
        super().__init__(message)
        self.reason = reason


class CaptionSummary(BaseModel):
    """What a captioning run did, for the ingest summary."""

    asked: int = Field(0, description="Requests sent to the model.")
    captioned: int = Field(0, description="Posters with a caption (new or cached).")
    cached: int = Field(0, description="Captions served from the cache without a request.")
    truncated: int = Field(0, description="Answers longer than max_chars, cut at a sentence or word end.")
    skipped: dict[str, int] = Field(default_factory=dict, description="Posters without a caption, by reason.")

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


def clean_caption(text: str, *, max_chars: int = 300) -> tuple[str, bool]:
    """``(caption, truncated)``: the answer as one plain line of at most ``max_chars`` characters.

    Code fences, markdown, list bullets, a "Caption:" label and surrounding quotes are removed;
    a longer answer is cut at the last sentence end (or word end) that fits. Raises
    :class:`UnusableCaption` for an empty, refused or garbage (mostly not letters) answer.
    """
    text = _FENCE.sub(" ", text or "")
    text = _BULLET.sub(" ", text)
    text = _MARKDOWN.sub(" ", text)
    text = " ".join(text.split())
    text = _LABEL.sub("", text).strip().strip("\"'“”‘’").strip()
    if not text:
        raise UnusableCaption("the model answered with nothing", reason="empty_caption")
    if _REFUSAL.match(text):
        raise UnusableCaption(f"the model declined: {text[:80]!r}", reason="refused")
    letters = sum(c.isalpha() for c in text)
    if letters < MIN_LETTERS or letters < 0.5 * len(text.replace(" ", "")):
        raise UnusableCaption(f"the answer is not a description: {text[:80]!r}", reason="garbage")
    if len(text) <= max_chars:
        return text, False
    head = text[:max_chars]
    ends = [m.end() for m in _SENTENCE_END.finditer(head)]
    if ends and ends[-1] >= max_chars // 3:
        cut = head[: ends[-1]]
    else:
        cut = head.rsplit(" ", 1)[0].rstrip(",;:-— ") if " " in head else head
    return cut.strip(), True


def image_data_url(image: Any, *, max_side: int = MAX_SIDE) -> str:
    """An RGB PIL image as a ``data:image/jpeg;base64,...`` URL, downscaled to ``max_side`` px."""
    small = image.convert("RGB")
    if max(small.size) > max_side:
        small = small.copy()
        small.thumbnail((max_side, max_side))
    buffer = io.BytesIO()
    small.save(buffer, "JPEG", quality=JPEG_QUALITY)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def file_hash(path: str | Path) -> str:
    """The SHA-256 of a file's bytes: the cache key of its caption (renaming a poster keeps it)."""
    return file_sha256(Path(path))


class CaptionCache:
    """Captions by ``<model>|<content hash>``, in memory and in a JSON file written atomically."""

    def __init__(self, path: Path | None):
        self.path = Path(path) if path is not None else None
        self._entries: dict[str, str] = self._read() if self.path else {}
        self._dirty = False

    def _read(self) -> dict[str, str]:
        entries = read_entries(self.path, version=CACHE_VERSION, key="captions", what="caption cache")
        return {str(k): v for k, v in entries.items() if isinstance(v, str) and v}

    def get(self, key: str) -> str | None:
        return self._entries.get(key)

    def put(self, key: str, caption: str) -> None:
        self._entries[key] = caption
        self._dirty = True

    def flush(self) -> None:
        """Write the file when something was added (a failed write is logged, never raised)."""
        if self.path is None or not self._dirty:
            return
        if write_entries(self.path, self._entries, version=CACHE_VERSION, key="captions", what="caption cache"):
            self._dirty = False

    def __len__(self) -> int:
        return len(self._entries)


def _endpoint_reason(exc: LLMError) -> str:
    """``timeout`` when the request timed out, else ``endpoint_error``."""
    import httpx
    import openai

    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, (openai.APITimeoutError, httpx.TimeoutException, TimeoutError)):
            return "timeout"
        cause = cause.__cause__
    return "endpoint_error"


class PosterCaptioner:
    """Short descriptions of posters from a vision chat model, cached by image content and model.

    ``model``: a LangChain chat model that takes images (``marquee.llm.build_chat_model`` with the
    caption model); ``cache_path``: the JSON cache (``None``: memory only); ``max_chars``: the
    longest caption kept; ``max_failures``: endpoint failures in a row before it stops asking.
    """

    def __init__(self, model: Any, *, cache_path: Path | None, max_chars: int = 300,
                 model_name: str | None = None, max_failures: int = 3, max_side: int = MAX_SIDE):
        self.model = model
        self.model_name = model_name or getattr(model, "model_name", None) or type(model).__name__
        self.cache = CaptionCache(cache_path)
        self.max_chars = max_chars
        self.max_failures = max_failures
        self.max_side = max_side
        self.summary = CaptionSummary()
        self.failures_in_a_row = 0

    @property
    def gave_up(self) -> bool:
        """True once ``max_failures`` endpoint failures came in a row: no more requests are sent."""
        return self.failures_in_a_row >= self.max_failures

    def cache_key(self, content_hash: str) -> str:
        return f"{self.model_name}|{content_hash}"

    def caption(self, image: Any, *, content_hash: str) -> str | None:
        """The caption of an already checked RGB image (cached, or asked for), or ``None`` (counted)."""
        from marquee.llm import invoke_model, message_text
        from prompts.captions import caption_message

        key = self.cache_key(content_hash)
        cached = self.cache.get(key)
        if cached is not None:
            self.summary.cached += 1
            self.summary.captioned += 1
            return cached
        if self.gave_up:
            self.summary.skip("endpoint_gave_up")
            return None
        self.summary.asked += 1
        try:
            reply = invoke_model(self.model, [caption_message(image_data_url(image, max_side=self.max_side))])
        except LLMError as exc:
            self.failures_in_a_row += 1
            self.summary.skip(_endpoint_reason(exc))
            if self.gave_up:
                log.warning("caption endpoint failed %d times in a row: no more captions are asked for "
                            "in this run (%s)", self.failures_in_a_row, exc)
            return None
        self.failures_in_a_row = 0
        try:
            text, truncated = clean_caption(message_text(reply), max_chars=self.max_chars)
        except UnusableCaption as exc:
            log.info("caption skipped: %s", exc)
            self.summary.skip(exc.reason)
            return None
        self.summary.truncated += int(truncated)
        self.summary.captioned += 1
        self.cache.put(key, text)
        return text

    def caption_file(self, path: str | Path, *, allowed_roots: Sequence[str | Path],
                     limits: ImageLimits | None = None) -> str | None:
        """The caption of the poster at ``path``, read through :mod:`retrieval.images` (a bad file,
        or one outside ``allowed_roots``, is skipped under the image checks' reason)."""
        try:
            image, _ = load_image_checked(path, allowed_roots=allowed_roots, limits=limits)
        except ImageRejected as exc:
            self.summary.skip(exc.reason)
            return None
        try:
            content_hash = file_hash(path)
        except OSError:
            self.summary.skip("missing")
            return None
        return self.caption(image, content_hash=content_hash)

    def flush(self) -> None:
        """Persist new captions to the cache file."""
        self.cache.flush()


class CaptionModality:
    """The caption collection: each item's poster caption through the text encoder.

    Items without a poster, and posters without a caption, get a zero row (left out of the
    collection); :attr:`captions` keeps the texts (item id -> caption) of the last build.
    """

    modality = "caption"

    def __init__(self, captioner: PosterCaptioner, text_encoder: "TextEncoder", image_paths: Mapping[str, str | Path],
                 *, allowed_roots: Sequence[str | Path], limits: ImageLimits | None = None):
        self.captioner = captioner
        self.text_encoder = text_encoder
        self.name = f"caption:{captioner.model_name}|text:{text_encoder.name}"
        self.dim = text_encoder.dim
        self.image_paths = dict(image_paths)
        self.allowed_roots = list(allowed_roots)
        self.limits = limits or ImageLimits()
        self.captions: dict[str, str] = {}

    @property
    def summary(self) -> CaptionSummary:
        return self.captioner.summary

    def embed_items(self, items: list[Item]) -> np.ndarray:
        from retrieval.modalities import unit_rows

        out = np.zeros((len(items), self.dim), dtype=np.float32)
        rows: list[int] = []
        texts: list[str] = []
        for row, item in enumerate(items):
            path = self.image_paths.get(item.id)
            if path is None:
                continue
            caption = self.captioner.caption_file(path, allowed_roots=self.allowed_roots, limits=self.limits)
            if caption is None:
                continue
            self.captions[item.id] = caption
            rows.append(row)
            texts.append(caption)
        self.captioner.flush()  # after every batch: a crash later keeps what was paid for
        if texts:
            out[rows] = unit_rows(self.text_encoder.encode(texts))
        return out
