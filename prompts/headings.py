"""What a reply says about its list, written from the request for the person who reads it.

The heading over the cards ("Here are five Christopher Nolan films.", "Here are five 90s
comedies.", "Got it — here are five you haven't seen.") and the answer when nothing fits
("Nothing matches comedy + Christopher Nolan: say “start over” or press Reset to drop earlier
filters."). Filled only from schema objects; the cards carry the list, so no heading ends in a
colon, and a new heading never repeats the previous reply word for word.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from chat.schemas import PreferenceState, PreferenceUpdate
from prompts.english import count_word, join_words, plural
from retrieval.catalog import Catalog, normalize_name
from retrieval.relevance import SURPRISE

FILM = ("film", "films")
# genres that can head the phrase, as (singular, plural); the first in HEAD_ORDER heads it
GENRE_NOUNS = {
    "Comedy": ("comedy", "comedies"), "Drama": ("drama", "dramas"), "Thriller": ("thriller", "thrillers"),
    "Western": ("western", "westerns"), "Musical": ("musical", "musicals"), "Mystery": ("mystery", "mysteries"),
    "Documentary": ("documentary", "documentaries"), "Romance": ("romance", "romances"),
}
HEAD_ORDER = ("Thriller", "Comedy", "Drama", "Western", "Musical", "Documentary", "Mystery", "Romance")
GENRE_PAIRS = {frozenset({"Comedy", "Drama"}): ("comedy-drama", "comedy-dramas")}
# a genre before a noun: "animated films", "romantic comedies"; adjectives go first
GENRE_ADJECTIVES = {
    "Animation": "animated", "Romance": "romantic", "Biography": "biographical", "History": "historical",
}
GENRE_MODIFIERS = {
    "Children": "children's", "Film-Noir": "noir", "IMAX": "IMAX", "Sci-Fi": "sci-fi", "Sport": "sports",
}
# a genre on its own, in a list of constraints: "comedy + Christopher Nolan", "no romance"
GENRE_WORDS = {"Film-Noir": "film noir", "IMAX": "IMAX", "Children": "children's films"}
CRITIQUE_WORDS = {
    ("violence", "less"): "less violent", ("violence", "more"): "more violent",
    ("humor", "more"): "funnier", ("humor", "less"): "more serious",
    ("length", "less"): "shorter", ("length", "more"): "longer",
    ("recency", "more"): "newer", ("recency", "less"): "older",
    ("darkness", "less"): "lighter", ("darkness", "more"): "darker",
    ("popularity", "less"): "lesser-known", ("popularity", "more"): "better-known",
    ("scariness", "less"): "less scary", ("scariness", "more"): "scarier",
    ("complexity", "less"): "simpler", ("complexity", "more"): "more complex",
    ("romance", "less"): "less romantic", ("romance", "more"): "more romantic",
    ("action", "less"): "calmer", ("action", "more"): "more action-packed",
}
AUDIENCE_WORDS = {"kids": "family", "adults": "grown-up"}
MAX_GENRE_WORDS = 3  # more genres than this are listed after the noun ("films that mix ...")
SHORT_KEYWORD_CHARS = 20  # a mood or theme this short reads well before the noun ("feel-good", "heist")
MAX_MOODS_BEFORE = 2  # the latest two: "dark, gritty thrillers" (all of them are named when nothing is found)

SEEN = "Got it — here {verb} {count} you haven't seen."
SEEN_MORE = "Got it — here {verb} {count} more you haven't seen."
NOTHING_WITH_EARLIER = "Nothing matches {constraints}: say “start over” or press Reset to drop earlier filters."
NOTHING_NEW = "Nothing in the catalog matches {constraints}. Try leaving one of those out."
NOTHING_LEFT = (
    "I've run out of new titles to suggest. Tell me something else you'd like, or say “start over” "
    "or press Reset to begin again."
)


class ListRequest(BaseModel):
    """What a heading is written from: the conversation's request after this turn, and this turn."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    state: PreferenceState
    update: PreferenceUpdate
    catalog: Catalog
    picture: bool = False  # a picture came with the message ("more like this")
    visual: bool = False  # the posters decided ("a poster like Se7en's")
    relaxed: bool = False  # few items had all the genres asked for: some have only some of them


def list_heading(request: ListRequest, n: int, *, wanted: int, previous: str | None = None) -> str:
    """The sentence over ``n`` cards (``wanted`` were asked for), never the ``previous`` reply again."""
    variants = _heading_variants(request, n, short=n < wanted)
    fresh = [text for text in variants if text != previous]
    return fresh[0] if fresh else variants[0]


