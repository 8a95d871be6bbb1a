"""Modalities: safe image loading, image and precomputed collections, CLIP from a local folder.

Images are drawn by the tests (coloured shapes); CLIP is a tiny untrained model written from a
config, so everything runs offline.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from marquee.errors import BadInput, ConfigError
from marquee.settings import Settings
from retrieval.catalog import Catalog, Item
from retrieval.images import (
    ImageLimits,
    ImageRejected,
    load_image,
    load_image_bytes,
    load_images,
    scan_image_folder,
)
from retrieval.modalities import (
    ImageModality,
    PrecomputedModality,
    collect_image_paths,
    load_precomputed,
)


def draw_poster(path: Path, colour: tuple[int, int, int], *, size=(60, 90), shape="circle") -> Path:
    image = Image.new("RGB", size, (20, 20, 20))
    draw = ImageDraw.Draw(image)
    box = (size[0] // 5, size[1] // 5, size[0] * 4 // 5, size[1] * 4 // 5)
    (draw.ellipse if shape == "circle" else draw.rectangle)(box, fill=colour)
    image.save(path)
    return path


@pytest.fixture
def posters(tmp_path: Path) -> Path:
    folder = tmp_path / "posters"
    folder.mkdir()
    draw_poster(folder / "1.jpg", (220, 30, 30))
    draw_poster(folder / "2.png", (30, 30, 220), shape="square")
    (folder / "3.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    Image.new("RGB", (1, 1), (255, 255, 255)).save(folder / "4.png")
    rgba = Image.new("RGBA", (40, 60), (0, 0, 0, 0))
    ImageDraw.Draw(rgba).rectangle((10, 10, 30, 50), fill=(0, 200, 0, 255))
    rgba.save(folder / "5.png")
    Image.new("RGBA", (40, 60), (0, 0, 0, 0)).save(folder / "6.png")
    (folder / "notes.txt").write_text("not an image")
    return folder


def make_items(n: int = 7) -> list[Item]:
    return [Item(id=str(i), title=f"Film {i}", year=1990 + i, genres=["Drama"]) for i in range(1, n + 1)]


class MeanColourEncoder:
    """A deterministic image encoder: the normalized mean colour (3 dims)."""

    name = "mean-colour"
    dim = 3

    def encode_images(self, images):
        rows = np.stack([np.asarray(im, dtype=np.float32).reshape(-1, 3).mean(axis=0) for im in images])
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)

    def encode_queries(self, texts):
        palette = {"red": [1, 0, 0], "green": [0, 1, 0], "blue": [0, 0, 1]}
        return np.array([palette.get(t, [1, 1, 1]) for t in texts], dtype=np.float32)


# ------------------------------------------------------------------------- single images


def test_a_good_poster_loads_as_rgb(posters):
    image = load_image(posters / "1.jpg", allowed_roots=[posters])
    assert image.mode == "RGB" and image.size == (60, 90)


@pytest.mark.parametrize(
    "name, reason, words",
    [("3.jpg", "corrupt", "not a readable image"), ("4.png", "too_small", "1x1"),
     ("6.png", "empty", "transparent"), ("missing.jpg", "missing", "not found")],
)
def test_bad_images_are_rejected_with_a_reason_and_a_clear_message(posters, name, reason, words):
    with pytest.raises(ImageRejected) as caught:
        load_image(posters / name, allowed_roots=[posters])
    assert caught.value.reason == reason
    assert words in str(caught.value)
    assert isinstance(caught.value, BadInput)


def test_png_alpha_is_flattened_onto_white(posters):
    image = load_image(posters / "5.png", allowed_roots=[posters])
    assert image.mode == "RGB"
    assert image.getpixel((0, 0)) == (255, 255, 255)  # transparent corner
    assert image.getpixel((20, 30)) == (0, 200, 0)  # the opaque shape


def test_paths_outside_the_allowed_folders_are_refused(tmp_path, posters):
    outside = draw_poster(tmp_path / "secret.jpg", (1, 2, 3))
    escaping = posters / ".." / "secret.jpg"
    link = posters / "7.jpg"
    link.symlink_to(outside)
    for path in (outside, escaping, link):
        with pytest.raises(ImageRejected) as caught:
            load_image(path, allowed_roots=[posters])
        assert caught.value.reason == "outside_allowed"
        assert "outside the allowed image folders" in str(caught.value)
    with pytest.raises(ImageRejected, match="none configured"):
        load_image(posters / "1.jpg", allowed_roots=[])


def test_huge_files_and_images_are_refused_before_decoding(posters):
    with pytest.raises(ImageRejected) as by_bytes:
        load_image(posters / "1.jpg", allowed_roots=[posters], limits=ImageLimits(max_bytes=100))
    with pytest.raises(ImageRejected) as by_pixels:
        load_image(posters / "1.jpg", allowed_roots=[posters], limits=ImageLimits(max_pixels=1000))
    assert by_bytes.value.reason == by_pixels.value.reason == "too_large"


def test_a_truncated_jpeg_is_corrupt(posters, tmp_path):
    whole = (posters / "1.jpg").read_bytes()
    truncated = posters / "8.jpg"
    truncated.write_bytes(whole[: len(whole) // 3])
    with pytest.raises(ImageRejected) as caught:
        load_image(truncated, allowed_roots=[posters])
    assert caught.value.reason == "corrupt"


def test_uploads_are_checked_like_files(posters):
    image = load_image_bytes((posters / "2.png").read_bytes())
    assert image.mode == "RGB"
    for data, reason in ((b"", "corrupt"), (b"GIF89a garbage", "corrupt"),
                         ((posters / "4.png").read_bytes(), "too_small")):
        with pytest.raises(ImageRejected) as caught:
            load_image_bytes(data)
        assert caught.value.reason == reason


# ------------------------------------------------------------------------- batches and collections


def test_a_folder_scan_keeps_image_files_of_known_items(posters):
    found = scan_image_folder(posters, ["1", "2", "3", "99"])
    assert sorted(found) == ["1", "2", "3"]
    assert "notes" not in scan_image_folder(posters)


def test_batch_loading_counts_each_skip_by_reason(posters):
    images, summary = load_images(scan_image_folder(posters), allowed_roots=[posters])
    assert sorted(images) == ["1", "2", "5"]
    assert summary.loaded == 3 and summary.alpha_flattened == 1
    assert summary.skipped == {"corrupt": 1, "too_small": 1, "empty": 1}


def test_image_paths_come_from_the_folder_then_the_catalog_and_urls_are_not_fetched(posters, tmp_path):
    draw_poster(tmp_path / "own.jpg", (9, 9, 9))
    items = make_items(2) + [
        Item(id="10", title="Own Poster", image="own.jpg"),
        Item(id="11", title="Remote Poster", image="https://example.org/p.jpg"),
    ]
    paths, skipped = collect_image_paths(items, folder=posters, base=tmp_path)
    assert paths["1"] == posters / "1.jpg" and paths["10"] == tmp_path / "own.jpg"
    assert "11" not in paths and skipped == {"remote": 1}


def test_image_modality_gives_zero_rows_for_items_without_a_usable_image(posters):
    items = make_items(7)
    modality = ImageModality(MeanColourEncoder(), scan_image_folder(posters), allowed_roots=[posters])
    rows = modality.embed_items(items)
    assert rows.shape == (7, 3) and rows.dtype == np.float32
    has_vector = [bool(np.linalg.norm(r) > 0) for r in rows]
    assert has_vector == [True, True, False, False, True, False, False]
    assert np.allclose(np.linalg.norm(rows[[0, 1, 4]], axis=1), 1.0)
    assert rows[0].argmax() == 0 and rows[1].argmax() == 2  # red poster, blue poster
    assert modality.summary.skipped == {"corrupt": 1, "too_small": 1, "empty": 1}
    assert modality.without_image == 1  # item 7 has no file


def test_the_image_collection_holds_only_items_with_images_and_text_reaches_them(posters, tmp_path):
    from retrieval.store import ItemStore, make_chroma_client

    catalog = Catalog(make_items(7))
    modality = ImageModality(MeanColourEncoder(), scan_image_folder(posters), allowed_roots=[posters])
    store = ItemStore(make_chroma_client(Settings(workspace=tmp_path / "ws")), modality.modality)
    store.build_from(catalog, modality.embed_items, encoder_name=modality.name, dim=modality.dim,
                     progress=False)
    assert store.collection_name == "items_image"
    assert sorted(store.ids) == ["1", "2", "5"]
    query = modality.encoder.encode_queries(["blue"])[0]
    assert store.query(query, 1)[0][0] == "2"


# ------------------------------------------------------------------------- precomputed vectors


def test_precomputed_npz_vectors_are_normalized_and_served_by_item_id(tmp_path):
    path = tmp_path / "audio.npz"
    np.savez(path, ids=np.array(["1", "3"]), vectors=np.array([[3.0, 4.0], [0.0, 2.0]]))
    vectors = load_precomputed(path, known_ids=["1", "2", "3"], dim=2)
    modality = PrecomputedModality(vectors, modality="audio")
    rows = modality.embed_items(make_items(3))
    assert np.allclose(rows, [[0.6, 0.8], [0, 0], [0, 1]])
    assert modality.without_vector == 1 and modality.name.startswith("precomputed:audio.npz:")


def test_precomputed_npy_needs_its_ids_file(tmp_path):
    path = tmp_path / "video.npy"
    np.save(path, np.ones((2, 4), dtype=np.float32))
    with pytest.raises(BadInput, match="video.ids.txt"):
        load_precomputed(path, known_ids=["1", "2"])
    (tmp_path / "video.ids.txt").write_text("1\n2\n")
    assert load_precomputed(path, known_ids=["1", "2"], dim=4).ids == ["1", "2"]


@pytest.mark.parametrize(
    "ids, vectors, message",
    [
        (["1", "2"], np.ones((2, 5)), "vectors have 5 dimensions, expected 4"),
        (["1", "404", "405"], np.ones((3, 4)), "2 ids are not in the catalog: '404', '405'"),
        (["1", "1"], np.ones((2, 4)), "duplicate ids: '1'"),
        (["1", "2"], np.array([[1.0, np.nan, 0, 0], [1, 0, 0, 0]]), "non-finite values for 1 items: '1'"),
        (["1", "2", "3"], np.ones((2, 4)), "2 vectors but 3 ids"),
    ],
)
def test_bad_vector_files_are_refused_whole_with_a_clear_message(tmp_path, ids, vectors, message):
    path = tmp_path / "bad.npz"
    np.savez(path, ids=np.array(ids), vectors=vectors)
    with pytest.raises(BadInput, match=message.replace("(", r"\(")):
        load_precomputed(path, known_ids=["1", "2", "3"], dim=4)


def test_pickled_vector_files_are_not_loaded(tmp_path):
    path = tmp_path / "dict.npy"
    np.save(path, np.array({"1": [1.0, 2.0]}, dtype=object), allow_pickle=True)
    with pytest.raises(BadInput, match="not loaded for safety"):
        load_precomputed(path, known_ids=["1"])


def test_a_refused_vector_file_leaves_no_collection_behind(tmp_path):
    from retrieval.store import ItemStore, make_chroma_client

    path = tmp_path / "bad.npz"
    np.savez(path, ids=np.array(["1", "999"]), vectors=np.ones((2, 4)))
    client = make_chroma_client(Settings(workspace=tmp_path / "ws"))
    with pytest.raises(BadInput):
        PrecomputedModality(load_precomputed(path, known_ids=["1", "2"], dim=4), modality="audio")
    assert ItemStore(client, "audio").manifest is None


# ------------------------------------------------------------------------- CLIP


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory) -> Path:
    from retrieval.clip_encoder import write_tiny_clip

    return write_tiny_clip(tmp_path_factory.mktemp("clip") / "tiny-clip")


def test_a_local_clip_embeds_images_and_words_into_one_space(tiny_clip, posters):
    from retrieval.clip_encoder import load_clip_encoder

    clip = load_clip_encoder(tiny_clip)
    assert clip.dim == 16 and clip.name.startswith("clip:")
    images = [load_image(posters / n, allowed_roots=[posters]) for n in ("1.jpg", "2.png", "5.png")]
    image_rows = clip.encode_images(images)
    query_rows = clip.encode_queries(["a dark, gritty poster", "sunny"])
    for rows, n in ((image_rows, 3), (query_rows, 2)):
        assert rows.shape == (n, 16) and rows.dtype == np.float32
        assert np.allclose(np.linalg.norm(rows, axis=1), 1.0, atol=1e-5)
    assert not np.allclose(image_rows[0], image_rows[1])  # different pictures, different vectors
    rows = ImageModality(clip, scan_image_folder(posters), allowed_roots=[posters]).embed_items(make_items(3))
    assert np.allclose(rows[0], image_rows[0], atol=1e-5) and not rows[2].any()


def test_clip_in_the_sentence_transformers_layout_is_found(tiny_clip, tmp_path):
    from retrieval.clip_encoder import find_clip_folder

    folder = tmp_path / "st-clip"
    folder.mkdir()
    (folder / "0_CLIPModel").symlink_to(tiny_clip, target_is_directory=True)
    (folder / "modules.json").write_text(json.dumps(
        [{"idx": 0, "name": "0", "path": "0_CLIPModel", "type": "sentence_transformers.models.CLIPModel"}]))
    assert find_clip_folder(folder) == folder / "0_CLIPModel"


def test_a_missing_or_wrong_clip_folder_names_the_setting(tmp_path):
    from retrieval.clip_encoder import load_clip_encoder

    with pytest.raises(ConfigError, match="MARQUEE_CLIP_MODEL: no model folder"):
        load_clip_encoder(tmp_path / "nowhere")
    (tmp_path / "bert").mkdir()
    (tmp_path / "bert" / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(ConfigError, match="expected 'clip'"):
        load_clip_encoder(tmp_path / "bert")
