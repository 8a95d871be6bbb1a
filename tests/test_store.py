"""The item store: a real Chroma in a temporary folder (and a real Chroma server), the real
MiniLM where meaning matters, the hashing encoder elsewhere."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from marquee.errors import BadInput, ConfigError, NotFound
from marquee.settings import Settings
from retrieval.catalog import Catalog, Item
from retrieval.encoder import HashingEncoder, item_text, load_text_encoder
from retrieval.store import ItemStore, chroma_where, make_chroma_client, open_item_store


def make_items() -> list[Item]:
    return [
        Item(id="1", title="Star Wars", year=1977, genres=["Action", "Adventure", "Sci-Fi"],
             tags=["space", "epic"], people={"directors": ["George Lucas"], "stars": ["Mark Hamill"]},
             runtime=121, n_ratings=250),
        Item(id="2", title="Notting Hill", year=1999, genres=["Comedy", "Romance"],
             tags=["romantic", "london"], people={"stars": ["Hugh Grant", "Julia Roberts"]},
             runtime=124, n_ratings=90),
        Item(id="3", title="The Shining", year=1980, genres=["Horror"], tags=["stephen king", "hotel"],
             people={"directors": ["Stanley Kubrick"]}, runtime=146, n_ratings=120),
        Item(id="4", title="Toy Story", year=1995, genres=["Animation", "Children", "Comedy"],
             tags=["pixar", "toys"], n_ratings=215),
        Item(id="5", title="Alien", year=1979, genres=["Horror", "Sci-Fi"], tags=["space", "creature"],
             people={"directors": ["Ridley Scott"]}, runtime=117, n_ratings=140),
        Item(id="6", title="Heat", year=1995, genres=["Action", "Crime", "Thriller"], tags=["heist"],
             people={"directors": ["Michael Mann"]}, n_ratings=110),
        Item(id="7", title="Amelie", year=2001, genres=["Comedy", "Romance"], tags=["paris", "quirky"],
             n_ratings=120),
        Item(id="8", title="Metropolis", genres=["Drama", "Sci-Fi"], tags=["silent"], n_ratings=20),
    ]


@pytest.fixture
def catalog() -> Catalog:
    return Catalog(make_items())


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(workspace=tmp_path / "ws", chroma_host=None)


@pytest.fixture
def encoder() -> HashingEncoder:
    return HashingEncoder(dim=64)


# --------------------------------------------------------------------------- encoders


def test_hashing_encoder_gives_stable_unit_rows(encoder):
    vectors = encoder.encode(["space epic", "space epic", "romantic comedy in london", ""])
    assert vectors.shape == (4, 64) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.array_equal(vectors[0], vectors[1])
    assert vectors[0] @ HashingEncoder(64).encode(["an epic in space"])[0] > vectors[0] @ vectors[2]


def test_item_text_holds_the_facts_and_the_description_when_there_is_one():
    item = Item(id="x", title="Heat", year=1995, genres=["Crime"], tags=["heist"],
                people={"directors": ["Michael Mann"], "stars": ["Al Pacino"]})
    text = item_text(item)
    for fact in ("Heat (1995)", "Crime", "heist", "Michael Mann", "Al Pacino"):
        assert fact in text
    described = item.model_copy(update={"description": "A detective hunts a crew of bank robbers."})
    assert "bank robbers" in item_text(described) and "bank robbers" not in text


def test_a_missing_text_model_is_a_config_error_naming_the_setting(tmp_path):
    with pytest.raises(ConfigError, match="MARQUEE_TEXT_MODEL"):
        load_text_encoder(Settings(workspace=tmp_path, text_model=str(tmp_path / "nope")))


@pytest.mark.slow
def test_minilm_is_loaded_once_and_embeds_by_meaning(settings):
    encoder = load_text_encoder(settings)
    assert load_text_encoder(settings) is encoder
    assert encoder.dim == 384
    space, romance, query = encoder.encode(["astronauts on a spaceship", "a love story", "space adventure"])
    assert np.isclose(np.linalg.norm(query), 1.0, atol=1e-5)
    assert query @ space > query @ romance


# --------------------------------------------------------------------------- build, reuse, rebuild


def test_built_store_answers_queries_and_returns_vectors(settings, catalog, encoder):
    store = open_item_store(settings, catalog, encoder, progress=False)
    assert store.rebuilt and store.count() == len(catalog)
    query = encoder.encode([item_text(catalog.get("6"))])[0]
    hits = store.query(query, k=3)
    assert hits[0][0] == "6" and hits[0][1] == pytest.approx(1.0, abs=1e-4)
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
    assert store.nearest(query, k=3)[0][0] == "6"
    vectors = store.vectors(["6", "1"])
    assert np.allclose(vectors[0], query, atol=1e-5)
    with pytest.raises(NotFound):
        store.vectors(["no-such-item"])
    with pytest.raises(BadInput):
        store.query(query, k=0)
    with pytest.raises(BadInput):
        store.query(np.ones(3, dtype=np.float32), k=2)


def test_second_open_reuses_the_index(settings, catalog, encoder):
    first = open_item_store(settings, catalog, encoder, progress=False)
    built_at = first.manifest["built_at"]
    second = open_item_store(settings, catalog, encoder, progress=False)
    assert not second.rebuilt
    assert second.manifest["built_at"] == built_at
    assert second.manifest["encoder"] == encoder.name and second.manifest["dim"] == 64
    assert np.allclose(second.vectors(catalog.ids), first.vectors(catalog.ids))


def test_a_start_reads_the_vectors_from_files_not_back_from_chroma(settings, catalog, encoder, monkeypatch):
    first = open_item_store(settings, catalog, encoder, progress=False)
    kept = sorted(p.suffix for p in (settings.workspace / "index").iterdir())
    assert kept == [".ids", ".npy"]

    def no_reads(*_args, **_kwargs):
        raise AssertionError("read every vector back from Chroma")

    from chromadb.api.models.Collection import Collection

    monkeypatch.setattr(Collection, "get", no_reads)
    second = open_item_store(settings, catalog, encoder, progress=False)
    assert second.ids == first.ids and np.allclose(second.vectors(catalog.ids), first.vectors(catalog.ids))
    assert second.nearest(first.vectors(["2"])[0], 2, chroma_where(genres_include=["Romance"]))[0][0] == "2"
    monkeypatch.undo()

    changed = Catalog([*make_items()[:-1], Item(id="9", title="Brazil", year=1985, genres=["Sci-Fi"])])
    third = open_item_store(settings, changed, encoder, progress=False)  # a rebuild: new files, old ones gone
    assert third.rebuilt and "9" in third and "8" not in third
    assert len(list((settings.workspace / "index").glob("*.npy"))) == 1
    assert second.nearest(first.vectors(["3"])[0], k=1)[0][0] == "3"


def test_a_changed_catalog_or_encoder_triggers_a_rebuild(settings, catalog, encoder):
    open_item_store(settings, catalog, encoder, progress=False)
    changed = Catalog([*make_items(), Item(id="9", title="Gravity", year=2013, genres=["Sci-Fi"])])
    store = open_item_store(settings, changed, encoder, progress=False)
    assert store.rebuilt and store.count() == 9 and "9" in store
    assert store.is_current(changed, encoder) and not store.is_current(catalog, encoder)
    wider = open_item_store(settings, changed, HashingEncoder(dim=32), progress=False)
    assert wider.rebuilt and wider.vectors(["9"]).shape == (1, 32)
    names = [c if isinstance(c, str) else c.name for c in wider.client.list_collections()]
    assert names == ["items_text"]


def test_an_interrupted_rebuild_leaves_the_old_index_current(settings, catalog, encoder):
    open_item_store(settings, catalog, encoder, progress=False)
    changed = Catalog([*make_items(), Item(id="9", title="Gravity", year=2013, genres=["Sci-Fi"])])
    store = ItemStore(make_chroma_client(settings))
    calls = 0

    def failing_embed(items):
        nonlocal calls
        calls += 1
        raise RuntimeError("power cut")

    with pytest.raises(RuntimeError):
        store.build_from(changed, failing_embed, encoder_name=encoder.name, dim=encoder.dim, progress=False)
    assert calls == 1
    assert store.is_current(catalog, encoder) and not store.is_current(changed, encoder)
    reopened = open_item_store(settings, changed, encoder, progress=False)
    assert reopened.rebuilt and reopened.count() == 9


def test_items_without_a_vector_in_a_modality_are_left_out(settings, catalog, encoder):
    store = ItemStore(make_chroma_client(settings), modality="image")

    def posters_only_for_odd_ids(items):
        rows = encoder.encode([item.title for item in items])
        rows[[int(item.id) % 2 == 0 for item in items]] = 0.0
        return rows

    store.build_from(catalog, posters_only_for_odd_ids, encoder_name="fake-image", dim=64, progress=False)
    assert store.collection_name == "items_image"
    assert sorted(store.ids) == ["1", "3", "5", "7"] and store.count() == 4
    assert "2" not in store and np.isnan(store.similarities(store.vectors(["1"])[0], ["2"])[0])


# --------------------------------------------------------------------------- filters


def test_chroma_where_builds_filters_and_rejects_reversed_bounds():
    assert chroma_where() is None
    assert chroma_where(genres_include=["Comedy"]) == {"g_Comedy": True}
    where = chroma_where(year_min=1990, genres_exclude=["Horror"])
    assert where == {"$and": [{"year": {"$gte": 1990}}, {"g_Horror": {"$ne": True}}]}
    with pytest.raises(BadInput, match="year"):
        chroma_where(year_min=2000, year_max=1990)


FILTERS = [
    dict(year_min=1990),
    dict(year_min=1978, year_max=1996),
    dict(genres_include=["Comedy", "Romance"]),
    dict(genres_include=["Sci-Fi"], genres_exclude=["Horror"]),
    dict(genres_exclude=["Comedy", "Horror"], year_max=1999),
    dict(runtime_max=125),
    dict(runtime_max=125, keep_unknown=True),
    dict(year_min=1900, keep_unknown=True, genres_include=["Sci-Fi"]),
    dict(genres_include=["Western"]),
    dict(genres_exclude=["Western"], year_max=1990),
    dict(min_ratings=100, genres_exclude=["Sci-Fi"]),
]


def passes(item: Item, f: dict) -> bool:
    """The meaning of each filter, stated on the catalog's own facts."""
    def within(value, low, high):
        if value is None:
            return bool(f.get("keep_unknown"))
        return (low is None or value >= low) and (high is None or value <= high)

    return (
        within(item.year, f.get("year_min"), f.get("year_max"))
        if ("year_min" in f or "year_max" in f) else True
    ) and (
        within(item.runtime, f.get("runtime_min"), f.get("runtime_max"))
        if ("runtime_min" in f or "runtime_max" in f) else True
    ) and all(g in item.genres for g in f.get("genres_include", [])) and not any(
        g in item.genres for g in f.get("genres_exclude", [])
    ) and item.n_ratings >= f.get("min_ratings", 0)


