"""Ranking the candidate buffer: relevance, preference match, CF, popularity, critiques, diversity.

The weights of each part depend on the kind of request (``retrieval.relevance``): similarity to
named items leads a "like X" request, the request's words and the items' stories lead a
described one, popularity and the collaborative model lead plain browsing.

Relevance can fuse modalities: the text-side score (similarity to named titles, else to the
request's words) and the image score (posters compared with :func:`tools.retrieve.image_references`)
are z-scored over the candidates and mixed ``(1 - w) * text + w * image``, with ``w`` =
``settings.image_weight`` (0 by default: it only hurt on validation users) or, when the user
asks for a look, ``settings.visual_weight``. Precomputed modalities join similarity to named
titles the same way (``settings.modality_weights``). Each candidate records what the image
contributed (``rank_image``), so a justification may cite the poster only when it mattered.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, Field

from chat.schemas import PreferenceState
from prompts import replies
from retrieval.catalog import Item, fold
from tools.attributes import attribute_level, mood_directions
from tools.base import CandidateBuffer, ScoredItem, ToolDeps, tool
from retrieval.moods import mood_level, moods_in, story_sentence
from retrieval.relevance import (SURPRISE_DIVERSITY, hidden_gem, popularity_prior, quality, request_kind,
                                 story_match, text_match, weights_for)
from tools.retrieve import ImageReference, image_references, query_text, query_vector

# For a cold person (the cold-start tool ran: demographics, few interactions) the cold-start score
# already holds the collaborative model's view of their few items, fused with the imagined history;
# the general CF part then weighs less. Chosen on ML-100K validation users (151 drawn from the
# training users, seed 8; the app path of `marquee eval cold-start`, row marquee): mean NDCG@10 over
# n = 0, 1, 3, 5 of .4164 at cf 0, .4217 at 0.15, .4197 at 0.3, .4148 at 0.45, .4133 at 0.6 (the
# shipped row: .4061, .4083, .4069, .4038, .4031; evals/REPORT.md §6).
COLD_START_CF = 0.15
MUCH_ALIKE_Z = 0.5  # a poster "looks much like" the reference only this far (in std) above the candidates' mean


class RankArgs(BaseModel):
    """Score every candidate against the conversation's preferences and keep the best k."""

    k: int = Field(5, ge=1, le=100, description="How many items to keep.")
    diversity: float = Field(0.15, ge=0.0, le=1.0, description="0 = pure score; higher = less alike items.")


class RankedItems(BaseModel):
    ids: list[str]
    scores: list[float]


def preference_match(item: Item, state: PreferenceState) -> float:
    """Share of the wanted genres and theme keywords that the item's own genres and tags show
    (moods are scored apart, by :func:`retrieval.moods.mood_level`)."""
    moods = set(moods_in(state.keywords))
    themes = [k for k in state.keywords if not k.startswith("not ") and k not in moods and fold(k) not in moods]
    wanted = len(state.genres_include) + len(themes)
    if not wanted:
        return 0.0
    hits = sum(g in item.genres for g in state.genres_include)
    tags = fold(" ".join(item.tags))
    hits += sum(1 for k in themes if fold(k) in tags)
    return hits / wanted


CRITIQUED_AWAY = 0.5  # after "less X" with nothing shown, an item this high on X is pushed far down


def critique_level(item: Item, wishes: list[tuple[str, str]], ceilings: dict[str, float] | None = None) -> float:
    """How far the item moves the way the critiques and moods ask, in about [-3, 1].

    For "less X", an item at or above the ceiling of X (the level of the list the person just
    saw, else :data:`CRITIQUED_AWAY`) is what made that list X: it is pushed far down, so the
    next list's level is clearly lower."""
    if not wishes:
        return 0.0
    total = 0.0
    for attribute, direction in wishes:
        level = attribute_level(item, attribute)
        if direction == "more":
            total += level
        else:
            ceiling = (ceilings or {}).get(attribute, CRITIQUED_AWAY)
            total += -3.0 if level >= ceiling else -level
    return total / len(wishes)


