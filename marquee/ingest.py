"""Building a workspace from any catalog source: items in Marquee's format plus the vector index,
and the collections of the other modalities (posters, precomputed vectors).

:func:`open_modalities` is shared by ingestion and by start-up (``marquee.startup.load_deps``):
one collection per modality, same item ids as ``items_text``, each built atomically and reused
while its catalog, encoder and input files are unchanged.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from pydantic import BaseModel, Field

from marquee.errors import BadInput, CatalogError, ConfigError
from marquee.settings import Settings
from retrieval.catalog import Catalog, Item

if TYPE_CHECKING:  # pragma: no cover
    from chromadb.api import ClientAPI

    from retrieval.encoder import TextEncoder
    from retrieval.modalities import ImageEncoder, PrecomputedVectors
    from retrieval.store import ItemStore

log = logging.getLogger(__name__)


RESERVED_MODALITIES = ("text", "image", "caption")


class ModalityReport(BaseModel):
    """What one modality collection holds, for the ingest summary and the start-up log."""

    collection: str
    encoder: str
    items: int = Field(description="Items in the catalog.")
    stored: int = Field(description="Items with a vector in this collection.")
    rebuilt: bool
    skipped: dict[str, int] = Field(default_factory=dict, description="Unusable inputs by reason.")

    @property
    def without(self) -> int:
        """Items with nothing in this modality (no poster, no vector), skips aside."""
        return max(0, self.items - self.stored - sum(self.skipped.values()))

    def render(self) -> str:
        skipped = ", ".join(f"{reason} {n}" for reason, n in sorted(self.skipped.items())) or "none"
        verb = "built" if self.rebuilt else "reused"
        return (f"{self.collection}: {self.stored} of {self.items} items ({verb}; encoder {self.encoder}); "
                f"skipped: {skipped}; {self.without} items have none")


@dataclass
class ModalityStores:
    """The optional modalities of a workspace. Empty (all ``None``) for a catalog without images."""

    image_store: "ItemStore | None" = None
    image_encoder: "ImageEncoder | None" = None
    stores: dict[str, "ItemStore"] = field(default_factory=dict)  # precomputed: modality -> store
    posters: dict[str, Path] = field(default_factory=dict)  # item id -> poster file, for the cards
    reports: list[ModalityReport] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class IngestSummary:
    items: int
    skipped: int
    catalog_dir: Path
    problems: list[str] = field(default_factory=list)
    ratings: bool = False
    modalities: list[ModalityReport] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    serve_env: dict[str, str] = field(default_factory=dict)

    def render(self) -> str:
        env = {"MARQUEE_WORKSPACE": str(self.catalog_dir.parent), "MARQUEE_CATALOG": str(self.catalog_dir),
               **self.serve_env}
        lines = [
            f"ingested {self.items} items into {self.catalog_dir}",
            f"skipped {self.skipped} rows" + (":" if self.problems else ""),
            *[f"  - {p}" for p in self.problems[:10]],
            f"ratings: {'yes' if self.ratings else 'none (no collaborative model)'}",
            *[report.render() for report in self.modalities],
            *[f"note: {note}" for note in self.notes],
            "serve it with: " + " ".join(f"{k}={v}" for k, v in env.items()) + " marquee serve",
        ]
        return "\n".join(lines)


def write_items(items: list[Item], path: Path) -> None:
    """Write items.jsonl atomically: a failure leaves the previous file as it was."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".jsonl.tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        for item in items:
            handle.write(item.model_dump_json(exclude_none=True) + "\n")
    os.replace(tmp, path)


