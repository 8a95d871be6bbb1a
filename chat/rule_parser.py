"""The rule parser: reads an utterance into a ``PreferenceUpdate`` with the catalog and a lexicon.

It works offline and in a few milliseconds. One reading goes:

1. clean the text (control characters out, capped length) and tokenize it;
2. correct words that exist nowhere (catalog titles, people, lexicon, common words) to the
   closest known word ("jurasic" -> "jurassic", "thriler" -> "thriller");
3. find titles and people: every word span that is a catalog title or name. A title made of
   everyday words ("Up", "It", "Heat wave") is only taken when there is evidence that a title is
   meant: quotes, a cue before it ("like", "seen", "hated"), title-case in the middle of a
   sentence, or being one of the items just shown;
4. find references to shown items ("the second one", "#3", "all of those"), years and decades,
   runtimes, then the lexicon's phrases (genres, moods, critiques, negation, intents);
5. walk the utterance left to right: a negation ("no", "nothing with", "anything but", "I
   don't want") rules out what follows it up to a comma or a "but"; "seen" / "hated" / "loved"
   say what happens to the titles after them;
6. decide the intent and keep the words nothing claimed as the free-text ``query``.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from chat import lexicon as lx
from chat.parser import ParseContext, TitleIndex, Token, key_words, title_variants, tokenize
from chat.schemas import Critique, PreferenceUpdate, TitleRef
from retrieval.catalog import Catalog, Item

logger = logging.getLogger(__name__)

MAX_CHARS = 2000
MAX_CORRECTIONS = 8
POPULAR_RATINGS = 20  # a lower-case title without a cue is taken only if it is this much rated
VERY_POPULAR_RATINGS = 100  # ... or this much, when it is made of everyday words ("star wars")
MAX_SLOW_CORRECTIONS = 2  # two-edit corrections compare against ~10k words (~2 ms each)
HARD_PUNCT = frozenset(",.;:!?()[]{}")
QUOTES = frozenset("\"'“”‘’`«»")
SMALL_WORDS = frozenset("of the a an and in on to for at by with from or s".split())
NAME_PARTICLES = frozenset("de da di del della van von der le la du st mc".split())


def _clean(text: str) -> tuple[str, list[str]]:
    """Control and format characters out, whitespace collapsed, length capped."""
    notes: list[str] = []
    text = unicodedata.normalize("NFKC", text or "")
    text = "".join(" " if unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co") else c for c in text)
    if len(text) > MAX_CHARS:
        notes.append(f"only the first {MAX_CHARS} characters were read")
        text = text[:MAX_CHARS]
    return " ".join(text.split()), notes


def _phrase(text: str) -> tuple[str, ...]:
    return tuple(t.norm for t in tokenize(text))


def _lexicon_words() -> set[str]:
    """Every word the lexicon module mentions, so the speller never "corrects" one of them."""
    words: set[str] = set()
    for name in dir(lx):
        value = getattr(lx, name)
        if name.isupper() and isinstance(value, (dict, tuple, frozenset, set)):
            for phrase in value:
                if isinstance(phrase, str):
                    words.update(_phrase(phrase))
    return words


def _plural_forms(word: str) -> list[str]:
    if word.endswith("y") and len(word) > 3:
        return [word[:-1] + "ies"]
    if word.endswith(("s", "x", "ch", "sh")):
        return [word + "es"]
    return [word + "s"]


@dataclass
class _Match:
    """A span of words (indices into the word list, end exclusive) and what it means."""

    a: int
    b: int
    kind: str
    value: object = None
    explicit: bool = False  # for titles: a cue or quotes said it is a title


class _Lexicon:
    """The lexicon's phrases as folded word tuples -> [(kind, value)], built once per parser."""

    def __init__(self, catalog: Catalog):
        self.table: dict[tuple[str, ...], list[tuple[str, object]]] = defaultdict(list)
        genres = {g.casefold().replace("-", " "): g for g in catalog.genres}

        def catalog_genres(names: tuple[str, ...]) -> tuple[str, ...]:
            return tuple(genres[n.casefold().replace("-", " ")] for n in names if n.casefold().replace("-", " ") in genres)

        for text, names in lx.GENRE_PHRASES.items():
            found = catalog_genres(names)
            if found:
                self._add(text, "genre", found, plurals=True)
        for text, audience in lx.AUDIENCE_PHRASES.items():
            self._add(text, "audience", audience)
        for owner in lx.KID_OWNERS:
            for age in lx.KID_AGES:
                for noun in lx.KID_NOUNS:
                    if noun not in ("one", "ones") or age:
                        self._add(" ".join(x for x in (owner, age, noun) if x), "audience", "kids")
        single_genres = {key[0]: entries for key, entries in self.table.items() if len(key) == 1}
        for text, keyword in lx.KEYWORD_PHRASES.items():
            self._add(text, "keyword", keyword, plurals=True)
            key = _phrase(text)
            if len(key) > 1:  # "dark comedy", "period drama": the genre comes with the theme
                for kind, value in single_genres.get(key[-1], []):
                    if kind == "genre":
                        self._add(text, "genre", value, plurals=True)
        for text, (attribute, direction) in lx.CRITIQUE_WORDS.items():
            flipped = "less" if direction == "more" else "more"
            for prefix, value in (("more", direction), ("less", flipped), ("too", flipped),
                                  ("not too", flipped), ("not so", flipped), ("not as", flipped),
                                  ("not that", flipped), ("way too", flipped), ("a bit too", flipped),
                                  ("a bit more", direction), ("a bit less", flipped), ("much more", direction),
                                  ("a little more", direction), ("a little less", flipped), ("even more", direction)):
                self._add(f"{prefix} {text}", "critique", (attribute, value))
        for text, value in lx.CRITIQUE_PHRASES.items():
            self._add(text, "critique", value)
        for text in lx.RECENT_WORDS:
            self._add(text, "recent", None)
        for text in lx.NEGATORS:
            self._add(text, "neg", None)
        for text in lx.NEGATION_NEUTRAL:
            self._add(text, "neutral", None)
        for text, kind in lx.FEEDBACK_PHRASES.items():
            self._add(text, "feedback", kind)
        for text, kind in lx.ASK_PHRASES.items():
            self._add(text, "ask", kind)
        for text in lx.REQUEST_QUESTIONS:
            self._add(text, "request_question", None)
        for text in lx.GREETINGS:
            self._add(text, "greet", None)
        for text in lx.CHITCHAT:
            self._add(text, "chitchat", None)
        for text in lx.RESET_PHRASES:
            self._add(text, "reset", None)
        for text in lx.MORE_CUES:
            self._add(text, "more", None)
        for text in ("like", "similar to", "such as", "in the vein of", "along the lines of", "reminds me of",
                     "in the style of", "same as", "as good as"):
            self._add(text, "like", None)
        known = {words[0] for words in self.table if len(words) == 1}
        for name, genre in genres.items():  # catalog genres the lexicon does not cover ("News")
            key = _phrase(name)
            if key not in self.table and len(key) == 1 and key[0] not in known:
                self._add(genre, "genre", (genre,), plurals=True)
        self.prefixes = {k[:n] for k in self.table for n in range(1, len(k) + 1)}
        self.words = {w for k in self.table for w in k}
        self.single_words = {k[0] for k in self.table if len(k) == 1}

    def _add(self, text: str, kind: str, value: object, *, plurals: bool = False) -> None:
        key = _phrase(text)
        if not key:
            return
        entry = (kind, value)
        if entry not in self.table[key]:
            self.table[key].append(entry)
        if plurals and len(key[-1]) > 2 and not key[-1].endswith("s") and kind in ("genre", "keyword"):
            for form in _plural_forms(key[-1]):
                plural = key[:-1] + (form,)
                if entry not in self.table[plural]:
                    self.table[plural].append(entry)


