"""Hard constraints: which items a request allows, and which facts the catalog cannot confirm."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence, get_args

import numpy as np
from pydantic import BaseModel, Field

from chat.schemas import Audience, PreferenceState
from retrieval.audience import fits_audience
from retrieval.catalog import Item
from retrieval.moods import ruled_out
from tools.base import CandidateBuffer, ToolDeps, tool

AUDIENCES: tuple[str, ...] = get_args(Audience)
MIN_CONFIRMED = 10  # enough items with a known runtime to leave the unknown ones out


def check_item(item: Item, state: PreferenceState) -> tuple[bool, list[str]]:
    """Does ``item`` satisfy the hard constraints of ``state``?

    Returns (allowed, unverified): ``unverified`` names constraints the catalog cannot check
    for this item because the fact is unknown (no cast, no runtime). Such an item is allowed
    for exclusions ("no Adam Sandler") but never for a required person ("with Meryl Streep");
    an unknown runtime is allowed here, and ``filter_candidates`` leaves it out whenever
    enough items with a known runtime match.
    """
    unverified: list[str] = []
    genres = set(item.genres)
    if state.genres_include and not genres:
        return False, []
    if any(g not in genres for g in state.genres_include):
        return False, []
    if genres & set(state.genres_exclude):
        return False, []
    if state.year_min or state.year_max:
        if item.year is None:
            return False, []
        if (state.year_min and item.year < state.year_min) or (state.year_max and item.year > state.year_max):
            return False, []
    if state.runtime_min or state.runtime_max:
        if item.runtime is None:
            unverified.append("runtime")
        elif (state.runtime_min and item.runtime < state.runtime_min) or (
            state.runtime_max and item.runtime > state.runtime_max
        ):
            return False, []
    if state.people_include:
        known = [item.has_person(p) for p in state.people_include]
        if not any(k is True for k in known):
            return False, []
    for person in state.people_exclude:
        has = item.has_person(person)
        if has is True:
            return False, []
        if has is None and "people" not in unverified:
            unverified.append("people")
    if any(ruled_out(item, k[4:]) for k in state.keywords if k.startswith("not ")):
        return False, []  # "no sequels", "not another superhero movie", "no Harry Potter"
    if not fits_audience(item, state.audience):
        return False, []
    return True, unverified


@dataclass(frozen=True)
class FactColumns:
    """The facts :func:`check_item` reads first, as arrays over a list of items (built once per
    catalog), so a scan can skip in one vector operation the items that certainly fail."""

    years: np.ndarray  # float, nan when unknown
    runtimes: np.ndarray  # float, nan when unknown
    has_genres: np.ndarray
    genres: dict[str, np.ndarray]
    audiences: dict[str, np.ndarray]  # audience -> suits it (retrieval.audience.fits_audience)

    @classmethod
    def of(cls, items: Sequence[Item]) -> "FactColumns":
        n = len(items)
        genres: dict[str, np.ndarray] = {}
        for row, item in enumerate(items):
            for genre in item.genres:
                column = genres.get(genre)
                if column is None:  # not setdefault: that would allocate n bools per (item, genre)
                    column = genres[genre] = np.zeros(n, dtype=bool)
                column[row] = True
        nan = float("nan")
        return cls(
            years=np.array([nan if i.year is None else i.year for i in items], dtype=np.float64),
            runtimes=np.array([nan if i.runtime is None else i.runtime for i in items], dtype=np.float64),
            has_genres=np.array([bool(i.genres) for i in items], dtype=bool), genres=genres,
            audiences={audience: np.array([fits_audience(i, audience) for i in items], dtype=bool)
                       for audience in AUDIENCES},
        )

    def take(self, rows: np.ndarray) -> "FactColumns":
        """The same facts for the items at ``rows``, in that order."""
        return FactColumns(years=self.years[rows], runtimes=self.runtimes[rows], has_genres=self.has_genres[rows],
                           genres={genre: column[rows] for genre, column in self.genres.items()},
                           audiences={audience: column[rows] for audience, column in self.audiences.items()})

    def may_pass(self, state: PreferenceState) -> np.ndarray:
        """Rows that may pass :func:`check_item` for ``state``: every row it allows is among them
        (genres, years, runtime and audience are decided here; people and ruled-out words are not)."""
        n = len(self.years)
        mask = np.ones(n, dtype=bool)
        none = np.zeros(n, dtype=bool)
        if state.genres_include:
            mask &= self.has_genres
        for genre in state.genres_include:
            mask &= self.genres.get(genre, none)
        for genre in set(state.genres_exclude):
            mask &= ~self.genres.get(genre, none)
        with np.errstate(invalid="ignore"):
            if state.year_min or state.year_max:
                mask &= ~np.isnan(self.years)
                if state.year_min:
                    mask &= ~(self.years < state.year_min)
                if state.year_max:
                    mask &= ~(self.years > state.year_max)
            if state.runtime_min or state.runtime_max:  # an unknown runtime passes (unverified)
                if state.runtime_min:
                    mask &= ~(self.runtimes < state.runtime_min)
                if state.runtime_max:
                    mask &= ~(self.runtimes > state.runtime_max)
        if state.audience in self.audiences:
            mask &= self.audiences[state.audience]
        return mask


class FilterArgs(BaseModel):
    """Keep only candidates that satisfy the conversation's hard constraints."""

    relax_genres: bool = Field(
        False, description="Accept items with ANY of the wanted genres instead of ALL of them."
    )


class FilterResult(BaseModel):
    kept: int
    removed: int
    unverified: int = Field(description="Kept items with a constraint the catalog cannot check.")


@tool("filter", FilterArgs, FilterResult)
def filter_candidates(args: FilterArgs, *, deps: ToolDeps, buffer: CandidateBuffer) -> FilterResult:
    """Remove candidates that break a hard constraint (genres in/out, years, runtime, people
    in/out, audience) or that the user has already seen, disliked or been shown. Items whose
    relevant facts are unknown are kept only for exclusions and are marked unverified."""
    state = buffer.preferences
    if args.relax_genres and len(state.genres_include) > 1:
        state = state.model_copy(update={"genres_include": []})
        wanted = set(buffer.preferences.genres_include)
    else:
        wanted = set()
    excluded = state.excluded_ids
    kept, removed, unverified = [], 0, 0
    for candidate in buffer.items:
        item = deps.catalog.get(candidate.id)
        ok, unknown = (False, []) if item is None or candidate.id in excluded else check_item(item, state)
        if ok and wanted and not wanted & set(item.genres):
            ok = False
        if not ok:
            removed += 1
            continue
        candidate.unverified = unknown
        unverified += bool(unknown)
        kept.append(candidate)
    confirmed = [c for c in kept if "runtime" not in c.unverified]
    if len(confirmed) < len(kept) and len(confirmed) >= MIN_CONFIRMED:
        # A runtime bound is a requirement: unknown runtimes only fill in when too few are known.
        removed += len(kept) - len(confirmed)
        kept = confirmed
        unverified = sum(bool(c.unverified) for c in kept)
    buffer.items = kept
    return FilterResult(kept=len(kept), removed=removed, unverified=unverified)
