"""The policy planner: the embedded default that decides, without an LLM, what to do with a turn.

search → filter → rank → diversify → explain, with a clarifying question only when the
conversation gives nothing to go on, and plain answers for greetings, resets and questions
about a shown item. ``finalize_reply`` is shared with the LLM planner: whatever a planner put
in the candidate buffer, the cards are built here, from catalog items only.
"""

from __future__ import annotations

import logging

from chat.planning import PlannerResult, TurnInput
from chat.schemas import PreferenceState, PreferenceUpdate, Recommendation, Reply
from chat.state import referred_ids
from prompts import replies
from prompts.cold_start import ASSUMPTIONS_DROPPED, WHY_ASSUMED, WHY_FEEDBACK, WHY_NOTHING_SHOWN, WHY_REQUEST
from prompts.english import join_words
from prompts.headings import ListRequest, constraint_labels, films_phrase, genre_word, list_heading, nothing_found
from tools.base import CandidateBuffer, ToolDeps
from tools.cold_start import describe_assumed_taste
from tools.retrieve import any_item_fits, query_text
from tools.registry import call_tool

log = logging.getLogger(__name__)

SEARCH_DEPTH = 150
MIN_POOL = 60
COLD_START_DEPTH = 100
COLD_START_MAX_HISTORY = 20  # past this many real interactions, the person is no longer cold


class PolicyPlanner:
    """Deterministic planner over the tool registry."""

    def respond(self, turn: TurnInput, *, deps: ToolDeps) -> PlannerResult:
        buffer = _new_buffer(turn, turn.state)
        if turn.update.assumptions == "drop" and buffer.demographics and deps.extras.get("cold_start") is not None:
            buffer.note(ASSUMPTIONS_DROPPED)
        answer = None if turn.must_list else _answer_without_list(turn, buffer, deps)
        if answer is not None:
            return answer
        if could_list(turn.state, deps):
            gather_candidates(turn.state, deps, buffer)
        reply = finalize_reply(turn, buffer, deps)
        if not reply.items:
            relaxed = _relaxed_answer(turn, deps)
            if relaxed is not None:
                return relaxed
        return PlannerResult(reply=reply, buffer=buffer)


# What may be left out when nothing matches the whole request, weakest first. Exclusions, seen
# items and the audience always stay: nobody asked to see what they ruled out, nor a child an R film.
RELAXABLE = ("keywords", "years", "runtime", "genres_include", "people_include", "anchor_ids")
MAX_RELAXED_TRIES = 2  # full searches for a partial answer, after the catalog says a relaxed request fits some item


def _new_buffer(turn: TurnInput, state: PreferenceState) -> CandidateBuffer:
    return CandidateBuffer(preferences=state, history=turn.history, demographics=turn.demographics,
                           visual=turn.update.visual or turn.update.picture is not None, picture=turn.update.picture)


def could_list(state: PreferenceState, deps: ToolDeps) -> bool:
    """False when no catalog item meets the hard constraints, so searching cannot fill a list
    (the filter drops what ``check_item`` rejects). Two or more genres are relaxed to any of
    them when too few items have all, so such a request is always searched."""
    return len(state.genres_include) > 1 or any_item_fits(deps, state)


def relaxed_states(state: PreferenceState, update: PreferenceUpdate) -> list[PreferenceState]:
    """The request with one wanted constraint left out, those from earlier turns first; then with
    every earlier one left out."""
    said_now = {
        "keywords": bool([k for k in update.keywords if not k.startswith("not ")]),
        "years": update.year_min is not None or update.year_max is not None,
        "runtime": update.runtime_min is not None or update.runtime_max is not None,
        "genres_include": bool(update.genres_include), "people_include": bool(update.people_include),
        "anchor_ids": bool(update.titles_like or update.refers_to_shown),
    }
    without = {name: _without(state, [name]) for name in RELAXABLE}
    present = [name for name in RELAXABLE if without[name] != state]
    order = [n for n in present if not said_now[n]] + [n for n in present if said_now[n]]
    out = [without[name] for name in order]
    earlier = [n for n in present if not said_now[n]]
    if len(earlier) > 1:
        out.append(_without(state, earlier))
    return out


def _without(state: PreferenceState, names: list[str]) -> PreferenceState:
    new = state.model_copy(deep=True)
    for name in names:
        if name == "keywords":
            new.keywords = [k for k in new.keywords if k.startswith("not ")]
        elif name == "years":
            new.year_min = new.year_max = None
        elif name == "runtime":
            new.runtime_min = new.runtime_max = None
        else:
            setattr(new, name, [])
    return new


