"""The parser interface: what every preference parser takes and returns, and title resolution.

A parser turns one utterance plus a little context into a ``PreferenceUpdate``. Two parsers
implement ``PreferenceParser``: the catalog-aware rule parser (``chat.rule_parser``, the offline
default) and the LLM parser (``chat.llm_parser``). Both name titles with ``TitleRef``; this
module resolves those to catalog items (``resolve_titles``) with the same title index, so the
two parsers agree on what "jurasic park" or "Se7en" means.

It also holds the tokenizer both the rule parser and the title index use, so that a title is
keyed the same way in the catalog and in an utterance ("Schindler's List", "schindlers list",
"Léon" and "leon" give the same keys).
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
import weakref
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from pydantic import BaseModel, Field
from rapidfuzz import fuzz, process

from chat.schemas import PreferenceUpdate, TitleRef
from retrieval.catalog import ARTICLES, Catalog, Item

logger = logging.getLogger(__name__)

MAX_HISTORY_TURNS = 6


class ParseContext(BaseModel):
    """What a parser may know besides the utterance: the items shown last and a few earlier turns."""

    shown: list[Item] = Field(
        default_factory=list, description="Items of the previous assistant turn, in the order shown (1-based refs)."
    )
    history: list[tuple[str, str]] = Field(
        default_factory=list,
        description=f"Earlier turns as (role, text) pairs, oldest first; the last {MAX_HISTORY_TURNS} are kept. "
        "The rule parser reads only ``shown``; the LLM parser shows these to the model.",
    )

    def model_post_init(self, _context: object) -> None:
        if len(self.history) > MAX_HISTORY_TURNS:
            self.history = self.history[-MAX_HISTORY_TURNS:]


@runtime_checkable
class PreferenceParser(Protocol):
    """Anything that reads an utterance into a ``PreferenceUpdate``. Must not raise on odd text."""

    def parse(self, utterance: str, context: ParseContext) -> PreferenceUpdate: ...


# --- tokens -------------------------------------------------------------------------------

_TOKEN_RE = re.compile(r"\w+(?:['’]\w+)*|[^\w\s]")
_ROMAN = {"ii": "2", "iii": "3", "iv": "4", "vi": "6", "vii": "7", "viii": "8", "ix": "9"}


@dataclass(frozen=True)
class Token:
    """One word or punctuation mark of a text, with its folded form and where it was."""

    text: str
    norm: str
    start: int
    end: int
    is_word: bool

    @property
    def capitalized(self) -> bool:
        """Starts with a capital (or a digit) and is not shouted in capitals."""
        if not self.is_word or not (self.text[:1].isupper() or self.text[:1].isdigit()):
            return False
        return len(self.text) < 3 or not self.text.isupper()


def fold_word(word: str) -> str:
    """Lower-case, strip accents and apostrophes: ``Don't`` -> ``dont``, ``Léon`` -> ``leon``."""
    word = unicodedata.normalize("NFKD", word)
    word = "".join(c for c in word if not unicodedata.combining(c)).casefold()
    return word.replace("'", "").replace("’", "")


def tokenize(text: str) -> list[Token]:
    """Words and punctuation marks. A possessive ``'s`` becomes its own token ``s``; ``&`` reads as ``and``."""
    tokens: list[Token] = []
    for match in _TOKEN_RE.finditer(text):
        raw, start = match.group(), match.start()
        if raw == "&":
            tokens.append(Token(raw, "and", start, match.end(), True))
            continue
        if not (raw[0].isalnum() or raw[0] == "_"):
            tokens.append(Token(raw, raw, start, match.end(), False))
            continue
        lowered = raw.casefold()
        if len(raw) > 2 and (lowered.endswith("'s") or lowered.endswith("’s")):
            base = raw[:-2]
            tokens.append(Token(base, fold_word(base), start, start + len(base), True))
            tokens.append(Token(raw[-2:], "s", start + len(base), match.end(), True))
            continue
        tokens.append(Token(raw, fold_word(raw), start, match.end(), True))
    return tokens


def key_words(text: str) -> tuple[str, ...]:
    """The folded words of a text, roman numerals II-IX as digits: the key titles and names match on."""
    return tuple(_ROMAN.get(t.norm, t.norm) for t in tokenize(text) if t.is_word)


# --- titles -------------------------------------------------------------------------------

