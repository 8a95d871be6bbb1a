"""The shipped demographic taste model: what people like a new user like, from aggregates only.

``data/build_taste_model.py`` writes it from MovieLens 1M (``data/demo/demographic_taste.npz``,
see ``data/demo/README.md``): demographic cells of at least 20 users with smoothed affinities
for items, genres and decades, single-field groups with their genre and decade affinities, and
group evidence for justifications. No user rows. This module reads it and binds it to the
catalog being served (items linked by MovieLens id with the same title and year, else by IMDb
id, else by title + year), giving the three things cold start needs without a ratings data set:

- :class:`TasteNeighbours`: demographic popularity over catalog items (the interface of
  :class:`retrieval.cold_start.DemographicNeighbours` that :class:`ColdStartRanker` reads);
- :class:`TasteGenerator`: imaginary histories drawn from the cells' item affinities, described
  with the catalog's own facts;
- :meth:`TasteNeighbours.evidence`: "popular with people aged 25-34 who like comedies", only
  where the group's likes show it.
"""

from __future__ import annotations

import json
import logging
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np

from marquee.errors import CatalogError
from retrieval.catalog import Catalog, Item
from retrieval.cold_start import ImaginaryHistory, ImaginaryItem, era_of
from retrieval.demographics import AGE_GROUPS, Demographics
from retrieval.group_taste import GroupEvidence, profile_groups

logger = logging.getLogger(__name__)

MODEL_VERSION = 1
SHIPPED_NAME = "shipped"
# Profile-match strength of the score's demographic popularity (the policy's popularity_strength).
# 3.0, the neighbours' own strength: on ML-100K validation users (151, drawn from the training
# users, seed 8) NDCG@10 at n = 0 was .4110 at 1.0, .4148 at 1.5, .4137 at 2, .4165 at 3, .4036 at
# 6 (the default 6.0 was tuned for in-domain neighbours, where a stronger match pays).
TASTE_STRENGTH = 3.0
MIN_SHARE = 0.05  # of a group's fans of a genre who liked the item, before a justification cites the group
_REQUIRED = ("meta", "item_movielens_id", "item_imdb_id", "item_title", "item_year", "item_genres",
             "overall_items", "cell_fields", "cell_users", "cell_item_indptr", "cell_item_index",
             "cell_item_affinity", "group_users", "group_genres", "group_decades", "evidence_group",
             "evidence_item", "evidence_genre", "evidence_group_share", "evidence_overall_share",
             "evidence_fans", "evidence_genre_fans")


@dataclass(frozen=True)
class TasteModel:
    """The file's contents, validated; item rows are the model's own (MovieLens) items."""

    meta: dict
    arrays: dict[str, np.ndarray]
    cell_items: np.ndarray  # cells x items, smoothed like shares (dense)

    @property
    def name(self) -> str:
        return f"{SHIPPED_NAME} ({self.meta.get('source', '?')})"

    @property
    def genres(self) -> list[str]:
        return list(self.meta["genres"])

    def item_keys(self) -> list[tuple[int, int, str, int | None]]:
        """(MovieLens id, IMDb number or 0, title, year) of each model item."""
        a = self.arrays
        return [(int(m), int(i), str(t), int(y) or None) for m, i, t, y in
                zip(a["item_movielens_id"], a["item_imdb_id"], a["item_title"], a["item_year"])]


def load_taste_model(path: Path) -> TasteModel:
    """Read and check a taste model file; ``CatalogError`` says what is wrong with it."""
    try:
        with np.load(Path(path), allow_pickle=False) as handle:
            arrays = {name: handle[name] for name in handle.files}
    except (OSError, ValueError, EOFError) as exc:
        raise CatalogError(f"cannot read the demographic taste model {path}: {exc}") from exc
    missing = [name for name in _REQUIRED if name not in arrays]
    if missing:
        raise CatalogError(f"{path} is not a demographic taste model (missing {', '.join(missing)})")
    meta = json.loads(str(arrays.pop("meta")))
    if meta.get("version") != MODEL_VERSION:
        raise CatalogError(f"{path}: taste model version {meta.get('version')!r}, expected {MODEL_VERSION}")
    n_cells, n_items = len(arrays["cell_users"]), len(arrays["item_movielens_id"])
    pointers, columns = arrays["cell_item_indptr"], arrays["cell_item_index"].astype(np.int64)
    if len(pointers) != n_cells + 1 or (columns.size and (columns.min() < 0 or columns.max() >= n_items)):
        raise CatalogError(f"{path}: inconsistent cell arrays")
    m = float(meta["shrinkage"])
    users = arrays["cell_users"].astype(np.float32)
    dense = (m * arrays["overall_items"][None, :] / (users[:, None] + m)).astype(np.float32)
    rows = np.repeat(np.arange(n_cells), np.diff(pointers))
    dense[rows, columns] = arrays["cell_item_affinity"]
    return TasteModel(meta, arrays, dense)


