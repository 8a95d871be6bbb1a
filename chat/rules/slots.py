"""What the walk collects from an utterance's matches before it becomes a ``PreferenceUpdate``.

``record_match`` files one match under the right slot, given whether a negation is in force and
the frame the words sit in ("seen", "liked", "disliked" or "like").
"""

from __future__ import annotations

from dataclasses import dataclass, field

from chat.rules.utterance import Match, Utterance
from retrieval.catalog import Item, normalize_title

# (item, text, explicit, frame): explicit when a cue or quotes said it is a title; frame is
# "neg" or the frame the title was named in.
TitleEntry = tuple[Item | None, str, bool, str | None]
EXCLUDING_FRAMES = ("seen", "disliked")


@dataclass
class Slots:
    """Preferences found so far, in the parser's own terms."""

    genres_include: list[str] = field(default_factory=list)
    genres_exclude: list[str] = field(default_factory=list)
    people_include: list[str] = field(default_factory=list)
    people_exclude: list[str] = field(default_factory=list)
    titles_like: list[TitleEntry] = field(default_factory=list)
    titles_exclude: list[TitleEntry] = field(default_factory=list)
    shown_titles: list[int] = field(default_factory=list)  # positions of shown items named by title
    keywords: list[str] = field(default_factory=list)
    critiques: list[tuple[str, str]] = field(default_factory=list)
    refs: list[int] = field(default_factory=list)
    audience: str | None = None
    feedback: str | None = None
    ask: str | None = None
    year_min: int | None = None
    year_max: int | None = None
    runtime_min: int | None = None
    runtime_max: int | None = None
    flags: set[str] = field(default_factory=set)  # kinds of cue seen: "more", "greet", "reset", "ref", ...
    used_words: set[int] = field(default_factory=set)  # words kept as negated keywords, not in the query


def add_once(values: list, value: object) -> None:
    """Append ``value`` unless it is already there."""
    if value not in values:
        values.append(value)


def record_match(u: Utterance, s: Slots, match: Match, negated: bool, frame: str | None) -> bool:
    """Record one match; True when it is something a negation can rule out."""
    kind, value = match.kind, match.value
    excluded = negated or frame == "disliked"
    if kind == "genre":
        for genre in value:  # type: ignore[union-attr]
            add_once(s.genres_exclude if excluded else s.genres_include, genre)
    elif kind == "person":
        add_once(s.people_exclude if excluded else s.people_include, value)
    elif kind == "title":
        _record_title(u, s, match, negated, frame)
    elif kind == "keyword":
        _record_keyword(u, s, match, negated)
    elif kind == "audience":
        flipped = {"kids": "adults", "adults": "kids"}[value] if negated else value  # type: ignore[index]
        s.audience = s.audience if (s.audience and not negated) else flipped  # type: ignore[assignment]
    elif kind == "ref":
        _record_reference(s, value, frame)  # type: ignore[arg-type]
    else:
        _record_setting(s, kind, value)
        return False
    return True


def _record_keyword(u: Utterance, s: Slots, match: Match, negated: bool) -> None:
    """A mood or theme; negated, it is also kept in the user's words: "no gore" -> "not gory", "not gore"."""
    value = match.value
    add_once(s.keywords, f"not {value}" if negated else value)
    if negated:
        said = " ".join(u.norms[match.a : match.b])
        if said != value:
            add_once(s.keywords, f"not {said}")
        s.used_words.update(range(match.a, match.b))


def _record_reference(s: Slots, positions: list[int], frame: str | None) -> None:
    """Shown items referred to; in a "seen" / "liked" / "disliked" frame they are feedback."""
    for position in positions:
        add_once(s.refs, position)
    s.flags.add("ref")
    if frame in ("seen", "liked", "disliked"):
        s.feedback = s.feedback or frame


def _record_setting(s: Slots, kind: str, value: object) -> None:
    """What a negation does not rule out: critiques, year and runtime bounds, questions, and cue flags."""
    if kind == "critique":
        add_once(s.critiques, value)
    elif kind == "year":
        lo, hi = value  # type: ignore[misc]
        s.year_min = max(s.year_min or lo, lo) if lo is not None else s.year_min
        s.year_max = min(s.year_max or hi, hi) if hi is not None else s.year_max
    elif kind == "runtime":
        lo, hi = value  # type: ignore[misc]
        s.runtime_min = lo if lo is not None else s.runtime_min
        s.runtime_max = hi if hi is not None else s.runtime_max
    elif kind == "ask":
        s.ask = s.ask or value  # type: ignore[assignment]
        s.flags.add("ask")
    else:
        s.flags.add(kind)


def _record_title(u: Utterance, s: Slots, match: Match, negated: bool, frame: str | None) -> None:
    """A named title: excluded when negated, seen or disliked; otherwise a title to match."""
    source, value = match.value  # type: ignore[misc]
    item = u.shown[value - 1] if source == "shown" else value
    position = value if source == "shown" else u.shown_position(item)
    if position is not None:
        add_once(s.shown_titles, position)
    text = item.title if item is not None else " ".join(w.text for w in u.words[match.a : match.b])
    explicit = match.explicit or frame is not None or negated
    entry = (item, text, explicit, "neg" if negated else frame)
    if negated and item is not None and source != "shown":
        said = " ".join(w.text for w in u.words[match.a : match.b]).lower()
        if normalize_title(said) != normalize_title(item.title):  # "no Harry Potter": the whole series
            add_once(s.keywords, f"not {said}")
    if negated or frame in EXCLUDING_FRAMES:
        if frame in EXCLUDING_FRAMES:
            s.feedback = s.feedback or frame
        s.titles_exclude.append(entry)
    else:
        if frame == "liked":
            s.flags.add("liked_title")
        s.titles_like.append(entry)
