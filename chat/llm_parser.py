"""The LLM parser: an OpenAI-compatible model fills the same ``PreferenceUpdate`` as the rule parser.

The answer's JSON schema (``answer_schema``: the slots, the catalog's genres as an enum) is sent
the way the endpoint takes it (``marquee.llm.invoke_structured``). Validate, re-ask, fall back
(instructor-style): the model's JSON is validated into ``PreferenceUpdate`` with the catalog's
genre vocabulary; an answer that does not validate is sent back with the error, a bounded number
of times. When the endpoint is refused, times out or never produces a valid answer, the rule
parser answers instead and the update says so in its notes.

A valid answer is then reconciled with the rule parser's reading (``chat.reconcile``): the rules'
confident findings stand, the model refines and adds. Every attempt is recorded for the audit
log (``last_attempts``, per thread).
"""

from __future__ import annotations

import logging
import threading
from typing import Any, get_args

from langchain_core.messages import BaseMessage
from pydantic import BaseModel, Field, ValidationError

from chat.parser import ParseContext, PreferenceParser, resolve_people, resolve_titles
from chat.reconcile import reconcile
from chat.schemas import CritiqueAttribute, Direction, FeedbackKind, Intent, ItemQuestion, PreferenceUpdate
from marquee.errors import LLMError
from marquee.llm import EndpointError, JsonAsker, json_object
from prompts.parser import render_context, render_parser_messages, render_reask

logger = logging.getLogger(__name__)

NOTE_NO_ANSWER = "the language model did not answer; used the rule parser"
NOTE_INVALID_ANSWER = "the language model's answer did not validate; used the rule parser"

_TITLE_LISTS = ("titles_like", "titles_exclude")
MAX_ANSWER_TOKENS = 400  # a full answer is ~150 tokens; a model that rambles is cut, then re-asked
_MODEL_MAY_NOT_SET = ("notes",)  # notes are ours: they are shown to the user as honest remarks


class LLMAttempt(BaseModel):
    """One request to the model while parsing one utterance: what came back, what was wrong."""

    number: int
    output: str | None = Field(None, description="The model's text, if it answered.")
    error: str | None = Field(None, description="Why the answer was not used, if it was not.")
    seconds: float = 0.0


class InvalidAnswer(ValueError):
    """The model answered, but not with a usable ``PreferenceUpdate``; the message is re-sent to it."""


class LLMParser:
    """``PreferenceParser`` backed by a chat model, with the rule parser as its fallback."""

    def __init__(
        self,
        model: Any,
        catalog: Any,
        *,
        fallback: PreferenceParser,
        max_retries: int = 2,
        json_mode: bool = True,
    ) -> None:
        """``model``: a LangChain chat model (``marquee.llm.build_chat_model``); ``max_retries``:
        re-asks after the first answer; ``json_mode``: request ``response_format=json_object``
        (turned off by itself if the endpoint rejects it)."""
        self.model = model
        self.catalog = catalog
        self.fallback = fallback
        self.asker = JsonAsker(model, max_retries=max_retries, json_mode=json_mode, max_tokens=MAX_ANSWER_TOKENS)
        self._genres: dict[str, str] = {g.casefold(): g for g in catalog.genres}
        self._local = threading.local()

    @property
    def last_attempts(self) -> list[LLMAttempt]:
        """The attempts of this thread's latest ``parse`` call (empty before the first)."""
        return list(getattr(self._local, "attempts", []))

    def parse(self, utterance: str, context: ParseContext) -> PreferenceUpdate:
        """Parse with the model and reconcile with the fallback's reading; on final failure, the
        fallback's reading alone, and ``notes`` say so."""
        attempts: list[LLMAttempt] = []
        self._local.attempts = attempts
        rules = self.fallback.parse(utterance, context)
        try:
            update = self._ask(utterance, context, attempts)
        except LLMError as exc:
            logger.warning("LLM parser gave up after %d attempt(s): %s; using the fallback parser", exc.attempts, exc)
            note = NOTE_NO_ANSWER if isinstance(exc.__cause__, EndpointError) else NOTE_INVALID_ANSWER
            rules.notes.append(note)
            return rules
        update = resolve_titles(update, self.catalog)
        update.notes = []  # unresolved titles of the model's are dropped by the reconciliation, not noted
        return reconcile(rules, update, utterance)

    def _ask(self, utterance: str, context: ParseContext, attempts: list[LLMAttempt]) -> PreferenceUpdate:
        """Ask, validate, re-ask; raises ``LLMError`` (caused by the last failure) when out of attempts."""
        shown = context.shown
        summary = render_context(context.history, [(item.label, item.genres) for item in shown])
        messages: list[BaseMessage] = render_parser_messages(utterance, summary, self.catalog.genres)
        return self.asker.ask(
            messages, lambda text: self._validate(text, n_shown=len(shown)), invalid=InvalidAnswer, reask=render_reask,
            on_attempt=lambda number, output, error, seconds: attempts.append(
                LLMAttempt(number=number, output=output, error=error, seconds=seconds)),
            what="parser answer", schema=answer_schema(self.catalog.genres, n_shown=len(shown)),
        )

    def _validate(self, text: str, *, n_shown: int) -> PreferenceUpdate:
        """The model's text as a ``PreferenceUpdate``, or ``InvalidAnswer`` saying what to fix."""
        data = json_object(text, error=InvalidAnswer)
        if "intent" not in data:
            raise InvalidAnswer('the key "intent" is missing')
        data = {k: v for k, v in data.items() if v is not None and k not in _MODEL_MAY_NOT_SET}
        for key in _TITLE_LISTS:
            if isinstance(data.get(key), list):
                data[key] = [{"text": t} if isinstance(t, str) else _title_text(t) for t in data[key]]
        for key in ("genres_include", "genres_exclude"):
            if isinstance(data.get(key), list):
                data[key] = self._catalog_genres(data[key], key)
        try:
            update = PreferenceUpdate.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']}" for e in exc.errors(include_url=False)
            )
            raise InvalidAnswer(problems) from exc
        beyond = [p for p in update.refers_to_shown if p > n_shown]
        if beyond:
            raise InvalidAnswer(
                f"refers_to_shown {beyond} points past the {n_shown} item(s) shown" if n_shown
                else "refers_to_shown must be empty: no items were shown"
            )
        update.people_include = resolve_people(update.people_include, self.catalog)
        update.people_exclude = resolve_people(update.people_exclude, self.catalog)
        return update

    def _catalog_genres(self, values: list[Any], key: str) -> list[str]:
        """Genre names in the catalog's spelling; any other name is an ``InvalidAnswer``."""
        known, unknown = [], []
        for value in values:
            name = self._genres.get(str(value).strip().casefold())
            (known if name else unknown).append(name or str(value))
        if unknown:
            raise InvalidAnswer(
                f"{key} has genre names the catalog does not use: {', '.join(map(repr, unknown))}. "
                f"Use only: {', '.join(self.catalog.genres)} (or leave it out)"
            )
        return list(dict.fromkeys(known))



