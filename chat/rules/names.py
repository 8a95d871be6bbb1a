"""Titles and people named in an utterance, decided together.

Title and name candidates compete for the same words: the longest span wins, then the better
evidenced (a shown item, a full name, a cued surname, a strong title), then the earlier one.
The reading runs this twice: first taking only strongly evidenced titles (so references, years
and phrases do not eat them), then, after the other finders, the weaker ones on free words.
"""

from __future__ import annotations

from chat import lexicon as lx
from chat.rules.people import PeopleIndex, person_spans, surname_cued, surname_ok
from chat.rules.phrases import PhraseTable
from chat.rules.titles import TitleRecognizer
from chat.rules.utterance import Match, Utterance

Candidate = tuple[int, int, int, Match]  # words, rank (higher is better evidenced), first word, match


def find_titles_and_people(u: Utterance, titles: TitleRecognizer, people: PeopleIndex, phrases: PhraseTable,
                           *, strong_only: bool) -> None:
    """Claim titles and people on free words; with ``strong_only`` only well-evidenced titles."""
    candidates, title_spans = _title_candidates(u, titles, strong_only=strong_only)
    candidates += _person_candidates(u, people, phrases, title_spans, strong_only=strong_only)
    candidates.sort(key=lambda c: (-c[0], -c[1], c[2]))
    for _, _, _, match in candidates:
        if u.free(match.a, match.b):
            u.take(match)
            if match.kind == "title":
                titles.take_year(u, match)


def _title_candidates(u: Utterance, titles: TitleRecognizer, *,
                      strong_only: bool) -> tuple[list[Candidate], list[tuple[int, int]]]:
    """Title candidates on free words, and every free span that is a title key (evidenced or not)."""
    candidates: list[Candidate] = []
    title_spans: list[tuple[int, int]] = []
    for a, b, key in titles.spans(u):
        if not u.free(a, b):
            continue
        title_spans.append((a, b))
        if key[0] == "#shown":
            position = int(key[1])
            strong = u.words[a].capitalized and not u.sentence_start(a) or (
                b < len(u.fixed) and u.fixed[b] in lx.REFERENCE_NOUNS)
            if strong:
                candidates.append((b - a, 3, a, Match(a, b, "title", ("shown", position), True)))
            continue
        strong, weak = titles.evidence(u, a, b, key)
        if titles.index.best_priority[key] > 0 and len(key) == 1 and u.is_common(key[0]) and not titles.quoted(u, a):
            continue  # an alias or half of a title made of everyday words ("The Movie", "Live")
        item = titles.pick(u, key, b)
        shown = u.shown_position(item)
        if shown and not strong and not all(u.is_common(w) for w in key):
            strong = True  # one of the items just shown, named in lower case: "who directed the shining?"
        if not (strong or (weak and not strong_only)):
            continue
        rank = 3 if shown else 2 if strong else 0
        candidates.append((b - a, rank, a, Match(a, b, "title", ("item", item), strong)))
    return candidates, title_spans


def _person_candidates(u: Utterance, people: PeopleIndex, phrases: PhraseTable, title_spans: list[tuple[int, int]],
                       *, strong_only: bool) -> list[Candidate]:
    """Person candidates on free words; a surname inside a longer title span is left to the title."""
    candidates: list[Candidate] = []
    for a, b, name, full in person_spans(u, people):
        if not u.free(a, b):
            continue
        if not full and any(a2 <= a and b <= b2 and b2 - a2 > b - a for a2, b2 in title_spans):
            continue  # "indiana jones": part of a longer title, not Tommy Lee Jones
        if full or surname_ok(u, a, b, strong_only=strong_only, phrase_words=phrases.single_words):
            rank = 4 if full else 5 if surname_cued(u, a, b) else 1
            candidates.append((b - a, rank, a, Match(a, b, "person", name)))
    return candidates
