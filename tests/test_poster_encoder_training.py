"""Training options of the poster encoder (augmentation, heads on the embedding, weight
averaging) and the tuning switches of the multimodal evaluation (validation split, --set).

Posters are drawn by the tests; text vectors come from the deterministic hashing encoder.
"""

from __future__ import annotations

import numpy as np
import pytest

from marquee.errors import BadInput
from retrieval.encoder import HashingEncoder
from retrieval.poster_encoder import (
    PosterEncoderConfig,
    _augment,
    load_poster_encoder,
    train_poster_encoder,
)
from test_poster_encoder import TINY, dataset, poster  # the drawn posters of the basic tests

STRONG = dict(crop_scale=0.6, colour_jitter=0.4, heads_on_embedding=True, ema_decay=0.9, mixup=0.4)


@pytest.fixture(scope="module")
def text_encoder() -> HashingEncoder:
    return HashingEncoder(dim=32)


def test_random_resized_crops_keep_the_shape_and_repeat_with_the_seed():
    import torch

    x = torch.randn(6, 3, 32, 24)
    config = PosterEncoderConfig(**{**TINY, **STRONG})
    first = _augment(x, torch.Generator().manual_seed(1), config)
    again = _augment(x, torch.Generator().manual_seed(1), config)
    other = _augment(x, torch.Generator().manual_seed(2), config)
    assert first.shape == x.shape and torch.isfinite(first).all()
    assert torch.equal(first, again)
    assert not torch.allclose(first, other)
    assert not torch.allclose(first, x)


def test_the_same_seed_trains_the_same_encoder(text_encoder):
    _, images, vectors, genres, years = dataset(4, text_encoder)
    config = PosterEncoderConfig(**{**TINY, **STRONG, "epochs": 2})
    common = dict(genres=genres, years=years, config=config, text_encoder_name=text_encoder.name,
                  catalog_fingerprint="c", progress=False)
    a = train_poster_encoder(images, vectors, **common).encode_arrays(images)
    b = train_poster_encoder(images, vectors, **common).encode_arrays(images)
    assert np.array_equal(a, b)


def test_strong_augmentation_with_heads_on_the_embedding_still_learns_and_round_trips(
    text_encoder, tmp_path
):
    kinds, images, vectors, genres, years = dataset(12, text_encoder)
    config = PosterEncoderConfig(**{**TINY, **STRONG, "epochs": 25})
    encoder = train_poster_encoder(images, vectors, genres=genres, years=years, config=config,
                                   text_encoder_name=text_encoder.name, catalog_fingerprint="c",
                                   progress=False)
    assert encoder.network.genre_head.in_features == 32  # reads the 32-dim text-space vector
    held_out = np.stack([np.asarray(poster(k, 1000 + n)) for n, k in enumerate(["horror", "comedy"] * 6)])
    rows = encoder.encode_arrays(held_out)
    kinds = np.array(kinds)
    horror, comedy = vectors[kinds == "horror"].mean(axis=0), vectors[kinds == "comedy"].mean(axis=0)
    assert (rows @ horror > rows @ comedy).tolist() == [True, False] * 6

    loaded = load_poster_encoder(encoder.save(tmp_path / "enc"), catalog_fingerprint="c")
    assert loaded.config.heads_on_embedding and loaded.config.ema_decay == 0.9
    assert np.allclose(loaded.encode_arrays(held_out), rows, atol=1e-6)


def test_validation_posters_come_from_the_training_part_only():
    from evals.multimodal import split_ids, validation_split

    ids = [str(n) for n in range(1, 501)]
    train, test = split_ids(ids, 7)
    fit, validation = validation_split(train, 7)
    assert len(validation) == round(0.2 * len(train)) and len(fit) + len(validation) == len(train)
    assert not set(validation) & set(test) and not set(fit) & set(test)
    assert set(fit) | set(validation) == set(train)
    assert validation_split(train, 7) == (fit, validation)


def test_encoder_settings_from_the_command_line():
    from evals.multimodal import encoder_config

    config = encoder_config(["crop_scale=0.5", "heads_on_embedding=false", "epochs=3"], seed=11)
    assert (config.crop_scale, config.heads_on_embedding, config.epochs, config.seed) == (0.5, False, 3, 11)
    with pytest.raises(BadInput, match="KEY=VALUE"):
        encoder_config(["no_such_setting=1"], seed=7)
    with pytest.raises(BadInput, match="do not fit"):
        encoder_config(["crop_scale=2"], seed=7)
