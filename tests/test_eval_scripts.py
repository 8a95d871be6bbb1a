"""Scripted dialogue evaluations: the shipped examples pass on the demo catalog, and a script
that expects the wrong thing fails with a readable reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from evals.scripts import load_dialogue, load_dialogues, run_scripts, script_files
from marquee.errors import BadInput

EXAMPLES = Path(__file__).resolve().parent.parent / "evals" / "scripts"


def _write(tmp_path: Path, text: str, name: str = "d.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_every_shipped_example_passes_on_the_demo_catalog(marquee):
    dialogues = load_dialogues(EXAMPLES)
    assert len(dialogues) >= 10

    report = run_scripts(marquee, dialogues)

    details = "\n".join(f"{f.dialogue} turn {f.turn} [{f.expectation}]: {f.detail}" for f in report.failures)
    assert report.failed == 0, details
    assert report.dialogues == len(dialogues)
    assert report.expectations >= 50


def test_the_examples_cover_the_core_phenomena():
    said = " ".join(t.say or "" for d in load_dialogues(EXAMPLES) for t in d.turns).lower()
    actions = [t for d in load_dialogues(EXAMPLES) for t in d.turns]
    for phrase in ("hi", "nothing with", "the second one, but newer", "seen all of those", "toy story but for adults",
                   "jurasic", "6 year old", "minutes", "less violent"):
        assert phrase in said or any(phrase in (t.say or "").lower() for t in actions), phrase
    assert any(t.reset for t in actions)
    assert any(t.feedback for t in actions)


def test_a_wrong_expectation_fails_and_names_the_offending_items(marquee, tmp_path):
    path = _write(tmp_path, """
name: wrong on purpose
turns:
  - say: "a comedy from the 90s"
    expect:
      recommends: 3
      constraints:
        genres_in: [Horror]
      in_top:
        - title: The Godfather
""")
    report = run_scripts(marquee, [load_dialogue(path)])

    assert report.expectations == 3
    assert report.failed == 2
    by_name = {f.expectation: f for f in report.failures}
    assert set(by_name) == {"constraints", "in_top"}
    assert "lacks genre Horror" in by_name["constraints"].detail
    assert "Godfather" in by_name["in_top"].detail
    assert by_name["in_top"].turn == 1 and by_name["in_top"].dialogue == "wrong on purpose"


def test_a_greeting_is_not_a_list_and_expecting_one_fails(marquee, tmp_path):
    path = _write(tmp_path, """
name: greeting
turns:
  - say: "hello"
    expect: {recommends: 1}
  - say: "hello again"
    expect: {asks_question: false}
""")
    report = run_scripts(marquee, [load_dialogue(path)])

    assert [f.expectation for f in report.failures] == ["recommends", "asks_question"]


def test_feedback_reset_and_shown_items_drive_the_conversation(marquee, tmp_path):
    path = _write(tmp_path, """
name: actions
every_turn: {no_repeats: true}
turns:
  - show: ["The Matrix", "Heat"]
  - say: "more like the first one"
    expect:
      recommends: 3
      text_contains: [Matrix]
      not_in_top: [{title: Heat}, {title: The Matrix}]
  - feedback: {item: 1, kind: seen}
  - reset: true
  - say: "a western"
    expect:
      constraints: {genres_in: [Western]}
""")
    report = run_scripts(marquee, [load_dialogue(path)])

    assert report.turns == 5
    assert report.failed == 0, report.failures


def test_a_turn_that_cannot_run_is_a_failure_not_a_crash(marquee, tmp_path):
    path = _write(tmp_path, """
name: broken feedback
turns:
  - say: "hi"
  - feedback: {item: 4, kind: liked}
""")
    report = run_scripts(marquee, [load_dialogue(path)])

    assert report.failed == 1
    assert "the last turn showed 0" in report.failures[0].detail


@pytest.mark.parametrize("text, problem", [
    ("turns: [{say: hi, expect: {recomends: 3}}]", "recomends"),
    ("turns: [{say: hi, reset: true}]", "exactly one of"),
    ("turns: [{feedback: {item: 1, kind: liked}, expect: {recommends: 1}}]", "belong to a `say` turn"),
    ("turns: []", "turns"),
    ("name: [unclosed", "not valid YAML"),
    ("- just a list", "a mapping"),
    ("turns: [{say: hi, expect: {similar_to: {title: A, shown: 1}}}]", "exactly one of"),
])
def test_a_malformed_script_is_refused_with_the_file_and_the_reason(tmp_path, text, problem):
    path = _write(tmp_path, text)
    with pytest.raises(BadInput) as caught:
        load_dialogue(path)
    assert problem in str(caught.value)
    assert "d.yaml" in str(caught.value)


def test_a_folder_without_scripts_or_a_missing_path_is_bad_input(tmp_path):
    with pytest.raises(BadInput):
        script_files(tmp_path)
    with pytest.raises(BadInput):
        script_files(tmp_path / "missing.yaml")
