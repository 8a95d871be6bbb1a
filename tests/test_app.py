"""The Gradio app on a free loopback port, driven through gradio_client as a caller would."""

from __future__ import annotations

import socket

import pytest
from gradio_client import Client

from app import build_ui


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def client(marquee):
    demo = build_ui(marquee)
    demo.queue().launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True)
    try:
        yield Client(demo.local_url, verbose=False)
    finally:
        demo.close()


def test_chat_feedback_and_reset_through_the_api(client, marquee):
    first = client.predict("any good westerns?", "", api_name="/recommend")
    assert len(first["items"]) == 5
    assert all("Western" in item["genres"] for item in first["items"])
    assert all(item["why"] for item in first["items"])
    conversation = first["conversation"]

    picked = first["items"][0]["id"]
    feedback = client.predict(conversation, picked, "disliked", api_name="/feedback")
    assert picked in feedback["disliked"]

    second = client.predict("more like the second one", conversation, api_name="/recommend")
    assert second["conversation"] == conversation
    assert picked not in {item["id"] for item in second["items"]}

    client.predict(conversation, api_name="/reset")
    assert not marquee.state(conversation).has_request()


def test_bad_message_is_an_error_not_a_crash(client):
    with pytest.raises(Exception, match="empty"):
        client.predict("   ", "", api_name="/recommend")
    assert client.predict("hi", "", api_name="/recommend")["question"] is True


def test_cards_never_show_a_poster_file_path():
    from app import card_html, image_url

    assert image_url("42", "/srv/posters/42.jpg") == "/api/v1/items/42/image"
    assert image_url("a b", "posters/x.png") == "/api/v1/items/a%20b/image"
    assert image_url("42", "https://example.org/42.jpg") == "https://example.org/42.jpg"
    assert image_url("42", None) is None
    html = card_html({"id": "42", "title": "Heat", "image": "/srv/posters/42.jpg", "why": "x"})
    assert "/srv/posters" not in html and "src='/api/v1/items/42/image'" in html
