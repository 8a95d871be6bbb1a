"""What people in a demographic group like, as evidence a justification may cite.

"Popular with people aged 25-34 who like comedies" is said only when the training likes show
it: among the users of that group who liked at least one item of that genre, the share who
liked this item is high (``min_share``), clearly above the share among all users who liked the
genre (``min_lift``), and rests on enough people (``min_fans``). A group is one field of the
profile matched exactly (age group, gender or occupation).
"""

from __future__ import annotations

import logging
from typing import Iterable, Literal, Mapping

import numpy as np
from pydantic import BaseModel

from retrieval.catalog import Item
from retrieval.cold_start import DemographicNeighbours
from retrieval.demographics import Demographics

logger = logging.getLogger(__name__)

Attribute = Literal["age", "gender", "occupation"]
GENRE_PLURALS = {
    "Action": "action films", "Adventure": "adventure films", "Animation": "animated films",
    "Children": "children's films", "Comedy": "comedies", "Crime": "crime films", "Documentary": "documentaries",
    "Drama": "dramas", "Fantasy": "fantasy films", "Film-Noir": "film noir", "Horror": "horror films",
    "IMAX": "IMAX films", "Musical": "musicals", "Mystery": "mysteries", "Romance": "romances",
    "Sci-Fi": "sci-fi films", "Thriller": "thrillers", "War": "war films", "Western": "westerns",
}


class GroupEvidence(BaseModel):
    """Why a group's taste backs an item: the group, a genre the item has, and the shares."""

    attribute: Attribute
    value: str
    genre: str
    group_share: float
    overall_share: float
    fans: int
    genre_fans: int = 0  # all users who liked the genre: fewer = a more telling genre

    @property
    def lift(self) -> float:
        return self.group_share / self.overall_share if self.overall_share > 0 else float("inf")

    @property
    def key(self) -> str:
        """``age=25-34``: the group, as a signal or reason suffix."""
        return f"{self.attribute}={self.value}"

    def group_phrase(self) -> str:
        """``people aged 25-34``, ``women``, ``people who work as programmers``."""
        return group_phrase(self.attribute, self.value)

    def clause(self) -> str:
        """``popular with people aged 25-34 who like comedies``."""
        return f"popular with {self.group_phrase()} who like {genre_phrase(self.genre)}"


def group_phrase(attribute: str, value: str) -> str:
    if attribute == "age":
        return {"under 18": "people under 18", "56+": "people aged 56 and over"}.get(value, f"people aged {value}")
    if attribute == "gender":
        return {"F": "women", "M": "men"}.get(value, "people of your gender")
    return f"people in your line of work ({value})"


def genre_phrase(genre: str) -> str:
    return GENRE_PLURALS.get(genre, f"{genre.lower()} films")


def profile_groups(profile: Demographics) -> list[tuple[Attribute, str]]:
    """The exact-match groups a profile belongs to: ``[("age", "25-34"), ("gender", "F"), ...]``."""
    groups: list[tuple[Attribute, str]] = []
    if profile.age_group:
        groups.append(("age", profile.age_group))
    if profile.gender:
        groups.append(("gender", profile.gender))
    if profile.occupation:
        groups.append(("occupation", profile.occupation))
    return groups


def profile_has_group(profile: Demographics | None, key: str) -> bool:
    """True when ``key`` (``age=25-34``) is one of the profile's own groups."""
    return profile is not None and key in {f"{a}={v}" for a, v in profile_groups(profile)}


def _better(found: GroupEvidence, best: GroupEvidence | None, tie: float = 0.05) -> bool:
    """Higher lift wins; within ``tie`` of each other, the more telling (rarer) genre wins."""
    if best is None or found.lift > best.lift * (1 + tie):
        return True
    return found.lift >= best.lift * (1 - tie) and found.genre_fans < best.genre_fans


class GroupTaste:
    """Group-level like shares over the neighbours' likes (built once, read per turn)."""

    def __init__(self, neighbours: DemographicNeighbours, items: Mapping[str, Item], *, min_fans: int = 10,
                 min_share: float = 0.15, min_lift: float = 1.2):
        self.neighbours = neighbours
        self.items = items
        self.min_fans, self.min_share, self.min_lift = min_fans, min_share, min_lift
        self.likes = neighbours.likes.tocsc()
        genres = sorted({g for i in neighbours.item_ids if i in items for g in items[i].genres})
        self.genres = genres
        genre_of_item = np.zeros((len(neighbours.item_ids), len(genres)), dtype=np.float32)
        index = {g: k for k, g in enumerate(genres)}
        for row, item_id in enumerate(neighbours.item_ids):
            for genre in items[item_id].genres if item_id in items else ():
                genre_of_item[row, index[genre]] = 1.0
        self.genre_index = index
        # fans[u, g]: user u liked at least one item of genre g
        self.fans = np.asarray((neighbours.likes @ genre_of_item) > 0)
        self._masks: dict[tuple[str, str], np.ndarray] = {}

    def _group_mask(self, attribute: Attribute, value: str) -> np.ndarray:
        key = (attribute, value)
        if key not in self._masks:
            profile = Demographics(**{"age_group" if attribute == "age" else attribute: value})
            self._masks[key] = self.neighbours.weights(profile, strength=2.0) == 2.0  # exact matches only
        return self._masks[key]

    def evidence(self, profile: Demographics, item_ids: Iterable[str]) -> dict[str, GroupEvidence]:
        """For each item the data backs for one of the profile's groups: the strongest evidence."""
        groups = profile_groups(profile)
        wanted = [i for i in dict.fromkeys(item_ids) if i in self.neighbours.item_index and i in self.items]
        if not groups or not wanted:
            return {}
        columns = self.likes[:, [self.neighbours.item_index[i] for i in wanted]].toarray() > 0  # users x items
        overall_fans = self.fans.sum(axis=0)
        overall_hits = self.fans.T.astype(np.float32) @ columns  # genres x items
        out: dict[str, GroupEvidence] = {}
        for attribute, value in groups:
            mask = self._group_mask(attribute, value)
            group_fans = self.fans[mask]
            fans = group_fans.sum(axis=0)
            hits = group_fans.T.astype(np.float32) @ columns[mask]
            for col, item_id in enumerate(wanted):
                for genre in self.items[item_id].genres:
                    g = self.genre_index.get(genre)
                    if g is None or fans[g] < self.min_fans or overall_fans[g] == 0:
                        continue
                    found = GroupEvidence(attribute=attribute, value=value, genre=genre,
                                          group_share=float(hits[g, col] / fans[g]),
                                          overall_share=float(overall_hits[g, col] / overall_fans[g]),
                                          fans=int(fans[g]), genre_fans=int(overall_fans[g]))
                    if found.group_share < self.min_share or found.lift < self.min_lift:
                        continue
                    if _better(found, out.get(item_id)):
                        out[item_id] = found
        return out
