"""Property tests of the HTTP API: whatever a caller sends, no 5xx, and a retry stores nothing twice.

Hypothesis builds bodies from valid fields, wrong types, unknown fields, odd text and odd
``Idempotency-Key`` headers, and sends them to the real app under uvicorn.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, select

from marquee import db
from marquee.web import create_app
from marquee.serving import serve_in_thread

KEY = {"X-Marquee-Key": "fuzz-key"}
pytestmark = pytest.mark.slow

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**30, 10**30) | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=50),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
texts = st.one_of(st.text(max_size=300), st.sampled_from([
    "a western", "start over", "more like the second one", "a comedy under " + "9" * 400 + " minutes",
    "<script>alert(1)</script>", "'; DROP TABLE turn; --", "\x00\x01", " ", "🎬" * 50,
]))
message_bodies = st.one_of(
    st.fixed_dictionaries({"text": texts}, optional={"n_items": st.integers(-5, 30) | json_values,
                                                     "image": st.text(max_size=40) | json_values}),
    st.dictionaries(st.text(max_size=10), json_values, max_size=4),
    json_values,
)
feedback_bodies = st.one_of(
    st.fixed_dictionaries({"item_id": st.sampled_from(["1", "2", "nope", ""]) | st.text(max_size=70),
                           "kind": st.sampled_from(["liked", "disliked", "seen", "loved"]) | json_values}),
    json_values,
)
retry_keys = st.none() | st.text(max_size=60) | st.text(alphabet="abcdef0123456789-", min_size=1, max_size=40)


@pytest.fixture(scope="module")
def api(demo_deps, demo_workspace, tmp_path_factory) -> Iterator[tuple[httpx.Client, object]]:
    from marquee.service import Marquee
    from marquee.settings import Settings

    folder = tmp_path_factory.mktemp("fuzz")
    settings = Settings(workspace=demo_workspace, database_url=f"sqlite:///{folder / 'fuzz.db'}",
                        site_keys={"fuzz-key": ["http://localhost:*"]}, rate_limit_ip_per_min=0,
                        rate_limit_key_per_min=0, ui_secret="fuzz-secret-0123456789")
    marquee = Marquee(settings, demo_deps)
    with serve_in_thread(create_app(marquee, settings, ui=False), settings=settings) as url:
        with httpx.Client(base_url=url, timeout=120) as client:
            yield client, marquee


def headers(retry_key: str | None) -> dict[str, str | bytes]:
    if retry_key is None:
        return KEY
    sendable = "".join(c for c in retry_key if 32 <= ord(c) < 127 or 160 <= ord(c) < 256).strip()
    return {**KEY, "Idempotency-Key": sendable.encode("latin-1")} if sendable else KEY


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=message_bodies, retry_key=retry_keys, stream=st.booleans())
def test_any_message_body_gets_an_answer_or_a_clear_refusal(api, body, retry_key, stream):
    client, marquee = api
    conversation = client.post("/api/v1/conversations", json={}, headers=KEY).json()["conversation_id"]
    route = f"/api/v1/conversations/{conversation}/messages" + ("/stream" if stream else "")
    first = client.post(route, json=body, headers=headers(retry_key))
    assert first.status_code < 500, first.text
    assert "internal_error" not in first.text and "service_unavailable" not in first.text
    if first.status_code == 200 and retry_key is not None and "Idempotency-Key" in headers(retry_key):
        again = client.post(route, json=body, headers=headers(retry_key))
        assert again.status_code == 200
        assert len(marquee.turns(conversation)) == 1  # the retry stored nothing


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=feedback_bodies, retry_key=retry_keys)
def test_any_feedback_body_gets_an_answer_or_a_clear_refusal(api, body, retry_key):
    client, marquee = api
    conversation = client.post("/api/v1/conversations", json={}, headers=KEY).json()["conversation_id"]
    route = f"/api/v1/conversations/{conversation}/feedback"
    for _ in range(2):  # sent twice: with a key, the second is a retry
        response = client.post(route, json=body, headers=headers(retry_key))
        assert response.status_code < 500, response.text
    with Session(marquee.engine) as session:
        rows = session.exec(select(db.Feedback).where(db.Feedback.conversation_id == conversation)).all()
    if response.status_code == 200 and "Idempotency-Key" in headers(retry_key):
        assert len(rows) == 1
