"""Readers that turn catalog sources into :class:`retrieval.catalog.Item` lists.

Every item reader returns ``(items, problems)``: the items it could read and one
human-readable message per skipped row. A bad row is skipped and reported, never fatal; a
missing file raises :class:`marquee.errors.CatalogError` naming the path.

Sources: MovieLens folders (latest-small / 25M CSV, ML-100K ``u.item``, ML-1M ``movies.dat``),
the ReDial movie KB (``id2info.json``), JSON lines in the Item schema, and MovieLens-style
rating files (:func:`load_ratings`). :func:`load_source` picks the reader from the path.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, TextIO

import numpy as np
from pydantic import ValidationError

from marquee.errors import CatalogError
from retrieval.catalog import Item

logger = logging.getLogger(__name__)

MOVIELENS_GENRES: tuple[str, ...] = (
    "Action",
    "Adventure",
    "Animation",
    "Children",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "IMAX",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
)
"""The genre names of MovieLens (latest / 25M spelling). Every reader emits these names."""

GENRE_ALIASES: dict[str, str] = {
    "children's": "Children",
    "childrens": "Children",
    "family": "Children",
    "kids": "Children",
    "sci-fi": "Sci-Fi",
    "sci fi": "Sci-Fi",
    "scifi": "Sci-Fi",
    "science fiction": "Sci-Fi",
    "science-fiction": "Sci-Fi",
    "film-noir": "Film-Noir",
    "film noir": "Film-Noir",
    "noir": "Film-Noir",
    "animated": "Animation",
    "imax": "IMAX",
    "reality-tv": "Reality-TV",
    "talk-show": "Talk-Show",
    "game-show": "Game-Show",
}
"""Lower-cased genre names of other sources (ReDial/IMDb, ML-100K/1M) -> the catalog's name.
Names that are neither a MovieLens genre nor listed here are title-cased ("biography" ->
"Biography")."""

NO_GENRE = frozenset({"", "(no genres listed)", "unknown", "none", "n/a"})

ML100K_GENRES: tuple[str, ...] = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance",
    "Sci-Fi", "Thriller", "War", "Western",
)  # fmt: skip
"""Order of the 19 genre flags in ML-100K ``u.item`` when no ``u.genre`` file is beside it."""

TRAILING_ARTICLES = ("The", "A", "An", "Le", "La", "Les", "L'", "Il", "El", "Das", "Der", "Die")
MAX_TAGS = 8
MAX_TAG_LENGTH = 60
MAX_REPORTED = 50  # per reader: more skipped rows are summed up in one last message

_YEAR_SUFFIX = re.compile(r"\s*\(\s*(\d{4})(?:\s*[-–]\s*(?:\d{4})?)?\s*\)\s*$")
_ARTICLE_SUFFIX = re.compile(
    r"^(?P<body>.+?),\s*(?P<article>" + "|".join(re.escape(a) for a in TRAILING_ARTICLES) + r")"
    r"(?P<alt>\s*\(.*\))?$",
    flags=re.I,
)
_RUNTIME = re.compile(r"^(?:(?P<h>\d{1,2})\s*h(?:ours?|rs?)?)?\s*(?:(?P<m>\d{1,3})\s*m(?:in(?:utes?)?)?)?$")
_IMDB_ID = re.compile(r"(?:tt)?(\d{5,10})$")


# ---------------------------------------------------------------------------------- helpers


def to_movielens_genre(name: str) -> str | None:
    """The MovieLens spelling of a genre name from any source; ``None`` for "no genre".

    ``"sci-fi"`` -> ``"Sci-Fi"``, ``"family"`` -> ``"Children"``, ``"Children's"`` ->
    ``"Children"``, ``"biography"`` -> ``"Biography"``, ``"(no genres listed)"`` -> ``None``.
    """
    key = " ".join(str(name).strip().lower().split())
    if key in NO_GENRE:
        return None
    for genre in MOVIELENS_GENRES:
        if genre.lower() == key:
            return genre
    if key in GENRE_ALIASES:
        return GENRE_ALIASES[key]
    return key.title()


def to_movielens_genres(names: list[str]) -> list[str]:
    """Map a list of genre names, dropping "no genre" markers and duplicates, keeping order."""
    mapped = (to_movielens_genre(n) for n in names)
    return list(dict.fromkeys(g for g in mapped if g))


def split_title_year(raw: str) -> tuple[str, int | None]:
    """Split a MovieLens-style title into display title and year.

    ``"Matrix, The (1999)"`` -> ``("The Matrix", 1999)``; ``"Homme qui aimait les femmes, L'
    (1977)"`` -> ``("L'Homme qui aimait les femmes", 1977)``; ``"City of Lost Children, The
    (Cité des enfants perdus, La) (1995)"`` keeps the alternative title in parentheses.
    """
    title = " ".join(raw.split())
    year: int | None = None
    match = _YEAR_SUFFIX.search(title)
    if match:
        year = int(match.group(1))
        title = title[: match.start()].strip()
    moved = _ARTICLE_SUFFIX.match(title)
    if moved:
        article = moved.group("article")
        article = next(a for a in TRAILING_ARTICLES if a.lower() == article.lower())
        joiner = "" if article.endswith("'") else " "
        title = f"{article}{joiner}{moved.group('body').strip()}{moved.group('alt') or ''}"
    return title, year


def parse_runtime(text: str | None) -> int | None:
    """Minutes from ``"3h 48min"``, ``"2h"``, ``"95min"``, ``"95 min"`` or ``"95"``; else ``None``."""
    if text is None:
        return None
    value = str(text).strip().lower()
    if not value:
        return None
    if value.isdigit():
        minutes = int(value)
        return minutes if 1 <= minutes <= 1200 else None
    match = _RUNTIME.match(value)
    if not match or not (match.group("h") or match.group("m")):
        return None
    minutes = int(match.group("h") or 0) * 60 + int(match.group("m") or 0)
    return minutes if 1 <= minutes <= 1200 else None


def normalize_imdb_id(value: Any) -> str | None:
    """``"0114709"``, ``114709`` or ``"tt0114709"`` -> ``"tt0114709"``; anything else ``None``."""
    match = _IMDB_ID.match(str(value).strip()) if value not in (None, "") else None
    if not match:
        return None
    return "tt" + match.group(1).zfill(7)


class _Problems(list):
    """Skip messages of one reader, capped at :data:`MAX_REPORTED` plus a final count."""

    def __init__(self) -> None:
        super().__init__()
        self.extra = 0

    def add(self, message: str) -> None:
        if len(self) < MAX_REPORTED:
            self.append(message)
        else:
            self.extra += 1

    def done(self) -> list[str]:
        messages = list(self)
        if self.extra:
            messages.append(f"... and {self.extra} more skipped rows")
        return messages


def _first_line(exc: Exception) -> str:
    text = str(exc).replace("\n", " ")
    if isinstance(exc, ValidationError):
        text = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'row'}: {e['msg']}" for e in exc.errors())
    return text[:200]


def _require_file(path: Path) -> Path:
    if not path.is_file():
        raise CatalogError(f"catalog file not found: {path}")
    return path


def _read_text(path: Path) -> str:
    """Text of a file: UTF-8 when it decodes as such, else latin-1 (old MovieLens files)."""
    try:
        data = _require_file(path).read_bytes()
    except OSError as exc:
        raise CatalogError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _csv_rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row) of a CSV file with a header, keys stripped of spaces."""
    reader = csv.DictReader(io.StringIO(_read_text(path)))
    if reader.fieldnames is None:
        return
    reader.fieldnames = [name.strip() for name in reader.fieldnames]
    for row in reader:
        yield reader.line_num, row


