"""Streaming: while a model writes the reply's text, the user sees it as it comes.

The scripted server streams the text slowly; the SSE route must pass each piece on before the
cards arrive (not replay a finished reply), and the pieces must add up to the stored reply.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
from fake_openai import FakeOpenAI, Text, ToolCall, ToolCalls, fake_openai  # noqa: F401  (fixture)
from test_api import KEYS, key, start_conversation
from test_llm_planner import deps  # noqa: F401  (fixture: a tiny catalog in a real Chroma store)

from marquee.service import Marquee
from marquee.settings import Settings
from marquee.streaming import turn_pieces
from marquee.web import create_app
from marquee.serving import serve_in_thread
from tools.base import ToolDeps

WRITTEN = "Here you go. Three feel-good comedies from the nineties, none of them with Adam Sandler, for a cosy night."


def _marquee(fake: FakeOpenAI, deps: ToolDeps, tmp_path: Path) -> Marquee:
    settings = Settings(workspace=tmp_path, database_url=f"sqlite:///{tmp_path / 'marquee.db'}", n_recommendations=3,
                        llm_base_url=fake.base_url, llm_model="m", llm_timeout_s=10, site_keys=KEYS)
    return Marquee(settings, deps)


def _script_turn(fake: FakeOpenAI) -> None:
    fake.enqueue(
        {"intent": "recommend", "genres_include": ["Comedy"], "year_min": 1990, "year_max": 1999,
         "people_exclude": ["Adam Sandler"]},  # the parser
        ToolCalls([ToolCall("search", {"query": "feel-good comedy"})]), "Done.",  # the planner's tool steps
        Text(WRITTEN, pause=0.15),  # the text, streamed slowly
    )


def test_the_stream_route_passes_the_text_on_while_the_model_writes_it(fake_openai, deps, tmp_path):
    marquee = _marquee(fake_openai, deps, tmp_path)
    _script_turn(fake_openai)
    arrivals: list[tuple[str, float]] = []
    with serve_in_thread(create_app(marquee, marquee.settings, ui=False)) as url, \
            httpx.Client(base_url=url, timeout=60) as client:
        conversation = start_conversation(client)["conversation_id"]
        with client.stream("POST", f"/api/v1/conversations/{conversation}/messages/stream",
                           json={"text": "a feel-good 90s comedy, nothing with Adam Sandler"}, headers=key()) as response:
            event, deltas = None, []
            for line in response.iter_lines():
                if line.startswith("event: "):
                    event = line[7:]
                    arrivals.append((event, time.perf_counter()))
                elif line.startswith("data: ") and event == "text":
                    deltas.append(line[6:])
        stored = client.get(f"/api/v1/conversations/{conversation}", headers=key()).json()["turns"][0]

    names = [name for name, _ in arrivals]
    assert names[0] == "start" and names[-2:] == ["items", "done"]
    texts = [at for name, at in arrivals if name == "text"]
    items_at = dict(arrivals)["items"]
    assert len(texts) >= 3
    assert items_at - texts[0] > 0.5  # the first words came long before the turn was over
    assert stored["reply"]["text"] == WRITTEN
    assert "".join(json.loads(d)["delta"] for d in deltas) == WRITTEN


def test_turn_pieces_gives_the_pieces_then_the_result(fake_openai, deps, tmp_path):
    marquee = _marquee(fake_openai, deps, tmp_path)
    _script_turn(fake_openai)

    seen = list(turn_pieces(lambda on_text: marquee.respond(None, "a feel-good 90s comedy, no Adam Sandler",
                                                             on_text=on_text)))

    *pieces, result = seen
    assert len(pieces) >= 3 and "".join(pieces) == result.reply.text == WRITTEN
    assert result.reply.items