class _People:
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
        self.surnames: dict[tuple[str, ...], str] = {}
        for surname, names in by_surname.items():
            (best, n1), *rest = names.most_common(2)
            n2 = rest[0][1] if rest else 0
            if n1 >= 3 and n1 >= 2 * n2:
                self.surnames[surname] = best
        self.prefixes = {k[:n] for k in (*self.full, *self.surnames) for n in range(1, len(k) + 1)}
        self.words = {w for k in self.full for w in k}


class _Speller:
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
        return {word[:i] + word[i + 1 :] for i in range(len(word))}

    def _rank(self, word: str, found: list[tuple[str, int]]) -> str | None:
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
            choices = [w for n in range(len(word) - 2, len(word) + 3) for w in self.by_length.get(n, ()) if w[0] == word[0]]
            self._near_length[bucket] = choices
        matches = process.extract(word, choices, scorer=OSA.distance, score_cutoff=2, limit=20)
        return self._rank(word, [(m[0], int(m[1])) for m in matches])


class RuleParser:
    """``PreferenceParser`` built from the catalog (titles, people, genres) and ``chat.lexicon``.

    ``reference_year`` is what "recent" and "the last 10 years" count back from; by default the
    newest year in the catalog, so a catalog that ends in 2018 still has recent items.
    """

    def __init__(self, catalog: Catalog, *, reference_year: int | None = None):
        self.catalog = catalog
        self.titles = TitleIndex.for_catalog(catalog)
        self.lexicon = _Lexicon(catalog)
        self.people = _People(catalog)
        years = [item.year for item in catalog if item.year]
        self.reference_year = reference_year or (max(years) if years else 2020)
        self.common = set(lx.COMMON_WORDS) | set(lx.FILLER_WORDS) | self.lexicon.single_words
        frequencies: Counter[str] = Counter()
        for key in self.titles.keys:
            frequencies.update(key)
        for key in self.people.full:
            frequencies.update(key)
        frequencies.update({w: 1000 for w in self.lexicon.words | self.common | _lexicon_words()})
        self.speller = _Speller(frequencies, self.lexicon.words | self.common)
        self.cue_phrases = {_phrase(c) for c in lx.TITLE_CUES} | {
            _phrase(c) for c in lx.FEEDBACK_PHRASES if _phrase(c)[-1] in lx.TITLE_CUE_VERBS}
        self.title_followers = {_phrase(c) for c in lx.TITLE_FOLLOWERS}
        self.fuzzy_cues = {_phrase(c) for c in lx.FUZZY_TITLE_CUES}
        self.similar_cues = [_phrase(c) for c in lx.SIMILAR_CUES]
        self.all_shown = {_phrase(c) for c in lx.ALL_SHOWN}
        self.ordinals = {_phrase(c): v for c, v in lx.ORDINALS.items()}
        self.pointers = {_phrase(c) for c in lx.POINTERS}
        phrases = lambda cues: frozenset(_phrase(c) for c in cues if _phrase(c))  # noqa: E731
        self.year_cues = [(phrases(lx.YEAR_BEFORE), "before"), (phrases(lx.YEAR_UNTIL), "until"),
                          (phrases(lx.YEAR_AFTER), "after"), (phrases(lx.YEAR_SINCE), "since"),
                          (phrases(lx.YEAR_IN), "in")]
        self.year_open_min, self.year_open_max = phrases(lx.YEAR_OPEN_MIN), phrases(lx.YEAR_OPEN_MAX)
        self.runtime_max, self.runtime_min = phrases(lx.RUNTIME_MAX), phrases(lx.RUNTIME_MIN)
        self.runtime_about = phrases(lx.RUNTIME_ABOUT)
        self.negator_words = {p[-1] for p in phrases(lx.NEGATORS) if len(p) == 1} | {"dont", "doesnt", "isnt"}

    def parse(self, utterance: str, context: ParseContext | None = None) -> PreferenceUpdate:
        """Read one utterance. Never raises on odd text; what it could not use goes to ``notes``."""
        context = context or ParseContext()
        text, notes = _clean(utterance)
        if not text:
            return PreferenceUpdate(intent="other", notes=[*notes, "empty message"])
        try:
            return _Reading(self, text, context, notes).run()
        except Exception:  # a bug here must cost one turn's understanding, not the conversation
            logger.exception("rule parser failed on %r", text[:200])
            return PreferenceUpdate(intent="other", query=text[:300],
                                    notes=[*notes, "the message could not be read; kept as free text"])


@dataclass
class _Slots:
    """What the walk collects before it becomes a ``PreferenceUpdate``."""

    genres_include: list[str] = field(default_factory=list)
    genres_exclude: list[str] = field(default_factory=list)
    people_include: list[str] = field(default_factory=list)
    people_exclude: list[str] = field(default_factory=list)
    # (item, text, explicit, frame): explicit when a cue or quotes said it is a title
    titles_like: list[tuple[Item | None, str, bool, str | None]] = field(default_factory=list)
    titles_exclude: list[tuple[Item | None, str, bool, str | None]] = field(default_factory=list)
    shown_titles: list[int] = field(default_factory=list)  # positions of shown items named by title
    keywords: list[str] = field(default_factory=list)
    critiques: list[tuple[str, str]] = field(default_factory=list)
    refs: list[int] = field(default_factory=list)
    audience: str | None = None
    feedback: str | None = None
    ask: str | None = None
    year_min: int | None = None
    year_max: int | None = None
    runtime_min: int | None = None
    runtime_max: int | None = None
    flags: set[str] = field(default_factory=set)


def _add(values: list, value: object) -> None:
    if value not in values:
        values.append(value)


