"""The rule parser read against the demo catalog, one phenomenon at a time.

Utterances here are our own phrasings, not the strings of the parser dev set, so that what
passes here is behaviour and not memory of the dev set.
"""

from __future__ import annotations

import logging
import random
import string
from pathlib import Path

import pytest

from chat.parser import MAX_HISTORY_TURNS, ParseContext, PreferenceParser, TitleIndex, resolve_titles
from chat.rule_parser import MAX_CHARS, RuleParser
from chat.schemas import PreferenceUpdate, TitleRef
from retrieval.catalog import Catalog, load_catalog

DEMO = Path(__file__).resolve().parent.parent / "data" / "demo"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(DEMO)


@pytest.fixture(scope="module")
def parser(catalog: Catalog) -> RuleParser:
    return RuleParser(catalog)


def shown(catalog: Catalog, *labels: str) -> ParseContext:
    index = TitleIndex.for_catalog(catalog)
    items = [index.exact(label) for label in labels]
    assert all(items), labels
    return ParseContext(shown=items, history=[("user", "something"), ("assistant", "Here you go.")])


@pytest.fixture(scope="module")
def crime(catalog: Catalog) -> ParseContext:
    return shown(catalog, "Heat (1995)", "The Godfather (1972)", "Reservoir Dogs (1992)")


@pytest.fixture(scope="module")
def family(catalog: Catalog) -> ParseContext:
    return shown(catalog, "Toy Story (1995)", "Up (2009)", "Paddington (2014)")


def titles(refs: list[TitleRef]) -> list[str]:
    return [ref.text for ref in refs]


def critiques(update: PreferenceUpdate) -> set[tuple[str, str]]:
    return {(c.attribute, c.direction) for c in update.critiques}


def test_it_is_a_preference_parser(parser: RuleParser) -> None:
    assert isinstance(parser, PreferenceParser)


# --- chit-chat, greetings, reset ------------------------------------------------------------

@pytest.mark.parametrize("text", ["hello!", "Hey there", "good morning", "hiya, how are you?"])
def test_greetings(parser: RuleParser, text: str) -> None:
    assert parser.parse(text, ParseContext()).intent == "greet"


@pytest.mark.parametrize("text", ["thank you, bye", "cheers!", "ok thanks", "what time is it?", "lol"])
def test_chit_chat_is_other(parser: RuleParser, text: str) -> None:
    update = parser.parse(text, ParseContext())
    assert update.intent == "other"
    assert not update.genres_include and not update.titles_like


@pytest.mark.parametrize("text", ["start over", "can we start from scratch?", "forget everything I told you",
                                  "reset", "never mind, let's begin again", "clear my preferences"])
def test_reset(parser: RuleParser, text: str) -> None:
    assert parser.parse(text, ParseContext()).intent == "reset"


def test_a_greeting_with_a_request_is_a_request(parser: RuleParser) -> None:
    update = parser.parse("hi! I'm looking for a western", ParseContext())
    assert update.intent == "recommend"
    assert update.genres_include == ["Western"]


# --- genres and audience --------------------------------------------------------------------

@pytest.mark.parametrize(("text", "genres"), [
    ("give me a romcom", {"Romance", "Comedy"}),
    ("any rom-coms?", {"Romance", "Comedy"}),
    ("something spooky for halloween", {"Horror"}),
    ("cartoons please", {"Animation"}),
    ("an animated flick", {"Animation"}),
    ("scifi", {"Sci-Fi"}),
    ("science fiction from japan", {"Sci-Fi"}),
    ("a proper whodunnit", {"Mystery"}),
    ("I love westerns and musicals", {"Western", "Musical"}),
    ("a film noir", {"Film-Noir"}),
    ("documentaries", {"Documentary"}),
    ("a dark comedy", {"Comedy"}),
])
def test_genre_words_become_catalog_genres(parser: RuleParser, text: str, genres: set[str]) -> None:
    update = parser.parse(text, ParseContext())
    assert set(update.genres_include) == genres
    assert update.intent == "recommend"


def test_flick_and_movie_are_not_search_words(parser: RuleParser) -> None:
    assert parser.parse("a horror flick", ParseContext()).query == ""


@pytest.mark.parametrize(("text", "audience"), [
    ("something for the whole family", "kids"),
    ("a movie my 6 year old daughter would like", "kids"),
    ("something for my 6 year old", "kids"),
    ("a comedy for our 8-year-old", "kids"),
    ("kid-friendly please", "kids"),
    ("a cartoon for grown-ups", "adults"),
    ("an animated film that's not for little kids", "adults"),
    ("something for adults only", "adults"),
])
def test_audience(parser: RuleParser, text: str, audience: str) -> None:
    assert parser.parse(text, ParseContext()).audience == audience


