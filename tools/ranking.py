"""Ranking the candidate buffer: relevance, preference match, CF, popularity, critiques, diversity."""

from __future__ import annotations

from pydantic import BaseModel, Field

from chat.schemas import PreferenceState
from retrieval.catalog import Item, fold
from tools.attributes import attribute_level, mood_directions
from tools.base import CandidateBuffer, ScoredItem, ToolDeps, tool
from tools.retrieve import popularity_score, query_text, query_vector

# Weights of the score components (each component is in [0, 1], critiques in [-1, 1]).
WEIGHTS = {
    "text": 0.35,  # dense + keyword match to the request's words
    "anchor": 0.45,  # similarity to the items the user named or pointed at
    "person": 0.15,  # stars/directs a person the user asked for
    "preference": 0.15,  # wanted genres and keywords found in the item's genres/tags
    "cf": 0.15,  # personalised collaborative score from the user's feedback
    "popularity": 0.3,  # many ratings, good ratings
    "critique": 0.25,  # moves in the direction of "less violent", "funnier"...
    "cold_start": 0.35,  # the cold-start ranker's view from demographics (people with little history)
    "unverified": -0.2,  # a constraint the catalog cannot check for this item
}
DENSE_SHARE = 0.7  # of text relevance; the rest is BM25
COSINE_FLOOR, COSINE_SPAN = 0.1, 0.45  # MiniLM cosines of a short query to item texts mostly fall in 0.1-0.55


class RankArgs(BaseModel):
    """Score every candidate against the conversation's preferences and keep the best k."""

    k: int = Field(5, ge=1, le=100, description="How many items to keep.")
    diversity: float = Field(0.15, ge=0.0, le=1.0, description="0 = pure score; higher = less alike items.")


class RankedItems(BaseModel):
    ids: list[str]
    scores: list[float]


def preference_match(item: Item, state: PreferenceState) -> float:
    """Share of the wanted genres and keywords that the item's own genres and tags show."""
    wanted = len(state.genres_include) + len(state.keywords)
    if not wanted:
        return 0.0
    hits = sum(g in item.genres for g in state.genres_include)
    tags = " ".join(item.tags).lower()
    hits += sum(1 for k in state.keywords if not k.startswith("not ") and fold(k) in fold(tags))
    return hits / wanted


def _normalized(values: dict[str, float]) -> dict[str, float]:
    if not values:
        return {}
    low, high = min(values.values()), max(values.values())
    span = (high - low) or 1.0
    return {k: (v - low) / span for k, v in values.items()}


def text_relevance(candidates: list[ScoredItem], query: str, deps: ToolDeps) -> dict[str, float]:
    """How well each candidate matches the request's words, on one scale for all candidates
    (whichever tool found them): cosine to the query embedding, rescaled, plus BM25."""
    if not query:
        return {}
    ids = [c.id for c in candidates]
    dense = deps.store.similarities(query_vector(query, deps), ids)
    keyword = deps.keywords.score(query, ids)
    top = max(keyword.values(), default=0.0) or 1.0
    return {
        i: DENSE_SHARE * min(1.0, max(0.0, (float(d) - COSINE_FLOOR) / COSINE_SPAN))
        + (1 - DENSE_SHARE) * keyword.get(i, 0.0) / top
        for i, d in zip(ids, dense)
    }


def score_candidates(candidates: list[ScoredItem], state: PreferenceState, history: dict[str, float], deps: ToolDeps) -> None:
    """Set ``score`` and the ranking signals of each candidate in place."""
    text = text_relevance(candidates, query_text(state), deps)
    feedback = {**{i: 1.0 for i in state.liked_ids}, **{i: -1.0 for i in state.disliked_ids}, **history}
    cf_scores: dict[str, float] = {}
    if deps.cf is not None and feedback:
        raw = deps.cf.score(feedback)
        cf_scores = _normalized({c.id: raw.get(c.id, 0.0) for c in candidates})
    wishes = [(k.attribute, k.direction) for k in state.critiques] + mood_directions(state.keywords)
    for c in candidates:
        item = deps.catalog.get(c.id)
        parts = {
            "text": text.get(c.id, 0.0),
            "anchor": c.signals.get("anchor", 0.0),
            "person": c.signals.get("person", 0.0),
            "preference": preference_match(item, state),
            "cf": cf_scores.get(c.id, 0.0),
            "popularity": popularity_score(item.n_ratings, item.mean_rating),
            "critique": sum(
                attribute_level(item, attribute) * (1 if direction == "more" else -1) for attribute, direction in wishes
            ) / max(1, len(wishes)),
            "unverified": float(bool(c.unverified)),
            "cold_start": c.signals.get("cold_start", 0.0),
        }
        c.signals.update({f"rank_{k}": v for k, v in parts.items() if v})
        c.score = sum(WEIGHTS[k] * v for k, v in parts.items())


def diversify(candidates: list[ScoredItem], k: int, strength: float, deps: ToolDeps) -> list[ScoredItem]:
    """Maximal marginal relevance over the item embeddings: trade score for novelty."""
    pool = sorted(candidates, key=lambda c: -c.score)[: max(k * 8, 40)]
    if strength <= 0 or len(pool) <= 1:
        return pool[:k]
    vectors = deps.store.vectors([c.id for c in pool])
    chosen: list[int] = []
    remaining = list(range(len(pool)))
    while remaining and len(chosen) < k:
        def mmr(i: int) -> float:
            overlap = max((float(vectors[i] @ vectors[j]) for j in chosen), default=0.0)
            return pool[i].score - strength * overlap
        best = max(remaining, key=mmr)
        chosen.append(best)
        remaining.remove(best)
    return [pool[i] for i in chosen]


@tool("rank", RankArgs, RankedItems)
def rank_candidates(args: RankArgs, *, deps: ToolDeps, buffer: CandidateBuffer) -> RankedItems:
    """Order the candidates by how well they fit: relevance to the request, similarity to named
    items, wanted genres/people/keywords, the collaborative model's view of the user's feedback,
    popularity, and critiques such as "less violent"; then keep k varied items."""
    score_candidates(buffer.items, buffer.preferences, buffer.history, deps)
    buffer.items = diversify(buffer.items, args.k, args.diversity, deps)
    return RankedItems(ids=[c.id for c in buffer.items], scores=[round(c.score, 4) for c in buffer.items])