def critique_ceilings(state: PreferenceState, deps: ToolDeps) -> dict[str, float]:
    """For each "less" critique, the level to come down from: the mean level of the items shown
    last, else of the named titles ("like Se7en but less dark": less than Se7en, not "not dark").
    Items at or above that level are pushed out (:func:`critique_level`)."""
    shown = [item for i in state.last_shown_ids if (item := deps.catalog.get(i)) is not None]
    anchors = [item for i in state.anchor_ids if (item := deps.catalog.get(i)) is not None]
    reference = shown or anchors
    if not reference:
        return {}
    return {c.attribute: max(-0.99, sum(attribute_level(i, c.attribute) for i in reference) / len(reference))
            for c in state.critiques if c.direction == "less"}


def _normalized(values: dict[str, float]) -> dict[str, float]:
    if not values:
        return {}
    low, high = min(values.values()), max(values.values())
    span = (high - low) or 1.0
    return {k: (v - low) / span for k, v in values.items()}


def story_words(state: PreferenceState, moods: list[str]) -> str:
    """What the request says a film is about: its free words and themes and what its moods are
    about. Genre names are left out: "a 90s sci-fi" says nothing about a story."""
    themes = [k for k in state.keywords if not k.startswith("not ") and k not in moods and k != "surprise"]
    words = " ".join(dict.fromkeys(" ".join([state.query, *themes]).split()))
    return " ".join(w for w in (words, story_sentence(moods)) if w)[:500]


def story_relevance(ids: list[str], query: str, deps: ToolDeps) -> dict[str, float]:
    """How well each candidate's story (plot vector) matches the request's words, in [0, 1]."""
    if not query or deps.similarity is None:
        return {}
    cosines = deps.similarity.story_cosines(query_vector(query, deps))
    if cosines is None:
        return {}
    index = deps.similarity.index
    rows = [(i, index[i]) for i in ids if i in index]
    return story_match({i: float(cosines[r]) for i, r in rows if not np.isnan(cosines[r])})


def score_candidates(candidates: list[ScoredItem], state: PreferenceState, history: dict[str, float], deps: ToolDeps,
                     *, visual: bool = False, picture: list[float] | None = None) -> dict[str, float]:
    """Set ``score`` and the ranking signals of each candidate in place; return the weights used.

    ``visual``: the user asked for a look (the image score dominates relevance); ``picture``:
    the image-space vector of a picture sent this turn.
    """
    query = query_text(state)
    ids = [c.id for c in candidates]
    moods = moods_in(state.keywords)
    text = text_match(query, query_vector(query, deps), ids, store=deps.store, keywords=deps.keywords) if query else {}
    story = story_relevance(ids, story_words(state, moods), deps)
    feedback = {**{i: 1.0 for i in state.liked_ids}, **{i: -1.0 for i in state.disliked_ids}, **history}
    cf_scores: dict[str, float] = {}
    if deps.cf is not None and feedback:
        raw = deps.cf.score(feedback)
        cf_scores = _normalized({c.id: raw.get(c.id, 0.0) for c in candidates})
    wishes = [(k.attribute, k.direction) for k in state.critiques] + mood_directions(state.keywords)
    ceilings = critique_ceilings(state, deps)
    all_parts: dict[str, dict[str, float]] = {}
    for c in candidates:
        item = deps.catalog.get(c.id)
        all_parts[c.id] = {
            "text": text.get(c.id, 0.0),
            "story": story.get(c.id, 0.0),
            "anchor": c.signals.get("anchor", 0.0),
            "person": c.signals.get("person", 0.0),
            "preference": preference_match(item, state),
            "cf": cf_scores.get(c.id, 0.0),
            "popularity": popularity_prior(item.n_ratings, item.mean_rating),
            "hidden": hidden_gem(item.n_ratings, item.mean_rating),
            "quality": quality(item.n_ratings, item.mean_rating),
            "mood": mood_level(item, moods),
            "critique": critique_level(item, wishes, ceilings),
            "unverified": float(bool(c.unverified)),
            "cold_start": c.signals.get("cold_start", 0.0),
        }
    visual = visual or picture is not None
    kind = request_kind(state)
    weights = weights_for(kind, visual=visual)
    if any("cold_start" in c.signals for c in candidates):
        weights = {**weights, "cf": min(weights["cf"], COLD_START_CF)}
    for c in candidates:  # a second ranking in one turn starts afresh
        for name in [k for k in c.signals if k.startswith("rank_")]:
            del c.signals[name]
    fuse_modalities(candidates, all_parts, state, deps, visual=visual, picture=picture, weights=weights)
    for c in candidates:
        parts = all_parts[c.id]
        c.signals.update({f"rank_{k}": v for k, v in parts.items() if v})
        c.score = sum(weights.get(k, 0.0) * v for k, v in parts.items())
    return weights


