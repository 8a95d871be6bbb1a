"""Runtimes and the bounds they set: "under 2 hours", "at least 90 minutes", "about an hour and a half".

A duration is found by a pattern over the folded words; a cue before it ("under", "at least",
"about", "<") or after it ("or less", "max") makes it a maximum, a minimum or a window of
``RUNTIME_ABOUT_SLACK`` minutes either side. A negation flips a maximum into a minimum.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from chat import lexicon as lx
from chat.rules.negation import negated_before
from chat.rules.utterance import Match, Utterance, fold_phrases

Bound = tuple[int | None, int | None]  # (runtime_min, runtime_max) in minutes
MIN_MINUTES, MAX_MINUTES = 5, 600
MAX_DIGITS = 5  # a number with more digits is no duration ("under 999...9 minutes"): read as no bound
SIGNS = {"<": "max", ">": "min", "~": "about"}
_NUMBER_WORDS = "|".join(sorted((re.escape(n) for n in lx.NUMBER_WORDS), key=len, reverse=True))
_NUMBER = r"(?:\d+(?: \. \d+)?|" + _NUMBER_WORDS + ")"
DURATION = re.compile(
    r"(?P<hm>\d+) ?h(?:rs?|ours?)? ?(?P<hmm>\d+) ?(?:m|mins?|minutes?)?\b"
    r"|(?P<half>(?:an? |one )?hour and a half|half an hour|(?P<nh>" + _NUMBER + r") and a half hours?)"
    r"|(?P<n>" + _NUMBER + r") ?(?:- )?(?P<unit>minutes?|mins?|m|hours?|hrs?|h)\b"
)


@dataclass(frozen=True)
class RuntimeCues:
    """The lexicon's runtime cues, folded, and the words that negate them."""

    max: frozenset[tuple[str, ...]]
    min: frozenset[tuple[str, ...]]
    about: frozenset[tuple[str, ...]]
    negators: frozenset[str]

    @classmethod
    def from_lexicon(cls, negators: frozenset[str]) -> RuntimeCues:
        """The cues of ``chat.lexicon``."""
        return cls(max=fold_phrases(lx.RUNTIME_MAX), min=fold_phrases(lx.RUNTIME_MIN),
                   about=fold_phrases(lx.RUNTIME_ABOUT), negators=negators)


def find_runtimes(u: Utterance, cues: RuntimeCues) -> None:
    """Claim every duration between 5 minutes and 10 hours on free words, with the bound it sets."""
    norm_text, offsets = _folded_text(u)
    for m in DURATION.finditer(norm_text):
        a, b = _word_range(offsets, m.start(), m.end())
        if a is None or not u.free(a, b):
            continue
        minutes = _minutes(m)
        if minutes is None or not MIN_MINUTES <= minutes <= MAX_MINUTES:
            continue
        start, end, bound = _runtime_bound(u, cues, a, b, minutes)
        u.take(Match(start, end, "runtime", bound))


def _number(text: str) -> float | None:
    """A number in digits ("1 . 5") or words ("two"); ``None`` for one too long to be a duration."""
    text = text.replace(" . ", ".").strip()
    if text in lx.NUMBER_WORDS:
        return float(lx.NUMBER_WORDS[text])
    if len(text.split(".", 1)[0]) > MAX_DIGITS:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _minutes(m: re.Match) -> int | None:
    """The minutes a ``DURATION`` match says: "2h 15", "an hour and a half", "1.5 hours", "90 min"."""
    if m.group("hm"):
        if len(m.group("hm")) > MAX_DIGITS or len(m.group("hmm")) > MAX_DIGITS:
            return None
        return int(m.group("hm")) * 60 + int(m.group("hmm"))
    if m.group("half"):
        if m.group("nh"):
            n = _number(m.group("nh"))
            return int(n * 60 + 30) if n is not None else None
        return 30 if m.group("half").startswith("half") else 90
    n = _number(m.group("n"))
    if n is None:
        return None
    return int(round(n * 60)) if m.group("unit").startswith("h") else int(n)


def _runtime_bound(u: Utterance, cues: RuntimeCues, a: int, b: int, minutes: int) -> tuple[int, int, Bound]:
    """(first word, end word, bound) of the duration at a..b with its cues."""
    start, kind = _cue_before(u, cues, a)
    end, kind = _cue_after(u, cues, b, kind)
    if end < len(u.fixed) and u.fixed[end] == "long" and u.free(end, end + 1):
        end += 1
    if kind in ("max", "min") and negated_before(u, start, cues.negators):
        kind = "min" if kind == "max" else "max"
    if kind == "max":
        return start, end, (None, minutes)
    if kind == "min":
        return start, end, (minutes, None)
    slack = lx.RUNTIME_ABOUT_SLACK
    return start, end, (max(1, minutes - slack), minutes + slack)


def _cue_before(u: Utterance, cues: RuntimeCues, a: int) -> tuple[int, str | None]:
    """(first word, "max" / "min" / "about" or None) from a cue or a sign right before word a."""
    groups = ((cues.max, "max"), (cues.min, "min"), (cues.about, "about"))
    for length in (3, 2, 1):
        before = tuple(u.fixed[a - length : a]) if a - length >= 0 else ()
        if not before or not u.free(a - length, a) or u.crosses(a - length, a + 1):
            continue
        for phrases, name in groups:
            if before in phrases:
                return a - length, name
    if a > 0 and u.tokens[u.word_at[a] - 1].text in "<>~":
        return a, SIGNS[u.tokens[u.word_at[a] - 1].text]
    return a, None


def _cue_after(u: Utterance, cues: RuntimeCues, b: int, kind: str | None) -> tuple[int, str | None]:
    """(end word, kind) with a cue after the duration ("or less", "max"), which overrides one before it."""
    end = b
    for length in (3, 2, 1):
        after = tuple(u.fixed[b : b + length])
        if len(after) == length and u.free(b, b + length):
            for phrases, name in ((cues.max, "max"), (cues.min, "min")):
                if after in phrases:
                    kind, end = name, b + length
                    break
    return end, kind


def _folded_text(u: Utterance) -> tuple[str, list[tuple[int, int]]]:
    """The folded words joined by spaces ("1.5" kept as "1 . 5"), and each word's (start, end) in that text."""
    parts, offsets, pos = [], [], 0
    for k, word in enumerate(u.fixed):
        if k and "." in u.punct_between(k - 1, k) and word.isdigit() and u.fixed[k - 1].isdigit():
            parts.append(". ")
            pos += 2
        offsets.append((pos, pos + len(word)))
        parts.append(word + " ")
        pos += len(word) + 1
    return "".join(parts), offsets


def _word_range(offsets: list[tuple[int, int]], start: int, end: int) -> tuple[int | None, int]:
    """The words a match over the folded text covers, or (None, 0) when it starts inside a word."""
    words = [k for k, (s, e) in enumerate(offsets) if s >= start and e <= end]
    if not words or offsets[words[0]][0] != start:
        return None, 0
    return words[0], words[-1] + 1
