"""The LLM planner: a chat model calls the registered tools over one candidate buffer, then
writes the reply's text, streamed as it arrives.

A turn that needs candidates starts with a forced tool call (``search``, or ``similar`` when the
user named or pointed at titles): small models asked with ``tool_choice: auto`` answer in prose
instead. Later steps are the model's choice; a tool error goes back to the model as the tool's
answer so it can correct itself. If the model's calls leave the buffer thin, the policy
planner's gathering tops it up. The cards are always built by ``chat.policy.finalize_reply``
from the buffer, so model text can never put an item on a card.

The text is written last, by a plain streaming call that sees the cards (``render_writer_messages``).
``GuardedText`` passes each piece to the turn's ``on_text`` as it arrives, holding back only
words that could still become a title: text that names a title not on the cards, turns into
markup or runs too long is cut there (or replaced by the template text if nothing was passed
on yet). When the endpoint fails or the loop yields nothing usable, the policy planner answers
the turn instead and the reply says so in its notes.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any, Callable

from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from pydantic import BaseModel, Field

import tools.base as tool_base
import tools.registry  # noqa: F401  (registers the tools both planners use)
from chat.parser import TitleIndex, key_words
from chat.planning import Planner, PlannerResult, TurnInput
from chat.policy import MIN_POOL, finalize_reply, gather_candidates
from chat.schemas import Reply
from marquee.errors import LLMError, ToolError
from marquee.llm import OUTPUT_MODES, REFUSAL_STATUSES, EndpointError, invoke_model, message_text, stream_model
from prompts.planner import render_planner_messages, render_tool_error, render_tool_result, render_writer_messages
from retrieval.catalog import fold, normalize_title
from tools.base import CandidateBuffer, ToolDeps

logger = logging.getLogger(__name__)

NOTE_FALLBACK = "the language model did not plan this turn; used the policy planner"
NOTE_TEXT_CUT = "the language model's reply text was cut where it stopped matching the cards"
# Turns the policy planner answers from catalog facts: the LLM has no tool to look facts up.
DELEGATED_INTENTS = frozenset({"ask_item", "reset"})
# Turns that must end with candidates or a question, else the policy planner takes over.
RECOMMENDING_INTENTS = frozenset({"recommend", "refine", "feedback"})
MAX_TEXT_CHARS = 600
WRITER_MAX_TOKENS = 120
ECHO_WORDS = 6  # this many words in a row of the prompt in the reply: the model is parroting it
FORCED = "forced_tool_choice"  # a feature an endpoint may refuse (remembered in ``OUTPUT_MODES``)
_MARKUP = re.compile(r"[{}<>\[\]`]|\bfunction\b|tool_call", re.I)
_SENTENCE_END = re.compile(r"[.!?…]$")
# Not a reply to the person: a refusal or apology, or talk about "the user" (a small model
# retelling its instructions). Checked on the first sentence, which is never passed on early.
_NOT_A_REPLY = re.compile(
    r"^\s*(?:i'?m sorry|sorry|i (?:am )?(?:cannot|can'?t|am unable)|i'?m not able|as an ai|as a chatbot|"
    r"unfortunately|the user\b|user:)", re.I)


class PlannerStep(BaseModel):
    """One model answer in the loop: its text or its tool calls, and what failed."""

    number: int
    text: str | None = None
    tool_calls: list[dict[str, Any]] = Field(default_factory=list)
    errors: list[str] = Field(default_factory=list)
    forced: str | None = Field(None, description="The tool the model was made to call, if any.")
    ran: list[str] = Field(default_factory=list, description="The tools of this answer that ran without an error.")


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
    """``Planner`` that lets a chat model choose the tool calls and write the text, with the policy
    planner as fallback."""

    def __init__(self, model: Any, *, fallback: Planner, max_steps: int = 4) -> None:
        """``model``: a LangChain chat model that supports ``bind_tools``; ``max_steps``: model
        answers per turn in the tool loop (each answer may call several tools)."""
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
        intent = turn.update.intent
        if intent in DELEGATED_INTENTS:
            return self.fallback.respond(turn, deps=deps)
        if intent in RECOMMENDING_INTENTS and not turn.state.has_request() and not turn.history:
            return self.fallback.respond(turn, deps=deps)  # nothing to search for: the policy asks
        buffer = CandidateBuffer(preferences=turn.state, history=turn.history, demographics=turn.demographics)
        try:
            if intent in RECOMMENDING_INTENTS:
                self._loop(turn, deps, buffer, steps)
                if len(buffer.items) < MIN_POOL:
                    gather_candidates(turn.state, deps, buffer)
        except LLMError as exc:
            logger.warning("LLM planner failed: %s; using the policy planner", exc)
            return self._fall_back(turn, deps)
        if not buffer.items and not buffer.question and intent in RECOMMENDING_INTENTS:
            logger.info("LLM planner produced no candidates or question; using the policy planner")
            return self._fall_back(turn, deps)
        result = self._finish(turn, buffer, deps, steps)
        if intent in RECOMMENDING_INTENTS and not _model_called_a_tool(steps):
            result.reply.notes.append(NOTE_FALLBACK)  # the candidates came from the policy's gathering
        return result

    def _loop(self, turn: TurnInput, deps: ToolDeps, buffer: CandidateBuffer, steps: list[PlannerStep]) -> None:
        """Tool calls until the model answers in text or ``max_steps``; the first call is forced."""
        specs = tool_specs(tool_base.TOOLS)
        first = "similar" if turn.state.anchor_ids else "search"
        messages: list[BaseMessage] = render_planner_messages(turn, deps.catalog)
        for number in range(1, self.max_steps + 1):
            forced = first if number == 1 and FORCED not in OUTPUT_MODES.refused(self.model) else None
            reply: AIMessage = self._ask_for_tools(specs, messages, forced)
            if reply.tool_calls and not message_text(reply).strip():
                # sent back with the tool results; some servers (llama-cpp-python) refuse a null content
                reply = reply.model_copy(update={"content": " "})
            messages.append(reply)
            step = PlannerStep(number=number, forced=forced)
            steps.append(step)
            if not reply.tool_calls and not reply.invalid_tool_calls:
                step.text = message_text(reply)  # the model is done; its text is rewritten for the cards
                return
            for call in reply.tool_calls:
                step.tool_calls.append({"name": call["name"], "args": call["args"]})
                messages.append(self._run_tool(call["name"], call["args"], call.get("id"), deps, buffer, step))
            for bad in reply.invalid_tool_calls:
                error = f"arguments of {bad.get('name')!r} are not valid JSON: {str(bad.get('args'))[:200]}"
                step.errors.append(error)
                buffer.calls.append({"tool": bad.get("name"), "args": bad.get("args"), "error": error})
                messages.append(ToolMessage(render_tool_error(error), tool_call_id=bad.get("id") or f"call_{number}"))
            if len(buffer.items) >= MIN_POOL and not step.errors:
                return  # enough candidates: the app filters, ranks and explains them
        logger.info("LLM planner stopped after %d steps", self.max_steps)

    def _ask_for_tools(self, specs: list[dict[str, Any]], messages: list[BaseMessage], forced: str | None) -> AIMessage:
        """One planning request; an endpoint that refuses a forced tool choice is asked again
        without it, and not asked with it again (learned once per endpoint)."""
        if forced is None:
            return invoke_model(self.model.bind_tools(specs), messages)
        try:
            return invoke_model(self.model.bind_tools(specs, tool_choice=forced), messages)
        except EndpointError as exc:
            if exc.status not in REFUSAL_STATUSES:
                raise
            OUTPUT_MODES.refuse(self.model, FORCED)
            return invoke_model(self.model.bind_tools(specs), messages)

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
        step.ran.append(name)
        return ToolMessage(render_tool_result(result, buffer, deps.catalog), tool_call_id=call_id)

    def _finish(self, turn: TurnInput, buffer: CandidateBuffer, deps: ToolDeps,
                steps: list[PlannerStep]) -> PlannerResult:
        """Cards from the buffer, then the model's text for them (streamed), or the template text."""
        if not buffer.items:
            if buffer.question:  # the ask tool set a question
                reply = Reply(text=buffer.question, question=True, notes=list(turn.update.notes))
                return PlannerResult(reply=reply, buffer=buffer)
            text = self._write(turn, None, deps, steps)
            if text is None:
                return self._fall_back(turn, deps)
            reply = Reply(text=text, question=text.endswith("?"), notes=list(turn.update.notes))
            return PlannerResult(reply=reply, buffer=buffer)
        reply = finalize_reply(turn, buffer, deps)
        if reply.items:
            text = self._write(turn, reply, deps, steps)
            if text:
                reply.text = text
        return PlannerResult(reply=reply, buffer=buffer)

    def _write(self, turn: TurnInput, reply: Reply | None, deps: ToolDeps, steps: list[PlannerStep]) -> str | None:
        """The model's text for this reply, streamed through ``GuardedText``; None when unusable.

        An endpoint failure before anything was passed on is None (the template text stands);
        after, the text passed on so far is kept and closed."""
        cards = [card.id for card in reply.items] if reply else []
        messages = render_writer_messages(turn, reply, deps.catalog)
        prompt = " ".join(message_text(m) if isinstance(m, AIMessage) else str(m.content) for m in messages)
        guard = GuardedText(deps.catalog, _allowed_ids(turn, cards), sink=turn.on_text, prompt=prompt)
        step = PlannerStep(number=len(steps) + 1)
        steps.append(step)
        try:
            stream_model(self.model, messages, guard.feed, max_tokens=WRITER_MAX_TOKENS)
        except LLMError as exc:
            step.errors.append(str(exc))
            logger.info("LLM planner's text failed: %s", exc)
            guard.cut()
        text = guard.finish()
        step.text = text
        if guard.was_cut and reply is not None and text:
            reply.notes.append(NOTE_TEXT_CUT)
        return text

    def _fall_back(self, turn: TurnInput, deps: ToolDeps) -> PlannerResult:
        result = self.fallback.respond(turn, deps=deps)
        if NOTE_FALLBACK not in result.reply.notes:
            result.reply.notes.append(NOTE_FALLBACK)
        return result


