"""Merging one utterance's ``PreferenceUpdate`` into the conversation's ``PreferenceState``.

The policy, in a sentence each:
- ``reset`` clears the request and what was shown; feedback about the user (liked, disliked,
  seen) stays, because it is true of the person, not of the request.
- ``recommend`` with something new to go on starts a new request (new topic); ``refine`` and
  critiques build on the current one.
- References ("the second one") resolve against the last assistant turn's items.
- Critiques of recency and length become year/runtime bounds relative to the referred items;
  the other critiques stay as soft directions for ranking.
- Negation wins: a genre or person ruled out is removed from the wanted lists.
"""

from __future__ import annotations

from chat.schemas import Critique, PreferenceState, PreferenceUpdate
from retrieval.audience import reaimed_genres
from retrieval.catalog import Catalog

TOPIC_FIELDS = (
    "genres_include", "genres_exclude", "people_include", "people_exclude", "year_min", "year_max",
    "runtime_min", "runtime_max", "audience", "keywords", "query", "critiques", "anchor_ids",
)
DEFAULT_SHORT_RUNTIME = 100


def _extend(values: list[str], new: list[str]) -> list[str]:
    return list(dict.fromkeys([*values, *new]))


def _starts_new_request(update: PreferenceUpdate, state: PreferenceState) -> bool:
    """A fresh request, or "something like <a title not on screen>", which is one too."""
    if update.refers_to_shown or update.critiques:
        return False
    has_content = any((
        update.genres_include, update.people_include, update.titles_like, update.keywords,
        update.year_min, update.year_max, update.runtime_min, update.runtime_max, update.audience,
    ))
    if update.intent == "recommend":
        return has_content
    new_anchor = any(t.item_id and t.item_id not in state.last_shown_ids for t in update.titles_like)
    return update.intent == "refine" and new_anchor


def referred_ids(state: PreferenceState, update: PreferenceUpdate) -> list[str]:
    """Catalog ids of the shown items the utterance points at ("the second one", "all of those")."""
    shown = state.last_shown_ids
    return [shown[p - 1] for p in update.refers_to_shown if 1 <= p <= len(shown)]


def merge(state: PreferenceState, update: PreferenceUpdate, catalog: Catalog) -> PreferenceState:
    """Return the new state; ``state`` is not modified."""
    if update.intent == "reset":
        return PreferenceState(
            liked_ids=state.liked_ids, disliked_ids=state.disliked_ids, seen_ids=state.seen_ids,
            assumptions_dropped=state.assumptions_dropped,
        )
    new = state.model_copy(deep=True)
    if update.assumptions == "drop":
        new.assumptions_dropped = True
    if _starts_new_request(update, state):
        blank = PreferenceState()
        for name in TOPIC_FIELDS:
            setattr(new, name, getattr(blank, name))

    referred = referred_ids(state, update)
    _apply_feedback(new, update, referred)
    _apply_constraints(new, update)
    # "similar to X? we have seen Y": the parser keeps titles merely seen apart (titles_exclude),
    # so the titles asked to be like are anchors whatever else the utterance says it saw
    if update.intent in ("recommend", "refine") and update.feedback in (None, "liked", "seen"):
        named = [t.item_id for t in update.titles_like if t.item_id]
        anchors = referred + named
        if anchors:
            new.anchor_ids = list(dict.fromkeys(anchors))
    _apply_critiques(new, update, referred or state.last_shown_ids, catalog)
    if update.audience and new.anchor_ids:  # "like Toy Story but for adults": Toy Story's kind, for adults
        anchors = [item for i in new.anchor_ids if (item := catalog.get(i)) is not None]
        kinds = [g for g in reaimed_genres(anchors, new.audience, catalog) if g not in new.genres_exclude]
        new.genres_include = _extend(new.genres_include, kinds)
    return new


def _apply_feedback(new: PreferenceState, update: PreferenceUpdate, referred: list[str]) -> None:
    excluded = [t.item_id for t in update.titles_exclude if t.item_id]
    named = [t.item_id for t in update.titles_like if t.item_id]
    kind = update.feedback
    if kind is None and excluded:
        kind = "disliked"
    targets = referred + excluded if kind else excluded
    if kind == "liked":
        targets = referred + named  # "I loved X and Y": the titles liked, not the ones ruled out
    elif kind == "seen":
        targets = referred + excluded + named  # "similar to X? we have seen Y": both are known to them
    if kind == "seen":
        new.seen_ids = _extend(new.seen_ids, targets)
    elif kind == "disliked":
        new.disliked_ids = _extend(new.disliked_ids, targets)
        new.liked_ids = [i for i in new.liked_ids if i not in targets]
        new.anchor_ids = [i for i in new.anchor_ids if i not in targets]
    elif kind == "liked":
        new.liked_ids = _extend(new.liked_ids, targets)
        new.disliked_ids = [i for i in new.disliked_ids if i not in targets]


def _apply_constraints(new: PreferenceState, update: PreferenceUpdate) -> None:
    new.genres_exclude = _extend(new.genres_exclude, update.genres_exclude)
    new.genres_include = [g for g in _extend(new.genres_include, update.genres_include) if g not in new.genres_exclude]
    new.genres_exclude = [g for g in new.genres_exclude if g not in update.genres_include]
    new.people_exclude = _extend(new.people_exclude, update.people_exclude)
    new.people_include = [p for p in _extend(new.people_include, update.people_include) if p not in new.people_exclude]
    for name in ("year_min", "year_max", "runtime_min", "runtime_max", "audience"):
        value = getattr(update, name)
        if value is not None:
            setattr(new, name, value)
    if new.year_min and new.year_max and new.year_min > new.year_max:
        new.year_max = None if update.year_min else new.year_max
        new.year_min = None if update.year_max else new.year_min
    new.keywords = _extend(new.keywords, update.keywords)
    if update.query:
        new.query = update.query


def _apply_critiques(new: PreferenceState, update: PreferenceUpdate, reference_ids: list[str], catalog: Catalog) -> None:
    refs = [catalog.get(i) for i in reference_ids]
    refs = [r for r in refs if r is not None]
    soft: dict[str, Critique] = {c.attribute: c for c in new.critiques}
    for critique in update.critiques:
        if critique.attribute == "recency":
            years = [r.year for r in refs if r.year]
            if critique.direction == "more":
                new.year_min = (max(years) + 1) if years else new.year_min
                if new.year_max and new.year_min and new.year_max < new.year_min:
                    new.year_max = None
            elif years:
                new.year_max = min(years) - 1
                if new.year_min and new.year_min > new.year_max:
                    new.year_min = None
            if not years:
                soft[critique.attribute] = critique
        elif critique.attribute == "length":
            runtimes = [r.runtime for r in refs if r.runtime]
            if critique.direction == "less":
                new.runtime_max = (min(runtimes) - 1) if runtimes else (new.runtime_max or DEFAULT_SHORT_RUNTIME)
            else:
                soft[critique.attribute] = critique
                if runtimes:
                    new.runtime_min = max(runtimes) + 1
        else:
            soft[critique.attribute] = critique
    new.critiques = list(soft.values())
