""""Describe what you see": poster captions from a vision model behind an OpenAI-compatible endpoint.

The endpoint is the scripted loopback server of ``fake_openai``; posters are tiny images drawn by
the tests. The caption collection does not need the image collection, so the ingest tests run
with ``image_encoder="none"`` (no poster CNN is trained) and the real MiniLM embeds the captions.
"""

from __future__ import annotations

import base64
import dataclasses
import io
import json
from pathlib import Path

import numpy as np
import pytest
from fake_openai import Delay, FakeOpenAI, HTTPError, fake_openai  # noqa: F401  (fixture)
from PIL import Image, ImageDraw

from marquee.llm import build_chat_model
from marquee.ingest import ingest_catalog, write_items
from marquee.service import Marquee
from marquee.startup import load_deps
from marquee.settings import Settings
from prompts.captions import CAPTION_PROMPT
from retrieval.captions import PosterCaptioner, clean_caption
from retrieval.catalog import Item

MODEL = "vision-test"


def poster(colour: tuple[int, int, int], n: int, size=(40, 60)) -> Image.Image:
    rng = np.random.default_rng(n)
    image = Image.new("RGB", size, tuple(int(v) for v in rng.integers(0, 40, 3)))
    ImageDraw.Draw(image).rectangle((5, 5 + n % 7, size[0] - 6, size[1] - 8), fill=colour)
    return image


def captioner(url: str, cache: Path | None, *, timeout: float = 5.0, model: str = MODEL) -> PosterCaptioner:
    settings = Settings(llm_base_url=url, llm_model=model, llm_timeout_s=timeout)
    return PosterCaptioner(build_chat_model(settings), cache_path=cache)


def sent_parts(request: dict) -> list[dict]:
    [message] = request["messages"]
    assert message["role"] == "user"
    return message["content"]


# --------------------------------------------------------------------------- one poster


def test_a_poster_goes_out_as_a_data_url_and_a_clean_caption_comes_back(fake_openai: FakeOpenAI, tmp_path):
    fake_openai.enqueue("```\n**Caption:** A dark, rainy city street at night; a lone man in a trench coat.\n```")
    big = poster((150, 20, 20), 1, size=(900, 1350))
    caption = captioner(fake_openai.base_url, tmp_path / "c.json").caption(big, content_hash="abc")
    assert caption == "A dark, rainy city street at night; a lone man in a trench coat."
    [request] = fake_openai.requests
    assert request["model"] == MODEL
    text, image = sent_parts(request)
    assert text == {"type": "text", "text": CAPTION_PROMPT}
    url = image["image_url"]["url"]
    assert image["type"] == "image_url" and url.startswith("data:image/jpeg;base64,")
    sent = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert max(sent.size) <= 512 and sent.size == (341, 512)  # downscaled, aspect kept


def test_answers_that_are_not_captions_are_cleaned_or_skipped_and_counted(fake_openai: FakeOpenAI, tmp_path):
    long = "A red sky over a burning town. " * 20
    fake_openai.enqueue("", "I'm sorry, I can't describe this image.", "### 12345 !!! ---", long, "- Blue sea, calm.")
    teller = captioner(fake_openai.base_url, None)
    got = [teller.caption(poster((10, 10, 200), n), content_hash=f"h{n}") for n in range(5)]
    assert got[:3] == [None, None, None]
    assert got[3].startswith("A red sky over a burning town.") and len(got[3]) <= 300 and got[3].endswith(".")
    assert got[4] == "Blue sea, calm."  # the list bullet is gone
    assert teller.summary.skipped == {"empty_caption": 1, "refused": 1, "garbage": 1}
    assert teller.summary.truncated == 1 and teller.summary.captioned == 2


def test_clean_caption_keeps_a_plain_description_and_cuts_long_ones_at_a_word():
    assert clean_caption('"Neon-lit alley, two figures, a noir thriller."') == (
        "Neon-lit alley, two figures, a noir thriller.", False)
    cut, truncated = clean_caption("word " * 100, max_chars=50)
    assert truncated and len(cut) <= 50 and cut.endswith("word")


# --------------------------------------------------------------------------- cache


