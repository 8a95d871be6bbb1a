"""Spelling correction: a word found nowhere becomes the closest known word.

Known words are those of catalog titles and people, of the lexicon, and everyday words, so
"jurasic" -> "jurassic" and "thriler" -> "thriller", while a word the parser knows is never
"corrected". A few corrections per utterance keep a garbled message fast.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable

from rapidfuzz import process
from rapidfuzz.distance import OSA

from chat import lexicon as lx
from chat.rules.utterance import Utterance, fold_phrase

MAX_CORRECTIONS = 8
MAX_SLOW_CORRECTIONS = 2  # two-edit corrections compare against ~10k words (~2 ms each)
VOCABULARY_WEIGHT = 1000  # lexicon and everyday words outrank catalog words of the same distance


def lexicon_words() -> set[str]:
    """Every word the lexicon module mentions, so the speller never "corrects" one of them."""
    words: set[str] = set()
    for name in dir(lx):
        value = getattr(lx, name)
        if name.isupper() and isinstance(value, (dict, tuple, frozenset, set)):
            for phrase in value:
                if isinstance(phrase, str):
                    words.update(fold_phrase(phrase))
    return words


def known_word_frequencies(catalog_keys: Iterable[tuple[str, ...]], vocabulary: set[str]) -> Counter[str]:
    """How often each word occurs in catalog titles and names, with ``vocabulary`` words weighted up."""
    frequencies: Counter[str] = Counter()
    for key in catalog_keys:
        frequencies.update(key)
    frequencies.update({w: VOCABULARY_WEIGHT for w in vocabulary})
    return frequencies


class Speller:
    """Corrects a word found nowhere to the closest known word (catalog, lexicon, everyday words).

    One edit away is looked up in a deletion index (fast); two edits, for words of 8 letters or
    more, by comparing against the known words of about the same length and first letter.
    """

    def __init__(self, frequencies: Counter[str], preferred: set[str]):
        self.known = set(frequencies)
        self.frequencies = frequencies
        self.preferred = preferred
        self.deletions: dict[str, list[str]] = defaultdict(list)
        self.by_length: dict[int, list[str]] = defaultdict(list)
        for word in frequencies:
            if word.isalpha() and len(word) >= 4:
                self.by_length[len(word)].append(word)
                for variant in {word, *self._deletes(word)}:
                    self.deletions[variant].append(word)
        self._near_length: dict[tuple[str, int], list[str]] = {}

    @staticmethod
    def _deletes(word: str) -> set[str]:
        """The word with one letter left out, every way."""
        return {word[:i] + word[i + 1 :] for i in range(len(word))}

    def _rank(self, word: str, found: list[tuple[str, int]]) -> str | None:
        """The best of the (word, distance) candidates: nearest, preferred, same first letter, most frequent."""
        if not found:
            return None
        return min(found, key=lambda m: (m[1], m[0] not in self.preferred, m[0][0] != word[0],
                                         -self.frequencies[m[0]], m[0]))[0]

    def correct(self, word: str, *, two_edits: bool = True) -> str | None:
        """The closest known word one edit away (two for words of 8+ letters when allowed), or None."""
        if word in self.known or not word.isalpha() or not 5 <= len(word) <= 24:
            return None
        near = {c for variant in {word, *self._deletes(word)} for c in self.deletions.get(variant, ())}
        found = [(c, d) for c in near if (d := OSA.distance(word, c, score_cutoff=1)) <= 1]
        if found or len(word) < 8 or not two_edits:
            return self._rank(word, found)
        bucket = (word[0], len(word))  # a typo seldom hits the first letter; this keeps it fast
        choices = self._near_length.get(bucket)
        if choices is None:
            lengths = range(len(word) - 2, len(word) + 3)
            choices = [w for n in lengths for w in self.by_length.get(n, ()) if w[0] == word[0]]
            self._near_length[bucket] = choices
        matches = process.extract(word, choices, scorer=OSA.distance, score_cutoff=2, limit=20)
        return self._rank(word, [(m[0], int(m[1])) for m in matches])


def correct_spelling(u: Utterance, speller: Speller) -> None:
    """Correct the unknown words of an utterance in ``u.fixed``, at most ``MAX_CORRECTIONS`` tries."""
    budget, slow_budget = MAX_CORRECTIONS, MAX_SLOW_CORRECTIONS
    for k, word in enumerate(u.norms):
        if budget <= 0:
            break
        if word in speller.known or not word.isalpha() or len(word) < 5:
            continue
        if word.endswith("s") and word[:-1] in speller.known:
            continue  # a plural of a known word
        budget -= 1
        slow = len(word) >= 8 and slow_budget > 0
        slow_budget -= slow
        fixed = speller.correct(word, two_edits=slow)
        if fixed:
            u.fixed[k] = fixed
            u.corrected.add(k)
