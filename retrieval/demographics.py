"""User demographics: the validated profile a person gives, and MovieLens readers that have them.

A person may give an age (or age range), a gender and an occupation, each optional. What cannot
be used (age -3, occupation "astronaut") is dropped with a note, never guessed. Profiles use the
MovieLens 1M vocabulary (7 age groups, 21 occupations); ML-100K's exact ages and its own
occupation words are mapped onto it.

Readers (the files are not redistributable: they are read from a path, never copied):

- ML-100K folder: ``u.user``, ``u.data``, ``u.item``.
- ML-1M: ``users.dat`` + ``movies.dat`` (``ml-1m-meta``) and a ``::`` ratings file — the full
  ``ratings.dat`` if present, else the 100k-row ``sample_movielens_rating.dat`` of
  ``ml-1m-ratings-sample``. :func:`load_movielens` accepts either folder and looks for the other
  half in the same folder or a sibling folder (``../ml-1m-meta``, ``../ml-1m-ratings-sample``).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Literal, Mapping

import numpy as np
from pydantic import BaseModel, Field, ValidationError

from marquee.errors import CatalogError
from retrieval.catalog import Catalog, Item, fold
from retrieval.loaders import Interactions

logger = logging.getLogger(__name__)

AGE_GROUPS = ("under 18", "18-24", "25-34", "35-44", "45-49", "50-55", "56+")
ML1M_AGE_CODES = {"1": "under 18", "18": "18-24", "25": "25-34", "35": "35-44", "45": "45-49",
                  "50": "50-55", "56": "56+"}
OCCUPATIONS = (
    "other", "academic/educator", "artist", "clerical/admin", "college/grad student",
    "customer service", "doctor/health care", "executive/managerial", "farmer", "homemaker",
    "K-12 student", "lawyer", "programmer", "retired", "sales/marketing", "scientist",
    "self-employed", "technician/engineer", "tradesman/craftsman", "unemployed", "writer",
)
# words people (and ML-100K's u.occupation) use, folded -> canonical occupation
OCCUPATION_WORDS = {
    "administrator": "clerical/admin", "admin": "clerical/admin", "clerical": "clerical/admin",
    "educator": "academic/educator", "teacher": "academic/educator", "professor": "academic/educator",
    "academic": "academic/educator", "librarian": "academic/educator", "lecturer": "academic/educator",
    "entertainment": "artist", "actor": "artist", "musician": "artist", "designer": "artist",
    "doctor": "doctor/health care", "healthcare": "doctor/health care", "nurse": "doctor/health care",
    "health care": "doctor/health care", "physician": "doctor/health care",
    "engineer": "technician/engineer", "technician": "technician/engineer",
    "executive": "executive/managerial", "manager": "executive/managerial",
    "marketing": "sales/marketing", "salesman": "sales/marketing", "sales": "sales/marketing",
    "salesperson": "sales/marketing",
    "developer": "programmer", "software engineer": "programmer", "software developer": "programmer",
    "college student": "college/grad student", "grad student": "college/grad student",
    "university student": "college/grad student", "high school student": "K-12 student",
    "school student": "K-12 student", "pupil": "K-12 student",
    "craftsman": "tradesman/craftsman", "tradesman": "tradesman/craftsman", "plumber": "tradesman/craftsman",
    "electrician": "tradesman/craftsman", "carpenter": "tradesman/craftsman",
    "freelancer": "self-employed", "self employed": "self-employed", "business owner": "self-employed",
    "customer support": "customer service", "none": "unemployed", "jobless": "unemployed",
    "retiree": "retired", "housewife": "homemaker", "househusband": "homemaker", "stay at home parent": "homemaker",
    "author": "writer", "journalist": "writer", "researcher": "scientist", "attorney": "lawyer",
}
GENDER_WORDS = {"f": "F", "female": "F", "woman": "F", "w": "F", "m": "M", "male": "M", "man": "M"}
SKIP_WORDS = {"", "prefer not to say", "skip", "none", "n/a", "na", "unknown", "-", "rather not say"}
GENRE_ALIASES = {"children's": "Children", "childrens": "Children"}


class Demographics(BaseModel):
    """What a person told us about themselves; every field optional ("prefer not to say" = None)."""

    age_group: Literal[AGE_GROUPS] | None = Field(None, description="One of AGE_GROUPS.")  # type: ignore[valid-type]
    gender: Literal["F", "M"] | None = None
    occupation: Literal[OCCUPATIONS] | None = Field(None, description="One of OCCUPATIONS.")  # type: ignore[valid-type]

    def is_empty(self) -> bool:
        return self.age_group is None and self.gender is None and self.occupation is None

    def key(self) -> str:
        """Stable text key of the profile (for caches and seeds)."""
        return f"{self.age_group or '-'}|{self.gender or '-'}|{self.occupation or '-'}"

    def describe(self) -> str:
        """Short human phrase, e.g. ``25-34, programmer`` (empty when nothing was given)."""
        gender = {"F": "female", "M": "male"}.get(self.gender or "", "")
        return ", ".join(p for p in (self.age_group, gender, self.occupation) if p)


def age_group_of(age: int) -> str:
    """The MovieLens 1M age group of an age in years (1..120)."""
    for upper, group in ((17, "under 18"), (24, "18-24"), (34, "25-34"), (44, "35-44"),
                         (49, "45-49"), (55, "50-55")):
        if age <= upper:
            return group
    return "56+"


def _parse_age(age: object, notes: list[str]) -> str | None:
    if age is None:
        return None
    text = fold(str(age)) if not isinstance(age, (int, float)) else ""
    if isinstance(age, str) and text in SKIP_WORDS:
        return None
    if isinstance(age, str):
        raw = age.strip()
        if re.fullmatch(r"[+-]?\d+(\.\d+)?", raw):
            age = float(raw)
        else:
            for group in AGE_GROUPS:
                if text == fold(group) or raw.lower() == group:
                    return group
    if isinstance(age, (int, float)) and not isinstance(age, bool):
        if 1 <= age <= 120:
            return age_group_of(int(age))
        notes.append(f"age {age:g} ignored: not an age between 1 and 120")
        return None
    notes.append(f"age {str(age)[:40]!r} ignored: give years (e.g. 30) or a range like 25-34")
    return None


def _parse_gender(gender: object, notes: list[str]) -> Literal["F", "M"] | None:
    if gender is None:
        return None
    text = fold(str(gender))
    if text in SKIP_WORDS:
        return None
    if text in GENDER_WORDS:
        return GENDER_WORDS[text]  # type: ignore[return-value]
    notes.append(f"gender {str(gender)[:40]!r} not used for matching: the rating data only records F and M")
    return None


def _parse_occupation(occupation: object, *, age_group: str | None, notes: list[str]) -> str | None:
    if occupation is None:
        return None
    text = fold(str(occupation))
    if text in SKIP_WORDS:
        return None
    by_fold = {fold(o): o for o in OCCUPATIONS}
    if text in by_fold:
        return by_fold[text]
    if text == "student":
        return "K-12 student" if age_group == "under 18" else "college/grad student"
    if text in OCCUPATION_WORDS:
        return OCCUPATION_WORDS[text]
    notes.append(f"occupation {str(occupation)[:40]!r} ignored: not one of the {len(OCCUPATIONS)} "
                 f"occupations we can match (e.g. {', '.join(OCCUPATIONS[1:5])})")
    return None


def parse_demographics(*, age: object = None, gender: object = None,
                       occupation: object = None) -> tuple[Demographics, list[str]]:
    """Validate what a person gave. Returns the usable profile and one note per ignored value."""
    notes: list[str] = []
    group = _parse_age(age, notes)
    profile = Demographics(
        age_group=group, gender=_parse_gender(gender, notes),
        occupation=_parse_occupation(occupation, age_group=group, notes=notes),
    )
    return profile, notes


def canonical_genre(genre: str) -> str | None:
    """MovieLens genre spelling shared by all readers (``Children's`` -> ``Children``)."""
    genre = genre.strip()
    if not genre or genre.lower() in ("unknown", "(no genres listed)"):
        return None
    return GENRE_ALIASES.get(genre.lower(), genre)


@dataclass(frozen=True)
class DemographicDataset(Interactions):
    """Ratings with user demographics: the interactions' parallel arrays plus users and items by
    id (all ids strings)."""

    name: str = ""
    users: dict[str, Demographics] = field(default_factory=dict)
    items: dict[str, Item] = field(default_factory=dict)


def _read_lines(path: Path, encoding: str = "latin-1") -> list[str]:
    try:
        return path.read_text(encoding=encoding).splitlines()
    except OSError as exc:
        raise CatalogError(f"cannot read {path}: {exc.strerror}") from exc


def _title_year(raw: str) -> tuple[str, int | None]:
    match = re.search(r"\((\d{4})\)\s*$", raw.strip())
    title = raw[: match.start()].strip() if match else raw.strip()
    return title, int(match.group(1)) if match else None


def _make_item(item_id: str, raw_title: str, genres: Iterable[str], problems: list[str],
               where: str) -> Item | None:
    title, year = _title_year(raw_title)
    try:
        return Item(id=item_id, title=title, year=year,
                    genres=[g for g in (canonical_genre(x) for x in genres) if g])
    except ValidationError as exc:
        problems.append(f"{where}: item {item_id} skipped: {str(exc).splitlines()[0][:120]}")
        return None


def _ratings_arrays(rows: list[list[str]], path: Path, problems: list[str]):
    users, items, ratings, stamps = [], [], [], []
    for number, row in enumerate(rows, start=1):
        try:
            rating, stamp = float(row[2]), int(row[3])
            user, item = row[0].strip(), row[1].strip()
        except (IndexError, ValueError):
            problems.append(f"{path.name} line {number}: unreadable rating row")
            continue
        users.append(user)
        items.append(item)
        ratings.append(rating)
        stamps.append(stamp)
    return (np.asarray(users, dtype=object), np.asarray(items, dtype=object),
            np.asarray(ratings, dtype=np.float32), np.asarray(stamps, dtype=np.int64))


def read_ml100k(folder: Path) -> DemographicDataset:
    """Read an ML-100K folder (``u.user``, ``u.item``, ``u.data``)."""
    folder = Path(folder)
    problems: list[str] = []
    genre_names = [line.split("|")[0] for line in _read_lines(folder / "u.genre") if line.strip()] \
        if (folder / "u.genre").exists() else [
            "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
            "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
            "Romance", "Sci-Fi", "Thriller", "War", "Western"]
    users: dict[str, Demographics] = {}
    for number, line in enumerate(_read_lines(folder / "u.user"), start=1):
        parts = line.split("|")
        if len(parts) < 4:
            if line.strip():
                problems.append(f"u.user line {number}: too few fields")
            continue
        profile, notes = parse_demographics(age=parts[1], gender=parts[2], occupation=parts[3])
        problems.extend(f"u.user line {number}: {note}" for note in notes)
        users[parts[0].strip()] = profile
    items: dict[str, Item] = {}
    for number, line in enumerate(_read_lines(folder / "u.item"), start=1):
        parts = line.split("|")
        if len(parts) < 5 + len(genre_names):
            if line.strip():
                problems.append(f"u.item line {number}: too few fields")
            continue
        flags = parts[5: 5 + len(genre_names)]
        genres = [name for name, flag in zip(genre_names, flags) if flag.strip() == "1"]
        item = _make_item(parts[0].strip(), parts[1], genres, problems, f"u.item line {number}")
        if item is not None:
            items[item.id] = item
    rows = [line.split("\t") for line in _read_lines(folder / "u.data") if line.strip()]
    arrays = _ratings_arrays(rows, folder / "u.data", problems)
    return _finish(folder.name, users, items, arrays, problems)


def read_ml1m(meta_dir: Path, ratings_path: Path) -> DemographicDataset:
    """Read ML-1M ``users.dat`` and ``movies.dat`` from ``meta_dir`` and a ``::`` ratings file."""
    meta_dir, ratings_path = Path(meta_dir), Path(ratings_path)
    problems: list[str] = []
    users: dict[str, Demographics] = {}
    for number, line in enumerate(_read_lines(meta_dir / "users.dat"), start=1):
        parts = line.split("::")
        if len(parts) < 4:
            if line.strip():
                problems.append(f"users.dat line {number}: too few fields")
            continue
        age = ML1M_AGE_CODES.get(parts[2].strip(), parts[2])
        code = parts[3].strip()
        occupation = OCCUPATIONS[int(code)] if code.isdigit() and int(code) < len(OCCUPATIONS) else code
        profile, notes = parse_demographics(age=age, gender=parts[1], occupation=occupation)
        problems.extend(f"users.dat line {number}: {note}" for note in notes)
        users[parts[0].strip()] = profile
    items: dict[str, Item] = {}
    for number, line in enumerate(_read_lines(meta_dir / "movies.dat"), start=1):
        parts = line.split("::")
        if len(parts) < 3:
            if line.strip():
                problems.append(f"movies.dat line {number}: too few fields")
            continue
        item = _make_item(parts[0].strip(), parts[1], parts[2].split("|"), problems, f"movies.dat line {number}")
        if item is not None:
            items[item.id] = item
    rows = [line.split("::") for line in _read_lines(ratings_path) if line.strip()]
    arrays = _ratings_arrays(rows, ratings_path, problems)
    name = meta_dir.name if ratings_path.parent == meta_dir else f"{meta_dir.name}+{ratings_path.parent.name}"
    return _finish(name, users, items, arrays, problems)


def _finish(name, users, items, arrays, problems) -> DemographicDataset:
    user_ids, item_ids, ratings, stamps = arrays
    known = np.fromiter((u in users and i in items for u, i in zip(user_ids, item_ids)), bool, len(user_ids))
    if (~known).any():
        problems.append(f"{int((~known).sum())} ratings skipped: unknown user or item id")
    if not known.any():
        raise CatalogError(f"{name}: no usable ratings")
    if problems:
        logger.warning("%s: %d problems while reading (first: %s)", name, len(problems), problems[0])
    return DemographicDataset(user_ids=user_ids[known], item_ids=item_ids[known], ratings=ratings[known],
                              timestamps=stamps[known], problems=problems, name=name, users=users, items=items)


ML1M_RATINGS_FILES = ("ratings.dat", "sample_movielens_rating.dat")


def _find_ml1m_ratings(meta_dir: Path) -> Path | None:
    for folder in (meta_dir, meta_dir.parent / "ml-1m-ratings-sample", meta_dir.parent / "ml-1m"):
        for name in ML1M_RATINGS_FILES:
            if (folder / name).is_file():
                return folder / name
    return None


def load_movielens(path: Path) -> DemographicDataset:
    """Read a MovieLens folder with demographics, whichever of the supported layouts it is.

    - ML-100K: a folder with ``u.user``.
    - ML-1M: a folder with ``users.dat`` (ratings from its ``ratings.dat``, its
      ``sample_movielens_rating.dat``, or a sibling ``ml-1m-ratings-sample``), or the
      ``ml-1m-ratings-sample`` folder itself (metadata from a sibling ``ml-1m-meta``).
    """
    path = Path(path)
    if (path / "u.user").is_file():
        return read_ml100k(path)
    if (path / "users.dat").is_file():
        ratings = _find_ml1m_ratings(path)
        if ratings is None:
            raise CatalogError(f"{path} has users.dat but no ratings.dat, and no sibling "
                               f"ml-1m-ratings-sample/sample_movielens_rating.dat")
        return read_ml1m(path, ratings)
    for name in ML1M_RATINGS_FILES:
        if (path / name).is_file() and (path.parent / "ml-1m-meta" / "users.dat").is_file():
            return read_ml1m(path.parent / "ml-1m-meta", path / name)
    raise CatalogError(f"{path} is not a MovieLens folder with demographics (need u.user for ML-100K, "
                       f"or users.dat + movies.dat with a ratings file for ML-1M)")


def match_items_to_catalog(items: Mapping[str, Item], catalog: Catalog) -> dict[str, str]:
    """Dataset item id -> catalog item id, by normalized title and year (unmatched items left out)."""
    matched: dict[str, str] = {}
    for item_id, item in items.items():
        found = catalog.find_title(f"{item.title} ({item.year})" if item.year else item.title)
        if found is not None and (item.year is None or found.year in (None, item.year)):
            matched[item_id] = found.id
    logger.info("matched %d of %d dataset items to the catalog", len(matched), len(items))
    return matched
