"""Cold start: a personalised first list for someone with no history, from their demographics.

Following "In-context Learning for Addressing User Cold-start in Sequential Movie Recommenders"
(RecSys 2025): a generator writes a short **imaginary history** — imaginary items described by
attributes (genres, era, keywords), in order — for a demographic profile; the imaginary items
are mapped onto real catalog items and fed to the collaborative model as if the person had
interacted with them:

- **early fusion**: one imaginary history joins the real history as extra input items;
- **late fusion**: several generated variants are each scored with the real history and their
  standardised scores are averaged.

The imaginary part's weight decays as real interactions accumulate
(:func:`imaginary_weight`). Imaginary items are never shown; only real items are ranked.
:class:`ColdStartRanker` is the policy the app serves (and ``evals/cold_start.py`` measures):
a blend of demographic popularity and late-fused CF whose demographic share also decays.
"""

from __future__ import annotations

import logging
import zlib
from typing import Callable, Iterable, Mapping, Protocol, Sequence, runtime_checkable

import numpy as np
from pydantic import BaseModel, Field
from scipy import sparse

from marquee.errors import CatalogError
from retrieval.catalog import Catalog, Item
from retrieval.cf import CFModel
from retrieval.demographics import AGE_GROUPS, DemographicDataset, Demographics, match_items_to_catalog

logger = logging.getLogger(__name__)


class ImaginaryItem(BaseModel):
    """An item someone with this profile might have liked, described only by attributes."""

    position: int = Field(ge=0, description="Order in the imaginary history, earliest first (its timestamp).")
    genres: list[str] = Field(default_factory=list)
    era: str | None = Field(None, description="Decade, e.g. '1990s'.")
    keywords: list[str] = Field(default_factory=list, description="Mood/theme words or tags.")
    label: str | None = Field(None, description="Optional title-like label; never shown as an item.")

    def as_text(self) -> str:
        """One line for a text/vector-store match: ``Comedy, Romance; 1990s; feel-good``."""
        parts = [", ".join(self.genres), self.era or "", ", ".join(self.keywords), self.label or ""]
        return "; ".join(p for p in parts if p)


class ImaginaryHistory(BaseModel):
    """A generated history for one profile; ``variant`` distinguishes late-fusion draws."""

    profile: Demographics
    items: list[ImaginaryItem]
    generator: str
    seed: int
    variant: int = 0
    notes: list[str] = Field(default_factory=list, description="What was ignored or assumed, for the person.")


@runtime_checkable
class HistoryGenerator(Protocol):
    """Writes imaginary histories. Implementations: :class:`DemographicNeighbourGenerator`
    (offline, the default) and, later, an LLM generator behind the same call."""

    name: str

    def generate(self, profile: Demographics, *, n_items: int = 10, seed: int = 0,
                 variant: int = 0) -> ImaginaryHistory: ...


def era_of(year: int | None) -> str | None:
    """``1994 -> '1990s'``; ``None`` when the year is unknown."""
    return f"{year // 10 * 10}s" if year else None


