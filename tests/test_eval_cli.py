"""``marquee eval ...`` / ``marquee bench ...`` as a site runs them: one JSON object on stdout
with the documented keys, a table without ``--json``, and non-zero exits only for bad inputs
(or, for scripts, a failed expectation)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import evals.cli as eval_cli
from marquee.cli import app

runner = CliRunner()


@pytest.fixture
def demo_marquee(monkeypatch, demo_deps, demo_workspace):
    """Every command that opens Marquee gets one on the shared demo index with a fresh database."""
    from marquee.service import Marquee
    from marquee.settings import Settings

    def open_marquee(workspace, catalog, database_dir):
        settings = Settings(workspace=demo_workspace, database_url=f"sqlite:///{database_dir / 'eval.db'}")
        return Marquee(settings, demo_deps)

    monkeypatch.setattr(eval_cli, "_open_marquee", open_marquee)


def _json(result) -> dict:
    assert result.stdout.strip(), result.stderr
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, result.stdout  # exactly one JSON object, nothing else on stdout
    return json.loads(lines[0])


def _script(tmp_path: Path, expect: str) -> Path:
    path = tmp_path / "one.yaml"
    path.write_text(f"name: one\nturns:\n  - say: \"a comedy from the 90s\"\n    expect:\n{expect}", encoding="utf-8")
    return path


def test_eval_scripts_json_and_exit_codes(demo_marquee, tmp_path):
    passing = _script(tmp_path, "      recommends: 3\n      constraints: {genres_in: [Comedy]}\n")
    result = runner.invoke(app, ["eval", "scripts", str(passing), "--json"])
    assert result.exit_code == 0, result.stderr
    data = _json(result)
    assert data == {"dialogues": 1, "turns": 1, "expectations": 2, "failed": 0, "failures": []}

    failing = _script(tmp_path, "      constraints: {genres_in: [Western]}\n")
    result = runner.invoke(app, ["eval", "scripts", str(failing), "--json"])
    assert result.exit_code == 1
    data = _json(result)
    assert data["failed"] == 1
    assert set(data["failures"][0]) == {"dialogue", "turn", "expectation", "detail"}
    assert data["failures"][0]["expectation"] == "constraints"

    table = runner.invoke(app, ["eval", "scripts", str(failing)])
    assert table.exit_code == 1 and "FAIL one turn 1 [constraints]" in table.stdout


def test_eval_scripts_bad_input_exits_2(demo_marquee, tmp_path):
    assert runner.invoke(app, ["eval", "scripts", str(tmp_path / "nope.yaml")]).exit_code == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text("turns: [{say: hi, expect: {typo_key: 1}}]", encoding="utf-8")
    result = runner.invoke(app, ["eval", "scripts", str(bad), "--json"])
    assert result.exit_code == 2
    assert "typo_key" in result.stderr and result.stdout == ""


def test_eval_simulate_json_keys(demo_marquee, tmp_path):
    result = runner.invoke(app, ["eval", "simulate", "--targets", "2", "--seed", "3", "--max-turns", "2", "--json"])
    assert result.exit_code == 0, result.stderr
    data = _json(result)
    assert {"targets", "success@T", "avg_turns", "recall@10_first_turn", "questions_asked"} <= set(data)
    assert data["targets"] == 2 and data["success@2"] == data["success@T"]

    targets = tmp_path / "targets.txt"
    targets.write_text("Toy Story\n", encoding="utf-8")
    result = runner.invoke(app, ["eval", "simulate", "--targets-file", str(targets), "--max-turns", "1", "--json"])
    assert result.exit_code == 0, result.stderr
    assert _json(result)["targets"] == 1

    assert runner.invoke(app, ["eval", "simulate", "--targets-file", str(tmp_path / "none.txt")]).exit_code == 2
    assert runner.invoke(app, ["eval", "simulate", "--targets", "0"]).exit_code == 2


def test_bench_latency_json_keys(demo_marquee):
    result = runner.invoke(app, ["bench", "latency", "--turns", "4", "--json"])
    assert result.exit_code == 0, result.stderr
    data = _json(result)
    assert {"p50_ms", "p95_ms", "max_ms", "stages", "peak_rss_mb"} <= set(data)
    assert set(data["stages"]) == {"parse", "plan", "retrieve", "rank", "explain", "persist"}
    assert 0 < data["p50_ms"] <= data["p95_ms"] <= data["max_ms"]
    assert data["peak_rss_mb"] > 50
    assert runner.invoke(app, ["bench", "latency", "--turns", "0"]).exit_code == 2


def test_eval_redial_json_keys_on_a_tiny_kb(tmp_path):
    kb = tmp_path / "id2info.json"
    kb.write_text(json.dumps({
        "1": {"name": "Night Terror (1999)", "genre": ["horror"], "plot": "A ghost.", "director": ["A B"], "star": ["C D"]},
        "2": {"name": "Deep Fear (2015)", "genre": ["horror"], "plot": "A sea monster.", "director": ["E F"], "star": ["C D"]},
        "3": {"name": "Laugh Riot (2005)", "genre": ["comedy"], "plot": "A comedy club.", "director": ["G H"], "star": ["I J"]},
    }), encoding="utf-8")
    turns = tmp_path / "turns.jsonl"
    turns.write_text(json.dumps({"dialog_id": "1", "context": ["", "Hi", "a horror movie like Night Terror (1999)"],
                                 "rec": ["Deep Fear (2015)"]}) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["eval", "redial", "--turns", str(turns), "--kb", str(kb), "--folds", "0",
                                 "--workspace", str(tmp_path / "ws"), "--json"])
    assert result.exit_code == 0, result.stderr
    data = _json(result)
    keys = {"n_lines", "n_pairs", "recall@1", "recall@10", "recall@50", "recall_excl_mentioned@1",
            "recall_excl_mentioned@10", "recall_excl_mentioned@50", "ms_per_line"}
    assert keys <= set(data)
    assert data["n_lines"] == 1 and data["n_pairs"] == 1 and data["recall@10"] == 1.0

    missing = runner.invoke(app, ["eval", "redial", "--turns", str(turns), "--kb", str(tmp_path / "no.json")])
    assert missing.exit_code == 2


def test_eval_parser_json_keys(tmp_path):
    pytest.importorskip("evals.parser_eval")
    gold = tmp_path / "gold.jsonl"
    gold.write_text("\n".join(json.dumps(line) for line in [
        {"id": 1, "context": [], "utterance": "hi there", "gold": {"intent": "greet"}},
        {"id": 2, "context": [], "utterance": "a funny 90s comedy", "gold": {"intent": "recommend",
                                                                            "genres_include": ["Comedy"],
                                                                            "year_min": 1990, "year_max": 1999}},
    ]) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["eval", "parser", "--gold", str(gold), "--backend", "rules", "--json"])
    assert result.exit_code == 0, result.stderr
    data = _json(result)
    assert {"n", "intent_accuracy", "slot_precision", "slot_recall", "slot_f1", "per_slot", "errors"} <= set(data)
    assert data["n"] == 2
    assert runner.invoke(app, ["eval", "parser", "--gold", str(gold), "--backend", "magic"]).exit_code == 2
    assert runner.invoke(app, ["eval", "parser", "--gold", str(tmp_path / "none.jsonl")]).exit_code == 2


def test_eval_parser_llm_backend_without_an_endpoint_is_a_clear_error(tmp_path, monkeypatch):
    pytest.importorskip("evals.parser_eval")
    monkeypatch.delenv("MARQUEE_LLM_BASE_URL", raising=False)
    gold = tmp_path / "gold.jsonl"
    gold.write_text(json.dumps({"id": 1, "context": [], "utterance": "hi", "gold": {"intent": "greet"}}) + "\n",
                    encoding="utf-8")
    result = runner.invoke(app, ["eval", "parser", "--gold", str(gold), "--backend", "llm"])
    assert result.exit_code == 2 and "MARQUEE_LLM_BASE_URL" in result.stderr


@pytest.mark.parametrize("command, module, function", [
    (["eval", "cold-start", "--movielens", "{dir}"], "evals.cold_start", "run_cold_start_eval"),
    (["eval", "multimodal", "--posters", "{dir}", "--movies", "{file}"], "evals.multimodal", "run_multimodal_eval"),
])
def test_cold_start_and_multimodal_print_their_evaluation_as_one_json_object(tmp_path, monkeypatch, command, module, function):
    target = pytest.importorskip(module)
    (tmp_path / "movies.dat").write_text("1::Toy Story (1995)::Animation\n", encoding="utf-8")
    args = [a.format(dir=tmp_path, file=tmp_path / "movies.dat") for a in command]
    monkeypatch.setattr(target, function, lambda *a, **k: {"n_users": 3, "ndcg@10": 0.5, "called_with": str(a[0])})
    monkeypatch.setattr(target, "format_table", lambda result: "a table")
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.stderr
    assert _json(result) == {"n_users": 3, "ndcg@10": 0.5, "called_with": str(tmp_path)}
    assert runner.invoke(app, args).stdout.strip() == "a table"

    missing = [a.replace(str(tmp_path), str(tmp_path / "missing")) for a in args]
    assert runner.invoke(app, missing).exit_code == 2
