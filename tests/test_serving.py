"""A serving process encodes concurrent queries on one torch thread each, without queueing."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from marquee.settings import Settings
from retrieval.encoder import load_text_encoder, one_thread_per_request

pytestmark = pytest.mark.slow


def test_concurrent_queries_get_the_vectors_they_get_alone(tmp_path):
    import torch

    encoder = load_text_encoder(Settings(workspace=tmp_path))
    texts = [f"a {mood} movie about {topic}" for mood in ("funny", "dark", "calm") for topic in ("space", "heists")]
    alone = [encoder.encode([t])[0] for t in texts]
    threads = torch.get_num_threads()
    try:
        one_thread_per_request()
        encoder._recent.clear()  # encode again, this time at once
        with ThreadPoolExecutor(max_workers=4) as pool:
            together = list(pool.map(lambda t: encoder.encode([t])[0], texts))
        assert not encoder._threads_lock.locked()
    finally:
        torch.set_num_threads(threads)
    for a, b in zip(alone, together):
        assert np.allclose(a, b, atol=1e-5)
    again = encoder.encode([texts[0]])  # kept: the same values, a copy the caller may change
    again[0, 0] += 1.0
    assert np.allclose(encoder.encode([texts[0]])[0], alone[0], atol=1e-5)
