"""The whole web app on a free loopback port, driven through gradio_client as a site would call it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from gradio_client import Client

from marquee.web import create_app
from marquee.serving import serve_in_thread

KEYS = {"shop-key": ["https://shop.example"], "other-key": ["https://other.example"]}


@pytest.fixture
def url(marquee) -> Iterator[str]:
    settings = marquee.settings.model_copy(update={"site_keys": KEYS, "ui_secret": "a-test-secret-of-32-characters!!"})
    with serve_in_thread(create_app(marquee, settings), settings=settings) as base:
        yield base


@pytest.fixture
def client(url) -> Client:
    return Client(url, headers={"X-Marquee-Key": "shop-key"}, verbose=False)


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


def test_without_a_site_key_the_api_refuses_and_stores_nothing(url, marquee):
    from sqlmodel import Session, select

    from marquee import db

    anonymous = Client(url, verbose=False)
    with pytest.raises(Exception, match="site key"):
        anonymous.predict("any good westerns?", "", api_name="/recommend")
    with pytest.raises(Exception, match="not configured"):
        Client(url, headers={"X-Marquee-Key": "stolen"}, verbose=False).predict("a western", "", api_name="/recommend")
    with Session(marquee.engine) as session:
        assert session.exec(select(db.Conversation)).all() == []


def test_cards_never_show_a_poster_file_path():
    from marquee.api_models import image_url
    from marquee.ui import card_html

    assert image_url("42", "/srv/posters/42.jpg") == "/api/v1/items/42/image"
    assert image_url("a b", "posters/x.png") == "/api/v1/items/a%20b/image"
    assert image_url("42", "https://example.org/42.jpg") == "https://example.org/42.jpg"
    assert image_url("42", None) is None
    pressed = {"liked": set(), "disliked": set(), "seen": set()}
    html = card_html({"id": "42", "title": "Heat", "image": "/srv/posters/42.jpg", "why": "x"}, 1, pressed)
    assert "/srv/posters" not in html and "src='/api/v1/items/42/image'" in html


def test_user_text_is_shown_as_typed():
    from marquee.ui import as_text

    typed = "<b>bold</b> **not bold** # not a heading [link](http://x) `code` & co"
    rendered = as_text(typed)
    assert "<" not in rendered and "**" not in rendered and "](" not in rendered
    assert rendered.replace("\\", "").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&") == typed
