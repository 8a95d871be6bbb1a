"""What the utterance is for (greet, recommend, refine, feedback, ask_item, reset, other), and its free text.

Decided after the walk, from what it collected: constraints or named titles make a request
(``refine`` once items were shown); feedback on a title or a shown item with nothing else is
``feedback``; a question about a shown item is ``ask_item``.
"""

from __future__ import annotations

from chat import lexicon as lx
from chat.rules.references import ReferenceCues, pointer_reference
from chat.rules.slots import Slots
from chat.rules.utterance import Utterance

MAX_QUERY_CHARS = 300


def free_text_query(u: Utterance, s: Slots) -> str:
    """The words nothing claimed (keywords aside), less filler: what is left for free-text search."""
    words = []
    for k, word in enumerate(u.words):
        taken = u.taken[k]
        if k in s.used_words or (taken is not None and taken.kind != "keyword"):
            continue
        norm = u.fixed[k]
        if norm in lx.FILLER_WORDS or norm in lx.SCOPE_BREAKERS or norm in lx.LIST_WORDS or not norm.isalnum():
            continue
        if len(norm) < 2:  # a lone letter ("<b>" markup, "x") describes nothing
            continue
        words.append(word.text)
    return " ".join(words)[:MAX_QUERY_CHARS]


def asks_similar(u: Utterance, similar_cues: list[tuple[str, ...]]) -> bool:
    """True when the utterance asks for items like the titles it names ("anything similar?")."""
    text = " " + " ".join(u.fixed) + " "
    return any(f" {' '.join(p)} " in text for p in similar_cues)


def is_question(u: Utterance) -> bool:
    """Ends with "?", starts with a question word, or starts with "tell me about"."""
    first = u.fixed[0] if u.fixed else ""
    return u.text.rstrip().endswith("?") or first in lx.QUESTION_STARTS or u.fixed[:3] == ["tell", "me", "about"]


def _has_constraints(s: Slots) -> bool:
    """Any preference at all besides named titles."""
    return bool(
        s.genres_include or s.genres_exclude or s.people_include or s.people_exclude or s.keywords
        or s.critiques or s.year_min or s.year_max or s.runtime_min or s.runtime_max or s.audience)


def decide_intent(u: Utterance, s: Slots, query: str, references: ReferenceCues) -> str:
    """The intent, from the flags, slots and free text the walk left."""
    flags = s.flags
    if "reset" in flags:
        return "reset"
    question = is_question(u)
    request_words = any(w in lx.REQUEST_CUES for w in u.fixed)
    constraints = _has_constraints(s)
    targets = bool(s.refs or s.shown_titles or s.titles_like or s.titles_exclude)
    asks_more = "more" in flags or "request_question" in flags or request_words
    if question and "request_question" not in flags and (
            "ask" in flags or (not asks_more and (s.refs or s.shown_titles))) and (
            targets or pointer_reference(u, references)):
        return "ask_item"
    if s.feedback and (targets or pointer_reference(u, references)) and not asks_more and not constraints:
        if not (s.feedback == "liked" and not u.shown and s.titles_like):
            return "feedback"
    if constraints or targets or asks_more or query:
        if question and not (constraints or targets or asks_more):
            return "other"
        return "refine" if u.shown else "recommend"
    if "greet" in flags:
        return "greet"
    return "other"