class GuardedText:
    """Model text passed on to ``sink`` as it arrives, only as long as it stays a fit reply.

    The text passed on is always a prefix of the final text (``finish``), so a client that
    concatenates the pieces shows exactly the reply that is stored. Nothing is passed on before
    the first sentence ends (a cut then still leaves a sentence); after it, words that could still
    grow into a catalog title are held back until they cannot, and so are the last ``ECHO_WORDS``
    words; text that opens as a refusal or talks about "the user", names a title outside
    ``allowed_ids``, holds markup, repeats
    ``ECHO_WORDS`` words in a row of the ``prompt`` (a small model parroting its instructions) or
    passes ``max_chars`` is cut before that point.
    """

    def __init__(self, catalog: Any, allowed_ids: set[str], *, sink: Callable[[str], None] | None = None,
                 max_chars: int = MAX_TEXT_CHARS, prompt: str = ""):
        self.catalog, self.allowed_ids, self.sink, self.max_chars = catalog, allowed_ids, sink, max_chars
        self._index = TitleIndex.for_catalog(catalog)
        self._echoes = _shingles(prompt)
        self.raw = ""
        self.passed = ""  # what the sink got, words joined by single spaces
        self.was_cut = False

    def feed(self, piece: str) -> bool:
        """Take one piece of model text; True when the rest is not wanted (the text was cut)."""
        if self.was_cut:
            return True
        candidate = self.raw + piece
        words = candidate.split()
        if not self._fits(" ".join(words)):
            self.was_cut = True
            return True
        self.raw = candidate
        complete = words if candidate[-1:].isspace() else words[:-1]
        ends = [i + 1 for i, w in enumerate(complete) if _SENTENCE_END.search(w)]
        if not ends:
            return False  # the first sentence goes out whole: a cut later still leaves a sentence
        keep = max(0, len(complete) - max(self._title_tail(complete), ECHO_WORDS - 1 if self._echoes else 0))
        self._pass(" ".join(complete[:max(keep, ends[-1])]))  # a whole sentence that fits goes out
        return False

    def cut(self) -> None:
        self.was_cut = True

    def finish(self) -> str | None:
        """The final text: all of it when it fits, else what was passed on, closed; None if nothing."""
        if not self.was_cut:
            whole = " ".join(self.raw.split())
            if whole.endswith(":"):  # the cards, not the text, carry the list (the colon was held back)
                whole = whole[:-1].rstrip() + "."
            if whole and self._fits(whole):
                self._pass(whole)
                return whole
            self.was_cut = True
        kept = self.passed.rstrip()
        if not kept:
            return None
        final = kept if _SENTENCE_END.search(kept) else kept + "…"
        self._pass(final)
        return final

    def _pass(self, text: str) -> None:
        if len(text) > len(self.passed) and text.startswith(self.passed):
            delta, self.passed = text[len(self.passed):], text
            if self.sink is not None:
                self.sink(delta)

    def _fits(self, text: str) -> bool:
        if len(text) > self.max_chars or _MARKUP.search(text) or _shingles(text) & self._echoes:
            return False
        if _NOT_A_REPLY.search(text):
            return False
        return not titles_named(text, self.catalog, self.allowed_ids)

    def _title_tail(self, words: list[str]) -> int:
        """How many trailing words could be the start of a title (held back until they can't)."""
        prefixes = self._index.prefixes
        for n in range(min(len(words), self._index.max_words), 0, -1):
            key = key_words(" ".join(words[-n:]))
            if key and (key in prefixes or key[1:] in prefixes and len(key) > 1):
                return n
        return 0


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


def _shingles(text: str) -> set[tuple[str, ...]]:
    """Every run of ``ECHO_WORDS`` folded words of ``text``."""
    words = fold(text).split()
    return {tuple(words[i:i + ECHO_WORDS]) for i in range(len(words) - ECHO_WORDS + 1)}


def _model_called_a_tool(steps: list[PlannerStep]) -> bool:
    """True when at least one of the model's tool calls ran without an error."""
    return any(step.ran for step in steps)


def _allowed_ids(turn: TurnInput, card_ids: list[str]) -> set[str]:
    """Items the text may name: the cards, and what the user named, liked or was shown."""
    state = turn.state
    named = [ref.item_id for ref in [*turn.update.titles_like, *turn.update.titles_exclude] if ref.item_id]
    return {*card_ids, *state.anchor_ids, *state.liked_ids, *state.last_shown_ids, *named}