# --- time and length -----------------------------------------------------------------------

@pytest.mark.parametrize(("text", "year_min", "year_max"), [
    ("a comedy from the 90s", 1990, 1999),
    ("an 80's thriller", 1980, 1989),
    ("movies from the nineties", 1990, 1999),
    ("something from the 2000s", 2000, 2009),
    ("a drama from the late 70s", 1975, 1979),
    ("westerns after 1965", 1966, None),
    ("anything before 1950", None, 1949),
    ("not from before 1970", 1970, None),
    ("nothing older than 2000", 2000, None),
    ("horror since 2012", 2012, None),
    ("between 1985 and 1992", 1985, 1992),
    ("from 1999", 1999, 1999),
    ("pre-1960 noir", None, 1959),
    ("the 60s or 70s", 1960, 1979),
])
def test_years_and_decades(parser: RuleParser, text: str, year_min: int | None, year_max: int | None) -> None:
    update = parser.parse(text, ParseContext())
    assert (update.year_min, update.year_max) == (year_min, year_max)


def test_recent_counts_back_from_the_newest_catalog_year(catalog: Catalog) -> None:
    parser = RuleParser(catalog, reference_year=2018)
    assert parser.parse("recent thrillers", ParseContext()).year_min == 2013
    assert parser.parse("recent thrillers after 2015", ParseContext()).year_min == 2016


@pytest.mark.parametrize(("text", "runtime_min", "runtime_max"), [
    ("under 90 minutes", None, 90),
    ("less than two hours", None, 120),
    ("no longer than an hour and a half", None, 90),
    ("at least 150 minutes", 150, None),
    ("over 2 hours", 120, None),
    ("1h30 max", None, 90),
    ("nothing longer than 100 mins", None, 100),
])
def test_runtimes(parser: RuleParser, text: str, runtime_min: int | None, runtime_max: int | None) -> None:
    update = parser.parse(text, ParseContext())
    assert (update.runtime_min, update.runtime_max) == (runtime_min, runtime_max)


def test_short_without_a_number_is_a_length_critique(parser: RuleParser) -> None:
    assert critiques(parser.parse("a comedy that isn't too long", ParseContext())) == {("length", "less")}
    assert critiques(parser.parse("something short", ParseContext())) == {("length", "less")}
    update = parser.parse("a short one, under 80 minutes", ParseContext())
    assert update.runtime_max == 80 and not update.critiques


# --- negation -------------------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "no horror", "no horror please", "nothing scary", "anything but horror", "I don't want horror",
    "I hate horror movies", "not horror", "I'm not in the mood for horror", "anything except horror or war",
    "a comedy, but no horror", "no horror and something funny", "not a fan of horror",
])
def test_a_negated_genre_is_never_wanted(parser: RuleParser, text: str) -> None:
    update = parser.parse(text, ParseContext())
    assert "Horror" in update.genres_exclude
    assert "Horror" not in update.genres_include


def test_negation_ends_at_but_and_commas(parser: RuleParser) -> None:
    update = parser.parse("no musicals, a drama, not a comedy but a thriller", ParseContext())
    assert set(update.genres_exclude) == {"Musical", "Comedy"}
    assert set(update.genres_include) == {"Drama", "Thriller"}
    update = parser.parse("no horror and something funny", ParseContext())
    assert update.genres_include == ["Comedy"]


def test_negation_covers_a_list(parser: RuleParser) -> None:
    update = parser.parse("nothing with Adam Sandler or will ferrell", ParseContext())
    assert set(update.people_exclude) == {"Adam Sandler", "Will Ferrell"}
    assert not update.people_include


def test_negated_moods_are_kept_as_negated_keywords(parser: RuleParser) -> None:
    update = parser.parse("a thriller that isn't gory, and no vampires", ParseContext())
    assert "not gory" in update.keywords and "not vampires" in update.keywords
    assert "gory" not in update.query and "vampires" not in update.query


def test_phrases_that_negate_nothing(parser: RuleParser) -> None:
    update = parser.parse("I don't mind subtitles, not sure about the genre, maybe a comedy", ParseContext())
    assert update.genres_include == ["Comedy"] and not update.genres_exclude


