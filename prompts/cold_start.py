"""The LLM history generator's prompt: real users alike, then the new user, then the JSON to write.

In-context learning for cold start ("In-context Learning for Addressing User Cold-start in
Sequential Movie Recommenders", RecSys 2025): the model sees a few real training users whose
demographics resemble the new user's, with the first items each of them liked, and imagines the
first items the new user would like, as attributes from the catalog's own vocabulary. Every
dynamic part comes from schema objects (``Demographics``, ``Item``); agent code only calls
``render_history_messages`` and ``render_reask``.
"""

from __future__ import annotations

from string import Template
from typing import Sequence

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from retrieval.catalog import Item
from retrieval.demographics import Demographics

SYSTEM_TEMPLATE = Template(
    """You imagine the first movies a new user of a movie recommender will enjoy, from what they told
us about themselves and from real users who resemble them.
Answer with ONE JSON object and nothing else: no prose, no code fences. Its shape:
{"items": [{"genres": ["..."], "era": "...", "keywords": ["..."], "title": "..."}, ...]}

Rules for each item:
- "genres": 1 to 3 names, ONLY from this list: $genres.
- "era": the decade, ONLY one of: $eras.
- "keywords": 0 to 3 short mood or theme words ("feel-good", "heist", "space").
- "title": optional. Only the exact title of a real movie you are sure of; otherwise leave it out.
Order the items as the user would watch them, first first. Vary them as the example users'
tastes vary: do not repeat one item, and do not copy an example user's list."""
)

EXAMPLE_TEMPLATE = Template(
    """Example user $number ($profile) liked first:
$items"""
)

USER_TEMPLATE = Template(
    """Real users who resemble the new user, with the first movies they liked:

$examples

New user: $profile.
Write $n_items imaginary items for the new user's first movies."""
)

REASK_TEMPLATE = Template(
    """Your answer could not be used: $error
Answer again with only the corrected JSON object."""
)

NOTHING_GIVEN = "they told us nothing about themselves: imagine a typical user"


def describe_profile(profile: Demographics) -> str:
    """``25-34, male, programmer``; says so when nothing was given."""
    return profile.describe() or NOTHING_GIVEN


def describe_item(item: Item) -> str:
    """One liked item as the model reads it: ``Star Wars (1977): Action, Adventure, Sci-Fi``."""
    genres = ", ".join(item.genres) or "genres unknown"
    return f"{item.label}: {genres}"


def render_examples(examples: Sequence[tuple[Demographics, Sequence[Item]]]) -> str:
    """The example users, numbered, each with their first liked items."""
    blocks = [
        EXAMPLE_TEMPLATE.substitute(
            number=number, profile=describe_profile(profile),
            items="\n".join(f"  {k}. {describe_item(item)}" for k, item in enumerate(items, 1)),
        )
        for number, (profile, items) in enumerate(examples, 1)
        if items
    ]
    return "\n\n".join(blocks) or "(no example users)"


def render_history_messages(
    profile: Demographics,
    examples: Sequence[tuple[Demographics, Sequence[Item]]],
    *,
    genres: Sequence[str],
    eras: Sequence[str],
    n_items: int,
) -> list[BaseMessage]:
    """The messages of a first request: the rules with the vocabulary, then examples and the user."""
    system = SYSTEM_TEMPLATE.substitute(genres=", ".join(genres), eras=", ".join(eras))
    user = USER_TEMPLATE.substitute(examples=render_examples(examples), profile=describe_profile(profile),
                                    n_items=n_items)
    return [SystemMessage(system), HumanMessage(user)]


def render_reask(error: str) -> HumanMessage:
    """The follow-up message after an answer that did not validate (instructor-style re-ask)."""
    return HumanMessage(REASK_TEMPLATE.substitute(error=error))


# --- notes shown to the person about their demographics (service) -----------------------------

NOTE_NO_DEMOGRAPHIC_MODEL = (
    "What you told me about yourself is stored with your profile, but no demographic data is configured "
    "here, so it did not shape these picks."
)


def demographics_note(note: str) -> str:
    """A validation note (``age -3 ignored: ...``) as a sentence for the person."""
    note = note.strip()
    return (note[:1].upper() + note[1:]).rstrip(".") + "."

# --- what was assumed, when the person asks ("why these?") or sets it aside ("not into those") ---

WHY_ASSUMED = Template(
    "I started from the taste of people like you ($profile): the viewing history I imagined for you is "
    "mostly $genres, from the $eras. Your own likes and dislikes count for more with each one you give. "
    "Not you? Say “not into those” and I'll leave that guess out."
)
WHY_REQUEST = Template("They're $request, picked among those other viewers rated best$feedback.")
WHY_NOTHING_SHOWN = "I haven't recommended anything yet: tell me what you feel like watching."
WHY_FEEDBACK = ", weighed with what you liked and disliked"
ASSUMPTIONS_DROPPED = (
    "I've left out the taste I assumed from what you told me about yourself: these come from your words and "
    "what you liked, or else from what most viewers enjoy."
)
