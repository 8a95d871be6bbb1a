"""Building a workspace from any catalog source: items in Marquee's format plus the vector index."""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from marquee.errors import CatalogError
from marquee.settings import Settings
from retrieval.catalog import Catalog, Item

log = logging.getLogger(__name__)


@dataclass
class IngestSummary:
    items: int
    skipped: int
    catalog_dir: Path
    problems: list[str] = field(default_factory=list)
    ratings: bool = False

    def render(self) -> str:
        lines = [
            f"ingested {self.items} items into {self.catalog_dir}",
            f"skipped {self.skipped} rows" + (":" if self.problems else ""),
            *[f"  - {p}" for p in self.problems[:10]],
            f"ratings: {'yes' if self.ratings else 'none (no collaborative model)'}",
            f"serve it with: MARQUEE_WORKSPACE={self.catalog_dir.parent} MARQUEE_CATALOG={self.catalog_dir} marquee serve",
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


def ingest_catalog(source: Path, *, workspace: Path, ratings: Path | None = None, progress: bool = True) -> IngestSummary:
    """Read ``source``, write ``workspace/catalog`` and build the text index."""
    from retrieval.encoder import load_text_encoder
    from retrieval.loaders import load_source
    from retrieval.store import open_item_store

    items, problems = load_source(Path(source))
    if not items:
        raise CatalogError(f"no usable items in {source} ({len(problems)} rows skipped)")
    catalog_dir = Path(workspace) / "catalog"
    write_items(items, catalog_dir / "items.jsonl")
    if ratings is not None:
        if not Path(ratings).is_file():
            raise CatalogError(f"ratings file not found: {ratings}")
        shutil.copyfile(ratings, catalog_dir / "ratings.csv")
    settings = Settings(workspace=Path(workspace), catalog=catalog_dir)
    catalog = Catalog(items)
    open_item_store(settings, catalog, load_text_encoder(settings), progress=progress)
    return IngestSummary(
        items=len(items), skipped=len(problems), catalog_dir=catalog_dir, problems=problems,
        ratings=(catalog_dir / "ratings.csv").exists(),
    )
