"""Cold-start evaluation: how well does Marquee rank for people with 0, 1, 3 or 5 interactions?

Protocol (issue "Cold-start users"): users are split 80/20 by seed; everything is fitted on the
training users; each test user reveals their n earliest interactions (n in 0, 1, 3, 5), all
items they have not revealed are ranked, and their later ratings >= 4 are the targets
(NDCG@10, Recall@20 with ``hits / min(|targets|, 20)``), averaged over the test users that have
at least one target after their 5th interaction (the same users for every n).

Rows: ``popularity`` (share of training users who liked an item), ``demographic_popularity``
(the same, users weighted by profile match), ``cf`` (EASE on the revealed items only),
``early_fusion`` (EASE on revealed + one imaginary history), ``late_fusion`` (several imaginary
histories, standardised scores averaged) — their weights tuned by 3-fold cross-validation over
the training users, never on the test users — and two rows that run the app's own turn over the
data set served as the catalog (``evals/cold_start_app.py``: the rule parser, the policy planner
and its tools with the app's weights, filters, diversity and default ``ColdStartPolicy``):
``marquee`` (demographics from the training users, as ``MARQUEE_DEMOGRAPHICS_DIR`` gives them)
and ``shipped`` (the taste model shipped in ``data/demo``, built from MovieLens 1M; on ML-100K a
different data set, so it shows whether the model generalises). When an LLM endpoint is
configured (the ``settings`` passed in; ``main`` reads the environment), ``early_fusion_llm`` and
``late_fusion_llm`` use the LLM generator's histories with the same tuned weights, and
``marquee`` uses it too, as the app does. ``notes`` says when a row could not be measured.

DIR: an ML-100K folder (``u.user``, ``u.data``, ``u.item``), or ML-1M as ``ml-1m-meta`` (ratings
found in it or in a sibling ``ml-1m-ratings-sample``) or ``ml-1m-ratings-sample`` (metadata from a
sibling ``ml-1m-meta``); see :func:`retrieval.demographics.load_movielens`.

    python -m evals.cold_start ../shared/data/ml-100k [--seed 7] [--json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from evals.cold_start_app import score_app_rows
from evals.ranking_metrics import ndcg_and_recall
from marquee.settings import Settings
from retrieval.catalog import Catalog
from retrieval.cf import fit_cf
from retrieval.cold_start import (
    AttributeMatcher, ColdStartPolicy, ColdStartRanker, DemographicNeighbourGenerator,
    DemographicNeighbours, history_from_ratings, late_fusion, standardize,
)
from retrieval.demographics import DemographicDataset, Demographics, load_movielens

logger = logging.getLogger(__name__)

REVEAL = (0, 1, 3, 5)
METHODS = ("popularity", "demographic_popularity", "cf", "early_fusion", "late_fusion", "marquee", "shipped")
RESEARCH_METHODS = METHODS[:5]  # scored here; marquee and shipped go through the app (evals/cold_start_app.py)
LLM_METHODS = ("early_fusion_llm", "late_fusion_llm")  # only with an LLM endpoint configured
IMAGINARY_GRID = {"imaginary_initial": (0.25, 0.5, 1.0, 2.0), "imaginary_half_life": (1.0, 3.0, 10.0)}
POPULARITY_STRENGTHS = (1.0, 2.0, 3.0, 6.0)
# half-lives stop at 30 interactions: the cold-start boost must fade once a person has a history.
# 10 was the cap until ML-1M showed CF on 5 revealed items still below popularity (-3.9% at n = 5)
DEMOGRAPHIC_GRID = {"demographic_initial": (0.0, 0.25, 0.5, 0.75, 0.9, 1.0),
                    "demographic_half_life": (1.0, 3.0, 10.0, 30.0)}
MIN_T = 2.0


@dataclass
class UserCase:
    """One evaluated user: profile and interactions in time order."""

    user_id: str
    profile: Demographics
    items: list[str]
    ratings: list[float]

    def revealed(self, n: int, low_rating_weight: float) -> dict[str, float]:
        return history_from_ratings(dict(zip(self.items[:n], self.ratings[:n])), low_rating_weight=low_rating_weight)

    def targets(self, n: int) -> list[str]:
        return [i for i, r in zip(self.items[n:], self.ratings[n:]) if r >= 4.0]


@dataclass
class Fold:
    """Models fitted on some users, and the cases to evaluate on."""

    ranker: ColdStartRanker
    cases: list[UserCase]
    global_popularity: np.ndarray


@dataclass
class ColdStartReport:
    """The eval's JSON result plus what it chose and how long it took."""

    result: dict
    policy: ColdStartPolicy
    early_schedule: dict
    seconds: float