def _relaxed_answer(turn: TurnInput, deps: ToolDeps) -> PlannerResult | None:
    """Nothing matches the whole request: the closest list that leaves one part out, with a note
    that says what was left out (a partial answer beats an empty one)."""
    tries = 0
    for state in relaxed_states(turn.state, turn.update):
        if tries == MAX_RELAXED_TRIES:
            break
        if not any_item_fits(deps, state):
            continue  # leaving this out is not enough: no item fits the rest either
        tries += 1
        buffer = _new_buffer(turn, state)
        gather_candidates(state, deps, buffer)
        reply = finalize_reply(turn.model_copy(update={"state": state}), buffer, deps)
        if reply.items:
            labels = constraint_labels(ListRequest(state=turn.state, update=turn.update, catalog=deps.catalog))
            kept = constraint_labels(ListRequest(state=state, update=turn.update, catalog=deps.catalog))
            left_out = [label for label, earlier in labels if (label, earlier) not in kept]
            note = replies.RELAXED_REQUEST.format(constraints=" + ".join(label for label, _ in labels),
                                                  left_out=join_words(left_out))
            if any(earlier for _, earlier in labels):
                note += replies.RELAXED_EARLIER
            reply.notes = [note, *reply.notes]
            return PlannerResult(reply=reply, buffer=buffer)
    return None


def _answer_without_list(turn: TurnInput, buffer: CandidateBuffer, deps: ToolDeps) -> PlannerResult | None:
    """A greeting, a reset, an answer about an item, small talk or a clarifying question; ``None``
    when the turn calls for recommendations."""
    intent = turn.update.intent
    if turn.update.assumptions == "why":
        return _text(why_these(turn, buffer, deps), buffer, turn)
    if intent == "greet":
        return _text(replies.WELCOME, buffer, turn, question=True)
    if intent == "reset":
        return PlannerResult(reply=replies.reset_reply(), buffer=buffer)
    if intent == "ask_item":
        return _text(answer_item_question(turn, deps), buffer, turn)
    picture = turn.update.picture is not None and deps.image_store is not None  # "more like this" picture
    if intent == "other" and not _has_new_content(turn) and not picture:
        return _text(replies.OTHER, buffer, turn)
    if not turn.state.has_request() and not turn.history and not cold_start_applies(buffer, deps) and not picture:
        asked = call_tool("ask", {"about": "request"}, deps=deps, buffer=buffer)
        return _text(asked.text, buffer, turn, question=True)
    return None


def _has_new_content(turn: TurnInput) -> bool:
    update = turn.update
    return bool(update.genres_include or update.titles_like or update.people_include or update.keywords)


def _text(text: str, buffer: CandidateBuffer, turn: TurnInput, *, question: bool = False) -> PlannerResult:
    """A reply without cards; what the parser could not use is still said ("nothing was shown yet")."""
    notes = list(dict.fromkeys([*turn.update.notes, *buffer.notes]))
    return PlannerResult(reply=Reply(text=text, question=question, notes=notes), buffer=buffer)


def cold_start_applies(buffer: CandidateBuffer, deps: ToolDeps) -> bool:
    """True for a person with demographics, few real interactions and a demographic model configured."""
    profile = buffer.demographics
    if profile is None or profile.is_empty() or deps.extras.get("cold_start") is None:
        return False
    if buffer.preferences.assumptions_dropped:  # "not into those"
        return False
    state = buffer.preferences
    return len({*buffer.history, *state.liked_ids, *state.disliked_ids}) < COLD_START_MAX_HISTORY


def why_these(turn: TurnInput, buffer: CandidateBuffer, deps: ToolDeps) -> str:
    """"why these?": the gist of the taste assumed from the person's demographics when it shaped
    the list, else what the list rests on (the request, other viewers' ratings, feedback)."""
    state = turn.state
    if not state.last_shown_ids:
        return WHY_NOTHING_SHOWN
    if cold_start_applies(buffer, deps):
        genres, eras = describe_assumed_taste(deps.extras["cold_start"], buffer.demographics)
        return WHY_ASSUMED.substitute(profile=buffer.demographics.describe(), genres=genres, eras=eras)
    feedback = WHY_FEEDBACK if (turn.history or state.liked_ids or state.disliked_ids) else ""
    request = films_phrase(ListRequest(state=state, update=turn.update, catalog=deps.catalog), len(state.last_shown_ids))
    return WHY_REQUEST.substitute(request=request, feedback=feedback)


