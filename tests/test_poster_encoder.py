"""The embedded poster encoder: training, the saved artifact, and the multimodal evaluation.

Posters are drawn by the tests (red circles for one kind of film, blue squares for another);
text vectors come from the deterministic hashing encoder, so no model is loaded.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from marquee.errors import BadInput, ConfigError, NotFound
from marquee.settings import Settings
from retrieval.encoder import HashingEncoder
from retrieval.modalities import PosterImageEncoder
from retrieval.poster_encoder import (
    PosterEncoderConfig,
    load_poster_encoder,
    train_poster_encoder,
)

TINY = dict(width=24, height=32, channels=4, batch_size=8, seed=3)


def poster(kind: str, n: int, size=(24, 32)) -> Image.Image:
    """A red circle (``horror``) or a blue square (``comedy``), jittered by ``n``."""
    rng = np.random.default_rng(n)
    image = Image.new("RGB", size, tuple(int(v) for v in rng.integers(0, 40, 3)))
    draw = ImageDraw.Draw(image)
    x, y = (int(v) for v in rng.integers(0, 5, 2))
    box = (x + 3, y + 4, x + size[0] - 6, y + size[1] - 8)
    if kind == "horror":
        draw.ellipse(box, fill=(200 + n % 50, 20, 20))
    else:
        draw.rectangle(box, fill=(20, 40, 200 + n % 50))
    return image


def dataset(n_per_kind: int, text: HashingEncoder):
    kinds = ["horror", "comedy"] * n_per_kind
    images = np.stack([np.asarray(poster(k, n)) for n, k in enumerate(kinds)])
    texts = [f"a {k} film number {n} genres {k}" for n, k in enumerate(kinds)]
    genres = [["Horror"] if k == "horror" else ["Comedy"] for k in kinds]
    years = [1950 + 2 * n for n in range(len(kinds))]
    return kinds, images, text.encode(texts), genres, years


@pytest.fixture(scope="module")
def text_encoder() -> HashingEncoder:
    return HashingEncoder(dim=32)


def train(text_encoder, *, steps=None, epochs=1, n_per_kind=8, **extra):
    kinds, images, vectors, genres, years = dataset(n_per_kind, text_encoder)
    config = PosterEncoderConfig(**{**TINY, "epochs": epochs, **extra})
    encoder = train_poster_encoder(
        images, vectors, genres=genres, years=years, config=config,
        text_encoder_name=text_encoder.name, catalog_fingerprint="catalog-v1",
        progress=False, max_steps=steps,
    )
    return encoder, kinds, images, vectors


def test_a_couple_of_training_steps_give_unit_vectors_in_the_text_space(text_encoder):
    encoder, _, images, _ = train(text_encoder, steps=2)
    assert encoder.extra["steps"] == 2
    vectors = encoder.encode_arrays(images)
    assert vectors.shape == (16, 32) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # any picture size goes in: it is resized to the configured 24x32
    odd = encoder.encode_images([poster("horror", 1, size=(185, 278)), poster("comedy", 2, size=(50, 40))])
    assert odd.shape == (2, 32)


def test_training_learns_to_point_each_poster_at_its_kind_of_text(text_encoder):
    encoder, kinds, _, vectors = train(text_encoder, epochs=25, n_per_kind=12)
    held_out = np.stack([np.asarray(poster(k, 1000 + n)) for n, k in enumerate(["horror", "comedy"] * 6)])
    image_rows = encoder.encode_arrays(held_out)
    kinds = np.array(kinds)
    horror_text = vectors[kinds == "horror"].mean(axis=0)
    comedy_text = vectors[kinds == "comedy"].mean(axis=0)
    closer_to_horror = image_rows @ horror_text > image_rows @ comedy_text
    assert closer_to_horror.tolist() == [True, False] * 6


def test_the_artifact_round_trips_and_remembers_what_it_was_built_for(text_encoder, tmp_path):
    encoder, _, images, _ = train(text_encoder, steps=3)
    folder = encoder.save(tmp_path / "poster-encoder")
    assert sorted(p.name for p in folder.iterdir()) == ["manifest.json", "weights.safetensors"]
    loaded = load_poster_encoder(folder, text_encoder_name=text_encoder.name,
                                 catalog_fingerprint="catalog-v1")
    assert np.allclose(loaded.encode_arrays(images), encoder.encode_arrays(images), atol=1e-6)
    assert loaded.genres == ["Comedy", "Horror"] and loaded.name == encoder.name
    with pytest.raises(ConfigError, match="another catalog version"):
        load_poster_encoder(folder, catalog_fingerprint="catalog-v2")
    with pytest.raises(ConfigError, match="space of 'hashing-32'"):
        load_poster_encoder(folder, text_encoder_name="sentence-transformers/all-MiniLM-L6-v2")
    with pytest.raises(NotFound):
        load_poster_encoder(tmp_path / "empty")
    (folder / "weights.safetensors").write_bytes(b"not weights")
    with pytest.raises(ConfigError, match="do not load"):
        load_poster_encoder(folder)


def test_queries_in_words_use_the_text_encoder_it_was_trained_for(text_encoder):
    encoder, *_ = train(text_encoder, steps=1)
    image_encoder = PosterImageEncoder(encoder, text_encoder)
    words = ["a horror film"]
    assert np.allclose(image_encoder.encode_queries(words), text_encoder.encode(words))
    with pytest.raises(ConfigError, match="train it again"):
        PosterImageEncoder(encoder, HashingEncoder(dim=16))


def test_training_refuses_inputs_that_do_not_fit(text_encoder):
    _, images, vectors, _, _ = dataset(2, text_encoder)
    config = PosterEncoderConfig(**TINY)
    common = dict(config=config, text_encoder_name="t", catalog_fingerprint="c", progress=False)
    with pytest.raises(BadInput, match="uint8"):
        train_poster_encoder(images[:, :10], vectors, **common)
    with pytest.raises(BadInput, match="4 images but text vectors of shape"):
        train_poster_encoder(images, vectors[:3], **common)
    with pytest.raises(BadInput, match="finite and non-zero"):
        train_poster_encoder(images, np.zeros_like(vectors), **common)


# ------------------------------------------------------------------------- the evaluation


def test_the_multimodal_eval_reports_exactly_the_issue_keys(tmp_path, text_encoder):
    from evals.multimodal import METRIC_KEYS, format_table, run_multimodal_eval

    posters = tmp_path / "posters"
    posters.mkdir()
    lines, ratings = [], []
    for n in range(1, 41):
        kind = "horror" if n % 2 else "comedy"
        genres = ("Horror" if kind == "horror" else "Comedy") + ("|Thriller" if n % 3 == 0 else "")
        lines.append(f"{n}::Film {n} ({1960 + n})::{genres}")
        poster(kind, n, size=(60, 90)).save(posters / f"{n}.jpg")
    (posters / "41.jpg").write_bytes(b"broken")
    lines.append("41::Broken Poster (2000)::Drama")
    meta = tmp_path / "meta"
    meta.mkdir()
    (meta / "movies.dat").write_text("\n".join(lines) + "\n", encoding="latin-1")
    for user in range(1, 9):  # user u likes the kind of film matching its parity
        for t, item in enumerate(range(1, 41)):
            rating = 5 if (item + user) % 2 == 0 else 1
            ratings.append(f"{user}::{item}::{rating}::{1000 + t}")
    ratings_file = tmp_path / "ratings.dat"
    ratings_file.write_text("\n".join(ratings) + "\n")

    result = run_multimodal_eval(
        posters, meta / "movies.dat", seed=7, ratings_file=ratings_file,
        settings=Settings(workspace=tmp_path / "ws"), text_encoder=text_encoder,
        config=PosterEncoderConfig(**{**TINY, "width": 32, "height": 48, "epochs": 2}),
        progress=False,
    )
    assert list(result) == list(METRIC_KEYS)
    assert (result["n_train"], result["n_test"]) == (32, 8)  # the broken poster is skipped
    assert result["chance_recall@10"] == 1.0  # 8 test posters: any top-10 holds them all
    assert 0.0 <= result["genre_auc"] <= 1.0
    assert 0.0 <= result["ndcg@10_text"] <= 1.0 and 0.0 <= result["ndcg@10_text_image"] <= 1.0
    table = format_table(result)
    assert "poster_to_text_recall@10" in table and "ndcg@10_text_image" in table
    assert not any(p.suffix == ".jpg" for p in (tmp_path / "ws").rglob("*"))  # no poster copies


def test_the_workspace_keeps_one_encoder_per_catalog_version(tmp_path, text_encoder, monkeypatch):
    import retrieval.poster_encoder as module
    from retrieval.catalog import Item

    posters = tmp_path / "posters"
    posters.mkdir()
    items = []
    for n in range(1, 9):
        kind = "horror" if n % 2 else "comedy"
        poster(kind, n).save(posters / f"{n}.png")
        items.append(Item(id=str(n), title=f"Film {n}", year=1980 + n, genres=[kind.title()]))
    paths = {str(n): posters / f"{n}.png" for n in range(1, 9)}
    common = dict(workspace=tmp_path / "ws", items=items, image_paths=paths, allowed_roots=[posters],
                  text_encoder=text_encoder, config=PosterEncoderConfig(**TINY), progress=False)

    first = module.ensure_poster_encoder(catalog_fingerprint="v1", **common)
    saved = list((tmp_path / "ws" / "models").iterdir())
    assert len(saved) == 1 and (saved[0] / "weights.safetensors").is_file()

    def no_training(*args, **kwargs):
        raise AssertionError("trained again although nothing changed")

    monkeypatch.setattr(module, "train_poster_encoder", no_training)
    again = module.ensure_poster_encoder(catalog_fingerprint="v1", **common)
    assert again.name == first.name
    with pytest.raises(AssertionError, match="trained again"):
        module.ensure_poster_encoder(catalog_fingerprint="v2", **common)  # a new catalog version
