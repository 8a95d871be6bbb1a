"""Persistence with SQLModel: users, conversations, turns, tool calls and feedback.

Every turn is a row with the parsed preferences, the tool calls and the reply, so the log is
the audit trail and what tests assert against. SQLite in the workspace by default; any
SQLAlchemy URL (PostgreSQL: ``postgresql+psycopg://...``) through ``MARQUEE_DATABASE_URL``.
The schema comes from migrations (``marquee.schema``), never from ``create_all``.

Turns of one conversation are serialised by the database: :func:`lock_conversation` reads the
conversation row ``FOR UPDATE`` (PostgreSQL), so two processes answering the same
conversation take turns and number them without gaps or clashes. SQLite has no row locks: it
serves one process only (several workers refuse to start on it).
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import DateTime, UniqueConstraint, event, func, insert
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Field, Session, SQLModel, create_engine, delete, select

from chat.schemas import PreferenceState, Reply
from marquee.errors import ConfigError, NotFound

FEEDBACK_WEIGHTS = {"liked": 1.0, "disliked": -1.0, "seen": 0.3}


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _timestamp(**kwargs):
    """A timezone-aware timestamp column (``timestamptz`` on PostgreSQL)."""
    return Field(default_factory=_now, sa_type=DateTime(timezone=True), **kwargs)


def _new_id() -> str:
    return uuid.uuid4().hex


class UserBase(SQLModel):
    age: int | None = Field(default=None, ge=1, le=120)
    gender: str | None = Field(default=None, max_length=40)
    occupation: str | None = Field(default=None, max_length=80)


class User(UserBase, table=True):
    id: str = Field(default_factory=_new_id, primary_key=True)
    created_at: datetime = _timestamp()


class Conversation(SQLModel, table=True):
    id: str = Field(default_factory=_new_id, primary_key=True)
    user_id: str = Field(foreign_key="user.id", index=True)
    owner_key: str | None = Field(default=None, index=True, description="Site key that created it (API).")
    created_at: datetime = _timestamp()
    updated_at: datetime = _timestamp()
    state: str = Field(default="{}", description="PreferenceState as JSON.")

    def preferences(self) -> PreferenceState:
        return PreferenceState.model_validate_json(self.state or "{}")


class Turn(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("conversation_id", "position", name="uq_turn_conversation_position"),)
    id: int | None = Field(default=None, primary_key=True)
    conversation_id: str = Field(foreign_key="conversation.id", index=True)
    position: int
    utterance: str
    parsed: str = Field(description="PreferenceUpdate as JSON.")
    reply: str = Field(description="Reply as JSON.")
    parser: str = "rules"
    planner: str = "policy"
    latency_ms: float = 0.0
    created_at: datetime = _timestamp()

    def reply_model(self) -> Reply:
        return Reply.model_validate_json(self.reply)


class ToolCall(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    turn_id: int = Field(foreign_key="turn.id", index=True)
    position: int
    tool: str
    args: str
    result: str


class RequestKey(SQLModel, table=True):
    """An ``Idempotency-Key`` a client sent with a message or feedback: a retry finds the stored
    turn (or feedback) here instead of storing it twice."""

    __table_args__ = (UniqueConstraint("conversation_id", "key", name="uq_requestkey_conversation_key"),)
    id: int | None = Field(default=None, primary_key=True)
    conversation_id: str = Field(foreign_key="conversation.id", index=True)
    key: str = Field(max_length=200)
    fingerprint: str = Field(max_length=64, description="sha256 of what was sent, to refuse a reused key.")
    turn_id: int | None = Field(default=None, foreign_key="turn.id")
    created_at: datetime = _timestamp()


class Feedback(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    conversation_id: str = Field(foreign_key="conversation.id", index=True)
    user_id: str = Field(foreign_key="user.id", index=True)
    item_id: str = Field(max_length=64)
    kind: str = Field(max_length=16)
    created_at: datetime = _timestamp()


def make_engine(url: str, *, migrate: bool = True) -> Engine:
    """An engine for ``url`` with its schema at the newest revision (``migrate``: upgrade it now,
    one process at a time; else refuse an old schema). SQLite files get their folder made."""
    kwargs: dict = {}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    else:
        kwargs.update(pool_pre_ping=True, pool_size=10, max_overflow=20)
    try:
        engine = create_engine(url, **kwargs)
    except Exception as exc:  # SQLAlchemy raises several types for a bad URL or a missing driver
        raise ConfigError(f"MARQUEE_DATABASE_URL is not usable ({_safe(url)}): {exc}") from exc
    if url.startswith("sqlite"):
        event.listen(engine, "connect", _sqlite_pragmas)
    from marquee import schema

    try:
        schema.upgrade(engine) if migrate else schema.require_current(engine)
    except OperationalError as exc:
        engine.dispose()
        raise ConfigError(f"MARQUEE_DATABASE_URL: cannot reach the database ({_safe(url)}): {exc.orig}") from exc
    return engine


def _safe(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not even a URL
        return repr(url)


def _sqlite_pragmas(connection, _record) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA secure_delete=ON")  # deleted rows are overwritten in the file, not left in free pages
    cursor.close()


def start_conversation(session: Session, *, demographics: UserBase | None = None,
                       owner_key: str | None = None) -> Conversation:
    """A new user and their first conversation in one transaction; the conversation is returned as
    written (nothing is read back: a burst of new visitors costs one commit each)."""
    user = User.model_validate((demographics or UserBase()).model_dump())
    conversation = Conversation(user_id=user.id, owner_key=owner_key, state=PreferenceState().model_dump_json())
    session.add(user)
    session.flush()  # the user's row first: the conversation refers to it
    session.add(conversation)
    written = {name: getattr(conversation, name) for name in Conversation.model_fields}
    session.commit()
    for name, value in written.items():
        set_committed_value(conversation, name, value)
    return conversation


def get_conversation(session: Session, conversation_id: str) -> Conversation:
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        raise NotFound(f"no conversation {conversation_id!r}")
    return conversation


def lock_conversation(session: Session, conversation_id: str) -> Conversation:
    """The conversation, its row locked until the session commits: other processes answering it wait.

    ``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite ignores it (one process serves SQLite).
    """
    conversation = session.exec(
        select(Conversation).where(Conversation.id == conversation_id).with_for_update()
    ).first()
    if conversation is None:
        raise NotFound(f"no conversation {conversation_id!r}")
    return conversation


def save_state(session: Session, *, conversation: Conversation, state: PreferenceState) -> None:
    conversation.state = state.model_dump_json()
    conversation.updated_at = _now()
    session.add(conversation)
    session.commit()


def add_turn(
    session: Session, *, conversation: Conversation, utterance: str, parsed: str, reply: Reply,
    tool_calls: list[dict], parser: str, planner: str, latency_ms: float, state: PreferenceState,
    request: RequestKey | None = None, position: int | None = None,
) -> Turn:
    """Store one exchange, its tool calls, the new state and the request's idempotency key in one transaction.

    Its position follows the last stored one; call it with the conversation locked
    (:func:`lock_conversation`) so that no other process adds a turn in between. ``position``:
    that next position when the caller already read the last turn under the same lock (one
    query less); ``None``: read it here.
    """
    if position is None:
        last = session.exec(select(func.max(Turn.position)).where(Turn.conversation_id == conversation.id)).one()
        position = 0 if last is None else last + 1
    turn = Turn(
        conversation_id=conversation.id, position=position, utterance=utterance, parsed=parsed,
        reply=reply.model_dump_json(), parser=parser, planner=planner, latency_ms=latency_ms,
    )
    session.add(turn)
    session.flush()
    if tool_calls:  # one multi-row INSERT
        session.execute(insert(ToolCall), [dict(
            turn_id=turn.id, position=index, tool=call["tool"],
            args=json.dumps(call["args"], default=str), result=json.dumps(call["result"], default=str)[:20000],
        ) for index, call in enumerate(tool_calls)])
    if request is not None:
        request.turn_id = turn.id
        session.add(request)
    conversation.state = state.model_dump_json()
    conversation.updated_at = _now()
    session.add(conversation)
    stored = {name: getattr(turn, name) for name in Turn.model_fields}
    session.commit()
    for name, value in stored.items():  # what was just written, without reading the row back
        set_committed_value(turn, name, value)
    return turn


def list_turns(session: Session, conversation_id: str) -> list[Turn]:
    return list(session.exec(select(Turn).where(Turn.conversation_id == conversation_id).order_by(Turn.position)))


def recent_turns(session: Session, conversation_id: str, n: int) -> list[Turn]:
    """The last ``n`` turns of a conversation, oldest first (``list_turns(...)[-n:]`` without reading the rest)."""
    rows = session.exec(select(Turn).where(Turn.conversation_id == conversation_id)
                        .order_by(Turn.position.desc()).limit(n))
    return list(rows)[::-1]


def add_feedback(session: Session, *, conversation: Conversation, item_id: str, kind: str,
                 state: PreferenceState | None = None, request: RequestKey | None = None) -> Feedback:
    """Store a button press; with ``state``, the conversation's new state in the same transaction."""
    row = Feedback(conversation_id=conversation.id, user_id=conversation.user_id, item_id=item_id, kind=kind)
    session.add(row)
    if request is not None:
        session.add(request)
    if state is not None:
        conversation.state = state.model_dump_json()
        conversation.updated_at = _now()
        session.add(conversation)
    session.commit()
    return row