# --- titles -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "title"), [
    ("sumthing like jurasic park", "Jurassic Park"),
    ("something like forest gump", "Forrest Gump"),
    ("movies like the dark night", "The Dark Knight"),
    ("a thriller like se7en", "Seven (a.k.a. Se7en)"),
    ("I loved amelie", "Amelie (Fabuleux destin d'Amélie Poulain, Le)"),
    ("schindlers list", "Schindler's List"),
    ("films similar to Matrix", "The Matrix"),
    ("something like 'Heat'", "Heat"),
    ("star wars", "Star Wars: Episode IV - A New Hope"),
    ("i liked back to the future", "Back to the Future"),
])
def test_titles_with_typos_and_without_articles(parser: RuleParser, text: str, title: str) -> None:
    update = parser.parse(text, ParseContext())
    assert titles(update.titles_like) == [title]
    assert update.titles_like[0].item_id is not None


@pytest.mark.parametrize("text", [
    "I'm up for a comedy", "it has to be a comedy", "a movie about a heat wave", "something to watch with her",
    "I'd like it to be short", "give me a big adventure", "I saw it last week", "up to you, surprise me",
    "a crash course in film noir", "the drive home is long, something relaxing",
])
def test_everyday_words_are_not_titles(parser: RuleParser, text: str) -> None:
    update = parser.parse(text, ParseContext())
    assert update.titles_like == [] and update.titles_exclude == []


def test_short_titles_count_in_a_title_frame(parser: RuleParser) -> None:
    assert titles(parser.parse("something like Up", ParseContext()).titles_like) == ["Up"]
    assert titles(parser.parse('have you got anything like "It"?', ParseContext()).titles_like) == ["It"]


def test_two_liked_titles_and_a_request(parser: RuleParser) -> None:
    update = parser.parse("i enjoyed inception and interstellar, what else?", ParseContext())
    assert titles(update.titles_like) == ["Inception", "Interstellar"]
    assert update.intent == "recommend"


def test_a_hated_title_is_excluded(parser: RuleParser) -> None:
    update = parser.parse("I really hated Titanic. Something romantic though", ParseContext())
    assert titles(update.titles_exclude) == ["Titanic"]
    assert update.genres_include == ["Romance"]
    assert update.intent == "recommend"


def test_seen_titles_are_excluded_unless_more_like_them_is_asked(parser: RuleParser) -> None:
    update = parser.parse("I've already seen Psycho and Vertigo", ParseContext())
    assert set(titles(update.titles_exclude)) == {"Psycho", "Vertigo"}
    assert update.intent == "feedback" and update.feedback == "seen"
    update = parser.parse("I've seen Psycho and Vertigo, anything similar?", ParseContext())
    assert set(titles(update.titles_like)) == {"Psycho", "Vertigo"}


# --- people -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "person"), [
    ("something starring tom hanks", "Tom Hanks"),
    ("Nolan's films", "Christopher Nolan"),
    ("a Tarantino movie", "Quentin Tarantino"),
    ("directed by ridley scott", "Ridley Scott"),
    ("something by spielburg", "Steven Spielberg"),
    ("I want to see a movie with Denzel Washingtin", "Denzel Washington"),
    ("anything with pedro almodovar", "Pedro Almodóvar"),
])
def test_people_in_the_catalogs_spelling(parser: RuleParser, text: str, person: str) -> None:
    assert parser.parse(text, ParseContext()).people_include == [person]


def test_a_person_named_in_a_title_is_the_title(parser: RuleParser) -> None:
    update = parser.parse("any indiana jones movies?", ParseContext())
    assert not update.people_include
    assert update.titles_like and "Indiana Jones" in update.titles_like[0].text


# --- shown items, critiques, feedback, questions -----------------------------------------------

@pytest.mark.parametrize(("text", "refs"), [
    ("more like the second one", [2]),
    ("the 3rd", [3]),
    ("#2 please", [2]),
    ("more like number two", [2]),
    ("the first and the last", [1, 3]),
    ("the last one but funnier", [3]),
    ("the first two look good", [1, 2]),
])
def test_references_to_shown_items(parser: RuleParser, crime: ParseContext, text: str, refs: list[int]) -> None:
    assert parser.parse(text, crime).refers_to_shown == refs


def test_references_need_shown_items(parser: RuleParser) -> None:
    update = parser.parse("more like the second one", ParseContext())
    assert update.refers_to_shown == []
    assert any("nothing was shown" in note for note in update.notes)


def test_seen_all_and_asking_for_others_refines(parser: RuleParser, crime: ParseContext) -> None:
    update = parser.parse("seen them all, got anything else?", crime)
    assert update.intent == "refine"
    assert update.refers_to_shown == [1, 2, 3]