class DemographicNeighbours:
    """Training users' profiles and liked items; weighs users by how well their profile matches.

    A user's weight is ``strength ** matches``, where ``matches`` counts equal fields (age group,
    gender, occupation; a neighbouring age group counts half). Everyone keeps weight >= 1, so
    the global taste is always the backdrop and an empty profile gives plain popularity.
    """

    def __init__(self, profiles: Mapping[str, Demographics], liked: Mapping[str, Sequence[str]], *,
                 strength: float = 3.0):
        self.user_ids = [u for u in liked if liked[u]]
        self.liked = {u: list(liked[u]) for u in self.user_ids}
        self.strength = strength
        items = sorted({i for u in self.user_ids for i in self.liked[u]})
        self.item_ids = items
        self.item_index = {item: k for k, item in enumerate(items)}
        rows = np.repeat(np.arange(len(self.user_ids)), [len(self.liked[u]) for u in self.user_ids])
        cols = np.fromiter((self.item_index[i] for u in self.user_ids for i in self.liked[u]), np.int64, len(rows))
        self.likes = sparse.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)),
                                       shape=(len(self.user_ids), len(items)))
        self.likes.data[:] = 1.0
        empty = Demographics()
        self._age = np.array([_age_rank(profiles.get(u, empty).age_group) for u in self.user_ids])
        self._gender = np.array([profiles.get(u, empty).gender or "" for u in self.user_ids], dtype=object)
        self._occupation = np.array([profiles.get(u, empty).occupation or "" for u in self.user_ids], dtype=object)

    @classmethod
    def from_ratings(cls, profiles: Mapping[str, Demographics], user_ids: Sequence, item_ids: Sequence,
                     ratings: Sequence, timestamps: Sequence | None = None, *, positive: float = 4.0,
                     strength: float = 3.0) -> "DemographicNeighbours":
        """Likes = ratings >= ``positive``, in time order; users without a profile are skipped."""
        order = np.argsort(np.asarray(timestamps), kind="stable") if timestamps is not None else range(len(ratings))
        liked: dict[str, list[str]] = {}
        for row in order:
            if ratings[row] >= positive and str(user_ids[row]) in profiles:
                liked.setdefault(str(user_ids[row]), []).append(str(item_ids[row]))
        return cls(profiles, liked, strength=strength)

    def weights(self, profile: Demographics, strength: float | None = None) -> np.ndarray:
        """Weight of each training user (aligned with ``user_ids``) for this profile.

        ``strength`` overrides the instance's; 1.0 weighs everyone equally (plain popularity).
        """
        matches = np.zeros(len(self.user_ids))
        if profile.age_group is not None:
            distance = np.abs(self._age - _age_rank(profile.age_group))
            matches += np.where(self._age < 0, 0.0, np.where(distance == 0, 1.0, np.where(distance == 1, 0.5, 0.0)))
        if profile.gender is not None:
            matches += self._gender == profile.gender
        if profile.occupation is not None:
            matches += self._occupation == profile.occupation
        return np.power(self.strength if strength is None else strength, matches)

    def popularity_vector(self, profile: Demographics, strength: float | None = None) -> np.ndarray:
        """Weighted share of matching users who liked each item (aligned with ``item_ids``)."""
        weights = self.weights(profile, strength)
        return np.asarray(weights @ self.likes).ravel() / max(weights.sum(), 1e-9)

    def popularity(self, profile: Demographics) -> dict[str, float]:
        """Item id -> demographic popularity for this profile (0..1)."""
        return dict(zip(self.item_ids, self.popularity_vector(profile).tolist()))


def _age_rank(group: str | None) -> int:
    return AGE_GROUPS.index(group) if group in AGE_GROUPS else -1


class DemographicNeighbourGenerator:
    """Offline generator: imaginary items drawn from what users like this profile liked.

    Each imaginary item is one draw from the attribute distribution of the neighbours' likes: a
    neighbour drawn by demographic weight, one of their liked items drawn at random, and only
    that item's attributes kept (genres, era, up to three tags) — never its id or title.
    Reproducible: the same profile, seed and variant give the same history.
    """

    name = "demographic_neighbours"

    def __init__(self, neighbours: DemographicNeighbours, items: Mapping[str, Item]):
        self.neighbours = neighbours
        self.items = items

    def generate(self, profile: Demographics, *, n_items: int = 10, seed: int = 0,
                 variant: int = 0) -> ImaginaryHistory:
        """An imaginary history of ``n_items`` attribute-only items for ``profile``."""
        notes = [] if not profile.is_empty() else [
            "no demographics given: the imaginary history follows what all users liked"]
        users = self.neighbours.user_ids
        if not users or n_items < 1:
            return ImaginaryHistory(profile=profile, items=[], generator=self.name, seed=seed,
                                    variant=variant, notes=notes + ["no training likes to draw from"])
        rng = np.random.default_rng([seed, variant, zlib.crc32(profile.key().encode())])
        weights = self.neighbours.weights(profile)
        drawn = rng.choice(len(users), size=n_items, p=weights / weights.sum())
        imaginary: list[ImaginaryItem] = []
        for user_row in drawn:
            likes = self.neighbours.liked[users[user_row]]
            item = self.items.get(likes[int(rng.integers(len(likes)))])
            if item is None:
                continue
            imaginary.append(ImaginaryItem.model_construct(  # values come from validated Items
                position=len(imaginary), genres=list(item.genres), era=era_of(item.year),
                keywords=list(item.tags[:3]), label=None))
        return ImaginaryHistory(profile=profile, items=imaginary, generator=self.name, seed=seed,
                                variant=variant, notes=notes)