class _Reading:
    """One utterance being read. Built per ``parse`` call; holds nothing between calls."""

    def __init__(self, parser: RuleParser, text: str, context: ParseContext, notes: list[str]):
        self.p = parser
        self.text = text
        self.shown = list(context.shown)
        self.notes = notes
        self.tokens: list[Token] = tokenize(text)
        self.word_at: list[int] = [i for i, t in enumerate(self.tokens) if t.is_word]
        self.words: list[Token] = [self.tokens[i] for i in self.word_at]
        self.norms: list[str] = [w.norm for w in self.words]
        self.fixed: list[str] = list(self.norms)
        self.corrected: set[int] = set()
        self.taken: list[_Match | None] = [None] * len(self.words)
        self.matches: list[_Match] = []
        self.slots = _Slots()
        self.mostly_capitalized = self._mostly_capitalized()

    # --- helpers -------------------------------------------------------------------------

    def _mostly_capitalized(self) -> bool:
        """Title Case or ALL CAPS writing, where capitals say nothing about titles."""
        words = [w for w in self.words if w.text.isalpha() and w.text != "I" and w.norm in self.p.common]
        return len(words) >= 3 and sum(w.capitalized for w in words) >= 0.7 * len(words)

    def _punct_between(self, a: int, b: int) -> str:
        """Punctuation marks between word ``a`` and word ``b`` (a < b)."""
        start = self.word_at[a] + 1 if 0 <= a < len(self.word_at) else 0
        end = self.word_at[b] if 0 <= b < len(self.word_at) else len(self.tokens)
        return "".join(t.text for t in self.tokens[start:end] if not t.is_word)

    def _crosses(self, a: int, b: int, blocked: frozenset[str] = HARD_PUNCT) -> bool:
        """True when the words a..b-1 have a blocked punctuation mark between them."""
        b = min(b, len(self.words))
        return any(c in blocked for k in range(max(a, 0), b - 1) for c in self._punct_between(k, k + 1))

    def _free(self, a: int, b: int) -> bool:
        return b <= len(self.taken) and all(self.taken[k] is None for k in range(max(a, 0), b))

    def _take(self, match: _Match) -> None:
        for k in range(match.a, match.b):
            self.taken[k] = match
        self.matches.append(match)

    def _sentence_start(self, a: int) -> bool:
        if a == 0:
            return True
        return any(c in ".!?:;\"“" for c in self._punct_between(a - 1, a))

    def _before(self, a: int, n: int) -> tuple[str, ...]:
        """Up to ``n`` words before word ``a`` that are not across hard punctuation."""
        out: list[str] = []
        k = a - 1
        while k >= 0 and len(out) < n:
            if any(c in HARD_PUNCT for c in self._punct_between(k, k + 1)):
                break
            out.insert(0, self.fixed[k])
            k -= 1
        return tuple(out)

    def _common(self, word: str) -> bool:
        return word in self.p.common or word.isdigit() and len(word) < 4

    # --- the reading ---------------------------------------------------------------------

    def run(self) -> PreferenceUpdate:
        self._spell()
        self._find_titles_and_people(strong_only=True)
        self._find_references()
        self._find_years()
        self._find_runtimes()
        self._find_fuzzy_titles()
        self._find_phrases()
        self._find_titles_and_people(strong_only=False)
        self._walk()
        return self._result()

    def _spell(self) -> None:
        budget, slow_budget = MAX_CORRECTIONS, MAX_SLOW_CORRECTIONS
        for k, word in enumerate(self.norms):
            if budget <= 0:
                break
            if word in self.p.speller.known or not word.isalpha() or len(word) < 5:
                continue
            if word.endswith("s") and word[:-1] in self.p.speller.known:
                continue
            budget -= 1
            slow = len(word) >= 8 and slow_budget > 0
            slow_budget -= slow
            fixed = self.p.speller.correct(word, two_edits=slow)
            if fixed:
                self.fixed[k] = fixed
                self.corrected.add(k)

    # titles and people ---------------------------------------------------------------------

    def _title_spans(self) -> list[tuple[int, int, tuple[str, ...]]]:
        spans = []
        prefixes, keys = self.p.titles.prefixes, self.p.titles.keys
        blocked = frozenset(";?!()[]{}\"“”")
        for a in range(len(self.fixed)):
            if (self.fixed[a],) not in prefixes:
                continue
            for b in range(a + 1, min(len(self.fixed), a + self.p.titles.max_words) + 1):
                key = tuple(self.fixed[a:b])
                if key not in prefixes or (b - a > 1 and self._crosses(b - 2, b, blocked)):
                    break
                if key in keys:
                    spans.append((a, b, key))
        for position, item in enumerate(self.shown, start=1):  # partial names of shown items
            for key, _ in title_variants(item.title):
                for word in key:
                    if len(word) >= 4 and not self._common(word) and (word,) not in keys:
                        spans += [(a, a + 1, ("#shown", str(position))) for a, w in enumerate(self.fixed) if w == word]
        return spans

    def _title_evidence(self, a: int, b: int, key: tuple[str, ...]) -> tuple[bool, bool]:
        """(strong, weak): whether the span a..b may be read as a title.

        Strong: quoted; title-case inside a sentence; or after a cue ("like", "seen", "loved")
        and, when in lower case, followed by the end of the phrase ("like heat, but..." yes,
        "like the airport having..." no). Weak (taken only where nothing else claimed the
        words): uncommon words that name a title people talk about. Everyday single words
        ("up", "heat") need capitals or a cue; genre and critique words need quotes.
        """
        words = self.fixed[a:b]
        content = [w for w in words if w not in SMALL_WORDS] or words
        uncommon = [w for w in content if not self._common(w)]
        kinds = {kind for kind, _ in self.p.lexicon.table.get(tuple(words), [])}
        lexical = bool(kinds)
        soft_lexical = kinds <= {"keyword"}  # a theme word that is also a title: "Alien", "Heist"
        if self._quoted(a):
            return True, True
        letters = sum(len(w) for w in content)
        lower = not self.words[a].capitalized
        if all(w.isdigit() for w in words) or (letters < 3 and lower):  # "2010", "300", "b/w": not a title
            return False, False
        corrected = any(k in self.corrected for k in range(a, b))
        if corrected and b - a == 1 and fuzz.ratio(self.norms[a], self.fixed[a]) < 90:
            return False, False  # "concept" -> "concert" is a different word, not a typo of a title
        capitalized = not self.mostly_capitalized and all(
            self.words[k].capitalized for k in range(a, b) if self.fixed[k] not in SMALL_WORDS or k == a)
        initial_capital = capitalized
        if capitalized and b - a == 1 and self._sentence_start(a):
            capitalized = False
        cue = self._title_cue_before(a) and (capitalized or self._phrase_ends(b))
        if cue and (uncommon and not lexical or (capitalized and soft_lexical) or b - a >= 3
                    or (not lexical and b - a >= 2)):
            return True, True
        ratings = self.p.titles.candidates(key)[0].n_ratings
        if b - a >= 2 and ratings >= VERY_POPULAR_RATINGS and not lexical and self._phrase_ends(b) and (
                not self._before(a, 1) or self._before(a, 1)[0] not in self.p.lexicon.single_words):
            return True, True  # a well-known title of everyday words: "star wars", "back to the future"
        if capitalized and not lexical and (uncommon or b - a >= 2 or self._pronoun_safe(a)):
            return True, True  # title-case mid-sentence: "is Up sad?", "loved The Big Lebowski"
        popular = ratings >= POPULAR_RATINGS
        weak = bool(uncommon) and not lexical and (
            (b - a >= 2 and (len(uncommon) >= 2 or popular)) or (initial_capital and len(words[0]) >= 4))
        if not weak and not lexical and self._phrase_ends(b):
            # "the matrix": the catalog's own article before an uncommon word of a well-known title
            article = self._before(a, 1) == (self.p.titles.candidates(key)[0].title.split()[0].casefold(),)
            weak = b - a == 1 and bool(uncommon) and article and popular
        return False, weak

    def _pronoun_safe(self, a: int) -> bool:
        """A capitalized everyday word ("It", "Up", "Her") reads as a title only right after a word
        and not before a verb: "is It scary?" yes; "So, It seems" and "It was" no."""
        previous = self.tokens[self.word_at[a] - 1] if self.word_at[a] > 0 else None
        after = self.fixed[a + 1] if a + 1 < len(self.fixed) else ""
        in_name = (previous is not None and previous.capitalized and previous.text != "I") or (
            a + 1 < len(self.words) and self.words[a + 1].capitalized)  # "Saturday Night Live"
        return previous is not None and previous.is_word and after not in lx.VERBS_AFTER_PRONOUN and not in_name

    def _phrase_ends(self, b: int) -> bool:
        """True when word b starts a new part of the sentence (or there is none)."""
        if b >= len(self.fixed) or any(c in HARD_PUNCT for c in self._punct_between(b - 1, b)):
            return True
        return any(tuple(self.fixed[b : b + n]) in self.p.title_followers for n in (1, 2))

    def _quoted(self, a: int) -> bool:
        start = self.word_at[a]
        return (start > 0 and self.tokens[start - 1].text in QUOTES) or (
            start > 1 and self.tokens[start - 1].text.casefold() == "the" and self.tokens[start - 2].text in QUOTES)

    def _title_cue_before(self, a: int) -> bool:
        """A title cue right before word a ("like", "seen", "loved"), or a title and "and" / "," before it."""
        before = self._before(a, 4)
        while before and before[-1] in ("the", "a", "an"):
            before = before[:-1]
        if any(before[-n:] in self.p.cue_phrases for n in range(1, 5) if len(before) >= n):
            return True
        if a >= 1 and (before[-1:] in (("and",), ("or",)) or "," in self._punct_between(a - 1, a)):
            previous = self.taken[a - 2] if before[-1:] in (("and",), ("or",)) and a >= 2 else self.taken[a - 1]
            return previous is not None and previous.kind == "title"
        return False

    def _find_fuzzy_titles(self) -> None:
        """After a title cue, a title with typos ("like forest gump", "seen the dark night")."""
        for k in range(len(self.fixed) - 1):
            if not any(tuple(self.fixed[k - n + 1 : k + 1]) in self.p.fuzzy_cues for n in (1, 2) if k - n + 1 >= 0):
                continue
            start = k + 1
            while start < len(self.fixed) and self.fixed[start] in ("the", "a", "an"):
                start += 1
            chunk: list[int] = []
            for j in range(start, min(len(self.fixed), start + 6)):
                if self.taken[j] is not None or self.fixed[j] in lx.SCOPE_BREAKERS or (
                        j > start and self._crosses(j - 1, j + 1)):
                    break
                chunk.append(j)
            for end in range(len(chunk), 0, -1):
                words = [self.norms[j] for j in chunk[:end]]
                if not (self._phrase_ends(chunk[end - 1] + 1) or self.words[chunk[0]].capitalized):
                    continue
                if words[-1] in SMALL_WORDS or words[-1] in lx.MOVIE_NOUNS:
                    continue
                if tuple(words) in self.p.lexicon.table or words[0] in lx.FILLER_WORDS or all(
                        w in self.p.lexicon.single_words for w in words):
                    continue
                if len(" ".join(words)) < 5 or (len(words) == 1 and self._common(words[0])):
                    continue
                found = self.p.titles.fuzzy(" ".join(words), cutoff=90)
                if found:
                    self._take(_Match(chunk[0], chunk[end - 1] + 1, "title", ("item", found[0]), True))
                    break

    def _find_titles_and_people(self, *, strong_only: bool) -> None:
        candidates: list[tuple[int, int, int, _Match]] = []
        title_spans: list[tuple[int, int]] = []
        for a, b, key in self._title_spans():
            if not self._free(a, b):
                continue
            title_spans.append((a, b))
            if key[0] == "#shown":
                position = int(key[1])
                strong = self.words[a].capitalized and not self._sentence_start(a) or (
                    b < len(self.fixed) and self.fixed[b] in lx.REFERENCE_NOUNS)
                if strong:
                    candidates.append((b - a, 3, a, _Match(a, b, "title", ("shown", position), True)))
                continue
            strong, weak = self._title_evidence(a, b, key)
            if self.p.titles.best_priority[key] > 0 and len(key) == 1 and self._common(key[0]) and not self._quoted(a):
                continue  # an alias or half of a title made of everyday words ("The Movie", "Live")
            item = self._pick_title(key, b)
            shown = self._shown_position(item)
            if shown and not strong and not all(self._common(w) for w in key):
                strong = True  # one of the items just shown, named in lower case: "who directed the shining?"
            if not (strong or (weak and not strong_only)):
                continue
            rank = 3 if shown else 2 if strong else 0
            candidates.append((b - a, rank, a, _Match(a, b, "title", ("item", item), strong)))
        for a, b, name, full in self._person_spans():
            if not self._free(a, b):
                continue
            if not full and any(a2 <= a and b <= b2 and b2 - a2 > b - a for a2, b2 in title_spans):
                continue  # "indiana jones": part of a longer title, not Tommy Lee Jones
            if full or self._surname_ok(a, b, strong_only):
                rank = 4 if full else 5 if self._surname_cued(a, b) else 1
                candidates.append((b - a, rank, a, _Match(a, b, "person", name)))
        candidates.sort(key=lambda c: (-c[0], -c[1], c[2]))
        for _, _, _, match in candidates:
            if self._free(match.a, match.b):
                self._take(match)
                if match.kind == "title":
                    self._take_title_year(match)

    def _pick_title(self, key: tuple[str, ...], b: int) -> Item:
        year = None
        if b < len(self.fixed) and re.fullmatch(r"(18|19|20)\d\d", self.fixed[b]):
            year = int(self.fixed[b])
        shown_ids = {item.id for item in self.shown}
        candidates = self.p.titles.candidates(key, year)
        in_shown = [c for c in candidates if c.id in shown_ids]
        return (in_shown or candidates)[0]

    def _take_title_year(self, match: _Match) -> None:
        kind, value = match.value  # type: ignore[misc]
        if kind != "item" or match.b >= len(self.fixed):
            return
        if re.fullmatch(r"(18|19|20)\d\d", self.fixed[match.b]) and int(self.fixed[match.b]) == value.year:
            self.taken[match.b] = match

    def _shown_position(self, item: Item | None) -> int | None:
        for position, shown in enumerate(self.shown, start=1):
            if item is not None and shown.id == item.id:
                return position
        return None

    def _person_spans(self) -> list[tuple[int, int, str, bool]]:
        people = self.p.people
        spans = []
        for a in range(len(self.fixed)):
            if (self.fixed[a],) not in people.prefixes:
                continue
            for b in range(a + 1, min(len(self.fixed), a + 5) + 1):
                key = tuple(self.fixed[a:b])
                if key not in people.prefixes or (b - a > 1 and self._crosses(b - 2, b)):
                    break
                if key in people.full:
                    corrected = sum(k in self.corrected for k in range(a, b))
                    lowered_common = all(self._common(w) for w in key) and not self.words[a].capitalized
                    if corrected < len(key) and not lowered_common:
                        spans.append((a, b, people.full[key], True))
                elif key in people.surnames:
                    corrected = any(k in self.corrected for k in range(a, b))
                    if not corrected or (self._surname_cued(a, b) and fuzz.ratio(
                            " ".join(self.norms[a:b]), " ".join(key)) >= 85):  # "by spielburg", "a scorcese movie"
                        spans.append((a, b, people.surnames[key], False))
        return spans

    def _surname_cued(self, a: int, b: int) -> bool:
        """A person cue before ("by", "starring") or a possessive / movie noun after ("Nolan's", "Hitchcock films")."""
        before = self._before(a, 2)
        after = self.fixed[b] if b < len(self.fixed) else ""
        cued = bool(before) and (before[-1] in ("by", "with", "starring", "featuring") or before[-2:] == ("directed", "by"))
        return cued or after == "s" or after in lx.MOVIE_NOUNS

    def _surname_ok(self, a: int, b: int, strong_only: bool) -> bool:
        words = self.fixed[a:b]
        if any(w in self.p.lexicon.single_words or w in lx.FILLER_WORDS for w in words):
            return False
        before = self._before(a, 2)
        after = self.fixed[b] if b < len(self.fixed) else ""
        cued = bool(before) and (before[-1] in ("by", "with", "starring", "featuring") or before[-2:] == ("directed", "by"))
        possessive = after == "s" or after in lx.MOVIE_NOUNS
        capitalized = self.words[a].capitalized and not self.mostly_capitalized
        common = any(self._common(w) for w in words)
        if common:
            return capitalized and (cued or possessive) and not self._sentence_start(a)
        return cued or possessive or (capitalized and not strong_only)

    # references to shown items --------------------------------------------------------------

    def _find_references(self) -> None:
        n = len(self.shown)
        all_phrases, ordinal_phrases = self.p.all_shown, self.p.ordinals
        k = 0
        while k < len(self.fixed):
            found = self._reference_at(k, n, all_phrases, ordinal_phrases)
            if found is None:
                k += 1
                continue
            end, positions = found
            if not self._free(k, end):
                k += 1
                continue
            if n == 0:
                self.notes.append("a reference to shown items, but nothing was shown")
            self._take(_Match(k, end, "ref", [p for p in positions if 1 <= p <= n]))
            k = end

    def _reference_at(self, k: int, n: int, all_phrases: set, ordinals: dict) -> tuple[int, list[int]] | None:
        w = self.fixed
        for length in (6, 5, 4, 3, 2, 1):
            if k + length <= len(w) and tuple(w[k : k + length]) in all_phrases and not self._crosses(k, k + length):
                if w[k] == "both" and n != 2 and length == 1:
                    return None
                if w[k] == "any" and not (self._before(k, 3) and set(self._before(k, 3)) & {"seen", "watched", "like", "liked", "saw"}):
                    return None
                return k + length, list(range(1, n + 1))
        # "#3", "number 3", "no. 3", "option 3"
        start_token = self.word_at[k]
        if w[k].isdigit() and len(w[k]) <= 2 and start_token > 0 and self.tokens[start_token - 1].text == "#":
            return k + 1, [int(w[k])]
        if w[k] in ("number", "option", "item", "pick", "choice", "card", "no", "num") and k + 1 < len(w) and (
                w[k] != "no" or "." in self._punct_between(k, k + 1)):
            value = int(w[k + 1]) if w[k + 1].isdigit() and len(w[k + 1]) <= 2 else lx.NUMBER_WORDS.get(w[k + 1])
            if value and w[k + 1] not in ("a", "an") and value <= 20:
                return k + 2, [value]
        return self._ordinal_at(k, n, ordinals)

    def _ordinal_at(self, k: int, n: int, ordinals: dict) -> tuple[int, list[int]] | None:
        w = self.fixed

        def ordinal(at: int) -> tuple[int, int] | None:
            for length in (3, 2, 1):
                value = ordinals.get(tuple(w[at : at + length]))
                if value is not None and at + length <= len(w):
                    return at + length, value
            return None

        start = k + 1 if w[k] == "the" else k
        first = ordinal(start) if start < len(w) else None
        if first is None:
            return None
        end, value = first
        values = [value]
        # "the first two", "the last 3"
        if end < len(w) and w[end - 1] in ("first", "last", "top"):
            count = lx.NUMBER_WORDS.get(w[end]) if w[end] not in ("a", "an", "one") else None
            count = count or (int(w[end]) if w[end].isdigit() and len(w[end]) == 1 else None)
            after = w[end + 1] if end + 1 < len(w) else ""
            if count and 2 <= count <= 10 and after not in ("years", "year", "decades", "minutes", "hours", "mins"):
                end += 1
                if after in lx.REFERENCE_NOUNS:
                    end += 1
                last = w[start] == "last"
                return end, self._positions([(-i if last else i) for i in range(1, count + 1)], n)
        while end + 1 < len(w) and w[end] in ("and", "or") or (end < len(w) and w[end] == "the"):
            nxt = end + 1 if w[end] in ("and", "or") else end
            nxt = nxt + 1 if nxt < len(w) and w[nxt] == "the" else nxt
            more = ordinal(nxt) if nxt < len(w) else None
            if more is None:
                break
            end, value = more
            values.append(value)
        noun = end < len(w) and w[end] in lx.REFERENCE_NOUNS
        if noun:
            end += 1
        follower = end >= len(w) or w[end] in lx.REFERENCE_FOLLOWERS or any(
            c in HARD_PUNCT for c in self._punct_between(end - 1, end))
        if not noun and not (w[k] == "the" and follower):
            return None
        if not noun and w[start] in ("top", "middle", "bottom", "final"):
            return None
        return end, self._positions(values, n)

    @staticmethod
    def _positions(values: list[int], n: int) -> list[int]:
        out = []
        for v in values:
            p = (n + 1) // 2 if v == 0 else n + 1 + v if v < 0 else v
            if n == 0 and v > 0:
                p = v
            out.append(p)
        return out

    # years and decades --------------------------------------------------------------------

    def _year_atoms(self) -> list[tuple[int, int, int, int]]:
        """(first word, end word, first year, last year) of every year or decade mentioned."""
        atoms = []
        w = self.fixed
        k = 0
        while k < len(w):
            if self.taken[k] is not None:
                k += 1
                continue
            atom = self._year_atom(k)
            if atom:
                atoms.append(atom)
                k = atom[1]
            else:
                k += 1
        return atoms

    def _year_atom(self, k: int) -> tuple[int, int, int, int] | None:
        w = self.fixed
        part = None
        start = k
        if w[k] in lx.DECADE_PARTS and k + 1 < len(w):
            part, k = lx.DECADE_PARTS[w[k]], k + 1
            if w[k] == "the" and k + 1 < len(w):
                k += 1
        decade = None
        end = k + 1
        m = re.fullmatch(r"(\d{2}|\d{4})s", w[k])
        if m:
            decade = m.group(1)
        elif re.fullmatch(r"\d{2}|\d{4}", w[k]) and k + 1 < len(w) and w[k + 1] == "s" and self._free(k + 1, k + 2):
            decade, end = w[k], k + 2
        if decade is not None:
            year = int(decade)
            if year < 100:
                year = 1900 + year if year >= 20 else 2000 + year
            if year % 10 or not 1870 <= year <= 2090:
                return None
            lo, hi = year, year + 9
        elif w[k] in lx.DECADE_WORDS or tuple(w[k : k + 2]) in {("two", "thousands"), ("twenty", "tens")}:
            if tuple(w[k : k + 2]) in {("two", "thousands"), ("twenty", "tens")}:
                lo, end = (2000 if w[k] == "two" else 2010), k + 2
            else:
                if w[k] == "teens" and not (k > 0 and w[k - 1] == "the"):
                    return None
                lo = lx.DECADE_WORDS[w[k]]
            if k > 0 and w[k - 1] == "nineteen" and self.taken[k - 1] is None:
                start = min(start, k - 1)
            hi = lo + 9
        elif re.fullmatch(r"(18[7-9]\d|19\d\d|20\d\d)", w[k]) and part is None:
            following = w[k + 1] if k + 1 < len(w) else ""
            if following in lx.MINUTE_UNITS or following in lx.HOUR_UNITS:
                return None
            lo = hi = int(w[k])
        else:
            return None
        if part is not None:
            lo, hi = lo + part[0], lo + part[1]
        return start, end, lo, hi

    def _find_years(self) -> None:
        atoms = self._year_atoms()
        w = self.fixed
        i = 0
        while i < len(atoms):
            a, b, lo, hi = atoms[i]
            # ranges: "between 1990 and 1995", "1990-1995", "80s or 90s", "from the 80s to the 2000s"
            while i + 1 < len(atoms):
                na, nb, nlo, nhi = atoms[i + 1]
                gap = [x for x in w[b:na] if x != "the"]
                dash = na == b and "-" in self._punct_between(b - 1, na)
                if dash or (gap and len(gap) == 1 and gap[0] in ("and", "or", "to", "through", "thru", "till", "until")):
                    b, lo, hi = nb, min(lo, nlo), max(hi, nhi)
                    i += 1
                else:
                    break
            i += 1
            start, bound = self._year_cue(a, lo, hi)
            end, bound = self._year_postfix(b, lo, hi, bound)
            if bound is None:
                continue
            self._take(_Match(start, end, "year", bound))

    def _year_cue(self, a: int, lo: int, hi: int) -> tuple[int, tuple[int | None, int | None] | None]:
        w = self.fixed
        k = a - 1 if a > 0 and w[a - 1] == "the" else a
        make = {"before": (None, lo - 1), "until": (None, hi), "after": (hi + 1, None), "since": (lo, None),
                "in": (lo, hi)}
        for length in (4, 3, 2, 1):
            before = tuple(w[k - length : k]) if k - length >= 0 else ()
            if not before or self._crosses(k - length, k + 1) or not self._free(k - length, k):
                continue
            for cues, name in self.p.year_cues:
                if before in cues:
                    bound = make[name]
                    if self._negated_before(k - length) and name != "in":
                        bound = (bound[1] + 1 if bound[1] is not None else None, bound[0] - 1 if bound[0] is not None else None)
                    elif self._negated_before(k - length):
                        self.notes.append("cannot rule out a period; ignored 'not from' a period")
                        return k - length, None
                    return k - length, bound
        return k, (lo, hi)

    def _year_postfix(self, b: int, lo: int, hi: int, bound):
        w = self.fixed
        if bound is None:
            return b, None
        for length in (2, 1):
            after = tuple(w[b : b + length])
            if len(after) < length or not self._free(b, b + length):
                continue
            if after in self.p.year_open_min:
                return b + length, (bound[0] if bound[0] is not None else lo, None)
            if after in self.p.year_open_max:
                return b + length, (None, bound[1] if bound[1] is not None else hi)
        return b, bound

    def _negated_before(self, k: int) -> bool:
        before = self._before(k, 3)
        return any(x in self.p.negator_words for x in before[-2:])

    # runtimes --------------------------------------------------------------------------------

    _NUM = r"(?:\d+(?: \. \d+)?|" + "|".join(sorted((re.escape(n) for n in lx.NUMBER_WORDS), key=len, reverse=True)) + ")"
    _DURATION = re.compile(
        r"(?P<hm>\d+) ?h(?:rs?|ours?)? ?(?P<hmm>\d+) ?(?:m|mins?|minutes?)?\b"
        r"|(?P<half>(?:an? |one )?hour and a half|half an hour|(?P<nh>" + _NUM + r") and a half hours?)"
        r"|(?P<n>" + _NUM + r") ?(?:- )?(?P<unit>minutes?|mins?|m|hours?|hrs?|h)\b"
    )

    def _find_runtimes(self) -> None:
        norm_text, offsets = self._norm_text()
        for m in self._DURATION.finditer(norm_text):
            a, b = self._word_range(offsets, m.start(), m.end())
            if a is None or not self._free(a, b):
                continue
            minutes = self._minutes(m)
            if minutes is None or not 5 <= minutes <= 600:
                continue
            start, end, bound = self._runtime_bound(a, b, minutes)
            self._take(_Match(start, end, "runtime", bound))

    @staticmethod
    def _number(text: str) -> float | None:
        text = text.replace(" . ", ".").strip()
        if text in lx.NUMBER_WORDS:
            return float(lx.NUMBER_WORDS[text])
        try:
            return float(text)
        except ValueError:
            return None

    def _minutes(self, m: re.Match) -> int | None:
        if m.group("hm"):
            return int(m.group("hm")) * 60 + int(m.group("hmm"))
        if m.group("half"):
            if m.group("nh"):
                n = self._number(m.group("nh"))
                return int(n * 60 + 30) if n is not None else None
            return 30 if m.group("half").startswith("half") else 90
        n = self._number(m.group("n"))
        if n is None:
            return None
        return int(round(n * 60)) if m.group("unit").startswith("h") else int(n)

    def _runtime_bound(self, a: int, b: int, minutes: int) -> tuple[int, int, tuple[int | None, int | None]]:
        w = self.fixed
        groups = ((self.p.runtime_max, "max"), (self.p.runtime_min, "min"), (self.p.runtime_about, "about"))
        kind, start = None, a
        for length in (3, 2, 1):
            before = tuple(w[a - length : a]) if a - length >= 0 else ()
            if not before or not self._free(a - length, a) or self._crosses(a - length, a + 1):
                continue
            for cues, name in groups:
                if before in cues:
                    kind, start = name, a - length
                    break
            if kind:
                break
        if kind is None and a > 0 and self.tokens[self.word_at[a] - 1].text in "<>~":
            kind = {"<": "max", ">": "min", "~": "about"}[self.tokens[self.word_at[a] - 1].text]
        end = b
        for length in (3, 2, 1):
            after = tuple(w[b : b + length])
            if len(after) == length and self._free(b, b + length):
                for cues, name in ((self.p.runtime_max, "max"), (self.p.runtime_min, "min")):
                    if after in cues:
                        kind, end = name, b + length
                        break
        if end < len(w) and w[end] == "long" and self._free(end, end + 1):
            end += 1
        if kind in ("max", "min") and self._negated_before(start):
            kind = "min" if kind == "max" else "max"
        if kind == "max":
            return start, end, (None, minutes)
        if kind == "min":
            return start, end, (minutes, None)
        slack = lx.RUNTIME_ABOUT_SLACK
        return start, end, (max(1, minutes - slack), minutes + slack)

    def _norm_text(self) -> tuple[str, list[tuple[int, int]]]:
        """The folded words joined by spaces, and each word's (start, end) in that text."""
        parts, offsets, pos = [], [], 0
        for k, word in enumerate(self.fixed):
            if k and "." in self._punct_between(k - 1, k) and word.isdigit() and self.fixed[k - 1].isdigit():
                parts.append(". ")
                pos += 2
            offsets.append((pos, pos + len(word)))
            parts.append(word + " ")
            pos += len(word) + 1
        return "".join(parts), offsets

    @staticmethod
    def _word_range(offsets: list[tuple[int, int]], start: int, end: int) -> tuple[int | None, int]:
        words = [k for k, (s, e) in enumerate(offsets) if s >= start and e <= end]
        if not words or offsets[words[0]][0] != start:
            return None, 0
        return words[0], words[-1] + 1

    # lexicon phrases ------------------------------------------------------------------------

    def _find_phrases(self) -> None:
        table, prefixes = self.p.lexicon.table, self.p.lexicon.prefixes
        k = 0
        while k < len(self.fixed):
            if self.taken[k] is not None:
                k += 1
                continue
            best = None
            for b in range(k + 1, min(len(self.fixed), k + 8) + 1):
                key = tuple(self.fixed[k:b])
                if key not in prefixes or not self._free(b - 1, b) or (b - k > 1 and self._crosses(b - 2, b)):
                    break
                if key in table:
                    best = (b, table[key])
            if best is None:
                k += 1
                continue
            b, entries = best
            entries = self._choose_entries(k, b, entries)
            for kind, value in entries:
                self.matches.append(_Match(k, b, kind, value))
            if entries:
                for j in range(k, b):
                    self.taken[j] = _Match(k, b, entries[0][0], entries[0][1])
            k = b

    def _choose_entries(self, k: int, b: int, entries: list[tuple[str, object]]) -> list[tuple[str, object]]:
        kinds = {kind for kind, _ in entries}
        after = self.fixed[b] if b < len(self.fixed) else ""
        if "critique" in kinds and self.fixed[k] in ("more", "less") and after in lx.CRITIQUE_BLOCKERS:
            tail = self.p.lexicon.table.get(tuple(self.fixed[k + 1 : b]), [])
            if any(kind == "genre" for kind, _ in tail):  # "more action movies": a genre, not a critique
                self.matches.append(_Match(k, k + 1, "more", None))
                for kind, value in tail:
                    self.matches.append(_Match(k + 1, b, kind, value))
                for j in range(k, b):
                    self.taken[j] = _Match(k + 1, b, tail[0][0], tail[0][1])
                return []
        if "more" in kinds and self.fixed[k] == "more" and after == "like":
            entries = [e for e in entries if e[0] != "more"] + [("more", None)]
        return entries

    # the walk -------------------------------------------------------------------------------

    def _walk(self) -> None:
        s = self.slots
        by_start: dict[int, list[_Match]] = defaultdict(list)
        for match in self.matches:
            by_start[match.a].append(match)
        negated = False
        hits = gap = 0
        frame: str | None = None
        self.used_words: set[int] = set()
        k = 0
        while k < len(self.fixed):
            if k and any(c in HARD_PUNCT for c in self._punct_between(k - 1, k)):
                negated, frame = False, None
            here = by_start.get(k)
            if not here:
                if self.taken[k] is None:
                    negated, hits, gap, frame = self._plain_word(k, negated, hits, gap, frame)
                k += 1
                continue
            kinds = {m.kind for m in here}
            if "neg" in kinds:
                negated, hits, gap = True, 0, 0
            if "neutral" in kinds:
                negated = False
            if "feedback" in kinds:
                kind = next(m.value for m in here if m.kind == "feedback")
                s.feedback = s.feedback or kind  # type: ignore[assignment]
                frame = kind  # type: ignore[assignment]
            if "like" in kinds:
                frame = "like"
            for match in here:
                if match.kind not in ("neg", "neutral", "feedback", "like"):
                    hit = self._apply(match, negated, frame)
                    if hit and negated:
                        hits, gap = hits + 1, 0
            k = max(m.b for m in here)

    def _plain_word(self, k: int, negated: bool, hits: int, gap: int, frame: str | None):
        word = self.fixed[k]
        if word in lx.SCOPE_BREAKERS:
            return False, 0, 0, None
        if negated:
            if hits and (word not in lx.LIST_WORDS or (word in ("and", "something", "anything") and not self._entity_at(k + 1))):
                negated = False  # "no horror and something funny": the negation has ended
            elif not hits:
                if word in lx.FILLER_WORDS or word in lx.LIST_WORDS or not word.isalpha():
                    gap += 1
                    if gap > 6:
                        negated = False
                else:
                    _add(self.slots.keywords, f"not {self.norms[k]}")
                    self.used_words.add(k)
                    hits += 1
        if frame and word not in lx.LIST_WORDS and word not in lx.FILLER_WORDS:
            frame = None
        return negated, hits, gap, frame

    def _entity_at(self, k: int) -> bool:
        """True when word k (after an optional article) starts a genre, person, title or keyword."""
        while k < len(self.fixed) and self.fixed[k] in ("a", "an", "the", "no", "not"):
            k += 1
        taken = self.taken[k] if k < len(self.taken) else None
        return taken is not None and taken.kind in ("genre", "person", "title", "keyword", "audience")

    def _apply(self, match: _Match, negated: bool, frame: str | None) -> bool:
        """Record one match; True when it is something a negation can rule out."""
        s = self.slots
        kind, value = match.kind, match.value
        if kind == "genre":
            for genre in value:  # type: ignore[union-attr]
                _add(s.genres_exclude if negated or frame == "disliked" else s.genres_include, genre)
            return True
        if kind == "person":
            _add(s.people_exclude if negated or frame == "disliked" else s.people_include, value)
            return True
        if kind == "title":
            self._apply_title(match, negated, frame)
            return True
        if kind == "keyword":
            _add(s.keywords, f"not {value}" if negated else value)
            if negated:  # also in the user's words: "no gore" is kept as "not gory" and "not gore"
                said = " ".join(self.norms[match.a : match.b])
                if said != value:
                    _add(s.keywords, f"not {said}")
                self.used_words.update(range(match.a, match.b))
            return True
        if kind == "audience":
            flipped = {"kids": "adults", "adults": "kids"}[value] if negated else value  # type: ignore[index]
            s.audience = s.audience if (s.audience and not negated) else flipped  # type: ignore[assignment]
            return True
        if kind == "critique":
            _add(s.critiques, value)
        elif kind == "ref":
            for position in value:  # type: ignore[union-attr]
                _add(s.refs, position)
            s.flags.add("ref")
            if frame in ("seen", "liked", "disliked"):
                s.feedback = s.feedback or frame  # type: ignore[assignment]
            return True
        elif kind == "year":
            lo, hi = value  # type: ignore[misc]
            s.year_min = max(s.year_min or lo, lo) if lo is not None else s.year_min
            s.year_max = min(s.year_max or hi, hi) if hi is not None else s.year_max
        elif kind == "runtime":
            lo, hi = value  # type: ignore[misc]
            s.runtime_min = lo if lo is not None else s.runtime_min
            s.runtime_max = hi if hi is not None else s.runtime_max
        elif kind == "ask":
            s.ask = s.ask or value  # type: ignore[assignment]
            s.flags.add("ask")
        else:
            s.flags.add(kind)
        return False

    def _apply_title(self, match: _Match, negated: bool, frame: str | None) -> None:
        s = self.slots
        source, value = match.value  # type: ignore[misc]
        item = self.shown[value - 1] if source == "shown" else value
        position = value if source == "shown" else self._shown_position(item)
        if position is not None:
            _add(s.shown_titles, position)
        text = item.title if item is not None else " ".join(w.text for w in self.words[match.a : match.b])
        explicit = match.explicit or frame is not None or negated
        entry = (item, text, explicit, "neg" if negated else frame)
        if negated or frame in ("seen", "disliked"):
            if frame == "seen" or frame == "disliked":
                s.feedback = s.feedback or frame  # type: ignore[assignment]
            s.titles_exclude.append(entry)
        else:
            if frame == "liked":
                s.flags.add("liked_title")
            s.titles_like.append(entry)

    # the result -----------------------------------------------------------------------------

    def _query(self) -> str:
        words = []
        for k, word in enumerate(self.words):
            taken = self.taken[k]
            if k in self.used_words or (taken is not None and taken.kind != "keyword"):
                continue
            norm = self.fixed[k]
            if norm in lx.FILLER_WORDS or norm in lx.SCOPE_BREAKERS or norm in lx.LIST_WORDS or not norm.isalnum():
                continue
            words.append(word.text)
        return " ".join(words)[:300]

    def _asks_similar(self) -> bool:
        text = " " + " ".join(self.fixed) + " "
        return any(f" {' '.join(p)} " in text for p in self.p.similar_cues)

    def _is_question(self) -> bool:
        first = self.fixed[0] if self.fixed else ""
        return self.text.rstrip().endswith("?") or first in lx.QUESTION_STARTS or self.fixed[:3] == ["tell", "me", "about"]

    def _pointer_refs(self) -> list[int]:
        pointers = self.p.pointers
        for k in range(len(self.fixed)):
            if self.taken[k] is not None and self.taken[k].kind not in ("feedback", "ask"):
                continue
            for length in (2, 1):
                if tuple(self.fixed[k : k + length]) in pointers:
                    return [1] if len(self.shown) == 1 else [0]
        return []

    def _intent(self, query: str) -> str:
        s = self.slots
        flags = s.flags
        if "reset" in flags:
            return "reset"
        question = self._is_question()
        request_words = any(w in lx.REQUEST_CUES for w in self.fixed)
        constraints = bool(
            s.genres_include or s.genres_exclude or s.people_include or s.people_exclude or s.keywords
            or s.critiques or s.year_min or s.year_max or s.runtime_min or s.runtime_max or s.audience)
        targets = bool(s.refs or s.shown_titles or s.titles_like or s.titles_exclude)
        asks_more = "more" in flags or "request_question" in flags or request_words
        if question and "request_question" not in flags and (
                "ask" in flags or (not asks_more and (s.refs or s.shown_titles))) and (targets or self._pointer_refs()):
            return "ask_item"
        if s.feedback and (targets or self._pointer_refs()) and not asks_more and not constraints:
            if not (s.feedback == "liked" and not self.shown and s.titles_like):
                return "feedback"
        if constraints or targets or asks_more or query:
            if question and not (constraints or targets or asks_more):
                return "other"
            return "refine" if self.shown else "recommend"
        if "greet" in flags:
            return "greet"
        return "other"

    def _result(self) -> PreferenceUpdate:
        s = self.slots
        query = self._query()
        intent = self._intent(query)
        refs = [p for p in s.refs if 1 <= p <= len(self.shown)]
        if intent in ("feedback", "ask_item") or s.feedback or "more" in s.flags:
            if not refs and not s.titles_like and not s.titles_exclude:
                pointer = self._pointer_refs()
                if pointer == [1]:
                    refs = [1]
                elif pointer == [0] and self.shown:
                    self.notes.append("not sure which of the shown items 'it' or 'that' means")
        titles_like, titles_exclude = s.titles_like, s.titles_exclude
        if self._asks_similar():  # "I've seen X and Y, anything similar?": X and Y are what to match
            titles_like = titles_like + [t for t in titles_exclude if t[3] == "seen"]
            titles_exclude = [t for t in titles_exclude if t[3] != "seen"]
        if s.feedback in ("seen", "disliked") and intent == "feedback":
            titles_exclude = titles_exclude + [t for t in titles_like if not t[2]]
            titles_like = [t for t in titles_like if t[2]]
        if intent == "ask_item":
            for position in s.shown_titles:
                _add(refs, position)
            shown_ids = {item.id for item in self.shown}
            titles_like = [t for t in titles_like if t[0] is None or t[0].id not in shown_ids]
        if "recent" in s.flags and s.year_min is None and s.year_max is None:
            s.year_min = self.p.reference_year - lx.RECENT_YEARS
        critiques = s.critiques
        if s.runtime_max is not None:
            critiques = [c for c in critiques if c != ("length", "less")]
        if s.runtime_min is not None:
            critiques = [c for c in critiques if c != ("length", "more")]
        keywords, genres_include = s.keywords, s.genres_include
        audience = s.audience
        if intent == "ask_item":  # "is it good for kids?" asks about the item; it sets no preference
            keywords, critiques, genres_include, audience = [], [], [], None
        if any(t[0] is None for t in titles_like + titles_exclude):
            self.notes.append("some named titles are not in the catalog")
        try:
            return PreferenceUpdate(
                intent=intent,  # type: ignore[arg-type]
                genres_include=genres_include, genres_exclude=s.genres_exclude,
                people_include=s.people_include, people_exclude=s.people_exclude,
                titles_like=self._refs(titles_like), titles_exclude=self._refs(titles_exclude),
                year_min=s.year_min, year_max=s.year_max,
                runtime_min=s.runtime_min, runtime_max=s.runtime_max,
                audience=audience,  # type: ignore[arg-type]
                keywords=keywords,
                critiques=[Critique(attribute=a, direction=d) for a, d in critiques],  # type: ignore[arg-type]
                refers_to_shown=refs, feedback=s.feedback if (refs or titles_like or titles_exclude) else None,  # type: ignore[arg-type]
                ask=(s.ask or "general") if intent == "ask_item" else None,  # type: ignore[arg-type]
                query=query,
                notes=list(dict.fromkeys(self.notes)),
            )
        except ValueError as exc:  # a bound out of the schema's range: drop the bounds, keep the rest
            if (s.year_min, s.year_max, s.runtime_min, s.runtime_max) == (None, None, None, None):
                raise
            logger.info("parsed values out of range (%s); dropping year and runtime bounds", exc)
            s.year_min = s.year_max = s.runtime_min = s.runtime_max = None
            self.notes.append("a year or length was out of range and was ignored")
            return self._result()

    @staticmethod
    def _refs(entries: list[tuple[Item | None, str, bool, str | None]]) -> list[TitleRef]:
        out: list[TitleRef] = []
        seen: set[str] = set()
        for item, text, *_ in entries:
            key = item.id if item is not None else text.casefold()
            if key not in seen:
                seen.add(key)
                out.append(TitleRef(text=item.title if item else text, item_id=item.id if item else None))
        return out