def find_request(session: Session, conversation_id: str, key: str) -> RequestKey | None:
    return session.exec(select(RequestKey).where(RequestKey.conversation_id == conversation_id,
                                                 RequestKey.key == key)).first()


def list_feedback(session: Session, conversation_id: str) -> list[Feedback]:
    return list(session.exec(select(Feedback).where(Feedback.conversation_id == conversation_id).order_by(Feedback.id)))


def user_history(session: Session, user_id: str) -> dict[str, float]:
    """The user's feedback as item id -> weight; the latest word on an item wins."""
    rows = session.exec(select(Feedback).where(Feedback.user_id == user_id).order_by(Feedback.id))
    return {row.item_id: FEEDBACK_WEIGHTS.get(row.kind, 0.0) for row in rows}


def user_footprint(session: Session, user_id: str) -> dict[str, int]:
    """How many rows of each kind belong to a user (what ``delete_user`` removes)."""
    if session.get(User, user_id) is None:
        raise NotFound(f"no user {user_id!r}")
    conversation_ids = list(session.exec(select(Conversation.id).where(Conversation.user_id == user_id)))
    turn_ids = list(session.exec(select(Turn.id).where(Turn.conversation_id.in_(conversation_ids))))
    tool_calls = session.exec(select(ToolCall.id).where(ToolCall.turn_id.in_(turn_ids))).all()
    feedback = session.exec(select(Feedback.id).where(Feedback.user_id == user_id)).all()
    return {"conversations": len(conversation_ids), "messages": len(turn_ids), "tool calls": len(tool_calls),
            "feedback": len(feedback)}


def delete_user(session: Session, user_id: str) -> None:
    """Delete a user with their demographics, conversations, turns, tool calls, feedback and
    idempotency keys, in one transaction."""
    if session.get(User, user_id) is None:
        raise NotFound(f"no user {user_id!r}")
    conversation_ids = list(session.exec(select(Conversation.id).where(Conversation.user_id == user_id)))
    turn_ids = list(session.exec(select(Turn.id).where(Turn.conversation_id.in_(conversation_ids))))
    session.exec(delete(RequestKey).where(RequestKey.conversation_id.in_(conversation_ids)))
    session.exec(delete(ToolCall).where(ToolCall.turn_id.in_(turn_ids)))
    session.exec(delete(Turn).where(Turn.conversation_id.in_(conversation_ids)))
    session.exec(delete(Feedback).where(Feedback.user_id == user_id))
    session.exec(delete(Conversation).where(Conversation.user_id == user_id))
    session.exec(delete(User).where(User.id == user_id))
    session.commit()
