"""``marquee eval ...`` and ``marquee bench ...``: each command prints a readable table, or with
``--json`` exactly one JSON object on stdout (logs and progress go to stderr).

Exit codes: 0 done; 1 a scripted expectation failed (``eval scripts`` only); 2 bad input (a
missing file, a malformed script, a wrong option).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import typer

from marquee.errors import MarqueeError

eval_app = typer.Typer(help="Evaluate Marquee: scripted dialogues, parser, ReDial, simulated users, cold start.",
                       no_args_is_help=True)
bench_app = typer.Typer(help="Benchmarks: latency (and load, when the web API is installed).", no_args_is_help=True)

JsonOpt = typer.Option(False, "--json", help="Print exactly one JSON object on stdout.")
WorkspaceOpt = typer.Option(None, help="Workspace folder (default: $MARQUEE_WORKSPACE or ./workspace).")
CatalogOpt = typer.Option(None, help="Catalog folder with items.jsonl (default: the demo catalog).")


def _setup_logging() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


def _fail(message: str, code: int = 2) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


@contextlib.contextmanager
def _quiet_stdout() -> Iterator[None]:
    """Send anything a library prints to stderr, so stdout carries only the command's output."""
    with contextlib.redirect_stdout(sys.stderr):
        yield


def _run(work: Callable[[], Any]) -> Any:
    """Run the command's work with stdout kept clean; Marquee's errors become exit code 2."""
    _setup_logging()
    try:
        with _quiet_stdout():
            return work()
    except MarqueeError as exc:
        _fail(str(exc))
    except ImportError as exc:
        _fail(f"this command needs a part that is not installed: {exc}")


def _emit(result: dict[str, Any], table: str, as_json: bool) -> None:
    typer.echo(json.dumps(result, ensure_ascii=False) if as_json else table)


def _settings(workspace: Optional[Path], catalog: Optional[Path], database_dir: Optional[Path] = None):
    from marquee.settings import Settings

    overrides: dict[str, Any] = {k: v for k, v in {"workspace": workspace, "catalog": catalog}.items() if v is not None}
    if database_dir is not None:
        overrides["database_url"] = f"sqlite:///{database_dir / 'eval.db'}"
    try:
        return Settings(**overrides)
    except ValueError as exc:
        _fail(f"bad setting: {exc}")


def _open_marquee(workspace: Optional[Path], catalog: Optional[Path], database_dir: Path):
    """A Marquee on the configured catalog, with a throw-away database: evals leave no conversations behind."""
    from marquee.service import Marquee

    return Marquee.open(_settings(workspace, catalog, database_dir), progress=False)


def _existing(path: Path, what: str) -> Path:
    if not Path(path).exists():
        _fail(f"{what} not found: {path}")
    return Path(path)


# --- eval scripts ---------------------------------------------------------------------------


@eval_app.command("scripts")
def scripts_command(
    path: Path = typer.Argument(..., help="A YAML dialogue script or a folder of them (see evals/SCRIPTS.md)."),
    as_json: bool = JsonOpt,
    workspace: Optional[Path] = WorkspaceOpt,
    catalog: Optional[Path] = CatalogOpt,
) -> None:
    """Run scripted dialogues and check their expectations. Exit 1 if any expectation fails."""
    from evals.scripts import format_table, load_dialogues, run_scripts

    def work():
        dialogues = load_dialogues(path)
        with tempfile.TemporaryDirectory(prefix="marquee-scripts-") as tmp:
            return run_scripts(_open_marquee(workspace, catalog, Path(tmp)), dialogues)

    report = _run(work)
    _emit(report.as_json(), format_table(report), as_json)
    if report.failed:
        raise typer.Exit(1)


# --- eval parser ----------------------------------------------------------------------------


