"""Years, decades and the bounds they set: "from 1995", "the early 80s", "before 2000", "90s or later".

A year or decade (an "atom") spans its first to last year; ranges join two atoms ("between
1990 and 1995", "80s or 90s"); a cue before it ("before", "since", "not after") or after it
("or later", "and earlier") turns the span into a ``(year_min, year_max)`` bound.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from chat import lexicon as lx
from chat.rules.negation import negated_before
from chat.rules.utterance import Match, Utterance, fold_phrases

YearAtom = tuple[int, int, int, int]  # first word, end word, first year, last year
Bound = tuple[int | None, int | None]  # (year_min, year_max)
NUMERIC_DECADE = re.compile(r"(\d{2}|\d{4})s")
DECADE_DIGITS = re.compile(r"\d{2}|\d{4}")  # "90 's" is tokenized as "90", "s"
YEAR = re.compile(r"(18[7-9]\d|19\d\d|20\d\d)")
WORDED_DECADES = {("two", "thousands"): 2000, ("twenty", "tens"): 2010}
RANGE_WORDS = ("and", "or", "to", "through", "thru", "till", "until")


@dataclass(frozen=True)
class YearCues:
    """The lexicon's year cues, folded, and the words that negate them."""

    bounds: tuple[tuple[frozenset[tuple[str, ...]], str], ...]  # (cues, how the bound reads the span)
    open_min: frozenset[tuple[str, ...]]
    open_max: frozenset[tuple[str, ...]]
    negators: frozenset[str]

    @classmethod
    def from_lexicon(cls, negators: frozenset[str]) -> YearCues:
        """The cues of ``chat.lexicon``."""
        return cls(bounds=((fold_phrases(lx.YEAR_BEFORE), "before"), (fold_phrases(lx.YEAR_UNTIL), "until"),
                           (fold_phrases(lx.YEAR_AFTER), "after"), (fold_phrases(lx.YEAR_SINCE), "since"),
                           (fold_phrases(lx.YEAR_IN), "in")),
                   open_min=fold_phrases(lx.YEAR_OPEN_MIN), open_max=fold_phrases(lx.YEAR_OPEN_MAX),
                   negators=negators)


def find_years(u: Utterance, cues: YearCues) -> None:
    """Claim every year or decade expression with the bound it sets; a negated period is noted, not used."""
    for a, b, lo, hi in _ranges(u, _year_atoms(u)):
        start, bound = _cue_before(u, cues, a, lo, hi)
        end, bound = _cue_after(u, cues, b, lo, hi, bound)
        if bound is not None:
            u.take(Match(start, end, "year", bound))


def _year_atoms(u: Utterance) -> list[YearAtom]:
    """Every year or decade mentioned on free words."""
    atoms = []
    k = 0
    while k < len(u.fixed):
        atom = _year_atom(u, k) if u.taken[k] is None and not _bracketed_year(u, k) else None
        if atom:
            atoms.append(atom)
            k = atom[1]
        else:
            k += 1
    return atoms


def _bracketed_year(u: Utterance, k: int) -> bool:
    """"The Family (2013)": a year in brackets labels the title before it, even one the catalog
    does not know; nobody asks for a period that way."""
    return (len(u.fixed[k]) == 4 and u.fixed[k].isdigit() and "(" in u.punct_between(k - 1, k)
            and ")" in u.punct_between(k, k + 1))


def _year_atom(u: Utterance, k: int) -> YearAtom | None:
    """A year ("1995"), a decade ("90s", "1990s", "the eighties", "two thousands"), maybe "early" / "late"."""
    w = u.fixed
    start, part = k, None
    if w[k] in lx.DECADE_PARTS and k + 1 < len(w):
        part, k = lx.DECADE_PARTS[w[k]], k + 1
        if w[k] == "the" and k + 1 < len(w):
            k += 1
    numeric = _numeric_decade(u, k)
    if numeric is not None:
        lo, end = _decade_start(numeric[0]), numeric[1]
        if lo is None:
            return None
    elif w[k] in lx.DECADE_WORDS or tuple(w[k : k + 2]) in WORDED_DECADES:
        worded = _worded_decade(u, k, start)
        if worded is None:
            return None
        start, end, lo = worded
    elif YEAR.fullmatch(w[k]) and part is None:
        following = w[k + 1] if k + 1 < len(w) else ""
        if following in lx.MINUTE_UNITS or following in lx.HOUR_UNITS:
            return None  # "2000 minutes" is no year
        return start, k + 1, int(w[k]), int(w[k])
    else:
        return None
    if part is not None:
        return start, end, lo + part[0], lo + part[1]
    return start, end, lo, lo + 9


