"""Template justifications: one or two sentences that cite only facts the item really has.

Every clause is built from a fact read off the item (its genres, people, tags, year, runtime,
ratings) or from the signal that put it in the list (similarity to a named item). Each cited
fact is also returned as a machine-checkable reason such as ``genre:Comedy``.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from chat.schemas import PreferenceState
from prompts import replies
from prompts.english import with_article
from prompts.headings import genre_noun
from retrieval.catalog import Item, fold, normalize_name
from retrieval.demographics import Demographics
from retrieval.group_taste import genre_phrase, group_phrase, profile_has_group
from tools.attributes import PROXIES
from tools.base import CandidateBuffer, Explanation, ScoredItem, ToolDeps, tool
from retrieval.moods import mood_tags, moods_in
from retrieval.similarity import contributions, shared_people, shared_tags
from tools.ranking import MUCH_ALIKE_Z

MIN_RATINGS_TO_CITE = 20


class ExplainArgs(BaseModel):
    """Write a short grounded justification for each of the first k candidates."""

    k: int = Field(5, ge=1, le=100)


class Explanations(BaseModel):
    items: list[Explanation]


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _people_clause(item: Item, wanted: list[str], reasons: list[str]) -> str | None:
    wanted_keys = {normalize_name(p) for p in wanted}
    directors = [p for p in item.people.get("directors", []) if normalize_name(p) in wanted_keys]
    writers = [p for p in item.people.get("writers", []) if normalize_name(p) in wanted_keys and p not in directors]
    others = [p for p in item.all_people() if normalize_name(p) in wanted_keys and p not in directors + writers]
    reasons += [f"person:{p}" for p in directors + writers + others]
    parts = []
    if directors:
        parts.append(f"directed by {_join(directors)}")
    if writers:  # "written by", not "with": a writer is not in the film
        parts.append(f"written by {_join(writers)}")
    if others:
        parts.append(f"with {_join(list(dict.fromkeys(others)))}")
    return " and ".join(parts) or None


def _critique_clause(item: Item, state: PreferenceState, reasons: list[str]) -> str | None:
    for critique in state.critiques:
        if critique.attribute not in PROXIES:
            continue
        raising, lowering, fragments = PROXIES[critique.attribute]
        pool = raising if critique.direction == "more" else lowering
        genres = [g for g in item.genres if g in pool]
        if genres:
            reasons += [f"genre:{g}" for g in genres]
            word = "more" if critique.direction == "more" else "less"
            return f"as {with_article(_join(genres).lower())} title it leans {word} toward {critique.attribute}"
        if critique.direction == "more":
            tags = [t for t in item.tags if any(f in t.lower() for f in fragments)]
            if tags:
                reasons.append(f"tag:{tags[0]}")
                return f"viewers tag it “{tags[0]}”"
    return None


def _cold_start_led(candidate: ScoredItem, weights: dict[str, float]) -> bool:
    """Did the cold-start signal weigh most in this candidate's rank score?"""
    weighted = {k[len("rank_"):]: weights.get(k[len("rank_"):], 0.0) * v
                for k, v in candidate.signals.items() if k.startswith("rank_")}
    if not weighted:  # not ranked: only the cold-start tool can have put it here
        return candidate.signals.get("cold_start", 0.0) > 0
    lead = weighted.get("cold_start", 0.0)
    return lead > 0 and lead >= max(weighted.values())


def _group_clause(candidate: ScoredItem, item: Item, demographics: Demographics | None,
                  reasons: list[str], weights: dict[str, float]) -> str | None:
    """"popular with people aged 25-34 who like comedies": only when the cold-start signal is
    what put the item here, the training likes back it for one of the user's own groups, and
    the genre is one the item has (see ``retrieval.group_taste``)."""
    if demographics is None or not candidate.signals.get("cold_start") or not _cold_start_led(candidate, weights):
        return None
    groups = {k[len("group:"):]: v for k, v in candidate.signals.items() if k.startswith("group:")}
    genres = [k[len("group_genre:"):] for k in candidate.signals if k.startswith("group_genre:")]
    if not groups or not genres or genres[0] not in item.genres:
        return None
    key = max(groups, key=groups.get)
    if not profile_has_group(demographics, key):
        return None
    attribute, _, value = key.partition("=")
    reasons += [f"demographic:{key}", f"genre:{genres[0]}"]
    return f"popular with {group_phrase(attribute, value)} who like {genre_phrase(genres[0])}"


