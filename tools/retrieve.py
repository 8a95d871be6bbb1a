"""Candidate generation: text search over the item store, "similar to" over CF + content, and
"looks like" over the image collection (posters)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field

from chat.schemas import PreferenceState
from prompts import replies
from retrieval.catalog import normalize_name
from retrieval.relevance import SURPRISE, hidden_gem, popularity_prior
from retrieval.search import hybrid_search
from retrieval.store import chroma_where
from tools.base import CandidateBuffer, ScoredItem, ToolDeps, tool
from tools.filtering import FactColumns, check_item


class SearchArgs(BaseModel):
    """Find items matching free text, within the conversation's hard constraints."""

    query: str = Field("", max_length=500, description="Mood, theme, genre or title words. Empty: browse by popularity.")
    k: int = Field(150, ge=1, le=500, description="How many candidates to add.")


class SimilarArgs(BaseModel):
    """Find items similar to given catalog items (default: the conversation's anchors)."""

    item_ids: list[str] = Field(default_factory=list, max_length=10)
    k: int = Field(100, ge=1, le=500)


class FoundItems(BaseModel):
    found: int
    top: list[str] = Field(description="Ids of the best few found, best first.")


def state_where(state: PreferenceState) -> dict | None:
    return chroma_where(
        year_min=state.year_min, year_max=state.year_max,
        genres_include=state.genres_include, genres_exclude=state.genres_exclude,
    )


def query_text(state: PreferenceState) -> str:
    """The words a text search should look for: free text, wanted keywords and genres ("surprise
    me" is a way of ranking, not words to find)."""
    if SURPRISE in state.keywords and state.query.strip().lower() in ("surprise", "surprise me", ""):
        return " ".join(state.genres_include)[:500]
    wanted = [k for k in state.keywords if not k.lower().startswith("not ") and k != SURPRISE]
    words = [state.query, *wanted, *state.genres_include]
    seen: dict[str, None] = {}
    for word in " ".join(w for w in words if w).split():
        seen.setdefault(word, None)
    return " ".join(seen)[:500]


def _cached_vector(deps: ToolDeps, space: str, text: str, encode):
    """``encode(text)``, kept per text in ``deps.extras[space]`` (at most 256 texts, then cleared).
    Turns run in several threads: the cache is read and written under ``deps.lock``."""
    with deps.lock:
        vector = deps.extras.setdefault(space, {}).get(text)
    if vector is None:
        vector = encode(text)
        with deps.lock:
            cache = deps.extras[space]
            if len(cache) > 256:
                cache.clear()
            cache[text] = vector
    return vector


def query_vector(text: str, deps: ToolDeps):
    """The query's embedding, computed once per text (search and rank both need it)."""
    return _cached_vector(deps, "query_vectors", text, lambda t: deps.encoder.encode([t])[0])


def _found(items: list[ScoredItem]) -> FoundItems:
    ranked = sorted(items, key=lambda i: -i.score)
    return FoundItems(found=len(items), top=[i.id for i in ranked[:10]])


@tool("search", SearchArgs, FoundItems)
def search_items(args: SearchArgs, *, deps: ToolDeps, buffer: CandidateBuffer) -> FoundItems:
    """Add candidates for a free-text query (dense embeddings + keyword/title match), already
    restricted to the conversation's genre and year constraints. Items by people the user asked
    for are added too. With an empty query it browses the catalog's allowed items by popularity."""
    state = buffer.preferences
    found: list[ScoredItem] = []
    if args.query.strip():
        vector = query_vector(args.query, deps)
        where = state_where(state)
        hits = hybrid_search(
            args.query, k=args.k, store=deps.store, encoder=deps.encoder,
            keywords=deps.keywords, where=where, vector=vector,
        )
        found = [ScoredItem(id=i, score=s, signals=dict(sig)) for i, s, sig in hits]
        found += _story_matches(vector, where, STORY_CANDIDATES, deps)
    for person in state.people_include:
        ids = deps.catalog.by_person.get(normalize_name(person), [])
        found += [ScoredItem(id=i, score=1.0, signals={"person": 1.0}) for i in ids]
    if not args.query.strip():
        found += _browse(deps, state, args.k)
    buffer.add(found)
    return _found(found)


STORY_CANDIDATES = 50


def _story_matches(vector, where, k: int, deps: ToolDeps) -> list[ScoredItem]:
    """The ``k`` items whose stories are closest to the request's words (within ``where``)."""
    similarity = deps.similarity
    cosines = None if similarity is None else similarity.story_cosines(vector)
    if cosines is None:
        return []
    keep = ~np.isnan(cosines)
    if where is not None:
        keep &= _store_mask_as_similarity_rows(deps, deps.store.filter_mask(where))
    rows = np.flatnonzero(keep)
    best = rows[np.argsort(-cosines[rows], kind="stable")[:k]]  # ties: catalog order, as a stable sort of the dict
    return [ScoredItem(id=similarity.ids[r], score=c, signals={"story_sim": c})
            for r, c in zip(best.tolist(), cosines[best].astype(np.float64).tolist())]


