"""Does the image modality carry signal? ``marquee eval multimodal --posters DIR --movies FILE``.

On a seeded 80/20 split of the items that have a poster (ids sorted, then permuted by
``numpy.random.default_rng(seed)``; the test part is ``round(0.2 * n)`` posters), the embedded
poster encoder is trained on the training posters only, then:

- ``poster_to_text_recall@10``: each held-out poster ranks the *texts* of all held-out items
  (cosine in the shared space); a hit when its own item is in the top 10. Chance is 10/N.
- ``genre_auc``: a linear probe (one logistic regression per genre on standardized image
  vectors; ``C`` from :data:`PROBE_CS` by 3-fold cross-validation on the training posters)
  fitted on the training posters' vectors, macro ROC-AUC on the held-out posters over genres
  with positives and negatives there. The same probe on
  hand-made features (8-bin colour histograms + a 6x9 thumbnail) is reported beside it.
- ``ndcg@10_text`` / ``ndcg@10_text_image``: a content-only ranker on ML-1M users of the
  ratings sample. Per user (>= ``MIN_RATINGS`` ratings, by time): the last 20% are the future,
  future items rated >= 4 are relevant; the profile is the mean vector of the earlier items
  rated >= 4. Candidates are all items with a poster, minus the user's earlier items. The
  text ranker scores by cosine to the text profile; the fused ranker adds the image score
  (each z-scored over the candidates) with weight ``w``: ``(1 - w) * text + w * image``.
  ``w`` is picked from :data:`IMAGE_WEIGHTS` on a random half of the users (validation) and
  both figures are reported on the other half.

Tuning the encoder never looks at the test posters: ``--validation`` carves validation
posters out of the training part (:func:`validation_split`, the same 20% share), trains on
the rest and scores recall and genre AUC there (no NDCG part); ``--set KEY=VALUE`` overrides
a :class:`PosterEncoderConfig` field for such a run.

Decoded posters, text vectors and the trained encoder are cached under the workspace
(``<workspace>/cache/multimodal-eval``), never in the repository.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, Sequence

import numpy as np
from pydantic import BaseModel, Field

from marquee.errors import BadInput, ConfigError, NotFound
from retrieval.catalog import Item
from retrieval.poster_encoder import (
    PosterEncoder,
    PosterEncoderConfig,
    load_poster_encoder,
    poster_fingerprint,
    train_poster_encoder,
)

if TYPE_CHECKING:  # pragma: no cover
    from marquee.settings import Settings
    from retrieval.encoder import TextEncoder

log = logging.getLogger(__name__)

METRIC_KEYS = (
    "n_train",
    "n_test",
    "poster_to_text_recall@10",
    "chance_recall@10",
    "genre_auc",
    "ndcg@10_text",
    "ndcg@10_text_image",
)
TEST_SHARE = 0.2
PROBE_CS = (0.001, 0.003, 0.01, 0.03, 0.1)
MIN_RATINGS = 10
LIKED = 4.0
IMAGE_WEIGHTS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.7)
DEFAULT_RATINGS = Path("ml-1m-ratings-sample") / "sample_movielens_rating.dat"


class MultimodalEvalReport(BaseModel):
    """Every figure of one run; :meth:`metrics` is the issue's JSON (exactly its keys)."""

    n_train: int
    n_test: int
    recall_at_10: float = Field(description="poster -> text Recall@10 on held-out posters")
    chance_recall_at_10: float
    genre_auc: float | None
    genre_auc_handmade: float | None = Field(description="Same probe on colour histogram + 6x9 thumbnail.")
    genres_scored: int
    probe_c: dict[str, float] = Field(default_factory=dict, description="C picked by CV per feature set.")
    ndcg_text: float | None = None
    ndcg_text_image: float | None = None
    image_weight: float | None = Field(None, description="Fusion weight picked on validation users.")
    validation_ndcg: dict[str, float] = Field(default_factory=dict, description="w -> NDCG@10")
    n_users_validation: int = 0
    n_users_test: int = 0
    images_skipped: dict[str, int] = Field(default_factory=dict)
    train_seconds: float = 0.0
    total_seconds: float = 0.0
    encoder_config: dict[str, Any] = Field(default_factory=dict)
    held_out: str = Field("test", description="'test', or 'validation' (carved out of the training posters).")

    def metrics(self) -> dict[str, Any]:
        """The figures under the issue's JSON keys, rounded to 4 places."""
        def r(value: float | None) -> float | None:
            return None if value is None else round(float(value), 4)

        return {
            "n_train": self.n_train,
            "n_test": self.n_test,
            "poster_to_text_recall@10": r(self.recall_at_10),
            "chance_recall@10": r(self.chance_recall_at_10),
            "genre_auc": r(self.genre_auc),
            "ndcg@10_text": r(self.ndcg_text),
            "ndcg@10_text_image": r(self.ndcg_text_image),
        }