def _user_sequences(data: DemographicDataset) -> dict[str, tuple[list[str], list[float]]]:
    order = np.lexsort((np.arange(len(data)), data.timestamps, data.user_ids.astype(str)))
    sequences: dict[str, tuple[list[str], list[float]]] = {}
    for row in order:
        items, ratings = sequences.setdefault(str(data.user_ids[row]), ([], []))
        items.append(str(data.item_ids[row]))
        ratings.append(float(data.ratings[row]))
    return sequences


def split_users(users: Sequence[str], seed: int, test_share: float = 0.2) -> tuple[list[str], list[str]]:
    """Shuffle users with ``seed``; the last ``test_share`` of them are the test users."""
    users = sorted(users)
    order = np.random.default_rng(seed).permutation(len(users))
    n_test = int(round(test_share * len(users)))
    shuffled = [users[k] for k in order]
    return shuffled[n_test:], shuffled[:n_test]


def build_fold(data: DemographicDataset, sequences, train: Sequence[str], evaluate: Sequence[str],
               policy: ColdStartPolicy, reveal: Sequence[int] = REVEAL) -> Fold:
    """Fit EASE, the neighbours and the generator on ``train``; cases from ``evaluate``."""
    train_set = set(train)
    rows = np.fromiter((u in train_set for u in data.user_ids), bool, len(data))
    model = fit_cf(data.user_ids[rows], data.item_ids[rows], data.ratings[rows])
    profiles = {u: data.users[u] for u in train}
    neighbours = DemographicNeighbours.from_ratings(
        profiles, data.user_ids[rows], data.item_ids[rows], data.ratings[rows], data.timestamps[rows])
    universe = sorted(data.items)
    ranker = ColdStartRanker(model, neighbours, DemographicNeighbourGenerator(neighbours, data.items),
                             AttributeMatcher(data.items[i] for i in universe), universe, policy)
    cases = []
    for user in evaluate:
        items, ratings = sequences[user]
        case = UserCase(user, data.users[user], items, ratings)
        if case.targets(max(reveal)):
            cases.append(case)
    return Fold(ranker, cases, ranker.demographic_popularity(Demographics()))


def compute_components(fold: Fold, reveal: Sequence[int], low_rating_weight: float) -> dict:
    """Per user: demographic popularity, imaginary variant scores; per n: real CF scores, masks, targets."""
    ranker = fold.ranker
    parts = [ranker.imaginary_part(case.profile) for case in fold.cases]
    components = {"demographic": np.stack([p[0] for p in parts]), "variants": np.stack([p[1] for p in parts]),
                  "n": {}}
    for n in reveal:
        histories = [case.revealed(n, low_rating_weight) for case in fold.cases]
        H = np.stack([ranker.model.history_vector(h) for h in histories])
        real = ranker.to_universe(ranker.model.score_matrix(H))
        mask = np.zeros_like(real, dtype=bool)
        relevant = []
        for row, case in enumerate(fold.cases):
            mask[row, [ranker.index[i] for i in case.items[:n] if i in ranker.index]] = True
            relevant.append(np.array([ranker.index[i] for i in case.targets(n) if i in ranker.index]))
        components["n"][n] = {"real": real, "mask": mask, "relevant": relevant}
    return components