def link_items(model: TasteModel, catalog: Catalog) -> dict[int, str]:
    """Model item row -> catalog item id: same id with the same title and year, else by title + year."""
    linked: dict[int, str] = {}
    for row, (movielens_id, _, title, year) in enumerate(model.item_keys()):
        same = catalog.get(str(movielens_id))
        if same is not None and same.year == year and same.title.casefold() == title.casefold():
            linked[row] = same.id
            continue
        found = catalog.find_title(f"{title} ({year})" if year else title)
        if found is not None and (year is None or found.year in (None, year)):
            linked[row] = found.id
    return linked


def catalog_popularity(item: Item, prior_votes: float = 10.0, prior_mean: float = 3.5) -> float:
    """How many of the catalog's viewers liked an item, as far as its facts tell: its rating count
    times how far its mean rating (shrunk toward 3.5 with ``prior_votes``) is above 2.5 stars."""
    mean = ((item.mean_rating or prior_mean) * item.n_ratings + prior_mean * prior_votes) / (item.n_ratings + prior_votes)
    return item.n_ratings * max(0.0, (mean - 2.5) / 2.5)


class TasteNeighbours:
    """The taste model bound to one catalog: demographic popularity and group evidence by catalog id.

    The model carries who likes what *relative to everyone* (a cell's lift on an item: its
    smoothed like share over the overall share); the catalog carries what is popular among its
    own viewers (its rating counts). A profile's demographic popularity of an item is the
    catalog's popularity times the lift of the cells weighted for the profile (1 for items the
    model does not know), so the model transfers to catalogs whose audience and era differ.
    A cell weighs ``strength ** matches`` per user (``matches`` as in
    :class:`retrieval.cold_start.DemographicNeighbours`: an equal field counts 1, a neighbouring
    age group one half; a pooled field never matches), so the whole population stays the backdrop.
    """

    def __init__(self, model: TasteModel, catalog: Catalog, *, strength: float = 3.0, min_share: float = MIN_SHARE):
        self.model, self.strength, self.min_share = model, strength, min_share
        linked = link_items(model, catalog)
        self.item_ids = list(catalog.ids)
        self.item_index = {item: k for k, item in enumerate(self.item_ids)}
        rows = np.array(sorted(linked), dtype=np.int64)
        columns = np.array([self.item_index[linked[r]] for r in rows], dtype=np.int64)
        overall = model.arrays["overall_items"][rows]
        self.lifts = np.ones((len(model.cell_items), len(self.item_ids)), dtype=np.float32)
        self.lifts[:, columns] = model.cell_items[:, rows] / np.maximum(overall, 1e-9)[None, :]
        counts = np.array([catalog_popularity(catalog.get(i)) for i in self.item_ids], dtype=np.float32)
        if counts.sum() > 0:
            self.base = counts / counts.max()
        else:  # a catalog without ratings: the model's own overall shares, for the items it knows
            self.base = np.zeros(len(self.item_ids), dtype=np.float32)
            self.base[columns] = overall / max(float(overall.max()), 1e-9)
        self.linked = len(rows)
        fields = model.arrays["cell_fields"].astype(np.int64)
        self._age, self._gender, self._occupation = fields[:, 0], fields[:, 1], fields[:, 2]
        self._users = model.arrays["cell_users"].astype(np.float64)
        self.meta = model.meta
        self._evidence = self._index_evidence(linked)
        logger.info("taste model: %d of %d items linked to the catalog", self.linked, len(model.item_keys()))

    def _index_evidence(self, linked: Mapping[int, str]) -> dict[tuple[str, str], list[GroupEvidence]]:
        a, meta = self.model.arrays, self.model.meta
        out: dict[tuple[str, str], list[GroupEvidence]] = {}
        for g, item, genre, share, overall, fans, genre_fans in zip(
                a["evidence_group"], a["evidence_item"], a["evidence_genre"], a["evidence_group_share"],
                a["evidence_overall_share"], a["evidence_fans"], a["evidence_genre_fans"]):
            if int(item) not in linked or share < self.min_share:
                continue
            attribute, _, value = meta["groups"][int(g)].partition("=")
            out.setdefault((attribute, linked[int(item)]), []).append(GroupEvidence(
                attribute=attribute, value=value, genre=meta["genres"][int(genre)], group_share=float(share),
                overall_share=float(overall), fans=int(fans), genre_fans=int(genre_fans)))
        return out

    def cell_weights(self, profile: Demographics, strength: float | None = None) -> np.ndarray:
        """Weight of each cell for this profile: users times ``strength ** matches``."""
        matches = np.zeros(len(self._users))
        if profile.age_group is not None:
            distance = np.abs(self._age - AGE_GROUPS.index(profile.age_group))
            matches += np.where(self._age < 0, 0.0, np.where(distance == 0, 1.0, np.where(distance == 1, 0.5, 0.0)))
        if profile.gender is not None:
            matches += self._gender == self.meta["genders"].index(profile.gender)
        if profile.occupation is not None and profile.occupation in self.meta["occupations"]:
            matches += self._occupation == self.meta["occupations"].index(profile.occupation)
        return self._users * np.power(self.strength if strength is None else strength, matches)

    def popularity_vector(self, profile: Demographics, strength: float | None = None) -> np.ndarray:
        """The catalog's popularity tilted by this profile's lifts (aligned with ``item_ids``)."""
        weights = self.cell_weights(profile, strength)
        return (self.base * (weights @ self.lifts) / max(weights.sum(), 1e-9)).astype(np.float32)

    def popularity(self, profile: Demographics) -> dict[str, float]:
        return dict(zip(self.item_ids, self.popularity_vector(profile).tolist()))

    def evidence(self, profile: Demographics, item_ids: Iterable[str]) -> dict[str, GroupEvidence]:
        """For each item the model backs for one of the profile's groups: the strongest evidence
        among the item's own genres (the same choice as :class:`retrieval.group_taste.GroupTaste`)."""
        from retrieval.group_taste import _better

        wanted = {f"{a}={v}" for a, v in profile_groups(profile)}
        out: dict[str, GroupEvidence] = {}
        for item_id in dict.fromkeys(item_ids):
            for attribute in ("age", "gender", "occupation"):
                for found in self._evidence.get((attribute, item_id), []):
                    if found.key in wanted and _better(found, out.get(item_id)):
                        out[item_id] = found
        return out

    def genre_affinities(self, profile: Demographics) -> dict[str, float]:
        """Share of users like this profile who liked at least one film of each genre (smoothed)."""
        weights = self.cell_weights(profile)
        values = weights @ self.model.arrays["cell_genres"] / max(weights.sum(), 1e-9)
        return dict(zip(self.meta["genres"], values.tolist()))