# ----------------------------------------------------------------------------- data


def _sort_key(item_id: str) -> tuple[int, int, str]:
    return (0, int(item_id), "") if item_id.isdigit() else (1, 0, item_id)


def load_movies(movies_file: Path) -> list[Item]:
    """Items of a MovieLens movies file (``movies.dat``, ``movies.csv`` or ``u.item``) or folder."""
    from retrieval.loaders import load_movielens

    movies_file = Path(movies_file)
    folder = movies_file if movies_file.is_dir() else movies_file.parent
    if not movies_file.exists():
        raise NotFound(f"movies file not found: {movies_file}")
    if not movies_file.is_dir() and movies_file.name not in ("movies.dat", "movies.csv", "u.item"):
        raise BadInput(f"{movies_file.name}: expected a MovieLens movies.dat, movies.csv or u.item")
    items, problems = load_movielens(folder)
    if problems:
        log.warning("%s: %d rows skipped", movies_file, len(problems))
    return items


def split_ids(ids: Sequence[str], seed: int, test_share: float = TEST_SHARE) -> tuple[list[str], list[str]]:
    """The seeded split: ``(train ids, test ids)``, each in sorted id order."""
    ordered = sorted(ids, key=_sort_key)
    permutation = np.random.default_rng(seed).permutation(len(ordered))
    n_test = int(round(test_share * len(ordered)))
    test = sorted((ordered[k] for k in permutation[:n_test]), key=_sort_key)
    train = sorted((ordered[k] for k in permutation[n_test:]), key=_sort_key)
    return train, test


def validation_split(train_ids: Sequence[str], seed: int) -> tuple[list[str], list[str]]:
    """Validation posters carved out of the *training* part of the split of ``seed``:
    ``(fit ids, validation ids)``, the same share as the test part, drawn with ``seed + 1``."""
    return split_ids(train_ids, seed + 1)