@pytest.mark.parametrize("text", ["I've seen those too", "watched them", "seen these already"])
def test_seen_those_marks_every_shown_item_seen(parser: RuleParser, crime: ParseContext, text: str) -> None:
    update = parser.parse(text, crime)
    assert (update.intent, update.feedback, update.refers_to_shown) == ("feedback", "seen", [1, 2, 3])


def test_more_like_them_is_not_seen_feedback(parser: RuleParser, crime: ParseContext) -> None:
    update = parser.parse("the last two look good, any more like them?", crime)
    assert update.refers_to_shown == [2, 3]
    assert update.feedback != "seen"


def test_seen_feedback_on_a_shown_item(parser: RuleParser, crime: ParseContext) -> None:
    update = parser.parse("I watched the last one already", crime)
    assert (update.intent, update.feedback, update.refers_to_shown) == ("feedback", "seen", [3])


def test_feedback_by_title_among_shown(parser: RuleParser, crime: ParseContext) -> None:
    update = parser.parse("not the godfather, I didn't like it", crime)
    assert update.intent == "feedback"
    assert titles(update.titles_exclude) == ["The Godfather"]
    assert update.feedback == "disliked"


def test_it_points_at_the_only_shown_item(parser: RuleParser, catalog: Catalog) -> None:
    one = shown(catalog, "Heat (1995)")
    update = parser.parse("loved it!", one)
    assert (update.intent, update.feedback, update.refers_to_shown) == ("feedback", "liked", [1])


@pytest.mark.parametrize(("text", "expected"), [
    ("darker please", {("darkness", "more")}),
    ("these are way too violent", {("violence", "less")}),
    ("something less scary and shorter", {("scariness", "less"), ("length", "less")}),
    ("more popular ones", {("popularity", "more")}),
    ("a lesser known one", {("popularity", "less")}),
    ("simpler, and a bit more romantic", {("complexity", "less"), ("romance", "more")}),
    ("older please", {("recency", "less")}),
    ("can you find something with more action", {("action", "more")}),
])
def test_critiques(parser: RuleParser, crime: ParseContext, text: str, expected: set) -> None:
    update = parser.parse(text, crime)
    assert critiques(update) == expected
    assert update.intent == "refine"


def test_more_action_movies_is_a_genre_not_a_critique(parser: RuleParser) -> None:
    update = parser.parse("more action movies", ParseContext())
    assert update.genres_include == ["Action"] and not update.critiques


@pytest.mark.parametrize(("text", "ask", "refs"), [
    ("who directed the third one?", "director", [3]),
    ("who's in the first one?", "cast", [1]),
    ("how long is Heat?", "runtime", [1]),
    ("what year did the godfather come out?", "year", [2]),
])
def test_questions_about_shown_items(parser: RuleParser, crime: ParseContext, text: str, ask: str,
                                     refs: list[int]) -> None:
    update = parser.parse(text, crime)
    assert (update.intent, update.ask, update.refers_to_shown) == ("ask_item", ask, refs)


def test_a_question_about_a_short_title_among_shown(parser: RuleParser, family: ParseContext) -> None:
    update = parser.parse("is Up sad?", family)
    assert (update.intent, update.refers_to_shown) == ("ask_item", [2])
    assert not update.keywords and not update.titles_like


def test_a_request_question_is_not_an_item_question(parser: RuleParser, crime: ParseContext) -> None:
    assert parser.parse("is there anything like Heat but newer?", crime).intent == "refine"


def test_refine_with_shown_items_and_recommend_without(parser: RuleParser, crime: ParseContext) -> None:
    assert parser.parse("no cartoons", crime).intent == "refine"
    assert parser.parse("no cartoons", ParseContext()).intent == "recommend"


def test_query_keeps_free_words_and_moods(parser: RuleParser) -> None:
    update = parser.parse("a heartwarming documentary about beekeepers in Norway", ParseContext())
    assert update.genres_include == ["Documentary"]
    assert "heartwarming" in update.keywords
    assert "beekeepers" in update.query and "Norway" in update.query
    assert "documentary" not in update.query.casefold()


# --- odd input ----------------------------------------------------------------------------

