"""The LLM parser's prompt: the slots it must fill, the catalog's genres, worked examples.

Every dynamic part comes from data passed in (the schema's literals, the catalog's genre list,
the conversation context); agent code only calls ``render_parser_messages`` and
``render_reask``.
"""

from __future__ import annotations

import json
from string import Template
from typing import Any, Iterable, Sequence, get_args

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from chat.schemas import CritiqueAttribute, Direction, FeedbackKind, Intent, ItemQuestion

HISTORY_TURNS = 4  # earlier turns shown to the model
MAX_UTTERANCE_IN_HISTORY = 300

SYSTEM_TEMPLATE = Template(
    """You turn one message of a person talking to a movie recommender into JSON.
Answer with ONE JSON object and nothing else: no prose, no code fences.

Keys (leave out every key that does not apply):
- "intent": one of $intents.
  greet = hello/small talk; recommend = a new request; refine = change the current request or
  ask for more like shown items; feedback = says they liked, disliked or have seen items;
  ask_item = a question about a shown or named item; reset = start over / forget everything;
  other = anything else.
- "genres_include", "genres_exclude": lists of genre names, ONLY from this list:
  $genres.
  Map everyday words onto it (a rom-com is Romance and Comedy, scary is Horror, a cartoon is
  Animation). A negated genre ("no horror", "nothing animated") goes to genres_exclude, never
  to genres_include.
- "people_include", "people_exclude": names of actors, directors or writers, as written.
- "titles_like": titles the person wants something similar to.
- "titles_exclude": titles they dislike or have already seen.
- "year_min", "year_max": integers ("90s" = 1990 to 1999, "before 1980" = year_max 1979,
  "after 2010" = year_min 2011).
- "runtime_min", "runtime_max": minutes ("under 2 hours" = runtime_max 120).
- "audience": one of $audiences.
- "keywords": short mood or theme words from the message ("feel-good", "heist", "dark").
- "critiques": list of {"attribute": one of $attributes, "direction": one of $directions},
  for wishes relative to what was shown ("less violent", "newer", "shorter", "funnier").
- "refers_to_shown": 1-based positions of shown items the message points at ("the second
  one" = [2], "those" = all positions).
- "feedback": one of $feedback, with refers_to_shown or titles_exclude/titles_like saying which.
- "ask": for intent ask_item, one of $asks.
- "query": the request in a few plain words, for a search engine.

Use only what the message (and the context for "the second one", "those") says. Never invent
titles, people or genres.

Examples:
$examples"""
)

CONTEXT_TEMPLATE = Template(
    """Context of the conversation:
$history
Items shown in the previous assistant turn:
$shown"""
)

USER_TEMPLATE = Template(
    """$context

Message to turn into JSON:
$utterance"""
)

REASK_TEMPLATE = Template(
    """Your answer could not be used: $error
Answer again with only the corrected JSON object."""
)

# Worked examples: (message, items shown before it, expected JSON). Illustrations, not test data.
EXAMPLES: tuple[tuple[str, tuple[str, ...], dict[str, Any]], ...] = (
    ("hello!", (), {"intent": "greet"}),
    (
        "an animated film for the kids, under 100 minutes, no horror",
        (),
        {"intent": "recommend", "genres_include": ["Animation"], "genres_exclude": ["Horror"],
         "audience": "kids", "runtime_max": 100, "query": "animated film for kids"},
    ),
    (
        "something like Alien but funnier, from the 80s, without Sigourney Weaver",
        (),
        {"intent": "recommend", "titles_like": ["Alien"], "year_min": 1980, "year_max": 1989,
         "people_exclude": ["Sigourney Weaver"], "critiques": [{"attribute": "humor", "direction": "more"}],
         "query": "like Alien but funnier"},
    ),
    (
        "a dark psychological thriller",
        (),
        {"intent": "recommend", "genres_include": ["Thriller"], "keywords": ["dark", "psychological"],
         "query": "dark psychological thriller"},
    ),
    (
        "more like the third one but shorter",
        ("Heat (1995)", "Ronin (1998)", "Collateral (2004)"),
        {"intent": "refine", "refers_to_shown": [3], "critiques": [{"attribute": "length", "direction": "less"}]},
    ),
    (
        "seen the first two already",
        ("Heat (1995)", "Ronin (1998)", "Collateral (2004)"),
        {"intent": "feedback", "feedback": "seen", "refers_to_shown": [1, 2]},
    ),
    (
        "who directed the second one?",
        ("Heat (1995)", "Ronin (1998)"),
        {"intent": "ask_item", "ask": "director", "refers_to_shown": [2]},
    ),
    ("let's start over", (), {"intent": "reset"}),
)