def _column(row: dict[str, str], *names: str) -> str | None:
    for name in names:
        value = row.get(name)
        if value is not None:
            return value.strip()
    return None


# ---------------------------------------------------------------------------------- ratings


@dataclass(frozen=True)
class Interactions:
    """User-item ratings as parallel arrays (ids are strings, as in the catalog).

    Iterating yields ``(user_id, item_id, rating, timestamp)`` tuples. ``problems`` holds one
    message per skipped line of the source file.
    """

    user_ids: np.ndarray
    item_ids: np.ndarray
    ratings: np.ndarray
    timestamps: np.ndarray
    problems: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.ratings.shape[0])

    def __iter__(self) -> Iterator[tuple[str, str, float, int]]:
        for u, i, r, t in zip(self.user_ids, self.item_ids, self.ratings, self.timestamps):
            yield str(u), str(i), float(r), int(t)


def _rating_rows(handle: TextIO, path: Path) -> Iterator[tuple[int, list[str]]]:
    """(line number, [user, item, rating, timestamp?]) from CSV with header, u.data or .dat."""
    if path.suffix in (".dat", ".data", ".tsv") or path.name == "u.data":
        separator = "::" if path.suffix == ".dat" else "\t"
        for number, line in enumerate(handle, start=1):
            if line.strip():
                yield number, line.rstrip("\r\n").split(separator)
        return
    reader = csv.reader(handle)
    header = [h.strip() for h in next(reader, [])]
    columns = []
    for names in (("user_id", "userId", "user"), ("item_id", "movieId", "item"), ("rating",)):
        found = next((header.index(n) for n in names if n in header), None)
        if found is None:
            raise CatalogError(f"{path}: the header has no {names[0]} column (found {header})")
        columns.append(found)
    time_column = next((header.index(n) for n in ("timestamp", "time") if n in header), None)
    for row in reader:
        if not row:
            continue
        picked = [row[c] if c < len(row) else "" for c in columns]
        if time_column is not None:
            picked.append(row[time_column] if time_column < len(row) else "")
        yield reader.line_num, picked


