"""One relevance model for every path: how well an item answers a request, and how much each
signal counts for each kind of request.

A request is one of three kinds (:func:`request_kind`):

- ``anchor``: the person named or pointed at items ("like Inception", "more like the second
  one"). Similarity to those items (:mod:`retrieval.similarity`) decides.
- ``described``: the person described what they want (moods, themes, "about a heist in
  dreams"). The request's words against each item's facts (dense + keyword) and its story
  decide, with mood evidence from tags and genres.
- ``surprise``: "surprise me", "a hidden gem": well rated and less known (:func:`hidden_gem`),
  varied, never the most-rated list. A request that only rules a kind out ("not another
  superhero movie", "no sequels") is one too: the person is tired of something, and the
  most-rated list is what they have seen.
- ``browse``: only filters ("a 90s comedy") or nothing yet. Then what many people liked and the
  person's own feedback lead: popularity is a fair prior when nothing else speaks.

Popularity is one function here (:func:`popularity_prior`), used by search, ranking, browsing
and critiques alike. It is a prior and a tie-breaker for named and described requests: its
weight there is small enough that it cannot outvote similarity. Weights were chosen on dev data
(the judged "like X" lists, ReDial dev lines, the scripted dialogues); ``evals/REPORT.md``
§taste has each candidate set on every benchmark side by side.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Literal, Mapping, Sequence

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from chat.schemas import PreferenceState
    from retrieval.search import KeywordIndex
    from retrieval.store import ItemStore

RequestKind = Literal["anchor", "described", "surprise", "browse"]

# Weights of the rank components (each in [0, 1]; critiques in [-1, 1]).
WEIGHTS: dict[RequestKind, dict[str, float]] = {
    "anchor": {
        "anchor": 1.0,  # similarity to the named items (people, genres, tags, story, co-liking, era)
        "mood": 0.2,  # mood words said along with the title
        "text": 0.15,  # words said along with the title ("like Inception but funnier")
        "story": 0.0,
        "person": 0.15, "preference": 0.15,
        "cf": 0.5,  # the named titles and the person's feedback through the collaborative model
        "popularity": 0.15,  # a prior: similarity (normalised to 1 at the best candidate) leads
        "quality": 0.1,  # well rated: "like Jaws" should not open with Jaws 3-D
        "critique": 0.3, "cold_start": 0.1, "unverified": -0.2,
    },
    "described": {
        "anchor": 0.0,
        "text": 0.4,  # the request's words against the item's facts
        "story": 0.5,  # the request's words against what the film is about
        "mood": 0.35,  # evidence for the moods asked for (tags, genres)
        "person": 0.15, "preference": 0.15, "quality": 0.1,
        "cf": 0.15, "popularity": 0.15,
        "critique": 0.3, "cold_start": 0.2, "unverified": -0.2,
    },
    "surprise": {
        "hidden": 1.0,  # well rated, less known
        "text": 0.1, "story": 0.1, "mood": 0.3,
        "person": 0.15, "preference": 0.2,
        "cf": 0.2, "popularity": 0.0,
        "critique": 0.3, "cold_start": 0.2, "unverified": -0.2,
    },
    "browse": {
        "anchor": 0.0, "text": 0.0, "story": 0.0, "mood": 0.3,
        "person": 0.15, "preference": 0.15,
        "cf": 0.6, "popularity": 0.7,
        "critique": 0.25, "cold_start": 0.8, "unverified": -0.2,
    },
}
# When the person asks for a look ("a poster like Se7en's", a picture), relevance - where the
# image score is fused - outweighs everything else: the look decides.
VISUAL_RELEVANCE = 1.0

DENSE_SHARE = 0.7  # of text relevance; the rest is BM25
COSINE_FLOOR, COSINE_SPAN = 0.1, 0.45  # MiniLM cosines of a short query to item texts mostly fall in 0.1-0.55
STORY_FLOOR, STORY_SPAN = 0.1, 0.4  # MiniLM cosines of a short query to a plot mostly fall in 0.1-0.5
PRIOR_RATINGS = 10  # a mean rating is shrunk toward 3.5 as if 10 people had given 3.5
POPULAR_AT = 300  # this many ratings count as fully "known"


SURPRISE = "surprise"  # the parser's keyword for "surprise me", "a hidden gem"
SURPRISE_DIVERSITY = 0.45  # a surprise list is varied


def request_kind(state: "PreferenceState") -> RequestKind:
    """What kind of request the conversation makes now (see the module docstring). Genres are
    filters, not a description: "a scary movie" (horror) browses the horror films."""
    if state.anchor_ids:
        return "anchor"
    if SURPRISE in state.keywords:
        return "surprise"
    if state.query.strip() or any(not k.lower().startswith("not ") for k in state.keywords):
        return "described"
    if state.keywords and not _has_wants(state):
        return "surprise"  # only a kind ruled out ("not another superhero movie"): not the most-rated list either
    return "browse"


def _has_wants(state: "PreferenceState") -> bool:
    """Does the request say anything it wants (not only what it rules out)?"""
    return bool(state.genres_include or state.people_include or state.year_min or state.year_max
                or state.runtime_min or state.runtime_max or state.audience or state.critiques)


def weights_for(kind: RequestKind, *, visual: bool = False) -> dict[str, float]:
    weights = WEIGHTS[kind]
    if visual:
        return {**weights, "text": VISUAL_RELEVANCE, "anchor": VISUAL_RELEVANCE, "story": 0.0}  # the look, not the plot
    return weights


def shrunk_mean(n_ratings: int, mean_rating: float | None) -> float:
    """The mean rating shrunk toward 3.5 as if :data:`PRIOR_RATINGS` people had given 3.5."""
    return ((mean_rating or 3.5) * n_ratings + 3.5 * PRIOR_RATINGS) / (n_ratings + PRIOR_RATINGS)


def popularity_prior(n_ratings: int, mean_rating: float | None) -> float:
    """A 0..1 prior: how many people rated an item (log scale, full at :data:`POPULAR_AT`) and how
    well (:func:`shrunk_mean`), half each. The one definition of popularity."""
    return 0.5 * known_level(n_ratings) + 0.5 * (shrunk_mean(n_ratings, mean_rating) - 0.5) / 4.5


def known_level(n_ratings: int) -> float:
    """How well known an item is, in [0, 1] (the count half of :func:`popularity_prior`)."""
    return min(1.0, math.log1p(n_ratings) / math.log1p(POPULAR_AT))


def hidden_gem(n_ratings: int, mean_rating: float | None, *, min_ratings: int = 8) -> float:
    """Well rated and less known, in [0, 1]: the shrunk mean rating's height times how little
    known the item is; 0 below ``min_ratings`` (one enthusiastic rating is no evidence)."""
    if n_ratings < min_ratings or mean_rating is None:
        return 0.0
    return max(0.0, min(1.0, (shrunk_mean(n_ratings, mean_rating) - 3.0) / 1.5)) * (1.0 - known_level(n_ratings))


def quality(n_ratings: int, mean_rating: float | None) -> float:
    """How well rated, in [0, 1]: :func:`shrunk_mean`, 2.5 -> 0, 4.5 -> 1."""
    return max(0.0, min(1.0, (shrunk_mean(n_ratings, mean_rating) - 2.5) / 2.0))


def rescale(values: np.ndarray, floor: float, span: float) -> np.ndarray:
    return np.clip((np.nan_to_num(values, nan=0.0) - floor) / span, 0.0, 1.0)


def text_parts(query: str, vector: np.ndarray, ids: Sequence[str], *, store: "ItemStore",
               keywords: "KeywordIndex") -> dict[str, tuple[float, float]]:
    """``id -> (dense, keyword)``, each in [0, 1]: the cosine of the query to the item's text
    embedding rescaled from the range MiniLM cosines fall in, and BM25 relative to the best of
    these items (0 without a shared word)."""
    if not query or not ids:
        return {}
    dense = rescale(np.asarray(store.similarities(vector, list(ids)), dtype=np.float64), COSINE_FLOOR, COSINE_SPAN)
    keyword = keywords.score(query, list(ids))
    top = max(keyword.values(), default=0.0) or 1.0
    return {i: (float(d), keyword.get(i, 0.0) / top) for i, d in zip(ids, dense)}


def text_match(query: str, vector: np.ndarray, ids: Sequence[str], *, store: "ItemStore",
               keywords: "KeywordIndex") -> dict[str, float]:
    """How well each item's facts match the request's words, in [0, 1], on one scale whatever
    found the item: :data:`DENSE_SHARE` of the dense part, the rest keyword (:func:`text_parts`)."""
    return {i: DENSE_SHARE * d + (1 - DENSE_SHARE) * k
            for i, (d, k) in text_parts(query, vector, ids, store=store, keywords=keywords).items()}


def story_match(cosines: Mapping[str, float]) -> dict[str, float]:
    """Query-to-story cosines rescaled to [0, 1]."""
    return {i: float(min(1.0, max(0.0, (c - STORY_FLOOR) / STORY_SPAN))) for i, c in cosines.items()}
