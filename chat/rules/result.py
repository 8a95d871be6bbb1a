"""The ``PreferenceUpdate`` a reading ends in: slots settled against the intent and the items shown.

Settling: "it" / "that one" becomes the one item shown; titles named with "seen" go to the
titles to match when the user asks for similar ones; a question about an item sets no
preference; "recent" becomes a ``year_min``; a runtime bound replaces a length critique.
"""

from __future__ import annotations

import logging

from chat import lexicon as lx
from chat.rules.critiques import without_covered_length
from chat.rules.intent import asks_similar, decide_intent, free_text_query
from chat.rules.references import ReferenceCues, pointer_reference
from chat.rules.slots import Slots, TitleEntry, add_once
from chat.rules.utterance import Utterance
from chat.schemas import Critique, PreferenceUpdate, TitleRef

logger = logging.getLogger(__name__)


def build_update(u: Utterance, s: Slots, *, references: ReferenceCues, similar_cues: list[tuple[str, ...]],
                 reference_year: int) -> PreferenceUpdate:
    """The update for the slots; bounds out of the schema's range are dropped with a note."""
    query = free_text_query(u, s)
    intent = decide_intent(u, s, query, references)
    refs = _shown_refs(u, s, intent, references)
    titles_like, titles_exclude = _settled_titles(u, s, intent, similar_cues)
    if intent == "ask_item":
        for position in s.shown_titles:
            add_once(refs, position)
        shown_ids = {item.id for item in u.shown}
        titles_like = [t for t in titles_like if t[0] is None or t[0].id not in shown_ids]
    if "recent" in s.flags and s.year_min is None and s.year_max is None:
        s.year_min = reference_year - lx.RECENT_YEARS
    if any(t[0] is None for t in titles_like + titles_exclude):
        u.notes.append("I couldn't find some of the titles you named in the catalog.")
    try:
        return _update(u, s, intent, query, refs, titles_like, titles_exclude)
    except ValueError as exc:  # a bound out of the schema's range: drop the bounds, keep the rest
        if (s.year_min, s.year_max, s.runtime_min, s.runtime_max) == (None, None, None, None):
            raise
        logger.info("parsed values out of range (%s); dropping year and runtime bounds", exc)
        s.year_min = s.year_max = s.runtime_min = s.runtime_max = None
        u.notes.append("I ignored a year or a length that was out of range.")
        return build_update(u, s, references=references, similar_cues=similar_cues, reference_year=reference_year)


def _update(u: Utterance, s: Slots, intent: str, query: str, refs: list[int], titles_like: list[TitleEntry],
            titles_exclude: list[TitleEntry]) -> PreferenceUpdate:
    """The ``PreferenceUpdate`` itself; a question about an item ("is it good for kids?") sets no preference."""
    critiques = without_covered_length(s.critiques, s.runtime_min, s.runtime_max)
    keywords, genres_include, audience = s.keywords, s.genres_include, s.audience
    if intent == "ask_item":
        keywords, critiques, genres_include, audience = [], [], [], None
    return PreferenceUpdate(
        intent=intent,  # type: ignore[arg-type]
        genres_include=genres_include, genres_exclude=s.genres_exclude,
        people_include=s.people_include, people_exclude=s.people_exclude,
        titles_like=_title_refs(titles_like), titles_exclude=_title_refs(titles_exclude),
        year_min=s.year_min, year_max=s.year_max,
        runtime_min=s.runtime_min, runtime_max=s.runtime_max,
        audience=audience,  # type: ignore[arg-type]
        keywords=keywords,
        critiques=[Critique(attribute=a, direction=d) for a, d in critiques],  # type: ignore[arg-type]
        refers_to_shown=refs, feedback=s.feedback if (refs or titles_like or titles_exclude) else None,  # type: ignore[arg-type]
        ask=(s.ask or "general") if intent == "ask_item" else None,  # type: ignore[arg-type]
        query=query,
        notes=list(dict.fromkeys(u.notes)),
    )


def _shown_refs(u: Utterance, s: Slots, intent: str, references: ReferenceCues) -> list[int]:
    """Positions of shown items referred to; "it" / "that one" means the only item shown."""
    refs = [p for p in s.refs if 1 <= p <= len(u.shown)]
    if intent in ("feedback", "ask_item") or s.feedback or "more" in s.flags:
        if not refs and not s.titles_like and not s.titles_exclude:
            pointer = pointer_reference(u, references)
            if pointer == [1]:
                refs = [1]
            elif pointer == [0] and u.shown:
                u.notes.append("I wasn't sure which title “it” or “that” meant: say “the second one” or name it.")
    return refs


def _settled_titles(u: Utterance, s: Slots, intent: str,
                    similar_cues: list[tuple[str, ...]]) -> tuple[list[TitleEntry], list[TitleEntry]]:
    """(titles to match, titles to exclude) once the whole utterance is known.

    "I've seen X and Y, anything similar?": X and Y are what to match. "Seen it, and Heat":
    as feedback, titles named without a cue are seen too.
    """
    titles_like, titles_exclude = s.titles_like, s.titles_exclude
    if asks_similar(u, similar_cues):
        titles_like = titles_like + [t for t in titles_exclude if t[3] == "seen"]
        titles_exclude = [t for t in titles_exclude if t[3] != "seen"]
    if s.feedback in ("seen", "disliked") and intent == "feedback":
        titles_exclude = titles_exclude + [t for t in titles_like if not t[2]]
        titles_like = [t for t in titles_like if t[2]]
    return titles_like, titles_exclude


def _title_refs(entries: list[TitleEntry]) -> list[TitleRef]:
    """``TitleRef``s in the catalog's spelling, each item (or unknown text) once."""
    out: list[TitleRef] = []
    seen: set[str] = set()
    for item, text, *_ in entries:
        key = item.id if item is not None else text.casefold()
        if key not in seen:
            seen.add(key)
            out.append(TitleRef(text=item.title if item else text, item_id=item.id if item else None))
    return out