def ingest_catalog(
    source: Path,
    *,
    workspace: Path,
    ratings: Path | None = None,
    images: Path | None = None,
    vectors: Sequence[Path] = (),
    vector_dims: dict[str, int] | None = None,
    progress: bool = True,
) -> IngestSummary:
    """Read ``source``, write ``workspace/catalog`` and build the text index; with ``images`` (a
    poster folder) the image collection, with ``vectors`` one collection per vector file.

    Vector files are validated before anything is written: a bad one refuses the whole ingest.
    """
    from retrieval.encoder import load_text_encoder
    from retrieval.loaders import load_source
    from retrieval.store import open_item_store

    items, problems = load_source(Path(source))
    if not items:
        raise CatalogError(f"no usable items in {source} ({len(problems)} rows skipped)")
    catalog = Catalog(items)
    catalog_dir = Path(workspace) / "catalog"
    try:
        settings = Settings(workspace=Path(workspace), catalog=catalog_dir, image_folder=images,
                            vector_files=list(vectors), vector_dims=vector_dims or {})
    except ValueError as exc:
        raise BadInput(f"bad ingest options: {exc}") from exc
    if images is not None and not Path(images).is_dir():
        raise BadInput(f"image folder not found: {images}")
    loaded = read_vector_files(settings, catalog)  # before writing anything
    write_items(items, catalog_dir / "items.jsonl")
    if ratings is not None:
        if not Path(ratings).is_file():
            raise CatalogError(f"ratings file not found: {ratings}")
        shutil.copyfile(ratings, catalog_dir / "ratings.csv")
    encoder = load_text_encoder(settings)
    store = open_item_store(settings, catalog, encoder, progress=progress)
    extra = open_modalities(settings, catalog, encoder, client=store.client, progress=progress, vectors=loaded)
    serve_env = {}
    if images is not None:
        serve_env["MARQUEE_IMAGE_FOLDER"] = str(Path(images).resolve())
    if vectors:
        serve_env["MARQUEE_VECTOR_FILES"] = "'" + json.dumps([str(Path(v).resolve()) for v in vectors]) + "'"
    if vector_dims:
        serve_env["MARQUEE_VECTOR_DIMS"] = "'" + json.dumps(vector_dims) + "'"
    return IngestSummary(
        items=len(items), skipped=len(problems), catalog_dir=catalog_dir, problems=problems,
        ratings=(catalog_dir / "ratings.csv").exists(), modalities=extra.reports, notes=extra.notes,
        serve_env=serve_env,
    )


# --------------------------------------------------------------------------- other modalities


def read_vector_files(settings: Settings, catalog: Catalog) -> dict[str, "PrecomputedVectors"]:
    """Every configured vector file, validated as a whole: modality name (the file's stem) -> vectors.

    Raises :class:`BadInput` naming ``MARQUEE_VECTOR_FILES`` and the file for the first problem
    (wrong width, unknown or duplicate ids, NaN, two files for one modality, a reserved name);
    nothing is written before every file has passed.
    """
    from retrieval.modalities import load_precomputed

    loaded: dict[str, PrecomputedVectors] = {}
    for path in settings.vector_files:
        name = Path(path).name.split(".")[0]
        if not name.isidentifier() or name in RESERVED_MODALITIES:
            raise BadInput(f"MARQUEE_VECTOR_FILES: {Path(path).name}: the file name gives the modality, so it must "
                           f"be a plain word other than {' or '.join(RESERVED_MODALITIES)} (e.g. audio.npz)")
        if name in loaded:
            raise BadInput(f"MARQUEE_VECTOR_FILES: two files for the modality {name!r}")
        try:
            loaded[name] = load_precomputed(path, known_ids=catalog.ids, dim=settings.vector_dims.get(name))
        except (BadInput, ConfigError) as exc:
            raise type(exc)(f"MARQUEE_VECTOR_FILES: {exc}; no collection was written") from exc
    return loaded


STORY_FILE = "story.npz"


def _story_modality(settings: Settings, catalog: Catalog, text_encoder: "TextEncoder", *,
                    configured: dict[str, "PrecomputedVectors"]):
    """Where the catalog's story vectors come from: a configured ``story`` vector file (opened
    with the other files), else the catalog folder's ``story.npz`` (the demo catalog ships one),
    else the items' own descriptions through the text encoder; ``None`` when there is none."""
    from retrieval.modalities import PrecomputedModality, StoryModality, load_precomputed

    if "story" in configured:
        return None
    shipped = Path(settings.catalog) / STORY_FILE
    if shipped.is_file():
        try:
            return PrecomputedModality(load_precomputed(shipped, known_ids=catalog.ids, dim=text_encoder.dim), "story")
        except BadInput as exc:
            log.warning("ignoring %s: %s", shipped, exc)
    if any(item.description for item in catalog):
        return StoryModality(text_encoder)
    return None


def image_roots(settings: Settings) -> list[Path]:
    """The folders images may be read from: the image folder and the catalog folder."""
    roots = [settings.image_folder, settings.catalog]
    return [Path(r).expanduser().resolve() for r in roots if r is not None and Path(r).expanduser().is_dir()]


def _files_digest(paths: dict[str, Path]) -> str:
    """A short key of (item id, file name, size, modification time) of every image path."""
    digest = hashlib.sha256()
    for item_id in sorted(paths):
        path = Path(paths[item_id])
        try:
            stat = path.stat()
            digest.update(f"{item_id}:{path}:{stat.st_size}:{int(stat.st_mtime)}\n".encode())
        except OSError:
            digest.update(f"{item_id}:{path}:missing\n".encode())
    return digest.hexdigest()[:12]