def _choices(values: Iterable[str]) -> str:
    return ", ".join(f'"{v}"' for v in values)


def render_examples(genres: Sequence[str]) -> str:
    """The worked examples whose genres the catalog has (an example must not teach a foreign genre)."""
    known = set(genres)
    blocks = []
    for utterance, shown, expected in EXAMPLES:
        used = set(expected.get("genres_include", [])) | set(expected.get("genres_exclude", []))
        if not used <= known:
            continue
        shown_line = f"(shown: {'; '.join(shown)})\n" if shown else ""
        blocks.append(f"{shown_line}Message: {utterance}\nJSON: {json.dumps(expected)}")
    return "\n\n".join(blocks)


def render_system_prompt(genres: Sequence[str]) -> str:
    """The parser's system prompt for a catalog with these genre names."""
    return SYSTEM_TEMPLATE.substitute(
        intents=_choices(get_args(Intent)),
        genres=", ".join(genres) if genres else "(this catalog has no genres: leave both lists out)",
        audiences=_choices(("kids", "adults")),
        attributes=_choices(get_args(CritiqueAttribute)),
        directions=_choices(get_args(Direction)),
        feedback=_choices(get_args(FeedbackKind)),
        asks=_choices(get_args(ItemQuestion)),
        examples=render_examples(genres),
    )


ROLES = ("user", "assistant", "system")


def _history_lines(history: Sequence[tuple[str, str]]) -> list[str]:
    """Earlier turns as ``user: ...`` / ``assistant: ...`` lines, the last few only.

    A pair is ``(role, text)`` when its first element is a role name, else an exchange
    ``(user utterance, assistant reply)`` as the service stores turns.
    """
    lines: list[str] = []
    for first, second in history[-HISTORY_TURNS:]:
        pairs = [(first, second)] if first in ROLES else [("user", first), ("assistant", second)]
        lines += [f"{role}: {' '.join(text.split())[:MAX_UTTERANCE_IN_HISTORY]}" for role, text in pairs if text]
    return lines


def render_context(history: Sequence[tuple[str, str]], shown: Sequence[tuple[str, Sequence[str]]]) -> str:
    """Earlier turns and the items shown last, as the model reads them.

    ``history`` is oldest first (see ``_history_lines``); ``shown`` is (label, genres) in display
    order. Returns an empty string when there is no context.
    """
    if not history and not shown:
        return ""
    items = [
        f"{n}. {label}" + (f" ({', '.join(genres)})" if genres else "") for n, (label, genres) in enumerate(shown, 1)
    ]
    return CONTEXT_TEMPLATE.substitute(
        history="\n".join(_history_lines(history)) or "(no earlier turns)",
        shown="\n".join(items) or "(none)",
    )


def render_parser_messages(utterance: str, context_summary: str, genres: Sequence[str]) -> list[BaseMessage]:
    """The messages of a first parsing request: system prompt, then context and message."""
    user = USER_TEMPLATE.substitute(context=context_summary or "(start of the conversation)", utterance=utterance)
    return [SystemMessage(render_system_prompt(genres)), HumanMessage(user)]


def render_reask(error: str) -> HumanMessage:
    """The follow-up message after an answer that did not validate (instructor-style re-ask)."""
    return HumanMessage(REASK_TEMPLATE.substitute(error=error))
