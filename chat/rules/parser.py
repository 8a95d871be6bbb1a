"""``RuleParser``: the offline ``PreferenceParser``, assembled from the catalog and ``chat.lexicon``.

It builds the catalog's indexes and the lexicon's cues once; each ``parse`` reads one
utterance through the finders in a fixed order (see ``chat.rules``) and walks the result.
"""

from __future__ import annotations

import logging

from chat import lexicon as lx
from chat.parser import ParseContext, TitleIndex
from chat.rules.assumptions import apply_assumption_cue
from chat.rules.names import find_titles_and_people
from chat.rules.negation import negator_words
from chat.rules.people import PeopleIndex
from chat.rules.phrases import PhraseTable, find_phrases
from chat.rules.references import ReferenceCues, find_references
from chat.rules.intent import MAX_QUERY_CHARS
from chat.rules.result import build_update
from chat.rules.runtimes import RuntimeCues, find_runtimes
from chat.rules.speller import Speller, correct_spelling, known_word_frequencies, lexicon_words
from chat.rules.titles import TitleRecognizer
from chat.rules.utterance import Utterance, clean_text, fold_phrase
from chat.rules.visual import VISUAL_WORDS, reads_visual, without_visual_cues
from chat.rules.walk import walk
from chat.rules.years import YearCues, find_years
from chat.schemas import PreferenceUpdate
from retrieval.catalog import Catalog

logger = logging.getLogger(__name__)

DEFAULT_REFERENCE_YEAR = 2020  # for a catalog without years


class RuleParser:
    """``PreferenceParser`` built from the catalog (titles, people, genres) and ``chat.lexicon``.

    ``reference_year`` is what "recent" and "the last 10 years" count back from; by default the
    newest year in the catalog, so a catalog that ends in 2018 still has recent items.
    """

    def __init__(self, catalog: Catalog, *, reference_year: int | None = None):
        self.catalog = catalog
        self.phrases = PhraseTable(catalog)
        self.people = PeopleIndex(catalog)
        self.titles = TitleRecognizer(TitleIndex.for_catalog(catalog), self.phrases)
        years = [item.year for item in catalog if item.year]
        self.reference_year = reference_year or (max(years) if years else DEFAULT_REFERENCE_YEAR)
        self.common = set(lx.COMMON_WORDS) | set(lx.FILLER_WORDS) | self.phrases.single_words | VISUAL_WORDS
        self.speller = Speller(
            known_word_frequencies([*self.titles.index.keys, *self.people.full],
                                   self.phrases.words | self.common | lexicon_words()),
            self.phrases.words | self.common)
        self.references = ReferenceCues.from_lexicon()
        self.similar_cues = [fold_phrase(c) for c in lx.SIMILAR_CUES]
        negators = negator_words()
        self.year_cues = YearCues.from_lexicon(negators)
        self.runtime_cues = RuntimeCues.from_lexicon(negators)

    def parse(self, utterance: str, context: ParseContext | None = None) -> PreferenceUpdate:
        """Read one utterance. Never raises on odd text; what it could not use goes to ``notes``."""
        context = context or ParseContext()
        text, notes = clean_text(utterance)
        if not text:
            return PreferenceUpdate(intent="other", notes=[*notes, "empty message"])
        try:
            return self._read(Utterance(text, list(context.shown), notes, self.common))
        except Exception:  # a bug here must cost one turn's understanding, not the conversation
            logger.exception("rule parser failed on %r", text[:200])
            return PreferenceUpdate(intent="other", query=text[:MAX_QUERY_CHARS],
                                    notes=[*notes, "the message could not be read; kept as free text"])

    def _read(self, u: Utterance) -> PreferenceUpdate:
        """The finders in order (strong titles first, weak ones last), the walk, the update."""
        correct_spelling(u, self.speller)
        find_titles_and_people(u, self.titles, self.people, self.phrases, strong_only=True)
        find_references(u, self.references)
        find_years(u, self.year_cues)
        find_runtimes(u, self.runtime_cues)
        self.titles.find_fuzzy(u)
        find_phrases(u, self.phrases)
        find_titles_and_people(u, self.titles, self.people, self.phrases, strong_only=False)
        update = build_update(u, walk(u), references=self.references, similar_cues=self.similar_cues,
                              reference_year=self.reference_year)
        if update.intent in ("recommend", "refine") and reads_visual(u):
            update.visual = True
            update.query = without_visual_cues(update.query)
        return apply_assumption_cue(update, u.text, shown=bool(u.shown))
