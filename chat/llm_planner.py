"""The LLM planner: a chat model calls the registered tools over one candidate buffer.

The model chooses the tool calls (LangChain tool calling); the tools, the buffer and the cards
are ours. A tool error goes back to the model as the tool's answer so it can correct itself.
The reply is always built by ``chat.policy.finalize_reply`` from the buffer, so model text can
never put an item on a card; text that names a title the cards don't show is dropped for the
template text. When the endpoint fails or the loop yields nothing usable, the policy planner
answers the turn instead and the reply says so in its notes.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from pydantic import BaseModel, Field

import tools.base as tool_base
import tools.registry  # noqa: F401  (registers the tools both planners use)
from chat.llm import invoke_model, message_text
from chat.planning import Planner, PlannerResult, TurnInput
from chat.schemas import Reply
from chat.policy import finalize_reply
from marquee.errors import LLMError, ToolError
from prompts.planner import render_planner_messages, render_tool_error, render_tool_result
from retrieval.catalog import fold, normalize_title
from tools.base import CandidateBuffer, ToolDeps

logger = logging.getLogger(__name__)

NOTE_FALLBACK = "the language model did not plan this turn; used the policy planner"
# Turns the policy planner answers from catalog facts: the LLM has no tool to look facts up.
DELEGATED_INTENTS = frozenset({"ask_item", "reset"})
# Turns that must end with candidates or a question, else the policy planner takes over.
RECOMMENDING_INTENTS = frozenset({"recommend", "refine", "feedback"})
MAX_TEXT_CHARS = 600
_MARKUP = re.compile(r"[{}<>\[\]`]|\bfunction\b|tool_call", re.I)


class PlannerStep(BaseModel):
    """One model answer in the loop: its text or its tool calls, and what failed."""

    number: int
    text: str | None = None
    tool_calls: list[dict[str, Any]] = Field(default_factory=list)
    errors: list[str] = Field(default_factory=list)


def tool_specs(registry: dict[str, Any]) -> list[dict[str, Any]]:
    """The registered tools in OpenAI function format: name, docstring, JSON schema of the args."""
    return [
        {
            "type": "function",
            "function": {
                "name": spec.name,
                "description": spec.description or (spec.args_model.__doc__ or "").strip(),
                "parameters": spec.args_model.model_json_schema(),
            },
        }
        for spec in registry.values()
    ]


class LLMPlanner:
    """``Planner`` that lets a chat model choose the tool calls, with the policy planner as fallback."""

    def __init__(self, model: Any, *, fallback: Planner, max_steps: int = 6) -> None:
        """``model``: a LangChain chat model that supports ``bind_tools``; ``max_steps``: model
        answers per turn (each answer may call several tools)."""
        self.model = model
        self.fallback = fallback
        self.max_steps = max_steps
        self._local = threading.local()

    @property
    def last_steps(self) -> list[PlannerStep]:
        """The model answers of this thread's latest ``respond`` call, for the audit log."""
        return list(getattr(self._local, "steps", []))

    def respond(self, turn: TurnInput, *, deps: ToolDeps) -> PlannerResult:
        """Plan and answer one turn."""
        steps: list[PlannerStep] = []
        self._local.steps = steps
        if turn.update.intent in DELEGATED_INTENTS:
            return self.fallback.respond(turn, deps=deps)
        buffer = CandidateBuffer(preferences=turn.state, history=turn.history, demographics=turn.demographics)
        try:
            text = self._loop(turn, deps, buffer, steps)
        except LLMError as exc:
            logger.warning("LLM planner failed: %s; using the policy planner", exc)
            return self._fall_back(turn, deps)
        if not buffer.items and not buffer.question and (turn.update.intent in RECOMMENDING_INTENTS or not text):
            logger.info("LLM planner produced no candidates, question or answer; using the policy planner")
            return self._fall_back(turn, deps)
        return self._finish(turn, buffer, deps, text)

    def _loop(self, turn: TurnInput, deps: ToolDeps, buffer: CandidateBuffer, steps: list[PlannerStep]) -> str | None:
        """Run model answers and tool calls until the model answers in text; that text, or None."""
        registry = tool_base.TOOLS
        bound = self.model.bind_tools(tool_specs(registry))
        messages: list[BaseMessage] = render_planner_messages(turn, deps.catalog)
        for number in range(1, self.max_steps + 1):
            reply: AIMessage = invoke_model(bound, messages)
            messages.append(reply)
            step = PlannerStep(number=number)
            steps.append(step)
            if not reply.tool_calls and not reply.invalid_tool_calls:
                step.text = message_text(reply)
                return step.text
            for call in reply.tool_calls:
                step.tool_calls.append({"name": call["name"], "args": call["args"]})
                messages.append(self._run_tool(call["name"], call["args"], call.get("id"), deps, buffer, step))
            for bad in reply.invalid_tool_calls:
                error = f"arguments of {bad.get('name')!r} are not valid JSON: {str(bad.get('args'))[:200]}"
                step.errors.append(error)
                buffer.calls.append({"tool": bad.get("name"), "args": bad.get("args"), "error": error})
                messages.append(ToolMessage(render_tool_error(error), tool_call_id=bad.get("id") or f"call_{number}"))
        logger.info("LLM planner stopped after %d steps without a final answer", self.max_steps)
        return None

    def _run_tool(
        self, name: str, args: dict[str, Any], call_id: str | None, deps: ToolDeps, buffer: CandidateBuffer,
        step: PlannerStep,
    ) -> ToolMessage:
        """Call one tool; a ``ToolError`` becomes the tool's answer instead of an exception."""
        call_id = call_id or f"call_{step.number}"
        try:
            result = tool_base.call_tool(name, args, deps=deps, buffer=buffer)
        except ToolError as exc:
            step.errors.append(str(exc))
            buffer.calls.append({"tool": name, "args": args, "error": str(exc)})
            return ToolMessage(render_tool_error(str(exc)), tool_call_id=call_id)
        return ToolMessage(render_tool_result(result, buffer, deps.catalog), tool_call_id=call_id)

    def _finish(self, turn: TurnInput, buffer: CandidateBuffer, deps: ToolDeps, text: str | None) -> PlannerResult:
        """Cards from the buffer; the model's text only if it is short and names no other title."""
        text = sane_text(text)
        if not buffer.items:  # a greeting, small talk or a clarifying question: no cards to build
            return self._answer_without_cards(turn, buffer, deps, text)
        snapshot = buffer.model_copy(deep=True) if text else None
        reply = finalize_reply(turn, buffer, deps, text=text)
        if snapshot is not None:
            allowed = _allowed_ids(turn, [card.id for card in reply.items])
            strangers = titles_named(text or "", deps.catalog, allowed)
            if strangers:
                logger.info("LLM planner text names titles not on the cards (%s); using the template text", strangers)
                buffer = snapshot
                reply = finalize_reply(turn, buffer, deps, text=None)
        return PlannerResult(reply=reply, buffer=buffer)

    def _answer_without_cards(
        self, turn: TurnInput, buffer: CandidateBuffer, deps: ToolDeps, text: str | None
    ) -> PlannerResult:
        """A reply with no items: the question the ask tool set, or the model's own short answer."""
        if text and titles_named(text, deps.catalog, _allowed_ids(turn, [])):
            text = None
        if buffer.question:
            reply = Reply(text=text or buffer.question, question=True, notes=list(turn.update.notes))
            return PlannerResult(reply=reply, buffer=buffer)
        if text is None:
            return self._fall_back(turn, deps)
        reply = Reply(text=text, question=text.endswith("?"), notes=list(turn.update.notes))
        return PlannerResult(reply=reply, buffer=buffer)

    def _fall_back(self, turn: TurnInput, deps: ToolDeps) -> PlannerResult:
        result = self.fallback.respond(turn, deps=deps)
        if NOTE_FALLBACK not in result.reply.notes:
            result.reply.notes.append(NOTE_FALLBACK)
        return result


