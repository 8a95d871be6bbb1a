"""The cold-start eval's app-path rows: Marquee's own turn over the catalog it serves.

The evaluated data set becomes the served catalog, built the way the app loads any catalog: its
items (with rating counts and means from the training users) and the training users' ratings
are written as a catalog folder, and :func:`marquee.startup.load_deps` builds the item store,
the keyword index and the collaborative model from it. Each test user then has the turn a
new user has in the app: their ``n`` revealed interactions are feedback (rating >= 4 liked,
<= 2 disliked, else seen, as the buttons record them), their demographics are their profile,
and the message is "what should I watch tonight?" — parsed by the rule parser and answered by
the policy planner with the same tools, weights, filters and diversity as a live turn (only the
list is longer: 20 cards, for Recall@20). The cards' order is the ranking that is scored.

Rows: ``marquee`` (the cold-start ranker from the training users' demographics, as with
``MARQUEE_DEMOGRAPHICS_DIR``) and ``shipped`` (the shipped taste model, trained on MovieLens 1M).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import tempfile
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from chat.parser import ParseContext
from chat.planning import TurnInput
from chat.policy import PolicyPlanner
from chat.rule_parser import RuleParser
from chat.schemas import PreferenceState
from chat.state import merge
from marquee.db import FEEDBACK_WEIGHTS
from marquee.service import _record_feedback
from marquee.startup import load_deps
from marquee.settings import DEMO_CATALOG, Settings
from retrieval.cold_start import build_cold_start_ranker
from retrieval.demographics import DemographicDataset
from tools.base import ToolDeps

logger = logging.getLogger(__name__)

UTTERANCE = "what should I watch tonight?"
LIST_LENGTH = 20  # Recall@20 needs 20 cards; a live turn shows settings.n_recommendations


def feedback_kind(rating: float) -> str:
    """What a person's rating reads as on Marquee's buttons."""
    return "liked" if rating >= 4.0 else "disliked" if rating <= 2.0 else "seen"


def write_catalog(data: DemographicDataset, train: Iterable[str], folder: Path) -> None:
    """The data set as a Marquee catalog folder: items with the training users' rating counts, and
    their ratings as ``ratings.csv`` (what the app fits its collaborative model on)."""
    train_set = set(train)
    rows = np.fromiter((u in train_set for u in data.user_ids), bool, len(data))
    counts: dict[str, list[float]] = {}
    for item, rating in zip(data.item_ids[rows], data.ratings[rows]):
        counts.setdefault(str(item), []).append(float(rating))
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "items.jsonl").open("w", encoding="utf-8") as out:
        for item_id, item in sorted(data.items.items()):
            given = counts.get(item_id, [])
            row = item.model_copy(update={"n_ratings": len(given),
                                          "mean_rating": round(float(np.mean(given)), 3) if given else None})
            out.write(row.model_dump_json() + "\n")
    with (folder / "ratings.csv").open("w", encoding="utf-8") as out:
        out.write("user_id,item_id,rating,timestamp\n")
        for user, item, rating, stamp in zip(data.user_ids[rows], data.item_ids[rows], data.ratings[rows],
                                             data.timestamps[rows]):
            out.write(f"{user},{item},{rating:g},{stamp}\n")


def training_part(data: DemographicDataset, train: Sequence[str]) -> DemographicDataset:
    """The data set restricted to the training users (what an operator's demographics folder would hold)."""
    keep = set(train)
    rows = np.fromiter((u in keep for u in data.user_ids), bool, len(data))
    return dataclasses.replace(data, user_ids=data.user_ids[rows], item_ids=data.item_ids[rows],
                               ratings=data.ratings[rows], timestamps=data.timestamps[rows],
                               users={u: p for u, p in data.users.items() if u in keep})


class AppPath:
    """One served catalog (the data set's) and the app's parser and planner over it."""

    def __init__(self, deps: ToolDeps):
        self.deps = deps
        self.parser = RuleParser(deps.catalog)
        self.planner = PolicyPlanner()
        self.update = self.parser.parse(UTTERANCE, ParseContext())

    def ranked(self, ranker, profile, revealed: Sequence[tuple[str, float]]) -> list[str]:
        """The card ids of a turn by a person with ``profile`` who gave feedback on ``revealed``."""
        state, history = PreferenceState(), {}
        for item, rating in revealed:
            if item in self.deps.catalog:
                kind = feedback_kind(rating)
                history[item] = FEEDBACK_WEIGHTS[kind]
                _record_feedback(state, item, kind)
        deps = dataclasses.replace(self.deps, extras={**self.deps.extras, "cold_start": ranker})
        turn = TurnInput(utterance=UTTERANCE, update=self.update.model_copy(deep=True),
                         state=merge(state, self.update, self.deps.catalog), history=history,
                         n_items=LIST_LENGTH, demographics=None if profile.is_empty() else profile, must_list=True)
        reply = self.planner.respond(turn, deps=deps).reply
        self.deps.extras.update({k: v for k, v in deps.extras.items() if k != "cold_start"})  # keep caches
        return [card.id for card in reply.items]


def list_scores(ids: Sequence[str], index: dict[str, int], width: int) -> np.ndarray:
    """A card list as a score row over the universe: the first card highest, the rest far below."""
    scores = np.full(width, -1e9, dtype=np.float32)
    for rank, item_id in enumerate(ids):
        if item_id in index:
            scores[index[item_id]] = float(len(ids) - rank)
    return scores


def open_app_path(data: DemographicDataset, train: Sequence[str], settings: Settings | None, workdir: Path) -> AppPath:
    """Write the served catalog under ``workdir`` and load it as the app does."""
    write_catalog(data, train, workdir / "catalog")
    base = settings or Settings()
    served = base.model_copy(update={"workspace": workdir / "workspace", "catalog": workdir / "catalog",
                                     "demographics_dir": None, "demographic_model": None,
                                     "database_url": None, "image_encoder": "none", "vector_files": []})
    return AppPath(load_deps(served, progress=False))


def app_rankers(path: AppPath, data: DemographicDataset, train: Sequence[str], settings: Settings | None,
                generator=None) -> dict:
    """``marquee``: demographics from the training users (histories by ``generator`` when given,
    e.g. the eval's LLM generator, as the app uses one with an endpoint); ``shipped``: the shipped
    taste model (absent, with a note, when none of its items is in the data set)."""
    from marquee.errors import CatalogError
    from retrieval.taste_model import build_taste_ranker, load_taste_model

    catalog, cf = path.deps.catalog, path.deps.cf
    rankers: dict = {"marquee": build_cold_start_ranker(training_part(data, train), catalog, cf)}
    if generator is not None:
        rankers["marquee"].generator = generator
    model_path = (settings.demographic_model if settings is not None else None) or DEMO_CATALOG / "demographic_taste.npz"
    notes = []
    try:
        model = load_taste_model(Path(model_path))
        rankers["shipped"] = build_taste_ranker(model, catalog, cf)
        if model.meta.get("source") == data.name:
            notes.append(f"shipped: the taste model was built from {data.name} itself (test users included), "
                         "so its figures are not held out")
    except CatalogError as exc:
        notes.append(f"shipped: not measured: {exc}")
    return {"rankers": rankers, "notes": notes}


def score_app_rows(data: DemographicDataset, train: Sequence[str], cases, components: dict, universe: Sequence[str],
                   settings: Settings | None, metrics, generator=None) -> tuple[dict, list[str]]:
    """Rows ``marquee`` and ``shipped`` (when measurable) by n, with ``metrics(scores, part)``."""
    index = {item: k for k, item in enumerate(universe)}
    with tempfile.TemporaryDirectory(prefix="marquee-cold-start-") as tmp:
        path = open_app_path(data, train, settings, Path(tmp))
        built = app_rankers(path, data, train, settings, generator)
        rows: dict[str, dict] = {}
        for method, ranker in built["rankers"].items():
            rows[method] = {}
            for n, part in components["n"].items():
                scores = np.stack([list_scores(path.ranked(ranker, case.profile, list(zip(case.items[:n],
                                                                                           case.ratings[:n]))),
                                               index, len(universe)) for case in cases])
                rows[method][str(n)] = metrics(scores, part)
            logger.info("app path %s: %s", method, json.dumps(rows[method]))
    return rows, built["notes"]
