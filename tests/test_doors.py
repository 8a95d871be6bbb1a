"""Every door is guarded: the Gradio UI's own handlers, its gradio_client API and raw
``/gradio_api/...`` calls obey the same rules as the JSON API.

The attacker here calls the UI's internal handlers the way the page does (``/gradio_api/queue/join``
with the handler's ``fn_index`` from ``/config``), with a victim's conversation id, a forged
credential, another site's key, or no key at all.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack

import httpx
import pytest
from gradio_client import Client
from sqlmodel import Session, select
from typer.testing import CliRunner

from marquee import db
from marquee.web import create_app
from marquee.serving import serve_in_thread

KEYS = {"shop-key": ["https://shop.example"], "other-key": ["https://other.example"]}
SECRET = "a-test-secret-of-32-characters!!"
SKIP = "Prefer not to say"


class Page:
    """What a browser tab does: it calls the UI's handlers by fn_index over the queue."""

    def __init__(self, http: httpx.Client):
        self.http = http
        self.config = http.get("/config").json()
        self.session = uuid.uuid4().hex

    def fn(self, elem_id: str | None, event: str) -> int:
        ids = {c["id"] for c in self.config["components"] if c.get("props", {}).get("elem_id") == elem_id}
        for dependency in self.config["dependencies"]:
            if any((elem_id is None or target[0] in ids) and target[1] == event for target in dependency["targets"]):
                return dependency["id"]
        raise LookupError(f"no {event} handler on {elem_id}")

    def call(self, fn_index: int, data: list, event_data: dict | None = None) -> dict:
        """The handler's last message: ``{"success": bool, "output": {"data": [...]} or {"error": ...}}``."""
        joined = self.http.post("/gradio_api/queue/join", json={
            "data": data, "fn_index": fn_index, "session_hash": self.session, "event_data": event_data,
            "trigger_id": None})
        if joined.status_code != 200:
            return {"status": joined.status_code, "headers": joined.headers, "success": False}
        event_id = joined.json()["event_id"]
        with self.http.stream("GET", "/gradio_api/queue/data", params={"session_hash": self.session}) as stream:
            for line in stream.iter_lines():
                if not line.startswith("data:"):
                    continue
                message = json.loads(line[5:])
                if message.get("event_id") == event_id and message.get("msg") == "process_completed":
                    return message
        raise AssertionError("the queue closed without an answer")

    def send(self, token: str | None, text: str, about=(SKIP, SKIP, SKIP)) -> dict:
        return self.call(self.fn("mq-input", "submit"), [{"text": text, "files": []}, token, *about])

    def load(self, token: str | None) -> dict:
        return self.call(self.fn(None, "load"), [token])


@pytest.fixture
def serve(marquee) -> Iterator[Callable[..., httpx.Client]]:
    with ExitStack() as stack:
        def start(**overrides) -> httpx.Client:
            settings = marquee.settings.model_copy(update={"site_keys": KEYS, "ui_secret": SECRET, **overrides})
            url = stack.enter_context(serve_in_thread(create_app(marquee, settings), settings=settings))
            return stack.enter_context(httpx.Client(base_url=url, timeout=120))

        yield start


def output(message: dict) -> list:
    assert message["success"], message
    return message["output"]["data"]


def counts(marquee) -> dict[str, int]:
    with Session(marquee.engine) as session:
        return {table.__name__: len(session.exec(select(table)).all())
                for table in (db.User, db.Conversation, db.Turn, db.ToolCall, db.Feedback, db.RequestKey)}


def test_another_browsers_conversation_can_be_neither_read_written_nor_reset(serve, marquee):
    http = serve()
    victim = Page(http)
    token, = output(victim.send(None, "a comedy from the 80s", ("25-34", "Female", SKIP)))[2:3]
    conversation_id = token.split(".")[1]
    assert marquee.demographics(conversation_id).age_group == "25-34"
    before = counts(marquee)

    attacker = Page(http)
    forged = [conversation_id, f"v1.{conversation_id}.forged", token.rsplit(".", 1)[0] + ".AAAA", "", None]
    for credential in forged:
        loaded = output(attacker.load(credential))
        assert loaded[0] is None and loaded[1] == []  # no history, and the forged credential is dropped
        assert output(attacker.call(attacker.fn("mq-reset", "click"), [credential])) == [[]]
        liked = attacker.call(attacker.fn("mq-bridge", "click"), [credential], {"item": "1", "kind": "liked"})
        assert not liked["success"]
        output(attacker.call(attacker.fn("mq-delete-confirm", "click"), [credential]))
        output(attacker.call(attacker.fn("mq-age", "input"), [SKIP, SKIP, SKIP, credential]))
    assert counts(marquee) == before
    assert marquee.demographics(conversation_id).age_group == "25-34"  # not wiped by "Prefer not to say"

    # sending with a forged credential starts the attacker's own conversation, never the victim's
    sent = output(attacker.send(conversation_id, "a western"))
    assert sent[2] != token and sent[2].split(".")[1] != conversation_id
    assert len(marquee.turns(conversation_id)) == 1

    # the victim's own browser still opens it
    history = output(victim.load(token))[1]
    assert [m["role"] for m in history] == ["user", "assistant"] and "80s" in json.dumps(history[0]["content"])