def gather_candidates(state: PreferenceState, deps: ToolDeps, buffer: CandidateBuffer) -> None:
    """Fill the buffer: cold-start picks for a new person with demographics, similar items to
    anchors, text matches, then popular allowed items."""
    if cold_start_applies(buffer, deps):
        call_tool("cold_start", {"k": COLD_START_DEPTH}, deps=deps, buffer=buffer)
    if state.anchor_ids:
        call_tool("similar", {"k": SEARCH_DEPTH}, deps=deps, buffer=buffer)
    if buffer.visual:  # "a poster like X", "a dark, gritty look", a picture: posters decide
        call_tool("search_images", {"k": SEARCH_DEPTH}, deps=deps, buffer=buffer)
    text = query_text(state)
    if text or state.people_include:
        call_tool("search", {"query": text, "k": SEARCH_DEPTH}, deps=deps, buffer=buffer)
    if not state.anchor_ids or len(buffer.items) < MIN_POOL:
        # Popular items that satisfy the constraints compete too: text similarity alone
        # favours obscure items whose short descriptions happen to echo the query.
        call_tool("search", {"query": "", "k": SEARCH_DEPTH}, deps=deps, buffer=buffer)


def finalize_reply(turn: TurnInput, buffer: CandidateBuffer, deps: ToolDeps, *, text: str | None = None) -> Reply:
    """Filter, rank and explain what is in the buffer, and build the reply's cards."""
    # a copy to relax from, only when the genres can be relaxed (the filter changes candidates in place);
    # shallow with fresh containers: a deep copy of every candidate took ~20 ms a turn
    relaxable = len(turn.state.genres_include) > 1
    pool = [c.model_copy(update={"signals": dict(c.signals), "unverified": list(c.unverified)})
            for c in buffer.items] if relaxable else []
    kept = call_tool("filter", {}, deps=deps, buffer=buffer)
    relaxed = False
    if kept.kept < turn.n_items and relaxable:
        buffer.items = pool
        call_tool("filter", {"relax_genres": True}, deps=deps, buffer=buffer)
        relaxed = True
    call_tool("rank", {"k": turn.n_items}, deps=deps, buffer=buffer)
    call_tool("explain", {"k": turn.n_items}, deps=deps, buffer=buffer)
    cards = [_card(c.id, buffer, deps) for c in buffer.items[: turn.n_items]]
    if relaxed and cards:
        buffer.note(replies.RELAXED_GENRES.format(genres=join_words([genre_word(g) for g in turn.state.genres_include])))
    unverified_people = sum("people" in c.unverified for c in buffer.items[: turn.n_items])
    if unverified_people and turn.state.people_exclude:
        buffer.note(replies.unknown_people(unverified_people, turn.state.people_exclude))
    notes = list(dict.fromkeys([*turn.update.notes, *buffer.notes]))
    request = ListRequest(state=turn.state, update=turn.update, catalog=deps.catalog, picture=buffer.picture is not None,
                          visual=buffer.visual, relaxed=relaxed)
    if not cards:
        return Reply(text=nothing_found(request), notes=notes)
    reply_text = text or list_heading(request, len(cards), wanted=turn.n_items, previous=turn.previous_text)
    return Reply(text=reply_text, items=cards, notes=notes)


def _card(item_id: str, buffer: CandidateBuffer, deps: ToolDeps) -> Recommendation:
    item = deps.catalog.get(item_id)
    explanation = buffer.explanations.get(item_id)
    return Recommendation(
        id=item.id, title=item.title, year=item.year, genres=item.genres, people=item.people,
        image=item.image, why=explanation.why if explanation else "",
        reasons=explanation.reasons if explanation else [],
    )


def answer_item_question(turn: TurnInput, deps: ToolDeps) -> str:
    """Answer "who directed the third one?" from the catalog's facts, or say they're unknown."""
    ids = referred_ids(turn.state, turn.update) or [t.item_id for t in turn.update.titles_like if t.item_id]
    item = deps.catalog.get(ids[0]) if ids else None
    if item is None:
        return replies.WHICH_ITEM
    return replies.item_facts(item, turn.update.ask or "general")