def _z_scores(values: dict[str, float]) -> dict[str, float]:
    """(value - mean) / std over the given ids; all 0 when they do not vary."""
    if not values:
        return {}
    array = np.fromiter(values.values(), dtype=np.float64, count=len(values))
    std = float(array.std())
    if std < 1e-9:
        return {k: 0.0 for k in values}
    mean = float(array.mean())
    return {k: (v - mean) / std for k, v in values.items()}


def _image_similarities(ids: list[str], refs: list[ImageReference], deps: ToolDeps) -> dict[str, tuple[float, ImageReference]]:
    """Each candidate's best poster similarity over the references (candidates without a poster: absent)."""
    best: dict[str, tuple[float, ImageReference]] = {}
    for ref in refs:
        for item_id, similarity in zip(ids, deps.image_store.similarities(ref.vector, ids)):
            if item_id == ref.item_id or np.isnan(similarity):
                continue  # a named title's own poster is no evidence that it looks like itself
            if item_id not in best or similarity > best[item_id][0]:
                best[item_id] = (float(similarity), ref)
    return best


def _modality_similarities(ids: list[str], store, anchors: list[str]) -> dict[str, float]:
    """Best similarity of each candidate to the anchors in a precomputed modality's store."""
    anchors = [a for a in anchors if a in store]
    if not anchors:
        return {}
    rows = np.stack([store.similarities(vector, ids) for vector in store.vectors(anchors)])
    best = np.nanmax(np.where(np.isnan(rows), -np.inf, rows), axis=0)
    return {i: float(v) for i, v in zip(ids, best) if np.isfinite(v)}


def _contribution_key(modality: str) -> str:
    """Signal holding what a modality added to a candidate's score: ``rank_image``, ``rank_vec_audio``."""
    return "rank_image" if modality == "image" else f"rank_vec_{modality}"


def fuse_modalities(candidates: list[ScoredItem], all_parts: dict[str, dict[str, float]], state: PreferenceState,
                    deps: ToolDeps, *, visual: bool, picture: list[float] | None,
                    weights: dict[str, float]) -> None:
    """Mix the image (and precomputed) scores into the relevance part of ``all_parts``, in place.

    Nothing changes when every weight is 0 (the default for a request that is not about a look)
    or there is no image collection. The relevance part is ``anchor`` when the candidates came
    from named titles, else ``text``; the mix is rescaled to 0..1 across the candidates. Each
    candidate records ``image_sim``/``image_z`` and ``rank_image`` (what the image added to its
    score, in score units; negative when its poster looks unlike the reference), and
    ``image_led`` when that was its largest part.
    """
    for c in candidates:  # a second ranking in one turn starts afresh
        for name in ("rank_image", "image_led", "image_decisive", "image_z", "image_ref_picture"):
            c.signals.pop(name, None)
    settings = deps.settings
    image_weight = getattr(settings, "visual_weight" if visual else "image_weight", 0.0) if settings else 0.0
    ids = [c.id for c in candidates]
    scores: dict[str, tuple[float, dict[str, float]]] = {}  # modality -> (weight, z by id)
    image: dict[str, tuple[float, ImageReference]] = {}
    if image_weight > 0 and ids:
        image = _image_similarities(ids, image_references(state, deps, picture=picture), deps)
        if image:
            scores["image"] = (image_weight, _z_scores({i: s for i, (s, _) in image.items()}))
    for name, weight in (getattr(settings, "modality_weights", None) or {}).items():
        store = deps.modality_stores.get(name)
        if weight > 0 and store is not None and state.anchor_ids and ids:
            similar = _modality_similarities(ids, store, state.anchor_ids)
            if similar:
                scores[name] = (weight, _z_scores(similar))
    if not scores:
        return
    key = "anchor" if any(all_parts[i]["anchor"] for i in ids) else "text"
    base_weight = max(0.0, 1.0 - sum(weight for weight, _ in scores.values()))
    base = _z_scores({i: all_parts[i][key] for i in ids})
    fused = {i: base_weight * base[i] + sum(w * z.get(i, 0.0) for w, z in scores.values()) for i in ids}
    low, span = min(fused.values()), (max(fused.values()) - min(fused.values())) or 1.0
    for c in candidates:
        all_parts[c.id][key] = (fused[c.id] - low) / span
        for name, (weight, z) in scores.items():
            contribution = weights.get(key, 0.0) * weight * z.get(c.id, 0.0) / span
            c.signals[_contribution_key(name)] = contribution  # not in WEIGHTS: already in score units
        if c.id in image:
            similarity, ref = image[c.id]
            c.signals["image_sim"] = similarity
            c.signals["image_z"] = scores["image"][1][c.id]
            c.image_anchor_id = ref.item_id
            if ref.kind == "picture":
                c.signals["image_ref_picture"] = 1.0
    for c in candidates:  # "largest part": the image against the other parts, relevance counted without it
        contribution = c.signals.get("rank_image", 0.0)
        if contribution <= 0:
            continue
        parts = {k: weights.get(k, 0.0) * v for k, v in all_parts[c.id].items() if k != key}
        parts[key] = weights.get(key, 0.0) * base_weight * base[c.id] / span
        parts.update({name: c.signals.get(_contribution_key(name), 0.0) for name in scores if name != "image"})
        if contribution >= max(parts.values()):
            c.signals["image_led"] = 1.0