def load_ratings(path: Path) -> Interactions:
    """Read ratings: CSV with a header ``user_id,item_id,rating,timestamp`` (or
    ``userId,movieId,...``; timestamp optional, 0 when absent), ML-100K ``u.data`` (tabs) or
    ML-1M ``ratings.dat`` (``::``). Malformed lines are skipped and listed in ``problems``.
    The file is streamed, so large files (ML-25M) need memory for the arrays only."""
    path = Path(path)
    _require_file(path)
    users: list[str] = []
    items: list[str] = []
    ratings: list[float] = []
    times: list[int] = []
    known: dict[str, str] = {}  # one string object per distinct id
    problems = _Problems()
    try:
        handle = path.open(encoding="utf-8", errors="replace", newline="")
    except OSError as exc:
        raise CatalogError(f"cannot read {path}: {exc.strerror}") from exc
    with handle:
        for number, fields in _rating_rows(handle, path):
            try:
                user, item, rating = fields[0].strip(), fields[1].strip(), float(fields[2])
                stamp = fields[3].strip() if len(fields) > 3 else ""
                timestamp = int(float(stamp)) if stamp else 0
                if not user or not item or not math.isfinite(rating):
                    raise ValueError("empty id or rating")
            except (IndexError, ValueError) as exc:
                problems.add(f"{path.name} line {number}: {exc}")
                continue
            users.append(known.setdefault(user, user))
            items.append(known.setdefault(item, item))
            ratings.append(rating)
            times.append(timestamp)
    messages = problems.done()
    if messages:
        logger.warning("%s: skipped %d rating rows", path, len(problems) + problems.extra)
    return Interactions(
        user_ids=np.array(users, dtype=object),
        item_ids=np.array(items, dtype=object),
        ratings=np.array(ratings, dtype=np.float32),
        timestamps=np.array(times, dtype=np.int64),
        problems=messages,
    )


def rating_stats(interactions: Interactions) -> dict[str, tuple[int, float]]:
    """item id -> (number of ratings, mean rating)."""
    if not len(interactions):
        return {}
    ids, inverse = np.unique(interactions.item_ids.astype(str), return_inverse=True)
    counts = np.bincount(inverse)
    sums = np.bincount(inverse, weights=interactions.ratings.astype(np.float64))
    return {str(i): (int(c), float(s / c)) for i, c, s in zip(ids, counts, sums)}


# ---------------------------------------------------------------------------------- MovieLens


