"""Cold start on a fresh clone: the demographic taste model shipped in data/demo, with no setting.

A newcomer runs Marquee as cloned (no MARQUEE_DEMOGRAPHICS_DIR, no ../shared): a new user who
tells their age, gender and occupation and asks "what should I watch tonight?" gets a list on
the first turn, through the HTTP API and through the Gradio UI; "why these?" shows what was
assumed and "not into those" drops it.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from marquee import db
from marquee.doors import Guard
from marquee.errors import ConfigError
from marquee.service import GivenDemographics, Marquee
from marquee.startup import attach_cold_start
from marquee.settings import DEMO_CATALOG
from marquee.ui import build_ui
from marquee.web import create_app
from prompts.cold_start import ASSUMPTIONS_DROPPED, NOTE_NO_DEMOGRAPHIC_MODEL
from retrieval.demographics import Demographics
from retrieval.taste_model import load_taste_model

TONIGHT = "what should I watch tonight?"
KEY = {"X-Marquee-Key": "k"}
MODEL = DEMO_CATALOG / "demographic_taste.npz"


@pytest.fixture
def client(marquee):
    settings = marquee.settings.model_copy(update={"site_keys": {"k": ["http://localhost:*"]}})
    with TestClient(create_app(marquee, settings, ui=False)) as client:
        yield client


def start(client, demographics: dict | None) -> dict:
    created = client.post("/api/v1/conversations", headers=KEY,
                          json={"demographics": demographics} if demographics is not None else {})
    assert created.status_code == 201, created.text
    return created.json()


def say(client, conversation: str, text: str) -> dict:
    answered = client.post(f"/api/v1/conversations/{conversation}/messages", headers=KEY, json={"text": text})
    assert answered.status_code == 200, answered.text
    return answered.json()["reply"]


def tools_called(marquee: Marquee, conversation: str) -> list[list[str]]:
    with Session(marquee.engine) as session:
        turns = db.list_turns(session, conversation)
        return [[c.tool for c in session.exec(select(db.ToolCall).where(db.ToolCall.turn_id == t.id))] for t in turns]


def test_the_shipped_model_is_configured_by_default(marquee):
    assert marquee.settings.demographics_dir is None
    assert "cold_start" in marquee.deps.extras


def test_through_the_api_demographics_alone_get_a_personalised_list_on_the_first_turn(client, marquee):
    young = start(client, {"age": 24, "gender": "F", "occupation": "student"})
    reply = say(client, young["conversation_id"], TONIGHT)

    assert reply["question"] is False and len(reply["items"]) == 5
    assert NOTE_NO_DEMOGRAPHIC_MODEL not in reply["notes"]
    assert "cold_start" in tools_called(marquee, young["conversation_id"])[0]

    older = start(client, {"age": 65, "occupation": "retired"})
    other = say(client, older["conversation_id"], TONIGHT)
    assert len(other["items"]) == 5
    assert [i["id"] for i in other["items"]] != [i["id"] for i in reply["items"]]  # the profile shapes the list


def test_without_demographics_the_first_turn_still_asks(client):
    anonymous = start(client, None)
    reply = say(client, anonymous["conversation_id"], TONIGHT)
    assert reply["question"] is True and reply["items"] == []


def test_a_group_is_cited_only_where_the_model_backs_it(client, marquee):
    conversation = start(client, {"age": 24, "gender": "F", "occupation": "student"})["conversation_id"]
    items = say(client, conversation, TONIGHT)["items"]
    profile = marquee.demographics(conversation)
    taste = marquee.deps.extras["cold_start"].neighbours
    for item in items:
        if "popular with" in item["why"].lower():
            backed = taste.evidence(profile, [item["id"]])
            assert item["id"] in backed
            assert backed[item["id"]].genre in item["genres"]


def test_bad_demographics_are_ignored_with_a_note(client, marquee):
    conversation = start(client, {"age": 33, "gender": "nonbinary", "occupation": "astronaut"})["conversation_id"]
    reply = say(client, conversation, TONIGHT)
    assert len(reply["items"]) == 5  # the age alone still starts a list
    assert any("nonbinary" in note for note in reply["notes"]) and any("astronaut" in note for note in reply["notes"])
    assert marquee.demographics(conversation) == Demographics(age_group="25-34")
    # an age out of range is refused by the API's schema with a message naming the field
    refused = client.post("/api/v1/conversations", headers=KEY, json={"demographics": {"age": -3}})
    assert refused.status_code == 422 and "age" in refused.json()["error"]["message"]


def test_demographics_are_deleted_with_the_user(client, marquee):
    created = start(client, {"age": 40, "gender": "M", "occupation": "lawyer"})
    say(client, created["conversation_id"], TONIGHT)
    assert client.delete(f"/api/v1/users/{created['user_id']}", headers=KEY).status_code == 200
    with Session(marquee.engine) as session:
        assert session.get(db.User, created["user_id"]) is None
        assert session.get(db.Conversation, created["conversation_id"]) is None


def _handler(demo, name: str):
    return next(f.fn for f in demo.fns.values() if getattr(f.fn, "__name__", "") == name)


def test_through_the_gradio_ui_the_about_you_panel_gets_a_list_on_the_first_turn(marquee):
    guard = Guard.from_settings(marquee.settings.model_copy(update={"ui_secret": "x" * 16}), marquee.engine)
    on_send = _handler(build_ui(marquee, guard), "on_send")
    *_, last = on_send({"text": TONIGHT, "files": []}, None, "18-24", "Female", "college/grad student", None)
    messages, token = last[1], last[2]
    conversation = guard.browser_conversation(token)

    assert conversation is not None
    reply = marquee.turns(conversation)[-1].reply_model()
    assert len(reply.items) == 5
    assert "no demographic data" not in str(messages[-1]["content"])
    assert marquee.demographics(conversation) == Demographics(
        age_group="18-24", gender="F", occupation="college/grad student")
    assert "cold_start" in tools_called(marquee, conversation)[0]


def test_why_these_shows_what_was_assumed_and_not_into_those_drops_it(marquee):
    conversation = marquee.new_conversation(demographics=GivenDemographics(age=30, gender="M", occupation="programmer"))
    first = marquee.respond(conversation, TONIGHT)
    assert len(first.reply.items) == 5

    why = marquee.respond(conversation, "why these?")
    assert why.reply.items == [] and "25-34" in why.reply.text and "imagined" in why.reply.text
    assert "from the 19" in why.reply.text or "from the 20" in why.reply.text  # the eras assumed

    dropped = marquee.respond(conversation, "not into those")  # nothing else to go on: it asks
    assert dropped.reply.question and ASSUMPTIONS_DROPPED in dropped.reply.notes

    later = marquee.respond(conversation, "a comedy then")
    assert len(later.reply.items) == 5 and all("Comedy" in i.genres for i in later.reply.items)
    assert "cold_start" not in tools_called(marquee, conversation)[-1]
    assert not any("popular with" in i.why.lower() for i in later.reply.items)
    assert "imagined" not in marquee.respond(conversation, "why these?").reply.text


def test_the_shipped_model_holds_only_aggregates_of_at_least_20_users():
    model = load_taste_model(MODEL)
    arrays = model.arrays
    assert MODEL.stat().st_size < 1_000_000
    assert arrays["cell_users"].min() >= 20 and arrays["group_users"].min() >= 20
    assert arrays["evidence_fans"].min() >= 20
    assert not any("user" in name and name not in ("cell_users", "group_users") for name in arrays)
    assert model.meta["min_users"] == 20 and model.meta["users"] > 1000
    row = model.cell_items[0]
    assert np.all((row > 0) & (row < 1))  # smoothed: no cell says never or always


def test_a_broken_model_file_is_a_config_error_naming_the_setting(demo_deps, tmp_path):
    broken = tmp_path / "taste.npz"
    broken.write_bytes(b"not a model")
    settings = demo_deps.settings.model_copy(update={"demographic_model": broken})
    with pytest.raises(ConfigError, match="MARQUEE_DEMOGRAPHIC_MODEL"):
        attach_cold_start(dataclasses.replace(demo_deps, settings=settings, extras={}), settings)


def test_the_model_can_be_turned_off(monkeypatch):
    from marquee.settings import Settings

    monkeypatch.setenv("MARQUEE_DEMOGRAPHIC_MODEL", "none")
    assert Settings().demographic_model is None
    monkeypatch.setenv("MARQUEE_DEMOGRAPHIC_MODEL", "")
    assert Settings().demographic_model is None


@pytest.mark.parametrize("text, cue", [
    ("why these?", "why"), ("Why did you pick these ones?", "why"), ("what did you assume about me", "why"),
    ("not into those", "drop"), ("None of these, sorry", "drop"), ("that’s not me", "drop"),
    ("why not a comedy?", None), ("something like those", None), ("a thriller, not too long", None),
])
def test_the_rule_parser_reads_questions_about_and_rejections_of_the_assumed_taste(demo_deps, text, cue):
    from chat.parser import ParseContext
    from chat.rule_parser import RuleParser

    shown = [demo_deps.catalog.get(i) for i in ("1", "2", "3")]
    update = RuleParser(demo_deps.catalog).parse(text, ParseContext(shown=shown))
    assert update.assumptions == cue
    if cue is not None:
        assert update.refers_to_shown == []  # "none of these" does not ask for more like them
        assert update.intent == ("other" if cue == "why" else "refine")
