"""Candidates for a person with little or no history, from what they told about themselves.

The cold-start ranker (``retrieval.cold_start.ColdStartRanker``, in ``deps.extras["cold_start"]``:
from the shipped taste model by default, from ``MARQUEE_DEMOGRAPHICS_DIR`` when set) scores every catalog item from the person's
demographics and their few real interactions: demographic popularity plus the collaborative
model fed with an imaginary history, both fading as real feedback accumulates. Each candidate
carries the signal ``cold_start`` (0..1); where the training likes show that the person's
demographic group favours the item (``retrieval.group_taste``), also ``group:<attribute>=<value>``
(the lift) and ``group_genre:<genre>``, so that explain can say so honestly.
"""

from __future__ import annotations

import logging
from collections import Counter

import numpy as np
from pydantic import BaseModel, Field

from retrieval.demographics import Demographics
from retrieval.group_taste import GroupTaste, genre_phrase
from retrieval.taste_model import TasteNeighbours
from tools.base import CandidateBuffer, ScoredItem, ToolDeps, tool
from tools.filtering import check_item

log = logging.getLogger(__name__)

EVIDENCE_DEPTH = 40  # the best cold-start candidates whose group evidence is looked up


class ColdStartArgs(BaseModel):
    """Add candidates for a person with little history, ranked from their demographics."""

    k: int = Field(100, ge=1, le=500, description="How many candidates to add.")


class ColdStartFound(BaseModel):
    found: int
    top: list[str] = Field(description="Ids of the best few found, best first.")
    groups: dict[str, str] = Field(default_factory=dict, description="Item id -> the demographic group backing it.")
    used: bool = Field(description="False when no demographic model is configured or no demographics were given.")


def group_taste(deps: ToolDeps) -> GroupTaste | TasteNeighbours | None:
    """The group-taste evidence over the cold-start ranker's neighbours, built on first use."""
    ranker = deps.extras.get("cold_start")
    if ranker is None:
        return None
    if isinstance(ranker.neighbours, TasteNeighbours):  # the shipped taste model carries its own evidence
        return ranker.neighbours
    with deps.lock:
        taste = deps.extras.get("cold_start_taste")
        if taste is None:
            taste = deps.extras["cold_start_taste"] = GroupTaste(ranker.neighbours, deps.catalog.items)
    return taste


def feedback_history(buffer: CandidateBuffer) -> dict[str, float]:
    """The person's real interactions: likes and dislikes of this conversation, then stored feedback."""
    state = buffer.preferences
    return {**{i: 1.0 for i in state.liked_ids}, **{i: -1.0 for i in state.disliked_ids}, **buffer.history}


@tool("cold_start", ColdStartArgs, ColdStartFound)
def cold_start_items(args: ColdStartArgs, *, deps: ToolDeps, buffer: CandidateBuffer) -> ColdStartFound:
    """Add candidates for someone with little or no history, from their demographics (age group,
    gender, occupation): what people like them liked, and what the collaborative model expects
    from an imaginary history built for them. Respects the conversation's hard constraints.
    Does nothing when no demographics were given or no demographic data is configured."""
    ranker = deps.extras.get("cold_start")
    profile = buffer.demographics
    if ranker is None or profile is None or profile.is_empty():
        return ColdStartFound(found=0, top=[], used=False)
    state = buffer.preferences
    history = {i: w for i, w in feedback_history(buffer).items() if i in deps.catalog}
    scores = ranker.scores(profile, history)
    excluded = state.excluded_ids
    picks: list[tuple[str, float]] = []
    for index in np.argsort(-scores, kind="stable"):
        if len(picks) >= args.k or not np.isfinite(scores[index]):
            break
        item = deps.catalog.get(ranker.universe[index])
        if item is None or item.id in excluded or not check_item(item, state)[0]:
            continue
        picks.append((item.id, float(scores[index])))
    if not picks:
        return ColdStartFound(found=0, top=[], used=True)
    low, high = picks[-1][1], picks[0][1]
    span = (high - low) or 1.0
    evidence = group_taste(deps).evidence(profile, [i for i, _ in picks[:EVIDENCE_DEPTH]])
    found = []
    for item_id, score in picks:
        signals = {"cold_start": (score - low) / span}
        backing = evidence.get(item_id)
        if backing is not None:
            signals[f"group:{backing.key}"] = round(backing.lift, 3)
            signals[f"group_genre:{backing.genre}"] = 1.0
        found.append(ScoredItem(id=item_id, score=signals["cold_start"], signals=signals))
    buffer.add(found)
    return ColdStartFound(found=len(found), top=[i for i, _ in picks[:10]],
                          groups={i: e.key for i, e in evidence.items()}, used=True)


def assumed_taste(ranker, profile: Demographics, *, genres: int = 3, eras: int = 2) -> tuple[list[str], list[str]]:
    """The gist of the imaginary history assumed for ``profile``: its most frequent genres and
    eras (over every late-fusion variant), most frequent first."""
    histories = ranker.imaginary_part(profile)[2]
    genre_counts = Counter(g for h in histories for item in h.items for g in item.genres)
    era_counts = Counter(item.era for h in histories for item in h.items if item.era)
    return [g for g, _ in genre_counts.most_common(genres)], [e for e, _ in era_counts.most_common(eras)]


def describe_assumed_taste(ranker, profile: Demographics) -> tuple[str, str]:
    """``("comedies, dramas and thrillers", "1990s and 1980s")`` for the reply text."""
    genres, eras = assumed_taste(ranker, profile)

    def join(words: list[str]) -> str:
        return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1] if words else ""

    return join([genre_phrase(g) for g in genres]) or "films of every kind", join(eras) or "every decade"
