"""The ReDial benchmark on a tiny KB and turns file the test writes: title mentions, folds that
never learn from the scored dialogue, the recall arithmetic, and a full replay."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals.redial import (
    FoldPrior, LineResult, MentionIndex, RedialLine, Tally, assign_folds, dialogue_items, extra_dialogues, fold_deps,
    read_turns, run_redial_eval, sibling_dialogue_files,
)
from marquee.errors import BadInput
from retrieval.catalog import Catalog

KB = {
    "1": {"name": "Night Terror (1999)", "genre": ["horror"], "plot": "A family is haunted by a ghost.",
          "director": ["Ana Cruz"], "writer": [], "star": ["Tom Reed"], "imdb_id": "tt0000001"},
    "2": {"name": "The Haunting Hour (2001)", "genre": ["horror", "thriller"], "plot": "Ghosts haunt an old house.",
          "director": ["Ana Cruz"], "writer": [], "star": ["Mia Long"], "imdb_id": "tt0000002"},
    "3": {"name": "Laugh Riot (2005)", "genre": ["comedy"], "plot": "Two friends start a comedy club.",
          "director": ["Bob Hale"], "writer": [], "star": ["Sam Fox"], "imdb_id": "tt0000003"},
    "4": {"name": "Space Cadets (2010)", "genre": ["comedy", "sci-fi"], "plot": "Clumsy astronauts save the day.",
          "director": ["Bob Hale"], "writer": [], "star": ["Sam Fox"], "imdb_id": "tt0000004"},
    "5": {"name": "Deep Fear (2015)", "genre": ["horror"], "plot": "Divers meet a monster in the deep sea.",
          "director": ["Lee Park"], "writer": [], "star": ["Tom Reed"], "imdb_id": "tt0000005"},
    "6": {"name": "It (2017)", "genre": ["horror"], "plot": "Children face a shape-shifting clown.",
          "director": ["Andy M"], "writer": [], "star": ["Bill S"], "imdb_id": "tt0000006"},
}

LINES = [
    {"dialog_id": "d1", "turn_id": 2, "context": ["", "Hi! What do you like?", "I want a scary horror movie like Night Terror (1999)"],
     "rec": ["Deep Fear (2015)"], "resp": "Try Deep Fear (2015)"},
    {"dialog_id": "d1", "turn_id": 4, "context": ["", "Hi! What do you like?", "I want a scary horror movie like Night Terror (1999)",
                                                  "Try Deep Fear (2015)", "Seen it, another horror please"],
     "rec": ["It (2017)", "Not In The KB (1950)"], "resp": "It (2017) is great"},
    {"dialog_id": "d2", "turn_id": 2, "context": ["Hello", "Hey, what are you in the mood for?", "a funny comedy like Laugh Riot (2005)"],
     "rec": ["Space Cadets (2010)"], "resp": "Space Cadets (2010)!"},
    {"dialog_id": "d3", "turn_id": 2, "context": ["", "Hi", "I loved It (2017) and Deep Fear (2015)"],
     "rec": ["The Haunting Hour (2001)"], "resp": "The Haunting Hour (2001)"},
]


@pytest.fixture
def files(tmp_path) -> tuple[Path, Path]:
    kb = tmp_path / "id2info.json"
    kb.write_text(json.dumps(KB), encoding="utf-8")
    turns = tmp_path / "turns.jsonl"
    turns.write_text("\n".join(json.dumps(line) for line in LINES) + "\nnot json\n", encoding="utf-8")
    return kb, turns


@pytest.fixture
def catalog() -> Catalog:
    from retrieval.loaders import redial_item

    return Catalog([redial_item(k, v) for k, v in KB.items()])


def test_mentions_are_found_as_title_and_year_in_order(catalog):
    index = MentionIndex(catalog)
    text = "I loved It (2017), and The Haunting Hour (2001) too; not Night Terror (1998) or Unknown Film (2003)"
    assert index.find(text) == ["6", "2"]
    assert index.gold("Laugh Riot (2005)") == "3"
    assert index.gold("Not In The KB (1950)") is None


def test_turns_are_read_and_unreadable_lines_counted(files):
    _, turns = files
    lines, skipped = read_turns(turns)
    assert len(lines) == 4 and skipped == 1
    assert lines[0].dialog_id == "d1"


def test_a_missing_or_empty_turns_file_is_bad_input(tmp_path):
    with pytest.raises(BadInput):
        read_turns(tmp_path / "missing.jsonl")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("{}\n", encoding="utf-8")
    with pytest.raises(BadInput):
        read_turns(empty)


def test_folds_split_by_dialogue_and_learn_nothing_from_the_scored_one(catalog):
    lines = [RedialLine.model_validate(line) for line in LINES]
    folds = assign_folds(lines, 3, seed=1)
    assert set(folds) == {"d1", "d2", "d3"} and sorted(folds.values()) == [0, 1, 2]
    index = MentionIndex(catalog)
    per_dialogue = dialogue_items(lines, index)
    assert per_dialogue["d1"] == {"1", "5", "6"}

    import dataclasses

    from tools.base import ToolDeps

    base = ToolDeps(catalog=catalog, store=None, encoder=None, keywords=None, cf=None, settings=None)
    train = {"d2", "d3"}
    deps = fold_deps(base, per_dialogue, train)
    popularity = {item.id: item.n_ratings for item in deps.catalog}
    assert popularity["1"] == 0  # Night Terror is mentioned only in d1, the scored dialogue
    assert popularity["6"] == 1 and popularity["5"] == 1  # mentioned in d3
    assert dataclasses.is_dataclass(deps) and deps.catalog is not catalog
    assert {item.id: item.n_ratings for item in catalog} == {i: 0 for i in KB}  # the base catalog is untouched


def test_the_prior_only_reference_learns_from_the_training_dialogues_only(catalog):
    lines = [RedialLine.model_validate(line) for line in LINES]
    per_dialogue = dialogue_items(lines, MentionIndex(catalog))
    prior = FoldPrior(per_dialogue, {"d2", "d3"})
    ranking = prior.ranking(["6"])
    assert "1" not in ranking  # Night Terror appears only in d1
    assert ranking[0] in {"5", "2"}  # co-mentioned with It (2017) in d3
    assert set(ranking) == {"2", "3", "4", "5", "6"}


def test_dialogue_files_beside_the_kb_are_learned_from_without_the_scored_dialogues(files, catalog):
    kb, turns = files
    other = kb.parent / "valid_data_processed.jsonl"
    other.write_text("\n".join(json.dumps(line) for line in [
        {"dialog_id": "d1", "context": ["I liked Laugh Riot (2005)"], "rec": ["It (2017)"]},  # d1 is scored: dropped
        {"dialog_id": "v9", "context": ["Night Terror (1999) was great"], "rec": ["Space Cadets (2010)"]},
    ]), encoding="utf-8")
    (kb.parent / "turns_processed.jsonl").write_text(turns.read_text(encoding="utf-8"), encoding="utf-8")
    assert sibling_dialogue_files(kb.parent / "turns_processed.jsonl", kb) == [other.resolve()]

    extra = extra_dialogues([other], MentionIndex(catalog), scored_ids={"d1", "d2", "d3"})
    assert extra == {"valid_data_processed.jsonl:v9": {"1", "4"}}
    prior = FoldPrior(extra, set(extra))
    assert prior.ranking(["1"])[0] == "4"  # learned from the extra dialogue: Night Terror goes with Space Cadets


def test_recall_counts_line_gold_pairs_and_the_exclusion_of_mentioned_items():
    tally = Tally()
    tally.add(LineResult(ranking=["a", "b", "c"], mentioned=["a"], gold=["a", "c"]))
    tally.add(LineResult(ranking=[f"i{n}" for n in range(60)], mentioned=[], gold=["i20"], unmapped=1))
    assert tally.n_pairs == 3 and tally.n_lines == 2 and tally.unmapped == 1
    assert tally.recall(1) == round(1 / 3, 4)  # "a" at rank 1
    assert tally.recall(10) == round(2 / 3, 4)  # "a" and "c"
    assert tally.recall(50) == 1.0
    assert tally.recall(1, excl=True) == 0.0  # "a" was mentioned: removed, "b" is first
    assert tally.recall(10, excl=True) == round(1 / 3, 4)  # "c"; "i20" is 21st
    assert tally.recall(50, excl=True) == round(2 / 3, 4)  # "c" and "i20", never the mentioned "a"


def test_the_benchmark_replays_the_tiny_dialogues_through_marquee(files, tmp_path):
    kb, turns = files
    result = run_redial_eval(turns, kb, folds=0, workspace_root=tmp_path / "ws")

    assert set(result) >= {
        "n_lines", "n_pairs", "recall@1", "recall@10", "recall@50",
        "recall_excl_mentioned@1", "recall_excl_mentioned@10", "recall_excl_mentioned@50", "ms_per_line",
    }
    assert result["n_lines"] == 4
    assert result["n_pairs"] == 4  # "Not In The KB" is not a pair
    assert result["unmapped_gold"] == 1
    assert 0.5 <= result["recall@50"] <= 1.0  # six movies and a 50-deep list: most gold items come back
    assert 0.0 <= result["recall@1"] <= result["recall@10"] <= result["recall@50"]

    again = run_redial_eval(turns, kb, folds=2, limit=2, workspace_root=tmp_path / "ws")
    assert again["n_lines"] == 2 and again["folds"] == 2
    assert (tmp_path / "ws").exists() and len(list((tmp_path / "ws").glob("redial-*"))) == 1  # the workspace is cached


def test_bad_options_are_refused(files, tmp_path):
    kb, turns = files
    with pytest.raises(BadInput):
        run_redial_eval(turns, kb, folds=1, workspace_root=tmp_path)
    with pytest.raises(BadInput):
        run_redial_eval(turns, tmp_path / "missing.json", folds=0, workspace_root=tmp_path)
    with pytest.raises(BadInput):
        run_redial_eval(turns, kb, limit=0, workspace_root=tmp_path)


@pytest.fixture(scope="module")
def tiny_marquee(tmp_path_factory):
    from evals.redial import kb_workspace
    from marquee.service import Marquee
    from marquee.startup import load_deps
    from marquee.settings import Settings

    root = tmp_path_factory.mktemp("redial")
    kb = root / "id2info.json"
    kb.write_text(json.dumps(KB), encoding="utf-8")
    workspace = kb_workspace(kb, root / "ws")
    settings = Settings(workspace=workspace, catalog=workspace / "catalog", database_url=f"sqlite:///{root / 'r.db'}")
    return Marquee(settings, load_deps(settings, progress=False))


@pytest.mark.parametrize("number", range(len(LINES)))
def test_each_replayed_line_ranks_its_gold_item_in_the_deep_list(tiny_marquee, number):
    """Six movies and a 50-deep list: the gold item of every line (never shown before) must come back.
    Line 4 is a seeker who only names two loved titles ("I loved It (2017) and Deep Fear (2015)")."""
    from evals.redial import replay_line

    line = RedialLine.model_validate(LINES[number])
    result = replay_line(tiny_marquee, line, MentionIndex(tiny_marquee.catalog))
    assert result.gold and set(result.gold) <= set(result.ranking), result
    assert not set(result.ranking) & set(MentionIndex(tiny_marquee.catalog).find(" ".join(line.context[1::2])))
