"""The LLM generator of imaginary histories: an OpenAI-compatible model writes them in context.

The prompt (``prompts/cold_start.py``) shows a few real training users whose demographics match
the new user's best, with the first items each of them liked, then the new user's demographics;
the model answers with imaginary items as JSON (genres, era, keywords, an optional title).

Validate, re-ask, fall back (the house pattern of ``chat/llm_parser.py``):

- a genre or an era outside the catalog's vocabulary, or an answer that is not the JSON asked
  for, is sent back with the error, at most ``max_retries`` times;
- a title that is not in the catalog is dropped (the item keeps its attributes) with a note;
- when the endpoint fails or never answers validly, the offline generator answers instead, the
  history says so in its notes, and the endpoint is left alone for ``cooldown_s`` so one outage
  does not cost a timeout per variant.

Generation is slow, so histories are cached by demographic profile (with the model, the seed and
the variant): in memory and in a JSON file in the workspace. Fallback histories are not cached
in the file: the model is asked again once it is back.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import zlib
from pathlib import Path
from typing import Any, Mapping

import numpy as np
from pydantic import BaseModel, Field, ValidationError

from marquee.llm import EndpointError, JsonAsker, json_object
from marquee.errors import LLMError
from prompts.cold_start import render_history_messages, render_reask
from retrieval.catalog import Catalog, Item
from retrieval.cold_start import DemographicNeighbours, HistoryGenerator, ImaginaryHistory, ImaginaryItem, era_of
from retrieval.demographics import GENRE_ALIASES, Demographics
from retrieval.json_cache import read_entries, write_entries

logger = logging.getLogger(__name__)

CACHE_VERSION = 1
MAX_ANSWER_TOKENS = 900  # 20 items of ~40 tokens; a model that rambles is cut, then re-asked
NOTE_NO_ANSWER = "the language model did not answer, so the imaginary history came from the offline generator"
NOTE_INVALID = "the language model's answers did not validate, so the imaginary history came from the offline generator"
NOTE_RESTING = "the language model failed recently, so the imaginary history came from the offline generator"


class InvalidHistory(ValueError):
    """The model answered, but not with a usable history; the message is sent back to it."""


class GeneratedItem(BaseModel):
    """One imaginary item as the model must write it."""

    genres: list[str] = Field(min_length=1, max_length=6)
    era: str = Field(min_length=1, max_length=20)
    keywords: list[str] = Field(default_factory=list, max_length=10)
    title: str | None = Field(None, max_length=300)


class HistoryVocabulary:
    """What an imaginary item may say: the catalog's genres and decades, and its titles."""

    def __init__(self, catalog: Catalog):
        self.catalog = catalog
        self.genres: list[str] = list(catalog.genres)
        self._genres = {g.casefold(): g for g in self.genres}
        self._genres.update({alias: canonical for alias, canonical in GENRE_ALIASES.items() if canonical in self.genres})
        self.eras: list[str] = sorted({era_of(item.year) for item in catalog if item.year})

    def genre(self, name: object) -> str | None:
        """The catalog's spelling of a genre name, or ``None`` if the catalog has no such genre."""
        return self._genres.get(str(name).strip().casefold())

    def era(self, text: object) -> str | None:
        """A decade the catalog has (``1990s``; ``1990's``, ``1994`` -> ``1990s``), else ``None``."""
        raw = str(text).strip().lower().replace("'s", "s").replace("’s", "s")
        if re.fullmatch(r"\d{4}", raw):
            raw = era_of(int(raw)) or ""
        return raw if raw in self.eras else None

    def title(self, text: str) -> Item | None:
        return self.catalog.find_title(text)


def history_schema(vocabulary: HistoryVocabulary, max_items: int) -> dict[str, Any]:
    """The JSON schema of an answer: items with the catalog's genres and decades as enums."""
    item = {
        "type": "object",
        "properties": {
            "genres": {"type": "array", "items": {"enum": vocabulary.genres}, "minItems": 1, "maxItems": 3},
            "era": {"enum": vocabulary.eras},
            "keywords": {"type": "array", "items": {"type": "string", "maxLength": 30}, "maxItems": 3},
            "title": {"type": "string", "maxLength": 80},
        },
        "required": ["genres", "era"],
        "additionalProperties": False,
    }
    return {"type": "object", "properties": {"items": {"type": "array", "items": item, "minItems": 1,
                                                        "maxItems": max_items}},
            "required": ["items"], "additionalProperties": False}


