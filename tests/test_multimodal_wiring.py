"""Images wired into Marquee: the image collection, pictures sent in the chat, visual requests,
fusion, justifications, the HTTP API, and precomputed vector files.

A tiny catalog whose posters the tests draw: red squares for the "Crimson Night" horror films,
blue circles for the "Sunny Day" comedies, two items without a poster, and a few bad files. The
poster encoder is trained with a tiny config (a second or two); texts use the bundled MiniLM.
"""

from __future__ import annotations

import base64
import dataclasses
import io
import json
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image, ImageDraw

from marquee.errors import BadInput
from marquee.ingest import ingest_catalog, write_items
from marquee.service import Marquee
from marquee.startup import load_deps
from marquee.settings import Settings
from retrieval.catalog import Item

TINY_POSTER_ENCODER = dict(width=24, height=32, channels=4, batch_size=8, epochs=30, seed=3)
RED, BLUE = (210, 20, 20), (20, 40, 210)
RED_IDS = {f"r{n}" for n in range(1, 5)}
BLUE_IDS = {f"b{n}" for n in range(1, 5)}


def poster(colour: tuple[int, int, int], n: int, *, shape: str, size=(48, 72)) -> Image.Image:
    """A jittered coloured square or circle on a dark background."""
    rng = np.random.default_rng(n)
    image = Image.new("RGB", size, tuple(int(v) for v in rng.integers(0, 40, 3)))
    x, y = (int(v) for v in rng.integers(0, 6, 2))
    box = (x + size[0] // 8, y + size[1] // 9, x + size[0] * 3 // 4, y + size[1] * 3 // 4)
    (ImageDraw.Draw(image).ellipse if shape == "circle" else ImageDraw.Draw(image).rectangle)(box, fill=colour)
    return image


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def catalog_items(outside: Path | None = None) -> list[Item]:
    items = [Item(id=f"r{n}", title=f"Crimson Night {n}", year=1990 + n, genres=["Horror"], tags=["blood", "dark"])
             for n in range(1, 5)]
    items += [Item(id=f"b{n}", title=f"Sunny Day {n}", year=2000 + n, genres=["Comedy"], tags=["funny"])
              for n in range(1, 5)]
    items += [
        Item(id="n1", title="Plain Text Comedy", year=2005, genres=["Comedy"], tags=["funny", "plain"]),
        Item(id="n2", title="Postless Horror", year=1995, genres=["Horror"]),
        Item(id="x1", title="Broken Poster", year=1999, genres=["Drama"]),
        Item(id="x2", title="Tracking Pixel", year=1998, genres=["Drama"]),
        Item(id="a1", title="Glass Window", year=1997, genres=["Drama"]),
        Item(id="o1", title="Elsewhere", year=1996, genres=["Drama"], image=str(outside) if outside else None),
    ]
    return items


def draw_posters(folder: Path, outside: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(1, 5):
        poster(RED, n, shape="square").save(folder / f"r{n}.png")
        poster(BLUE, 10 + n, shape="circle").save(folder / f"b{n}.jpg")
    (folder / "x1.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    Image.new("RGB", (1, 1), (255, 255, 255)).save(folder / "x2.png")
    glass = Image.new("RGBA", (40, 60), (0, 0, 0, 0))
    ImageDraw.Draw(glass).rectangle((8, 8, 32, 52), fill=(0, 180, 0, 255))
    glass.save(folder / "a1.png")
    poster(RED, 99, shape="square").save(outside)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict:
    """A catalog folder, its posters (with bad files), and settings that read them."""
    root = tmp_path_factory.mktemp("posters-world")
    outside = root / "outside.png"
    draw_posters(root / "posters", outside)
    write_items(catalog_items(outside), root / "catalog" / "items.jsonl")
    settings = Settings(workspace=root / "ws", catalog=root / "catalog", image_folder=root / "posters",
                        poster_encoder_options=TINY_POSTER_ENCODER)
    return {"root": root, "settings": settings}


@pytest.fixture(scope="module")
def deps(world):
    return load_deps(world["settings"], progress=False)


@pytest.fixture
def marquee(world, deps, tmp_path) -> Marquee:
    settings = world["settings"].model_copy(update={"database_url": f"sqlite:///{tmp_path / 'm.db'}"})
    return Marquee(settings, deps)


def ids_of(result) -> list[str]:
    return [card.id for card in result.reply.items]


# --------------------------------------------------------------------------- the collection


def test_the_image_collection_holds_the_usable_posters_under_the_catalog_ids(deps):
    assert deps.image_store.collection_name == "items_image"
    assert sorted(deps.image_store.ids) == sorted(RED_IDS | BLUE_IDS | {"a1"})  # alpha PNG flattened, kept
    assert set(deps.image_store.ids) <= set(deps.store.ids)  # same ids as items_text
    assert len(deps.store.ids) == len(catalog_items())  # every item keeps its text
    assert deps.image_encoder is not None and deps.image_encoder.dim == deps.encoder.dim
    assert sorted(deps.posters) == sorted(deps.image_store.ids)  # cards show only usable posters


def test_a_second_start_reuses_the_collection_and_the_trained_encoder(world, deps):
    again = load_deps(world["settings"], progress=False)
    assert sorted(again.image_store.ids) == sorted(deps.image_store.ids)
    assert again.image_store.manifest["built_at"] == deps.image_store.manifest["built_at"]
    models = list((world["settings"].workspace / "models").iterdir())
    assert len(models) == 1 and (models[0] / "weights.safetensors").is_file()


def test_ingest_counts_every_skipped_image_by_reason(world, tmp_path, monkeypatch):
    monkeypatch.setenv("MARQUEE_POSTER_ENCODER_OPTIONS", json.dumps(TINY_POSTER_ENCODER))
    source = tmp_path / "items.jsonl"
    write_items(catalog_items(world["root"] / "outside.png"), source)
    summary = ingest_catalog(source, workspace=tmp_path / "ws", images=world["root"] / "posters", progress=False)
    [report] = summary.modalities
    assert report.collection == "items_image" and report.stored == 9
    assert report.skipped == {"corrupt": 1, "too_small": 1, "outside_allowed": 1}
    assert report.without == 2  # n1, n2: no poster at all, and that is fine
    text = summary.render()
    assert "items_image: 9 of 14 items" in text and "corrupt 1" in text and "outside_allowed 1" in text
    assert "MARQUEE_IMAGE_FOLDER=" in text


# --------------------------------------------------------------------------- the conversation


def test_an_item_without_a_poster_keeps_text_search(marquee):
    result = marquee.respond(None, "a plain funny comedy")
    cards = {card.id: card for card in result.reply.items}
    assert ids_of(result)[0] == "n1"
    assert cards["n1"].image is None
    assert all(cards[i].image and cards[i].image.endswith(".jpg") for i in cards if i in BLUE_IDS)
    assert not any("poster" in card.why for card in result.reply.items)  # not a visual request


def test_a_picture_sent_returns_the_items_whose_posters_look_like_it(marquee):
    red = marquee.respond(None, "more like this", image=png_bytes(poster(RED, 500, shape="square", size=(60, 90))))
    assert set(ids_of(red)[:4]) == RED_IDS
    blue = marquee.respond(None, "", image=png_bytes(poster(BLUE, 501, shape="circle", size=(80, 80))))
    assert set(ids_of(blue)[:4]) == BLUE_IDS
    assert "picture" in blue.reply.text


def test_the_poster_is_cited_only_where_it_put_the_item_there(marquee):
    result = marquee.respond(None, "more like this", image=png_bytes(poster(RED, 502, shape="square")))
    for card in result.reply.items:
        cited = "looks much like the picture you sent" in card.why
        assert cited == (card.id in RED_IDS), (card.id, card.why)
        assert ("image:picture" in card.reasons) == cited


def test_a_poster_like_a_named_title_ranks_by_the_look_and_says_so(marquee):
    result = marquee.respond(None, "something with a poster like Crimson Night 1")
    assert result.update.visual and result.state.anchor_ids == ["r1"]
    top = ids_of(result)
    assert "r1" not in top and set(top[:3]) <= RED_IDS
    assert any("its poster looks much like crimson night 1's" in card.why.lower() for card in result.reply.items)


def test_a_look_like_a_title_without_a_poster_falls_back_to_its_description(marquee):
    result = marquee.respond(None, "a poster like Plain Text Comedy")
    assert result.update.visual and result.reply.items
    assert any("Plain Text Comedy (2005) has no poster here" in note for note in result.reply.notes)
    assert not any("looks much like Plain Text Comedy" in card.why for card in result.reply.items)


def test_a_request_that_is_not_about_a_look_never_cites_posters(marquee):
    result = marquee.respond(None, "something like Crimson Night 1")
    assert not result.update.visual
    assert not any("poster" in card.why for card in result.reply.items)
    assert not any(r.startswith("image:") for card in result.reply.items for r in card.reasons)


@pytest.mark.parametrize("data, words", [
    (b"\x89PNG\r\n\x1a\n definitely not a png", "not a readable image"),
    (png_bytes(Image.new("RGB", (1, 1))), "smaller than 16 px"),
    (png_bytes(Image.new("RGBA", (40, 40), (0, 0, 0, 0))), "fully transparent"),
])
def test_a_bad_picture_is_refused_with_a_clear_message_and_the_conversation_goes_on(marquee, data, words):
    conversation = marquee.new_conversation()
    with pytest.raises(BadInput, match=words):
        marquee.respond(conversation, "more like this", image=data)
    assert marquee.turns(conversation) == []  # nothing half-stored
    after = marquee.respond(conversation, "a plain funny comedy")
    assert after.reply.items and len(marquee.turns(conversation)) == 1


def test_a_picture_with_alpha_is_flattened_and_used(marquee):
    glass = Image.new("RGBA", (40, 60), (0, 0, 0, 0))
    ImageDraw.Draw(glass).rectangle((8, 8, 32, 52), fill=(0, 180, 0, 255))
    result = marquee.respond(None, "more like this", image=png_bytes(glass))
    assert ids_of(result)[0] == "a1"


# --------------------------------------------------------------------------- without images


@pytest.fixture(scope="module")
def text_only(tmp_path_factory):
    root = tmp_path_factory.mktemp("no-posters")
    write_items(catalog_items(), root / "catalog" / "items.jsonl")
    settings = Settings(workspace=root / "ws", catalog=root / "catalog", database_url=f"sqlite:///{root / 'm.db'}")
    return Marquee(settings, load_deps(settings, progress=False))


def test_a_catalog_without_images_builds_nothing_and_says_so_when_asked_for_a_look(text_only):
    assert text_only.deps.image_store is None and text_only.deps.posters == {}
    assert not (text_only.settings.workspace / "models").exists()  # nothing trained
    looks = text_only.respond(None, "a poster like Crimson Night 1")
    assert looks.reply.items and any("can't compare posters for this catalog" in n for n in looks.reply.notes)
    picture = text_only.respond(None, "a plain funny comedy", image=png_bytes(poster(RED, 7, shape="square")))
    assert ids_of(picture)[0] == "n1"
    assert any("can't compare pictures" in n for n in picture.reply.notes)
    with pytest.raises(BadInput, match="not a readable image"):  # a bad picture is still refused
        text_only.respond(None, "more like this", image=b"junk")


# --------------------------------------------------------------------------- precomputed vectors


def test_a_vector_file_with_a_wrong_width_is_refused_and_no_collection_is_written(world, tmp_path):
    from retrieval.store import ItemStore, make_chroma_client

    path = tmp_path / "audio.npz"
    np.savez(path, ids=np.array(["r1", "b1"]), vectors=np.ones((2, 5)))
    settings = Settings(workspace=tmp_path / "ws", catalog=world["settings"].catalog, vector_files=[path],
                        vector_dims={"audio": 4})
    with pytest.raises(BadInput, match="MARQUEE_VECTOR_FILES: audio.npz: vectors have 5 dimensions, expected 4"):
        load_deps(settings, progress=False)
    assert ItemStore(make_chroma_client(settings), "audio").manifest is None
    source = tmp_path / "items.jsonl"
    write_items(catalog_items(), source)
    with pytest.raises(BadInput, match="no collection was written"):
        ingest_catalog(source, workspace=tmp_path / "ingested", vectors=[path], vector_dims={"audio": 4},
                       progress=False)
    assert not (tmp_path / "ingested" / "catalog" / "items.jsonl").exists()


def test_precomputed_vectors_get_their_own_collection_and_can_join_similarity(world, tmp_path):
    path = tmp_path / "audio.npz"
    ids = ["r1", "r2", "r3", "r4"]  # in sound, Crimson Night 3 is the one close to 1
    np.savez(path, ids=np.array(ids), vectors=np.array([[1, 0, 0], [0, 1, 0], [0.95, 0.05, 0], [0, 0.9, 0.1]]))
    settings = Settings(workspace=tmp_path / "ws", catalog=world["settings"].catalog, vector_files=[path],
                        database_url=f"sqlite:///{tmp_path / 'm.db'}")
    deps = load_deps(settings, progress=False)
    store = deps.modality_stores["audio"]
    assert store.collection_name == "items_audio" and sorted(store.ids) == sorted(ids)
    plain = Marquee(settings, deps).respond(None, "something like Crimson Night 1")
    weighted = settings.model_copy(update={"modality_weights": {"audio": 0.6}})
    heard = Marquee(weighted, dataclasses.replace(deps, settings=weighted)).respond(None, "something like Crimson Night 1")
    assert ids_of(plain)[0] != "r3" and ids_of(heard)[0] == "r3"


# --------------------------------------------------------------------------- HTTP API


def test_the_http_api_takes_a_base64_picture_and_serves_folder_posters(marquee):
    from marquee.web import create_app
    from marquee.serving import serve_in_thread

    settings = marquee.settings.model_copy(update={"site_keys": {"k": ["http://localhost:*"]},
                                                   "max_body_bytes": 2_000_000})
    headers = {"X-Marquee-Key": "k"}
    picture = base64.b64encode(png_bytes(poster(RED, 600, shape="square"))).decode()
    with serve_in_thread(create_app(marquee, settings, ui=False)) as url, httpx.Client(base_url=url, timeout=120) as client:
        conversation = client.post("/api/v1/conversations", json={}, headers=headers).json()["conversation_id"]
        sent = client.post(f"/api/v1/conversations/{conversation}/messages", headers=headers,
                           json={"text": "more like this", "image": f"data:image/png;base64,{picture}"})
        assert sent.status_code == 200, sent.text
        items = sent.json()["reply"]["items"]
        assert {item["id"] for item in items[:4]} == RED_IDS
        poster_url = items[0]["image"]
        assert poster_url.endswith(f"/api/v1/items/{items[0]['id']}/image")
        served = client.get(poster_url)
        assert served.status_code == 200 and served.headers["content-type"] == "image/png"
        assert client.get("/api/v1/items/n1/image").status_code == 404
        bad = client.post(f"/api/v1/conversations/{conversation}/messages", headers=headers,
                          json={"text": "more like this", "image": "%%% not base64"})
        assert bad.status_code == 400 and "base64" in bad.json()["error"]["message"]
        corrupt = client.post(f"/api/v1/conversations/{conversation}/messages/stream", headers=headers,
                              json={"text": "more like this", "image": base64.b64encode(b"junk").decode()})
        assert corrupt.status_code == 400 and "not a readable image" in corrupt.json()["error"]["message"]
        plain = client.post(f"/api/v1/conversations/{conversation}/messages", headers=headers,
                            json={"text": "a plain funny comedy"})  # the route without a picture is unchanged
        assert plain.status_code == 200 and plain.json()["reply"]["items"]


# --------------------------------------------------------------------------- CLIP instead


def test_clip_from_a_local_folder_builds_its_own_image_collection(world, tmp_path):
    from retrieval.clip_encoder import write_tiny_clip

    clip = write_tiny_clip(tmp_path / "tiny-clip")
    settings = world["settings"].model_copy(update={
        "image_encoder": "clip", "clip_model": clip, "workspace": tmp_path / "ws",
        "database_url": f"sqlite:///{tmp_path / 'm.db'}"})
    marquee = Marquee(settings, load_deps(settings, progress=False))
    assert marquee.deps.image_store.manifest["encoder"].startswith("clip:")
    assert marquee.deps.image_store.dim == 16
    same = (world["root"] / "posters" / "b3.jpg").read_bytes()  # random weights: only "the same picture" is safe
    assert ids_of(marquee.respond(None, "more like this", image=same))[0] == "b3"