def _digest(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def decoded_posters(
    paths: dict[str, Path], size: tuple[int, int], cache_dir: Path, *, allowed_root: Path,
    progress: bool,
) -> tuple[list[str], np.ndarray, dict[str, int]]:
    """Posters decoded to ``(n, h, w, 3)`` uint8, cached in ``cache_dir`` by file fingerprint."""
    from retrieval.images import images_to_array

    key = poster_fingerprint(_digest(size), paths.values())
    cache = cache_dir / f"posters-{size[0]}x{size[1]}-{key}.npz"
    if cache.is_file():
        with np.load(cache, allow_pickle=False) as data:
            return [str(i) for i in data["ids"]], data["images"], json.loads(str(data["skipped"]))
    ids, images, summary = images_to_array(paths, size, allowed_roots=[allowed_root], progress=progress)
    cache_dir.mkdir(parents=True, exist_ok=True)
    np.savez(cache, ids=np.array(ids), images=images, skipped=json.dumps(summary.skipped))
    return ids, images, dict(summary.skipped)


def text_vectors(items: list[Item], encoder: "TextEncoder", cache_dir: Path, *, progress: bool) -> np.ndarray:
    """:func:`retrieval.encoder.item_text` vectors of ``items``, cached by text and encoder."""
    from retrieval.encoder import item_text

    texts = [item_text(i) for i in items]
    cache = cache_dir / f"text-{_digest(encoder.name, texts)}.npy"
    if cache.is_file():
        return np.load(cache)
    try:
        vectors = encoder.encode(texts, progress=progress)  # type: ignore[call-arg]
    except TypeError:
        vectors = encoder.encode(texts)
    cache_dir.mkdir(parents=True, exist_ok=True)
    np.save(cache, vectors)
    return np.asarray(vectors, dtype=np.float32)


# ----------------------------------------------------------------------------- metrics


def recall_at_k(queries: np.ndarray, targets: np.ndarray, k: int = 10) -> float:
    """Share of rows ``i`` whose own target ``targets[i]`` is among the ``k`` nearest of ``queries[i]``."""
    scores = queries @ targets.T
    own = np.diag(scores)[:, None]
    rank = (scores > own).sum(axis=1)  # ties count in the query's favour
    return float((rank < k).mean())


def _macro_auc(x_train, y_train, x_test, y_test, c: float) -> list[float]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    aucs: list[float] = []
    for column in range(y_train.shape[1]):
        fit_y, score_y = y_train[:, column], y_test[:, column]
        if fit_y.sum() < 2 or fit_y.sum() == len(fit_y) or score_y.sum() in (0, len(score_y)):
            continue
        model = LogisticRegression(C=c, max_iter=2000).fit(x_train, fit_y)
        aucs.append(float(roc_auc_score(score_y, model.decision_function(x_test))))
    return aucs


def genre_probe_auc(features: np.ndarray, labels: np.ndarray, train: np.ndarray, test: np.ndarray,
                    *, seed: int = 7) -> tuple[float | None, int, float]:
    """Macro ROC-AUC of per-genre logistic regressions fitted on ``train`` rows, scored on
    ``test``: ``(auc, genres scored, C)``. The regularization ``C`` is picked from
    :data:`PROBE_CS` by 3-fold cross-validation on the training rows only. ``(None, 0, C)``
    when no genre can be scored."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):  # many small fits: extra BLAS threads only contend on 2 cores
        return _genre_probe_auc(features, labels, train, test, seed=seed)


def _genre_probe_auc(features: np.ndarray, labels: np.ndarray, train: np.ndarray, test: np.ndarray,
                     *, seed: int) -> tuple[float | None, int, float]:
    from sklearn.model_selection import KFold
    from sklearn.preprocessing import StandardScaler

    x, y = features[train], labels[train]
    cv_auc: dict[float, float] = {}
    folds = list(KFold(3, shuffle=True, random_state=seed).split(x)) if len(x) >= 6 else []
    for c in PROBE_CS if folds else ():
        scores = []
        for fit, held in folds:
            scaler = StandardScaler().fit(x[fit])
            scores += _macro_auc(scaler.transform(x[fit]), y[fit], scaler.transform(x[held]), y[held], c)
        cv_auc[c] = float(np.mean(scores)) if scores else 0.0
    c = max(cv_auc, key=lambda k: (cv_auc[k], -k)) if cv_auc else PROBE_CS[0]
    scaler = StandardScaler().fit(x)
    aucs = _macro_auc(scaler.transform(x), y, scaler.transform(features[test]), labels[test], c)
    if not aucs:
        log.warning("no genre has positives and negatives in both parts of the split")
        return None, 0, c
    return float(np.mean(aucs)), len(aucs), c


def handmade_features(images: np.ndarray) -> np.ndarray:
    """The reference features: 8-bin histograms of R, G, B plus a 6x9 RGB thumbnail."""
    from PIL import Image

    pixels = images.shape[1] * images.shape[2]
    hist = np.stack([
        np.concatenate([np.histogram(im[..., c], bins=8, range=(0, 256))[0] for c in range(3)])
        for im in images
    ]) / pixels
    thumbs = np.stack([
        np.asarray(Image.fromarray(im).resize((6, 9), Image.Resampling.BILINEAR)).ravel()
        for im in images
    ]) / 255.0
    return np.hstack([hist, thumbs]).astype(np.float32)


def _zscore(scores: np.ndarray) -> np.ndarray:
    return (scores - scores.mean(axis=1, keepdims=True)) / (scores.std(axis=1, keepdims=True) + 1e-9)


class RankingUser(NamedTuple):
    """One user of the ranking part: liked earlier items, relevant future items, all earlier items."""

    liked: list[str]
    relevant: list[str]
    seen: list[str]


def ranking_users(ratings_file: Path, candidates: list[str]) -> list[RankingUser]:
    """The eligible users of ``ratings_file``, ratings restricted to ``candidates`` (see module doc)."""
    from retrieval.loaders import load_ratings

    allowed = set(candidates)
    by_user: dict[str, list[tuple[int, str, float]]] = {}
    for user, item, rating, stamp in load_ratings(ratings_file):
        if item in allowed:
            by_user.setdefault(user, []).append((stamp, item, rating))
    users: list[RankingUser] = []
    for user in sorted(by_user, key=_sort_key):
        rows = sorted(by_user[user])
        if len(rows) < MIN_RATINGS:
            continue
        cut = len(rows) - max(2, int(round(TEST_SHARE * len(rows))))
        liked = [i for _, i, r in rows[:cut] if r >= LIKED]
        relevant = [i for _, i, r in rows[cut:] if r >= LIKED]
        if liked and relevant:
            users.append(RankingUser(liked, relevant, [i for _, i, _ in rows[:cut]]))
    return users


def fused_ndcg(
    users: list[RankingUser],
    candidates: list[str],
    text: np.ndarray,
    image: np.ndarray,
    weights: Sequence[float],
) -> np.ndarray:
    """NDCG@10 per user (rows) and weight (columns) of ``(1-w) z(text) + w z(image)``."""
    from evals.ranking_metrics import ndcg_and_recall

    column = {item_id: n for n, item_id in enumerate(candidates)}
    out = np.zeros((len(users), len(weights)))
    for start in range(0, len(users), 256):
        chunk = users[start : start + 256]
        profiles_t = np.stack([text[[column[i] for i in liked]].mean(axis=0) for liked, _, _ in chunk])
        profiles_i = np.stack([image[[column[i] for i in liked]].mean(axis=0) for liked, _, _ in chunk])
        score_t, score_i = _zscore(profiles_t @ text.T), _zscore(profiles_i @ image.T)
        relevant = [np.array([column[i] for i in rel]) for _, rel, _ in chunk]
        for n, weight in enumerate(weights):
            scores = (1 - weight) * score_t + weight * score_i
            for row, (_, _, seen) in enumerate(chunk):
                scores[row, [column[i] for i in seen]] = -np.inf
            out[start : start + len(chunk), n] = ndcg_and_recall(scores, relevant, k_ndcg=10)[0]
    return out


# ----------------------------------------------------------------------------- the run


def _poster_encoder(
    images: np.ndarray, targets: np.ndarray, items: list[Item], *, config: PosterEncoderConfig,
    text_encoder_name: str, key: str, cache_dir: Path, progress: bool, retrain: bool,
) -> PosterEncoder:
    folder = cache_dir / f"poster-encoder-{key}"
    if not retrain:
        try:
            return load_poster_encoder(folder, text_encoder_name=text_encoder_name, catalog_fingerprint=key)
        except NotFound:
            pass
        except ConfigError as exc:  # an artifact of an older format: train it again
            log.info("cached poster encoder not usable (%s): training again", exc)
    encoder = train_poster_encoder(
        images, targets, genres=[i.genres for i in items], years=[i.year for i in items],
        config=config, text_encoder_name=text_encoder_name, catalog_fingerprint=key, progress=progress,
    )
    encoder.save(folder)
    return encoder


def evaluate_multimodal(
    posters_dir: Path,
    movies_file: Path,
    seed: int = 7,
    *,
    ratings_file: Path | None = None,
    settings: "Settings | None" = None,
    text_encoder: "TextEncoder | None" = None,
    config: PosterEncoderConfig | None = None,
    progress: bool = True,
    retrain: bool = False,
    validation: bool = False,
) -> MultimodalEvalReport:
    """Run the whole evaluation and return every figure (see the module doc).

    ``validation``: for tuning the encoder without looking at the test posters. The held-out
    part is a validation share carved out of the *training* posters (:func:`validation_split`);
    the encoder is trained on the rest of the training posters, the test posters are not used
    at all, and the ranking part (NDCG) is skipped.
    """
    from retrieval.images import scan_image_folder

    started = time.perf_counter()
    if settings is None:
        from marquee.settings import Settings

        settings = Settings()
    if text_encoder is None:
        from retrieval.encoder import load_text_encoder

        text_encoder = load_text_encoder(settings)
    config = config or PosterEncoderConfig(seed=seed)
    cache_dir = settings.workspace / "cache" / "multimodal-eval"
    posters_dir = Path(posters_dir)
    items = {i.id: i for i in load_movies(movies_file)}
    paths = scan_image_folder(posters_dir, items)
    ids, images, skipped = decoded_posters(paths, config.size, cache_dir, allowed_root=posters_dir,
                                           progress=progress)
    if len(ids) < 10:
        raise BadInput(f"only {len(ids)} usable posters in {posters_dir}: need at least 10")
    order = sorted(range(len(ids)), key=lambda n: _sort_key(ids[n]))
    ids, images = [ids[n] for n in order], images[order]
    poster_items = [items[i] for i in ids]
    texts = text_vectors(poster_items, text_encoder, cache_dir, progress=progress)

    train_ids, test_ids = split_ids(ids, seed)
    if validation:
        train_ids, test_ids = validation_split(train_ids, seed)
    row = {item_id: n for n, item_id in enumerate(ids)}
    train = np.array([row[i] for i in train_ids])
    test = np.array([row[i] for i in test_ids])
    key = _digest(poster_fingerprint("eval", paths.values()), text_encoder.name,
                  config.model_dump(), train_ids)[:32]
    t0 = time.perf_counter()
    encoder = _poster_encoder(images[train], texts[train], [poster_items[n] for n in train],
                              config=config, text_encoder_name=text_encoder.name, key=key,
                              cache_dir=cache_dir, progress=progress, retrain=retrain)
    train_seconds = float(encoder.extra.get("train_seconds", time.perf_counter() - t0))
    vectors = encoder.encode_arrays(images)

    genres = sorted({g for i in poster_items for g in i.genres})
    labels = np.array([[g in i.genres for g in genres] for i in poster_items], dtype=np.float32)
    genre_auc, n_genres, probe_c = genre_probe_auc(vectors, labels, train, test, seed=seed)
    handmade_auc, _, handmade_c = genre_probe_auc(handmade_features(images), labels, train, test,
                                                  seed=seed)
    report = MultimodalEvalReport(
        n_train=len(train), n_test=len(test),
        recall_at_10=recall_at_k(vectors[test], texts[test], 10),
        chance_recall_at_10=min(1.0, 10 / len(test)),
        genre_auc=genre_auc, genre_auc_handmade=handmade_auc, genres_scored=n_genres,
        probe_c={"image": probe_c, "handmade": handmade_c},
        images_skipped=skipped, train_seconds=round(train_seconds, 1),
        encoder_config=config.model_dump(), held_out="validation" if validation else "test",
    )
    if validation:
        report.total_seconds = round(time.perf_counter() - started, 1)
        return report

    ratings_file = ratings_file or Path(movies_file).resolve().parent.parent / DEFAULT_RATINGS
    if Path(ratings_file).is_file():
        _add_ranking(report, ratings_file, ids, texts, vectors, seed)
    else:
        log.warning("no ratings file at %s: NDCG figures left empty", ratings_file)
    report.total_seconds = round(time.perf_counter() - started, 1)
    return report


def _add_ranking(report: MultimodalEvalReport, ratings_file: Path, ids: list[str],
                 texts: np.ndarray, vectors: np.ndarray, seed: int) -> None:
    users = ranking_users(ratings_file, ids)
    if len(users) < 4:
        log.warning("only %d eligible users in %s: NDCG figures left empty", len(users), ratings_file)
        return
    permutation = np.random.default_rng(seed + 1).permutation(len(users))
    half = len(users) // 2
    validation = [users[k] for k in permutation[:half]]
    test = [users[k] for k in permutation[half:]]
    val_ndcg = fused_ndcg(validation, ids, texts, vectors, IMAGE_WEIGHTS).mean(axis=0)
    best = int(np.argmax(val_ndcg))  # ties: the smaller weight
    weight = IMAGE_WEIGHTS[best]
    test_ndcg = fused_ndcg(test, ids, texts, vectors, (0.0, weight)).mean(axis=0)
    report.ndcg_text, report.ndcg_text_image = float(test_ndcg[0]), float(test_ndcg[1])
    report.image_weight = weight
    report.validation_ndcg = {f"{w:.1f}": round(float(v), 4) for w, v in zip(IMAGE_WEIGHTS, val_ndcg)}
    report.n_users_validation, report.n_users_test = len(validation), len(test)


def run_multimodal_eval(posters_dir: Path, movies_file: Path, seed: int = 7, **options: Any) -> dict:
    """The issue's figures as a dict with exactly its JSON keys (options: see
    :func:`evaluate_multimodal`)."""
    return evaluate_multimodal(Path(posters_dir), Path(movies_file), seed, **options).metrics()


def format_table(result: dict) -> str:
    """The figures as a two-column text table, in the issue's key order."""
    width = max(len(k) for k in METRIC_KEYS)
    lines = [f"{'metric':<{width}}  value", f"{'-' * width}  ------"]
    for key in METRIC_KEYS:
        value = result.get(key)
        shown = "n/a" if value is None else (f"{value:d}" if isinstance(value, int) else f"{value:.4f}")
        lines.append(f"{key:<{width}}  {shown}")
    return "\n".join(lines)


