"""Negation words, and whether one stands right before a span ("not before 1990", "no more than 2 hours").

The walk (``chat.rules.walk``) handles how far a negation reaches; this module answers the
local question the year and runtime readers ask: is this bound negated?
"""

from __future__ import annotations

from chat import lexicon as lx
from chat.rules.utterance import Utterance, fold_phrases

CONTRACTED_NEGATORS = frozenset(("dont", "doesnt", "isnt"))  # the last word of "I dont", "it isnt"


def negator_words() -> frozenset[str]:
    """Single words that negate what follows: the one-word negators of the lexicon, and contractions."""
    return frozenset(p[-1] for p in fold_phrases(lx.NEGATORS) if len(p) == 1) | CONTRACTED_NEGATORS


def negated_before(u: Utterance, k: int, negators: frozenset[str]) -> bool:
    """True when one of the two words before word k (within the clause) is a negator."""
    before = u.before(k, 3)
    return any(x in negators for x in before[-2:])
