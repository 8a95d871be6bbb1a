"""Where an utterance names a catalog title, and how sure the parser is that a title is meant.

Any word span that is a title key is a candidate, but a title made of everyday words ("Up",
"It", "Heat wave") needs evidence: quotes, a cue before it ("like", "seen", "hated"), title-case
in the middle of a sentence, or being one of the items just shown. After a cue, a title with
typos is looked up by edit similarity ("like forest gump").
"""

from __future__ import annotations

import re

from rapidfuzz import fuzz

from chat import lexicon as lx
from chat.parser import TitleIndex, title_variants
from chat.rules.phrases import PhraseTable
from chat.rules.utterance import HARD_PUNCT, Match, Utterance, fold_phrase
from retrieval.catalog import Item

POPULAR_RATINGS = 20  # a lower-case title without a cue is taken only if it is this much rated
VERY_POPULAR_RATINGS = 100  # ... or this much, when it is made of everyday words ("star wars")
SMALL_WORDS = frozenset("of the a an and in on to for at by with from or s".split())
QUOTES = frozenset("\"'“”‘’`«»")
TITLE_BLOCKERS = frozenset(";?!()[]{}\"“”")  # marks a title never spans
YEAR = re.compile(r"(18|19|20)\d\d")
TitleSpan = tuple[int, int, tuple[str, ...]]  # first word, end word, title key (or ("#shown", position))