def _heading_variants(request: ListRequest, n: int, *, short: bool) -> list[str]:
    update, state = request.update, request.state
    count, verb = count_word(n), "is" if n == 1 else "are"
    again = bool(state.shown_ids) and not adds_to_request(update)
    if update.feedback == "seen" and again:
        if short:
            return [f"Got it — I found only {count} more you haven't seen.", SEEN.format(verb=verb, count=count)]
        return [SEEN.format(verb=verb, count=count), SEEN_MORE.format(verb=verb, count=count)]
    phrase = films_phrase(request, n)
    lead = "Got it — " if update.feedback in ("seen", "disliked", "liked") else ""
    if update.feedback == "disliked" and again:
        return [f"Got it — here {verb} {count} other {phrase}.", f"Got it — here {verb} {count} more {phrase}."]
    if short:
        texts = [f"I found only {count} {phrase}.", f"I found only {count} more {phrase}."][:: -1 if again else 1]
    elif again:
        texts = [f"Here {verb} {count} more {phrase}.",
                 f"Here is another {phrase}." if n == 1 else f"Here are another {count} {phrase}."]
    else:
        texts = [f"Here {verb} {count} {phrase}.", f"Here {verb} {count} more {phrase}."]
    return [lead + "h" + text[1:] if lead and text.startswith("Here") else lead + text for text in texts]


def adds_to_request(update: PreferenceUpdate) -> bool:
    """Does this turn ask for something new (not only "more", "seen those", "not that one")?"""
    return bool(
        update.genres_include or update.genres_exclude or update.people_include or update.people_exclude
        or update.titles_like or update.keywords or update.critiques or update.audience or update.year_min
        or update.year_max or update.runtime_min or update.runtime_max or update.visual or update.picture
        or (update.refers_to_shown and update.feedback in (None, "liked"))
    )


# --- the phrase: "less violent feel-good 90s Christopher Nolan comedies like Heat without Tom Cruise" ---


def films_phrase(request: ListRequest, n: int) -> str:
    """What the cards are, in a noun phrase for ``n`` of them."""
    state = request.state
    said = {(c.attribute, c.direction) for c in request.update.critiques}
    before, after = _before_noun(request, said), _after_noun(request, said)
    noun = plural(n, *FILM) if request.relaxed else genre_noun(state.genres_include, n)  # the note says why
    if not before and not after and noun == plural(n, *FILM):
        after.append("you might like")
    return " ".join([*before, noun, *after])


def _before_noun(request: ListRequest, said: set[tuple[str, str]]) -> list[str]:
    """"less violent", "90s", "feel-good", "family", "Christopher Nolan": the order English puts them in."""
    state = request.state
    critiques = [CRITIQUE_WORDS[c] for c in sorted(said) if c in CRITIQUE_WORDS]
    era = None if any(a == "recency" for a, _ in said) else decade(state)  # "newer" says it
    moods = [k for k in _wanted_keywords(state) if len(k) <= SHORT_KEYWORD_CHARS][-MAX_MOODS_BEFORE:]
    words = [", ".join(group) for group in (critiques, [era] if era else [], moods) if group]
    if state.audience:
        words.append(AUDIENCE_WORDS[state.audience])
    if len(state.people_include) == 1 and _directs(state.people_include[0], request.catalog):
        words.append(state.people_include[0])
    return words


def _after_noun(request: ListRequest, said: set[tuple[str, str]]) -> list[str]:
    """"like Heat", "with Tom Hanks", "from 1996 on", "up to 90 minutes long", "without Tom Cruise"."""
    state, catalog = request.state, request.catalog
    words: list[str] = []
    anchors = [catalog.get(i).short_title for i in state.anchor_ids if catalog.get(i) is not None]
    if request.picture:
        words.append("whose posters look like your picture")
    elif anchors and request.visual:
        words.append("whose posters look like " + join_words([a + "'s" for a in anchors], "or"))
    elif anchors:
        words.append(f"like {join_words(anchors)}")
    directors = [p for p in state.people_include if _directs(p, catalog)]
    if len(state.people_include) > 1 or (state.people_include and not directors):
        verb = "directed by" if len(directors) == len(state.people_include) else "with"
        words.append(f"{verb} {join_words(state.people_include, 'or')}")
    if not decade(state) and not any(a == "recency" for a, _ in said) and (span := year_span(state)):
        words.append(span)
    if not any(a == "length" for a, _ in said) and (runtime := _runtime(state)):
        words.append(runtime)
    themes = [k for k in _wanted_keywords(state) if len(k) > SHORT_KEYWORD_CHARS]
    if themes:
        words.append("about " + join_words([f"“{k}”" for k in themes]))
    if SURPRISE in state.keywords:
        words.append("off the beaten track")
    ruled_out = [k[len("not "):] for k in state.keywords if k.startswith("not ")]
    ruled_out = [k for k in ruled_out if not (k.endswith("s") and k[:-1] in ruled_out)]  # "sequel", "sequels"
    excluded = [*state.people_exclude, *(genre_word(g) for g in state.genres_exclude), *ruled_out]
    if excluded:
        words.append("without " + join_words(excluded, "or"))
    return words


def _wanted_keywords(state: PreferenceState) -> list[str]:
    """Moods and themes asked for, oldest first ("not clowns" is said as "without clowns"; "surprise
    me" as "off the beaten track")."""
    return [k for k in state.keywords if not k.startswith("not ") and k != SURPRISE]