def _movielens_tags(path: Path) -> dict[str, list[str]]:
    """item id -> up to :data:`MAX_TAGS` most frequent tags, lower-cased."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for _, row in _csv_rows(path):
        item = _column(row, "movieId", "item_id")
        tag = " ".join((_column(row, "tag") or "").lower().split())
        if item and tag and len(tag) <= MAX_TAG_LENGTH:
            counts[item][tag] += 1
    return {item: [t for t, _ in c.most_common(MAX_TAGS)] for item, c in counts.items()}


def _movielens_csv_rows(folder: Path, problems: _Problems) -> Iterator[tuple[str, str, list[str]]]:
    path = folder / "movies.csv"
    for number, row in _csv_rows(path):
        item_id = _column(row, "movieId", "item_id")
        title = _column(row, "title")
        if not item_id or not title:
            problems.add(f"{path.name} line {number}: no id or title")
            continue
        yield item_id, title, (_column(row, "genres") or "").split("|")


def _ml100k_genre_names(folder: Path) -> list[str]:
    path = folder / "u.genre"
    if not path.is_file():
        return list(ML100K_GENRES)
    names: dict[int, str] = {}
    for line in _read_text(path).splitlines():
        name, _, index = line.rpartition("|")
        if name and index.strip().isdigit():
            names[int(index)] = name
    return [names.get(i, "unknown") for i in range(max(names) + 1)] if names else list(ML100K_GENRES)


def _ml100k_rows(folder: Path, problems: _Problems) -> Iterator[tuple[str, str, list[str]]]:
    genre_names = _ml100k_genre_names(folder)
    for number, line in enumerate(_read_text(folder / "u.item").splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split("|")
        if len(fields) < 5 or not fields[0].strip() or fields[1].strip().lower() in ("", "unknown"):
            problems.add(f"u.item line {number}: expected 'id|title|date|...|flags'")
            continue
        flags = fields[5:]
        genres = [genre_names[i] for i, f in enumerate(flags) if f.strip() == "1" and i < len(genre_names)]
        title = fields[1].strip()
        release = re.search(r"(\d{4})\s*$", fields[2])
        if release and not _YEAR_SUFFIX.search(title):
            title = f"{title} ({release.group(1)})"
        yield fields[0].strip(), title, genres


def _ml1m_rows(folder: Path, problems: _Problems) -> Iterator[tuple[str, str, list[str]]]:
    for number, line in enumerate(_read_text(folder / "movies.dat").splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split("::")
        if len(fields) != 3 or not fields[0].strip() or not fields[1].strip():
            problems.add(f"movies.dat line {number}: expected 'MovieID::Title (Year)::Genres'")
            continue
        yield fields[0].strip(), fields[1], fields[2].split("|")


def load_movielens(folder: Path) -> tuple[list[Item], list[str]]:
    """Read a MovieLens folder: ``movies.csv`` (latest / 25M), ``u.item`` (100K) or
    ``movies.dat`` (1M). ``tags.csv`` and ``ratings.csv`` beside ``movies.csv`` fill tags,
    ``n_ratings`` and ``mean_rating``. Item ids are the source's movie ids."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CatalogError(f"MovieLens folder not found: {folder}")
    problems = _Problems()
    if (folder / "movies.csv").is_file():
        rows = _movielens_csv_rows(folder, problems)
    elif (folder / "u.item").is_file():
        rows = _ml100k_rows(folder, problems)
    elif (folder / "movies.dat").is_file():
        rows = _ml1m_rows(folder, problems)
    else:
        raise CatalogError(f"no movies.csv, u.item or movies.dat in MovieLens folder {folder}")
    tags = _movielens_tags(folder / "tags.csv") if (folder / "tags.csv").is_file() else {}
    stats: dict[str, tuple[int, float]] = {}
    if (folder / "movies.csv").is_file() and (folder / "ratings.csv").is_file():
        interactions = load_ratings(folder / "ratings.csv")
        stats = rating_stats(interactions)
        for message in interactions.problems:
            problems.add(message)
    items: list[Item] = []
    seen: set[str] = set()
    for item_id, raw_title, genres in rows:
        if item_id in seen:
            problems.add(f"movie id {item_id} appears twice; kept the first")
            continue
        title, year = split_title_year(raw_title)
        n_ratings, mean = stats.get(item_id, (0, None))
        try:
            item = Item(
                id=item_id,
                title=title,
                year=year,
                genres=to_movielens_genres(genres),
                tags=tags.get(item_id, []),
                n_ratings=n_ratings,
                mean_rating=round(mean, 3) if mean is not None else None,
            )
        except ValidationError as exc:
            problems.add(f"movie {item_id} ({raw_title!r}): {_first_line(exc)}")
            continue
        seen.add(item_id)
        items.append(item)
    logger.info("read %d MovieLens items from %s", len(items), folder)
    return items, problems.done()