_YEAR_SUFFIX = re.compile(r"\s*\(\s*(\d{4})\s*\)\s*$")
_TRAILING_ARTICLE = re.compile(r",\s*(the|a|an|le|la|les|l'|il|el|der|die|das)\s*$", re.I)
_FOLDED_ARTICLES = {fold_word(a) for a in ARTICLES}
_MINOR_WORDS = _FOLDED_ARTICLES | {"or", "and", "of", "in", "on", "to", "for", "at", "by", "with", "part", "s"}


def _strip_article(words: tuple[str, ...]) -> tuple[str, ...]:
    if len(words) > 1 and words[0] in _FOLDED_ARTICLES:
        return words[1:]
    if len(words) > 1 and words[0] == "l":  # "L'Atalante" folds to "l", "atalante"
        return words[1:]
    return words


def title_key(title: str) -> tuple[str, ...]:
    """Key of one title: no year suffix, no leading or trailing article. ``"Matrix, The (1999)"`` -> ``("matrix",)``."""
    title = _YEAR_SUFFIX.sub("", title.strip())
    title = _TRAILING_ARTICLE.sub("", title)
    return _strip_article(key_words(title))


def title_variants(title: str) -> list[tuple[tuple[str, ...], int]]:
    """Every key a catalog title is known by, with a priority (0 = the main title).

    ``"Seven (a.k.a. Se7en)"`` gives ``seven`` (0) and ``se7en`` (1); ``"Star Wars: Episode IV -
    A New Hope"`` also gives ``star wars`` and ``episode 4 a new hope`` (2), the parts around the
    colon, because people name a film by its series or its subtitle.
    """
    title = _YEAR_SUFFIX.sub("", title.strip())
    main = re.sub(r"\s*\([^()]*\)", "", title).strip() or title
    variants: list[tuple[tuple[str, ...], int]] = [(title_key(main), 0)]
    for alias in re.findall(r"\(([^()]*)\)", title):
        alias = re.sub(r"^\s*a\.?k\.?a\.?\s*", "", alias, flags=re.I)
        variants.append((title_key(alias), 1))
    if ":" in main:
        head, _, tail = main.partition(":")
        for part in (head, tail):
            key = title_key(part)
            if sum(len(w) for w in key if w not in _MINOR_WORDS) >= 3:  # not "Birdman: Or (...)" -> "or"
                variants.append((key, 2))
    for key, priority in list(variants):  # "Schindler's List" is also typed "schindlers list"
        if "s" in key[1:]:
            merged: list[str] = []
            for word in key:
                if word == "s" and merged:
                    merged[-1] += "s"
                else:
                    merged.append(word)
            variants.append((tuple(merged), priority))
    seen: set[tuple[str, ...]] = set()
    out = []
    for key, priority in variants:
        if key and key not in seen:
            seen.add(key)
            out.append((key, priority))
    return out