class TitleRecognizer:
    """The catalog's titles as the parser spots them in an utterance, with the lexicon's title cues."""

    def __init__(self, index: TitleIndex, phrases: PhraseTable):
        self.index = index
        self.phrases = phrases
        self.cues = {fold_phrase(c) for c in lx.TITLE_CUES} | {
            fold_phrase(c) for c in lx.FEEDBACK_PHRASES if fold_phrase(c)[-1] in lx.TITLE_CUE_VERBS}
        self.followers = {fold_phrase(c) for c in lx.TITLE_FOLLOWERS}
        self.fuzzy_cues = {fold_phrase(c) for c in lx.FUZZY_TITLE_CUES}

    def spans(self, u: Utterance) -> list[TitleSpan]:
        """Every word span that is a title key, and single uncommon words of the shown items' titles."""
        spans = []
        prefixes, keys = self.index.prefixes, self.index.keys
        for a in range(len(u.fixed)):
            if (u.fixed[a],) not in prefixes:
                continue
            for b in range(a + 1, min(len(u.fixed), a + self.index.max_words) + 1):
                key = tuple(u.fixed[a:b])
                if key not in prefixes or (b - a > 1 and u.crosses(b - 2, b, TITLE_BLOCKERS)):
                    break
                if key in keys:
                    spans.append((a, b, key))
        for position, item in enumerate(u.shown, start=1):  # partial names of shown items
            for key, _ in title_variants(item.title):
                for word in key:
                    if len(word) >= 4 and not u.is_common(word) and (word,) not in keys:
                        spans += [(a, a + 1, ("#shown", str(position))) for a, w in enumerate(u.fixed) if w == word]
        return spans

    def evidence(self, u: Utterance, a: int, b: int, key: tuple[str, ...]) -> tuple[bool, bool]:
        """(strong, weak): whether the span a..b may be read as a title.

        Strong: quoted; title-case inside a sentence; or after a cue ("like", "seen", "loved")
        and, when in lower case, followed by the end of the phrase ("like heat, but..." yes,
        "like the airport having..." no). Weak (taken only where nothing else claimed the
        words): uncommon words that name a title people talk about. Everyday single words
        ("up", "heat") need capitals or a cue; genre and critique words need quotes.
        """
        if self.quoted(u, a):
            return True, True
        words = u.fixed[a:b]
        content = [w for w in words if w not in SMALL_WORDS] or words
        if self._not_a_title(u, a, b, content):
            return False, False
        uncommon = [w for w in content if not u.is_common(w)]
        kinds = {kind for kind, _ in self.phrases.table.get(tuple(words), [])}
        title_case = not u.mostly_capitalized and all(
            u.words[k].capitalized for k in range(a, b) if u.fixed[k] not in SMALL_WORDS or k == a)
        if self._strong(u, a, b, key, uncommon, kinds, title_case):
            return True, True
        return False, self._weak(u, a, b, key, uncommon, bool(kinds), title_case)

    def _not_a_title(self, u: Utterance, a: int, b: int, content: list[str]) -> bool:
        """Numbers ("2010", "300"), scraps ("b/w"), and single words the speller turned into another word."""
        words = u.fixed[a:b]
        letters = sum(len(w) for w in content)
        if all(w.isdigit() for w in words) or (letters < 3 and not u.words[a].capitalized):
            return True
        corrected = any(k in u.corrected for k in range(a, b))
        # "concept" -> "concert" is a different word, not a typo of a title
        return corrected and b - a == 1 and fuzz.ratio(u.norms[a], u.fixed[a]) < 90

    def _strong(self, u: Utterance, a: int, b: int, key: tuple[str, ...], uncommon: list[str],
                kinds: set[str], title_case: bool) -> bool:
        """A cue before the span, a well-known title of everyday words, or title-case mid-sentence."""
        lexical = bool(kinds)
        soft_lexical = kinds <= {"keyword"}  # a theme word that is also a title: "Alien", "Heist"
        capitalized = title_case and not (b - a == 1 and u.sentence_start(a))
        cue = self._cue_before(u, a) and (capitalized or self.phrase_ends(u, b))
        if cue and (uncommon and not lexical or (capitalized and soft_lexical) or b - a >= 3
                    or (not lexical and b - a >= 2)):
            return True
        ratings = self.index.candidates(key)[0].n_ratings
        if b - a >= 2 and ratings >= VERY_POPULAR_RATINGS and not lexical and self.phrase_ends(u, b) and (
                not u.before(a, 1) or u.before(a, 1)[0] not in self.phrases.single_words):
            return True  # a well-known title of everyday words: "star wars", "back to the future"
        # title-case mid-sentence: "is Up sad?", "loved The Big Lebowski"
        return capitalized and not lexical and bool(uncommon or b - a >= 2 or self._pronoun_safe(u, a))

    def _weak(self, u: Utterance, a: int, b: int, key: tuple[str, ...], uncommon: list[str], lexical: bool,
              title_case: bool) -> bool:
        """Uncommon words naming a title people talk about, or a capitalized word of 4+ letters."""
        words = u.fixed[a:b]
        popular = self.index.candidates(key)[0].n_ratings >= POPULAR_RATINGS
        weak = bool(uncommon) and not lexical and (
            (b - a >= 2 and (len(uncommon) >= 2 or popular)) or (title_case and len(words[0]) >= 4))
        if not weak and not lexical and self.phrase_ends(u, b):
            # "the matrix": the catalog's own article before an uncommon word of a well-known title
            article = u.before(a, 1) == (self.index.candidates(key)[0].title.split()[0].casefold(),)
            weak = b - a == 1 and bool(uncommon) and article and popular
        return weak

    @staticmethod
    def _pronoun_safe(u: Utterance, a: int) -> bool:
        """A capitalized everyday word ("It", "Up", "Her") reads as a title only right after a word
        and not before a verb: "is It scary?" yes; "So, It seems" and "It was" no."""
        previous = u.tokens[u.word_at[a] - 1] if u.word_at[a] > 0 else None
        after = u.fixed[a + 1] if a + 1 < len(u.fixed) else ""
        in_name = (previous is not None and previous.capitalized and previous.text != "I") or (
            a + 1 < len(u.words) and u.words[a + 1].capitalized)  # "Saturday Night Live"
        return previous is not None and previous.is_word and after not in lx.VERBS_AFTER_PRONOUN and not in_name

    def phrase_ends(self, u: Utterance, b: int) -> bool:
        """True when word b starts a new part of the sentence (or there is none)."""
        if b >= len(u.fixed) or any(c in HARD_PUNCT for c in u.punct_between(b - 1, b)):
            return True
        return any(tuple(u.fixed[b : b + n]) in self.followers for n in (1, 2))

    @staticmethod
    def quoted(u: Utterance, a: int) -> bool:
        """True when word a opens a quotation ("'Up'", "\"The Thing\"")."""
        start = u.word_at[a]
        return (start > 0 and u.tokens[start - 1].text in QUOTES) or (
            start > 1 and u.tokens[start - 1].text.casefold() == "the" and u.tokens[start - 2].text in QUOTES)

    def _cue_before(self, u: Utterance, a: int) -> bool:
        """A title cue right before word a ("like", "seen", "loved"), or a title and "and" / "," before it."""
        before = u.before(a, 4)
        while before and before[-1] in ("the", "a", "an"):
            before = before[:-1]
        if any(before[-n:] in self.cues for n in range(1, 5) if len(before) >= n):
            return True
        if a >= 1 and (before[-1:] in (("and",), ("or",)) or "," in u.punct_between(a - 1, a)):
            previous = u.taken[a - 2] if before[-1:] in (("and",), ("or",)) and a >= 2 else u.taken[a - 1]
            return previous is not None and previous.kind == "title"
        return False

    def find_fuzzy(self, u: Utterance) -> None:
        """After a title cue, claim a title with typos ("like forest gump", "seen the dark night")."""
        for k in range(len(u.fixed) - 1):
            if not any(tuple(u.fixed[k - n + 1 : k + 1]) in self.fuzzy_cues for n in (1, 2) if k - n + 1 >= 0):
                continue
            chunk = self._free_words_after(u, k + 1)
            for end in range(len(chunk), 0, -1):
                words = [u.norms[j] for j in chunk[:end]]
                if not self._could_be_misspelt_title(u, chunk, end, words):
                    continue
                found = self.index.fuzzy(" ".join(words), cutoff=90)
                if found:
                    u.take(Match(chunk[0], chunk[end - 1] + 1, "title", ("item", found[0]), True))
                    break

    @staticmethod
    def _free_words_after(u: Utterance, start: int) -> list[int]:
        """Up to six free words from ``start`` (articles skipped), within one clause."""
        while start < len(u.fixed) and u.fixed[start] in ("the", "a", "an"):
            start += 1
        chunk: list[int] = []
        for j in range(start, min(len(u.fixed), start + 6)):
            if u.taken[j] is not None or u.fixed[j] in lx.SCOPE_BREAKERS or (j > start and u.crosses(j - 1, j + 1)):
                break
            chunk.append(j)
        return chunk

    def _could_be_misspelt_title(self, u: Utterance, chunk: list[int], end: int, words: list[str]) -> bool:
        """Whether the first ``end`` words of ``chunk`` are worth a fuzzy title look-up."""
        if not (self.phrase_ends(u, chunk[end - 1] + 1) or u.words[chunk[0]].capitalized):
            return False
        if words[-1] in SMALL_WORDS or words[-1] in lx.MOVIE_NOUNS:
            return False
        if tuple(words) in self.phrases.table or words[0] in lx.FILLER_WORDS or all(
                w in self.phrases.single_words for w in words):
            return False
        return not (len(" ".join(words)) < 5 or (len(words) == 1 and u.is_common(words[0])))

    def pick(self, u: Utterance, key: tuple[str, ...], b: int) -> Item:
        """The item a title key means: one just shown first, then the one of the year written after it."""
        year = int(u.fixed[b]) if b < len(u.fixed) and YEAR.fullmatch(u.fixed[b]) else None
        shown_ids = {item.id for item in u.shown}
        candidates = self.index.candidates(key, year)
        in_shown = [c for c in candidates if c.id in shown_ids]
        return (in_shown or candidates)[0]

    @staticmethod
    def take_year(u: Utterance, match: Match) -> None:
        """Claim the year right after a title when it is that item's year ("Heat 1995", "Rushmore
        (1998)"), also from the year finder when it read that year alone as a period: a title
        found late (on free words) still takes its own year back."""
        kind, value = match.value  # type: ignore[misc]
        if kind != "item" or match.b >= len(u.fixed):
            return
        if not (YEAR.fullmatch(u.fixed[match.b]) and int(u.fixed[match.b]) == value.year):
            return
        held = u.taken[match.b]
        if held is not None:
            if held.kind != "year" or (held.a, held.b) != (match.b, match.b + 1):
                return  # part of something longer ("from 1998 to 2000")
            u.matches.remove(held)
        u.taken[match.b] = match
