"""The LLM planner's prompts: its system prompt, the turn it plans, and what it reads back from tools.

Dynamic parts come from schema objects (``TurnInput``, ``CandidateBuffer``, catalog items);
agent code only calls the ``render_*`` functions.
"""

from __future__ import annotations

import json
from string import Template
from typing import Any, Iterable

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from pydantic import BaseModel

BUFFER_PREVIEW = 8  # candidates listed back to the model after each tool call
MAX_TOOL_RESULT_CHARS = 1500

PLANNER_SYSTEM_TEMPLATE = Template(
    """You are the planner of Marquee, a movie recommender. You do not know the catalog: the tools do.
All tools work on ONE candidate buffer for this turn:
- search adds candidates for a free-text query (already within the user's genre and year limits);
- similar adds candidates similar to given item ids (default: the titles the user named or liked);
- filter removes candidates that break the user's hard constraints;
- rank orders the candidates by fit and keeps the best k;
- explain writes a grounded reason for the first k candidates;
- ask sets one clarifying question, only when there is nothing to recommend from.
Your job is to fill the buffer with good candidates: search (and similar when the user named
or liked titles), several times with different words if few are found. Before anything is shown,
the app itself filters, ranks and explains the buffer, so call filter, rank or explain only to
look at the best candidates, and never rank down to fewer than $min_keep. If a tool answers with
an error, fix the name or the arguments and call it again.

When you are done, answer the user in one or two short, friendly sentences that say what the
list is in plain words, like "Here are some Christopher Nolan films." or "Got it — here are a few
you haven't seen.". The app shows the chosen items as cards under your answer, so do not list
them and do not end with a colon. Never name a movie that the tools
did not return, never invent items, and only mention attributes (genres, people, years) that the
items have. If nothing fits, say so plainly."""
)

TURN_TEMPLATE = Template(
    """The user said: $utterance

What this message asks for: $update
Everything the conversation has established: $state
Items the user named or referred to: $anchors
Items already shown or seen in this conversation are excluded automatically.
Find $n_items items."""
)


def _compact(model: BaseModel, *, exclude: Iterable[str] = ()) -> str:
    """A schema object as short JSON: defaults and the given fields left out."""
    data = model.model_dump(mode="json", exclude_defaults=True, exclude=set(exclude))
    return json.dumps(data, ensure_ascii=False) if data else "(nothing)"


def item_line(item: Any) -> str:
    """One catalog item as the model reads it: ``id: Title (year) [genres]``."""
    genres = f" [{', '.join(item.genres)}]" if item.genres else ""
    return f"{item.id}: {item.label}{genres}"


def render_planner_messages(turn: Any, catalog: Any) -> list[BaseMessage]:
    """The first messages of a planning loop for one turn (``turn`` is a ``chat.planning.TurnInput``)."""
    state = turn.state
    anchor_ids = list(dict.fromkeys([*state.anchor_ids, *state.liked_ids]))
    for ref in [*turn.update.titles_like, *turn.update.titles_exclude]:
        if ref.item_id:
            anchor_ids.append(ref.item_id)
    for position in turn.update.refers_to_shown:
        if 1 <= position <= len(state.last_shown_ids):
            anchor_ids.append(state.last_shown_ids[position - 1])
    anchors = [item_line(catalog.get(i)) for i in dict.fromkeys(anchor_ids) if catalog.get(i) is not None]
    user = TURN_TEMPLATE.substitute(
        utterance=" ".join(turn.utterance.split()),
        update=_compact(turn.update, exclude=("notes",)),
        state=_compact(
            state, exclude=("anchor_ids", "liked_ids", "disliked_ids", "seen_ids", "shown_ids", "last_shown_ids")
        ),
        anchors="; ".join(anchors) or "(none)",
        n_items=turn.n_items,
    )
    system = PLANNER_SYSTEM_TEMPLATE.substitute(min_keep=max(30, 6 * turn.n_items))
    return [SystemMessage(system), HumanMessage(user)]


def render_tool_result(result: BaseModel, buffer: Any, catalog: Any) -> str:
    """What the model reads after a successful tool call: the result and the buffer's best candidates."""
    payload = result.model_dump_json()
    if len(payload) > MAX_TOOL_RESULT_CHARS:
        payload = payload[:MAX_TOOL_RESULT_CHARS] + "...(cut)"
    ranked = sorted(buffer.items, key=lambda c: -c.score)[:BUFFER_PREVIEW]
    lines = [item_line(catalog.get(c.id)) for c in ranked if catalog.get(c.id) is not None]
    parts = [f"result: {payload}", f"buffer: {len(buffer.items)} candidates"]
    if lines:
        parts.append("best so far:\n" + "\n".join(lines))
    if buffer.question:
        parts.append(f"question set for the user: {buffer.question}")
    return "\n".join(parts)


def render_tool_error(error: str) -> str:
    """What the model reads after a tool call that failed, so it can correct itself."""
    return f"error: {error}\nCorrect the tool name or arguments and try again, or finish."


WRITER_SYSTEM = """You write the short text of a movie recommender's reply. The app shows the items
as cards under your text, each with its own reason, so do not list them, do not repeat the
reasons and do not end with a colon. Answer in one or two short, friendly sentences that say what
the list is in plain words, like "Here are some Christopher Nolan films." or "Got it - here are a
few you haven't seen.", in plain text: no lists, no markup. Only mention titles, genres, people
and years that appear below. Never invent anything."""

WRITER_CARDS_TEMPLATE = Template(
    """The user said: $utterance
What they asked for so far: $request
The cards shown under your text:
$cards
Write the text that goes above these cards."""
)

WRITER_NO_CARDS_TEMPLATE = Template(
    """The user said: $utterance
There are no cards this time. Answer the user in one or two short sentences; if they have not
said what they would like to watch, ask them."""
)


def render_writer_messages(turn: Any, reply: Any, catalog: Any) -> list[BaseMessage]:
    """The messages of the writing call: the turn and the cards (``reply.items``), or none."""
    utterance = " ".join(turn.utterance.split())
    if reply is None or not reply.items:
        return [SystemMessage(WRITER_SYSTEM), HumanMessage(WRITER_NO_CARDS_TEMPLATE.substitute(utterance=utterance))]
    lines = []
    for card in reply.items:
        year = f" ({card.year})" if card.year else ""
        genres = f" [{', '.join(card.genres)}]" if card.genres else ""
        lines.append(f"- {card.title}{year}{genres}: {card.why}")
    state = _compact(turn.state, exclude=("anchor_ids", "liked_ids", "disliked_ids", "seen_ids", "shown_ids",
                                          "last_shown_ids", "query"))
    user = WRITER_CARDS_TEMPLATE.substitute(utterance=utterance, request=state, cards="\n".join(lines))
    return [SystemMessage(WRITER_SYSTEM), HumanMessage(user)]
