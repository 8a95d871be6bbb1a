"""No utterance can raise out of the rule parser, and every turn gets an answer.

Hypothesis generates thousands of utterances: random text, and text built from the words the
parser reacts to (numbers of any size, units, cues, genres, negations, references, punctuation),
which is where a parser breaks (``"a comedy under " + "9" * 400 + " minutes"`` once raised
``OverflowError``).
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chat.parser import ParseContext
from chat.rule_parser import RuleParser
from chat.schemas import PreferenceUpdate

WORDS = [
    "a", "comedy", "horror", "sci-fi", "western", "90s", "1990s", "80's", "from", "before", "after", "between",
    "and", "under", "over", "at least", "about", "less than", "more than", "or less", "max", "minutes", "mins",
    "min", "m", "hours", "hrs", "h", "hour and a half", "half an hour", "and a half", "not", "no", "nothing with",
    "without", "with", "like", "the second one", "the 3rd", "#2", "more like that", "less violent", "newer",
    "shorter", "start over", "i've seen it", "loved", "hated", "Tom Hanks", "Christopher Nolan", "Heat",
    "Toy Story", "for kids", "for my 6 year old", "rated", "stars", "years old", "century", "decade", "'",
    ".", ",", "-", "~", "<", ">", "=", "/", ":", "(", ")", "!", "?", "…", "½", "٣", "①", "²", "e", "E",
    "inf", "nan", "one", "two", "ten", "twenty", "hundred", "thousand", "million", "zero", "0", "00",
]
numbers = st.one_of(
    st.integers(min_value=-10**6, max_value=10**6).map(str),
    st.integers(min_value=1, max_value=500).map(lambda n: "9" * n),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.from_regex(r"[0-9]{1,40}(\.[0-9]{1,40})?", fullmatch=True),
)
tokens = st.one_of(st.sampled_from(WORDS), numbers, st.text(max_size=6))
utterances = st.one_of(
    st.lists(tokens, min_size=1, max_size=25).map(" ".join),
    st.lists(tokens, min_size=1, max_size=25).map("".join),
    st.text(max_size=200),
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def parser(demo_deps) -> RuleParser:
    return RuleParser(demo_deps.catalog)


@pytest.fixture(scope="module")
def shown(demo_deps) -> ParseContext:
    items = list(demo_deps.catalog)[:5]
    return ParseContext(shown=items, history=[("user", "a western"), ("assistant", "Here are five westerns.")])


def test_the_reported_overflow_is_read_as_an_unusable_runtime(parser):
    for text in ("a comedy under " + "9" * 400 + " minutes", "a comedy under " + "9" * 400 + ".5 hours",
                 "a comedy under " + "9" * 5000 + "h 5m"):
        update = parser.parse(text, ParseContext())
        assert "Comedy" in update.genres_include and update.runtime_max is None
        assert not any("could not be read" in note for note in update.notes)


def test_a_parser_bug_costs_one_turns_understanding_not_the_answer(marquee, monkeypatch):
    def broken(*_args, **_kwargs):
        raise OverflowError("a bug")

    monkeypatch.setattr(marquee.parser, "_read", broken)
    result = marquee.respond(None, "a comedy under 90 minutes")
    assert result.reply.text and any("could not be read" in note for note in result.update.notes)
    assert len(marquee.turns(result.conversation_id)) == 1


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(text=utterances)
def test_no_utterance_raises_out_of_the_parser(parser, shown, text):
    for context in (ParseContext(), shown):
        update = parser.parse(text, context)
        assert isinstance(update, PreferenceUpdate)
        assert not any("could not be read" in note for note in update.notes), (text, update.notes)  # no bug inside
        if update.runtime_max is not None:
            assert 0 < update.runtime_max <= 24 * 60
        if update.year_min is not None:
            assert -10_000 < update.year_min < 10_000