def read_movielens_imdb_ids(folder: Path) -> dict[str, str]:
    """movie id -> IMDb id (``"tt0114709"``) from a MovieLens ``links.csv``; ``{}`` if absent."""
    path = Path(folder) / "links.csv"
    if not path.is_file():
        return {}
    links: dict[str, str] = {}
    for _, row in _csv_rows(path):
        item_id = _column(row, "movieId", "item_id")
        imdb = normalize_imdb_id(_column(row, "imdbId"))
        if item_id and imdb:
            links[item_id] = imdb
    return links


# ---------------------------------------------------------------------------------- ReDial


def read_redial_json(path: Path) -> dict[str, Any]:
    """The raw ReDial-style KB: id -> entry (a JSON object, or a list of entries with ``id``).
    Raises CatalogError if missing or neither."""
    try:
        data = json.loads(_read_text(Path(path)))
    except json.JSONDecodeError as exc:
        raise CatalogError(f"{path} is not valid JSON: {exc}") from exc
    if isinstance(data, list):  # a list of entries, each with its own id (or numbered in order)
        data = {str(entry.get("id", entry.get("movie_id", n))) if isinstance(entry, dict) else str(n): entry
                for n, entry in enumerate(data)}
    if not isinstance(data, dict):
        raise CatalogError(f"{path}: expected an object of id -> movie info")
    return data


