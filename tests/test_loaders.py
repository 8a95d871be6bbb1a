"""Catalog loaders: each source format read from small files the tests write, and the shipped
demo catalog as a user's fresh clone sees it."""

from __future__ import annotations

import csv
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from marquee.errors import CatalogError
from retrieval.catalog import load_catalog
from retrieval.loaders import (
    MOVIELENS_GENRES,
    load_jsonl,
    load_movielens,
    load_ratings,
    load_redial_kb,
    load_source,
    parse_runtime,
    read_movielens_imdb_ids,
    read_redial_imdb_ids,
    split_title_year,
    to_movielens_genre,
)

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "data" / "demo"
PLOT = "A cowboy doll is profoundly threatened when a new spaceman figure supplants him."


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


@pytest.fixture
def latest_small(tmp_path: Path) -> Path:
    """A MovieLens latest-small style folder (original movieId headers)."""
    folder = tmp_path / "ml-latest-small"
    write(
        folder / "movies.csv",
        "movieId,title,genres\n"
        "1,Toy Story (1995),Adventure|Animation|Children|Comedy|Fantasy\n"
        '2571,"Matrix, The (1999)",Action|Sci-Fi|Thriller\n'
        "3,,Comedy\n"
        "4,Some Documentary,(no genres listed)\n",
    )
    write(folder / "links.csv", "movieId,imdbId,tmdbId\n1,0114709,862\n2571,0133093,603\n")
    write(
        folder / "tags.csv",
        "userId,movieId,tag,timestamp\n"
        "1,1,Pixar,1\n2,1,pixar,2\n3,1,fun,3\n1,2571,cyberpunk,4\n",
    )
    write(
        folder / "ratings.csv",
        "userId,movieId,rating,timestamp\n1,1,4.0,10\n2,1,5.0,11\n1,2571,3.0,12\n2,2571,oops,13\n",
    )
    return folder


def test_movielens_csv_folder_gives_display_titles_genres_tags_and_rating_stats(latest_small: Path):
    items, problems = load_movielens(latest_small)

    by_id = {item.id: item for item in items}
    assert set(by_id) == {"1", "2571", "4"}
    matrix = by_id["2571"]
    assert (matrix.title, matrix.year, matrix.label) == ("The Matrix", 1999, "The Matrix (1999)")
    assert matrix.genres == ["Action", "Sci-Fi", "Thriller"]
    assert (matrix.n_ratings, matrix.mean_rating) == (1, 3.0)
    toy = by_id["1"]
    assert toy.tags == ["pixar", "fun"]
    assert (toy.n_ratings, toy.mean_rating) == (2, 4.5)
    assert by_id["4"].genres == [] and by_id["4"].year is None
    assert any("movies.csv line 4" in p for p in problems)  # the row without a title
    assert any("ratings.csv line 5" in p for p in problems)  # the rating "oops"


def test_movielens_csv_with_renamed_item_id_headers(tmp_path: Path):
    write(tmp_path / "movies.csv", "item_id,title,genres\n7,Sabrina (1995),Comedy|Romance\n")
    write(tmp_path / "ratings.csv", "user_id,item_id,rating,timestamp\n9,7,2.5,1\n")
    write(tmp_path / "links.csv", "item_id,imdbId,tmdbId\n7,114319,11860\n")

    items, problems = load_movielens(tmp_path)

    assert problems == []
    assert [(i.id, i.title, i.year, i.n_ratings) for i in items] == [("7", "Sabrina", 1995, 1)]
    assert read_movielens_imdb_ids(tmp_path) == {"7": "tt0114319"}


def test_ml100k_u_item_reads_latin1_and_genre_flags(tmp_path: Path):
    flags_toy = "|".join(["0", "0", "0", "1", "1", "1"] + ["0"] * 13)
    flags_les = "|".join(["1"] + ["0"] * 7 + ["1"] + ["0"] * 10)  # unknown + Drama
    write(tmp_path / "u.genre", "unknown|0\nAction|1\nAdventure|2\nAnimation|3\nChildren's|4\n"
          "Comedy|5\nCrime|6\nDocumentary|7\nDrama|8\nFantasy|9\nFilm-Noir|10\nHorror|11\n"
          "Musical|12\nMystery|13\nRomance|14\nSci-Fi|15\nThriller|16\nWar|17\nWestern|18\n\n")  # fmt: skip
    write(
        tmp_path / "u.item",
        f"1|Toy Story (1995)|01-Jan-1995||http://x|{flags_toy}\n"
        f"9|Misérables, Les (1995)|01-Jan-1995||http://x|{flags_les}\n"
        "267|unknown||||1|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0\n",
        encoding="latin-1",
    )

    items, problems = load_movielens(tmp_path)

    assert [(i.id, i.title, i.year, i.genres) for i in items] == [
        ("1", "Toy Story", 1995, ["Animation", "Children", "Comedy"]),
        ("9", "Les Misérables", 1995, ["Drama"]),
    ]
    assert problems == ["u.item line 3: expected 'id|title|date|...|flags'"]