def _metrics(scores: np.ndarray, part: dict) -> dict[str, float]:
    scores = np.where(part["mask"], -np.inf, scores)
    ndcg, recall = ndcg_and_recall(scores, part["relevant"])
    return {"ndcg@10": round(float(ndcg.mean()), 4), "recall@20": round(float(recall.mean()), 4)}


def _schedule(initial: float, half_life: float, n: int) -> float:
    return initial * 0.5 ** (n / half_life)


def _user_ndcg(scores: np.ndarray, part: dict) -> np.ndarray:
    return ndcg_and_recall(np.where(part["mask"], -np.inf, scores), part["relevant"])[0]


def tune_policy(folds: Sequence[Fold], base: ColdStartPolicy, reveal: Sequence[int]) -> tuple[ColdStartPolicy, dict]:
    """Pick early fusion's and the policy's weights on validation ``folds`` (their users pooled).

    Fusion schedules maximise mean NDCG@10 over ``reveal``. The policy starts as the better
    baseline (popularity or demographic popularity at n = 0, fading into the fused CF with the
    slowest half-life, by mean NDCG@10); another blend replaces it only if it beats it per user
    with a paired t >= ``MIN_T`` and is below neither popularity nor demographic popularity at
    any n — validation sets are small, and noise must not pick the policy.
    """
    comps = [compute_components(fold, reveal, base.low_rating_weight) for fold in folds]

    def pooled_users(score_fn) -> dict[int, np.ndarray]:
        """n -> per-user NDCG@10 of all validation users; ``score_fn(k, comp, n, part)`` scores fold k."""
        return {n: np.concatenate([_user_ndcg(score_fn(k, comp, n, comp["n"][n]), comp["n"][n])
                                   for k, comp in enumerate(comps)]) for n in reveal}

    def pooled(score_fn) -> dict[int, float]:
        return {n: float(v.mean()) for n, v in pooled_users(score_fn).items()}

    def mean(by_n: dict[int, float]) -> float:
        return float(np.mean(list(by_n.values())))

    early = max(itertools.product(*IMAGINARY_GRID.values()), key=lambda p: mean(pooled(
        lambda k, comp, n, part: part["real"] + _schedule(*p, n) * comp["variants"][:, 0])))
    late_cache: dict[tuple, np.ndarray] = {}

    def late(p, k, comp, n, part):
        key = (round(_schedule(*p, n), 6), n, k)
        if key not in late_cache:
            late_cache[key] = late_fusion(part["real"], comp["variants"], key[0])
        return late_cache[key]

    late_params = max(itertools.product(*IMAGINARY_GRID.values()), key=lambda p: mean(pooled(
        lambda k, comp, n, part: late(p, k, comp, n, part))))
    demographic_strength = folds[0].ranker.neighbours.strength
    candidates: list[tuple[float, int, tuple]] = []  # (mean NDCG over n, worst-n index, params)
    per_user: dict[tuple, np.ndarray] = {}
    for strength in sorted(set(POPULARITY_STRENGTHS) | {1.0, demographic_strength}):
        z_pop = [standardize(np.stack([fold.ranker.demographic_popularity(c.profile, strength) for c in fold.cases]))
                 for fold in folds]
        for d in itertools.product(*DEMOGRAPHIC_GRID.values()):
            users_by_n = pooled_users(lambda k, comp, n, part: _schedule(*d, n) * z_pop[k]
                                      + (1 - _schedule(*d, n)) * late(late_params, k, comp, n, part))
            per_user[(strength, d)] = np.mean(list(users_by_n.values()), axis=0)
            candidates.append(((strength, d), {n: float(v.mean()) for n, v in users_by_n.items()}))
    # the baselines are policies too: popularity (everyone weighs 1) or demographic popularity
    # first, fading into the fused CF as slowly as allowed
    slowest = max(DEMOGRAPHIC_GRID["demographic_half_life"])
    baselines = [(1.0, (1.0, slowest)), (demographic_strength, (1.0, slowest))]
    by_params = dict(candidates)
    baseline = max(baselines, key=lambda b: mean(by_params[b]))
    chosen = baseline
    demographic = pooled(lambda k, comp, n, part: comp["demographic"])
    popular = pooled(lambda k, comp, n, part: np.broadcast_to(folds[k].global_popularity, part["real"].shape))
    floor = {n: max(demographic[n], popular[n]) for n in reveal}
    best_gain = 0.0
    for params, by_n in candidates:
        diff = per_user[params] - per_user[baseline]
        t = diff.mean() / (diff.std(ddof=1) / np.sqrt(len(diff)) + 1e-12) if len(diff) > 2 else 0.0
        # a blend replaces the baseline only if it is clearly better and never below the floor
        if t >= MIN_T and all(by_n[n] >= floor[n] for n in reveal) and diff.mean() > best_gain:
            chosen, best_gain = params, float(diff.mean())
    strength, demo_params = chosen
    policy = base.model_copy(update=dict(zip(IMAGINARY_GRID, late_params)) | dict(zip(DEMOGRAPHIC_GRID, demo_params))
                             | {"popularity_strength": strength})
    return policy, dict(zip(IMAGINARY_GRID, early))


