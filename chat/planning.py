"""The planner interface shared by the policy planner and the LLM planner."""

from __future__ import annotations

from typing import Callable, Protocol

from pydantic import BaseModel, Field

from chat.schemas import PreferenceState, PreferenceUpdate, Reply
from retrieval.demographics import Demographics
from tools.base import CandidateBuffer, ToolDeps


class TurnInput(BaseModel):
    """Everything a planner needs for one turn."""

    utterance: str
    update: PreferenceUpdate
    state: PreferenceState = Field(description="The conversation's preferences after merging this turn's update.")
    history: dict[str, float] = Field(
        default_factory=dict, description="The user's real interactions: item id -> weight (liked > 0, disliked < 0)."
    )
    n_items: int = Field(5, ge=1, le=100, description="Cards to return (benchmarks ask for up to 100).")
    demographics: Demographics | None = Field(
        None, description="What the user told about themselves, validated (None: nothing given)."
    )
    previous_text: str | None = Field(
        None, description="The conversation's previous reply text: a new heading never repeats it word for word."
    )
    must_list: bool = Field(
        False, description="The caller needs a ranked list (a carousel, a benchmark): no clarifying question or "
        "small talk instead of items; with nothing to go on, the list is the history's and the catalog's best.",
    )
    on_text: Callable[[str], None] | None = Field(
        None, exclude=True, description="Gets the reply's text piece by piece while a model writes it (streaming); "
        "the pieces concatenate to the reply's text. Not called for template text.",
    )


class PlannerResult(BaseModel):
    reply: Reply
    buffer: CandidateBuffer


class Planner(Protocol):
    def respond(self, turn: TurnInput, *, deps: ToolDeps) -> PlannerResult: ...