def _store_mask_as_similarity_rows(deps: ToolDeps, mask: np.ndarray) -> np.ndarray:
    """A mask over the store's rows carried over to the similarity model's rows (its ids' order)."""
    with deps.lock:
        cached = deps.extras.get("store_to_similarity_rows")
        if cached is None or cached[0] is not deps.store or cached[1] is not deps.similarity:
            index = deps.similarity.index
            rows = np.array([index.get(i, -1) for i in deps.store.ids], dtype=np.int64)
            cached = deps.extras["store_to_similarity_rows"] = (deps.store, deps.similarity, rows)
    rows = cached[2]
    out = np.zeros(len(deps.similarity.ids), dtype=bool)
    out[rows[mask & (rows >= 0)]] = True
    return out


@dataclass(frozen=True)
class BrowseOrder:
    """The catalog's items in one browsing order, with their facts as columns (built once)."""

    items: list
    position: dict[str, int]
    facts: FactColumns
    rows: np.ndarray  # row r of this order is the catalog's item rows[r]

    @classmethod
    def taking(cls, items: list, facts: FactColumns, rows: np.ndarray) -> "BrowseOrder":
        """``items`` (and ``facts``, their columns) in the order ``rows``."""
        ordered = [items[r] for r in rows.tolist()]
        return cls(ordered, {item.id: n for n, item in enumerate(ordered)}, facts.take(rows), rows)


def popularity_key(item) -> float:
    """Sort key of the popularity order: most popular first."""
    return -popularity_prior(item.n_ratings, item.mean_rating)


def popularity_order(items: list, facts: FactColumns) -> BrowseOrder:
    """``items`` most popular first; ties keep their order (a stable sort by :func:`popularity_key`)."""
    keys = np.fromiter((popularity_key(item) for item in items), dtype=np.float64, count=len(items))
    return BrowseOrder.taking(items, facts, np.argsort(keys, kind="stable"))


def hidden_gem_order(items: list, facts: FactColumns, popular: BrowseOrder) -> BrowseOrder:
    """The "surprise me" order: the best hidden gems first, ties in ``popular``'s order."""
    gem = np.fromiter((-hidden_gem(item.n_ratings, item.mean_rating) for item in items), dtype=np.float64,
                      count=len(items))
    rank = np.empty(len(items), dtype=np.int64)
    rank[popular.rows] = np.arange(len(items))
    return BrowseOrder.taking(items, facts, np.lexsort((rank, gem)))


def browse_orders(items: list) -> tuple[BrowseOrder, BrowseOrder]:
    """The popularity and "surprise me" orders of ``items`` (sorted as arrays; the facts read from
    the items once, then reordered)."""
    facts = FactColumns.of(items)
    popular = popularity_order(items, facts)
    return popular, hidden_gem_order(items, facts, popular)


def _browse_orders(deps: ToolDeps) -> tuple[BrowseOrder, BrowseOrder]:
    """:func:`browse_orders` of the catalog, built once per catalog and kept in ``deps.extras``."""
    with deps.lock:
        cached = deps.extras.get("browse_orders")
        if cached is None or cached[0] is not deps.catalog:
            cached = deps.extras["browse_orders"] = (deps.catalog, *browse_orders(list(deps.catalog)))
    return cached[1], cached[2]


def warm_up(deps: ToolDeps) -> None:
    """Do a serving process's one-time work before the first request instead of during it: the
    browse orders, the store-to-similarity row map, and a first pass of the text encoder (its
    first call allocates). ~150 ms on the demo catalog, paid by the start-up, not by a user."""
    _browse_orders(deps)
    if deps.similarity is not None:
        _store_mask_as_similarity_rows(deps, np.zeros(len(deps.store.ids), dtype=bool))
    deps.encoder.encode(["warm up"])


def by_popularity(deps: ToolDeps) -> list:
    """The catalog's items, most popular first (computed once per catalog)."""
    return _popular(deps).items


def _popular(deps: ToolDeps) -> BrowseOrder:
    return _browse_orders(deps)[0]


def _hidden_gems(deps: ToolDeps) -> BrowseOrder:
    return _browse_orders(deps)[1]


def any_item_fits(deps: ToolDeps, state: PreferenceState) -> bool:
    """Does any catalog item meet the hard constraints of ``state``? (Stops at the first.)"""
    return bool(_browse(deps, state, 1))


