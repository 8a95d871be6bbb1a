"""Reconcile the LLM parser's reading of an utterance with the rule parser's.

A valid answer is not a right answer: a small model fills the schema with titles, years and
genres the person never said ("something like Inception" read as "like Pulp Fiction, 1990-1999").
So the rule parser's reading stands, and the model may only refine or add to it:

- **hard constraints and what they hang on** (the intent, named titles, people, references to
  shown items, years, runtimes, the audience, negations, critiques) are the rules' when the
  rules found them. Where the rules found none, the model's value is kept only when the message
  shows it: a title or person written in the message (typos allowed), a year whose decade is
  written ("90s", "1994"), a runtime whose number is, an audience next to a word for one.
- **moods, themes and paraphrases** are what the model adds, as soft preferences: its keywords,
  and the genres it reads into a request whose subject the rules did not find ("something to make
  me laugh" -> "comedy"), as keywords for search rather than as filters.
- a model reading that contradicts the rules' (a title, person, reference, year or genre that
  the rules read otherwise or as ruled out) is dropped and noted, in words for a person.
"""

from __future__ import annotations

import re
from rapidfuzz import fuzz

from chat.schemas import PreferenceUpdate, TitleRef
from retrieval.catalog import fold

GROUNDING_RATIO = 88.0  # partial similarity of a title or name to the message, typos allowed
MAX_MODEL_KEYWORDS = 4
REQUEST_INTENTS = ("recommend", "refine")
_DECADE_NAMES = {20: "twenties", 30: "thirties", 40: "forties", 50: "fifties", 60: "sixties", 70: "seventies",
                 80: "eighties", 90: "nineties"}
_NUMBER_WORDS = {1: "one", 2: "two", 3: "three"}
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


def reconcile(rules: PreferenceUpdate, model: PreferenceUpdate, utterance: str) -> PreferenceUpdate:
    """The rules' update, refined by what the model adds without contradicting it (see module doc)."""
    text = fold(utterance)
    out = rules.model_copy(deep=True)
    dropped: list[str] = []

    def drop(slot: str) -> None:
        if slot not in dropped:
            dropped.append(slot)

    if model.intent != rules.intent and rules.intent != "other":
        drop("intent")
    request = out.intent in REQUEST_INTENTS
    _titles(out, model, text, drop)
    _people(out, model, text, drop)
    if model.refers_to_shown and model.refers_to_shown != rules.refers_to_shown:
        drop("references")
    _bounds(out, model, ("year_min", "year_max"), lambda year: _decade_written(year, text), "years", drop)
    _bounds(out, model, ("runtime_min", "runtime_max"), lambda minutes: _minutes_written(minutes, text),
            "runtime", drop)
    genre_words = _genres(out, model, rules, request, drop)
    if model.audience and model.audience != rules.audience:
        if rules.audience or not request or not _AUDIENCE_WORDS.search(utterance):
            drop("audience")
        else:
            out.audience = model.audience
    _critiques(model, rules, drop)
    if request:
        known = {fold(k) for k in [*out.keywords, *out.genres_include]}
        extra = [k for k in [*model.keywords, *genre_words] if 0 < len(k.split()) <= 3 and fold(k) not in known]
        out.keywords = [*out.keywords, *list(dict.fromkeys(extra))[:MAX_MODEL_KEYWORDS]]
    if dropped:
        slots = [SLOT_WORDS[s] for s in dropped]
        joined = ", ".join(slots[:-1]) + (" and " if len(slots) > 1 else "") + slots[-1]
        out.notes = [*out.notes, NOTE_DISAGREED.format(slots=joined)]
    return PreferenceUpdate.model_validate(out.model_dump())


def said(name: str, text: str) -> bool:
    """True when ``name`` (a title or a person) is written in the folded message, typos allowed.

    A one-word name shorter than 6 letters must be written exactly and is still not enough for
    a title ("her", "heat"): those stay the rule parser's, which reads capitals and context."""
    key = fold(name)
    if len(key) < 2:
        return False
    if " " in key and f" {key} " in f" {text} ":
        return True
    return len(key) >= 6 and fuzz.partial_ratio(key, text) >= GROUNDING_RATIO


def _decade_written(year: int, text: str) -> bool:
    """The year itself, or its decade ("90s", "1990s", "nineties"), is in the folded message."""
    decade = year - year % 10
    short = f"{decade % 100:02d}s"
    words = {str(year), f"{decade}s", short, _DECADE_NAMES.get(decade % 100, "-")}
    return any(f" {w} " in f" {text} " for w in words)


def _minutes_written(minutes: int, text: str) -> bool:
    """The number of minutes, or of hours, is in the folded message."""
    numbers = {str(minutes)} | ({str(minutes // 60), _NUMBER_WORDS.get(minutes // 60, "-")} if minutes % 60 == 0
                                else set())
    return any(f" {n} " in f" {text} " for n in numbers)


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


def _bounds(out: PreferenceUpdate, model: PreferenceUpdate, fields: tuple[str, str], written, slot: str,
            drop) -> None:
    """The rules' bounds; where they found none, the model's bounds whose values are written."""
    mine = [getattr(out, f) for f in fields]
    theirs = [getattr(model, f) for f in fields]
    if not any(theirs) or theirs == mine:
        return
    if any(mine) or not all(written(v) for v in theirs if v is not None):
        drop(slot)
        return
    for field, value in zip(fields, theirs):
        setattr(out, field, value)


def _genres(out: PreferenceUpdate, model: PreferenceUpdate, rules: PreferenceUpdate, request: bool,
            drop) -> list[str]:
    """The genres stay the rules'. Returns the model's extra wanted genres as keywords, for a request
    whose subject the rules did not find (no genre, title, reference or person read)."""
    wanted, ruled_out = set(rules.genres_include), set(rules.genres_exclude)
    if set(model.genres_include) & ruled_out or set(model.genres_exclude) & wanted:
        drop("negations")
    extra = [g for g in model.genres_include if g not in wanted and g not in ruled_out]
    subject_known = bool(rules.genres_include or rules.titles_like or rules.refers_to_shown or rules.people_include)
    if extra and (subject_known or not request):
        drop("genres")
        return []
    return [g.lower() for g in extra] if request else []


def _critiques(model: PreferenceUpdate, rules: PreferenceUpdate, drop) -> None:
    """Critiques stay the rules': a model critique the rules did not read is dropped, noted when it
    reverses one of theirs."""
    mine = {(c.attribute, c.direction) for c in rules.critiques}
    theirs = {(c.attribute, c.direction) for c in model.critiques}
    if any((a, "less" if d == "more" else "more") in mine for a, d in theirs):
        drop("critiques")
