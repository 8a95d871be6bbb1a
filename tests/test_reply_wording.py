"""What a person reads: reply texts written from the request, for each kind of request."""

from __future__ import annotations

import pytest

from chat.schemas import Critique, PreferenceState, PreferenceUpdate
from prompts.english import article, count_word, join_words
from prompts.headings import ListRequest, list_heading, nothing_found
from retrieval.catalog import Catalog, Item

NOLAN = "Christopher Nolan"


def test_a_director_request_reads_as_their_films_and_no_card_credits_them_wrongly(marquee):
    films = marquee.respond(None, "movies directed by Christopher Nolan")
    assert films.reply.text == "Here are five Christopher Nolan films."

    calmer = marquee.respond(films.conversation_id, "less violent")
    assert calmer.reply.items
    assert "less violent Christopher Nolan film" in calmer.reply.text
    assert not calmer.reply.text.endswith(":")
    for card in [*films.reply.items, *calmer.reply.items]:
        directors = card.people.get("directors", [])
        assert "with Christopher Nolan" not in card.why, card
        if NOLAN not in directors:  # Man of Steel: Zack Snyder directed it, Nolan co-wrote it
            assert f"directed by {NOLAN}" not in card.why, card
            assert f"written by {NOLAN}" in card.why, card


def test_a_genre_and_decade_request_reads_as_that_decade_and_genre(marquee):
    result = marquee.respond(None, "a 90s comedy")
    assert result.reply.text == "Here are five 90s comedies."
    assert all(1990 <= card.year <= 1999 for card in result.reply.items)


def test_a_like_x_request_names_the_film(marquee):
    result = marquee.respond(None, "something like Inception")
    assert result.reply.text == "Here are five films like Inception."


def test_a_mood_request_reads_as_that_mood(marquee):
    result = marquee.respond(None, "a feel-good 90s comedy, nothing with Adam Sandler")
    assert result.reply.text == "Here are five 90s feel-good comedies without Adam Sandler."


def test_when_nothing_matches_an_earlier_filter_is_left_out_and_the_reply_says_so(marquee):
    first = marquee.respond(None, "movies directed by Christopher Nolan")
    relaxed = marquee.respond(first.conversation_id, "a comedy")
    assert len(relaxed.reply.items) == 5 and all("Comedy" in card.genres for card in relaxed.reply.items)
    assert relaxed.reply.text == "Here are five comedies."
    assert relaxed.reply.notes[0] == (
        "Nothing matches comedy + Christopher Nolan, so these leave out Christopher Nolan. "
        "Say “start over” or press Reset to drop earlier filters."
    )
    same_turn = marquee.respond(None, "a comedy directed by Christopher Nolan").reply
    assert same_turn.items and same_turn.notes[0].startswith("Nothing matches comedy + Christopher Nolan, so these leave out")
    assert "start over" not in same_turn.notes[0]

    cleared = marquee.respond(first.conversation_id, "start over")
    assert cleared.reply.cleared and "cleared the list" in cleared.reply.text
    comedies = marquee.respond(first.conversation_id, "a comedy")
    assert comedies.reply.text == "Here are five comedies."


def test_seen_all_gets_a_got_it_and_never_the_same_words_twice(marquee):
    first = marquee.respond(None, "a heist thriller")
    assert first.reply.text == "Here are five heist thrillers."
    seen = marquee.respond(first.conversation_id, "I've seen all of those")
    assert seen.reply.text == "Got it — here are five you haven't seen."
    again = marquee.respond(first.conversation_id, "seen all of those too")
    assert again.reply.items
    assert again.reply.text.startswith("Got it — ") and "you haven't seen" in again.reply.text
    assert again.reply.text != seen.reply.text


def test_more_of_the_same_says_more_and_then_another(marquee):
    first = marquee.respond(None, "a crime drama")
    more = marquee.respond(first.conversation_id, "more please")
    assert more.reply.text == "Here are five more crime dramas."
    again = marquee.respond(first.conversation_id, "more please")
    assert again.reply.text == "Here are another five crime dramas."


def test_start_over_and_the_reset_button_do_the_same(marquee):
    typed = marquee.respond(None, "a horror movie from the 70s")
    pressed = marquee.respond(None, "a horror movie from the 70s")

    said = marquee.respond(typed.conversation_id, "start over")
    button = marquee.reset(pressed.conversation_id)

    assert said.reply.items == [] and button.reply.items == []
    assert said.reply.cleared and button.reply.cleared
    assert said.reply.text == button.reply.text
    assert "cleared the list" in button.reply.text
    for conversation in (typed.conversation_id, pressed.conversation_id):
        state = marquee.state(conversation)
        assert not state.has_request() and state.shown_ids == [] and state.last_shown_ids == []
        assert marquee.turns(conversation)[-1].reply_model().cleared  # the transcript records it


# --- the words themselves, without a conversation -----------------------------------------------