def image_earned(candidate: ScoredItem) -> bool:
    """Did the poster put this item here? Its image score must be well above the other candidates'
    (``MUCH_ALIKE_Z``) and either be its largest part of the score (``image_led``) or be what
    lifted it into the list (``image_decisive``, see ``tools.ranking.mark_image_decisive``)."""
    signals = candidate.signals
    return (signals.get("rank_image", 0.0) > 0 and signals.get("image_z", 0.0) >= MUCH_ALIKE_Z
            and bool(signals.get("image_led") or signals.get("image_decisive")))


def _image_clause(candidate: ScoredItem, deps: ToolDeps, reasons: list[str]) -> str | None:
    """"its poster looks much like Se7en's": only when the image score earned the item its place."""
    if not image_earned(candidate):
        return None
    anchor = deps.catalog.get(candidate.image_anchor_id) if candidate.image_anchor_id else None
    if anchor is not None:
        reasons.append(f"image:{anchor.id}")
        return replies.LOOKS_LIKE_ITEM.format(title=anchor.short_title)
    if candidate.signals.get("image_ref_picture"):
        reasons.append("image:picture")
        return replies.LOOKS_LIKE_PICTURE
    reasons.append("image:words")
    return replies.LOOKS_LIKE_WORDS


CITED_CF = 0.15  # co-liking (retrieval.similarity's cf component) from which "people who liked X" is said
STORY_CITED = 0.35  # story likeness from which "a story much like X's" may be said


STORY_CITED_REQUEST = 0.5  # story match (0..1) from which "its story is close to what you described" may be said


def _story_led(candidate: ScoredItem, weights: dict[str, float]) -> bool:
    """Did the story match weigh most in this candidate's rank score (and match well)?"""
    weighted = {k[len("rank_"):]: weights.get(k[len("rank_"):], 0.0) * v
                for k, v in candidate.signals.items() if k.startswith("rank_")}
    story = candidate.signals.get("rank_story", 0.0)
    return story >= STORY_CITED_REQUEST and bool(weighted) and max(weighted, key=weighted.get) == "story"


def _likeness_clauses(candidate: ScoredItem, item: Item, anchor: Item, reasons: list[str]) -> list[str]:
    """What makes the item like the anchor, strongest first, each a fact both items have:
    shared director/writers/stars, shared tags, a close story (only when the story is what
    weighed most in the likeness), co-liking, shared genres."""
    clauses: list[str] = []
    parts = {k[len("like_"):]: v for k, v in candidate.signals.items() if k.startswith("like_")}
    common = shared_people(item, anchor)
    for role, verb in (("directors", "directed by"), ("writers", "written by")):
        names = [n for n in common.get(role, []) if n in anchor.people.get(role, [])]
        if names:
            reasons += [f"person:{n}" for n in names[:2]]
            clauses.append(f"also {verb} {_join(names[:2])}")
    stars = [n for n in common.get("stars", []) if n in anchor.all_people()][:2]
    if stars:
        reasons += [f"person:{n}" for n in stars]
        clauses.append(f"also with {_join(stars)}")
    tags = shared_tags(item, anchor)
    if tags:
        reasons += [f"tag:{t}" for t in tags]
        quoted = _join([f"“{t}”" for t in tags])
        clauses.append(f"shares the tag{'s' if len(tags) > 1 else ''} {quoted} with {anchor.short_title}")
    weighted = {k: float(v) for k, v in contributions(parts).items()}
    if parts.get("story", 0.0) >= STORY_CITED and weighted and max(weighted, key=weighted.get) == "story":
        reasons.append(f"story:{anchor.id}")
        clauses.append(f"a story much like {anchor.short_title}'s")
    if parts.get("cf", 0.0) >= CITED_CF:
        reasons.append(f"cf:{anchor.id}")
        clauses.append(f"people who liked {anchor.short_title} liked it too")
    if not clauses:
        genres = [g for g in item.genres if g in anchor.genres]
        if genres:
            reasons += [f"similar:{anchor.id}"] + [f"genre:{g}" for g in genres[:3]]
            clauses.append(f"it shares {_join(genres[:3]).lower()} with {anchor.short_title}")
    return clauses