def test_captions_are_cached_by_image_content_and_model(fake_openai: FakeOpenAI, tmp_path):
    folder = tmp_path / "posters"
    folder.mkdir()
    poster((200, 30, 30), 1).save(folder / "a.png")
    (folder / "copy.png").write_bytes((folder / "a.png").read_bytes())  # same content, other name
    cache = tmp_path / "cache" / "captions.json"
    fake_openai.enqueue("A blood-red poster with a dark doorway, horror.")
    first = captioner(fake_openai.base_url, cache)
    assert first.caption_file(folder / "a.png", allowed_roots=[folder]) == "A blood-red poster with a dark doorway, horror."
    first.flush()
    assert len(fake_openai.requests) == 1 and cache.is_file()

    again = captioner(fake_openai.base_url, cache)  # a second run: nothing is asked
    assert again.caption_file(folder / "copy.png", allowed_roots=[folder]) == "A blood-red poster with a dark doorway, horror."
    assert len(fake_openai.requests) == 1 and again.summary.cached == 1 and again.summary.asked == 0

    fake_openai.enqueue("A red square on a black background, minimalist.")
    other = captioner(fake_openai.base_url, cache, model="another-vision-model")
    assert other.caption_file(folder / "a.png", allowed_roots=[folder]) == "A red square on a black background, minimalist."
    assert len(fake_openai.requests) == 2


def test_an_unreadable_cache_file_is_ignored(fake_openai: FakeOpenAI, tmp_path):
    cache = tmp_path / "captions.json"
    cache.write_text("{not json")
    fake_openai.enqueue("A sunny beach with two friends laughing, a comedy.")
    teller = captioner(fake_openai.base_url, cache)
    assert teller.caption(poster((20, 20, 200), 3), content_hash="x") is not None
    teller.flush()
    assert json.loads(cache.read_text())["captions"] == {f"{MODEL}|x": "A sunny beach with two friends laughing, a comedy."}


# --------------------------------------------------------------------------- endpoint failures


def test_endpoint_errors_and_timeouts_skip_that_poster_and_the_others_get_captions(fake_openai: FakeOpenAI):
    fake_openai.enqueue("A misty forest at dawn, a lone deer, a quiet drama.", HTTPError(500, "overloaded"),
                        Delay(3.0), "A neon city skyline at night, a sci-fi thriller.")
    teller = captioner(fake_openai.base_url, None, timeout=0.5)
    got = [teller.caption(poster((30, 120, 30), n), content_hash=f"h{n}") for n in range(4)]
    assert got[0] and got[3] and got[1] is None and got[2] is None
    assert teller.summary.skipped == {"endpoint_error": 1, "timeout": 1}
    assert teller.summary.captioned == 2 and not teller.gave_up


def test_after_three_failures_in_a_row_it_stops_asking(fake_openai: FakeOpenAI, tmp_path):
    fake_openai.enqueue(HTTPError(500), HTTPError(502), HTTPError(503), "never asked for")
    teller = captioner(fake_openai.base_url, None)
    got = [teller.caption(poster((90, 90, 90), n), content_hash=f"h{n}") for n in range(6)]
    assert got == [None] * 6 and teller.gave_up
    assert len(fake_openai.requests) == 3
    assert teller.summary.skipped == {"endpoint_error": 3, "endpoint_gave_up": 3}


def test_a_caption_model_needs_an_endpoint():
    with pytest.raises(ValueError, match="MARQUEE_CAPTION_MODEL is set but MARQUEE_LLM_BASE_URL is not"):
        Settings(caption_model=MODEL)
    assert Settings(caption_model=MODEL, llm_base_url="http://127.0.0.1:9/v1").llm_enabled is False  # captions only
    assert Settings().caption_model is None  # off by default


# --------------------------------------------------------------------------- the caption collection

# Crimson Night 1 and 3 look alike on their posters (the captions say so); 2 and 4 do not.
CAPTIONS = {
    "r1": "A dark red poster: a blood-soaked hallway lit by one bare bulb, a horror film.",
    "r2": "A cheerful picnic in a sunny meadow with a golden retriever, a family comedy.",
    "r3": "Dark red poster of a bloody hallway under a single bare bulb, a horror movie.",
    "r4": "Two kids flying a kite on a bright beach under a blue sky, a summer comedy.",
    "b1": "A bright blue sky over a beach, smiling friends in sunglasses, a light comedy.",
}


def items() -> list[Item]:
    rows = [Item(id=f"r{n}", title=f"Crimson Night {n}", year=1990 + n, genres=["Horror"], tags=["dark"])
            for n in range(1, 5)]
    rows += [Item(id="b1", title="Sunny Day", year=2001, genres=["Comedy"], tags=["funny"]),
             Item(id="x1", title="Broken Poster", year=1999, genres=["Drama"]),
             Item(id="n1", title="No Poster", year=2005, genres=["Comedy"])]
    return rows


