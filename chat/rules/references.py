"""References to the items shown in the previous turn: "the second one", "#3", "all of those", "it".

Positions are 1-based in the order the items were shown; "the last" and "the middle one" are
counted from the number of items shown.
"""

from __future__ import annotations

from dataclasses import dataclass

from chat import lexicon as lx
from chat.rules.utterance import HARD_PUNCT, Match, Utterance, fold_phrase

Found = tuple[int, list[int]]  # end word, positions referred to
TIME_UNITS = ("years", "year", "decades", "minutes", "hours", "mins")  # "the last 10 years" is no reference
SAW_WORDS = {"seen", "watched", "like", "liked", "saw"}  # "any of those" refers only after one of these
BARE_PLURALS = {"those", "these", "them"}  # "seen those (too)": every shown item, right after a SEEN word
SEEN_WORDS = {"seen", "watched", "saw"}  # not "like": "more like them" asks for similar items


@dataclass(frozen=True)
class ReferenceCues:
    """The lexicon's reference phrases, folded: every shown item, ordinals, and pointing pronouns."""

    all_shown: frozenset[tuple[str, ...]]
    ordinals: dict[tuple[str, ...], int]
    pointers: frozenset[tuple[str, ...]]

    @classmethod
    def from_lexicon(cls) -> ReferenceCues:
        """The cues of ``chat.lexicon``."""
        return cls(all_shown=frozenset(fold_phrase(c) for c in lx.ALL_SHOWN),
                   ordinals={fold_phrase(c): v for c, v in lx.ORDINALS.items()},
                   pointers=frozenset(fold_phrase(c) for c in lx.POINTERS))


def find_references(u: Utterance, cues: ReferenceCues) -> None:
    """Claim every reference to shown items; positions past the shown items are dropped."""
    n = len(u.shown)
    k = 0
    while k < len(u.fixed):
        found = _reference_at(u, k, cues)
        if found is None or not u.free(k, found[0]):
            k += 1
            continue
        end, positions = found
        if n == 0:
            u.notes.append("You pointed at a title on the list, but nothing was shown yet.")
        u.take(Match(k, end, "ref", [p for p in positions if 1 <= p <= n]))
        k = end


def pointer_reference(u: Utterance, cues: ReferenceCues) -> list[int]:
    """[1] when "it" / "that one" can only mean the one item shown, [0] when it is ambiguous, else []."""
    for k in range(len(u.fixed)):
        if u.taken[k] is not None and u.taken[k].kind not in ("feedback", "ask"):
            continue
        for length in (2, 1):
            if tuple(u.fixed[k : k + length]) in cues.pointers:
                return [1] if len(u.shown) == 1 else [0]
    return []


def _reference_at(u: Utterance, k: int, cues: ReferenceCues) -> Found | None:
    """A reference starting at word k: every shown item, a numbered one, or an ordinal."""
    w, n = u.fixed, len(u.shown)
    for length in (6, 5, 4, 3, 2, 1):
        if k + length <= len(w) and tuple(w[k : k + length]) in cues.all_shown and not u.crosses(k, k + length):
            if w[k] == "both" and n != 2 and length == 1:
                return None
            if w[k] == "any" and not (u.before(k, 3) and set(u.before(k, 3)) & SAW_WORDS):
                return None
            return k + length, list(range(1, n + 1))
    if w[k] in BARE_PLURALS and set(u.before(k, 2)) & SEEN_WORDS and not u.crosses(k, k + 1):
        return k + 1, list(range(1, n + 1))
    return _numbered_at(u, k) or _ordinal_at(u, k, cues.ordinals)


def _numbered_at(u: Utterance, k: int) -> Found | None:
    """"#3", "number 3", "no. 3", "option three"."""
    w = u.fixed
    start_token = u.word_at[k]
    if w[k].isdigit() and len(w[k]) <= 2 and start_token > 0 and u.tokens[start_token - 1].text == "#":
        return k + 1, [int(w[k])]
    if w[k] in lx.NUMBERED and k + 1 < len(w) and (w[k] != "no" or "." in u.punct_between(k, k + 1)):
        value = int(w[k + 1]) if w[k + 1].isdigit() and len(w[k + 1]) <= 2 else lx.NUMBER_WORDS.get(w[k + 1])
        if value and w[k + 1] not in ("a", "an") and value <= 20:
            return k + 2, [value]
    return None


def _ordinal(w: list[str], at: int, ordinals: dict[tuple[str, ...], int]) -> tuple[int, int] | None:
    """(end word, value) of the ordinal at word ``at`` ("first", "second to last"), longest first."""
    for length in (3, 2, 1):
        value = ordinals.get(tuple(w[at : at + length]))
        if value is not None and at + length <= len(w):
            return at + length, value
    return None


def _ordinal_at(u: Utterance, k: int, ordinals: dict[tuple[str, ...], int]) -> Found | None:
    """"the second one", "the first and third", "the last two", "the 3rd movie"."""
    w, n = u.fixed, len(u.shown)
    start = k + 1 if w[k] == "the" else k
    first = _ordinal(w, start, ordinals) if start < len(w) else None
    if first is None:
        return None
    end, value = first
    counted = _first_or_last_few(w, start, end, n)
    if counted is not None:
        return counted
    values = [value]
    while end + 1 < len(w) and w[end] in ("and", "or") or (end < len(w) and w[end] == "the"):
        nxt = end + 1 if w[end] in ("and", "or") else end
        nxt = nxt + 1 if nxt < len(w) and w[nxt] == "the" else nxt
        more = _ordinal(w, nxt, ordinals) if nxt < len(w) else None
        if more is None:
            break
        end, value = more
        values.append(value)
    noun = end < len(w) and w[end] in lx.REFERENCE_NOUNS
    if noun:
        end += 1
    follower = end >= len(w) or w[end] in lx.REFERENCE_FOLLOWERS or any(
        c in HARD_PUNCT for c in u.punct_between(end - 1, end))
    if not noun and not (w[k] == "the" and follower):
        return None
    if not noun and w[start] in ("top", "middle", "bottom", "final"):
        return None
    return end, _positions(values, n)


def _first_or_last_few(w: list[str], start: int, end: int, n: int) -> Found | None:
    """"the first two", "the last 3 movies": a count after "first" / "last" / "top" ending at ``end``."""
    if end >= len(w) or w[end - 1] not in ("first", "last", "top"):
        return None
    count = lx.NUMBER_WORDS.get(w[end]) if w[end] not in ("a", "an", "one") else None
    count = count or (int(w[end]) if w[end].isdigit() and len(w[end]) == 1 else None)
    after = w[end + 1] if end + 1 < len(w) else ""
    if not count or not 2 <= count <= 10 or after in TIME_UNITS:
        return None
    end += 2 if after in lx.REFERENCE_NOUNS else 1
    last = w[start] == "last"
    return end, _positions([(-i if last else i) for i in range(1, count + 1)], n)


def _positions(values: list[int], n: int) -> list[int]:
    """1-based positions of ordinal values: negatives count from the end, 0 is the middle one."""
    out = []
    for v in values:
        p = (n + 1) // 2 if v == 0 else n + 1 + v if v < 0 else v
        if n == 0 and v > 0:
            p = v
        out.append(p)
    return out
