"""The catalog: items with facts, and the indexes the parser and tools look things up in.

The format is generic (any catalog of items with a title, a year, categories and people); the
field names follow the reference domain, movies.
"""

from __future__ import annotations

import gc
import json
import re
import sys
import unicodedata
from collections import defaultdict
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Iterator

from pydantic import BaseModel, Field, ValidationError, field_validator

from marquee.errors import CatalogError

PEOPLE_ROLES = ("directors", "writers", "stars")
ARTICLES = ("the", "a", "an", "le", "la", "les", "l'", "il", "el", "der", "die", "das")


_TRAILING_PARENS = re.compile(r"(?:\s*\([^()]*\))+\s*$")

class Item(BaseModel):
    """One catalog item. Unknown facts are ``None`` or empty, never guessed."""

    id: str = Field(min_length=1, max_length=64)
    title: str = Field(min_length=1, max_length=300, description="Display title, without the year.")
    year: int | None = Field(None, ge=1870, le=2100)
    genres: list[str] = Field(default_factory=list)
    people: dict[str, list[str]] = Field(
        default_factory=dict, description="Role (directors, writers, stars) -> names."
    )
    runtime: int | None = Field(None, ge=1, le=1200, description="Minutes.")
    age_rating: str | None = None
    tags: list[str] = Field(default_factory=list, description="Short user tags, most frequent first.")
    description: str | None = Field(None, description="Free text read at ingest; never shipped.")
    image: str | None = Field(None, description="Path or URL of a poster.")
    n_ratings: int = Field(0, ge=0)
    mean_rating: float | None = Field(None, ge=0, le=10)

    @field_validator("title")
    @classmethod
    def _strip_title(cls, value: str) -> str:
        value = " ".join(value.split())
        if not value:
            raise ValueError("title is empty")
        return value

    @field_validator("genres", "tags")
    @classmethod
    def _dedupe(cls, values: list[str]) -> list[str]:
        return list(dict.fromkeys(sys.intern(v.strip()) for v in values if v and v.strip()))

    @field_validator("people")
    @classmethod
    def _shared_names(cls, people: dict[str, list[str]]) -> dict[str, list[str]]:
        """Names (like genres and tags) are held once however many items share them: a
        million-item catalog repeats each person several times (``evals/REPORT.md`` §9)."""
        return {sys.intern(role): [sys.intern(name) for name in names] for role, names in people.items()}

    @property
    def label(self) -> str:
        """Title with year, as a person reads it: ``Toy Story (1995)``."""
        return f"{self.title} ({self.year})" if self.year else self.title

    @property
    def short_title(self) -> str:
        """The title as said in a sentence, without trailing alternate titles: "Seven (a.k.a.
        Se7en)" -> "Seven"; the whole title when it is nothing but parentheses."""
        return _TRAILING_PARENS.sub("", self.title) or self.title

    def all_people(self) -> list[str]:
        return [name for role in self.people.values() for name in role]

    def has_person(self, name: str) -> bool | None:
        """True/False when the catalog knows this item's people, ``None`` when it does not."""
        people = self.all_people()
        if not people:
            return None
        key = normalize_name(name)
        return any(normalize_name(p) == key for p in people)


def fold(text: str) -> str:
    """Lower-case, strip accents and punctuation, collapse spaces."""
    return _fold_short(text) if len(text) <= FOLD_CACHED_CHARS else _fold(text)


FOLD_CACHED_CHARS = 512  # short texts (names, tags, titles, requests) are folded once per process


@lru_cache(maxsize=1 << 15)
def _fold_short(text: str) -> str:
    return _fold(text)


def _fold(text: str) -> str:
    if not text.isascii():  # ASCII has no accents to strip and is its own NFKD form
        text = unicodedata.normalize("NFKD", text)
        text = "".join(c for c in text if not unicodedata.combining(c))
    text = _NOT_WORD.sub(" ", text.lower())
    return " ".join(text.split())


_NOT_WORD = re.compile(r"[^\w\s]")


@lru_cache(maxsize=1 << 17)
def normalize_name(name: str) -> str:
    """Key for matching people's names (folded). Cached: constraint checks fold every cast
    member of every item they look at, and a catalog has a bounded set of names."""
    return fold(name)