def test_ml1m_movies_dat_reads_latin1_and_skips_malformed_lines(tmp_path: Path):
    write(
        tmp_path / "movies.dat",
        "1::Toy Story (1995)::Animation|Children's|Comedy\n"
        "73::Misérables, Les (1995)::Drama|Musical\n"
        "this line is broken\n",
        encoding="latin-1",
    )

    items, problems = load_movielens(tmp_path)

    assert [(i.id, i.label, i.genres) for i in items] == [
        ("1", "Toy Story (1995)", ["Animation", "Children", "Comedy"]),
        ("73", "Les Misérables (1995)", ["Drama", "Musical"]),
    ]
    assert len(problems) == 1 and "movies.dat line 3" in problems[0]


def test_redial_kb_maps_genres_people_and_keeps_plot_as_description(tmp_path: Path):
    kb = {
        "100": {
            "name": "Toy Story (1995)",
            "genre": ["animation", "family", "sci-fi", "film-noir", "biography"],
            "plot": PLOT,
            "director": ["John Lasseter"],
            "writer": [],
            "star": ["Tom Hanks", "Tim Allen", "Tom Hanks"],
            "imdb_id": "tt0114709",
        },
        "101": {"name": "", "genre": ["drama"], "imdb_id": "tt0000001"},
        "102": "not an object",
    }
    path = write(tmp_path / "id2info.json", json.dumps(kb))

    items, problems = load_redial_kb(path)

    assert len(items) == 1
    toy = items[0]
    assert (toy.id, toy.title, toy.year) == ("100", "Toy Story", 1995)
    assert toy.genres == ["Animation", "Children", "Sci-Fi", "Film-Noir", "Biography"]
    assert toy.people == {"directors": ["John Lasseter"], "stars": ["Tom Hanks", "Tim Allen"]}
    assert toy.description == PLOT
    assert len(problems) == 2 and any("id 101" in p for p in problems)
    assert read_redial_imdb_ids(path) == {"100": "tt0114709", "101": "tt0000001"}


def test_jsonl_skips_broken_lines_and_tolerates_missing_optional_fields(tmp_path: Path):
    path = write(
        tmp_path / "catalog.jsonl",
        '{"id": "a", "title": "Alpha", "year": 2001, "genres": ["Drama"], "runtime": 95}\n'
        "{this is not json\n"
        '{"id": 7, "title": "Seven", "genres": null, "tags": null}\n'
        '{"id": "no-title"}\n'
        "\n",
    )

    items, problems = load_jsonl(path)

    assert [(i.id, i.title, i.year, i.genres, i.runtime) for i in items] == [
        ("a", "Alpha", 2001, ["Drama"], 95),
        ("7", "Seven", None, [], None),
    ]
    assert len(problems) == 2
    assert problems[0].startswith("catalog.jsonl line 2")
    assert problems[1].startswith("catalog.jsonl line 4") and "title" in problems[1]


def test_ratings_accept_both_headers_and_skip_bad_rows(tmp_path: Path):
    path = write(
        tmp_path / "ratings.csv",
        "userId,movieId,rating,timestamp\n1,10,4.5,100\n2,10,,101\n2,11,3,102\n",
    )

    ratings = load_ratings(path)

    assert list(ratings) == [("1", "10", 4.5, 100), ("2", "11", 3.0, 102)]
    assert len(ratings) == 2 and ratings.ratings.dtype.kind == "f"
    assert len(ratings.problems) == 1 and "line 3" in ratings.problems[0]


def test_ratings_without_a_user_column_are_refused(tmp_path: Path):
    path = write(tmp_path / "ratings.csv", "who,movieId,rating\n1,2,3\n")
    with pytest.raises(CatalogError, match="user_id"):
        load_ratings(path)


def test_load_source_picks_the_reader_from_the_path(tmp_path: Path, latest_small: Path):
    marquee = tmp_path / "marquee"
    write(marquee / "items.jsonl", '{"id": "x", "title": "X"}\n')
    kb = write(tmp_path / "kb.json", json.dumps({"5": {"name": "Heat (1995)", "genre": ["crime"]}}))
    lines = write(tmp_path / "more.jsonl", '{"id": "y", "title": "Y"}\n')

    assert [i.id for i in load_source(marquee)[0]] == ["x"]
    assert {i.id for i in load_source(latest_small)[0]} == {"1", "2571", "4"}
    assert [(i.title, i.genres) for i in load_source(kb)[0]] == [("Heat", ["Crime"])]
    assert [i.id for i in load_source(lines)[0]] == ["y"]