class TitleIndex:
    """Every catalog title by key (main titles, aliases in parentheses, series prefixes), built once.

    ``candidates(key)`` gives item ids best first: main titles before aliases, then the most
    rated. ``prefixes`` lets a scanner extend a word span only while it can still become a title.
    """

    def __init__(self, catalog: Catalog):
        self.catalog = catalog
        ranked: dict[tuple[str, ...], list[tuple[int, int, str]]] = {}
        for item in catalog:
            for key, priority in title_variants(item.title):
                ranked.setdefault(key, []).append((priority, -item.n_ratings, item.id))
        for prefix, entries in self._series(ranked).items():
            ranked.setdefault(prefix, []).extend(entries)
        self.keys: dict[tuple[str, ...], list[str]] = {k: [i for *_, i in sorted(v)] for k, v in ranked.items()}
        self.best_priority: dict[tuple[str, ...], int] = {k: min(p for p, *_ in v) for k, v in ranked.items()}
        self.prefixes: set[tuple[str, ...]] = {k[:n] for k in self.keys for n in range(1, len(k) + 1)}
        self.max_words = max((len(k) for k in self.keys), default=1)
        self._by_initial: dict[str, tuple[list[str], list[tuple[str, ...]]]] = {}
        for key in self.keys:
            text = " ".join(key)
            strings, keys = self._by_initial.setdefault(text[:1], ([], []))
            strings.append(text)
            keys.append(key)

    @staticmethod
    def _series(ranked: dict[tuple[str, ...], list[tuple[int, int, str]]]) -> dict[tuple[str, ...], list]:
        """Opening words shared by several titles and not a title themselves ("harry potter"), priority 3."""
        groups: dict[tuple[str, ...], list[tuple[int, int, str]]] = {}
        for key, entries in ranked.items():
            for n in (2, 3):
                prefix = key[:n]
                if len(key) > n and prefix not in ranked and prefix[-1] not in _MINOR_WORDS and \
                        sum(len(w) for w in prefix) >= 6:
                    groups.setdefault(prefix, []).extend((3, r, i) for p, r, i in entries if p == 0)
        return {k: v for k, v in groups.items() if len({i for *_, i in v}) >= 2}

    _cache: "weakref.WeakKeyDictionary[Catalog, TitleIndex]" = weakref.WeakKeyDictionary()
    _lock = threading.Lock()

    @classmethod
    def for_catalog(cls, catalog: Catalog) -> "TitleIndex":
        """The index of this catalog, built on first use and kept as long as the catalog lives."""
        with cls._lock:
            index = cls._cache.get(catalog)
            if index is None:
                index = cls._cache[catalog] = cls(catalog)
            return index

    def candidates(self, key: tuple[str, ...], year: int | None = None) -> list[Item]:
        """Items with this key, best first; a year, when given and matching one of them, wins."""
        items = [self.catalog.items[i] for i in self.keys.get(key, [])]
        if year is not None:
            same = [i for i in items if i.year == year]
            if same:
                return same + [i for i in items if i.year != year]
        return items

    def exact(self, text: str) -> Item | None:
        """Exact match of a written title (articles, case, accents, a ``(year)`` suffix ignored)."""
        year = _YEAR_SUFFIX.search(text)
        items = self.candidates(title_key(text), int(year.group(1)) if year else None)
        return items[0] if items else None

    def fuzzy(self, text: str, *, cutoff: float = 88.0) -> tuple[Item, float] | None:
        """Closest title by edit similarity (``jurasic park`` -> Jurassic Park), if it reaches ``cutoff``.

        Only titles with the same first letter are compared: fast, and typos seldom hit it."""
        query = " ".join(title_key(text))
        if len(query) < 4:
            return None
        strings, keys = self._by_initial.get(query[:1], ([], []))  # typos seldom hit the first letter
        matches = process.extract(query, strings, scorer=fuzz.ratio, score_cutoff=cutoff, limit=5)
        if not matches:
            return None
        best = max(matches, key=lambda m: (round(m[1]), -self.best_priority[keys[m[2]]],
                                           self.candidates(keys[m[2]])[0].n_ratings))
        return self.candidates(keys[best[2]])[0], best[1]

    def resolve(self, text: str) -> Item | None:
        """Exact match, else the fuzzy match: what a user meant by a written title."""
        item = self.exact(text)
        if item is None:
            found = self.fuzzy(text)
            item = found[0] if found else None
        return item


def resolve_titles(update: PreferenceUpdate, catalog: Catalog, *, index: TitleIndex | None = None) -> PreferenceUpdate:
    """Fill ``item_id`` of every title in ``titles_like`` / ``titles_exclude`` from the catalog.

    Exact (normalized) match first, then a fuzzy one for typos. A resolved ``TitleRef`` takes the
    catalog's spelling; one that already carries an id of this catalog is kept; one that cannot be
    resolved keeps ``item_id=None`` and adds a note. Returns a new update; the input is unchanged.
    """
    index = index or TitleIndex.for_catalog(catalog)
    notes = list(update.notes)

    def _resolve(refs: list[TitleRef]) -> list[TitleRef]:
        out: list[TitleRef] = []
        seen: set[str] = set()
        for ref in refs:
            item = catalog.get(ref.item_id) if ref.item_id else None
            item = item or index.resolve(ref.text)
            if item is None:
                notes.append(f"I couldn't find “{ref.text}” in the catalog.")
                out.append(TitleRef(text=ref.text))
            elif item.id not in seen:
                seen.add(item.id)
                out.append(TitleRef(text=item.title, item_id=item.id))
        return out

    return update.model_copy(update={
        "titles_like": _resolve(update.titles_like),
        "titles_exclude": _resolve(update.titles_exclude),
        "notes": notes,
    })


def resolve_people(names: list[str], catalog: Catalog, *, cutoff: float = 90.0) -> list[str]:
    """Names in the catalog's spelling (exact, else a close fuzzy match); unknown names are kept as given."""
    keys = list(catalog.person_names)
    out: list[str] = []
    for name in names:
        exact = catalog.person_name(name)
        if exact is None and keys:
            match = process.extractOne(" ".join(key_words(name)), keys, scorer=fuzz.ratio, score_cutoff=cutoff)
            exact = catalog.person_names[match[0]] if match else None
        if (exact or name) not in out:
            out.append(exact or name)
    return out