class TasteGenerator:
    """Offline imaginary histories from the taste model: a cell drawn by its weight for the profile,
    an item drawn by the catalog's popularity tilted by that cell's lifts, and only the item's attributes kept (the catalog's
    genres, era and up to three tags). Reproducible by profile, seed and variant."""

    name = "taste_model"

    def __init__(self, neighbours: TasteNeighbours, items: Mapping[str, Item]):
        self.neighbours, self.items = neighbours, items

    def generate(self, profile: Demographics, *, n_items: int = 10, seed: int = 0,
                 variant: int = 0) -> ImaginaryHistory:
        notes = [] if not profile.is_empty() else [
            "no demographics given: the imaginary history follows what all users liked"]
        taste = self.neighbours
        if not taste.linked or n_items < 1:
            return ImaginaryHistory(profile=profile, items=[], generator=self.name, seed=seed, variant=variant,
                                    notes=notes + ["no item of the taste model is in the catalog"])
        rng = np.random.default_rng([seed, variant, zlib.crc32(profile.key().encode())])
        weights = taste.cell_weights(profile)
        cells = rng.choice(len(weights), size=n_items, p=weights / weights.sum())
        imaginary: list[ImaginaryItem] = []
        for cell in cells:
            row = taste.base * taste.lifts[cell]
            item = self.items.get(taste.item_ids[int(rng.choice(len(row), p=row / row.sum()))])
            if item is None:
                continue
            imaginary.append(ImaginaryItem.model_construct(
                position=len(imaginary), genres=list(item.genres), era=era_of(item.year),
                keywords=list(item.tags[:3]), label=None))
        return ImaginaryHistory(profile=profile, items=imaginary, generator=self.name, seed=seed,
                                variant=variant, notes=notes)


def build_taste_ranker(model: TasteModel, catalog: Catalog, cf, *, policy=None):
    """The app's cold-start ranker from the shipped taste model: demographic popularity and
    imaginary histories from the model, the collaborative model and items from the catalog."""
    from retrieval.cold_start import AttributeMatcher, ColdStartPolicy, ColdStartRanker

    neighbours = TasteNeighbours(model, catalog)
    if not neighbours.linked:
        raise CatalogError("none of the taste model's items is in the catalog")
    generator = TasteGenerator(neighbours, catalog.items)
    policy = policy or ColdStartPolicy(popularity_strength=TASTE_STRENGTH)
    return ColdStartRanker(cf, neighbours, generator, AttributeMatcher(catalog), catalog.ids, policy)
