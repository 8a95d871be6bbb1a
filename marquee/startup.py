"""Start-up: everything a process builds once before its first turn.

:func:`load_deps` reads the catalog and builds (or reads back from the workspace) the encoder, the
vector stores of every modality, the keyword index, the collaborative model, the item-similarity
model and the cold-start ranker; :func:`build_agents` picks the parser and planner (rules and
policy, or their LLM versions when an endpoint is configured). ``marquee.service.Marquee.open``
calls both; the turn itself lives in ``marquee.service``.
"""

from __future__ import annotations

import hashlib
import logging
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Callable, TypeVar

import numpy as np

from chat.parser import PreferenceParser
from chat.planning import Planner
from chat.policy import PolicyPlanner
from chat.rule_parser import RuleParser
from marquee.errors import CatalogError, ConfigError
from marquee.settings import Settings
from tools.base import ToolDeps

if TYPE_CHECKING:
    from retrieval.similarity import ItemSimilarity

log = logging.getLogger(__name__)
T = TypeVar("T")


def load_deps(settings: Settings, *, progress: bool = True) -> ToolDeps:
    """Build every read-only resource once: catalog, encoder, store, keyword index, CF model."""
    from retrieval.catalog import load_catalog
    from retrieval.cf import load_or_fit
    from retrieval.encoder import load_text_encoder
    from retrieval.saved import catalog_fingerprint
    from retrieval.search import KeywordIndex
    from retrieval.store import open_item_store

    from marquee.ingest import open_modalities

    catalog = load_catalog(Path(settings.catalog))
    encoder = load_text_encoder(settings)
    store = open_item_store(settings, catalog, encoder, progress=progress)
    modalities = open_modalities(settings, catalog, encoder, client=store.client, progress=progress)
    ratings = Path(settings.catalog) / "ratings.csv"
    cf = load_or_fit(ratings, settings.workspace / "cf") if ratings.exists() else None
    fingerprint = catalog_fingerprint(catalog)
    keywords = saved_or_built(settings.workspace / "keywords.npz", fingerprint,
                              lambda path, key: KeywordIndex.load(path, catalog, key), lambda: KeywordIndex(catalog))
    similarity = build_similarity(catalog, ratings if ratings.exists() else None, modalities.stores.get("story"),
                                  folder=settings.workspace, fingerprint=fingerprint)
    deps = ToolDeps(catalog=catalog, store=store, encoder=encoder, keywords=keywords, cf=cf, settings=settings,
                    similarity=similarity, mood_evidence=mood_evidence(catalog),
                    image_store=modalities.image_store, image_encoder=modalities.image_encoder,
                    modality_stores=modalities.stores, posters=modalities.posters)
    attach_cold_start(deps, settings)
    return deps


def mood_evidence(catalog) -> dict[str, bool]:
    """Which moods (``retrieval.moods``) some item of the catalog carries a tag for."""
    from retrieval.moods import MOODS, catalog_has_evidence

    return {mood: catalog_has_evidence(catalog, mood) for mood in MOODS}


def build_similarity(catalog, ratings: Path | None, story_store, *, folder: Path | None = None,
                     fingerprint: str | None = None) -> "ItemSimilarity":
    """The item-similarity model (``retrieval.similarity``): people, genres, tags and era from the
    catalog, co-liking from its ratings, stories from the story collection when there is one.

    ``folder`` and the catalog's ``fingerprint``: read the model saved there when it was built from
    the same catalog, ratings and stories, else build it and save it (seconds instead of minutes
    at a million items)."""
    from retrieval.similarity import ItemSimilarity, read_likes

    story = (story_store.ids, story_store.vectors(story_store.ids)) if story_store is not None else None

    def build() -> ItemSimilarity:
        return ItemSimilarity(catalog, likes=read_likes(ratings) if ratings is not None else None, story=story)

    if folder is None or fingerprint is None:
        return build()
    digest = hashlib.sha256(fingerprint.encode())
    if ratings is not None:
        digest.update(ratings.read_bytes())
    if story is not None:
        digest.update("\n".join(story[0]).encode())
        digest.update(np.ascontiguousarray(story[1], dtype=np.float32).tobytes())
    return saved_or_built(folder / "similarity.npz", digest.hexdigest(),
                          lambda path, key: ItemSimilarity.load(path, catalog, key), build)