def _title_text(value: Any) -> Any:
    """A title object from the model, reduced to its text: catalog ids are resolved by us."""
    if isinstance(value, dict) and "text" in value:
        return {"text": value["text"]}
    return value


def answer_schema(genres: list[str] | tuple[str, ...], *, n_shown: int = 5) -> dict[str, Any]:
    """The JSON schema of the parser's answer: the slots the prompt lists, genres from the catalog,
    positions of shown items up to ``n_shown`` (no such key when nothing was shown).

    Bounded (list lengths, string lengths) so that a grammar-constrained small model cannot loop.
    """
    def strings(n: int, length: int = 80) -> dict[str, Any]:
        return {"type": "array", "items": {"type": "string", "maxLength": length}, "maxItems": n}

    genre_list: dict[str, Any] = ({"type": "array", "items": {"enum": list(genres)}, "maxItems": 4} if genres
                                  else {"type": "array", "maxItems": 0})
    year = {"type": "integer", "minimum": 1870, "maximum": 2100}
    minutes = {"type": "integer", "minimum": 1, "maximum": 1200}
    properties: dict[str, Any] = {
        "intent": {"enum": list(get_args(Intent))},
        "genres_include": genre_list,
        "genres_exclude": genre_list,
        "people_include": strings(3),
        "people_exclude": strings(3),
        "titles_like": strings(3, 120),
        "titles_exclude": strings(5, 120),
        "year_min": year,
        "year_max": year,
        "runtime_min": minutes,
        "runtime_max": minutes,
        "audience": {"enum": ["kids", "adults"]},
        "keywords": strings(4, 40),
        "critiques": {"type": "array", "maxItems": 3, "items": {
            "type": "object",
            "properties": {"attribute": {"enum": list(get_args(CritiqueAttribute))},
                           "direction": {"enum": list(get_args(Direction))}},
            "required": ["attribute", "direction"], "additionalProperties": False}},
        "refers_to_shown": {"type": "array", "maxItems": max(1, n_shown),
                            "items": {"type": "integer", "minimum": 1, "maximum": max(1, n_shown)}},
        "feedback": {"enum": list(get_args(FeedbackKind))},
        "ask": {"enum": list(get_args(ItemQuestion))},
        "query": {"type": "string", "maxLength": 120},
    }
    if not n_shown:
        del properties["refers_to_shown"]
    return {"type": "object", "properties": properties, "required": ["intent"], "additionalProperties": False}
