"""Small English helpers for reply texts: numbers as words, a/an, plurals, lists."""

from __future__ import annotations

import re

NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
                "eleven", "twelve")
# words that start with a vowel letter but a consonant sound, and the reverse
_CONSONANT_SOUND = ("uni", "use", "usu", "eu", "one", "once", "ufo")
_VOWEL_SOUND = ("hour", "honest", "honour", "honor", "heir")
_VOWEL_LETTER_ABBREVIATIONS = set("AEFHILMNORSX")  # "an IMAX film", "an R-rated film", "an FBI thriller"


def count_word(n: int) -> str:
    """``5`` → ``five``; numbers past twelve stay digits."""
    return NUMBER_WORDS[n] if 0 <= n < len(NUMBER_WORDS) else str(n)


def article(phrase: str) -> str:
    """``a`` or ``an`` for the phrase that follows: ``an action film``, ``a 90s comedy``, ``an 80s film``."""
    word = phrase.strip().split(" ", 1)[0] if phrase.strip() else ""
    if not word:
        return "a"
    if word[0].isdigit():  # said as a number: "an 80s film", "an 11-minute short", "an 1890s drama"
        digits = re.match(r"\d+", word).group()
        spoken_eight = digits[0] == "8" or (len(digits) in (2, 4) and digits[:2] in ("11", "18"))
        return "an" if spoken_eight else "a"
    letters = word.strip("“\"'(")
    if len(letters) > 1 and letters.isupper() and letters.isalpha():  # an abbreviation, read letter by letter
        return "an" if letters[0] in _VOWEL_LETTER_ABBREVIATIONS else "a"
    lower = letters.lower()
    if lower.startswith(_VOWEL_SOUND):
        return "an"
    if lower.startswith(_CONSONANT_SOUND):
        return "a"
    return "an" if lower[:1] in "aeiou" else "a"


def with_article(phrase: str) -> str:
    """``action film`` → ``an action film``."""
    return f"{article(phrase)} {phrase}"


def plural(n: int, singular: str, plural_form: str | None = None) -> str:
    """``film`` or ``films`` for a count."""
    return singular if n == 1 else (plural_form or singular + "s")


def join_words(words: list[str], conjunction: str = "and") -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    words = [w for w in words if w]
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + f" {conjunction} " + words[-1]


def capitalize(text: str) -> str:
    """The first letter upper case, the rest as written (names keep their capitals)."""
    return text[:1].upper() + text[1:]
