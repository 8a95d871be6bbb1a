"""Reconcile the LLM parser's reading of an utterance with the rule parser's.

A valid answer is not a right answer: a small model fills the schema with titles, years and
genres the person never said ("something like Inception" read as "like Pulp Fiction, 1990-1999").
So the rule parser's confident findings stand, and the model may only refine or add to them:

- **named titles, people, references to shown items, years and negations** (excluded genres,
  people and titles) are the rules' when the rules found them; the model's differing reading is
  dropped and noted. Where the rules found none, the model's value is kept only when the message
  shows it: a title or person written in the message (typos allowed), a year or runtime next to a
  number or a decade word, a reference next to a pointing word ("the second one", "those").
- **moods, themes and paraphrases** are what the model adds: keywords always; genres, an audience
  or critiques only where the rules read nothing of the kind and the message is a request.
- a model reading that contradicts the rules (a genre wanted that the rules read as ruled out)
  keeps the rules' reading, with a note.

``reconcile`` returns the merged update; its notes name what was dropped, in words for a person.
"""

from __future__ import annotations

import re
from typing import Iterable

from rapidfuzz import fuzz

from chat.schemas import PreferenceUpdate, TitleRef
from retrieval.catalog import fold

GROUNDING_RATIO = 88.0  # partial similarity of a title or name to the message, typos allowed
MAX_MODEL_KEYWORDS = 4
REQUEST_INTENTS = ("recommend", "refine")
_DECADE_WORDS = re.compile(
    r"\b(?:\d|twenties|thirties|forties|fifties|sixties|seventies|eighties|nineties|decade|century|year|years)",
    re.I)
_RUNTIME_WORDS = re.compile(r"\b(?:\d|hour|hours|minute|minutes|mins?)\b", re.I)
_POINTING_WORDS = re.compile(
    r"\b(?:first|second|third|fourth|fifth|sixth|last|1st|2nd|3rd|4th|5th|one|ones|those|these|them|both|all|"
    r"top|bottom|middle)\b", re.I)
_NEGATION_WORDS = re.compile(r"\b(?:no|not|without|nothing|none|never|avoid|hate|except|skip)\b|n't\b", re.I)
_AUDIENCE_WORDS = re.compile(
    r"\b(?:kid|kids|child|children|family|families|toddler|son|daughter|year old|years old|adult|adults|grown|"
    r"grownups?|mature|teen|teens|teenager)\b", re.I)

SLOT_WORDS = {
    "intent": "what the message asks for",
    "titles": "the titles named",
    "people": "the people named",
    "references": "which shown items are meant",
    "years": "the years",
    "runtime": "the running time",
    "negations": "what is ruled out",
    "audience": "the audience",
    "critiques": "the changes asked for",
    "genres": "the genres",
}
NOTE_DISAGREED = "the language model read {slots} differently from what the message says; kept my own reading"


def reconcile(rules: PreferenceUpdate, model: PreferenceUpdate, utterance: str, *, n_shown: int) -> PreferenceUpdate:
    """The rules' update, refined by what the model adds without contradicting it (see module doc)."""
    text = fold(utterance)
    out = rules.model_copy(deep=True)
    dropped: list[str] = []

    def drop(slot: str) -> None:
        if slot not in dropped:
            dropped.append(slot)

    _titles(out, model, text, drop)
    _people(out, model, text, drop)
    _references(out, model, utterance, n_shown, drop)
    _bounds(out, model, ("year_min", "year_max"), _DECADE_WORDS.search(utterance) is not None, "years", drop)
    _bounds(out, model, ("runtime_min", "runtime_max"), _RUNTIME_WORDS.search(utterance) is not None, "runtime", drop)
    if model.intent != rules.intent and rules.intent != "other":
        drop("intent")
    elif rules.intent == "other" and model.intent in REQUEST_INTENTS and _adds_request(model):
        out.intent = model.intent
    request = out.intent in REQUEST_INTENTS
    _genres(out, model, rules, request, _NEGATION_WORDS.search(utterance) is not None, drop)
    if model.audience and model.audience != rules.audience:
        if rules.audience or not request or not _AUDIENCE_WORDS.search(utterance):
            drop("audience")
        else:
            out.audience = model.audience
    _critiques(out, model, rules, request and n_shown > 0, drop)
    if request:
        known = {fold(k) for k in out.keywords}
        extra = [k for k in model.keywords if 0 < len(k.split()) <= 3 and fold(k) not in known][:MAX_MODEL_KEYWORDS]
        out.keywords = [*out.keywords, *extra]
    if dropped:
        slots = [SLOT_WORDS[s] for s in dropped]
        joined = ", ".join(slots[:-1]) + (" and " if len(slots) > 1 else "") + slots[-1]
        out.notes = [*out.notes, NOTE_DISAGREED.format(slots=joined)]
    return PreferenceUpdate.model_validate(out.model_dump())