HOSTILE = [
    "", "   ", "\x00\x01\x1b[31m comedy \u202e", "🙂🎬😂 something funny 🍿", "أريد فيلم كوميدي من التسعينات",
    "'; DROP TABLE items; --", "<script>alert(1)</script> horror", "the the the the", "#############",
    "((((((((((((((((((((", "1 2 3 4 5 6 7 8 9 10 11 12 1999 2000s 90 minutes", "\ud800 broken surrogate",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_input_does_not_break_the_parser(parser: RuleParser, crime: ParseContext, text: str,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="chat.rule_parser"):
        update = parser.parse(text, crime)
    assert isinstance(update, PreferenceUpdate)
    assert not caplog.records, "the parser hit an internal error"


def test_very_long_input_is_truncated_with_a_note(parser: RuleParser, caplog: pytest.LogCaptureFixture) -> None:
    text = "a funny movie with lots of explosions " * 600  # ~23,000 characters
    with caplog.at_level(logging.ERROR, logger="chat.rule_parser"):
        update = parser.parse(text, ParseContext())
    assert not caplog.records
    assert update.genres_include == ["Comedy"]
    assert any(str(MAX_CHARS) in note for note in update.notes)


def test_random_text_never_reaches_the_error_path(parser: RuleParser, catalog: Catalog,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    rng = random.Random(7)
    index = TitleIndex.for_catalog(catalog)
    vocabulary = [w for key in list(index.keys)[:3000] for w in key] + [
        "no", "not", "the", "first", "second", "last", "one", "#", "90s", "1999", "under", "minutes", "like",
        "but", ",", "?", "'s", "more", "less", "too", "seen", "hated", "all", "of", "those", "and", "or"]
    context = ParseContext(shown=list(catalog)[:4])
    with caplog.at_level(logging.ERROR, logger="chat.rule_parser"):
        for _ in range(300):
            words = rng.choices(vocabulary, k=rng.randint(1, 25))
            noise = "".join(rng.choices(string.printable, k=rng.randint(0, 10)))
            parser.parse(" ".join(words) + noise, context)
    assert not caplog.records


def test_context_keeps_only_a_few_turns() -> None:
    context = ParseContext(history=[("user", str(n)) for n in range(20)])
    assert len(context.history) == MAX_HISTORY_TURNS
    assert context.history[-1] == ("user", "19")


# --- resolving titles named by another parser ----------------------------------------------

def test_resolve_titles_fills_ids_exact_and_fuzzy(catalog: Catalog) -> None:
    update = PreferenceUpdate(
        intent="recommend",
        titles_like=[TitleRef(text="jurasic park"), TitleRef(text="Se7en"), TitleRef(text="Matrix, The (1999)")],
        titles_exclude=[TitleRef(text="A Film That Does Not Exist 3")],
    )
    resolved = resolve_titles(update, catalog)
    assert [(r.text, catalog.get(r.item_id).year) for r in resolved.titles_like] == [
        ("Jurassic Park", 1993), ("Seven (a.k.a. Se7en)", 1995), ("The Matrix", 1999)]
    assert resolved.titles_exclude[0].item_id is None
    assert any("A Film That Does Not Exist 3" in note for note in resolved.notes)
    assert update.titles_like[0].item_id is None  # the input is left as it was


def test_a_year_in_brackets_after_a_title_is_the_titles_year_not_a_period(parser: RuleParser) -> None:
    update = parser.parse("Rushmore (1998) is one of my favorites")
    assert [t.text for t in update.titles_like] == ["Rushmore"]
    assert update.year_min is None and update.year_max is None
    assert parser.parse("movies from 1998").year_min == 1998


def test_chat_abbreviations_are_not_what_the_person_wants(parser: RuleParser) -> None:
    assert parser.parse("HELLO SUGGEST ME UR FAVOURITE MOVIES").query == ""
    assert parser.parse("can u recommend a movie pls lol").query == ""


def test_titles_asked_to_be_like_stay_anchors_when_the_person_says_what_they_saw(parser: RuleParser,
                                                                                  catalog: Catalog) -> None:
    from chat.schemas import PreferenceState
    from chat.state import merge

    update = parser.parse("Any movies similar to Heat (1995)? We have already watched The Godfather (1972).")
    state = merge(PreferenceState(), update, catalog)
    heat, godfather = catalog.find_title("Heat (1995)"), catalog.find_title("The Godfather (1972)")
    assert heat.id in state.anchor_ids
    assert {heat.id, godfather.id} <= set(state.seen_ids)


def test_a_bracketed_year_after_an_unknown_title_asks_for_no_period(parser: RuleParser) -> None:
    update = parser.parse("I have The Family Stone Reunion (2013), it wasn't amazing")
    assert update.year_min is None and update.year_max is None
    assert parser.parse("something from (the) 2013 season").year_min == 2013


def test_markup_letters_are_not_a_description(parser: RuleParser) -> None:
    update = parser.parse("any good westerns? <b>not bold</b>")
    assert update.genres_include == ["Western"] and update.query == ""