def _numeric_decade(u: Utterance, k: int) -> tuple[str, int] | None:
    """(digits, end word) of a decade written in digits: "90s", "1990s", "90 's"."""
    w = u.fixed
    m = NUMERIC_DECADE.fullmatch(w[k])
    if m:
        return m.group(1), k + 1
    if DECADE_DIGITS.fullmatch(w[k]) and k + 1 < len(w) and w[k + 1] == "s" and u.free(k + 1, k + 2):
        return w[k], k + 2
    return None


def _decade_start(digits: str) -> int | None:
    """The first year of a decade ("90" -> 1990, "10" -> 2010), or None when it is no decade."""
    year = int(digits)
    if year < 100:
        year = 1900 + year if year >= 20 else 2000 + year
    if year % 10 or not 1870 <= year <= 2090:
        return None
    return year


def _worded_decade(u: Utterance, k: int, start: int) -> tuple[int, int, int] | None:
    """(first word, end word, first year) of "eighties", "the teens", "nineteen nineties", "two thousands"."""
    w = u.fixed
    pair = tuple(w[k : k + 2])
    if pair in WORDED_DECADES:
        lo, end = WORDED_DECADES[pair], k + 2
    else:
        if w[k] == "teens" and not (k > 0 and w[k - 1] == "the"):
            return None
        lo, end = lx.DECADE_WORDS[w[k]], k + 1
    if k > 0 and w[k - 1] == "nineteen" and u.taken[k - 1] is None:
        start = min(start, k - 1)
    return start, end, lo


def _ranges(u: Utterance, atoms: list[YearAtom]) -> list[YearAtom]:
    """Atoms joined into ranges: "between 1990 and 1995", "1990-1995", "from the 80s to the 2000s"."""
    joined: list[YearAtom] = []
    i = 0
    while i < len(atoms):
        a, b, lo, hi = atoms[i]
        while i + 1 < len(atoms):
            na, nb, nlo, nhi = atoms[i + 1]
            gap = [x for x in u.fixed[b:na] if x != "the"]
            dash = na == b and "-" in u.punct_between(b - 1, na)
            if not (dash or (gap and len(gap) == 1 and gap[0] in RANGE_WORDS)):
                break
            b, lo, hi = nb, min(lo, nlo), max(hi, nhi)
            i += 1
        joined.append((a, b, lo, hi))
        i += 1
    return joined


def _cue_before(u: Utterance, cues: YearCues, a: int, lo: int, hi: int) -> tuple[int, Bound | None]:
    """(first word, bound) from a cue before the span: "before 1990" -> (None, 1989); none -> (lo, hi).

    A negated cue flips the bound ("not before 1990" -> (1990, None)); a negated "in" cannot be
    expressed as a bound and gives None.
    """
    w = u.fixed
    k = a - 1 if a > 0 and w[a - 1] == "the" else a
    make = {"before": (None, lo - 1), "until": (None, hi), "after": (hi + 1, None), "since": (lo, None),
            "in": (lo, hi)}
    for length in (4, 3, 2, 1):
        before = tuple(w[k - length : k]) if k - length >= 0 else ()
        if not before or u.crosses(k - length, k + 1) or not u.free(k - length, k):
            continue
        for phrases, name in cues.bounds:
            if before in phrases:
                bound = make[name]
                if negated_before(u, k - length, cues.negators):
                    if name == "in":
                        u.notes.append("I can't rule out a whole period, so I ignored “not from …”.")
                        return k - length, None
                    bound = _negated(bound)
                return k - length, bound
    return k, (lo, hi)


def _negated(bound: Bound) -> Bound:
    """The years outside a one-sided bound: "not before 1990" reads (None, 1989) as (1990, None)."""
    lo, hi = bound
    return (hi + 1 if hi is not None else None, lo - 1 if lo is not None else None)


def _cue_after(u: Utterance, cues: YearCues, b: int, lo: int, hi: int, bound: Bound | None) -> tuple[int, Bound | None]:
    """(end word, bound) with an open end after the span: "1990 or later", "2000 and earlier"."""
    w = u.fixed
    if bound is None:
        return b, None
    for length in (2, 1):
        after = tuple(w[b : b + length])
        if len(after) < length or not u.free(b, b + length):
            continue
        if after in cues.open_min:
            return b + length, (bound[0] if bound[0] is not None else lo, None)
        if after in cues.open_max:
            return b + length, (None, bound[1] if bound[1] is not None else hi)
    return b, bound