def diversify(candidates: list[ScoredItem], k: int, strength: float, deps: ToolDeps) -> list[ScoredItem]:
    """Maximal marginal relevance over the item embeddings: trade score for novelty."""
    pool = sorted(candidates, key=lambda c: -c.score)[: max(k * 8, 40)]
    if strength <= 0 or len(pool) <= 1:
        return pool[:k]
    vectors = deps.store.vectors([c.id for c in pool])
    scores = np.array([c.score for c in pool], dtype=np.float64)
    overlap = np.zeros(len(pool))  # each item's highest similarity to an item already chosen
    free = np.ones(len(pool), dtype=bool)
    chosen: list[int] = []
    while free.any() and len(chosen) < k:
        mmr = np.where(free, scores - strength * overlap, -np.inf)
        best = int(np.argmax(mmr))  # the first of equals, as the score order had it
        chosen.append(best)
        free[best] = False
        similarity = vectors @ vectors[best]
        overlap = similarity if len(chosen) == 1 else np.maximum(overlap, similarity)
    return [pool[i] for i in chosen]


@tool("rank", RankArgs, RankedItems)
def rank_candidates(args: RankArgs, *, deps: ToolDeps, buffer: CandidateBuffer) -> RankedItems:
    """Order the candidates by how well they fit: relevance to the request, similarity to named
    items, wanted genres/people/keywords, the collaborative model's view of the user's feedback,
    popularity, and critiques such as "less violent"; then keep k varied items."""
    for mood in moods_in(buffer.preferences.keywords):
        if deps.mood_evidence.get(mood) is False:
            buffer.note(replies.NO_MOOD_EVIDENCE.format(mood=mood))
    buffer.weights = score_candidates(buffer.items, buffer.preferences, buffer.history, deps, visual=buffer.visual,
                                      picture=buffer.picture)
    mark_image_decisive(buffer.items, args.k)
    surprise = request_kind(buffer.preferences) == "surprise"
    buffer.items = diversify(buffer.items, args.k, max(args.diversity, SURPRISE_DIVERSITY) if surprise else args.diversity,
                             deps)
    return RankedItems(ids=[c.id for c in buffer.items], scores=[round(c.score, 4) for c in buffer.items])


def mark_image_decisive(candidates: list[ScoredItem], k: int) -> None:
    """Mark ``image_decisive`` on candidates in the top ``k`` that would not be there without
    what their poster added (``rank_image``)."""
    if not any(c.signals.get("rank_image", 0.0) > 0 for c in candidates):
        return
    without = sorted((c.score - c.signals.get("rank_image", 0.0) for c in candidates), reverse=True)
    cutoff = without[min(k, len(without)) - 1]
    top = sorted(candidates, key=lambda c: -c.score)[:k]
    for c in top:
        if c.signals.get("rank_image", 0.0) > 0 and c.score - c.signals["rank_image"] < cutoff:
            c.signals["image_decisive"] = 1.0

