"""The embedded image encoder: a small CNN trained on the catalog's own posters.

No pretrained image model can be downloaded here, so Marquee trains one on the CPU in a few
minutes. It maps a poster into the *text-embedding space of the same item* (the space of the
``items_text`` collection), so a text query ("dark, gritty, noir") reaches posters through
that shared space and a poster query reaches texts.

Training (:func:`train_poster_encoder`) is contrastive against the frozen text vectors: each
poster must pick its own item's text among all training texts (cross-entropy over the whole
text matrix, temperature ``temperature``), with soft targets that also give a little credit
to items whose *texts* are near the poster's own text (``soft_target_weight``), plus
auxiliary multi-label genre and release-year heads that read the text-space vector itself
(``heads_on_embedding``), so the genre signal ends up in the stored vectors. Against
overfitting on a few thousand posters: random resized crops, colour jitter, mixup of two
posters of a batch, dropout, and an exponential moving average of the weights (the EMA
weights are the ones kept). Every random draw comes from ``seed``. Images are small (64x96
by default), decoded once into a uint8 array (:func:`retrieval.images.images_to_array`).
The defaults were chosen on validation posters carved out of the training part of the
evaluation split (``python -m evals.multimodal ... --validation``); see
``retrieval/MULTIMODAL.md`` for the figures.

The trained encoder is a workspace artifact (:meth:`PosterEncoder.save`): ``weights.safetensors``
plus ``manifest.json`` with the config, the text encoder's name and dimension, and the catalog
fingerprint it was trained on; :func:`load_poster_encoder` refuses an artifact built for
another catalog or text encoder. Weights stay out of git (the workspace folder is ignored).
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import math
import time
from datetime import datetime, timezone
from pathlib import Path
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Iterator, Sequence

import numpy as np
from pydantic import BaseModel, Field

from marquee.errors import BadInput, ConfigError, NotFound

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from retrieval.catalog import Item
    from retrieval.encoder import TextEncoder

log = logging.getLogger(__name__)

ARTIFACT_FORMAT = 2  # 2: training options (crops, heads on the embedding, EMA, mixup) in the config
WEIGHTS_FILE = "weights.safetensors"
MANIFEST_FILE = "manifest.json"
HISTOGRAM_BINS = 8
THUMBNAIL = (6, 9)  # width, height


class PosterEncoderConfig(BaseModel):
    """Architecture and training knobs of the poster encoder (saved in the manifest)."""

    width: int = Field(64, ge=4, le=256, description="Image width fed to the network, px.")
    height: int = Field(96, ge=4, le=384, description="Image height fed to the network, px.")
    channels: int = Field(16, ge=4, le=64, description="Channels of the stem; doubled per block.")
    extra_convs: bool = Field(True, description="A stride-1 conv after each strided one.")
    epochs: int = Field(30, ge=1, le=200)
    batch_size: int = Field(64, ge=2, le=1024)
    learning_rate: float = Field(3e-3, gt=0, le=1)
    weight_decay: float = Field(0.05, ge=0, le=1)
    temperature: float = Field(0.05, gt=0, le=1, description="Image-to-text logit temperature.")
    soft_target_weight: float = Field(
        0.5, ge=0, le=1, description="Share of the target spread over items with similar texts."
    )
    soft_target_temperature: float = Field(0.05, gt=0, le=1)
    genre_loss_weight: float = Field(6.0, ge=0, le=20, description="Auxiliary genre head.")
    year_loss_weight: float = Field(0.5, ge=0, le=10, description="Auxiliary release-year head.")
    flip_average: bool = Field(True, description="Embed an image as the mean of it and its mirror.")
    colour_features: bool = Field(
        True, description="Feed a 6x9 thumbnail and soft colour histograms beside the CNN features."
    )
    dropout: float = Field(0.3, ge=0, lt=1)
    crop_scale: float = Field(
        0.6, gt=0, le=1,
        description="Smallest share of the poster's area a random training crop keeps (random "
        "resized crop); 1 = only a small random shift.",
    )
    colour_jitter: float = Field(
        0.3, ge=0, le=1,
        description="Strength of the random brightness and contrast (and, above 0.2, saturation) "
        "changes while training.",
    )
    heads_on_embedding: bool = Field(
        True,
        description="The genre and year heads read the text-space vector itself instead of the "
        "pooled CNN features, so what they learn is in the stored vectors.",
    )
    ema_decay: float = Field(
        0.99, ge=0, lt=1, description="Keep an exponential moving average of the weights (0 = off)."
    )
    mixup: float = Field(
        0.2, ge=0, le=4,
        description="Mixup of two posters of a batch, share drawn from Beta(mixup, mixup) (0 = off).",
    )
    seed: int = 7
    threads: int = Field(
        1, ge=1, le=64,
        description="Torch threads while training. 1 is fastest on a shared 2-core machine: "
        "with 2 threads and other busy processes, a step was measured 8x slower.",
    )

    @property
    def size(self) -> tuple[int, int]:
        """(width, height), the order PIL uses."""
        return (self.width, self.height)


def _torch():
    import torch  # imported lazily: ~2 s, and only needed when images are used

    return torch


def build_network(config: PosterEncoderConfig, dim: int, n_genres: int):
    """The CNN: five stride-2 conv blocks (conv-BN-ReLU, each but the stem followed by a
    stride-1 conv when ``extra_convs``), avg+max pooling, a linear map into the ``dim``-wide
    text space and an optional genre head. Strided convs keep it cheap on a CPU."""
    torch = _torch()
    nn = torch.nn

    def block(c_in: int, c_out: int, stride: int) -> list:
        return [
            nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True),
        ]

    class PosterNet(nn.Module):
        """Small CNN from posters to unit vectors of the text space."""

        def __init__(self) -> None:
            super().__init__()
            layers: list = []
            c_in = 3
            for n in range(5):
                c_out = config.channels * 2**n
                layers += block(c_in, c_out, 2)
                if n and config.extra_convs:
                    layers += block(c_out, c_out, 1)
                c_in = c_out
            self.features = nn.Sequential(*layers)
            width = 2 * c_in
            if config.colour_features:
                edges = torch.linspace(-2.0, 2.0, HISTOGRAM_BINS + 1)[1:-1]
                self.register_buffer("bin_edges", edges, persistent=False)
                n_colour = 3 * HISTOGRAM_BINS + 3 * THUMBNAIL[0] * THUMBNAIL[1]
                self.colour_norm = nn.BatchNorm1d(n_colour)
                width += n_colour
            self.dropout = nn.Dropout(config.dropout)
            self.project = nn.Linear(width, dim)
            head_width = dim if config.heads_on_embedding else width
            self.genre_head = nn.Linear(head_width, n_genres) if n_genres else None
            self.year_head = nn.Linear(head_width, 1)

        def colour(self, x):
            """Hand-made colour features of normalized images: 8-bin histograms of each
            channel (bins over -2..2 standard deviations) and a 6x9 thumbnail, batch-normalized."""
            values = x.detach().flatten(2)  # (n, 3, pixels)
            bins = torch.bucketize(values.contiguous(), self.bin_edges)
            counts = torch.zeros(*values.shape[:2], HISTOGRAM_BINS, dtype=x.dtype)
            counts.scatter_add_(2, bins, torch.ones_like(values))
            histogram = (counts / values.shape[2]).flatten(1)
            thumbnail = nn.functional.adaptive_avg_pool2d(x, (THUMBNAIL[1], THUMBNAIL[0])).flatten(1)
            return self.colour_norm(torch.cat([histogram, thumbnail], dim=1))

        def pooled(self, x):
            maps = self.features(x.contiguous(memory_format=torch.channels_last))
            parts = [maps.mean(dim=(2, 3)), maps.amax(dim=(2, 3))]
            if config.colour_features:
                parts.append(self.colour(x))
            return torch.cat(parts, dim=1)

        def forward(self, x):
            return nn.functional.normalize(self.project(self.dropout(self.pooled(x))), dim=-1)

    return PosterNet().to(memory_format=torch.channels_last)


@contextmanager
def _torch_threads(n: int) -> Iterator[None]:
    """Run a block with ``n`` intra-op torch threads, then restore the previous number."""
    torch = _torch()
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _to_tensor(images: np.ndarray, mean: np.ndarray, std: np.ndarray):
    torch = _torch()
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float().div_(255.0)
    m = torch.from_numpy(mean.astype(np.float32)).view(1, 3, 1, 1)
    s = torch.from_numpy(std.astype(np.float32)).view(1, 3, 1, 1)
    return (x - m) / s


def _augment(x, generator, config: PosterEncoderConfig):
    """Training augmentation of normalized images: random horizontal flip; a random resized
    crop (``crop_scale`` < 1: area share in [crop_scale, 1], aspect ratio within 3:4..4:3,
    bilinear) or else a random shift (pad 4, crop); brightness/contrast jitter of strength
    ``colour_jitter`` and, above 0.2, saturation jitter. Every draw comes from ``generator``."""
    torch = _torch()
    functional = torch.nn.functional
    n, _, h, w = x.shape
    flip = torch.rand(n, generator=generator) < 0.5
    x = torch.where(flip.view(-1, 1, 1, 1), x.flip(3), x)
    if config.crop_scale < 1:
        area = config.crop_scale + (1 - config.crop_scale) * torch.rand(n, generator=generator)
        ratio = torch.exp(math.log(4 / 3) * (2 * torch.rand(n, generator=generator) - 1))
        sx = torch.sqrt(area * ratio).clamp(max=1.0)
        sy = torch.sqrt(area / ratio).clamp(max=1.0)
        tx = (1 - sx) * (2 * torch.rand(n, generator=generator) - 1)
        ty = (1 - sy) * (2 * torch.rand(n, generator=generator) - 1)
        zero = torch.zeros(n)
        theta = torch.stack([torch.stack([sx, zero, tx], 1), torch.stack([zero, sy, ty], 1)], 1)
        grid = functional.affine_grid(theta, [n, 3, h, w], align_corners=False)
        x = functional.grid_sample(x, grid, mode="bilinear", padding_mode="border",
                                   align_corners=False)
    else:
        pad = 4
        padded = functional.pad(x, (pad, pad, pad, pad), mode="replicate")
        dx, dy = (int(v) for v in torch.randint(0, 2 * pad + 1, (2,), generator=generator))
        x = padded[:, :, dy : dy + h, dx : dx + w]
    jitter = config.colour_jitter
    scale = 1.0 + jitter * (torch.rand(n, 1, 1, 1, generator=generator) - 0.5)
    shift = jitter * (torch.rand(n, 1, 1, 1, generator=generator) - 0.5)
    x = x * scale + shift
    if jitter > 0.2:
        grey = x.mean(dim=1, keepdim=True)
        saturation = 1.0 + 2 * jitter * (torch.rand(n, 1, 1, 1, generator=generator) - 0.5)
        x = grey + saturation * (x - grey)
    return x


class PosterEncoder:
    """A trained poster network: images in, unit vectors of the text space out.

    ``text_encoder_name`` names the text space the vectors live in; queries in words are
    embedded by that text encoder (see :class:`retrieval.modalities.PosterImageEncoder`).
    """

    def __init__(
        self,
        network,
        *,
        config: PosterEncoderConfig,
        dim: int,
        genres: list[str],
        mean: np.ndarray,
        std: np.ndarray,
        text_encoder_name: str,
        catalog_fingerprint: str,
        extra: dict | None = None,
    ):
        self.network = network.eval()
        self.config = config
        self.dim = dim
        self.genres = list(genres)
        self.mean = np.asarray(mean, dtype=np.float32)
        self.std = np.asarray(std, dtype=np.float32)
        self.text_encoder_name = text_encoder_name
        self.catalog_fingerprint = catalog_fingerprint
        self.extra = dict(extra or {})
        self.name = f"poster-cnn:{catalog_fingerprint[:12]}"

    def encode_arrays(self, images: np.ndarray, *, batch_size: int = 256) -> np.ndarray:
        """Embed ``(n, height, width, 3)`` uint8 images already at the configured size."""
        torch = _torch()
        images = np.asarray(images)
        expected = (self.config.height, self.config.width, 3)
        if images.ndim != 4 or images.shape[1:] != expected or images.dtype != np.uint8:
            raise BadInput(
                f"poster arrays must be uint8 of shape (n, {expected[0]}, {expected[1]}, 3), "
                f"got {images.dtype} {images.shape}"
            )
        out = np.zeros((len(images), self.dim), dtype=np.float32)
        self.network.eval()
        with torch.inference_mode(), _torch_threads(self.config.threads):
            for start in range(0, len(images), batch_size):
                x = _to_tensor(images[start : start + batch_size], self.mean, self.std)
                vectors = self.network(x)
                if self.config.flip_average:
                    vectors = torch.nn.functional.normalize(vectors + self.network(x.flip(3)), dim=-1)
                out[start : start + len(x)] = vectors.numpy()
        return out

    def encode_images(self, images: Sequence) -> np.ndarray:
        """Embed RGB PIL images of any size (resized to the configured size)."""
        from retrieval.images import to_array

        if not images:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self.encode_arrays(np.stack([to_array(im, self.config.size) for im in images]))

    # ---- artifact

    def save(self, folder: str | Path) -> Path:
        """Write ``weights.safetensors`` and ``manifest.json`` into ``folder`` (created)."""
        from safetensors.torch import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().contiguous() for k, v in self.network.state_dict().items()}
        tmp = folder / (WEIGHTS_FILE + ".tmp")
        save_file(state, str(tmp))
        tmp.replace(folder / WEIGHTS_FILE)
        manifest = {
            "format": ARTIFACT_FORMAT,
            "name": self.name,
            "config": self.config.model_dump(),
            "dim": self.dim,
            "genres": self.genres,
            "mean": self.mean.tolist(),
            "std": self.std.tolist(),
            "text_encoder": self.text_encoder_name,
            "catalog_fingerprint": self.catalog_fingerprint,
            "saved_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            **{k: v for k, v in self.extra.items() if k not in ("format", "config")},
        }
        (folder / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        log.info("saved poster encoder to %s", folder)
        return folder


def load_poster_encoder(
    folder: str | Path,
    *,
    text_encoder_name: str | None = None,
    catalog_fingerprint: str | None = None,
) -> PosterEncoder:
    """Load a saved poster encoder; refuse one built for another text encoder or catalog.

    Raises :class:`NotFound` when there is no artifact in ``folder`` and :class:`ConfigError`
    when it is unreadable or does not match what the caller expects.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    folder = Path(folder)
    manifest_path = folder / MANIFEST_FILE
    if not manifest_path.is_file() or not (folder / WEIGHTS_FILE).is_file():
        raise NotFound(f"no poster encoder in {folder}")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        config = PosterEncoderConfig.model_validate(manifest["config"])
        dim = int(manifest["dim"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"poster encoder manifest {manifest_path} is unreadable: {exc}") from exc
    if manifest.get("format") != ARTIFACT_FORMAT:
        raise ConfigError(f"poster encoder in {folder} has format {manifest.get('format')}, "
                          f"expected {ARTIFACT_FORMAT}: train it again")
    if text_encoder_name is not None and manifest.get("text_encoder") != text_encoder_name:
        raise ConfigError(
            f"poster encoder in {folder} maps into the space of {manifest.get('text_encoder')!r}, "
            f"but the text encoder is {text_encoder_name!r}: train it again"
        )
    if catalog_fingerprint is not None and manifest.get("catalog_fingerprint") != catalog_fingerprint:
        raise ConfigError(
            f"poster encoder in {folder} was trained on another catalog version "
            f"({str(manifest.get('catalog_fingerprint'))[:12]}): train it again"
        )
    genres = list(manifest.get("genres", []))
    network = build_network(config, dim, len(genres))
    try:
        network.load_state_dict(load_file(str(folder / WEIGHTS_FILE)))
    except (RuntimeError, OSError, SafetensorError) as exc:
        raise ConfigError(f"poster encoder weights in {folder} do not load: {exc}") from exc
    extra = {k: v for k, v in manifest.items() if k not in (
        "format", "name", "config", "dim", "genres", "mean", "std", "text_encoder",
        "catalog_fingerprint")}
    return PosterEncoder(
        network,
        config=config,
        dim=dim,
        genres=genres,
        mean=np.asarray(manifest["mean"]),
        std=np.asarray(manifest["std"]),
        text_encoder_name=str(manifest["text_encoder"]),
        catalog_fingerprint=str(manifest["catalog_fingerprint"]),
        extra=extra,
    )


def poster_fingerprint(catalog_fingerprint: str, image_files: Iterable[Path]) -> str:
    """A version key of (catalog, poster files): the catalog's fingerprint plus each poster's
    name, size and modification time. Use it to name the artifact folder."""
    digest = hashlib.sha256(catalog_fingerprint.encode("utf-8"))
    for path in sorted(Path(p) for p in image_files):
        stat = path.stat()
        digest.update(f"{path.name}:{stat.st_size}:{int(stat.st_mtime)}\n".encode("utf-8"))
    return digest.hexdigest()[:32]


def _genre_matrix(genres: Sequence[Sequence[str]]) -> tuple[list[str], np.ndarray]:
    names = sorted({g for row in genres for g in row})
    index = {g: n for n, g in enumerate(names)}
    matrix = np.zeros((len(genres), len(names)), dtype=np.float32)
    for row, values in enumerate(genres):
        for g in values:
            matrix[row, index[g]] = 1.0
    return names, matrix


@dataclass
class _Targets:
    """What one training run fits: text rows, soft targets and the auxiliary labels."""

    text: "torch.Tensor"  # (n, dim) unit rows
    soft: "torch.Tensor | None"  # (n, n) credit to items with similar texts
    genres: "torch.Tensor | None"  # (n, n_genres) 0/1
    years: "torch.Tensor | None"  # (n,) standardized release years
    year_known: "torch.Tensor | None"  # (n,) 1 where the year is known


def _checked_targets(images: np.ndarray, text_vectors: np.ndarray, config: PosterEncoderConfig) -> np.ndarray:
    """Unit text rows for ``images``; :class:`BadInput` when shapes or values do not fit."""
    targets = np.asarray(text_vectors, dtype=np.float32)
    expected = (config.height, config.width, 3)
    if images.ndim != 4 or images.shape[1:] != expected or images.dtype != np.uint8:
        raise BadInput(f"training images must be uint8 (n, {expected[0]}, {expected[1]}, 3), "
                       f"got {images.dtype} {images.shape}")
    if targets.ndim != 2 or len(targets) != len(images):
        raise BadInput(f"{len(images)} images but text vectors of shape {targets.shape}")
    if len(images) < 2:
        raise BadInput("training a poster encoder needs at least 2 posters")
    norms = np.linalg.norm(targets, axis=1, keepdims=True)
    if not np.all(np.isfinite(targets)) or np.any(norms == 0):
        raise BadInput("text vectors must be finite and non-zero")
    return targets / norms


def _build_targets(
    targets: np.ndarray,
    genre_y: np.ndarray | None,
    years: Sequence[int | None] | None,
    config: PosterEncoderConfig,
) -> _Targets:
    torch = _torch()
    n = len(targets)
    text = torch.from_numpy(targets)
    soft = None
    if config.soft_target_weight > 0:
        sims = text @ text.T / config.soft_target_temperature
        sims.fill_diagonal_(-math.inf)
        soft = torch.softmax(sims, dim=1)
    year_t = year_known = None
    if years is not None and config.year_loss_weight > 0:
        if len(years) != n:
            raise BadInput(f"{n} images but {len(years)} years")
        values = np.array([np.nan if y is None else float(y) for y in years], dtype=np.float32)
        known = np.isfinite(values)
        if known.sum() >= 2:
            centre, spread = values[known].mean(), values[known].std() + 1e-3
            year_t = torch.from_numpy(np.nan_to_num((values - centre) / spread))
            year_known = torch.from_numpy(known.astype(np.float32))
    genres = torch.from_numpy(genre_y) if genre_y is not None and config.genre_loss_weight > 0 else None
    return _Targets(text=text, soft=soft, genres=genres, years=year_t, year_known=year_known)


def _batch_loss(network, x, rows, targets: _Targets, config: PosterEncoderConfig, mix=None):
    """Contrastive loss against every training text (soft targets) plus the auxiliary heads.

    ``mix``: ``(partner rows, share)`` when ``x`` is a mixup of the posters of ``rows`` (weight
    ``share``) and of the partner rows; the loss is then the same mix of both rows' losses."""
    torch = _torch()
    functional = torch.nn.functional
    pooled = network.dropout(network.pooled(x))
    embedded = functional.normalize(network.project(pooled), dim=-1)
    log_p = torch.log_softmax(embedded @ targets.text.T / config.temperature, dim=1)
    head_input = embedded if config.heads_on_embedding else pooled
    genre_logits = network.genre_head(head_input) if targets.genres is not None else None
    year_predicted = network.year_head(head_input).squeeze(1) if targets.years is not None else None

    def loss_for(target_rows):
        target = functional.one_hot(target_rows, len(targets.text)).float()
        if targets.soft is not None:
            weight = config.soft_target_weight
            target = (1 - weight) * target + weight * targets.soft[target_rows]
        loss = torch.sum(-target * log_p, dim=1).mean()
        if genre_logits is not None:
            genre_loss = functional.binary_cross_entropy_with_logits(
                genre_logits, targets.genres[target_rows])
            loss = loss + config.genre_loss_weight * genre_loss
        if year_predicted is not None:
            mask = targets.year_known[target_rows]
            year_loss = ((mask * (year_predicted - targets.years[target_rows]) ** 2).sum()
                         / mask.sum().clamp(min=1))
            loss = loss + config.year_loss_weight * year_loss
        return loss

    if mix is None:
        return loss_for(rows)
    partners, share = mix
    return share * loss_for(rows) + (1 - share) * loss_for(partners)


def _update_average(average, network, decay: float, step: int) -> None:
    """One EMA step of ``average`` towards ``network`` (parameters and BatchNorm statistics).
    The decay ramps up as ``(1 + step) / (10 + step)`` so early weights fade fast."""
    torch = _torch()
    rate = 1.0 - min(decay, (1 + step) / (10 + step))
    with torch.no_grad():
        for mine, theirs in zip(average.state_dict().values(), network.state_dict().values()):
            if mine.dtype.is_floating_point:
                mine.lerp_(theirs, rate)
            else:
                mine.copy_(theirs)


def train_poster_encoder(
    images: np.ndarray,
    text_vectors: np.ndarray,
    *,
    genres: Sequence[Sequence[str]] | None = None,
    years: Sequence[int | None] | None = None,
    config: PosterEncoderConfig | None = None,
    text_encoder_name: str,
    catalog_fingerprint: str,
    progress: bool = True,
    max_steps: int | None = None,
) -> PosterEncoder:
    """Train a poster encoder on ``images`` ((n, h, w, 3) uint8 at the config's size) paired
    row by row with the unit ``text_vectors`` of the same items.

    ``genres`` (one list per row) and ``years`` (``None`` when unknown) feed the auxiliary
    heads: posters show genre and era, and both are in the item text. ``max_steps`` stops early
    (tests). Shows a tqdm progress bar when ``progress``.
    """
    torch = _torch()
    from tqdm.auto import tqdm

    config = config or PosterEncoderConfig()
    images = np.asarray(images)
    unit_targets = _checked_targets(images, text_vectors, config)
    genre_names, genre_y = _genre_matrix(genres) if genres is not None else ([], None)
    if genre_y is not None and len(genre_y) != len(images):
        raise BadInput(f"{len(images)} images but {len(genre_y)} genre rows")
    targets = _build_targets(unit_targets, genre_y, years, config)

    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    n, dim = unit_targets.shape
    network = build_network(config, dim, len(genre_names) if targets.genres is not None else 0)
    mean = images.reshape(-1, 3).mean(axis=0) / 255.0
    std = images.reshape(-1, 3).std(axis=0) / 255.0 + 1e-3

    batch = min(config.batch_size, n)
    steps_per_epoch = max(1, n // batch)
    total = steps_per_epoch * config.epochs if max_steps is None else min(
        steps_per_epoch * config.epochs, max_steps)
    optimizer = torch.optim.AdamW(network.parameters(), lr=config.learning_rate,
                                  weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.learning_rate,
                                                    total_steps=total, pct_start=0.15)
    average = copy.deepcopy(network) if config.ema_decay > 0 else None
    mix_rng = np.random.default_rng(config.seed)
    started = time.perf_counter()
    losses: list[float] = []
    network.train()
    with _torch_threads(config.threads), tqdm(
        total=total, desc="training poster encoder", unit="step", disable=not progress
    ) as bar:
        while len(losses) < total:
            order = torch.randperm(n, generator=generator)
            for start in range(0, steps_per_epoch * batch, batch):
                if len(losses) >= total:
                    break
                rows = order[start : start + batch]
                x = _augment(_to_tensor(images[rows.numpy()], mean, std), generator, config)
                mix = None
                if config.mixup > 0:
                    order_in_batch = torch.randperm(len(rows), generator=generator)
                    share = float(mix_rng.beta(config.mixup, config.mixup))
                    x = share * x + (1 - share) * x[order_in_batch]
                    mix = (rows[order_in_batch], share)
                loss = _batch_loss(network, x, rows, targets, config, mix)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                scheduler.step()
                if average is not None:
                    _update_average(average, network, config.ema_decay, len(losses))
                losses.append(float(loss.detach()))
                bar.update(1)
                bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}")
    if average is not None:
        network = average
    seconds = time.perf_counter() - started
    log.info("trained poster encoder: %d steps on %d posters in %.0f s", len(losses), n, seconds)
    network.eval()
    return PosterEncoder(
        network,
        config=config,
        dim=dim,
        genres=genre_names,
        mean=mean,
        std=std,
        text_encoder_name=text_encoder_name,
        catalog_fingerprint=catalog_fingerprint,
        extra={"n_train": n, "steps": len(losses), "train_seconds": round(seconds, 1),
               "final_loss": round(float(np.mean(losses[-20:])), 4)},
    )


def poster_encoder_dir(workspace: str | Path, version: str) -> Path:
    """Where the poster encoder of one (catalog, posters, text model, config) version lives."""
    return Path(workspace) / "models" / f"poster-encoder-{version[:16]}"


def ensure_poster_encoder(
    *,
    workspace: str | Path,
    catalog_fingerprint: str,
    items: Sequence["Item"],
    image_paths: dict[str, Path],
    allowed_roots: Sequence[str | Path],
    text_encoder: "TextEncoder",
    config: PosterEncoderConfig | None = None,
    progress: bool = True,
) -> PosterEncoder:
    """The poster encoder for this catalog version: loaded from the workspace when one was
    trained for the same catalog, poster files, text model and config; else trained on every
    usable poster (progress bar) and saved there.

    ``catalog_fingerprint`` is the store's (:func:`retrieval.store.catalog_fingerprint`).
    Unusable posters are skipped and counted (see :mod:`retrieval.images`).
    """
    from retrieval.encoder import item_text
    from retrieval.images import images_to_array

    config = config or PosterEncoderConfig()
    by_id = {item.id: item for item in items}
    paths = {i: p for i, p in image_paths.items() if i in by_id}
    version = poster_fingerprint(
        hashlib.sha256(json.dumps([catalog_fingerprint, text_encoder.name, config.model_dump()],
                                  sort_keys=True).encode()).hexdigest(),
        paths.values(),
    )
    folder = poster_encoder_dir(workspace, version)
    try:
        return load_poster_encoder(folder, text_encoder_name=text_encoder.name,
                                   catalog_fingerprint=version)
    except NotFound:
        log.info("no poster encoder for this catalog version yet: training one")
    ids, arrays, summary = images_to_array(paths, config.size, allowed_roots=allowed_roots,
                                           progress=progress)
    if len(ids) < 2:
        raise BadInput(f"only {len(ids)} usable posters: cannot train a poster encoder")
    chosen = [by_id[i] for i in ids]
    targets = text_encoder.encode([item_text(item) for item in chosen])
    encoder = train_poster_encoder(
        arrays, targets, genres=[i.genres for i in chosen], years=[i.year for i in chosen],
        config=config, text_encoder_name=text_encoder.name, catalog_fingerprint=version,
        progress=progress,
    )
    encoder.extra["images_skipped"] = summary.skipped
    encoder.save(folder)
    return encoder
