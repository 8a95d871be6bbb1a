"""Questions about, and rejections of, what was assumed about the person: "why these?", "not into those".

Marquee may start a new person's list from the taste it assumes from their demographics (cold
start); these cues let the person ask what was assumed and set it aside. Whole phrases only
(``chat.lexicon.ASSUMPTION_QUESTIONS`` / ``ASSUMPTION_REJECTIONS``), matched on the folded text.
"""

from __future__ import annotations

import re
from typing import Literal

from chat import lexicon as lx
from chat.schemas import PreferenceUpdate

AssumptionCue = Literal["why", "drop"]


def _folded(text: str) -> str:
    return " " + " ".join(re.sub(r"[^a-z0-9' ]+", " ", text.lower().replace("’", "'")).split()) + " "


def assumption_cue(text: str) -> AssumptionCue | None:
    """``why`` for "why these?", ``drop`` for "not into those", else ``None``."""
    folded = _folded(text)
    if any(f" {phrase} " in folded for phrase in lx.ASSUMPTION_REJECTIONS):
        return "drop"
    if any(f" {phrase} " in folded for phrase in lx.ASSUMPTION_QUESTIONS):
        return "why"
    return None


def apply_assumption_cue(update: PreferenceUpdate, text: str, *, shown: bool) -> PreferenceUpdate:
    """Mark the update: a question about the list is answered, not searched; a rejection asks for a
    new list without the assumed taste (and does not point at the shown items as ones to match)."""
    cue = assumption_cue(text)
    if cue is None:
        return update
    update.assumptions = cue
    if update.feedback is None:
        update.refers_to_shown = []
    if cue == "why":
        update.intent = "other"
    elif update.intent == "other":
        update.intent = "refine" if shown else "recommend"
    return update