def test_a_site_key_reaches_only_its_own_conversations_through_gradio_client(serve, marquee):
    http = serve()
    shop = Client(str(http.base_url), headers={"X-Marquee-Key": "shop-key"}, verbose=False)
    other = Client(str(http.base_url), headers={"X-Marquee-Key": "other-key"}, verbose=False)
    first = shop.predict("any good westerns?", "", api_name="/recommend")
    conversation, item = first["conversation"], first["items"][0]["id"]
    browser_token = output(Page(http).send(None, "a comedy"))[2]
    browser_conversation = browser_token.split(".")[1]
    before = counts(marquee)

    for target in (conversation, browser_conversation):
        with pytest.raises(Exception, match="another site key"):
            other.predict("more like that", target, api_name="/recommend")
        with pytest.raises(Exception, match="another site key"):
            other.predict(target, item, "liked", api_name="/feedback")
        with pytest.raises(Exception, match="another site key"):
            other.predict(target, api_name="/reset")
    with pytest.raises(Exception, match="another site key"):
        shop.predict("more", browser_conversation, api_name="/recommend")  # a browser's, not the shop's
    assert counts(marquee) == before
    assert marquee.state(conversation).has_request()


def test_raw_gradio_calls_without_a_key_change_nothing(serve, marquee):
    http = serve()
    started = http.post("/gradio_api/call/recommend", json={"data": ["any good westerns?", "", ""]})
    assert started.status_code == 200
    result = http.get(f"/gradio_api/call/recommend/{started.json()['event_id']}").text
    assert "event: error" in result and "site key" in result
    assert counts(marquee)["Conversation"] == 0


def test_gradio_routes_are_rate_limited_with_retry_after(serve, marquee):
    http = serve(rate_limit_ip_per_min=5)
    statuses = [http.post("/gradio_api/call/recommend", json={"data": ["a western", "", ""]}).status_code
                for _ in range(6)]
    assert statuses[:5] == [200] * 5
    assert statuses[5] == 429
    limited = http.post("/gradio_api/queue/join", json={"data": [], "fn_index": 0, "session_hash": "x"})
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    assert limited.json()["error"]["code"] == "rate_limited"
    assert http.get("/healthz").status_code == 200  # pages and health checks are not counted


def test_anonymous_users_cannot_be_minted_without_limit(serve, marquee):
    http = serve(rate_limit_new_users_per_min=2)
    page = Page(http)
    answers = [output(page.send(None, "a western")) for _ in range(3)]
    assert [a[2] is not None for a in answers] == [True, True, False]
    assert "too many requests" in json.dumps(answers[2][1][-1]["content"])
    assert counts(marquee)["User"] == 2


def test_gradio_bodies_are_limited_in_size_and_shape(serve):
    small = serve(max_body_bytes=2048, max_picture_body_bytes=0)
    big = small.post("/gradio_api/call/recommend", json={"data": ["x" * 5000, "", ""]})
    assert big.status_code == 413 and big.json()["error"]["code"] == "too_large"
    http = serve()
    many_keys = b"{" + b",".join(b'"k%d":1' % i for i in range(30_000)) + b"}"  # 300 KB: under the size limit
    refused = http.post("/gradio_api/queue/join", content=many_keys, headers={"Content-Type": "application/json"})
    assert refused.status_code == 413 and "JSON values" in refused.json()["error"]["message"]


def test_a_browser_user_deletes_their_data_and_it_is_gone_from_every_table(serve, marquee):
    http = serve()
    page = Page(http)
    bystander = output(page.send(None, "a western"))[2]
    sent = output(page.send(None, "a comedy from the 80s", ("56+", "Female", "retired")))
    token = sent[2]
    conversation = token.split(".")[1]
    user = marquee.user_of(conversation)
    item = marquee.turns(conversation)[0].reply_model().items[0].id
    assert output(page.call(page.fn("mq-bridge", "click"), [token], {"item": item, "kind": "liked"}))
    marquee.respond(conversation, "newer", request_key="retry-1")
    before = counts(marquee)

    deleted = output(page.call(page.fn("mq-delete-confirm", "click"), [token]))
    assert deleted[0] is None and deleted[1] == []
    with Session(marquee.engine) as session:
        assert session.get(db.User, user) is None
        assert session.get(db.Conversation, conversation) is None
        for table in (db.Turn, db.Feedback, db.RequestKey):
            assert not session.exec(select(table).where(table.conversation_id == conversation)).all()
    after = counts(marquee)
    assert after["User"] == before["User"] - 1 and after["Turn"] == 1 and after["Feedback"] == 0
    assert after["ToolCall"] > 0 and after["RequestKey"] == 0  # the bystander's tool calls remain
    assert output(page.load(token))[1] == []  # the old credential opens nothing now
    assert output(page.load(bystander))[1]


def test_an_operator_deletes_a_user_from_the_command_line(marquee, monkeypatch):
    from marquee import cli

    conversation = marquee.respond(None, "a western").conversation_id
    user = marquee.user_of(conversation)
    monkeypatch.setenv("MARQUEE_DATABASE_URL", marquee.settings.resolved_database_url)
    runner = CliRunner()
    done = runner.invoke(cli.app, ["users", "delete", user])
    assert done.exit_code == 0, done.output
    assert "1 conversations" in done.output and "1 messages" in done.output
    assert counts(marquee)["User"] == 0 and counts(marquee)["Turn"] == 0
    again = runner.invoke(cli.app, ["users", "delete", user])
    assert again.exit_code == 1 and "no user" in again.output
