"""How much of a critiqued attribute ("violent", "funny", "dark") an item has, from its facts.

The catalog has no violence or humour score, so each attribute is read off genres and user
tags: a transparent proxy in [-1, 1], the same one the ranker and the user simulator use.
"""

from __future__ import annotations

from retrieval.catalog import Item
from retrieval.relevance import known_level

GENRE_NUDGE = 0.08

# attribute -> (genres that raise it, genres that lower it, tag fragments that raise it)
PROXIES: dict[str, tuple[set[str], set[str], tuple[str, ...]]] = {
    "violence": ({"Action", "War", "Crime", "Horror", "Thriller"}, {"Children", "Animation", "Musical", "Romance"},
                 ("violen", "gore", "gory", "brutal", "bloody")),
    "humor": ({"Comedy"}, {"Horror", "War", "Film-Noir", "Documentary"}, ("funny", "hilarious", "comedy", "witty", "quotable")),
    "darkness": ({"Film-Noir", "Horror", "Crime", "Thriller", "War"}, {"Comedy", "Children", "Musical", "Animation", "Romance"},
                 ("dark", "bleak", "disturbing", "depressing", "grim")),
    "scariness": ({"Horror", "Thriller"}, {"Comedy", "Children", "Romance", "Musical"}, ("scary", "creepy", "horror", "suspense")),
    "romance": ({"Romance"}, {"Horror", "War", "Documentary"}, ("romantic", "romance", "love story")),
    "action": ({"Action", "Adventure", "War"}, {"Documentary", "Romance"}, ("action", "fight", "explosions", "chase")),
    "complexity": ({"Mystery", "Film-Noir"}, {"Children", "Animation"},
                   ("mindfuck", "thought-provoking", "complicated", "twist", "nonlinear", "philosoph", "cerebral", "complex")),
}


def attribute_level(item: Item, attribute: str) -> float:
    """The item's level of ``attribute`` in [-1, 1]; 0 when nothing is known."""
    if attribute == "popularity":
        return known_level(item.n_ratings) * 2 - 1
    if attribute == "recency":
        return 0.0 if item.year is None else max(-1.0, min(1.0, (item.year - 1995) / 25))
    if attribute == "length":
        return 0.0 if item.runtime is None else max(-1.0, min(1.0, (item.runtime - 110) / 40))
    raising, lowering, fragments = PROXIES[attribute]
    genres = set(item.genres)
    level = 0.5 * bool(genres & raising) - 0.5 * bool(genres & lowering)
    # within a level, more genres that raise it mean more: a crime action thriller is more violent
    # than a mystery thriller (a tie-break, so "less violent" after thrillers has somewhere to go)
    level += GENRE_NUDGE * (len(genres & raising) - len(genres & lowering))
    tags = " ".join(item.tags).lower()
    level += 0.5 * any(f in tags for f in fragments)
    return max(-1.0, min(1.0, level))


# Mood words that imply a direction on an attribute (what "feel-good" means for ranking).
MOOD_HINTS: dict[str, tuple[tuple[str, str], ...]] = {
    "feel-good": (("darkness", "less"), ("humor", "more")),
    "feel good": (("darkness", "less"), ("humor", "more")),
    "uplifting": (("darkness", "less"),),
    "heartwarming": (("darkness", "less"),),
    "light": (("darkness", "less"),),
    "lighthearted": (("darkness", "less"), ("humor", "more")),
    "funny": (("humor", "more"),),
    "hilarious": (("humor", "more"),),
    "dark": (("darkness", "more"),),
    "gritty": (("darkness", "more"),),
    "bleak": (("darkness", "more"),),
    "scary": (("scariness", "more"),),
    "creepy": (("scariness", "more"),),
    "violent": (("violence", "more"),),
    "not gory": (("violence", "less"),),
    "not violent": (("violence", "less"),),
    "romantic": (("romance", "more"),),
    "action-packed": (("action", "more"),),
    "mind-bending": (("complexity", "more"),),
    "thoughtful": (("complexity", "more"),),
    "cerebral": (("complexity", "more"),),
    "twist ending": (("complexity", "more"),),
}


def mood_directions(keywords: list[str]) -> list[tuple[str, str]]:
    """(attribute, direction) pairs implied by mood keywords, e.g. feel-good -> less darkness."""
    return [hint for k in keywords for hint in MOOD_HINTS.get(k.lower().strip(), ())]
