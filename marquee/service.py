"""The one function every surface calls: ``Marquee.respond``. UI, API, CLI and evals adapt it.

``Marquee.open(settings)`` builds the catalog, the encoder, the vector store, the keyword index,
the collaborative model (``marquee.startup``) and the database once per process; a turn is then
parse → merge → plan → persist.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import unicodedata
import weakref
from typing import Callable

from pydantic import BaseModel, Field
from sqlmodel import Session, select

from chat.parser import ParseContext, PreferenceParser
from chat.planning import Planner, TurnInput
from chat.schemas import FeedbackKind, PreferenceState, PreferenceUpdate, Reply
from chat.state import merge
from marquee import db
from marquee.errors import BadInput, MarqueeError, NotFound
from marquee.settings import Settings
from marquee.startup import build_agents, load_deps
from prompts import replies
from prompts.cold_start import NOTE_NO_DEMOGRAPHIC_MODEL, demographics_note
from retrieval.catalog import fold
from retrieval.demographics import SKIP_WORDS, Demographics, parse_demographics
from tools.base import ToolDeps

log = logging.getLogger(__name__)

STAGES = {"search": "retrieve", "similar": "retrieve", "cold_start": "retrieve", "filter": "rank", "rank": "rank",
          "explain": "explain", "ask": "plan"}
# an age range is stored as one age inside it (the user row holds years); it reads back as the same range
AGE_GROUP_AGES = {"under 18": 17, "18-24": 18, "25-34": 25, "35-44": 35, "45-49": 45, "50-55": 50, "56+": 56}


class GivenDemographics(BaseModel):
    """What a person chose to tell about themselves, as given: each field optional, not yet validated.

    ``age``: years, or a range such as ``25-34``; ``gender``, ``occupation``: free words
    ("prefer not to say" and empty mean not given). ``parse_demographics`` validates them.
    """

    age: int | float | str | None = None
    gender: str | None = None
    occupation: str | None = None

    def stored(self) -> tuple[db.UserBase, list[str]]:
        """The user-row values (what is usable, as given) and a note for each value that cannot be stored."""
        profile, notes = parse_demographics(age=self.age)  # gender and occupation are stored as given
        age = None
        if profile.age_group is not None:
            raw = str(self.age).strip()
            age = int(float(raw)) if raw.replace(".", "", 1).isdigit() else AGE_GROUP_AGES[profile.age_group]
        row = db.UserBase(
            age=age,
            gender=_kept_word(self.gender, 40),
            occupation=_kept_word(self.occupation, 80),
        )
        return row, notes  # notes on the stored words are derived from the row when it is used


def _kept_word(value: str | None, limit: int) -> str | None:
    """A word as given (spaces tidied, cut to the column's length); ``None`` for "prefer not to say"."""
    text = " ".join(str(value).split())[:limit] if value is not None else ""
    return None if fold(text) in SKIP_WORDS else text


def user_demographics(user: db.User | db.UserBase | None) -> tuple[Demographics, list[str]]:
    """The validated profile of a stored user row, with a note for each stored value it cannot use."""
    if user is None:
        return Demographics(), []
    return parse_demographics(age=user.age, gender=user.gender, occupation=user.occupation)


class TurnResult(BaseModel):
    """What one turn produced, for any surface."""

    conversation_id: str
    turn: int = Field(0, description="Position of this exchange in the conversation (0 = the first).")
    reply: Reply
    update: PreferenceUpdate
    state: PreferenceState
    timings_ms: dict[str, float] = Field(default_factory=dict)
    replayed: bool = Field(False, description="True when an Idempotency-Key found this turn already stored.")


class ConversationLocks:
    """One lock per conversation, kept only while someone holds or waits for it (the table does
    not grow with every conversation ever served)."""

    def __init__(self) -> None:
        self._locks: weakref.WeakValueDictionary[str, threading.Lock] = weakref.WeakValueDictionary()
        self._guard = threading.Lock()

    def __getitem__(self, conversation_id: str) -> threading.Lock:
        with self._guard:
            lock = self._locks.get(conversation_id)
            if lock is None:
                lock = self._locks[conversation_id] = threading.Lock()
            return lock

    def __len__(self) -> int:
        return len(self._locks)


def request_fingerprint(*parts: object) -> str:
    """What identifies a request for its Idempotency-Key (a key reused for another request is refused)."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part if isinstance(part, bytes) else repr(part).encode())
        digest.update(b"\x00")
    return digest.hexdigest()


def check_request_key(key: str | None) -> str | None:
    """An ``Idempotency-Key`` as sent: 1-200 printable ASCII characters, or ``BadInput``."""
    if key is None:
        return None
    if not 1 <= len(key) <= 200 or not all(33 <= ord(c) < 127 for c in key):
        raise BadInput("an Idempotency-Key must be 1 to 200 printable ASCII characters without spaces")
    return key


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


def embed_picture(deps: ToolDeps, data: bytes) -> list[float] | None:
    """An uploaded picture in the image space, or ``None`` when the catalog has no image collection.

    The bytes are checked like any image (:func:`retrieval.images.load_image_bytes`): a corrupt,
    huge, tiny or fully transparent picture raises ``ImageRejected`` (a ``BadInput``) with a
    message for the user.
    """
    from retrieval.images import load_image_bytes

    image = load_image_bytes(data, label="the picture you sent")
    if deps.image_store is None or deps.image_encoder is None:
        return None
    return [float(v) for v in deps.image_encoder.encode_images([image])[0]]


class Marquee:
    """A conversational recommender over one catalog, one store and one database."""

    def __init__(self, settings: Settings, deps: ToolDeps, *, parser: PreferenceParser | None = None,
                 planner: Planner | None = None):
        self.settings = settings
        self.deps = deps
        default_parser, default_planner = build_agents(settings, deps)
        self.parser = parser or default_parser
        self.planner = planner or default_planner
        self.engine = db.make_engine(settings.resolved_database_url, migrate=settings.database_auto_upgrade)
        # Turns of one conversation are serialised by the database (db.lock_conversation: a row lock
        # across processes); this lock only keeps this process's threads from queueing on it with a
        # connection each (and serialises SQLite, which serves one process).
        self._locks = ConversationLocks()
        # notes on demographics that could not be stored (an age of -3), for the next list of that
        # conversation; in memory, so lost if another process serves it (the value itself is not kept)
        self._demographic_notes: dict[str, list[str]] = {}

    @classmethod
    def open(cls, settings: Settings, *, progress: bool = True) -> "Marquee":
        return cls(settings, load_deps(settings, progress=progress))

    @property
    def catalog(self):
        return self.deps.catalog

    def new_conversation(self, *, demographics: db.UserBase | GivenDemographics | None = None,
                         owner_key: str | None = None) -> str:
        """A new user and their first conversation (its id). ``demographics`` are stored only when
        given; what cannot be used is noted in the first list's reply."""
        return self.start_conversation(demographics=demographics, owner_key=owner_key).id

    def start_conversation(self, *, demographics: db.UserBase | GivenDemographics | None = None,
                           owner_key: str | None = None) -> db.Conversation:
        """:meth:`new_conversation`, returning the stored row (its user and creation time too)."""
        row, notes = _user_row(demographics)
        with Session(self.engine) as session:
            conversation = db.start_conversation(session, demographics=row, owner_key=owner_key)
        self._remember_notes(conversation.id, notes)
        return conversation

    def _remember_notes(self, conversation_id: str, notes: list[str], limit: int = 10_000) -> None:
        if not notes:
            return
        if len(self._demographic_notes) >= limit:  # conversations that never got a list
            self._demographic_notes.pop(next(iter(self._demographic_notes)))
        self._demographic_notes[conversation_id] = notes

    def set_demographics(self, conversation_id: str, demographics: GivenDemographics) -> Demographics:
        """Store (or clear) what the user of this conversation told about themselves; returns the usable profile.

        Nothing is written when the usable profile stays the same (a user who skips everything stays
        without demographics; an age of 30 is not rewritten as the range 25-34).
        """
        row, notes = _user_row(demographics)
        with self._locks[conversation_id], Session(self.engine) as session:
            user = session.get(db.User, db.lock_conversation(session, conversation_id).user_id)
            values = row.model_dump()
            cleared = not any(values.values()) and any(getattr(user, field) for field in values)
            if cleared or user_demographics(row)[0] != user_demographics(user)[0]:
                for field, value in values.items():
                    setattr(user, field, value)
                session.add(user)
                session.commit()
                session.refresh(user)
            self._remember_notes(conversation_id, notes)
            return user_demographics(user)[0]

    def demographics(self, conversation_id: str) -> Demographics:
        """The validated demographics of this conversation's user (empty when none were given)."""
        with Session(self.engine) as session:
            conversation = db.get_conversation(session, conversation_id)
            return user_demographics(session.get(db.User, conversation.user_id))[0]

    def has_conversation(self, conversation_id: str) -> bool:
        with Session(self.engine) as session:
            return session.get(db.Conversation, conversation_id) is not None

    def respond(self, conversation_id: str | None, utterance: str, *, n_items: int | None = None,
                image: bytes | None = None, must_list: bool = False, request_key: str | None = None,
                on_text: Callable[[str], None] | None = None,
                check: Callable[[db.Conversation], None] | None = None) -> TurnResult:
        """Answer one utterance in a conversation (a new one when ``conversation_id`` is None).

        ``image``: a picture sent with the message ("more like this"); its bytes are checked
        first, and a bad picture raises ``BadInput`` before anything is stored. Without an image
        collection the turn is answered from the words, with a note saying so. ``must_list``: the
        caller needs items whatever was said (see ``TurnInput.must_list``). ``request_key``: the
        client's ``Idempotency-Key``; a retry with the same key returns the stored turn.
        ``on_text``: gets the reply's text piece by piece while a language model writes it (the
        pieces concatenate to ``reply.text``); not called for a template reply (see
        ``marquee.streaming``). ``check``: called with the conversation once it is locked, before
        anything is read or stored (the API's owner check: it raises to refuse the turn).
        """
        started = time.perf_counter()
        picture: list[float] | None = None
        if image is not None:
            picture = embed_picture(self.deps, image)
            if not (utterance or "").strip():
                utterance = replies.PICTURE_UTTERANCE
        text, notes = clean_utterance(utterance, max_chars=self.settings.max_utterance_chars)
        request_key = check_request_key(request_key)
        fingerprint = request_fingerprint("message", text, n_items, image)
        conversation_id = conversation_id or self.new_conversation()
        with self._locks[conversation_id], Session(self.engine) as session:
            conversation = db.lock_conversation(session, conversation_id)
            if check is not None:
                check(conversation)
            if request_key is not None:
                done = db.find_request(session, conversation_id, request_key)
                if done is not None:
                    return self._replay(session, conversation, done, fingerprint)
            state = conversation.preferences()
            profile, profile_notes = user_demographics(session.get(db.User, conversation.user_id))
            timings: dict[str, float] = {}

            t0 = time.perf_counter()
            recent = db.recent_turns(session, conversation_id, 3)
            context = ParseContext(
                shown=[self.catalog.get(i) for i in state.last_shown_ids if self.catalog.get(i)],
                history=[pair for t in recent for pair in (("user", t.utterance), ("assistant", t.reply_model().text))],
            )
            update = self._parse(text, context)
            update.notes = [*notes, *update.notes]
            update.picture = None  # only the service sets it, from the bytes sent
            if image is not None:
                attach_picture(update, picture)
            new_state = merge(state, update, self.catalog)
            timings["parse"] = (time.perf_counter() - t0) * 1000

            t0 = time.perf_counter()
            turn = TurnInput(
                utterance=text, update=update, state=new_state,
                history=db.user_history(session, conversation.user_id),
                n_items=n_items or self.settings.n_recommendations,
                demographics=None if profile.is_empty() else profile,
                previous_text=recent[-1].reply_model().text if recent else None,
                must_list=must_list, on_text=on_text,
            )
            result = self._planner_for(update, must_list=must_list).respond(turn, deps=self.deps)
            timings["plan"] = (time.perf_counter() - t0) * 1000
            for call in result.buffer.calls:
                stage = STAGES.get(call["tool"], "plan")
                timings[stage] = timings.get(stage, 0.0) + call.get("ms", 0.0)

            reply = result.reply
            if reply.items:  # say what was done with the demographics (on the first list, or after a change)
                said = self._demographics_notes(conversation_id, profile, profile_notes, first=not state.shown_ids)
                reply.notes = list(dict.fromkeys([*reply.notes, *said]))
            for card in reply.items:  # posters from the image folder show on the cards too
                if not card.image and card.id in self.deps.posters:
                    card.image = str(self.deps.posters[card.id])
            shown = [card.id for card in reply.items]
            if shown:
                new_state.last_shown_ids = shown
                new_state.shown_ids = list(dict.fromkeys([*new_state.shown_ids, *shown]))
            t0 = time.perf_counter()
            request = None if request_key is None else db.RequestKey(
                conversation_id=conversation_id, key=request_key, fingerprint=fingerprint)
            stored = db.add_turn(
                session, conversation=conversation, utterance=text, parsed=update.model_dump_json(),
                reply=reply, tool_calls=result.buffer.calls, parser=type(self.parser).__name__,
                planner=type(self.planner).__name__, latency_ms=(time.perf_counter() - started) * 1000,
                state=new_state, request=request, position=recent[-1].position + 1 if recent else 0,
            )
            timings["persist"] = (time.perf_counter() - t0) * 1000
            timings["total"] = (time.perf_counter() - started) * 1000
        return TurnResult(conversation_id=conversation_id, turn=stored.position, reply=reply, update=update,
                          state=new_state, timings_ms=timings)

    def _parse(self, text: str, context: ParseContext) -> PreferenceUpdate:
        """The parser's reading of ``text``; a parser bug answers the turn from what is known, with a note."""
        try:
            return self.parser.parse(text, context)
        except MarqueeError:
            raise
        except Exception:
            log.exception("the parser failed on a message of %d characters", len(text))
            return PreferenceUpdate(intent="other", notes=[replies.NOT_UNDERSTOOD])

    def _replay(self, session: Session, conversation: db.Conversation, done: db.RequestKey,
                fingerprint: str) -> TurnResult:
        """The stored answer to a request sent again with the same Idempotency-Key."""
        if done.fingerprint != fingerprint or done.turn_id is None:
            raise BadInput("this Idempotency-Key was already used for another request")
        turn = session.get(db.Turn, done.turn_id)
        return TurnResult(conversation_id=conversation.id, reply=turn.reply_model(),
                          update=PreferenceUpdate.model_validate_json(turn.parsed), state=conversation.preferences(),
                          turn=turn.position, replayed=True)

    def _planner_for(self, update: PreferenceUpdate, *, must_list: bool = False) -> Planner:
        """The planner of this turn. A request about a look, or a turn that must return a list, goes
        to the policy planner (the LLM planner's fallback): only it passes the picture and the
        visual flag to the tools and never answers such a turn with a question."""
        if update.visual or update.picture is not None or must_list:
            fallback = getattr(self.planner, "fallback", None)
            if fallback is not None:
                return fallback
        return self.planner

    def _demographics_notes(self, conversation_id: str, profile: Demographics, stored_notes: list[str], *,
                            first: bool) -> list[str]:
        """Notes on ignored demographics (values not stored: once, with the next list; stored ones
        and a missing demographic model: with the conversation's first list)."""
        notes = [demographics_note(n) for n in self._demographic_notes.pop(conversation_id, [])]
        if first:
            notes += [demographics_note(n) for n in stored_notes]
            if not profile.is_empty() and "cold_start" not in self.deps.extras:
                notes.append(NOTE_NO_DEMOGRAPHIC_MODEL)
        return notes

    def note_shown(self, conversation_id: str, item_ids: list[str]) -> PreferenceState:
        """Record items shown by someone else in this conversation (a human recommender in a
        replayed dialogue): they become "the ones shown" for references and are not repeated."""
        with self._locks[conversation_id], Session(self.engine) as session:
            conversation = db.lock_conversation(session, conversation_id)
            state = conversation.preferences()
            known = [i for i in item_ids if i in self.catalog]
            if known:
                state.last_shown_ids = known
                state.shown_ids = list(dict.fromkeys([*state.shown_ids, *known]))
                db.save_state(session, conversation=conversation, state=state)
            return state

    def feedback(self, conversation_id: str, item_id: str, kind: FeedbackKind, *,
                 request_key: str | None = None) -> PreferenceState:
        """Record like / dislike / seen on an item; later turns exclude or favour it. A retry with
        the same ``request_key`` (Idempotency-Key) stores nothing and returns the current state."""
        if kind not in db.FEEDBACK_WEIGHTS:
            raise BadInput(f"unknown feedback {kind!r}: use liked, disliked or seen")
        if item_id not in self.catalog:
            raise NotFound(f"no item {item_id!r} in the catalog")
        request_key = check_request_key(request_key)
        fingerprint = request_fingerprint("feedback", item_id, kind)
        with self._locks[conversation_id], Session(self.engine) as session:
            conversation = db.lock_conversation(session, conversation_id)
            if request_key is not None:
                done = db.find_request(session, conversation_id, request_key)
                if done is not None:
                    if done.fingerprint != fingerprint:
                        raise BadInput("this Idempotency-Key was already used for another request")
                    return conversation.preferences()
            request = None if request_key is None else db.RequestKey(
                conversation_id=conversation_id, key=request_key, fingerprint=fingerprint)
            state = conversation.preferences()
            _record_feedback(state, item_id, kind)
            db.add_feedback(session, conversation=conversation, item_id=item_id, kind=kind, state=state,
                            request=request)
            return state

    def reset(self, conversation_id: str) -> TurnResult:
        """The Reset button, which does what saying "start over" does: the request and the list shown
        are cleared (likes, dislikes and seen items stay), the exchange is stored as a turn whose
        message is ``replies.RESET_UTTERANCE``, and the reply says so, with ``reply.cleared`` set."""
        started = time.perf_counter()
        update = PreferenceUpdate(intent="reset")
        with self._locks[conversation_id], Session(self.engine) as session:
            conversation = db.lock_conversation(session, conversation_id)
            state = merge(conversation.preferences(), update, self.catalog)
            reply = replies.reset_reply()
            stored = db.add_turn(
                session, conversation=conversation, utterance=replies.RESET_UTTERANCE, parsed=update.model_dump_json(),
                reply=reply, tool_calls=[], parser="button", planner="button",
                latency_ms=(time.perf_counter() - started) * 1000, state=state,
            )
        total = (time.perf_counter() - started) * 1000
        return TurnResult(conversation_id=conversation_id, turn=stored.position, reply=reply, update=update, state=state,
                          timings_ms={"total": total})

    def user_of(self, conversation_id: str) -> str:
        with Session(self.engine) as session:
            return db.get_conversation(session, conversation_id).user_id

    def delete_user(self, user_id: str) -> None:
        """Delete a user and everything stored about them (``NotFound`` when there is no such user)."""
        with Session(self.engine) as session:
            conversation_ids = list(session.exec(
                select(db.Conversation.id).where(db.Conversation.user_id == user_id)))
            db.delete_user(session, user_id)
        for conversation_id in conversation_ids:
            self._demographic_notes.pop(conversation_id, None)

    def feedback_given(self, conversation_id: str) -> list[db.Feedback]:
        """The conversation's feedback rows, oldest first."""
        with Session(self.engine) as session:
            return db.list_feedback(session, conversation_id)

    def state(self, conversation_id: str) -> PreferenceState:
        with Session(self.engine) as session:
            return db.get_conversation(session, conversation_id).preferences()

    def turns(self, conversation_id: str) -> list[db.Turn]:
        with Session(self.engine) as session:
            db.get_conversation(session, conversation_id)
            return db.list_turns(session, conversation_id)


def attach_picture(update: PreferenceUpdate, picture: list[float] | None) -> None:
    """Make this turn's update about the picture sent: a visual request compared with it.

    "this" / "it" in "more like this" then means the picture, not a shown item; explicit
    positions ("like the second one") were read as references and are dropped too, because
    the picture is what to match. ``picture`` is ``None`` when the catalog has no image
    collection: the turn is then answered from the words (the planner notes it).
    """
    if picture is None:
        update.notes.append(replies.NO_PICTURE_SEARCH)
        return
    update.visual = True
    update.picture = picture
    if update.feedback is None:
        update.refers_to_shown = []


def _user_row(demographics: db.UserBase | GivenDemographics | None) -> tuple[db.UserBase | None, list[str]]:
    """The values to store on a new user row, and notes on what could not be stored."""
    if demographics is None:
        return None, []
    if isinstance(demographics, db.UserBase):
        demographics = GivenDemographics(**demographics.model_dump())
    return demographics.stored()


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
