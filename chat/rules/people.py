"""People of the catalog (directors, writers, stars) and where an utterance names one.

A full name ("tom hanks") is taken as it comes; a surname alone ("Nolan") only when it is the
clear owner of that surname in the catalog and the words around it say a person is meant.
"""

from __future__ import annotations

from collections import Counter, defaultdict

from rapidfuzz import fuzz

from chat import lexicon as lx
from chat.parser import key_words
from chat.rules.utterance import Utterance
from retrieval.catalog import Catalog

NAME_PARTICLES = frozenset("de da di del della van von der le la du st mc".split())
MAX_NAME_WORDS = 5
PersonSpan = tuple[int, int, str, bool]  # first word, end word, the catalog's name, full name (not a surname)


class PeopleIndex:
    """Catalog people by full name and by surname, with how many items each appears in."""

    def __init__(self, catalog: Catalog):
        counts: Counter[str] = Counter()
        for item in catalog:
            for name in set(item.all_people()):
                counts[name] += 1
        self.full: dict[tuple[str, ...], str] = {}
        by_surname: dict[tuple[str, ...], Counter[str]] = defaultdict(Counter)
        for name, n in counts.most_common():
            key = key_words(name)
            if not key:
                continue
            if len(key) >= 2:
                self.full.setdefault(key, name)
                if len(key) >= 3:  # "Samuel L. Jackson" is also "Samuel Jackson"
                    self.full.setdefault((key[0], key[-1]), name)
                surname = key[-2:] if key[-2] in NAME_PARTICLES else key[-1:]
                by_surname[surname][name] += n
            else:
                by_surname[key][name] += n
        self.surnames = self._clear_owners(by_surname)
        self.prefixes = {k[:n] for k in (*self.full, *self.surnames) for n in range(1, len(k) + 1)}
        self.words = {w for k in self.full for w in k}

    @staticmethod
    def _clear_owners(by_surname: dict[tuple[str, ...], Counter[str]]) -> dict[tuple[str, ...], str]:
        """Surname -> the person it means: in 3+ items and in at least twice as many as the next one."""
        surnames: dict[tuple[str, ...], str] = {}
        for surname, names in by_surname.items():
            (best, n1), *rest = names.most_common(2)
            n2 = rest[0][1] if rest else 0
            if n1 >= 3 and n1 >= 2 * n2:
                surnames[surname] = best
        return surnames


def person_spans(u: Utterance, people: PeopleIndex) -> list[PersonSpan]:
    """Every word span that is a catalog name: full names, and surnames not made up by the speller."""
    spans = []
    for a in range(len(u.fixed)):
        if (u.fixed[a],) not in people.prefixes:
            continue
        for b in range(a + 1, min(len(u.fixed), a + MAX_NAME_WORDS) + 1):
            key = tuple(u.fixed[a:b])
            if key not in people.prefixes or (b - a > 1 and u.crosses(b - 2, b)):
                break
            if key in people.full:
                corrected = sum(k in u.corrected for k in range(a, b))
                lowered_common = all(u.is_common(w) for w in key) and not u.words[a].capitalized
                if corrected < len(key) and not lowered_common:
                    spans.append((a, b, people.full[key], True))
            elif key in people.surnames:
                corrected = any(k in u.corrected for k in range(a, b))
                if not corrected or (surname_cued(u, a, b) and fuzz.ratio(
                        " ".join(u.norms[a:b]), " ".join(key)) >= 85):  # "by spielburg", "a scorcese movie"
                    spans.append((a, b, people.surnames[key], False))
    return spans


def _person_cue_before(u: Utterance, a: int) -> bool:
    """A person cue right before word a: "by", "with", "starring", "directed by"."""
    before = u.before(a, 2)
    return bool(before) and before[-1] in lx.PERSON_CUES


def _possessive_after(u: Utterance, b: int) -> bool:
    """A possessive or a movie noun right after word b-1: "Nolan's", "Hitchcock films"."""
    after = u.fixed[b] if b < len(u.fixed) else ""
    return after == "s" or after in lx.MOVIE_NOUNS


def surname_cued(u: Utterance, a: int, b: int) -> bool:
    """A person cue before ("by", "starring") or a possessive / movie noun after ("Nolan's", "Hitchcock films")."""
    return _person_cue_before(u, a) or _possessive_after(u, b)


def surname_ok(u: Utterance, a: int, b: int, *, strong_only: bool, phrase_words: set[str]) -> bool:
    """Whether a surname alone at a..b names the person: cued, or capitalized in a later pass.

    A surname that is also an everyday word ("Wood", "Stone") needs both a capital (not at a
    sentence start) and a cue; one that is a lexicon or filler word never names a person.
    """
    words = u.fixed[a:b]
    if any(w in phrase_words or w in lx.FILLER_WORDS for w in words):
        return False
    cued = _person_cue_before(u, a)
    possessive = _possessive_after(u, b)
    capitalized = u.words[a].capitalized and not u.mostly_capitalized
    if any(u.is_common(w) for w in words):
        return capitalized and (cued or possessive) and not u.sentence_start(a)
    return cued or possessive or (capitalized and not strong_only)