def sane_text(text: str | None) -> str | None:
    """The model's final text if it reads like a short answer to a person, else None. A final colon
    becomes a full stop: the cards, not the text, carry the list."""
    if not text:
        return None
    text = " ".join(text.split())
    if not text or len(text) > MAX_TEXT_CHARS or _MARKUP.search(text):
        return None
    return text[:-1].rstrip() + "." if text.endswith(":") else text  # the cards carry the list


def titles_named(text: str, catalog: Any, allowed_ids: set[str]) -> list[str]:
    """Catalog titles that ``text`` names but that belong to none of ``allowed_ids``.

    Only distinctive titles are checked (two words or more, or one word of 8+ letters), so
    everyday words that happen to be titles do not count.
    """
    folded = f" {fold(text)} "
    allowed_keys = {normalize_title(catalog.get(i).title) for i in allowed_ids if catalog.get(i) is not None}
    named = []
    for key in catalog.by_title:
        if key in allowed_keys or not (" " in key or len(key) >= 8):
            continue
        if f" {key} " in folded:
            named.append(key)
    return named


def _allowed_ids(turn: TurnInput, card_ids: list[str]) -> set[str]:
    """Items the text may name: the cards, and what the user named, liked or was shown."""
    state = turn.state
    named = [ref.item_id for ref in [*turn.update.titles_like, *turn.update.titles_exclude] if ref.item_id]
    return {*card_ids, *state.anchor_ids, *state.liked_ids, *state.last_shown_ids, *named}