def saved_or_built(path: Path, key: str, load: Callable[[Path, str], T | None], build: Callable[[], T]) -> T:
    """What ``load`` reads from ``path`` when it was saved for ``key``; else ``build()``, saved
    there for the next start (a workspace that cannot be written only costs that start-up)."""
    try:
        found = load(path, key)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:  # a damaged file is rebuilt, never trusted
        log.warning("could not read %s (%s): building it again", path, exc)
        found = None
    if found is not None:
        return found
    built = build()
    try:
        built.save(path, key)
    except OSError as exc:
        log.warning("could not save %s (%s): the next start builds it again", path, exc)
    return built


def attach_cold_start(deps: ToolDeps, settings: Settings) -> None:
    """Build the cold-start ranker once (``deps.extras["cold_start"]``).

    The demographics come from ``MARQUEE_DEMOGRAPHICS_DIR`` (an operator's MovieLens folder) when
    set, else from the demographic taste model shipped in ``data/demo`` (``MARQUEE_DEMOGRAPHIC_MODEL``;
    "none" turns it off). The collaborative model and the items are the catalog's. With an LLM
    endpoint configured and a demographics folder, the imaginary histories come from the LLM
    generator (cached in the workspace), with the offline generator as its fallback.
    """
    if settings.demographics_dir is None:
        attach_taste_model(deps, settings)
        return
    from retrieval.cold_start import build_cold_start_ranker
    from retrieval.demographics import load_movielens

    if deps.cf is None:
        raise ConfigError("MARQUEE_DEMOGRAPHICS_DIR is set but the catalog has no ratings.csv for a collaborative model")
    try:
        data = load_movielens(Path(settings.demographics_dir))
        ranker = build_cold_start_ranker(data, deps.catalog, deps.cf)
    except CatalogError as exc:
        raise ConfigError(f"MARQUEE_DEMOGRAPHICS_DIR ({settings.demographics_dir}) is not usable: {exc}") from exc
    if settings.llm_enabled:
        from retrieval.llm_history import HistoryVocabulary, build_llm_generator

        generator = build_llm_generator(
            settings, neighbours=ranker.neighbours, profiles=data.users, items=deps.catalog.items,
            vocabulary=HistoryVocabulary(deps.catalog), fallback=ranker.generator,
            cache_path=settings.workspace / "cache" / f"cold_start_histories_{data.name}.json",
        )
        ranker.generator = generator or ranker.generator
    deps.extras["cold_start"] = ranker
    log.info("cold start: demographics from %s, histories by %s", data.name, ranker.generator.name)


def attach_taste_model(deps: ToolDeps, settings: Settings) -> None:
    """The cold-start ranker from the shipped (or configured) taste model; nothing when it is
    turned off or the catalog has no ratings for a collaborative model (logged)."""
    if settings.demographic_model is None:
        return
    if deps.cf is None:
        log.warning("cold start from demographics is off: the catalog has no ratings.csv for a collaborative model")
        return
    from retrieval.taste_model import build_taste_ranker, load_taste_model

    try:
        ranker = build_taste_ranker(load_taste_model(Path(settings.demographic_model)), deps.catalog, deps.cf)
    except CatalogError as exc:
        raise ConfigError(f"MARQUEE_DEMOGRAPHIC_MODEL ({settings.demographic_model}) is not usable: {exc}") from exc
    deps.extras["cold_start"] = ranker
    log.info("cold start: demographics from the taste model %s (%d catalog items)",
             settings.demographic_model, len(ranker.neighbours.item_ids))


def build_agents(settings: Settings, deps: ToolDeps) -> tuple[PreferenceParser, Planner]:
    """The rule parser and policy planner, or their LLM versions when an endpoint is configured."""
    rules, policy = RuleParser(deps.catalog), PolicyPlanner()
    if not settings.llm_enabled:
        return rules, policy
    from marquee.llm import build_chat_model
    from chat.llm_parser import LLMParser
    from chat.llm_planner import LLMPlanner

    model = build_chat_model(settings)
    parser = LLMParser(model, deps.catalog, fallback=rules, max_retries=settings.llm_max_retries)
    return parser, LLMPlanner(model, fallback=policy)