def _open_collection(client: "ClientAPI", catalog: Catalog, modality: str, embed: Callable, *, encoder_name: str,
                     dim: int, progress: bool, extra: Callable[[], dict[str, Any]],
                     retry: Callable[[dict[str, Any]], bool] | None = None) -> tuple["ItemStore", bool]:
    """The collection ``items_<modality>``: reused when current, else built atomically.

    ``retry(manifest)``: True when a current collection must be built again anyway (captions
    that the endpoint failed to give last time).
    """
    from retrieval.store import ItemStore

    store = ItemStore(client, modality)
    if store.is_current_for(catalog, encoder_name=encoder_name, dim=dim) and not (retry and retry(store.manifest or {})):
        store.load(catalog)
        return store, False
    log.info("building %s for %d items", store.collection_name, len(catalog))
    store.build_from(catalog, embed, encoder_name=encoder_name, dim=dim, progress=progress, manifest_extra=extra)
    return store, True


def _report(store: "ItemStore", catalog: Catalog, encoder: str, rebuilt: bool) -> ModalityReport:
    skipped = _skipped_counts(store.manifest or {})
    return ModalityReport(collection=store.collection_name, encoder=encoder, items=len(catalog),
                          stored=len(store.ids), rebuilt=rebuilt, skipped=skipped)


def _image_encoder(settings: Settings, catalog: Catalog, paths: dict[str, Path], roots: list[Path],
                   text_encoder: "TextEncoder", progress: bool) -> "ImageEncoder":
    """CLIP from its folder, or the poster CNN for this catalog version (trained once, then cached)."""
    if settings.image_encoder == "clip":
        from retrieval.clip_encoder import load_clip_encoder

        return load_clip_encoder(settings.clip_model)  # ConfigError names MARQUEE_CLIP_MODEL
    from retrieval.modalities import PosterImageEncoder
    from retrieval.poster_encoder import PosterEncoderConfig, ensure_poster_encoder
    from retrieval.store import catalog_fingerprint

    try:
        config = PosterEncoderConfig(**settings.poster_encoder_options)
    except ValueError as exc:
        raise ConfigError(f"MARQUEE_POSTER_ENCODER_OPTIONS: {exc}") from exc
    poster = ensure_poster_encoder(
        workspace=settings.workspace, catalog_fingerprint=catalog_fingerprint(catalog), items=list(catalog),
        image_paths=paths, allowed_roots=roots, text_encoder=text_encoder, config=config, progress=progress,
    )
    return PosterImageEncoder(poster, text_encoder)


def _skipped_counts(manifest: dict[str, Any]) -> dict[str, int]:
    try:
        return {str(k): int(v) for k, v in json.loads(manifest.get("skipped") or "{}").items()}
    except (ValueError, AttributeError, TypeError):
        return {}


def _open_captions(settings: Settings, catalog: Catalog, paths: dict[str, Path], roots: list[Path],
                   remote: dict[str, int], text_encoder: "TextEncoder", *, client: "ClientAPI", progress: bool,
                   result: ModalityStores) -> None:
    """The ``items_caption`` collection: every readable poster described by the caption model and
    embedded with the text encoder. Endpoint failures skip posters (counted); a collection built
    with such skips is built again at the next start (cached captions cost no request)."""
    from marquee.llm import build_chat_model
    from retrieval.captions import ENDPOINT_REASONS, CaptionModality, PosterCaptioner

    if not settings.llm_base_url:
        raise ConfigError("MARQUEE_CAPTION_MODEL is set but MARQUEE_LLM_BASE_URL is not: poster captions need an "
                          "OpenAI-compatible endpoint that serves that vision model")
    model = build_chat_model(settings.model_copy(update={"llm_model": settings.caption_model}))
    captioner = PosterCaptioner(model, cache_path=settings.workspace / "cache" / "poster_captions.json",
                                model_name=settings.caption_model)
    modality = CaptionModality(captioner, text_encoder, paths, allowed_roots=roots)
    store, rebuilt = _open_collection(
        client, catalog, modality.modality, modality.embed_items, encoder_name=f"{modality.name}|files:"
        f"{_files_digest(paths)}", dim=modality.dim, progress=progress,
        extra=lambda: {"skipped": json.dumps({**remote, **modality.summary.skipped}),
                       "caption_requests": modality.summary.asked, "captions_cached": modality.summary.cached,
                       "captions_truncated": modality.summary.truncated},
        retry=lambda manifest: any(reason in _skipped_counts(manifest) for reason in ENDPOINT_REASONS),
    )
    result.reports.append(_report(store, catalog, modality.name, rebuilt))
    if rebuilt and captioner.gave_up:
        result.notes.append(f"captions: the endpoint failed {captioner.failures_in_a_row} times in a row, so the "
                            "remaining posters were not captioned; the next start asks again")
    if store.ids:
        result.stores[modality.modality] = store
    else:
        result.notes.append("no poster caption: the caption collection is empty, caption similarity is off")


