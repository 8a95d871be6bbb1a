"""The one function every surface calls: ``Marquee.respond``. UI, API, CLI and evals adapt it.

``Marquee.open(settings)`` builds the catalog, the encoder, the vector store, the keyword index,
the collaborative model and the database once per process; a turn is then
parse → merge → plan → persist.
"""

from __future__ import annotations

import logging
import threading
import time
import unicodedata
from collections import defaultdict
from pathlib import Path

from pydantic import BaseModel, Field
from sqlmodel import Session

from chat.parser import ParseContext, PreferenceParser
from chat.planning import Planner, TurnInput
from chat.policy import PolicyPlanner
from chat.rule_parser import RuleParser
from chat.schemas import FeedbackKind, PreferenceState, PreferenceUpdate, Reply
from chat.state import merge
from marquee import db
from marquee.errors import BadInput, NotFound
from marquee.settings import Settings
from tools.base import ToolDeps

log = logging.getLogger(__name__)

STAGES = {"search": "retrieve", "similar": "retrieve", "filter": "rank", "rank": "rank", "explain": "explain", "ask": "plan"}


class TurnResult(BaseModel):
    """What one turn produced, for any surface."""

    conversation_id: str
    reply: Reply
    update: PreferenceUpdate
    state: PreferenceState
    timings_ms: dict[str, float] = Field(default_factory=dict)


def clean_utterance(text: str, *, max_chars: int) -> tuple[str, list[str]]:
    """Strip control characters and cap the length. Raises ``BadInput`` when nothing is left."""
    if not isinstance(text, str):
        raise BadInput("a message must be text")
    notes: list[str] = []
    kept = "".join(c if c in "\n\t" or unicodedata.category(c)[0] != "C" else " " for c in text)
    kept = " ".join(kept.split())
    if not kept:
        raise BadInput("the message is empty: type what you'd like to watch")
    if len(kept) > max_chars:
        kept = kept[:max_chars]
        notes.append(f"Your message was long, so I only read its first {max_chars} characters.")
    return kept, notes


def load_deps(settings: Settings, *, progress: bool = True) -> ToolDeps:
    """Build every read-only resource once: catalog, encoder, store, keyword index, CF model."""
    from retrieval.catalog import load_catalog
    from retrieval.cf import load_or_fit
    from retrieval.encoder import load_text_encoder
    from retrieval.search import KeywordIndex
    from retrieval.store import open_item_store

    catalog = load_catalog(Path(settings.catalog))
    encoder = load_text_encoder(settings)
    store = open_item_store(settings, catalog, encoder, progress=progress)
    ratings = Path(settings.catalog) / "ratings.csv"
    cf = load_or_fit(ratings, settings.workspace / "cf") if ratings.exists() else None
    return ToolDeps(catalog=catalog, store=store, encoder=encoder, keywords=KeywordIndex(catalog), cf=cf, settings=settings)


def build_agents(settings: Settings, deps: ToolDeps) -> tuple[PreferenceParser, Planner]:
    """The rule parser and policy planner, or their LLM versions when an endpoint is configured."""
    rules, policy = RuleParser(deps.catalog), PolicyPlanner()
    if not settings.llm_enabled:
        return rules, policy
    from chat.llm import build_chat_model
    from chat.llm_parser import LLMParser
    from chat.llm_planner import LLMPlanner

    model = build_chat_model(settings)
    parser = LLMParser(model, deps.catalog, fallback=rules, max_retries=settings.llm_max_retries)
    return parser, LLMPlanner(model, fallback=policy)


