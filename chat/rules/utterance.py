"""One utterance as the rule parser reads it: its words, and which spans of words are claimed.

Every finder (titles, people, references, years, runtimes, phrases) records what it found as a
``Match`` over word positions and claims those words, so later finders leave them alone.
Positions count words only; punctuation is looked up between words when it matters.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from chat.parser import Token, tokenize
from retrieval.catalog import Item

MAX_CHARS = 2000
HARD_PUNCT = frozenset(",.;:!?()[]{}")


def clean_text(text: str) -> tuple[str, list[str]]:
    """Control and format characters out, whitespace collapsed, length capped; with notes on what was cut."""
    notes: list[str] = []
    text = unicodedata.normalize("NFKC", text or "")
    text = "".join(" " if unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co") else c for c in text)
    if len(text) > MAX_CHARS:
        notes.append(f"I only read the first {MAX_CHARS} characters of your message.")
        text = text[:MAX_CHARS]
    return " ".join(text.split()), notes


def fold_phrase(text: str) -> tuple[str, ...]:
    """A lexicon phrase as the folded words an utterance is matched on: ``"sci-fi"`` -> ``("sci", "fi")``."""
    return tuple(t.norm for t in tokenize(text))


def fold_phrases(cues: Iterable[str]) -> frozenset[tuple[str, ...]]:
    """Every non-empty phrase of a cue list, folded."""
    return frozenset(fold_phrase(c) for c in cues if fold_phrase(c))


@dataclass
class Match:
    """A span of words (indices into the word list, end exclusive) and what it means."""

    a: int
    b: int
    kind: str
    value: object = None
    explicit: bool = False  # for titles: a cue or quotes said it is a title


class Utterance:
    """One utterance being read. Built per ``parse`` call; holds nothing between calls.

    ``fixed`` holds the folded words after spelling correction and is what finders match on;
    ``norms`` keeps them as typed. ``taken[k]`` is the match that claimed word ``k``.
    ``common`` is the parser's everyday vocabulary (common words, filler, lexicon words).
    """

    def __init__(self, text: str, shown: list[Item], notes: list[str], common: set[str]):
        self.text = text
        self.shown = shown
        self.notes = notes
        self.common = common
        self.tokens: list[Token] = tokenize(text)
        self.word_at: list[int] = [i for i, t in enumerate(self.tokens) if t.is_word]
        self.words: list[Token] = [self.tokens[i] for i in self.word_at]
        self.norms: list[str] = [w.norm for w in self.words]
        self.fixed: list[str] = list(self.norms)
        self.corrected: set[int] = set()
        self.taken: list[Match | None] = [None] * len(self.words)
        self.matches: list[Match] = []
        self.mostly_capitalized = self._mostly_capitalized()

    def _mostly_capitalized(self) -> bool:
        """Title Case or ALL CAPS writing, where capitals say nothing about titles."""
        words = [w for w in self.words if w.text.isalpha() and w.text != "I" and w.norm in self.common]
        return len(words) >= 3 and sum(w.capitalized for w in words) >= 0.7 * len(words)

    def punct_between(self, a: int, b: int) -> str:
        """Punctuation marks between word ``a`` and word ``b`` (a < b)."""
        start = self.word_at[a] + 1 if 0 <= a < len(self.word_at) else 0
        end = self.word_at[b] if 0 <= b < len(self.word_at) else len(self.tokens)
        return "".join(t.text for t in self.tokens[start:end] if not t.is_word)

    def crosses(self, a: int, b: int, blocked: frozenset[str] = HARD_PUNCT) -> bool:
        """True when the words a..b-1 have a blocked punctuation mark between them."""
        b = min(b, len(self.words))
        return any(c in blocked for k in range(max(a, 0), b - 1) for c in self.punct_between(k, k + 1))

    def free(self, a: int, b: int) -> bool:
        """True when no finder has claimed any of the words a..b-1 (and they exist)."""
        return b <= len(self.taken) and all(self.taken[k] is None for k in range(max(a, 0), b))

    def take(self, match: Match) -> None:
        """Record a match and claim its words."""
        for k in range(match.a, match.b):
            self.taken[k] = match
        self.matches.append(match)

    def sentence_start(self, a: int) -> bool:
        """True when word ``a`` opens a sentence (or a quote), where a capital says nothing."""
        if a == 0:
            return True
        return any(c in ".!?:;\"“" for c in self.punct_between(a - 1, a))

    def before(self, a: int, n: int) -> tuple[str, ...]:
        """Up to ``n`` words before word ``a`` that are not across hard punctuation."""
        out: list[str] = []
        k = a - 1
        while k >= 0 and len(out) < n:
            if any(c in HARD_PUNCT for c in self.punct_between(k, k + 1)):
                break
            out.insert(0, self.fixed[k])
            k -= 1
        return tuple(out)

    def is_common(self, word: str) -> bool:
        """An everyday word (or a short number), which alone is weak evidence of a title or a name."""
        return word in self.common or word.isdigit() and len(word) < 4

    def shown_position(self, item: Item | None) -> int | None:
        """1-based position of ``item`` among the items just shown, if it is one of them."""
        for position, shown in enumerate(self.shown, start=1):
            if item is not None and shown.id == item.id:
                return position
        return None