@pytest.mark.parametrize(
    "call",
    [
        lambda p: load_source(p / "nowhere"),
        lambda p: load_jsonl(p / "nowhere.jsonl"),
        lambda p: load_redial_kb(p / "nowhere.json"),
        lambda p: load_movielens(p / "nowhere"),
        lambda p: load_ratings(p / "nowhere.csv"),
    ],
)
def test_a_missing_source_raises_catalog_error_naming_the_path(tmp_path: Path, call):
    with pytest.raises(CatalogError, match="nowhere"):
        call(tmp_path)


def test_a_folder_that_is_no_catalog_is_refused(tmp_path: Path):
    write(tmp_path / "notes.txt", "hello")
    with pytest.raises(CatalogError, match="not a catalog folder"):
        load_source(tmp_path)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("sci-fi", "Sci-Fi"),
        ("film-noir", "Film-Noir"),
        ("animation", "Animation"),
        ("family", "Children"),
        ("Children's", "Children"),
        ("DRAMA", "Drama"),
        ("biography", "Biography"),
        ("talk-show", "Talk-Show"),
        ("(no genres listed)", None),
        ("  ", None),
    ],
)
def test_genre_names_map_onto_movielens(name: str, expected: str | None):
    assert to_movielens_genre(name) == expected


def test_every_movielens_genre_maps_to_itself():
    assert [to_movielens_genre(g) for g in MOVIELENS_GENRES] == list(MOVIELENS_GENRES)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Matrix, The (1999)", ("The Matrix", 1999)),
        ("Homme qui aimait les femmes, L' (1977)", ("L'Homme qui aimait les femmes", 1977)),
        (
            "City of Lost Children, The (Cité des enfants perdus, La) (1995)",
            ("The City of Lost Children (Cité des enfants perdus, La)", 1995),
        ),
        ("Death Note: Desu nôto (2006–2007)", ("Death Note: Desu nôto", 2006)),
        ("Babylon 5", ("Babylon 5", None)),
    ],
)
def test_titles_are_split_into_display_title_and_year(raw: str, expected: tuple[str, int | None]):
    assert split_title_year(raw) == expected


@pytest.mark.parametrize(
    ("text", "minutes"),
    [("3h 48min", 228), ("2h", 120), ("95min", 95), ("95 min", 95), ("95", 95), ("", None),
     ("Unrated", None), ("1988", None), (None, None)],
)  # fmt: skip
def test_runtimes_are_parsed_to_minutes(text: str | None, minutes: int | None):
    assert parse_runtime(text) == minutes


# ---------------------------------------------------------------------------------- demo catalog


def test_demo_catalog_loads_and_has_facts_but_no_descriptions():
    catalog = load_catalog(DEMO)

    assert catalog.problems == []
    assert len(catalog) > 9000
    toy = catalog.find_title("Toy Story (1995)")
    assert toy is not None and toy.id == "1"
    assert "Tom Hanks" in toy.people["stars"]
    assert toy.people["directors"] == ["John Lasseter"]
    assert toy.runtime == 81 and toy.age_rating == "G"
    assert "pixar" in toy.tags and toy.n_ratings > 100
    assert all(item.description is None and item.image is None for item in catalog)
    assert set(catalog.genres) >= set(MOVIELENS_GENRES)
    # unknown facts stay unknown rather than guessed
    assert any(item.runtime is None for item in catalog)
    assert any(not item.people for item in catalog)