@eval_app.command("parser")
def parser_command(
    gold: Path = typer.Option(..., help="Gold utterances in the canonical format (like parser_dev.jsonl)."),
    backend: str = typer.Option("rules", help="rules (offline) or llm (the configured endpoint)."),
    as_json: bool = JsonOpt,
    catalog: Optional[Path] = CatalogOpt,
) -> None:
    """Parser accuracy: intent accuracy and slot precision/recall/F1 against gold slots."""
    if backend not in ("rules", "llm"):
        _fail(f"--backend must be rules or llm, not {backend!r}")
    _existing(gold, "gold file")

    def work():
        from chat.rule_parser import RuleParser
        from evals.parser_eval import format_table, run_parser_eval
        from retrieval.catalog import load_catalog

        settings = _settings(None, catalog)
        items = load_catalog(Path(settings.catalog))
        parser: Any = RuleParser(items)
        if backend == "llm":
            if not settings.llm_enabled:
                _fail("--backend llm needs MARQUEE_LLM_BASE_URL and MARQUEE_LLM_MODEL")
            from marquee.llm import build_chat_model
            from chat.llm_parser import LLMParser

            parser = LLMParser(build_chat_model(settings), items, fallback=parser, max_retries=settings.llm_max_retries)
        result = run_parser_eval(gold, parser, items)
        return result, format_table(result)

    result, table = _run(work)
    _emit(result, table, as_json)


# --- eval redial ----------------------------------------------------------------------------


@eval_app.command("redial")
def redial_command(
    turns: Path = typer.Option(..., help="iEvaLM processed turns (valid_data_processed.jsonl)."),
    kb: Path = typer.Option(..., help="The ReDial movie KB (id2info.json); read at run time, never copied into the repo."),
    limit: Optional[int] = typer.Option(None, help="Score only the first N lines."),
    folds: int = typer.Option(5, help="k-fold by dialog_id for what is learned from dialogues; 0 learns nothing."),
    seed: int = typer.Option(7, help="Seed of the fold assignment."),
    workspace: Optional[Path] = typer.Option(None, help="Where the cached KB workspace lives (default: <workspace>/evals)."),
    train: Optional[list[Path]] = typer.Option(
        None, help="Extra dialogue files to learn from, in every fold (default: the other *_processed.jsonl "
                   "beside the KB); dialogues sharing a dialog_id with TURNS are dropped."),
    as_json: bool = JsonOpt,
) -> None:
    """ReDial Recall@1/10/50 of Marquee's ranked list, beside the published results."""
    from evals.redial import format_table, run_redial_eval

    _existing(turns, "turns file")
    _existing(kb, "KB file")
    for path in train or []:
        _existing(path, "training dialogue file")
    result = _run(lambda: run_redial_eval(turns, kb, limit=limit, folds=folds, seed=seed, workspace_root=workspace,
                                          train=train))
    _emit(result, format_table(result), as_json)


# --- eval similar ---------------------------------------------------------------------------


@eval_app.command("similar")
def similar_command(
    judged: Path = typer.Option(..., help='Judged "like X" lists, in the format of like_x_dev.json.'),
    as_json: bool = JsonOpt,
    workspace: Optional[Path] = WorkspaceOpt,
    catalog: Optional[Path] = CatalogOpt,
) -> None:
    """"Something like X" for each judged anchor: precision@5/@10, the most-rated baseline, popularity of the picks."""
    from evals.similar import format_table, read_judged, run_similar_eval

    _existing(judged, "judged file")

    def work():
        lists = read_judged(judged)
        with tempfile.TemporaryDirectory(prefix="marquee-similar-") as tmp:
            return run_similar_eval(_open_marquee(workspace, catalog, Path(tmp)), lists)

    report = _run(work)
    _emit(report.as_json(), format_table(report), as_json)


# --- eval simulate --------------------------------------------------------------------------