def said(name: str, text: str) -> bool:
    """True when ``name`` (a title or a person) is written in the folded message, typos allowed."""
    key = fold(name)
    if not key:
        return False
    if f" {key} " in f" {text} ":
        return True
    return len(key) >= 4 and fuzz.partial_ratio(key, text) >= GROUNDING_RATIO


def _titles(out: PreferenceUpdate, model: PreferenceUpdate, text: str, drop) -> None:
    ruled = {r.item_id or fold(r.text) for r in [*out.titles_like, *out.titles_exclude]}
    for field, other in (("titles_like", "titles_exclude"), ("titles_exclude", "titles_like")):
        kept: list[TitleRef] = list(getattr(out, field))
        opposite = {r.item_id or fold(r.text) for r in getattr(out, other)}
        for ref in getattr(model, field):
            key = ref.item_id or fold(ref.text)
            if key in opposite:
                drop("negations" if field == "titles_like" else "titles")
            elif key in ruled:
                continue
            elif ref.item_id and said(ref.text, text):
                kept.append(ref)
                ruled.add(key)
            else:
                drop("titles")
        setattr(out, field, kept)


def _people(out: PreferenceUpdate, model: PreferenceUpdate, text: str, drop) -> None:
    for field, other in (("people_include", "people_exclude"), ("people_exclude", "people_include")):
        kept = list(getattr(out, field))
        known = {fold(p) for p in [*out.people_include, *out.people_exclude]}
        opposite = {fold(p) for p in getattr(out, other)}
        for name in getattr(model, field):
            if fold(name) in opposite:
                drop("negations")
            elif fold(name) in known:
                continue
            elif said(name, text):
                kept.append(name)
            else:
                drop("people")
        setattr(out, field, kept)


def _references(out: PreferenceUpdate, model: PreferenceUpdate, utterance: str, n_shown: int, drop) -> None:
    if not model.refers_to_shown or model.refers_to_shown == out.refers_to_shown:
        return
    if out.refers_to_shown or not n_shown or not _POINTING_WORDS.search(utterance):
        drop("references")
        return
    out.refers_to_shown = [p for p in model.refers_to_shown if p <= n_shown]


def _bounds(out: PreferenceUpdate, model: PreferenceUpdate, fields: tuple[str, str], shown_in_text: bool,
            slot: str, drop) -> None:
    mine = [getattr(out, f) for f in fields]
    theirs = [getattr(model, f) for f in fields]
    if not any(theirs) or theirs == mine:
        return
    if any(mine) or not shown_in_text:
        drop(slot)
        return
    for field, value in zip(fields, theirs):
        setattr(out, field, value)


def _genres(out: PreferenceUpdate, model: PreferenceUpdate, rules: PreferenceUpdate, request: bool, negated: bool,
            drop) -> None:
    """Genres the model adds: wanted ones only for a request whose subject the rules did not find
    (no genre, title, reference or person read), ruled-out ones only when the message negates."""
    wanted, ruled_out = set(rules.genres_include), set(rules.genres_exclude)
    if set(model.genres_include) & ruled_out or set(model.genres_exclude) & wanted:
        drop("negations")
    subject_known = bool(rules.genres_include or rules.titles_like or rules.refers_to_shown or rules.people_include)
    if request and not subject_known:
        out.genres_include = _new(out.genres_include, model.genres_include, ruled_out)
    elif set(model.genres_include) - wanted - ruled_out:
        drop("genres")
    extra_out = set(model.genres_exclude) - ruled_out - wanted
    if extra_out and request and negated:
        out.genres_exclude = _new(out.genres_exclude, sorted(extra_out), set())
    elif extra_out:
        drop("negations")


def _critiques(out: PreferenceUpdate, model: PreferenceUpdate, rules: PreferenceUpdate, allowed: bool, drop) -> None:
    mine = {(c.attribute, c.direction) for c in rules.critiques}
    theirs = {(c.attribute, c.direction) for c in model.critiques}
    if not theirs or theirs <= mine:
        return
    if any((a, "less" if d == "more" else "more") in mine for a, d in theirs):
        drop("critiques")
        return
    if mine or not allowed:
        drop("critiques")
        return
    out.critiques = list(model.critiques)


def _new(current: list[str], extra: Iterable[str], banned: set[str]) -> list[str]:
    return list(dict.fromkeys([*current, *(g for g in extra if g not in banned)]))


def _adds_request(model: PreferenceUpdate) -> bool:
    return bool(model.genres_include or model.keywords or model.titles_like or model.people_include)
