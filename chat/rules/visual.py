"""Requests about how something *looks*: "a poster like Se7en's", "looks like Alien", "a dark, gritty look".

Such a request marks the update ``visual``: the planner then searches the image collection
(posters near the named title's poster, or the words embedded into the image space). The cue
words themselves ("poster", "looks") carry no topic, so they leave the free-text query.

Not visual: "I'm looking for a comedy", "take a look at westerns", "I'd like something that
looks fun" (no title after "looks like").
"""

from __future__ import annotations

from chat.rules.utterance import Utterance

# Words that are about pictures whatever surrounds them.
PICTURE_WORDS = frozenset({
    "poster", "posters", "artwork", "visually", "visual", "visuals", "aesthetic", "aesthetics", "cinematography",
    "picture", "pictures", "image", "images", "photo",
})
LOOK_VERBS = frozenset({"look", "looks", "looked", "looking"})
# "look" as a verb of doing, not the noun "a look": "look for", "take a look at", "I look forward".
LOOK_NOT_NOUN_AFTER = frozenset({"for", "at", "forward", "into", "up", "out", "around", "through", "over", "after"})
LOOK_NOT_NOUN_BEFORE = frozenset({
    "i", "we", "you", "to", "lets", "let", "please", "just", "can", "could", "will", "would", "should", "me",
    "us", "and", "or",
})
QUERY_CUES = PICTURE_WORDS | LOOK_VERBS | {"like", "style"}
VISUAL_WORDS = PICTURE_WORDS | LOOK_VERBS  # known to the speller: "poster" is no typo of "potter"


def _title_follows(u: Utterance, k: int, reach: int = 3) -> bool:
    """A title claimed within ``reach`` words after word ``k``."""
    for j in range(k + 1, min(len(u.fixed), k + 1 + reach)):
        taken = u.taken[j]
        if taken is not None and taken.kind == "title":
            return True
    return False


def reads_visual(u: Utterance) -> bool:
    """True when the utterance asks for a look: picture words, "looks like <title>", or "a <adjective> look"."""
    words = u.fixed
    for k, word in enumerate(words):
        if word in PICTURE_WORDS:
            return True
        if word not in LOOK_VERBS:
            continue
        after = words[k + 1] if k + 1 < len(words) else ""
        before = words[k - 1] if k > 0 else ""
        if after == "like" and _title_follows(u, k + 1):
            return True  # "looks like Blade Runner"
        if word == "look" and after not in LOOK_NOT_NOUN_AFTER and after != "like" and before not in LOOK_NOT_NOUN_BEFORE:
            return True  # the noun: "a dark, gritty look", "the look of"
        if word == "look" and after == "like" and before not in LOOK_NOT_NOUN_BEFORE and _title_follows(u, k + 1):
            return True
    return False


def without_visual_cues(query: str) -> str:
    """The free-text query less the words that only said "by the look" ("poster", "looks")."""
    kept = [w for w in query.split() if w.casefold().strip("'’s") not in QUERY_CUES and w.casefold() not in QUERY_CUES]
    return " ".join(kept)