def llm_ranker(fold: Fold, data: DemographicDataset, policy: ColdStartPolicy, settings: Settings | None,
               seed: int) -> ColdStartRanker | None:
    """``fold``'s ranker with the LLM generator (in-context examples from its training users only),
    or ``None`` when no endpoint is configured. Histories are cached in the workspace."""
    if settings is None or not settings.llm_enabled:
        return None
    from retrieval.llm_history import HistoryVocabulary, build_llm_generator

    base = fold.ranker
    generator = build_llm_generator(
        settings, neighbours=base.neighbours, profiles={u: data.users[u] for u in base.neighbours.user_ids},
        items=data.items, vocabulary=HistoryVocabulary(Catalog(data.items.values())), fallback=base.generator,
        cache_path=settings.workspace / "cache" / f"cold_start_eval_{data.name}_seed{seed}.json",
    )
    return ColdStartRanker(base.model, base.neighbours, generator, base.matcher, base.universe, policy)


def score_fold(fold: Fold, policy: ColdStartPolicy, early: dict, reveal: Sequence[int],
               llm: ColdStartRanker | None = None, comp: dict | None = None) -> dict:
    """The research rows on ``fold`` (with the ``*_llm`` rows when ``llm`` is given)."""
    comp = comp or compute_components(fold, reveal, policy.low_rating_weight)
    results: dict[str, dict[str, dict[str, float]]] = {m: {} for m in RESEARCH_METHODS + (LLM_METHODS if llm else ())}
    users = len(fold.cases)
    llm_variants = np.stack([llm.imaginary_part(case.profile)[1] for case in fold.cases]) if llm and users else None
    for n in reveal:
        part = comp["n"][n]
        w = policy.imaginary(n)
        schedule = _schedule(early["imaginary_initial"], early["imaginary_half_life"], n)
        rows = {
            "popularity": np.broadcast_to(fold.global_popularity, part["real"].shape),
            "demographic_popularity": comp["demographic"],
            "cf": part["real"],
            "early_fusion": part["real"] + schedule * comp["variants"][:, 0],
            "late_fusion": late_fusion(part["real"], comp["variants"], w),
        }
        if llm_variants is not None:
            rows["early_fusion_llm"] = part["real"] + schedule * llm_variants[:, 0]
            rows["late_fusion_llm"] = late_fusion(part["real"], llm_variants, w)
        for method, scores in rows.items():
            results[method][str(n)] = _metrics(np.array(scores, dtype=np.float32), part)
    return results