def parse_history(text: str, vocabulary: HistoryVocabulary, *, n_items: int) -> tuple[list[ImaginaryItem], list[str]]:
    """The model's answer as imaginary items and notes, or ``InvalidHistory`` saying what to fix.

    Unknown genres and eras are errors (the model is asked again); unknown titles are dropped
    with a note; items past ``n_items`` are cut.
    """
    data = json_object(text, error=InvalidHistory)
    raw_items = data.get("items")
    if not isinstance(raw_items, list) or not raw_items:
        raise InvalidHistory('the object needs a non-empty list "items"')
    problems: list[str] = []
    items: list[ImaginaryItem] = []
    invented: list[str] = []
    for number, raw in enumerate(raw_items[:n_items], start=1):
        try:
            generated = GeneratedItem.model_validate(raw)
        except ValidationError as exc:
            problems.append(f"item {number}: " + "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']}" for e in exc.errors(include_url=False)))
            continue
        genres = [vocabulary.genre(g) for g in generated.genres]
        unknown = [g for g, known in zip(generated.genres, genres) if known is None]
        if unknown:
            problems.append(f"item {number} has genres the catalog does not use: {', '.join(map(repr, unknown))}")
        era = vocabulary.era(generated.era)
        if era is None:
            problems.append(f"item {number} has era {generated.era!r}, not one of the catalog's decades")
        if unknown or era is None:
            continue
        label = None
        if generated.title:
            found = vocabulary.title(generated.title)
            if found is None:
                invented.append(generated.title)
            else:
                label = found.label
        keywords = [str(k).strip()[:40] for k in generated.keywords if str(k).strip()][:3]
        items.append(ImaginaryItem(position=len(items), genres=list(dict.fromkeys(genres)), era=era,
                                   keywords=keywords, label=label))
    if problems:
        raise InvalidHistory(
            "; ".join(problems[:5]) + f". Genres ONLY from: {', '.join(vocabulary.genres)}. "
            f"Era ONLY one of: {', '.join(vocabulary.eras)}."
        )
    notes = [f"the language model named {len(invented)} title(s) that are not in the catalog; "
             f"they were dropped: {', '.join(repr(t[:60]) for t in invented[:3])}"] if invented else []
    return items, notes



class HistoryCache:
    """Generated histories by key, in memory and (when ``path`` is set) in a JSON file."""

    def __init__(self, path: Path | None):
        self.path = path
        self._lock = threading.Lock()
        self._entries: dict[str, dict[str, Any]] = self._read() if path else {}

    def _read(self) -> dict[str, dict[str, Any]]:
        return read_entries(self.path, version=CACHE_VERSION, key="histories", what="history cache")

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            return self._entries.get(key)

    def put(self, key: str, entry: dict[str, Any]) -> None:
        with self._lock:
            self._entries[key] = entry
            if self.path is not None:
                write_entries(self.path, self._entries, version=CACHE_VERSION, key="histories", what="history cache")

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


