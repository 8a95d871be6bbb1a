"""What every tool shares: the resources it reads, the per-turn candidate buffer, the registry.

A tool is a plain typed function ``fn(args, *, deps, buffer) -> result`` where ``args`` and
``result`` are pydantic models. Both planners (policy and LLM) call tools only through
``call_tool`` with the tool's exact name, so a bad name or bad arguments always raises
``ToolError`` and never reaches a tool body.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from pydantic import BaseModel, Field, ValidationError

from chat.schemas import PreferenceState
from marquee.errors import ToolError
from retrieval.demographics import Demographics


class ScoredItem(BaseModel):
    """A candidate with its score and the signals that produced it (what explain may cite)."""

    id: str
    score: float = 0.0
    signals: dict[str, float] = Field(default_factory=dict, description="e.g. dense, keyword, cf, popularity, anchor")
    anchor_id: str | None = Field(None, description="The liked/named item this one is similar to, if any.")
    unverified: list[str] = Field(
        default_factory=list, description="Constraints the catalog could not check for this item (unknown facts)."
    )
    image_anchor_id: str | None = Field(
        None, description="The named item whose poster this one's looks like (visual requests), if any."
    )


class Explanation(BaseModel):
    item_id: str
    why: str = Field(description="One or two sentences citing only attributes the item has.")
    reasons: list[str] = Field(default_factory=list, description="Cited attributes, e.g. 'genre:Comedy', 'person:Tom Hanks'.")


class CandidateBuffer(BaseModel):
    """One turn's working set: the preferences it serves and the candidates tools pass along."""

    preferences: PreferenceState
    history: dict[str, float] = Field(
        default_factory=dict, description="The user's real interactions: item id -> weight (liked > 0, disliked < 0)."
    )
    demographics: Demographics | None = Field(
        None, description="What the user told about themselves, validated (None: nothing given)."
    )
    items: list[ScoredItem] = Field(default_factory=list)
    explanations: dict[str, Explanation] = Field(default_factory=dict)
    question: str | None = None
    notes: list[str] = Field(default_factory=list, description="Honest notes for the reply (relaxed filters, unknown facts).")
    calls: list[dict[str, Any]] = Field(default_factory=list, description="Tool calls made this turn, for the audit log.")
    weights: dict[str, float] = Field(
        default_factory=dict, description="The rank weights used this turn (they depend on the kind of request)."
    )
    visual: bool = Field(False, description="This turn asks for a look: the image score dominates relevance.")
    picture: list[float] | None = Field(
        None, exclude=True, description="A picture sent this turn, embedded in the image space (not logged)."
    )

    def add(self, new: list[ScoredItem]) -> None:
        """Merge candidates: an item found twice keeps the better score and both sets of signals."""
        by_id = {item.id: item for item in self.items}
        for item in new:
            old = by_id.get(item.id)
            if old is None:
                by_id[item.id] = item
                continue
            old.signals.update({k: max(v, old.signals.get(k, v)) for k, v in item.signals.items()})
            old.score = max(old.score, item.score)
            old.anchor_id = old.anchor_id or item.anchor_id
            old.image_anchor_id = old.image_anchor_id or item.image_anchor_id
        self.items = list(by_id.values())

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)


@dataclass
class ToolDeps:
    """Resources tools read. Built once per process by the service and passed explicitly."""

    catalog: Any  # retrieval.catalog.Catalog
    store: Any  # retrieval.store.ItemStore
    encoder: Any  # retrieval.encoder.TextEncoder
    keywords: Any  # retrieval.search.KeywordIndex
    cf: Any | None  # retrieval.cf.CFModel
    settings: Any  # marquee.settings.Settings
    similarity: Any | None = None  # retrieval.similarity.ItemSimilarity: why two items are alike
    mood_evidence: dict[str, bool] = field(default_factory=dict)  # mood -> does any item carry a tag for it
    extras: dict[str, Any] = field(default_factory=dict)
    image_store: Any | None = None  # retrieval.store.ItemStore of items_image; None: no posters to compare
    image_encoder: Any | None = None  # retrieval.modalities.ImageEncoder (pictures and words -> image space)
    modality_stores: dict[str, Any] = field(default_factory=dict)  # precomputed modalities: name -> ItemStore
    posters: dict[str, Any] = field(default_factory=dict)  # item id -> poster file (pathlib.Path) for the cards
    lock: Any = field(default_factory=threading.Lock)  # guards the caches tools keep in ``extras`` (turns run in threads)


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    args_model: type[BaseModel]
    result_model: type[BaseModel]
    fn: Callable[..., BaseModel]


TOOLS: dict[str, Tool] = {}


def tool(name: str, args_model: type[BaseModel], result_model: type[BaseModel]):
    """Register a tool function under ``name``; its docstring is what an LLM reads about it."""

    def register(fn: Callable[..., BaseModel]) -> Callable[..., BaseModel]:
        if name in TOOLS:
            raise RuntimeError(f"tool {name!r} registered twice")
        TOOLS[name] = Tool(name, (fn.__doc__ or "").strip(), args_model, result_model, fn)
        return fn

    return register


def call_tool(name: str, args: dict[str, Any] | BaseModel, *, deps: ToolDeps, buffer: CandidateBuffer) -> BaseModel:
    """Validate ``args`` and run the tool registered as ``name``. Every failure is a ``ToolError``."""
    spec = TOOLS.get(name)
    if spec is None:
        raise ToolError(f"unknown tool {name!r}; known: {', '.join(sorted(TOOLS))}")
    try:
        parsed = args if isinstance(args, spec.args_model) else spec.args_model.model_validate(
            args if isinstance(args, dict) else args.model_dump()
        )
    except ValidationError as exc:
        raise ToolError(f"bad arguments for {name}: {exc.errors(include_url=False)}") from exc
    started = time.perf_counter()
    result = spec.fn(parsed, deps=deps, buffer=buffer)
    elapsed_ms = (time.perf_counter() - started) * 1000
    buffer.calls.append({"tool": name, "args": parsed.model_dump(), "result": result.model_dump(), "ms": elapsed_ms})
    return result
