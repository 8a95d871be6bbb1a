"""Moods and tones mapped to catalog evidence, and the kinds of thing a person can rule out.

A mood ("sad", "feel-good", "mind-bending") is not a filter: it says which films fit better.
Each mood names the evidence a catalog can hold for it:

- ``tags``: fragments of viewer tags that show it ("made me cry", "tear jerker");
- ``genres_up`` / ``genres_down``: genres that make it more or less likely;
- ``story``: a sentence about what such a film is like, compared with each film's story
  vector (``retrieval.similarity``) - how "I want to cry" reaches films nobody tagged.

:func:`mood_level` scores an item for the conversation's moods in [-1, 1]. The vocabulary is
written from common film knowledge, independent of any benchmark.

:data:`EXCLUSION_KINDS` are things people rule out by kind ("no sequels", "not another
superhero movie"): the title pattern and tags that show an item is one. Any other ruled-out
word ("no Harry Potter") excludes items whose title or tags contain it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from retrieval.catalog import Item, fold


@dataclass(frozen=True)
class Mood:
    tags: tuple[str, ...]
    genres_up: frozenset[str] = frozenset()
    genres_down: frozenset[str] = frozenset()
    story: str = ""


def _g(*names: str) -> frozenset[str]:
    return frozenset(names)


_LIGHT_DOWN = _g("Horror", "War", "Thriller", "Crime", "Film-Noir")
MOODS: dict[str, Mood] = {
    "sad": Mood(("sad", "made me cry", "tear jerker", "tearjerker", "heartbreaking", "depressing", "emotional",
                 "moving", "poignant", "terminal illness", "tragedy", "bittersweet", "melancholy"),
                _g("Drama", "Romance"), _g("Comedy", "Action", "Horror", "Animation", "Children"),
                "a heartbreaking, tragic story of loss, illness, grief and love that makes you cry"),
    "feel-good": Mood(("feel-good", "feel good", "heartwarming", "uplifting", "happy ending", "inspirational",
                       "sweet", "cute", "charming", "fun", "funny", "friendship"),
                      _g("Comedy", "Romance", "Children", "Musical", "Animation"), _LIGHT_DOWN,
                      "an uplifting, heartwarming and funny story of friendship with a happy ending"),
    "dark": Mood(("dark", "bleak", "disturbing", "grim", "gritty", "noir", "nihilism", "violent", "brutal",
                  "atmospheric", "downbeat", "cynical"),
                 _g("Crime", "Thriller", "Film-Noir", "Horror", "Mystery"), _g("Children", "Animation", "Musical", "Comedy"),
                 "a bleak, violent story of crime, corruption, murder and despair"),
    "mind-bending": Mood(("mindfuck", "mind-bending", "mind bending", "twist ending", "plot twist", "surreal",
                          "nonlinear", "thought-provoking", "psychological", "cerebral", "complicated", "dreamlike",
                          "alternate reality", "memory", "philosophical", "time travel", "paranoia"),
                         _g("Sci-Fi", "Mystery", "Thriller"), _g("Children", "Musical", "Romance"),
                         "a puzzling story where reality, memory and dreams are not what they seem, with a twist"),
    "cosy": Mood(("cozy", "cosy", "heartwarming", "charming", "whimsical", "sweet", "feel-good", "christmas",
                  "family", "gentle", "british comedy"),
                 _g("Comedy", "Romance", "Children", "Animation"), _g("Horror", "War", "Thriller", "Crime"),
                 "a gentle, warm and charming story about family, home and small kindnesses"),
    "epic": Mood(("epic", "swashbuckler", "fantasy world", "historical", "war", "sword and sandal", "space opera",
                  "adventure", "great battle", "middle earth", "tolkein"),
                 _g("Adventure", "War", "Fantasy", "Action"), _g("Documentary"),
                 "an epic saga of great battles, heroes, kingdoms and empires over many years"),
    "slow burn": Mood(("slow", "atmospheric", "meditative", "slow burn", "cinematography", "reflective",
                       "lyrical", "tense", "quiet", "character study"),
                      _g("Drama", "Mystery"), _g("Action", "Children", "Animation"),
                      "a quiet, slowly building and atmospheric story where tension grows"),
    "quirky": Mood(("quirky", "offbeat", "off-beat", "whimsical", "deadpan", "absurd", "witty", "stylized",
                    "eccentric", "wes anderson", "coen brothers", "dark comedy", "black comedy", "surreal"),
                   _g("Comedy"), _g("Action", "Horror", "War"),
                   "an offbeat, whimsical comedy about eccentric characters"),
    "scary": Mood(("scary", "creepy", "horror", "suspense", "suspenseful", "eerie", "haunted", "ghosts",
                   "supernatural", "demons", "possession", "tense"),
                  _g("Horror", "Thriller"), _g("Comedy", "Children", "Animation", "Romance", "Musical"),
                  "a terrifying story of a haunted house, ghosts and a demonic presence"),
    "funny": Mood(("funny", "hilarious", "comedy", "witty", "quotable", "parody", "spoof", "silly", "humorous",
                   "goofy", "crude humor", "satire"),
                  _g("Comedy"), _g("Horror", "War", "Documentary", "Film-Noir"),
                  "a hilarious comedy full of jokes and absurd situations"),
    "romantic": Mood(("romance", "romantic", "love story", "chick flick", "love", "wedding", "dating"),
                     _g("Romance"), _g("Horror", "War"),
                     "a romantic love story of two people falling in love"),
    "inspiring": Mood(("inspirational", "inspiring", "uplifting", "true story", "based on a true story", "sports",
                       "underdog", "biopic", "feel-good"),
                      _g("Drama"), _g("Horror"),
                      "an inspiring true story of an underdog who overcomes the odds"),
    "exciting": Mood(("suspense", "tense", "intense", "action", "thrilling", "exciting", "fast-paced",
                      "car chase", "explosions", "adrenaline"),
                     _g("Thriller", "Action", "Adventure"), _g("Children", "Musical", "Documentary"),
                     "a fast, intense and thrilling chase with fights and explosions"),
    "weird": Mood(("surreal", "weird", "trippy", "psychedelic", "bizarre", "dreamlike", "absurd", "hallucinatory",
                   "strange", "cult film"),
                  _g("Fantasy", "Sci-Fi"), _g("Documentary"),
                  "a bizarre, dreamlike and surreal trip into a strange world"),
    "thought-provoking": Mood(("thought-provoking", "philosophical", "intelligent", "cerebral", "social commentary",
                               "existentialism", "smart", "politics", "reflective"),
                              _g("Drama", "Sci-Fi"), _g("Children", "Musical"),
                              "a thoughtful, philosophical story about society, morality and what it means to be human"),
    "wholesome": Mood(("family", "heartwarming", "disney", "pixar", "wholesome", "children", "friendship"),
                      _g("Children", "Animation", "Comedy"), _g("Horror", "Crime", "Thriller", "War"),
                      "a heartwarming family adventure about friendship for all ages"),
}
# The parser's keywords (chat/lexicon.py) that mean one of these moods.
MOOD_ALIASES: dict[str, str] = {
    "tearjerker": "sad", "emotional": "sad", "moving": "sad", "touching": "sad", "heartbreaking": "sad",
    "bittersweet": "sad", "melancholy": "sad", "depressing": "sad",
    "uplifting": "feel-good", "heartwarming": "feel-good", "happy": "feel-good", "cheerful": "feel-good",
    "lighthearted": "feel-good", "fun": "feel-good",
    "gritty": "dark", "bleak": "dark", "grim": "dark", "disturbing": "dark",
    "twist ending": "mind-bending", "trippy": "weird", "surreal": "weird", "cerebral": "thought-provoking",
    "philosophical": "thought-provoking", "thoughtful": "thought-provoking", "deep": "thought-provoking",
    "cozy": "cosy", "relaxing": "cosy", "calm": "cosy", "sweet": "cosy", "charming": "cosy", "cute": "cosy",
    "slow": "slow burn", "creepy": "scary", "hilarious": "funny", "witty": "quirky", "clever": "quirky",
    "inspirational": "inspiring", "intense": "exciting", "fast-paced": "exciting", "action-packed": "exciting",
    "smart": "thought-provoking", "romance": "romantic",
}

SURPRISE = "surprise"  # the parser's keyword for "surprise me": well-rated, less known, varied


def mood_of(keyword: str) -> str | None:
    """The mood a (non-negated) keyword names, or ``None``."""
    word = keyword.lower().strip()
    return word if word in MOODS else MOOD_ALIASES.get(word)


def moods_in(keywords: list[str]) -> list[str]:
    return list(dict.fromkeys(m for k in keywords if not k.startswith("not ") and (m := mood_of(k))))


def mood_tags(item: Item, mood: str) -> list[str]:
    """The item's tags that show ``mood``: a fragment must start a word of the tag ("sweet" shows
    in "sweet" and "sweetest", not in "bittersweet"; "sad" not in "crusade")."""
    pattern = _mood_pattern(mood)
    return [t for t in item.tags if pattern.search(t.lower())]


@lru_cache(maxsize=None)
def _mood_pattern(mood: str) -> re.Pattern:
    return re.compile(r"\b(?:" + "|".join(re.escape(f) for f in MOODS[mood].tags) + ")")


def mood_level(item: Item, moods: list[str]) -> float:
    """How well the item fits the moods, in [-1, 1]: a tag that shows a mood counts most, a
    genre that makes it likely a little, a genre that makes it unlikely counts against."""
    if not moods:
        return 0.0
    total = 0.0
    genres = set(item.genres)
    for mood in moods:
        spec = MOODS[mood]
        level = 0.6 * bool(mood_tags(item, mood)) + 0.4 * bool(genres & spec.genres_up)
        level -= 0.6 * bool(genres & spec.genres_down)
        total += max(-1.0, min(1.0, level))
    return total / len(moods)


def story_sentence(moods: list[str]) -> str:
    """What films of these moods are about, for comparing with story vectors."""
    return " ".join(MOODS[m].story for m in moods if MOODS[m].story)


def catalog_has_evidence(items, mood: str) -> bool:
    """Does any item carry a tag that shows ``mood``?"""
    return any(mood_tags(item, mood) for item in items)


# --------------------------------------------------------------------------- ruling things out

_SEQUEL_TITLE = re.compile(
    r"(?:\b(?:2|3|4|5|6|7|8|ii|iii|iv|v|vi|part \w+|chapter \w+|returns|strikes back|reloaded|revolutions)\b"
    r"|: (?!the \w+ of\b)\w)", re.IGNORECASE)
EXCLUSION_KINDS: dict[str, tuple[re.Pattern | None, tuple[str, ...]]] = {
    "sequel": (_SEQUEL_TITLE, ("sequel",)),
    "remake": (None, ("remake",)),
    "superhero": (None, ("superhero", "super-hero", "comic book", "marvel", "dc comics", "batman", "spider-man",
                         "x-men", "avengers")),
    "musical": (None, ("musical",)),
    "anime": (None, ("anime",)),
    "zombie": (None, ("zombie",)),
    "vampire": (None, ("vampire",)),
    "christmas": (None, ("christmas",)),
    "cartoon": (None, ("animation", "animated", "cartoon")),
}
EXCLUSION_ALIASES = {"sequels": "sequel", "remakes": "remake", "superheroes": "superhero", "super hero": "superhero",
                     "comic book": "superhero", "marvel": "superhero", "musicals": "musical", "zombies": "zombie",
                     "vampires": "vampire", "cartoons": "cartoon", "animated": "cartoon"}


def ruled_out(item: Item, word: str) -> bool:
    """Is the item something the person ruled out with ``word`` ("sequel", "superhero",
    "harry potter")? By kind when the word names one, else by title and tags."""
    key = fold(word).strip()
    if not key:
        return False
    kind = EXCLUSION_KINDS.get(key) or EXCLUSION_KINDS.get(EXCLUSION_ALIASES.get(key, ""))
    tags = [fold(t) for t in item.tags]
    if kind is not None:
        pattern, fragments = kind
        if pattern is not None and pattern.search(item.title):
            return True
        return any(f in t for t in tags for f in fragments)
    words = re.compile(rf"\b{re.escape(key)}\b")
    return bool(words.search(fold(item.title))) or any(words.search(t) for t in tags)
