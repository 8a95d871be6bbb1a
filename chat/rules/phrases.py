"""The lexicon's phrases (genres, audience, moods, critiques, negation, intents) and finding them.

``PhraseTable`` maps folded word tuples onto what they mean, with genre names in the catalog's
own spelling; ``find_phrases`` claims the longest known phrase at each free word of an utterance.
"""

from __future__ import annotations

from collections import defaultdict

from chat import lexicon as lx
from chat.rules.critiques import Meanings, critique_phrases, genre_after_more
from chat.rules.utterance import Match, Utterance, fold_phrase
from retrieval.catalog import Catalog

MAX_PHRASE_WORDS = 8


def plural_forms(word: str) -> list[str]:
    """The plural of a genre or theme word as people type it: "comedy" -> "comedies"."""
    if word.endswith("y") and len(word) > 3:
        return [word[:-1] + "ies"]
    if word.endswith(("s", "x", "ch", "sh")):
        return [word + "es"]
    return [word + "s"]


class PhraseTable:
    """The lexicon's phrases as folded word tuples -> [(kind, value)], built once per parser.

    Kinds: genre, audience, keyword, critique, recent, neg, neutral, feedback, ask,
    request_question, greet, chitchat, reset, more, like.
    """

    def __init__(self, catalog: Catalog):
        self.table: dict[tuple[str, ...], Meanings] = defaultdict(list)
        genres = {g.casefold().replace("-", " "): g for g in catalog.genres}
        self._add_genres(genres)
        self._add_audiences()
        self._add_keywords()
        for text, value in critique_phrases():
            self._add(text, "critique", value)
        self._add_cues()
        known = {words[0] for words in self.table if len(words) == 1}
        for name, genre in genres.items():  # catalog genres the lexicon does not cover ("News")
            key = fold_phrase(name)
            if key not in self.table and len(key) == 1 and key[0] not in known:
                self._add(genre, "genre", (genre,), plurals=True)
        self.prefixes = {k[:n] for k in self.table for n in range(1, len(k) + 1)}
        self.words = {w for k in self.table for w in k}
        self.single_words = {k[0] for k in self.table if len(k) == 1}

    def _add_genres(self, genres: dict[str, str]) -> None:
        """Genre phrases mapped onto the catalog's genre names; a phrase for no catalog genre is left out."""
        for text, names in lx.GENRE_PHRASES.items():
            found = tuple(genres[n.casefold().replace("-", " ")] for n in names
                          if n.casefold().replace("-", " ") in genres)
            if found:
                self._add(text, "genre", found, plurals=True)

    def _add_audiences(self) -> None:
        """Audience phrases, and every "my little daughter" / "our 8 year old son" for kids."""
        for text, audience in lx.AUDIENCE_PHRASES.items():
            self._add(text, "audience", audience)
        for owner in lx.KID_OWNERS:
            for age in lx.KID_AGES:
                for noun in lx.KID_NOUNS:
                    if noun not in ("one", "ones") or age:
                        self._add(" ".join(x for x in (owner, age, noun) if x), "audience", "kids")
                if "year" in age:  # "for my 6 year old": the age says who it is for
                    self._add(f"{owner} {age}", "audience", "kids")

    def _add_keywords(self) -> None:
        """Mood and theme phrases; one ending in a genre word also names the genre ("dark comedy")."""
        single_genres = {key[0]: entries for key, entries in self.table.items() if len(key) == 1}
        for text, keyword in lx.KEYWORD_PHRASES.items():
            self._add(text, "keyword", keyword, plurals=True)
            key = fold_phrase(text)
            if len(key) > 1:
                for kind, value in single_genres.get(key[-1], []):
                    if kind == "genre":
                        self._add(text, "genre", value, plurals=True)

    def _add_cues(self) -> None:
        """Phrases that carry no preference themselves: recency, negation, feedback, intents, frames."""
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
        for cues, kind in ((lx.REQUEST_QUESTIONS, "request_question"), (lx.GREETINGS, "greet"),
                           (lx.CHITCHAT, "chitchat"), (lx.RESET_PHRASES, "reset"), (lx.MORE_CUES, "more"),
                           (lx.LIKE_CUES, "like")):
            for text in cues:
                self._add(text, kind, None)

    def _add(self, text: str, kind: str, value: object, *, plurals: bool = False) -> None:
        """File one meaning under a phrase (and under its plural, for genre and theme words)."""
        key = fold_phrase(text)
        if not key:
            return
        entry = (kind, value)
        if entry not in self.table[key]:
            self.table[key].append(entry)
        if plurals and len(key[-1]) > 2 and not key[-1].endswith("s") and kind in ("genre", "keyword"):
            for form in plural_forms(key[-1]):
                plural = key[:-1] + (form,)
                if entry not in self.table[plural]:
                    self.table[plural].append(entry)


def find_phrases(u: Utterance, phrases: PhraseTable) -> None:
    """Claim the longest lexicon phrase starting at each free word, left to right."""
    k = 0
    while k < len(u.fixed):
        if u.taken[k] is not None:
            k += 1
            continue
        longest = _longest_phrase(u, phrases, k)
        if longest is None:
            k += 1
            continue
        b, entries = longest
        entries = _reading_of(u, phrases, k, b, entries)
        for kind, value in entries:
            u.matches.append(Match(k, b, kind, value))
        if entries:
            for j in range(k, b):
                u.taken[j] = Match(k, b, entries[0][0], entries[0][1])
        k = b


def _longest_phrase(u: Utterance, phrases: PhraseTable, k: int) -> tuple[int, Meanings] | None:
    """(end, entries) of the longest phrase at word k over free words within one clause, or None."""
    longest = None
    for b in range(k + 1, min(len(u.fixed), k + MAX_PHRASE_WORDS) + 1):
        key = tuple(u.fixed[k:b])
        if key not in phrases.prefixes or not u.free(b - 1, b) or (b - k > 1 and u.crosses(b - 2, b)):
            break
        if key in phrases.table:
            longest = (b, phrases.table[key])
    return longest


def _reading_of(u: Utterance, phrases: PhraseTable, k: int, b: int, entries: Meanings) -> Meanings:
    """Which meanings of the phrase at k..b to record; a "more <genre>" phrase records itself and returns none."""
    genre = genre_after_more(u, phrases.table, k, b, entries)
    if genre is not None:
        u.matches.append(Match(k, k + 1, "more", None))
        for kind, value in genre:
            u.matches.append(Match(k + 1, b, kind, value))
        for j in range(k, b):
            u.taken[j] = Match(k + 1, b, genre[0][0], genre[0][1])
        return []
    after = u.fixed[b] if b < len(u.fixed) else ""
    if u.fixed[k] == "more" and after == "like" and any(kind == "more" for kind, _ in entries):
        entries = [e for e in entries if e[0] != "more"] + [("more", None)]  # "more like that": "more" last
    return entries
