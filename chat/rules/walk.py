"""The negation-scoped walk: the utterance's matches read left to right into ``Slots``.

A negation ("no", "nothing with", "anything but", "I don't want") rules out what follows it up
to a comma, a "but", or the first word that is no longer part of the list it negates ("no
horror or gore, something funny"). A feedback phrase ("seen", "hated", "loved") or "like" sets
the frame that says what happens to the titles after it. Unclaimed words right after a negation
are kept as negated keywords ("nothing with clowns" -> "not clowns").
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from chat import lexicon as lx
from chat.rules.slots import Slots, add_once, record_match
from chat.rules.utterance import HARD_PUNCT, Match, Utterance

SCOPE_KINDS = ("neg", "neutral", "feedback", "like")  # matches that set the scope and record nothing
ENTITY_KINDS = ("genre", "person", "title", "keyword", "audience")
MAX_NEGATION_GAP = 6  # filler words a negation reaches over before it has ruled anything out


@dataclass
class Scope:
    """What governs the word being walked."""

    negated: bool = False
    hits: int = 0  # things the negation in force has ruled out
    gap: int = 0  # filler words since the negation, before it ruled anything out
    frame: str | None = None  # "seen", "liked", "disliked" (feedback) or "like"


def walk(u: Utterance) -> Slots:
    """Read every match in order of position, with the negation and the frame in force."""
    slots = Slots()
    by_start: dict[int, list[Match]] = defaultdict(list)
    for match in u.matches:
        by_start[match.a].append(match)
    scope = Scope()
    k = 0
    while k < len(u.fixed):
        if k and any(c in HARD_PUNCT for c in u.punct_between(k - 1, k)):
            scope.negated, scope.frame = False, None
        here = by_start.get(k)
        if not here:
            if u.taken[k] is None:
                _plain_word(u, slots, k, scope)
            k += 1
            continue
        _open_scopes(here, slots, scope)
        for match in here:
            if match.kind not in SCOPE_KINDS:
                hit = record_match(u, slots, match, scope.negated, scope.frame)
                if hit and scope.negated:
                    scope.hits, scope.gap = scope.hits + 1, 0
        k = max(m.b for m in here)
    return slots


def _open_scopes(here: list[Match], slots: Slots, scope: Scope) -> None:
    """Start a negation, end one ("I don't mind"), or set the frame, from the matches at one word."""
    kinds = {m.kind for m in here}
    if "neg" in kinds:
        scope.negated, scope.hits, scope.gap = True, 0, 0
    if "neutral" in kinds:
        scope.negated = False
    if "feedback" in kinds:
        kind = next(m.value for m in here if m.kind == "feedback")
        slots.feedback = slots.feedback or kind  # type: ignore[assignment]
        scope.frame = kind  # type: ignore[assignment]
    if "like" in kinds:
        scope.frame = "like"


def _plain_word(u: Utterance, slots: Slots, k: int, scope: Scope) -> None:
    """A word nothing claimed: it may end the negation or the frame, or be what a negation rules out."""
    word = u.fixed[k]
    if word in lx.SCOPE_BREAKERS:
        scope.negated, scope.hits, scope.gap, scope.frame = False, 0, 0, None
        return
    if scope.negated:
        if scope.hits and (word not in lx.LIST_WORDS or (
                word in ("and", "something", "anything") and not _entity_at(u, k + 1))):
            scope.negated = False  # "no horror and something funny": the negation has ended
        elif not scope.hits:
            if word in lx.FILLER_WORDS or word in lx.LIST_WORDS or not word.isalpha():
                scope.gap += 1
                if scope.gap > MAX_NEGATION_GAP:
                    scope.negated = False
            else:
                add_once(slots.keywords, f"not {u.norms[k]}")
                slots.used_words.add(k)
                scope.hits += 1
    if scope.frame and word not in lx.LIST_WORDS and word not in lx.FILLER_WORDS:
        scope.frame = None


def _entity_at(u: Utterance, k: int) -> bool:
    """True when word k (after an optional article) starts a genre, person, title or keyword."""
    while k < len(u.fixed) and u.fixed[k] in ("a", "an", "the", "no", "not"):
        k += 1
    taken = u.taken[k] if k < len(u.taken) else None
    return taken is not None and taken.kind in ENTITY_KINDS