def person_names(value: Any) -> list[str]:
    """A list of names from a KB field (list or single string), spaces tidied, duplicates dropped."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return []
    return list(dict.fromkeys(" ".join(str(v).split()) for v in value if v and str(v).strip()))


# Field names of KBs in the iEvaLM ``id2info.json`` style differ between data sets: each role
# or fact is read from the first of these keys that an entry has.
KB_FIELDS: dict[str, tuple[str, ...]] = {
    "name": ("name", "title", "movie_name", "movieName", "movie"),
    "year": ("year", "release_year", "releaseYear", "release_date", "date"),
    "genre": ("genre", "genres", "category", "categories"),
    "plot": ("plot", "description", "overview", "summary", "synopsis", "storyline"),
    "directors": ("director", "directors"),
    "writers": ("writer", "writers", "screenplay", "screenwriter"),
    "stars": ("star", "stars", "actor", "actors", "cast", "starring"),
    "imdb_id": ("imdb_id", "imdbId", "imdb", "imdbID"),
}


def kb_field(info: dict[str, Any], fact: str) -> Any:
    """The value of ``fact`` (a key of :data:`KB_FIELDS`) in a KB entry, whatever it is called there."""
    for key in KB_FIELDS[fact]:
        value = info.get(key)
        if value not in (None, "", []):
            return value
    return None


def redial_people(info: dict[str, Any]) -> dict[str, list[str]]:
    """Role -> names of one ReDial-style KB entry (roles with no names are left out)."""
    return {role: names for role in ("directors", "writers", "stars") if (names := person_names(kb_field(info, role)))}


def redial_genres(info: dict[str, Any]) -> list[str]:
    """MovieLens genre names of one ReDial-style KB entry (a list, or one string split on | or ,)."""
    value = kb_field(info, "genre")
    if isinstance(value, str):
        value = re.split(r"[|,/]", value)
    return to_movielens_genres(person_names(value))


def redial_item(item_id: str, info: dict[str, Any]) -> Item:
    """One ReDial KB entry as an Item (plot -> ``description``). Raises ValueError/ValidationError."""
    if not isinstance(info, dict):
        raise ValueError("entry is not an object")
    name = kb_field(info, "name")
    if not isinstance(name, str) or not name.strip():
        raise ValueError("no name")
    title, year = split_title_year(name)
    if year is None:
        found = re.search(r"\b(1[89]\d\d|20\d\d)\b", str(kb_field(info, "year") or ""))
        year = int(found.group(1)) if found else None
    plot = kb_field(info, "plot")
    return Item(
        id=str(item_id),
        title=title,
        year=year,
        genres=redial_genres(info),
        people=redial_people(info),
        description=plot.strip() if isinstance(plot, str) and plot.strip() else None,
    )


def load_redial_kb(path: Path) -> tuple[list[Item], list[str]]:
    """Read the ReDial movie KB (``id2info.json``: id -> {name "Title (Year)", genre, plot,
    director, writer, star, imdb_id}). Genres are mapped to MovieLens names; the plot becomes
    ``description`` (read at ingest, never to be written into the repository)."""
    data = read_redial_json(Path(path))
    items: list[Item] = []
    problems = _Problems()
    for item_id, info in data.items():
        try:
            items.append(redial_item(item_id, info))
        except (ValueError, ValidationError) as exc:
            problems.add(f"{Path(path).name} id {item_id}: {_first_line(exc)}")
    logger.info("read %d ReDial items from %s", len(items), path)
    return items, problems.done()


def read_redial_imdb_ids(path: Path) -> dict[str, str]:
    """ReDial id -> IMDb id (``"tt0114709"``) for the entries that have one."""
    data = read_redial_json(Path(path))
    links: dict[str, str] = {}
    for item_id, info in data.items():
        imdb = normalize_imdb_id(kb_field(info, "imdb_id")) if isinstance(info, dict) else None
        if imdb:
            links[str(item_id)] = imdb
    return links


# ---------------------------------------------------------------------------------- JSON lines


def _coerce_row(row: Any) -> Any:
    """Tolerate common variations: numeric ids, ``null`` for list/dict fields."""
    if not isinstance(row, dict):
        return row
    row = dict(row)
    if isinstance(row.get("id"), int):
        row["id"] = str(row["id"])
    for key in ("genres", "tags"):
        if row.get(key, []) is None:
            row.pop(key)
        elif isinstance(row.get(key), str):
            row[key] = [part for part in row[key].split("|")]
    if "people" in row and row["people"] is None:
        row.pop("people")
    if row.get("n_ratings", 0) is None:
        row.pop("n_ratings")
    return row


def load_jsonl(path: Path) -> tuple[list[Item], list[str]]:
    """Read JSON lines in the Item schema. Optional fields may be missing or ``null``; ids
    may be numbers; lines that are not JSON or lack ``id``/``title`` are skipped."""
    path = Path(path)
    items: list[Item] = []
    problems = _Problems()
    for number, line in enumerate(_read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            items.append(Item.model_validate(_coerce_row(json.loads(line))))
        except (json.JSONDecodeError, ValidationError) as exc:
            problems.add(f"{path.name} line {number}: {_first_line(exc)}")
    logger.info("read %d items from %s", len(items), path)
    return items, problems.done()


# ---------------------------------------------------------------------------------- dispatch


def load_source(path: Path) -> tuple[list[Item], list[str]]:
    """Read any supported catalog source, chosen from what ``path`` is:

    - a folder with ``items.jsonl`` -> Marquee's own format,
    - a folder with ``movies.csv``, ``u.item`` or ``movies.dat`` -> MovieLens,
    - a ``*.json`` file -> the ReDial movie KB,
    - a ``*.jsonl`` file -> JSON lines in the Item schema.
    """
    path = Path(path)
    if path.is_dir():
        if (path / "items.jsonl").is_file():
            return load_jsonl(path / "items.jsonl")
        if any((path / name).is_file() for name in ("movies.csv", "u.item", "movies.dat")):
            return load_movielens(path)
        raise CatalogError(
            f"{path} has none of items.jsonl, movies.csv, u.item, movies.dat: not a catalog folder"
        )
    if not path.exists():
        raise CatalogError(f"catalog source not found: {path}")
    if path.suffix == ".json":
        return load_redial_kb(path)
    if path.suffix == ".jsonl":
        return load_jsonl(path)
    raise CatalogError(f"unsupported catalog source {path}: expected a folder, .json or .jsonl")