@pytest.mark.parametrize("filters", FILTERS, ids=lambda f: ",".join(f"{k}={v}" for k, v in f.items()))
def test_where_filters_are_respected_by_chroma_and_in_memory(settings, catalog, encoder, filters):
    store = open_item_store(settings, catalog, encoder, progress=False)
    where = chroma_where(**filters)
    expected = {item.id for item in catalog if passes(item, filters)}
    query = encoder.encode(["space"])[0]
    assert {i for i, _ in store.query(query, k=len(catalog), where=where)} == expected
    assert {i for i, _ in store.nearest(query, k=len(catalog), where=where)} == expected
    assert store.matching_ids(where) == expected
    chroma_ids = set(store.collection.get(where=where, include=[])["ids"])
    assert chroma_ids == expected


def test_a_store_loaded_without_the_catalog_filters_the_same(settings, catalog, encoder):
    open_item_store(settings, catalog, encoder, progress=False)
    store = ItemStore(make_chroma_client(settings))
    store.load()
    assert sorted(store.ids) == sorted(catalog.ids)
    for filters in FILTERS:
        expected = {item.id for item in catalog if passes(item, filters)}
        assert store.matching_ids(chroma_where(**filters)) == expected


def test_a_filter_the_memory_evaluator_does_not_know_is_asked_of_chroma(settings, catalog, encoder):
    store = open_item_store(settings, catalog, encoder, progress=False)
    assert store.matching_ids({"year": {"$in": [1995, 1977]}}) == {"1", "4", "6"}
    assert store.matching_ids({"$or": [{"g_Horror": True}, {"year": {"$gt": 2000}}]}) == {"3", "5", "7"}