def draw(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(1, 5):
        poster((200, 20, 20), n).save(folder / f"r{n}.png")
    poster((20, 40, 210), 9).save(folder / "b1.jpg")
    (folder / "x1.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")


@pytest.fixture(scope="module")
def server():
    fake = FakeOpenAI().start()
    yield fake
    fake.close()


@pytest.fixture(scope="module")
def world(tmp_path_factory, server) -> dict:
    root = tmp_path_factory.mktemp("captions-world")
    draw(root / "posters")
    write_items(items(), root / "catalog" / "items.jsonl")
    settings = Settings(workspace=root / "ws", catalog=root / "catalog", image_folder=root / "posters",
                        image_encoder="none", caption_model=MODEL, llm_base_url=server.base_url,
                        database_url=f"sqlite:///{root / 'm.db'}")
    server.enqueue(*CAPTIONS.values())  # one request per readable poster, in catalog order
    deps = load_deps(settings, progress=False)
    assert server.pending == 0 and len(server.requests) == len(CAPTIONS)
    return {"root": root, "settings": settings, "deps": deps}


def test_the_caption_collection_holds_the_captioned_posters(world, server):
    deps = world["deps"]
    store = deps.modality_stores["caption"]
    assert store.collection_name == "items_caption" and sorted(store.ids) == sorted(CAPTIONS)
    assert store.dim == deps.encoder.dim  # captions live in the text space
    assert deps.image_store is None  # the image collection is a separate choice
    assert store.manifest["encoder"].startswith(f"caption:{MODEL}|")
    assert json.loads(store.manifest["skipped"]) == {"corrupt": 1}
    assert all(part["type"] in ("text", "image_url") for r in server.requests for part in sent_parts(r))


def test_a_second_start_reuses_the_collection_without_asking(world, server):
    before = len(server.requests)
    again = load_deps(world["settings"], progress=False)
    assert len(server.requests) == before
    store = again.modality_stores["caption"]
    assert store.manifest["built_at"] == world["deps"].modality_stores["caption"].manifest["built_at"]


def test_a_caption_weight_ranks_the_title_whose_poster_is_described_alike_higher(world):
    settings, deps = world["settings"], world["deps"]
    plain = Marquee(settings, deps).respond(None, "something like Crimson Night 1")
    weighted = settings.model_copy(update={"modality_weights": {"caption": 0.5}})
    described = Marquee(weighted, dataclasses.replace(deps, settings=weighted)).respond(
        None, "something like Crimson Night 1")
    plain_ids = [card.id for card in plain.reply.items]
    described_ids = [card.id for card in described.reply.items]
    assert plain_ids[0] != "r3" and described_ids[0] == "r3"
    assert described_ids.index("r3") < plain_ids.index("r3")


def test_ingest_counts_captions_and_skips_and_retries_failed_posters(world, server, tmp_path, monkeypatch):
    monkeypatch.setenv("MARQUEE_CAPTION_MODEL", MODEL)
    monkeypatch.setenv("MARQUEE_LLM_BASE_URL", server.base_url)
    monkeypatch.setenv("MARQUEE_IMAGE_ENCODER", "none")
    source = tmp_path / "items.jsonl"
    write_items(items(), source)
    replies = list(CAPTIONS.values())
    server.enqueue(replies[0], HTTPError(500, "overloaded"), *replies[2:])
    before = len(server.requests)
    summary = ingest_catalog(source, workspace=tmp_path / "ws", images=world["root"] / "posters", progress=False)
    assert len(server.requests) - before == 5
    [report] = summary.modalities
    assert report.collection == "items_caption" and report.stored == 4
    assert report.skipped == {"corrupt": 1, "endpoint_error": 1}
    assert "items_caption: 4 of 7 items" in summary.render() and "endpoint_error 1" in summary.render()

    settings = Settings(workspace=tmp_path / "ws", catalog=tmp_path / "ws" / "catalog",
                        image_folder=world["root"] / "posters")
    server.enqueue(replies[1])  # the next start asks only for the poster that failed
    deps = load_deps(settings, progress=False)
    assert len(server.requests) - before == 6
    assert sorted(deps.modality_stores["caption"].ids) == sorted(CAPTIONS)