def _browse(deps: ToolDeps, state: PreferenceState, k: int) -> list[ScoredItem]:
    """The k most popular items that meet the hard constraints ("surprise me": the k best
    hidden gems, well rated and less known).

    Items that certainly fail the genre, year, runtime or audience constraints are skipped in one
    vector operation (:meth:`FactColumns.may_pass`); :func:`check_item` decides for the rest."""
    order = _hidden_gems(deps) if SURPRISE in state.keywords else _popular(deps)
    rows = np.flatnonzero(order.facts.may_pass(state))
    if state.people_include:  # only their films can qualify: skip checking the rest of the catalog
        theirs = {i for p in state.people_include for i in deps.catalog.by_person.get(normalize_name(p), [])}
        rows = np.intersect1d(rows, [order.position[i] for i in theirs if i in order.position])
    found: list[ScoredItem] = []
    for row in rows.tolist():
        item = order.items[row]
        if check_item(item, state)[0]:
            found.append(ScoredItem(id=item.id, score=popularity_prior(item.n_ratings, item.mean_rating),
                                    signals={"browse": 1.0}))
            if len(found) == k:
                break
    return found


@tool("similar", SimilarArgs, FoundItems)
def similar_items(args: SimilarArgs, *, deps: ToolDeps, buffer: CandidateBuffer) -> FoundItems:
    """Add candidates like the given items (default: the titles the user named or pointed at):
    the same director, writers or stars, a close mix of genres, shared viewer tags, a similar
    story, the same era, and liked by the same people - within the conversation's genre and
    year constraints."""
    state = buffer.preferences
    anchors = [i for i in (args.item_ids or state.anchor_ids) if i in deps.catalog]
    if not anchors or deps.similarity is None:
        return FoundItems(found=0, top=[])
    where = state_where(state)
    allowed = deps.store.matching_ids(where) if where is not None else None
    likes = deps.similarity.similar(anchors, args.k, allowed=allowed)
    top = max((like.score for like in likes), default=0.0) or 1.0
    found = [
        ScoredItem(id=like.item_id, score=like.score / top, anchor_id=like.anchor_id,
                   signals={"anchor": like.score / top, **{f"like_{k}": v for k, v in like.parts.items() if v}})
        for like in likes
    ]
    buffer.add(found)
    return _found(found)


# --------------------------------------------------------------------------------- images


class ImageSearchArgs(BaseModel):
    """Find items whose posters look like something: the given items' posters (default: the
    conversation's named titles), else the picture the user sent, else the request's words."""

    item_ids: list[str] = Field(default_factory=list, max_length=10)
    k: int = Field(100, ge=1, le=500)


@dataclass(frozen=True)
class ImageReference:
    """What posters are compared to: a named item's poster, the user's picture, or words."""

    vector: np.ndarray
    kind: Literal["item", "picture", "words"]
    item_id: str | None = None


def image_query_vector(text: str, deps: ToolDeps) -> np.ndarray:
    """Words embedded into the image space by the image encoder, computed once per text."""
    return _cached_vector(deps, "image_query_vectors", text,
                          lambda t: np.asarray(deps.image_encoder.encode_queries([t])[0], dtype=np.float32))


def image_references(state: PreferenceState, deps: ToolDeps, *, picture: list[float] | None = None,
                     item_ids: list[str] | None = None) -> list[ImageReference]:
    """What to compare posters to, strongest first: the picture sent this turn, else the posters
    of ``item_ids`` (default: the anchors), else the request's words. Empty without an image collection."""
    store = deps.image_store
    if store is None or deps.image_encoder is None:
        return []
    if picture is not None:
        vector = np.asarray(picture, dtype=np.float32)
        return [ImageReference(vector, "picture")] if vector.shape == (store.dim,) else []
    anchors = [i for i in (item_ids or state.anchor_ids) if i in store]
    if anchors:
        return [ImageReference(vector, "item", item_id) for item_id, vector in zip(anchors, store.vectors(anchors))]
    text = query_text(state)
    return [ImageReference(image_query_vector(text, deps), "words")] if text else []


@tool("search_images", ImageSearchArgs, FoundItems)
def search_images(args: ImageSearchArgs, *, deps: ToolDeps, buffer: CandidateBuffer) -> FoundItems:
    """Add candidates whose posters look like the given items' posters (default: the titles the
    user named), or like the picture the user sent, or like the request's words ("a dark, gritty
    look"), within the conversation's genre and year constraints. For requests about a look."""
    state = buffer.preferences
    if deps.image_store is None:
        buffer.note(replies.NO_PICTURE_SEARCH if buffer.picture is not None else replies.NO_IMAGES)
        return FoundItems(found=0, top=[])
    named = [i for i in (args.item_ids or state.anchor_ids) if i in deps.catalog]
    for item_id in named:
        if item_id not in deps.image_store:
            buffer.note(replies.NO_POSTER_FOR.format(title=deps.catalog.get(item_id).label))
    found: list[ScoredItem] = []
    where = state_where(state)
    refs = image_references(state, deps, picture=buffer.picture, item_ids=args.item_ids or None)
    for ref in refs:
        for item_id, similarity in deps.image_store.nearest(ref.vector, args.k + 1, where=where):
            if item_id == ref.item_id:
                continue
            signals = {"image_sim": similarity}
            found.append(ScoredItem(id=item_id, score=similarity, signals=signals, image_anchor_id=ref.item_id))
    buffer.add(found)
    return _found(found)