def _readable_posters(paths: dict[str, Path], roots: list[Path]) -> dict[str, Path]:
    """The image paths a card may show: files inside the allowed folders."""
    from retrieval.images import ImageRejected, resolve_allowed

    kept: dict[str, Path] = {}
    for item_id, path in paths.items():
        try:
            resolved = resolve_allowed(path, roots)
        except ImageRejected:
            continue
        if resolved.is_file():
            kept[item_id] = resolved
    return kept


def open_modalities(
    settings: Settings,
    catalog: Catalog,
    text_encoder: "TextEncoder",
    *,
    client: "ClientAPI",
    progress: bool = True,
    vectors: dict[str, "PrecomputedVectors"] | None = None,
) -> ModalityStores:
    """Open (building when needed) the image collection, the poster captions (with
    ``settings.caption_model``) and the precomputed collections.

    A catalog without any image (the demo catalog) gets no image collection and nothing is
    trained. Bad images are skipped and counted by reason in the reports; a bad vector file or
    image setting raises (:class:`BadInput` / :class:`ConfigError`) before anything is written.
    """
    from retrieval.modalities import ImageModality, PrecomputedModality, collect_image_paths

    vectors = read_vector_files(settings, catalog) if vectors is None else vectors
    result = ModalityStores()
    try:
        found, remote = collect_image_paths(catalog, folder=settings.image_folder, base=settings.catalog)
    except BadInput as exc:
        raise ConfigError(f"MARQUEE_IMAGE_FOLDER: {exc}") from exc
    paths = {item_id: Path(path) for item_id, path in found.items()}
    roots = image_roots(settings)
    result.posters = _readable_posters(paths, roots)
    if paths and settings.image_encoder != "none":
        try:
            encoder = _image_encoder(settings, catalog, paths, roots, text_encoder, progress)
        except BadInput as exc:  # e.g. fewer than 2 usable posters to train on
            log.warning("no image collection: %s", exc)
            result.notes.append(f"no image collection: {exc}")
            encoder = None
        if encoder is not None:
            modality = ImageModality(encoder, paths, allowed_roots=roots)
            name = f"{modality.name}|files:{_files_digest(paths)}"
            store, rebuilt = _open_collection(
                client, catalog, "image", modality.embed_items, encoder_name=name, dim=modality.dim,
                progress=progress,
                extra=lambda: {"skipped": json.dumps({**remote, **modality.summary.skipped}),
                               "alpha_flattened": modality.summary.alpha_flattened},
            )
            result.reports.append(_report(store, catalog, modality.name, rebuilt))
            if store.ids:
                result.image_store, result.image_encoder = store, encoder
                result.posters = {i: p for i, p in result.posters.items() if i in store}
            else:
                result.notes.append("no usable image: the image collection is empty, image search is off")
    if paths and settings.caption_model:
        _open_captions(settings, catalog, paths, roots, remote, text_encoder, client=client, progress=progress,
                       result=result)
    story = _story_modality(settings, catalog, text_encoder, configured=vectors)
    if story is not None:
        store, rebuilt = _open_collection(client, catalog, "story", story.embed_items, encoder_name=story.name,
                                          dim=story.dim, progress=progress, extra=lambda: {})
        if store.ids:
            result.stores["story"] = store
        result.reports.append(_report(store, catalog, story.name, rebuilt))
    for name, loaded in vectors.items():
        modality = PrecomputedModality(loaded, modality=name)
        store, rebuilt = _open_collection(
            client, catalog, name, modality.embed_items, encoder_name=modality.name, dim=modality.dim,
            progress=progress, extra=lambda loaded=loaded: {"skipped": json.dumps(
                {"all_zero": loaded.skipped_zero} if loaded.skipped_zero else {})},
        )
        result.stores[name] = store
        result.reports.append(_report(store, catalog, modality.name, rebuilt))
    for report in result.reports:
        log.info("%s", report.render())
    return result
