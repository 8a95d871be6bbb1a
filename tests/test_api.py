"""The HTTP API as a site calls it: httpx against the real app under uvicorn on a loopback port."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack

import httpx
import pytest
from gradio_client import Client
from PIL import Image
from sqlmodel import Session, select

from marquee import db
from marquee.errors import LLMError
from marquee.service import Marquee
from marquee.settings import Settings
from marquee.web import create_app
from marquee.serving import serve_in_thread
from retrieval.catalog import Catalog

SHOP = "https://shop.example"
OTHER_SHOP = "https://other.example"
KEYS = {"shop-key": [SHOP], "other-key": [OTHER_SHOP], "dev-key": ["http://localhost:*"]}
API = "/api/v1"


@pytest.fixture
def marquee(marquee_on_each_database):
    """Every API test runs on SQLite and on PostgreSQL."""
    return marquee_on_each_database


@pytest.fixture
def serve(marquee) -> Iterator[Callable[..., httpx.Client]]:
    """``serve(**settings)`` starts the app on a free loopback port and returns a client for it."""
    with ExitStack() as stack:
        def start(*, ui: bool = False, over: Marquee | None = None, **overrides) -> httpx.Client:
            target = over or marquee
            settings = target.settings.model_copy(update={"site_keys": KEYS, **overrides})
            url = stack.enter_context(serve_in_thread(create_app(target, settings, ui=ui)))
            return stack.enter_context(httpx.Client(base_url=url, timeout=120))

        yield start


def key(name: str = "shop-key", **headers: str) -> dict[str, str]:
    return {"X-Marquee-Key": name, **headers}


def error_code(response: httpx.Response) -> str:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    assert body["error"]["message"]
    return body["error"]["code"]


def start_conversation(client: httpx.Client, name: str = "shop-key", **body) -> dict:
    response = client.post(f"{API}/conversations", json=body, headers=key(name))
    assert response.status_code == 201, response.text
    return response.json()


def say(client: httpx.Client, conversation: str, text: str, name: str = "shop-key", **extra) -> httpx.Response:
    return client.post(f"{API}/conversations/{conversation}/messages", json={"text": text, **extra}, headers=key(name))


def sse_events(response: httpx.Response) -> list[tuple[str, dict]]:
    events = []
    for block in response.text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


# --- the conversation flow --------------------------------------------------------------------


def test_a_whole_conversation_over_the_api(serve, marquee):
    client = serve()
    created = start_conversation(client, demographics={"age": 34, "gender": "F", "occupation": "engineer"})
    conversation = created["conversation_id"]
    with Session(marquee.engine) as session:
        user = session.get(db.User, created["user_id"])
        assert (user.age, user.gender, user.occupation) == (34, "F", "engineer")

    first = say(client, conversation, "any good westerns?")
    assert first.status_code == 200
    body = first.json()
    assert body["conversation_id"] == conversation and body["turn"] == 0
    items = body["reply"]["items"]
    assert len(items) == 5
    for item in items:
        assert set(item) == {"id", "title", "year", "genres", "people", "image", "why"}
        assert "Western" in item["genres"] and item["why"] and item["image"] is None

    liked = items[0]["id"]
    feedback = client.post(f"{API}/conversations/{conversation}/feedback", json={"item_id": liked, "kind": "liked"},
                           headers=key())
    assert feedback.status_code == 200
    assert feedback.json() == {"conversation_id": conversation, "liked": [liked], "disliked": [], "seen": []}

    second = say(client, conversation, "more like the first one, but newer", n_items=3)
    assert second.status_code == 200 and second.json()["turn"] == 1
    newer = second.json()["reply"]["items"]
    assert 1 <= len(newer) <= 3
    assert not {i["id"] for i in newer} & {i["id"] for i in items}

    history = client.get(f"{API}/conversations/{conversation}", headers=key()).json()
    assert history["user_id"] == created["user_id"]
    assert [t["utterance"] for t in history["turns"]] == ["any good westerns?", "more like the first one, but newer"]
    assert [t["turn"] for t in history["turns"]] == [0, 1]
    assert history["turns"][0]["reply"] == body["reply"]
    assert history["turns"][1]["reply"] == second.json()["reply"]
    assert history["feedback"]["liked"] == [liked]


def test_streaming_reply_arrives_in_pieces_and_matches_what_is_stored(serve):
    client = serve()
    conversation = start_conversation(client)["conversation_id"]
    response = client.post(f"{API}/conversations/{conversation}/messages/stream",
                           json={"text": "a scary movie, not too gory"}, headers=key())
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response)
    names = [name for name, _ in events]
    assert names[0] == "start" and names[-2:] == ["items", "done"]
    assert set(names[1:-2]) == {"text"} and len(names[1:-2]) >= 2

    stored = client.get(f"{API}/conversations/{conversation}", headers=key()).json()["turns"]
    assert len(stored) == 1
    assert "".join(data["delta"] for name, data in events if name == "text") == stored[0]["reply"]["text"]
    assert [i["id"] for i in events[-2][1]["items"]] == [i["id"] for i in stored[0]["reply"]["items"]]
    assert len(events[-2][1]["items"]) == 5
    assert events[-1][1] == {"conversation_id": conversation, "turn": 0, "question": False,
                             "notes": stored[0]["reply"]["notes"]}


def test_feedback_on_an_unknown_item_or_kind_is_refused(serve):
    client = serve()
    conversation = start_conversation(client)["conversation_id"]
    url = f"{API}/conversations/{conversation}/feedback"
    unknown = client.post(url, json={"item_id": "no-such-item", "kind": "liked"}, headers=key())
    assert unknown.status_code == 404 and error_code(unknown) == "not_found"
    bad_kind = client.post(url, json={"item_id": "1", "kind": "loved"}, headers=key())
    assert bad_kind.status_code == 422 and error_code(bad_kind) == "validation_error"
    assert "kind" in bad_kind.json()["error"]["message"]


def test_deleting_a_user_removes_all_their_data(serve, marquee):
    client = serve()
    created = start_conversation(client, demographics={"age": 50})
    conversation, user = created["conversation_id"], created["user_id"]
    item = say(client, conversation, "a comedy from the 80s").json()["reply"]["items"][0]["id"]
    client.post(f"{API}/conversations/{conversation}/feedback", json={"item_id": item, "kind": "seen"}, headers=key())
    bystander = start_conversation(client)["conversation_id"]
    assert say(client, bystander, "a western").status_code == 200

    deleted = client.delete(f"{API}/users/{user}", headers=key())
    assert deleted.status_code == 200 and deleted.json() == {"user_id": user, "deleted": True}

    gone = client.get(f"{API}/conversations/{conversation}", headers=key())
    assert gone.status_code == 404 and error_code(gone) == "not_found"
    with Session(marquee.engine) as session:
        assert session.get(db.User, user) is None
        assert not session.exec(select(db.Conversation).where(db.Conversation.user_id == user)).all()
        assert not session.exec(select(db.Turn).where(db.Turn.conversation_id == conversation)).all()
        assert not session.exec(select(db.Feedback).where(db.Feedback.user_id == user)).all()
        assert len(session.exec(select(db.Turn).where(db.Turn.conversation_id == bystander)).all()) == 1
    again = client.delete(f"{API}/users/{user}", headers=key())
    assert again.status_code == 404 and error_code(again) == "not_found"


# --- keys, origins, ownership -----------------------------------------------------------------


def test_a_conversation_is_only_reachable_with_the_key_that_created_it(serve, marquee):
    client = serve()
    created = start_conversation(client, "shop-key")
    conversation, base = created["conversation_id"], f"{API}/conversations/{created['conversation_id']}"
    other = key("other-key")
    attempts = [
        client.get(base, headers=other),
        client.post(f"{base}/messages", json={"text": "a western"}, headers=other),
        client.post(f"{base}/messages/stream", json={"text": "a western"}, headers=other),
        client.post(f"{base}/feedback", json={"item_id": "1", "kind": "liked"}, headers=other),
        client.delete(f"{API}/users/{created['user_id']}", headers=other),
    ]
    assert [(r.status_code, error_code(r)) for r in attempts] == [(403, "forbidden")] * 5
    mine = client.get(base, headers=key("shop-key"))
    assert mine.status_code == 200 and mine.json()["turns"] == []
    assert marquee.has_conversation(conversation)

    from_the_ui = marquee.new_conversation()  # the Gradio UI's conversations have no site key
    refused = client.get(f"{API}/conversations/{from_the_ui}", headers=key("shop-key"))
    assert refused.status_code == 403 and error_code(refused) == "forbidden"


def test_a_missing_or_unknown_site_key_is_refused(serve):
    client = serve()
    missing = client.post(f"{API}/conversations", json={})
    assert missing.status_code == 401 and error_code(missing) == "missing_key"
    unknown = client.post(f"{API}/conversations", json={}, headers=key("stolen-key"))
    assert unknown.status_code == 401 and error_code(unknown) == "invalid_key"
    assert client.get("/healthz").status_code == 200


def test_cors_follows_each_keys_allow_list(serve):
    client = serve()
    preflight = client.options(f"{API}/conversations", headers={
        "Origin": SHOP, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-marquee-key"})
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == SHOP
    assert "X-Marquee-Key" in preflight.headers["access-control-allow-headers"]

    evil = client.options(f"{API}/conversations", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert evil.status_code == 403 and error_code(evil) == "origin_not_allowed"
    assert "access-control-allow-origin" not in evil.headers

    allowed = client.post(f"{API}/conversations", json={}, headers=key("shop-key", Origin=SHOP))
    assert allowed.status_code == 201 and allowed.headers["access-control-allow-origin"] == SHOP
    foreign = client.post(f"{API}/conversations", json={}, headers=key("shop-key", Origin=OTHER_SHOP))
    assert foreign.status_code == 403 and error_code(foreign) == "origin_not_allowed"
    assert "access-control-allow-origin" not in foreign.headers

    any_port = client.post(f"{API}/conversations", json={}, headers=key("dev-key", Origin="http://localhost:5173"))
    assert any_port.status_code == 201
    lookalike = client.post(f"{API}/conversations", json={},
                            headers=key("dev-key", Origin="http://localhost.evil.example"))
    assert lookalike.status_code == 403
    assert client.post(f"{API}/conversations", json={}, headers=key("shop-key")).status_code == 201  # no Origin


# --- bodies -----------------------------------------------------------------------------------


def test_oversize_bodies_are_refused_before_they_are_read(serve):
    client = serve(max_body_bytes=1024, max_picture_body_bytes=0)  # pictures off: messages obey the 1 KB limit
    conversation = start_conversation(client)["conversation_id"]
    url = f"{API}/conversations/{conversation}/messages"
    declared = client.post(url, json={"text": "x" * 2000}, headers=key())
    assert declared.status_code == 413 and error_code(declared) == "too_large"

    def chunks():  # no Content-Length: the limit is counted while reading
        yield b'{"text": "'
        for _ in range(40):
            yield b"y" * 100
        yield b'"}'

    chunked = client.post(url, content=chunks(), headers=key(**{"Content-Type": "application/json"}))
    assert chunked.status_code == 413 and error_code(chunked) == "too_large"
    assert client.get(f"{API}/conversations/{conversation}", headers=key()).json()["turns"] == []


def test_a_message_may_be_larger_than_other_bodies_because_it_can_carry_a_picture(serve):
    client = serve(max_body_bytes=1024, max_picture_body_bytes=64_000)
    conversation = start_conversation(client)["conversation_id"]
    big = {"text": "a comedy", "image": "data:image/png;base64," + "A" * 20_000}  # passes the size check...
    reply = client.post(f"{API}/conversations/{conversation}/messages", json=big, headers=key())
    assert reply.status_code == 400  # ...and is refused as a picture, with the API's own message
    assert "picture" in reply.json()["error"]["message"].lower()
    other = client.post(f"{API}/conversations", json={"user": "x" * 2000}, headers=key())
    assert other.status_code == 413 and error_code(other) == "too_large"


def test_malformed_bodies_get_clear_codes(serve):
    client = serve()
    conversation = start_conversation(client)["conversation_id"]
    url = f"{API}/conversations/{conversation}/messages"
    json_headers = key(**{"Content-Type": "application/json"})

    cases = {
        "malformed_json": client.post(url, content=b'{"text": "a western"', headers=json_headers),
        "unsupported_media_type": client.post(url, content=b"text=a western",
                                              headers=key(**{"Content-Type": "application/x-www-form-urlencoded"})),
    }
    assert (cases["malformed_json"].status_code, error_code(cases["malformed_json"])) == (400, "malformed_json")
    media = cases["unsupported_media_type"]
    assert (media.status_code, error_code(media)) == (415, "unsupported_media_type")

    for body, field in [({}, "text"), ({"text": ""}, "text"), ({"text": "hi", "mood": "happy"}, "mood"),
                        ({"text": "hi", "n_items": 0}, "n_items"), (["a western"], "body")]:
        response = client.post(url, json=body, headers=key())
        assert response.status_code == 422 and error_code(response) == "validation_error", body
        assert field in response.json()["error"]["message"]
    too_old = client.post(f"{API}/conversations", json={"demographics": {"age": 500}}, headers=key())
    assert too_old.status_code == 422 and "age" in too_old.json()["error"]["message"]

    for path in (url, f"{url}/stream"):
        blank = client.post(path, json={"text": "   \n\t "}, headers=key())
        assert blank.status_code == 400 and error_code(blank) == "bad_input"
        assert "empty" in blank.json()["error"]["message"]


def test_a_body_with_more_json_values_than_any_request_needs_is_refused_before_parsing(serve):
    client = serve()
    conversation = start_conversation(client)["conversation_id"]
    body = b'{"text": "a western", ' + b", ".join(b'"k%d": 1' % i for i in range(600_000)) + b"}"  # ~7.9 MB
    assert len(body) > 7_000_000
    refused = client.post(f"{API}/conversations/{conversation}/messages", content=body,
                          headers=key(**{"Content-Type": "application/json"}))
    assert refused.status_code == 413 and error_code(refused) == "too_large"
    nested = client.post(f"{API}/conversations", content=b"[" * 5000 + b"]" * 5000,
                         headers=key(**{"Content-Type": "application/json"}))
    assert nested.status_code == 413


def test_a_retried_message_or_feedback_is_stored_once(serve, marquee):
    from concurrent.futures import ThreadPoolExecutor

    client = serve()
    conversation = start_conversation(client)["conversation_id"]
    url = f"{API}/conversations/{conversation}"
    retry = key(**{"Idempotency-Key": "7d1c2b6e-message"})
    first = client.post(f"{url}/messages", json={"text": "any good westerns?"}, headers=retry)
    again = client.post(f"{url}/messages", json={"text": "any good westerns?"}, headers=retry)
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert len(marquee.turns(conversation)) == 1
    reused = client.post(f"{url}/messages", json={"text": "a comedy"}, headers=retry)
    assert reused.status_code == 400 and "Idempotency-Key" in reused.json()["error"]["message"]

    with ThreadPoolExecutor(4) as pool:  # a client that retries before the first answer came back
        racing = list(pool.map(lambda _: client.post(f"{url}/messages", json={"text": "something newer"},
                                                     headers=key(**{"Idempotency-Key": "race"})), range(4)))
    assert {r.status_code for r in racing} == {200} and len({r.text for r in racing}) == 1
    assert len(marquee.turns(conversation)) == 2

    item = first.json()["reply"]["items"][0]["id"]
    liked = [client.post(f"{url}/feedback", json={"item_id": item, "kind": "liked"},
                         headers=key(**{"Idempotency-Key": "like-1"})) for _ in range(3)]
    assert [r.status_code for r in liked] == [200] * 3
    with Session(marquee.engine) as session:
        assert len(session.exec(select(db.Feedback).where(db.Feedback.conversation_id == conversation)).all()) == 1
    too_long = client.post(f"{url}/feedback", json={"item_id": item, "kind": "seen"},
                           headers=key(**{"Idempotency-Key": "x" * 500}))
    assert too_long.status_code == 422


def test_unknown_routes_ids_and_methods(serve):
    client = serve()
    route = client.get(f"{API}/recommendations", headers=key())
    assert route.status_code == 404 and error_code(route) == "not_found"
    missing = client.get(f"{API}/conversations/0123456789abcdef", headers=key())
    assert missing.status_code == 404 and error_code(missing) == "not_found"
    message = say(client, "0123456789abcdef", "a western")
    assert message.status_code == 404 and error_code(message) == "not_found"
    method = client.put(f"{API}/conversations/0123456789abcdef", json={}, headers=key())
    assert method.status_code == 405 and error_code(method) == "method_not_allowed"
    assert "GET" in method.headers["allow"]


# --- limits and failures ----------------------------------------------------------------------


def test_rate_limits_per_ip_and_per_key_answer_429_with_retry_after(serve):
    per_ip = serve(rate_limit_ip_per_min=3, rate_limit_key_per_min=0)
    for _ in range(3):
        assert per_ip.get(f"{API}/conversations/nope", headers=key()).status_code == 404
    limited = per_ip.get(f"{API}/conversations/nope", headers=key("shop-key", Origin=SHOP))
    assert limited.status_code == 429 and error_code(limited) == "rate_limited"
    assert 1 <= int(limited.headers["retry-after"]) <= 20
    assert limited.headers["access-control-allow-origin"] == SHOP  # a widget can read why

    per_key = serve(rate_limit_ip_per_min=0, rate_limit_key_per_min=2)
    assert [per_key.post(f"{API}/conversations", json={}, headers=key()).status_code for _ in range(2)] == [201, 201]
    third = per_key.post(f"{API}/conversations", json={}, headers=key())
    assert third.status_code == 429 and error_code(third) == "rate_limited"
    assert "site key" in third.json()["error"]["message"] and int(third.headers["retry-after"]) >= 1
    assert per_key.post(f"{API}/conversations", json={}, headers=key("other-key")).status_code == 201


def test_server_failures_have_codes_and_no_details(serve, marquee, monkeypatch):
    client = serve()
    conversation = start_conversation(client)["conversation_id"]

    def broken(*_args, **_kwargs):
        raise RuntimeError("database password is hunter2")

    monkeypatch.setattr(marquee, "respond", broken)
    crashed = say(client, conversation, "a western")
    assert crashed.status_code == 500 and error_code(crashed) == "internal_error"
    assert "hunter2" not in crashed.text
    streamed = client.post(f"{API}/conversations/{conversation}/messages/stream", json={"text": "a western"},
                           headers=key())
    assert streamed.status_code == 200
    assert [name for name, _ in sse_events(streamed)] == ["start", "error"]
    assert sse_events(streamed)[1][1]["error"]["code"] == "internal_error" and "hunter2" not in streamed.text

    def llm_down(*_args, **_kwargs):
        raise LLMError("endpoint timed out")

    monkeypatch.setattr(marquee, "respond", llm_down)
    unavailable = say(client, conversation, "a western")
    assert unavailable.status_code == 503 and error_code(unavailable) == "service_unavailable"


# --- what else the app serves -----------------------------------------------------------------


def test_health_widget_script_and_a_complete_openapi_schema(serve, marquee):
    client = serve()
    assert client.get("/healthz").json() == {"status": "ok", "items": len(marquee.catalog)}
    widget = client.get("/widget.js")
    assert widget.status_code == 200 and widget.headers["content-type"].startswith("text/javascript")
    assert "attachShadow" in widget.text and "innerHTML" not in widget.text

    schema = client.get(f"{API}/openapi.json").json()
    assert set(schema["paths"]) == {
        f"{API}/conversations", f"{API}/conversations/{{conversation_id}}",
        f"{API}/conversations/{{conversation_id}}/messages", f"{API}/conversations/{{conversation_id}}/messages/stream",
        f"{API}/conversations/{{conversation_id}}/feedback", f"{API}/users/{{user_id}}",
        f"{API}/items/{{item_id}}/image", "/healthz",
    }
    components = schema["components"]["schemas"]
    for name in ("ConversationCreate", "MessageCreate", "MessageReply", "ItemOut", "ConversationHistory",
                 "FeedbackCreate", "FeedbackState", "UserDeleted", "ErrorResponse",
                 "StreamStart", "StreamText", "StreamItems", "StreamDone"):
        assert name in components, name
    codes = components["ErrorBody"]["properties"]["code"]["enum"]
    assert {"validation_error", "malformed_json", "forbidden", "rate_limited", "too_large", "not_found"} <= set(codes)
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if path.startswith(API) and not path.endswith("/image"):
                assert {"401", "403", "422", "429"} <= set(operation["responses"]), (method, path)
                assert operation["security"] == [{"APIKeyHeader": []}]
    stream = schema["paths"][f"{API}/conversations/{{conversation_id}}/messages/stream"]["post"]
    assert "text/event-stream" in stream["responses"]["200"]["content"]


@pytest.fixture
def poster_marquee(demo_deps, demo_workspace, tmp_path) -> Marquee:
    """The demo catalog where every western has a poster file."""
    poster = tmp_path / "posters" / "western.png"
    poster.parent.mkdir()
    Image.new("RGB", (40, 60), (180, 40, 40)).save(poster)
    items = [item.model_copy(update={"image": str(poster)}) if "Western" in item.genres else item
             for item in demo_deps.catalog]
    settings = Settings(workspace=demo_workspace, database_url=f"sqlite:///{tmp_path / 'posters.db'}",
                        image_folder=poster.parent)  # posters are served only from allowed folders
    return Marquee(settings, dataclasses.replace(demo_deps, catalog=Catalog(items)))


def test_posters_get_urls_a_browser_can_load(serve, poster_marquee):
    client = serve(over=poster_marquee)
    conversation = start_conversation(client)["conversation_id"]
    items = say(client, conversation, "any good westerns?").json()["reply"]["items"]
    base = str(client.base_url).rstrip("/")
    assert items and all(i["image"] == f"{base}{API}/items/{i['id']}/image" for i in items)
    image = httpx.get(items[0]["image"])
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert image.content.startswith(b"\x89PNG")
    no_poster = client.get(f"{API}/items/1/image")  # Toy Story: no poster in this catalog
    assert no_poster.status_code == 404 and error_code(no_poster) == "not_found"


# --- the Gradio UI mounted at / ---------------------------------------------------------------


def test_gradio_client_works_against_the_mounted_ui(serve):
    client = serve(ui=True)
    gradio = Client(str(client.base_url), headers=key(), verbose=False)
    result = gradio.predict("any good westerns?", "", api_name="/recommend")
    assert len(result["items"]) == 5 and all("Western" in i["genres"] for i in result["items"])
    state = gradio.predict(result["conversation"], result["items"][0]["id"], "liked", api_name="/feedback")
    assert result["items"][0]["id"] in state["liked"]
    assert client.get("/").status_code == 200


def test_the_ui_can_require_a_login_without_locking_out_the_api(serve):
    client = serve(ui=True, ui_auth="admin:s3cret")
    with pytest.raises(Exception, match="credentials were not provided"):
        Client(str(client.base_url), verbose=False)
    gradio = Client(str(client.base_url), auth=("admin", "s3cret"), headers=key(), verbose=False)
    assert gradio.predict("a western", "", api_name="/recommend")["items"]
    assert client.post(f"{API}/conversations", json={}, headers=key()).status_code == 201


def test_a_catalog_image_path_outside_the_allowed_folders_is_never_served(tmp_path):
    from marquee.web import Posters

    catalog_folder = tmp_path / "catalog"
    catalog_folder.mkdir()
    inside = catalog_folder / "p.png"
    inside.write_bytes(b"png")
    outside = tmp_path / "secret.png"
    outside.write_bytes(b"png")
    posters = Posters(catalog_folder)
    assert posters.path("p.png") == inside.resolve()
    assert posters.path(str(outside)) is None
    assert posters.path("../secret.png") is None


@pytest.mark.parametrize("threads", [1, 3])
def test_a_worker_computes_at_most_turn_threads_turns_at_once(serve, marquee, monkeypatch, threads):
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    running, most, guard = [0], [0], threading.Lock()
    respond = marquee.respond

    def counted(*args, **kwargs):
        with guard:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.3)  # long enough for the other requests to arrive meanwhile
        try:
            return respond(*args, **kwargs)
        finally:
            with guard:
                running[0] -= 1

    monkeypatch.setattr(marquee, "respond", counted)
    client = serve(turn_threads=threads)
    conversations = [start_conversation(client)["conversation_id"] for _ in range(4)]

    def send(conversation_id: str) -> int:
        return client.post(f"{API}/conversations/{conversation_id}/messages", json={"text": "a comedy"},
                           headers=key()).status_code

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert list(pool.map(send, conversations)) == [200] * 4
    assert most[0] == threads
