"""Who a film is for: the audience rules the filter applies, and what "X but for adults" keeps of X.

"Something like Toy Story but for adults" cannot mean Toy Story's audience; it means Toy Story's
*kind* of film aimed at grown-ups: an animated film that is not a children's film. The kind is
the anchor's rarest genre that the new audience allows (:func:`reaimed_genres`), so "Harry
Potter but for adults" keeps fantasy and "The Conjuring but for kids" keeps mystery.
"""

from __future__ import annotations

from typing import Iterable

from retrieval.catalog import Catalog, Item

KID_RATINGS = {"G", "PG", "TV-Y", "TV-Y7", "TV-G", "TV-PG", "U"}  # "Approved"/"Passed" (pre-1968) say nothing about children
ADULT_RATINGS = {"R", "NC-17", "TV-MA", "X"}
KID_GENRES = {"Children"}
NOT_FOR_KIDS_GENRES = {"Horror"}
BROAD_SHARE = 0.25  # a genre on more than this share of the catalog (drama, comedy) names no kind of film


def fits_audience(item: Item, audience: str | None) -> bool:
    """Does the item suit ``audience`` ("kids", "adults"; None allows everything)?"""
    genres = set(item.genres)
    rating = (item.age_rating or "").upper()
    if audience == "kids":
        if genres & NOT_FOR_KIDS_GENRES or rating in ADULT_RATINGS:
            return False
        return bool(genres & KID_GENRES or rating in KID_RATINGS)
    if audience == "adults":
        return not genres & KID_GENRES
    return True


def genre_allowed(genre: str, audience: str | None) -> bool:
    """Can an item of this genre suit the audience at all?"""
    if audience == "kids":
        return genre not in NOT_FOR_KIDS_GENRES
    if audience == "adults":
        return genre not in KID_GENRES
    return True


def reaimed_genres(anchors: Iterable[Item], audience: str | None, catalog: Catalog) -> list[str]:
    """For anchors the audience rules out, each one's rarest genre the audience allows (not a
    broad one like drama); empty when every anchor suits the audience already."""
    out: list[str] = []
    limit = BROAD_SHARE * len(catalog)
    for anchor in anchors:
        if audience is None or fits_audience(anchor, audience):
            continue
        kinds = [g for g in anchor.genres if genre_allowed(g, audience) and catalog.genre_counts.get(g, 0) <= limit]
        if kinds:
            out.append(min(kinds, key=lambda g: (catalog.genre_counts.get(g, 0), g)))
    return list(dict.fromkeys(out))