def tiny_catalog() -> Catalog:
    return Catalog([
        Item(id="1", title="Heat", year=1995, genres=["Action", "Crime", "Thriller"],
             people={"directors": ["Michael Mann"], "stars": ["Al Pacino"]}),
        Item(id="2", title="Ronin", year=1998, genres=["Action", "Crime"], people={"directors": ["John Frankenheimer"]}),
        Item(id="3", title="Collateral", year=2004, genres=["Crime", "Drama"],
             people={"directors": ["Michael Mann"], "stars": ["Tom Cruise"]}),
    ])


def heading(n: int = 5, *, wanted: int = 5, previous: str | None = None, update: PreferenceUpdate | None = None,
            **state) -> str:
    request = ListRequest(state=PreferenceState(**state), update=update or PreferenceUpdate(intent="recommend"),
                          catalog=tiny_catalog())
    return list_heading(request, n, wanted=wanted, previous=previous)


def test_counts_are_words_and_nouns_agree_with_them():
    assert heading(genres_include=["Comedy"]) == "Here are five comedies."
    assert heading(1, wanted=1, genres_include=["Comedy"]) == "Here is one comedy."
    assert heading(3, genres_include=["Crime", "Drama"]) == "I found only three crime dramas."
    assert heading(2, wanted=2, people_include=["Michael Mann"]) == "Here are two Michael Mann films."
    assert heading(people_include=["Al Pacino"]) == "Here are five films with Al Pacino."
    assert heading(genres_include=["Romance", "Comedy"]) == "Here are five romantic comedies."
    assert heading(genres_include=["Animation"], audience="kids") == "Here are five family animated films."
    assert heading(year_min=2000, year_max=2009, genres_include=["Thriller"]) == "Here are five 2000s thrillers."
    assert heading(year_min=1996) == "Here are five films from 1996 on."
    assert heading(anchor_ids=["1", "2"]) == "Here are five films like Heat and Ronin."
    assert heading() == "Here are five films you might like."
    assert count_word(12) == "twelve" and count_word(40) == "40"


def test_a_heading_never_repeats_the_previous_reply():
    first = heading(genres_include=["Western"])
    assert heading(genres_include=["Western"], previous=first) == "Here are five more westerns."


def test_critiques_read_as_comparisons():
    update = PreferenceUpdate(intent="refine", critiques=[Critique(attribute="violence", direction="less")])
    assert heading(update=update, people_include=["Michael Mann"]) == "Here are five less violent Michael Mann films."


def test_nothing_found_names_each_constraint_in_force():
    update = PreferenceUpdate(intent="refine", genres_include=["Comedy"])
    earlier = ListRequest(state=PreferenceState(genres_include=["Comedy"], people_include=["Michael Mann"]),
                          update=update, catalog=tiny_catalog())
    assert nothing_found(earlier) == (
        "Nothing matches comedy + Michael Mann: say “start over” or press Reset to drop earlier filters."
    )
    fresh = ListRequest(state=PreferenceState(genres_include=["Comedy"], year_min=1990, year_max=1999),
                        update=PreferenceUpdate(intent="recommend", genres_include=["Comedy"], year_min=1990,
                                                year_max=1999), catalog=tiny_catalog())
    assert nothing_found(fresh) == "Nothing in the catalog matches comedy + 90s. Try leaving one of those out."


@pytest.mark.parametrize(("phrase", "expected"), [
    ("action and adventure title", "an"), ("comedy", "a"), ("80s comedy", "an"), ("90s comedy", "a"),
    ("11-minute short", "an"), ("IMAX film", "an"), ("hour-long drama", "an"), ("unusual film", "an"),
    ("one-off", "a"), ("uplifting drama", "an"),
])
def test_articles_follow_the_sound(phrase, expected):
    assert article(phrase) == expected


def test_lists_join_with_and_or_or():
    assert join_words(["Heat"]) == "Heat"
    assert join_words(["Heat", "Ronin"]) == "Heat and Ronin"
    assert join_words(["a", "b", "c"], "or") == "a, b or c"


def test_a_card_reads_an_action_title_not_a_action_title():
    from tools.base import ScoredItem, ToolDeps
    from tools.explain import explain_item

    catalog = Catalog([Item(id="9", title="Speed", year=1994, genres=["Action", "Adventure"])])
    deps = ToolDeps(catalog=catalog, store=None, encoder=None, keywords=None, cf=None, settings=None)
    why = explain_item(ScoredItem(id="9"), PreferenceState(), deps).why
    assert why.startswith("It's an action and adventure title from 1994")


def test_notes_are_sentences_for_a_person(marquee):
    from prompts.replies import unknown_people

    assert unknown_people(1, ["Tom Cruise"]) == (
        "One of these has no cast list in the catalog, so I couldn't check it for Tom Cruise."
    )
    assert unknown_people(3, ["Tom Cruise", "Adam Sandler"]).startswith("Three of these have no cast list")
    pointed = marquee.respond(None, "more like the second one")
    assert "You pointed at a title on the list, but nothing was shown yet." in pointed.reply.notes
