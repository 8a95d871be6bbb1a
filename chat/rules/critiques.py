"""Critiques relative to what was shown: "less violent", "too long", "funnier", "newer".

The phrase table learns every critique phrase from here; the reading asks here whether "more X"
is a critique or a request for more items of a genre, and drops a length critique that a
stated runtime bound already says better.
"""

from __future__ import annotations

from collections.abc import Iterator

from chat import lexicon as lx
from chat.rules.utterance import Utterance

Meanings = list[tuple[str, object]]  # (kind, value) entries of a phrase

def critique_phrases() -> Iterator[tuple[str, tuple[str, str]]]:
    """Every critique phrase with its (attribute, direction): "more violent", "too violent", "gorier"."""
    for text, (attribute, direction) in lx.CRITIQUE_WORDS.items():
        flipped = "less" if direction == "more" else "more"
        for prefix, keeps in lx.CRITIQUE_PREFIXES.items():
            yield f"{prefix} {text}", (attribute, direction if keeps else flipped)
    yield from lx.CRITIQUE_PHRASES.items()


def genre_after_more(u: Utterance, table: dict[tuple[str, ...], Meanings], a: int, b: int,
                     entries: Meanings) -> Meanings | None:
    """The genre entries when "more X" / "less X" at words a..b asks for items of a genre, else None.

    "more action movies" asks for more action films, not for more action in them: a critique
    phrase followed by a movie noun (or similar) whose words after "more" are a genre.
    """
    after = u.fixed[b] if b < len(u.fixed) else ""
    if not any(kind == "critique" for kind, _ in entries):
        return None
    if u.fixed[a] not in ("more", "less") or after not in lx.CRITIQUE_BLOCKERS:
        return None
    tail = table.get(tuple(u.fixed[a + 1 : b]), [])
    return tail if any(kind == "genre" for kind, _ in tail) else None


def without_covered_length(critiques: list[tuple[str, str]], runtime_min: int | None,
                           runtime_max: int | None) -> list[tuple[str, str]]:
    """The critiques less "shorter" when a maximum runtime is stated, and less "longer" with a minimum."""
    if runtime_max is not None:
        critiques = [c for c in critiques if c != ("length", "less")]
    if runtime_min is not None:
        critiques = [c for c in critiques if c != ("length", "more")]
    return critiques