def encoder_config(options: Sequence[str], seed: int) -> PosterEncoderConfig:
    """The default poster encoder config for ``seed`` with ``KEY=VALUE`` overrides;
    :class:`BadInput` for an unknown key or a value that does not fit."""
    from pydantic import ValidationError

    values: dict[str, Any] = {"seed": seed}
    for option in options:
        key, sep, value = option.partition("=")
        if not sep or key not in PosterEncoderConfig.model_fields:
            raise BadInput(f"--set {option!r}: expected KEY=VALUE with KEY one of "
                           f"{', '.join(PosterEncoderConfig.model_fields)}")
        values[key] = value
    try:
        return PosterEncoderConfig.model_validate(values)
    except ValidationError as exc:
        raise BadInput(f"poster encoder settings do not fit: {exc}") from exc


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m evals.multimodal --posters DIR --movies FILE [--seed S] [--json]`` (until the
    ``marquee eval multimodal`` command wraps :func:`evaluate_multimodal`)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m evals.multimodal", description=main.__doc__)
    parser.add_argument("--posters", type=Path, required=True, help="folder of <item id>.jpg posters")
    parser.add_argument("--movies", type=Path, required=True, help="MovieLens movies.dat")
    parser.add_argument("--ratings", type=Path, default=None, help="ratings file for the NDCG part")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="print the issue's JSON only")
    parser.add_argument("--details", action="store_true", help="print every figure as JSON")
    parser.add_argument("--retrain", action="store_true", help="ignore a cached encoder")
    parser.add_argument("--validation", action="store_true",
                        help="tune without the test posters: score on validation posters carved "
                        "out of the training part (no NDCG part)")
    parser.add_argument("--set", dest="options", action="append", default=[], metavar="KEY=VALUE",
                        help="a poster encoder setting (PosterEncoderConfig field), repeatable")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    config = encoder_config(args.options, args.seed)
    report = evaluate_multimodal(args.posters, args.movies, args.seed, ratings_file=args.ratings,
                                 retrain=args.retrain, progress=not args.json, config=config,
                                 validation=args.validation)
    if args.details:
        print(report.model_dump_json(indent=2))
    elif args.json:
        print(json.dumps(report.metrics(), indent=2))
    else:
        print(format_table(report.metrics()))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