# --- mapping imaginary items to real catalog items -------------------------------------------

CandidateScorer = Callable[[ImaginaryItem], Mapping[str, float]]
"""Given an imaginary item, candidate real item ids with a match score (higher is better)."""


class MappedItem(BaseModel):
    """A real item standing in for an imaginary one, with its share of that item's weight."""

    position: int = Field(ge=0)
    item_id: str
    weight: float = Field(gt=0, le=1)


def map_to_catalog(history: ImaginaryHistory, scorer: CandidateScorer, *, per_item: int = 1,
                   exclude: Iterable[str] = ()) -> list[MappedItem]:
    """Replace each imaginary item by its ``per_item`` best real matches (weights sum to 1 per item).

    ``scorer`` may be :class:`AttributeMatcher` or anything else with the same call, e.g. a
    vector-store query on ``ImaginaryItem.as_text()``. Imaginary items with no match are dropped.
    """
    skip = set(exclude)
    mapped: list[MappedItem] = []
    memo: dict[tuple, list[tuple[str, float]]] = {}  # generators repeat attribute combinations
    keys = [(tuple(i.genres), i.era, tuple(i.keywords), i.label) for i in history.items]
    if isinstance(scorer, AttributeMatcher):
        memo.update(scorer.best_matches(dict(zip(keys, history.items)), per_item=per_item, exclude=skip))
    for key, imaginary in zip(keys, history.items):
        if key not in memo:
            candidates = [(i, s) for i, s in scorer(imaginary).items() if i not in skip and s > 0]
            memo[key] = sorted(candidates, key=lambda pair: (-pair[1], pair[0]))[:per_item]
        best = memo[key]
        if not best:
            continue
        total = sum(s for _, s in best)
        mapped.extend(MappedItem(position=imaginary.position, item_id=i, weight=s / total) for i, s in best)
    return mapped


