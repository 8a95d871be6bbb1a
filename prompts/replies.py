"""Reply templates of the embedded default (no LLM). Filled only from schema objects."""

from __future__ import annotations

from chat.schemas import Reply
from prompts.english import capitalize, count_word, join_words
from retrieval.catalog import Item

WELCOME = (
    "Hi! I'm Marquee. Tell me what you feel like watching — a genre, a mood, an era, an actor or "
    "director, or a movie you loved — and I'll suggest a few titles from the catalog, each with a "
    "reason. You can say things like “more like the second one”, “less violent” or “I've seen "
    "those”. What are you in the mood for?"
)
RESET = (
    "Done — I've cleared the list and everything you asked for so far (your likes and dislikes stay). "
    "What would you like to watch?"
)
RESET_UTTERANCE = "Reset"  # stored as the message when the Reset button is pressed
OTHER = (
    "I can only help with finding something to watch. Tell me a genre, a mood, a movie you liked, "
    "or an actor, and I'll suggest a few titles."
)
WHICH_ITEM = "Which title do you mean? You can say “the second one” or name it."
RELAXED_GENRES = "Few titles are {genres} at once, so I also included titles with only some of them."
RELAXED_REQUEST = "Nothing matches {constraints}, so these leave out {left_out}."
RELAXED_EARLIER = " Say “start over” or press Reset to drop earlier filters."
UNKNOWN_PEOPLE = "{count} of these {verb} no cast list in the catalog, so I couldn't check {them} for {people}."
NO_IMAGES = "I can't compare posters for this catalog (it has no image collection), so I searched by text instead."
NO_PICTURE_SEARCH = (
    "I can't compare pictures for this catalog (it has no image collection), so I couldn't use your picture."
)
NO_POSTER_FOR = "{title} has no poster here, so I compared it by its description instead."
# Justification clauses: only when the image score is what put the item on the list (tools/explain.py).
LOOKS_LIKE_ITEM = "its poster looks much like {title}'s"
LOOKS_LIKE_PICTURE = "its poster looks much like the picture you sent"
LOOKS_LIKE_WORDS = "its poster has the look you asked for"
PICTURE_UTTERANCE = "more like this picture"  # stored as the message when a picture comes without words
QUESTION_NAMES = {
    "director": "directors", "writer": "writers", "cast": "stars",
}


def unknown_people(n: int, people: list[str]) -> str:
    """A note on cards whose cast is unknown, so "nothing with X" could not be checked for them."""
    return UNKNOWN_PEOPLE.format(count=capitalize(count_word(n)), verb="has" if n == 1 else "have",
                                 them="it" if n == 1 else "them", people=join_words(people, "or"))


def reset_reply() -> Reply:
    """The answer to "start over" and to the Reset button alike: the list and the request are cleared."""
    return Reply(text=RESET, question=True, cleared=True)


def item_facts(item: Item, ask: str) -> str:
    """Answer a question about one item from its catalog facts only."""
    role = QUESTION_NAMES.get(ask)
    if role:
        names = item.people.get(role, [])
        verb = {"directors": "directed", "writers": "written", "stars": "starring"}[role]
        if not names:
            return f"The catalog doesn't list the {role} of {item.label}."
        return f"{item.label}: {verb} {'by ' if role != 'stars' else ''}{', '.join(names)}."
    if ask == "runtime":
        return f"{item.label} runs {item.runtime} minutes." if item.runtime else f"The catalog has no runtime for {item.label}."
    if ask == "year":
        return f"{item.title} came out in {item.year}." if item.year else f"The catalog has no year for {item.title}."
    if ask == "rating" and item.mean_rating:
        return f"{item.label} is rated {item.mean_rating:.1f}/5 by {item.n_ratings} MovieLens users."
    if ask == "age_rating":
        return f"{item.label} is rated {item.age_rating}." if item.age_rating else f"The catalog has no age rating for {item.label}."
    facts = [", ".join(item.genres) or "no genres listed"]
    if item.people.get("directors"):
        facts.append("directed by " + ", ".join(item.people["directors"]))
    if item.people.get("stars"):
        facts.append("starring " + ", ".join(item.people["stars"][:3]))
    if item.tags:
        facts.append("viewers tag it " + ", ".join(f"“{t}”" for t in item.tags[:4]))
    return f"Here's what the catalog knows about {item.label}: " + "; ".join(facts) + "."

# Taste: moods the catalog has no evidence for.
NO_MOOD_EVIDENCE = ("This catalog has no viewer tags that say “{mood}”, so I went by genres and what the films are "
                    "about.")

# --- said by the service when something inside failed (issue 12) ---
NOT_UNDERSTOOD = "I couldn't read that message, so I answered from the conversation so far; try saying it another way."