class LLMHistoryGenerator:
    """``HistoryGenerator`` backed by a chat model, with an offline generator as its fallback.

    ``neighbours`` and ``profiles`` are the training users (their likes in time order and their
    demographics); ``items`` describes their liked items for the prompt; ``vocabulary`` is what
    the answers are validated against. Each variant shows the model a different draw of example
    users (by seed), so late fusion gets different histories even from a deterministic model.
    """

    name = "llm"

    def __init__(
        self,
        model: Any,
        *,
        neighbours: DemographicNeighbours,
        profiles: Mapping[str, Demographics],
        items: Mapping[str, Item],
        vocabulary: HistoryVocabulary,
        fallback: HistoryGenerator,
        cache_path: Path | None = None,
        max_retries: int = 2,
        n_examples: int = 4,
        items_per_example: int = 8,
        max_items: int = 20,
        cooldown_s: float = 60.0,
        json_mode: bool = True,
    ):
        self.model = model
        self.neighbours, self.profiles, self.items = neighbours, profiles, items
        self.vocabulary, self.fallback = vocabulary, fallback
        self.cache = HistoryCache(cache_path)
        self.n_examples, self.items_per_example = n_examples, items_per_example
        self.max_items, self.cooldown_s = max_items, cooldown_s
        self.asker = JsonAsker(model, max_retries=max_retries, json_mode=json_mode,
                               schema=history_schema(vocabulary, max_items), max_tokens=MAX_ANSWER_TOKENS)
        self.model_name = str(getattr(model, "model_name", "") or getattr(model, "model", "") or type(model).__name__)
        self._resting_until = 0.0
        self.calls = 0  # requests sent to the endpoint, for logs and tests

    def examples(self, profile: Demographics, *, seed: int, variant: int) -> list[tuple[Demographics, list[Item]]]:
        """Training users drawn by how well their demographics match (closer = likelier), with their first likes."""
        users = [u for u in self.neighbours.user_ids if u in self.profiles]
        if not users:
            return []
        position = {u: k for k, u in enumerate(self.neighbours.user_ids)}
        weights = self.neighbours.weights(profile)[[position[u] for u in users]] ** 2
        rng = np.random.default_rng([seed, variant, zlib.crc32(profile.key().encode()), 17])
        size = min(self.n_examples, len(users))
        drawn = rng.choice(len(users), size=size, replace=False, p=weights / weights.sum())
        out = []
        for row in sorted(drawn, key=lambda r: -weights[r]):
            liked = [self.items[i] for i in self.neighbours.liked[users[row]] if i in self.items]
            out.append((self.profiles[users[row]], liked[: self.items_per_example]))
        return out

    def generate(self, profile: Demographics, *, n_items: int = 10, seed: int = 0,
                 variant: int = 0) -> ImaginaryHistory:
        """An imaginary history for ``profile``: from the cache, the model, or the fallback."""
        wanted = max(1, min(n_items, self.max_items))
        key = f"{self.model_name}|{profile.key()}|n={wanted}|seed={seed}|variant={variant}"
        cached = self.cache.get(key)
        if cached is not None:
            return self._history(profile, cached, seed, variant)
        if time.monotonic() < self._resting_until:
            return self._fall_back(profile, n_items, seed, variant, NOTE_RESTING)
        try:
            items, notes = self._ask(profile, wanted, seed, variant)
        except LLMError as exc:
            if isinstance(exc.__cause__, EndpointError):
                self._resting_until = time.monotonic() + self.cooldown_s
                return self._fall_back(profile, n_items, seed, variant, NOTE_NO_ANSWER)
            return self._fall_back(profile, n_items, seed, variant, NOTE_INVALID)
        entry = {"items": [i.model_dump() for i in items], "notes": notes}
        self.cache.put(key, entry)
        return self._history(profile, entry, seed, variant)

    def _history(self, profile: Demographics, entry: Mapping[str, Any], seed: int, variant: int) -> ImaginaryHistory:
        items = [ImaginaryItem.model_validate(i) for i in entry["items"]]
        return ImaginaryHistory(profile=profile, items=items, generator=self.name, seed=seed, variant=variant,
                                notes=list(entry.get("notes", [])))

    def _fall_back(self, profile: Demographics, n_items: int, seed: int, variant: int, note: str) -> ImaginaryHistory:
        history = self.fallback.generate(profile, n_items=n_items, seed=seed, variant=variant)
        history.notes = [note, *history.notes]
        return history

    def _ask(self, profile: Demographics, n_items: int, seed: int, variant: int) -> tuple[list[ImaginaryItem], list[str]]:
        """Ask, validate, re-ask; raises ``LLMError`` (caused by the last failure) when out of attempts."""
        messages = render_history_messages(
            profile, self.examples(profile, seed=seed, variant=variant),
            genres=self.vocabulary.genres, eras=self.vocabulary.eras, n_items=n_items,
        )
        return self.asker.ask(
            messages, lambda text: parse_history(text, self.vocabulary, n_items=n_items), invalid=InvalidHistory,
            reask=render_reask, on_attempt=self._count, what="history",
        )

    def _count(self, number: int, output: str | None, error: str | None, seconds: float) -> None:
        self.calls += 1


def build_llm_generator(
    settings: Any,
    *,
    neighbours: DemographicNeighbours,
    profiles: Mapping[str, Demographics],
    items: Mapping[str, Item],
    vocabulary: HistoryVocabulary,
    fallback: HistoryGenerator,
    cache_path: Path | None,
) -> LLMHistoryGenerator | None:
    """The LLM generator for the configured endpoint, or ``None`` when no endpoint is configured."""
    from marquee.llm import build_chat_model

    model = build_chat_model(settings)
    if model is None:
        return None
    return LLMHistoryGenerator(model, neighbours=neighbours, profiles=profiles, items=items, vocabulary=vocabulary,
                               fallback=fallback, cache_path=cache_path, max_retries=settings.llm_max_retries)