class Marquee:
    """A conversational recommender over one catalog, one store and one database."""

    def __init__(self, settings: Settings, deps: ToolDeps, *, parser: PreferenceParser | None = None,
                 planner: Planner | None = None):
        self.settings = settings
        self.deps = deps
        default_parser, default_planner = build_agents(settings, deps)
        self.parser = parser or default_parser
        self.planner = planner or default_planner
        self.engine = db.make_engine(settings.resolved_database_url)
        self._locks: dict[str, threading.Lock] = defaultdict(threading.Lock)

    @classmethod
    def open(cls, settings: Settings, *, progress: bool = True) -> "Marquee":
        return cls(settings, load_deps(settings, progress=progress))

    @property
    def catalog(self):
        return self.deps.catalog

    def new_conversation(self, *, demographics: db.UserBase | None = None, owner_key: str | None = None) -> str:
        with Session(self.engine) as session:
            user = db.create_user(session, demographics=demographics)
            return db.create_conversation(session, user=user, owner_key=owner_key).id

    def has_conversation(self, conversation_id: str) -> bool:
        with Session(self.engine) as session:
            return session.get(db.Conversation, conversation_id) is not None

    def respond(self, conversation_id: str | None, utterance: str, *, n_items: int | None = None) -> TurnResult:
        """Answer one utterance in a conversation (a new one when ``conversation_id`` is None)."""
        started = time.perf_counter()
        text, notes = clean_utterance(utterance, max_chars=self.settings.max_utterance_chars)
        conversation_id = conversation_id or self.new_conversation()
        with self._locks[conversation_id], Session(self.engine) as session:
            conversation = db.get_conversation(session, conversation_id)
            state = conversation.preferences()
            timings: dict[str, float] = {}

            t0 = time.perf_counter()
            context = ParseContext(
                shown=[self.catalog.get(i) for i in state.last_shown_ids if self.catalog.get(i)],
                history=[
                    pair for t in db.list_turns(session, conversation_id)[-3:]
                    for pair in (("user", t.utterance), ("assistant", t.reply_model().text))
                ],
            )
            update = self.parser.parse(text, context)
            update.notes = [*notes, *update.notes]
            new_state = merge(state, update, self.catalog)
            timings["parse"] = (time.perf_counter() - t0) * 1000

            t0 = time.perf_counter()
            turn = TurnInput(
                utterance=text, update=update, state=new_state,
                history=db.user_history(session, conversation.user_id),
                n_items=n_items or self.settings.n_recommendations,
            )
            result = self.planner.respond(turn, deps=self.deps)
            timings["plan"] = (time.perf_counter() - t0) * 1000
            for call in result.buffer.calls:
                stage = STAGES.get(call["tool"], "plan")
                timings[stage] = timings.get(stage, 0.0) + call.get("ms", 0.0)

            reply = result.reply
            shown = [card.id for card in reply.items]
            if shown:
                new_state.last_shown_ids = shown
                new_state.shown_ids = list(dict.fromkeys([*new_state.shown_ids, *shown]))
            t0 = time.perf_counter()
            db.add_turn(
                session, conversation=conversation, utterance=text, parsed=update.model_dump_json(),
                reply=reply, tool_calls=result.buffer.calls, parser=type(self.parser).__name__,
                planner=type(self.planner).__name__, latency_ms=(time.perf_counter() - started) * 1000,
                state=new_state,
            )
            timings["persist"] = (time.perf_counter() - t0) * 1000
            timings["total"] = (time.perf_counter() - started) * 1000
        return TurnResult(conversation_id=conversation_id, reply=reply, update=update, state=new_state, timings_ms=timings)

    def note_shown(self, conversation_id: str, item_ids: list[str]) -> PreferenceState:
        """Record items shown by someone else in this conversation (a human recommender in a
        replayed dialogue): they become "the ones shown" for references and are not repeated."""
        with self._locks[conversation_id], Session(self.engine) as session:
            conversation = db.get_conversation(session, conversation_id)
            state = conversation.preferences()
            known = [i for i in item_ids if i in self.catalog]
            if known:
                state.last_shown_ids = known
                state.shown_ids = list(dict.fromkeys([*state.shown_ids, *known]))
                db.save_state(session, conversation=conversation, state=state)
            return state

    def feedback(self, conversation_id: str, item_id: str, kind: FeedbackKind) -> PreferenceState:
        """Record like / dislike / seen on an item; later turns exclude or favour it."""
        if kind not in db.FEEDBACK_WEIGHTS:
            raise BadInput(f"unknown feedback {kind!r}: use liked, disliked or seen")
        if item_id not in self.catalog:
            raise NotFound(f"no item {item_id!r} in the catalog")
        with self._locks[conversation_id], Session(self.engine) as session:
            conversation = db.get_conversation(session, conversation_id)
            db.add_feedback(session, conversation=conversation, item_id=item_id, kind=kind)
            state = conversation.preferences()
            _record_feedback(state, item_id, kind)
            db.save_state(session, conversation=conversation, state=state)
            return state

    def reset(self, conversation_id: str) -> PreferenceState:
        """Clear the conversation's request (the reset button)."""
        with self._locks[conversation_id], Session(self.engine) as session:
            conversation = db.get_conversation(session, conversation_id)
            state = merge(conversation.preferences(), PreferenceUpdate(intent="reset"), self.catalog)
            db.save_state(session, conversation=conversation, state=state)
            return state

    def state(self, conversation_id: str) -> PreferenceState:
        with Session(self.engine) as session:
            return db.get_conversation(session, conversation_id).preferences()

    def turns(self, conversation_id: str) -> list[db.Turn]:
        with Session(self.engine) as session:
            db.get_conversation(session, conversation_id)
            return db.list_turns(session, conversation_id)


def _record_feedback(state: PreferenceState, item_id: str, kind: str) -> None:
    """Apply a button press to the state: liked and disliked exclude each other."""
    target = {"liked": state.liked_ids, "disliked": state.disliked_ids, "seen": state.seen_ids}[kind]
    if item_id not in target:
        target.append(item_id)
    if kind == "liked" and item_id in state.disliked_ids:
        state.disliked_ids.remove(item_id)
    if kind == "disliked":
        state.liked_ids = [i for i in state.liked_ids if i != item_id]
        state.anchor_ids = [i for i in state.anchor_ids if i != item_id]