@eval_app.command("simulate")
def simulate_command(
    targets: int = typer.Option(20, help="How many target items to sample."),
    seed: int = typer.Option(7, help="Seed of the target sample and of the user's wording."),
    max_turns: int = typer.Option(5, "--max-turns", help="Turns before the user gives up."),
    targets_file: Optional[Path] = typer.Option(None, "--targets-file", help="One item id or title per line (replaces sampling)."),
    as_json: bool = JsonOpt,
    workspace: Optional[Path] = WorkspaceOpt,
    catalog: Optional[Path] = CatalogOpt,
) -> None:
    """Target-seeking simulated users: success@T, average turns, recall@10 of the first turn."""
    from evals.simulator import format_table, read_targets_file, run_simulation, sample_targets

    if max_turns < 1 or targets < 1:
        _fail("--targets and --max-turns must be at least 1")
    if targets_file is not None:
        _existing(targets_file, "targets file")

    def work():
        with tempfile.TemporaryDirectory(prefix="marquee-simulate-") as tmp:
            marquee = _open_marquee(workspace, catalog, Path(tmp))
            skipped: list[str] = []
            if targets_file is not None:
                chosen, skipped = read_targets_file(targets_file, marquee.catalog)
            else:
                chosen = sample_targets(marquee.catalog, targets, seed)
            model = None
            if marquee.settings.llm_enabled:
                from marquee.llm import build_chat_model

                model = build_chat_model(marquee.settings)
            report = run_simulation(marquee, chosen, seed=seed, max_turns=max_turns, model=model)
            report.skipped = skipped
            return report

    report = _run(work)
    _emit(report.as_json(), format_table(report), as_json)


# --- eval cold-start / multimodal (other engineers' evaluations) ---------------------------


@eval_app.command("cold-start")
def cold_start_command(
    movielens: Path = typer.Option(..., help="A MovieLens folder with user demographics (ml-100k or ml-1m)."),
    seed: int = typer.Option(7),
    as_json: bool = JsonOpt,
) -> None:
    """Cold start from demographics: ranking quality for new users."""
    _existing(movielens, "MovieLens folder")

    def work():
        from evals.cold_start import format_table, run_cold_start_eval
        from marquee.settings import Settings

        result = run_cold_start_eval(movielens, seed=seed, settings=Settings())
        return result, format_table(result)

    result, table = _run(work)
    _emit(result, table, as_json)


@eval_app.command("multimodal")
def multimodal_command(
    posters: Path = typer.Option(..., help="Folder of poster images named <MovieID>.jpg."),
    movies: Path = typer.Option(..., help="The movies file matching the posters (e.g. ml-1m movies.dat)."),
    seed: int = typer.Option(7),
    as_json: bool = JsonOpt,
) -> None:
    """Multimodal item embeddings: what posters add to text."""
    _existing(posters, "posters folder")
    _existing(movies, "movies file")

    def work():
        from evals.multimodal import format_table, run_multimodal_eval

        result = run_multimodal_eval(posters, movies, seed=seed)
        return result, format_table(result)

    result, table = _run(work)
    _emit(result, table, as_json)


# --- bench latency ----------------------------------------------------------------------------


@bench_app.command("latency")
def latency_command(
    turns: int = typer.Option(60, help="Timed turns (after the warm-up)."),
    as_json: bool = JsonOpt,
    workspace: Optional[Path] = WorkspaceOpt,
    catalog: Optional[Path] = CatalogOpt,
) -> None:
    """Per-turn and per-stage latency (p50/p95/max) in-process, and peak memory."""
    from evals.latency import format_table, run_latency_bench

    if turns < 1:
        _fail("--turns must be at least 1")

    def work():
        with tempfile.TemporaryDirectory(prefix="marquee-bench-") as tmp:
            return run_latency_bench(_open_marquee(workspace, catalog, Path(tmp)), turns=turns)

    report = _run(work)
    _emit(report.as_json(), format_table(report), as_json)


def _register_load() -> None:
    """``marquee bench load`` lives with the web API (evals/load.py)."""
    from evals.load import bench_load

    bench_app.command("load")(bench_load)


_register_load()


def _register_scale() -> None:
    """``marquee bench scale`` (evals/scale.py)."""
    from evals.scale import bench_scale

    bench_app.command("scale")(bench_scale)


_register_scale()