class AttributeMatcher:
    """Scores real items against an imaginary one by genre overlap, era and keywords.

    ``score = jaccard(genres) + era_weight * era closeness (1 same decade, .5 next) +
    keyword_weight * jaccard(keywords, tags) + prior_weight * prior / max(prior)``. The prior
    (e.g. demographic popularity) breaks ties towards items people like this one actually liked.
    """

    def __init__(self, items: Iterable[Item], *, era_weight: float = 0.5, keyword_weight: float = 0.5,
                 prior_weight: float = 0.5, top: int = 20):
        self.items = list(items)
        self.ids = [item.id for item in self.items]
        genres = sorted({g for item in self.items for g in item.genres})
        self.genre_index = {g: k for k, g in enumerate(genres)}
        self.genre_matrix = np.zeros((len(self.items), len(genres)), dtype=np.float32)
        for row, item in enumerate(self.items):
            for genre in item.genres:
                self.genre_matrix[row, self.genre_index[genre]] = 1.0
        self.genre_counts = self.genre_matrix.sum(axis=1)
        self.decades = np.array([item.year // 10 if item.year else -1000 for item in self.items])
        self.tags = [{t.lower() for t in item.tags} for item in self.items]
        self.era_weight, self.keyword_weight = era_weight, keyword_weight
        self.prior_weight, self.top = prior_weight, top
        self.prior = np.zeros(len(self.items), dtype=np.float32)
        self._rows: dict[tuple, np.ndarray] = {}  # attribute key -> attribute scores, shared by copies
        self._max_rows = max(64, 50_000_000 // max(1, 4 * len(self.items)))  # about 50 MB

    def with_prior(self, prior: Mapping[str, float]) -> "AttributeMatcher":
        """A copy (sharing the item matrices) that uses ``prior`` as its tie-breaker."""
        clone = object.__new__(AttributeMatcher)
        clone.__dict__.update(self.__dict__)
        values = np.array([prior.get(i, 0.0) for i in self.ids], dtype=np.float32)
        clone.prior = values / values.max() if values.max() > 0 else values
        return clone

    def score_batch(self, imaginary: Sequence[ImaginaryItem]) -> np.ndarray:
        """Match scores of each imaginary item (rows) against every real item (columns, ``ids``).

        The attribute part depends only on the imaginary item's attributes, so it is cached
        (shared by the copies :meth:`with_prior` makes); the prior is added per call.
        """
        keys = [(tuple(i.genres), i.era, tuple(i.keywords)) for i in imaginary]
        found = {key: self._rows.get(key) for key in keys}  # read once: another turn may clear the cache
        missing = {key: item for key, item in zip(keys, imaginary) if found[key] is None}
        if missing:
            computed = dict(zip(missing, self._attribute_scores(list(missing.values()))))
            if len(self._rows) + len(computed) > self._max_rows:
                self._rows.clear()
            self._rows.update(computed)
            found.update(computed)
        rows = np.stack([found[key] for key in keys]) if keys else np.zeros((0, len(self.ids)), np.float32)
        return rows + self.prior_weight * self.prior[None, :]

    def _attribute_scores(self, imaginary: Sequence[ImaginaryItem]) -> np.ndarray:
        wanted = np.zeros((len(imaginary), len(self.genre_index)), dtype=np.float32)
        eras = np.full(len(imaginary), -10_000)
        for row, item in enumerate(imaginary):
            for genre in item.genres:
                if genre in self.genre_index:
                    wanted[row, self.genre_index[genre]] = 1.0
            if item.era and item.era[:-1].isdigit():
                eras[row] = int(item.era[:-1]) // 10
        overlap = wanted @ self.genre_matrix.T
        union = self.genre_counts[None, :] + wanted.sum(axis=1, keepdims=True) - overlap
        score = np.divide(overlap, union, out=np.zeros_like(overlap), where=union > 0)
        distance = np.abs(self.decades[None, :] - eras[:, None])
        score += np.float32(self.era_weight) * ((distance == 0) + np.float32(0.5) * (distance == 1))
        for row, item in enumerate(imaginary):
            if item.keywords and self.keyword_weight:
                words = {k.lower() for k in item.keywords}
                score[row] += self.keyword_weight * np.array(
                    [len(words & tags) / len(words | tags) if tags else 0.0 for tags in self.tags])
        return score.astype(np.float32)

    def best_matches(self, imaginary: Mapping[tuple, ImaginaryItem], *, per_item: int,
                     exclude: set[str]) -> dict[tuple, list[tuple[str, float]]]:
        """For each keyed imaginary item, its ``per_item`` best (id, score), best first (ties: id)."""
        keys = list(imaginary)
        if not keys or not self.ids:
            return {key: [] for key in keys}
        scores = self.score_batch([imaginary[k] for k in keys])
        if exclude:
            scores[:, [k for k, i in enumerate(self.ids) if i in exclude]] = -np.inf
        width = min(len(self.ids), per_item + 8)  # a margin so ties resolve by id like the slow path
        top = np.argpartition(-scores, width - 1, axis=1)[:, :width]
        out = {}
        for row, key in enumerate(keys):
            pairs = [(self.ids[k], float(scores[row, k])) for k in top[row] if scores[row, k] > 0]
            out[key] = sorted(pairs, key=lambda pair: (-pair[1], pair[0]))[:per_item]
        return out

    def __call__(self, imaginary: ImaginaryItem) -> dict[str, float]:
        score = self.score_batch([imaginary])[0]
        top = np.argpartition(-score, min(self.top, len(score)) - 1)[: self.top] if len(score) else []
        return {self.ids[k]: float(score[k]) for k in top if score[k] > 0}


# --- fusion ------------------------------------------------------------------------------------

def imaginary_weight(n_real: int, *, initial: float = 1.0, half_life: float = 2.0) -> float:
    """Weight of each imaginary item once the person has ``n_real`` real interactions.

    ``initial`` with no real interaction, halving every ``half_life`` interactions.
    """
    if n_real < 0:
        raise ValueError("n_real must be >= 0")
    return float(initial * 0.5 ** (n_real / half_life)) if half_life > 0 else (initial if n_real == 0 else 0.0)


def fused_history(real: Mapping[str, float], mapped: Sequence[MappedItem], weight: float) -> dict[str, float]:
    """Early fusion's input: the real history plus the mapped imaginary items at ``weight`` each.

    Real feedback on an item overrides an imaginary stand-in for the same item.
    """
    history: dict[str, float] = {}
    for item in mapped:
        history[item.item_id] = history.get(item.item_id, 0.0) + weight * item.weight
    history.update(real)
    return history


def standardize(scores: np.ndarray) -> np.ndarray:
    """Per row: zero mean, unit variance over the finite entries (constant rows become 0)."""
    scores = np.atleast_2d(np.asarray(scores, dtype=np.float32))
    finite = np.isfinite(scores)
    if finite.all():
        std = scores.std(axis=1, keepdims=True)
        centred = scores - scores.mean(axis=1, keepdims=True)
        return np.divide(centred, std, out=np.zeros_like(centred), where=std > 0)
    clean = np.where(finite, scores, 0.0)
    count = np.maximum(finite.sum(axis=1, keepdims=True), 1)
    mean = clean.sum(axis=1, keepdims=True) / count
    var = (np.where(finite, clean - mean, 0.0) ** 2).sum(axis=1, keepdims=True) / count
    std = np.sqrt(var)
    out = np.where(std > 0, (clean - mean) / np.where(std > 0, std, 1.0), 0.0)
    return np.where(finite, out, scores).astype(np.float32)


def late_fusion(real_scores: np.ndarray, variant_scores: np.ndarray, weight: float) -> np.ndarray:
    """Average over variants of ``standardize(real + weight * variant)``.

    ``real_scores`` has shape ``(..., items)`` (the CF scores of the real history) and
    ``variant_scores`` ``(..., variants, items)`` (CF scores of each variant's mapped imaginary
    history). The model is linear, so this equals scoring each fused history.
    """
    fused = real_scores[..., None, :] + weight * variant_scores
    flat = fused.reshape(-1, fused.shape[-1])
    return standardize(flat).reshape(fused.shape).mean(axis=-2)


class ColdStartPolicy(BaseModel):
    """How the app ranks for a person with few or no interactions (tuned on training users).

    ``score = a(n) * z(demographic popularity) + (1 - a(n)) * late-fused CF``, with
    ``a(n) = demographic_initial * 0.5 ** (n / demographic_half_life)``, the popularity's users
    weighted with ``popularity_strength`` (1.0: plain popularity) and the imaginary items'
    weight :func:`imaginary_weight` ``(n, imaginary_initial, imaginary_half_life)``.
    """

    n_items: int = Field(50, ge=1, le=100)
    n_variants: int = Field(10, ge=1, le=20)
    per_item: int = Field(1, ge=1, le=10)
    # defaults: the values `evals/cold_start.py` tuned on ML-100K's training users (seed 7,
    # 3-fold over the training users, 2026-11-22 with half-lives up to 30)
    imaginary_initial: float = Field(0.5, ge=0)
    imaginary_half_life: float = Field(10.0, gt=0)
    demographic_initial: float = Field(0.75, ge=0, le=1)
    demographic_half_life: float = Field(10.0, gt=0)
    popularity_strength: float = Field(6.0, ge=1.0, description="Profile-match strength of the popularity part.")
    low_rating_weight: float = Field(0.5, ge=-1, le=1, description="History weight of a rating below 4.")
    seed: int = 7

    def demographic_share(self, n_real: int) -> float:
        return float(self.demographic_initial * 0.5 ** (n_real / self.demographic_half_life))

    def imaginary(self, n_real: int) -> float:
        return imaginary_weight(n_real, initial=self.imaginary_initial, half_life=self.imaginary_half_life)


def history_from_ratings(ratings: Mapping[str, float], *, low_rating_weight: float = 0.0,
                         positive: float = 4.0) -> dict[str, float]:
    """A CF history from explicit ratings: liked (>= ``positive``) items 1, others ``low_rating_weight``."""
    return {item: (1.0 if r >= positive else low_rating_weight) for item, r in ratings.items()}


class ColdStartRanker:
    """Ranks every item of ``universe`` for a person from their profile and their few real items.

    Built once from the collaborative model, the demographic neighbours, a generator and a
    matcher. The imaginary part of a profile is generated once and cached by profile key.
    """

    def __init__(self, model: CFModel, neighbours: DemographicNeighbours, generator: HistoryGenerator,
                 matcher: AttributeMatcher, universe: Sequence[str], policy: ColdStartPolicy | None = None):
        self.model, self.neighbours, self.generator, self.matcher = model, neighbours, generator, matcher
        self.universe = [str(i) for i in universe]
        self.index = {item: k for k, item in enumerate(self.universe)}
        self.policy = policy or ColdStartPolicy()
        self._model_cols = np.array([self.index.get(i, -1) for i in model.item_ids])
        self._pop_cols = np.array([self.index.get(i, -1) for i in neighbours.item_ids])
        self._cache: dict[str, tuple[np.ndarray, np.ndarray, list[ImaginaryHistory]]] = {}
        self.max_cached_profiles = 512

    def to_universe(self, model_scores: np.ndarray) -> np.ndarray:
        """CF scores over ``model.item_ids`` (last axis) -> over ``universe`` (0 for unmodelled)."""
        out = np.zeros(model_scores.shape[:-1] + (len(self.universe),), dtype=np.float32)
        keep = self._model_cols >= 0
        out[..., self._model_cols[keep]] = model_scores[..., keep]
        return out

    def demographic_popularity(self, profile: Demographics, strength: float | None = None) -> np.ndarray:
        """Demographic popularity over ``universe`` (``strength`` as in :meth:`DemographicNeighbours.weights`)."""
        out = np.zeros(len(self.universe), dtype=np.float32)
        keep = self._pop_cols >= 0
        out[self._pop_cols[keep]] = self.neighbours.popularity_vector(profile, strength)[keep]
        return out

    def imaginary_part(self, profile: Demographics) -> tuple[np.ndarray, np.ndarray, list[ImaginaryHistory]]:
        """(demographic popularity, CF scores of each variant's mapped history, the histories)."""
        key = profile.key()
        if key not in self._cache:
            if len(self._cache) >= self.max_cached_profiles:
                self._cache.pop(next(iter(self._cache)))  # the oldest profile goes first
            popularity = self.demographic_popularity(profile)
            matcher = self.matcher.with_prior(dict(zip(self.universe, popularity.tolist())))
            histories = [self.generator.generate(profile, n_items=self.policy.n_items, seed=self.policy.seed,
                                                 variant=v) for v in range(self.policy.n_variants)]
            vectors = np.stack([self.model.history_vector(fused_history(
                {}, map_to_catalog(h, matcher, per_item=self.policy.per_item), 1.0)) for h in histories])
            self._cache[key] = (popularity, self.to_universe(self.model.score_matrix(vectors)), histories)
        return self._cache[key]

    def scores(self, profile: Demographics, history: Mapping[str, float]) -> np.ndarray:
        """The policy's score of every universe item; items in ``history`` get ``-inf``."""
        _, variants, _ = self.imaginary_part(profile)
        popularity = self.demographic_popularity(profile, self.policy.popularity_strength)
        n_real = len(history)
        real = self.to_universe(self.model.score_vector(history))
        cf = late_fusion(real, variants, self.policy.imaginary(n_real))
        share = self.policy.demographic_share(n_real)
        total = share * standardize(popularity)[0] + (1 - share) * cf
        for item in history:
            if item in self.index:
                total[self.index[item]] = -np.inf
        return total

    def recommend(self, profile: Demographics, history: Mapping[str, float], k: int = 10) -> list[tuple[str, float]]:
        """The top ``k`` universe items for this person, best first."""
        scores = self.scores(profile, history)
        top = np.argsort(-scores, kind="stable")[:k]
        return [(self.universe[i], float(scores[i])) for i in top if np.isfinite(scores[i])]


def build_cold_start_ranker(data: DemographicDataset, catalog: Catalog, model: CFModel, *,
                            policy: ColdStartPolicy | None = None) -> ColdStartRanker:
    """The app's ranker: demographics from a MovieLens dataset, items and CF from the catalog.

    Dataset items are matched to catalog items by title and year; likes of unmatched items are
    dropped. The generator then describes imaginary items with the catalog's own facts (its
    genres, years and tags), and every ranked item is a catalog item.
    """
    to_catalog = match_items_to_catalog(data.items, catalog)
    keep = np.fromiter((i in to_catalog for i in data.item_ids), bool, len(data))
    if not keep.any():
        raise CatalogError(f"none of {data.name}'s rated items is in the catalog")
    neighbours = DemographicNeighbours.from_ratings(
        data.users, data.user_ids[keep], [to_catalog[i] for i in data.item_ids[keep]], data.ratings[keep],
        data.timestamps[keep], strength=3.0)
    generator = DemographicNeighbourGenerator(neighbours, catalog.items)
    logger.info("cold start: %d of %d %s items matched the catalog, %d users with likes",
                len(to_catalog), len(data.items), data.name, len(neighbours.user_ids))
    return ColdStartRanker(model, neighbours, generator, AttributeMatcher(catalog), catalog.ids, policy)
