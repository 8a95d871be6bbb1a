"""Checking that a justification cites only attributes the item really has."""

from __future__ import annotations

import re

from chat.schemas import Recommendation
from retrieval.catalog import Catalog, normalize_name
from retrieval.demographics import Demographics
from retrieval.group_taste import profile_has_group

MIN_RATINGS_TO_CITE = 20


def grounding_errors(card: Recommendation, catalog: Catalog, *, demographics: Demographics | None = None) -> list[str]:
    """Every problem with ``card.why``: a cited reason the item lacks, or a genre word in the
    text that neither the item nor the item it is said to resemble has. A demographic group
    (``demographic:age=25-34``) may be cited only when it is one of ``demographics``, the
    user's own."""
    item = catalog.get(card.id)
    if item is None:
        return [f"{card.id} is not a catalog item"]
    errors: list[str] = []
    people = {normalize_name(p) for p in item.all_people()}
    allowed_genres = set(item.genres)
    for reason in card.reasons:
        kind, _, value = reason.partition(":")
        if kind == "genre" and value not in item.genres:
            errors.append(f"cites genre {value} but {item.label} is {item.genres}")
        elif kind == "person" and normalize_name(value) not in people:
            errors.append(f"cites {value} who is not in {item.label}")
        elif kind == "tag" and value not in item.tags:
            errors.append(f"cites tag {value!r} that {item.label} does not have")
        elif kind == "year" and str(item.year) != value:
            errors.append(f"cites year {value} but {item.label} is from {item.year}")
        elif kind == "demographic" and not profile_has_group(demographics, value):
            errors.append(f"cites the group {value} but the user's demographics are "
                          f"{demographics.describe() or 'not given' if demographics else 'not given'}")
        elif kind == "rating" and item.n_ratings < MIN_RATINGS_TO_CITE:
            errors.append(f"cites ratings but {item.label} has only {item.n_ratings}")
        elif kind in ("similar", "cf"):
            anchor = catalog.get(value)
            if anchor is None:
                errors.append(f"cites similarity to unknown item {value}")
            elif kind == "similar":
                allowed_genres |= set(anchor.genres)
    text = re.sub(r"“[^”]*”", " ", card.why)  # quoted tags are checked as reasons above
    for reason in card.reasons:
        kind, _, value = reason.partition(":")
        if kind in ("similar", "cf") and catalog.get(value):
            text = text.replace(catalog.get(value).label, " ").replace(catalog.get(value).title, " ")
    text = text.replace(item.title, " ").lower()
    for genre in catalog.genres:
        if genre not in allowed_genres and re.search(rf"\b{re.escape(genre.lower())}\b", text):
            errors.append(f"the why mentions {genre} but {item.label} is {item.genres}")
    if card.why and not card.reasons:
        errors.append("a why with no cited attribute")
    return errors