def test_demo_files_carry_no_prose_fields_and_ship_their_licenses():
    keys = set()
    with (DEMO / "items.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            keys |= set(json.loads(line))
    assert not keys & {"description", "plot", "image", "poster", "poster_url"}
    with (DEMO / "ratings.csv").open(encoding="utf-8") as handle:
        assert next(csv.reader(handle)) == ["user_id", "item_id", "rating", "timestamp"]
    assert len(load_ratings(DEMO / "ratings.csv")) > 100_000
    license_text = (DEMO / "LICENSE-movielens.txt").read_text(encoding="utf-8")
    assert "F. Maxwell Harper and Joseph A. Konstan" in license_text
    assert "may redistribute the data set" in license_text
    assert "MIT License" in (DEMO / "LICENSE-redial.txt").read_text(encoding="utf-8")


# ---------------------------------------------------------------------------------- build script


def load_build_script():
    script = ROOT / "data" / "build_demo_catalog.py"
    spec = importlib.util.spec_from_file_location("build_demo_catalog", script)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def shared(tmp_path: Path, latest_small: Path) -> Path:
    """A tiny stand-in for ../shared/data with the three sources the build joins."""
    root = latest_small.parent
    write(
        latest_small / "README.txt",
        "Summary\n=======\n\nx\n\nUsage License\n=============\n\nBe nice.\n\n"
        "Citation\n========\n\nHarper and Konstan 2015.\n\nFurther Information\n===================\n\nno\n",
    )
    kb = {
        "1": {"name": "Toy Story (1995)", "genre": ["animation", "family"], "plot": PLOT,
              "director": ["John Lasseter"], "writer": ["Pete Docter"], "star": ["Tom Hanks"],
              "imdb_id": "tt0114709"},
        "2": {"name": "Something (1990)", "genre": ["drama"], "plot": "", "director": ["Dan O'Bannon"],
              "writer": [], "star": [], "imdb_id": "tt9999999"},
    }  # fmt: skip
    write(root / "redial" / "id2info.json", json.dumps(kb))
    write(root / "redial" / "LICENSE", "MIT License\n\nCopyright (c) 2023 Someone\n")
    details = [
        ["movie_title", "movie_url", "description", "poster_url", "director", "writer", "cast",
         "age_rating", "movie_length"],
        ["Toy Story (1995)", "http://www.imdb.com/title/tt0114709/", "A description.", "['http://p']",
         "['John Lasseter']", "[]", "['Tom Hanks']", "G", "1h 21min"],
        ["Matrix, The (1999)", "http://www.imdb.com/title/tt0133093/", "Another description.", "[]",
         "['Dan OBannon']", "[]", "['Keanu Reeves', 'Peter OToole']", "R", "2h 16min"],
        ["Some Documentary", "http://www.imdb.com/title/tt5555555/", "Wrong page.", "[]",
         "[]", "[]", "['Someone']", "TV-PG", "23min"],
    ]  # fmt: skip
    path = root / "ml-100k-imdb-details" / "movielens100k_details.csv"
    path.parent.mkdir(parents=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(details)
    return root


def test_build_script_joins_facts_and_writes_no_prose(shared: Path, tmp_path: Path):
    out = tmp_path / "demo"
    # the IMDb link of "Some Documentary" makes its title match in the details a different film
    links = "movieId,imdbId,tmdbId\n1,0114709,862\n2571,0133093,603\n4,1234567,1\n"
    write(shared / "ml-latest-small" / "links.csv", links)

    assert load_build_script().main(["--shared", str(shared), "--out", str(out)]) == 0

    catalog = load_catalog(out)
    toy, matrix, doc = catalog.get("1"), catalog.get("2571"), catalog.get("4")
    assert toy.people == {"directors": ["John Lasseter"], "writers": ["Pete Docter"], "stars": ["Tom Hanks"]}
    assert toy.genres == ["Adventure", "Animation", "Children", "Comedy", "Fantasy"]
    assert (toy.runtime, toy.age_rating) == (81, "G")
    # people from the details file, apostrophes put back
    assert matrix.people == {"directors": ["Dan O'Bannon"], "stars": ["Keanu Reeves", "Peter O'Toole"]}
    assert (matrix.runtime, matrix.age_rating) == (136, "R")
    assert (doc.runtime, doc.people) == (None, {})  # its IMDb id disagrees: no facts taken
    written = "".join(p.read_text(encoding="utf-8") for p in out.iterdir() if p.suffix != ".npz")
    with np.load(out / "story.npz", allow_pickle=False) as story:  # plots ship as vectors only: numbers
        assert story["vectors"].dtype == np.float16 and story["vectors"].shape[1] == 384
        assert set(story["ids"].tolist()) <= {item.id for item in load_catalog(out)}
        written += " ".join(story["ids"].tolist())
    for prose in (PLOT, "A description.", "Another description.", "http://p"):
        assert prose not in written
    readme = (out / "README.md").read_text(encoding="utf-8")
    assert "joined to the ReDial KB (2 entries) by IMDb id: 1 (33.3%)" in readme
    assert "items with people: 2 (66.7%)" in readme
    assert "Be nice." in (out / "LICENSE-movielens.txt").read_text(encoding="utf-8")
    assert "Further Information" not in (out / "LICENSE-movielens.txt").read_text(encoding="utf-8")
    assert [r for r in csv.reader((out / "ratings.csv").open())][1:] == [
        ["1", "1", "4.0", "10"], ["2", "1", "5.0", "11"], ["1", "2571", "3.0", "12"]
    ]  # fmt: skip