def evaluate_cold_start(movielens_dir: Path, seed: int = 7, *, reveal: Sequence[int] = REVEAL,
                        base_policy: ColdStartPolicy | None = None, tuning_folds: int = 3,
                        max_tuning_users: int = 1500, settings: Settings | None = None) -> ColdStartReport:
    """Run the whole protocol; see the module docstring. ``settings``: an LLM endpoint there adds
    the ``*_llm`` rows (``None``: no LLM).

    Weights are tuned by ``tuning_folds``-fold cross-validation over the training users only
    (at most ``max_tuning_users`` validation users in all, to bound the run time).
    """
    started = time.perf_counter()
    data = load_movielens(Path(movielens_dir))
    sequences = _user_sequences(data)
    users = [u for u in sequences if u in data.users]
    train, test = split_users(users, seed)
    base = (base_policy or ColdStartPolicy()).model_copy(update={"seed": seed})
    folds = []
    shuffled, _ = split_users(train, seed + 1, test_share=0.0)
    for validation in np.array_split(np.array(shuffled, dtype=object), tuning_folds):
        held = set(validation.tolist())
        fold = build_fold(data, sequences, [u for u in train if u not in held], validation.tolist(), base, reveal)
        fold.cases = fold.cases[: max_tuning_users // tuning_folds]  # a random subset: users are shuffled
        folds.append(fold)
    policy, early = tune_policy(folds, base, reveal)
    logger.info("tuned on %d validation users: %s; early fusion %s", sum(len(f.cases) for f in folds), policy, early)
    test_fold = build_fold(data, sequences, train, test, policy, reveal)
    if not test_fold.cases:
        raise ValueError(f"{data.name}: no test user has a positive after {max(reveal)} interactions")
    llm = llm_ranker(test_fold, data, policy, settings, seed)
    comp = compute_components(test_fold, reveal, policy.low_rating_weight)
    results = score_fold(test_fold, policy, early, reveal, llm, comp)
    if llm is not None:
        logger.info("LLM generator: %d requests, %d histories cached", llm.generator.calls, len(llm.generator.cache))
    app_rows, notes = score_app_rows(data, train, test_fold.cases, comp, test_fold.ranker.universe, settings, _metrics,
                                     generator=llm.generator if llm is not None else None)
    results = {m: results[m] for m in RESEARCH_METHODS} | app_rows | {m: results[m] for m in LLM_METHODS if m in results}
    result = {"dataset": data.name, "users": len(test_fold.cases), "results": results}
    if notes:
        result["notes"] = notes
    return ColdStartReport(result, policy, early, time.perf_counter() - started)


def run_cold_start_eval(movielens_dir: Path | str, seed: int = 7, *, settings: Settings | None = None) -> dict:
    """``{"dataset", "users", "results": {method: {n: {"ndcg@10", "recall@20"}}}}`` for DIR
    (with ``early_fusion_llm``/``late_fusion_llm`` when ``settings`` configure an LLM endpoint, and
    ``"notes"`` when a row could not be measured or is not held out)."""
    return evaluate_cold_start(Path(movielens_dir), seed, settings=settings).result


def format_table(result: dict) -> str:
    """The result as a fixed-width table: one row per method, NDCG@10 / Recall@20 per n."""
    results = result["results"]
    ns = list(next(iter(results.values())).keys())
    head = f"{'method':<24}" + "".join(f"{'n=' + n + ' ndcg@10':>15}{'recall@20':>11}" for n in ns)
    lines = [f"{result['dataset']} — {result['users']} test users", head, "-" * len(head)]
    for method, by_n in results.items():
        lines.append(f"{method:<24}" + "".join(
            f"{by_n[n]['ndcg@10']:>15.4f}{by_n[n]['recall@20']:>11.4f}" for n in ns))
    lines += [f"note: {note}" for note in result.get("notes", [])]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description="Cold-start evaluation on a MovieLens folder with demographics.")
    parser.add_argument("movielens", type=Path)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    report = evaluate_cold_start(args.movielens, args.seed, settings=Settings())
    if args.json:
        print(json.dumps(report.result))
    else:
        print(format_table(report.result))
        print(f"policy: {report.policy.model_dump()}\nearly fusion: {report.early_schedule}\n"
              f"{report.seconds:.0f} s")


if __name__ == "__main__":
    main()