# --------------------------------------------------------------------------- meaning, server


@pytest.mark.slow
def test_space_adventure_finds_science_fiction_before_romance(settings, catalog):
    encoder = load_text_encoder(settings)
    store = open_item_store(settings, catalog, encoder, progress=False)
    ranked = [i for i, _ in store.query(encoder.encode(["space adventure"])[0], k=len(catalog))]
    assert ranked.index("1") < ranked.index("2") and ranked.index("1") < ranked.index("7")
    assert ranked[0] in {"1", "5"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def chroma_server(tmp_path: Path):
    """A real ``chroma run`` server on a free local port; stopped at the end."""
    executable = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
    port = free_port()
    log = (tmp_path / "chroma-server.log").open("wb")
    process = subprocess.Popen(
        [executable, "run", "--path", str(tmp_path / "server-data"), "--host", "127.0.0.1",
         "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((tmp_path / "chroma-server.log").read_text()[-2000:])
                time.sleep(0.2)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.mark.slow
def test_the_same_store_works_through_a_chroma_server(tmp_path, catalog, encoder, chroma_server):
    settings = Settings(workspace=tmp_path / "ws", chroma_host="127.0.0.1", chroma_port=chroma_server)
    store = open_item_store(settings, catalog, encoder, progress=False)
    assert store.rebuilt and store.count() == len(catalog)
    assert not (tmp_path / "ws" / "chroma").exists()  # nothing embedded: it all lives in the server
    again = open_item_store(settings, catalog, encoder, progress=False)
    assert not again.rebuilt
    where = chroma_where(genres_include=["Sci-Fi"], genres_exclude=["Horror"])
    hits = again.query(encoder.encode(["space epic"])[0], k=5, where=where)
    assert {i for i, _ in hits} == {"1", "8"}
    assert again.matching_ids(where) == {"1", "8"}


def test_an_unreachable_chroma_server_is_a_config_error(tmp_path):
    settings = Settings(workspace=tmp_path, chroma_host="127.0.0.1", chroma_port=free_port())
    with pytest.raises(ConfigError, match="MARQUEE_CHROMA_HOST"):
        make_chroma_client(settings)