def normalize_title(title: str) -> str:
    """Key for matching titles: folded, no year suffix, no leading or trailing article.

    ``"The Matrix (1999)"``, ``"matrix, the"`` and ``"Matrix"`` all give ``"matrix"``.
    """
    title = re.sub(r"\(\s*\d{4}\s*\)\s*$", "", title.strip())
    title = re.sub(r",\s*(the|a|an|le|la|les|il|el|der|die|das)\s*$", "", title, flags=re.I)
    key = fold(title)
    for article in ARTICLES:
        if key.startswith(article + " "):
            key = key[len(article) + 1 :]
            break
    return key


class Catalog:
    """Items by id, plus lookups by title, person and genre."""

    def __init__(self, items: Iterable[Item], *, problems: Iterable[str] = ()):
        self.problems: list[str] = list(problems)  # rows skipped at load, for the ingest summary
        self.items: dict[str, Item] = {}
        for item in items:
            self.items[item.id] = item
        if not self.items:
            raise CatalogError("the catalog has no items")
        self.by_title: dict[str, list[str]] = defaultdict(list)
        self.by_person: dict[str, list[str]] = defaultdict(list)
        self.person_names: dict[str, str] = {}
        genres: dict[str, int] = defaultdict(int)
        # name -> key, for this catalog: a million items name more people than normalize_name's cache holds
        keys: dict[str, str] = {}
        for item in self.items.values():
            self.by_title[normalize_title(item.title)].append(item.id)
            for name in item.all_people():
                key = keys.get(name)
                if key is None:
                    key = keys[name] = normalize_name(name)
                self.by_person[key].append(item.id)
                self.person_names.setdefault(key, name)
            for genre in item.genres:
                genres[genre] += 1
        self.genre_counts: dict[str, int] = dict(genres)
        self.genres: list[str] = sorted(genres, key=lambda g: -genres[g])
        self.ids: list[str] = list(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[Item]:
        return iter(self.items.values())

    def __contains__(self, item_id: object) -> bool:
        return item_id in self.items

    def get(self, item_id: str) -> Item | None:
        return self.items.get(item_id)

    def find_title(self, title: str) -> Item | None:
        """Exact (normalized) title match; the most rated item wins ties. Year suffix is honoured."""
        year_match = re.search(r"\((\d{4})\)\s*$", title)
        ids = self.by_title.get(normalize_title(title), [])
        candidates = [self.items[i] for i in ids]
        if year_match:
            same_year = [c for c in candidates if c.year == int(year_match.group(1))]
            candidates = same_year or candidates
        if not candidates:
            return None
        return max(candidates, key=lambda c: c.n_ratings)

    def person_name(self, name: str) -> str | None:
        """The catalog's spelling of a person, or ``None`` if nobody of that name is known."""
        return self.person_names.get(normalize_name(name))


def read_items_jsonl(path: Path) -> tuple[list[Item], list[str]]:
    """Read items from JSON lines. Returns the items and one message per skipped line."""
    items: list[Item] = []
    problems: list[str] = []
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise CatalogError(f"cannot read catalog file {path}: {exc.strerror}") from exc
    with handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                items.append(Item.model_validate(json.loads(line)))
            except (json.JSONDecodeError, ValidationError, UnicodeDecodeError) as exc:
                first = str(exc).splitlines()[0][:200]
                problems.append(f"{path.name} line {number}: {first}")
    return items, problems


def load_catalog(folder: Path) -> Catalog:
    """Load a catalog folder in Marquee's own format (``items.jsonl``)."""
    with collector_paused():
        items, problems = read_items_jsonl(Path(folder) / "items.jsonl")
        return Catalog(items, problems=problems)


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a catalog is read.

    Reading makes millions of small objects (dicts, lists, strings, items) and no reference
    cycles; the collector would walk all of them again each time the heap grows by a quarter. At
    200k items that was three quarters of the time to parse and validate them (``evals/REPORT.md``
    §9). Memory is still freed by reference counting; collection resumes after."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