def explain_item(candidate: ScoredItem, state: PreferenceState, deps: ToolDeps, *,
                 demographics: Demographics | None = None, weights: dict[str, float] | None = None) -> Explanation:
    """The why of one card. ``demographics``: the user's, when given (cold-start clauses);
    ``weights``: the rank weights of this turn (which signal led)."""
    item: Item = deps.catalog.get(candidate.id)
    reasons: list[str] = []
    first: list[str] = []
    looks = _image_clause(candidate, deps, reasons)
    if looks:
        first.append(looks)
    anchor = deps.catalog.get(candidate.anchor_id) if candidate.anchor_id else None
    if anchor is not None:
        first += _likeness_clauses(candidate, item, anchor, reasons)[:3]
        if item.year and anchor.year and item.year > anchor.year and state.year_min and state.year_min > anchor.year:
            reasons.append(f"year:{item.year}")
            first.append(f"it is newer ({item.year})")
    wanted_genres = [g for g in state.genres_include if g in item.genres]
    if wanted_genres and anchor is None:
        reasons += [f"genre:{g}" for g in wanted_genres]
        era = ""
        if item.year and (state.year_min or state.year_max):
            reasons.append(f"year:{item.year}")
            era = f" from {item.year}"
        first.append(f"it's {with_article(genre_noun(wanted_genres))}{era}")
    people = _people_clause(item, state.people_include, reasons)
    if people:
        first.append(f"it's {people}")
    critique = _critique_clause(item, state, reasons)
    if critique:
        first.append(critique)
    group = _group_clause(candidate, item, demographics, reasons, weights or {})
    if group:
        first.append(group)
    tags = [t for t in item.tags if any(fold(k) in fold(t) for k in state.keywords if not k.startswith("not "))]
    tags += [t for mood in moods_in(state.keywords) for t in mood_tags(item, mood) if t not in tags]
    if tags:
        reasons += [f"tag:{t}" for t in tags[:2]]
        first.append(f"viewers tag it {_join([f'“{t}”' for t in tags[:2]])}")
    if anchor is None and _story_led(candidate, weights or {}):
        reasons.append("story:request")
        first.append("its story is close to what you described")
    if not first and item.genres:
        reasons += [f"genre:{g}" for g in item.genres[:2]]
        first.append(f"it's {with_article(_join(item.genres[:2]).lower())} title{f' from {item.year}' if item.year else ''}")
    sentences = [_capitalize(_join(first[:3])) + "."] if first else []
    if item.n_ratings >= MIN_RATINGS_TO_CITE and item.mean_rating:
        reasons.append("rating")
        sentences.append(f"Rated {item.mean_rating:.1f}/5 by {item.n_ratings} MovieLens users.")
    if "people" in candidate.unverified:
        reasons.append("unknown:people")
        sentences.append("The catalog has no cast list for it, so I couldn't check who is in it.")
    if "runtime" in candidate.unverified:
        reasons.append("unknown:runtime")
        sentences.append("Its runtime isn't in the catalog.")
    why = " ".join(sentences) or f"{item.label} is in the catalog."
    return Explanation(item_id=item.id, why=why, reasons=list(dict.fromkeys(reasons)))


def _capitalize(text: str) -> str:
    return text[:1].upper() + text[1:]


@tool("explain", ExplainArgs, Explanations)
def explain_candidates(args: ExplainArgs, *, deps: ToolDeps, buffer: CandidateBuffer) -> Explanations:
    """Justify the first k candidates from their own attributes (genres, people, tags, year,
    ratings) and from what selected them (similarity to a named item, a poster that looks like
    the one asked for, the taste of the user's demographic group). Never invents facts."""
    explained = [explain_item(c, buffer.preferences, deps, demographics=buffer.demographics, weights=buffer.weights)
                 for c in buffer.items[: args.k]]
    buffer.explanations.update({e.item_id: e for e in explained})
    return Explanations(items=explained)