def genre_word(genre: str) -> str:
    """A genre on its own: ``comedy``, ``sci-fi``, ``film noir``."""
    return GENRE_WORDS.get(genre, genre.lower())


def genre_noun(genres: list[str], n: int = 1) -> str:
    """``comedies``, ``romantic comedies``, ``crime thrillers``, ``a horror film`` (n=1), ``films``."""
    if not genres:
        return plural(n, *FILM)
    if len(genres) > MAX_GENRE_WORDS:
        return f"{plural(n, *FILM)} that {plural(n, 'mixes', 'mix')} {join_words([genre_word(g) for g in genres])}"
    pair = GENRE_PAIRS.get(frozenset(genres))
    if pair:
        return plural(n, *pair)
    head = next((g for g in HEAD_ORDER if g in genres), None)
    forms = GENRE_NOUNS[head] if head else FILM
    modifiers = [g for g in genres if g != head]
    words = [GENRE_ADJECTIVES[g] for g in modifiers if g in GENRE_ADJECTIVES]
    words += [GENRE_MODIFIERS.get(g, g.lower()) for g in modifiers if g not in GENRE_ADJECTIVES]
    return " ".join([*words, plural(n, *forms)])


def _directs(name: str, catalog: Catalog) -> bool:
    """Does the catalog know this person mostly as a director?"""
    key = normalize_name(name)
    items = [catalog.get(i) for i in catalog.by_person.get(key, [])]
    directed = sum(1 for item in items if item and key in {normalize_name(d) for d in item.people.get("directors", [])})
    return directed > 0 and 2 * directed >= len(items)


def decade(state: PreferenceState) -> str | None:
    """``90s``, ``2000s``, ``1940s`` when the year bounds are exactly one decade."""
    low, high = state.year_min, state.year_max
    if not (low and high and low % 10 == 0 and high == low + 9):
        return None
    return f"{low % 100:02d}s" if 1950 <= low < 2000 else f"{low}s"


def year_span(state: PreferenceState) -> str | None:
    low, high = state.year_min, state.year_max
    if low and high:
        return f"from {low} to {high}" if low != high else f"from {low}"
    if low:
        return f"from {low} on"
    if high:
        return f"from {high} or earlier"
    return None


def _runtime(state: PreferenceState, *, label: bool = False) -> str | None:
    """``up to 90 minutes long`` after the noun, or ``up to 90 minutes`` as a constraint's label."""
    low, high = state.runtime_min, state.runtime_max
    if low and high:
        return f"{low}–{high} minutes" if label else f"{low} to {high} minutes long"
    long = "" if label else " long"
    if high:
        return f"up to {high} minutes{long}"
    if low:
        return f"at least {low} minutes{long}"
    return None


# --- nothing found -------------------------------------------------------------------------


def nothing_found(request: ListRequest) -> str:
    """Why nothing fits: the constraints in force, and how to drop the ones from earlier turns."""
    labels = constraint_labels(request)
    if not labels:
        return NOTHING_LEFT
    constraints = " + ".join(label for label, _ in labels)
    if any(earlier for _, earlier in labels):
        return NOTHING_WITH_EARLIER.format(constraints=constraints)
    return NOTHING_NEW.format(constraints=constraints)


def constraint_labels(request: ListRequest) -> list[tuple[str, bool]]:
    """Each constraint in force as a short label, and whether it comes from an earlier turn."""
    state, update, catalog = request.state, request.update, request.catalog
    said_people = {normalize_name(p) for p in [*update.people_include, *update.people_exclude]}
    attributes = {c.attribute for c in update.critiques}
    labels: list[tuple[str, bool]] = []
    labels += [(genre_word(g), g not in update.genres_include) for g in state.genres_include]
    labels += [(p, normalize_name(p) not in said_people) for p in state.people_include]
    years = decade(state) or year_span(state)
    if years:
        labels.append((years, update.year_min is None and update.year_max is None and "recency" not in attributes))
    runtime = _runtime(state, label=True)
    if runtime:
        labels.append((runtime, update.runtime_min is None and update.runtime_max is None
                       and "length" not in attributes))
    anchors = [catalog.get(i).short_title for i in state.anchor_ids if catalog.get(i) is not None]
    if anchors:
        labels.append(("like " + join_words(anchors), not (update.titles_like or update.refers_to_shown)))
    if state.audience:
        labels.append((f"for {state.audience}", update.audience is None))
    labels += [(k if not k.startswith("not ") else "no " + k[len("not "):], k not in update.keywords)
               for k in state.keywords]
    labels += [(CRITIQUE_WORDS[(c.attribute, c.direction)], c not in update.critiques)
               for c in state.critiques if (c.attribute, c.direction) in CRITIQUE_WORDS]
    labels += [("no " + genre_word(g), g not in update.genres_exclude) for g in state.genres_exclude]
    labels += [("without " + p, normalize_name(p) not in said_people) for p in state.people_exclude]
    return labels
