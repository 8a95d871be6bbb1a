"""The ReDial recommendation benchmark: Recall@k of Marquee's ranked list on ReDial turns.

Input: the iEvaLM processed turns (``valid_data_processed.jsonl``: ``dialog_id``, ``context``
— alternating utterances starting with the seeker, movies written "Title (Year)" — and ``rec``,
the gold titles) and the ReDial movie KB (``id2info.json``). The KB becomes a cached catalog
workspace (items + Chroma index; plots read from the given path, kept in the workspace only).

For each line, one fresh conversation replays the context through the real pipeline: seeker
utterances go to ``Marquee.respond`` (one card each, so Marquee's own picks barely touch the
state), recommender utterances' mentioned titles go to ``note_shown``; the last seeker
utterance is answered with a deep list (50 cards): that list is the ranking. Recall@k is the
share of (line, gold item) pairs whose gold item is in the top k; ``recall_excl_mentioned@k``
is the same with every item mentioned in the context removed from the ranking first.

Learning from ReDial dialogues (``folds`` > 0) is k-fold by ``dialog_id``: for the lines of
one fold, the catalog's popularity (``n_ratings``) is the number of other-fold dialogues that
mention each movie, and the collaborative model is fitted on other-fold dialogues (a dialogue
is a user, its mentioned movies its interactions). Nothing learned from a dialogue is scored on
that dialogue. Other dialogue files join every fold's training side whole: those given with
``train`` or, by default, the other ``*_processed.jsonl`` files beside the KB (iEvaLM ships
``valid_data_processed.jsonl`` there); a dialogue of theirs whose ``dialog_id`` also appears in
the scored file is dropped, so scoring the test split learns from the dev split and from the
test split's other folds. As a reference, the same lines are also ranked by those learned statistics alone
(other folds' popularity plus co-mention with the context's movies, no Marquee):
``fold_prior_only`` in the JSON.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import random
import re
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Iterable

from pydantic import BaseModel, Field, ValidationError

from marquee.errors import BadInput, MarqueeError
from retrieval.catalog import Catalog, fold

log = logging.getLogger(__name__)

KS = (1, 10, 50)
DEEP_LIST = 50
CONTEXT_TURN_ITEMS = 1
DEFAULT_FOLDS = 5
PUBLISHED = {  # Recall@1/10/50 on ReDial as published (issue 3); None = not reported
    "KBRD": (0.028, 0.169, 0.366),
    "BARCOR": (0.031, 0.170, 0.372),
    "UniCRS": (0.050, 0.215, 0.413),
    "ChatGPT zero-shot": (0.037, 0.174, None),
    "GPT-4 zero-shot (CIKM'23)": (0.043, 0.195, None),
}
_YEAR = re.compile(r"\((\d{4})\)")
MAX_TITLE_WORDS = 14


class RedialLine(BaseModel):
    """One recommendation turn of the iEvaLM processed format."""

    dialog_id: str
    turn_id: int | str | None = None
    context: list[str] = Field(min_length=1)
    rec: list[str] = Field(default_factory=list)
    resp: str = ""


def read_turns(path: Path, *, limit: int | None = None) -> tuple[list[RedialLine], int]:
    """All lines of a turns file (``limit`` caps how many are scored, not how many are read):
    the iEvaLM processed JSON lines, or an INSPIRED dialogue ``.tsv`` (converted by
    :func:`evals.inspired.read_inspired_lines`).

    Returns the lines and the number of unreadable lines skipped. Raises ``BadInput`` when the
    file is missing or holds no usable line.
    """
    path = Path(path)
    if path.suffix.lower() == ".tsv":
        from evals.inspired import read_inspired_lines

        raw_lines, skipped = read_inspired_lines(path)
    else:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise BadInput(f"cannot read turns file {path}: {exc}") from exc
        raw_lines, skipped = [], 0
        for raw in text.splitlines():
            if not raw.strip():
                continue
            try:
                raw_lines.append(json.loads(raw))
            except json.JSONDecodeError:
                skipped += 1
    lines: list[RedialLine] = []
    for data in raw_lines:
        try:
            if isinstance(data, dict):
                data["dialog_id"] = str(data.get("dialog_id", ""))
            lines.append(RedialLine.model_validate(data))
        except (ValidationError, TypeError):
            skipped += 1
    if not lines:
        raise BadInput(f"{path}: no line with dialog_id, context and rec ({skipped} unreadable)")
    if limit is not None and limit < 1:
        raise BadInput("--limit must be at least 1")
    return lines, skipped


# --- titles --------------------------------------------------------------------------------


class MentionIndex:
    """Finds "Title (Year)" mentions of catalog items in an utterance, and maps gold titles to ids."""

    def __init__(self, catalog: Catalog):
        self.catalog = catalog
        self.by_key: dict[str, str] = {}
        self.yearless: dict[str, str] = {}  # items the KB gives no year: "Title (Year)" matches the title
        for item in sorted(catalog, key=lambda i: -i.n_ratings):
            self.by_key.setdefault(fold(item.label), item.id)
            if item.year is None:
                self.yearless.setdefault(fold(item.title), item.id)

    def find(self, text: str) -> list[str]:
        """Ids of the movies written "Title (Year)" in ``text``, in order, each once."""
        found: list[str] = []
        for match in _YEAR.finditer(text):
            words = text[: match.start()].split()
            for n in range(min(MAX_TITLE_WORDS, len(words)), 0, -1):
                title = fold(" ".join(words[-n:]))
                key = fold(" ".join(words[-n:]) + f" ({match.group(1)})")
                if key in self.by_key or title in self.yearless:
                    found.append(self.by_key.get(key) or self.yearless[title])
                    break
        return list(dict.fromkeys(found))

    def gold(self, title: str) -> str | None:
        """The catalog id of a gold title ("Title (Year)", or a title the catalog knows)."""
        item_id = self.by_key.get(fold(title)) or self.yearless.get(fold(_YEAR.sub("", title)).strip())
        if item_id is None:
            item = self.catalog.find_title(title)
            item_id = item.id if item else None
        return item_id


# --- workspace ------------------------------------------------------------------------------


def kb_workspace(kb: Path, root: Path, *, progress: bool = False) -> Path:
    """The catalog workspace built from the KB, cached under ``root`` by the KB file's hash."""
    from marquee.ingest import ingest_catalog

    kb = Path(kb)
    if not kb.is_file():
        raise BadInput(f"KB file not found: {kb}")
    digest = hashlib.sha256(kb.read_bytes()).hexdigest()[:16]
    workspace = Path(root) / f"redial-{digest}"
    done = workspace / "ingested.ok"
    if not done.exists():
        log.info("building the ReDial catalog workspace in %s (once)", workspace)
        ingest_catalog(kb, workspace=workspace, progress=progress)
        done.write_text(digest, encoding="utf-8")
    return workspace


# --- learning from other folds ---------------------------------------------------------------


def assign_folds(lines: Iterable[RedialLine], k: int, seed: int) -> dict[str, int]:
    """dialog_id -> fold, dialogues shuffled with ``seed`` and dealt round-robin."""
    dialogs = sorted({line.dialog_id for line in lines})
    random.Random(seed).shuffle(dialogs)
    return {d: i % k for i, d in enumerate(dialogs)}


def dialogue_items(lines: Iterable[RedialLine], mentions: MentionIndex) -> dict[str, set[str]]:
    """dialog_id -> every movie its lines mention (context, gold and response)."""
    items: dict[str, set[str]] = defaultdict(set)
    for line in lines:
        for text in [*line.context, line.resp]:
            items[line.dialog_id].update(mentions.find(text))
        items[line.dialog_id].update(i for i in map(mentions.gold, line.rec) if i)
    return items


def fold_deps(deps: Any, per_dialogue: dict[str, set[str]], train: set[str]) -> Any:
    """``deps`` with popularity, a collaborative model and the similarity model's co-liking learned
    from the ``train`` dialogues only (a dialogue's mentioned movies count as its likes)."""
    from retrieval.cf import fit_cf
    from retrieval.search import KeywordIndex

    counts: Counter[str] = Counter()
    users, items = [], []
    for dialog_id in sorted(train):
        for item_id in sorted(per_dialogue.get(dialog_id, ())):
            counts[item_id] += 1
            users.append(dialog_id)
            items.append(item_id)
    catalog = Catalog(
        [item.model_copy(update={"n_ratings": counts.get(item.id, 0), "mean_rating": None}) for item in deps.catalog],
    )
    try:
        cf = fit_cf(users, items, [1.0] * len(users), kind="ease", positive_threshold=0.0, min_item_ratings=2)
    except BadInput:  # too few dialogues mention a movie twice: no collaborative model for this fold
        cf = None
    similarity = deps.similarity.with_likes(users, items) if deps.similarity is not None else None
    return dataclasses.replace(deps, catalog=catalog, keywords=KeywordIndex(catalog), cf=cf, similarity=similarity,
                               extras={})


def sibling_dialogue_files(turns: Path, kb: Path) -> list[Path]:
    """The default extra training dialogues: ``*_processed.jsonl`` beside the KB, except ``turns``."""
    scored = Path(turns).resolve()
    return [p for p in sorted(Path(kb).resolve().parent.glob("*_processed.jsonl")) if p.resolve() != scored]


def extra_dialogues(files: Iterable[Path], mentions: MentionIndex, scored_ids: set[str]) -> dict[str, set[str]]:
    """dialog_id -> mentioned movies of the dialogues in ``files`` that are not in the scored file.

    Their ids get the file's name as a prefix, so two files' numbering cannot collide.
    """
    extra: dict[str, set[str]] = {}
    for path in files:
        lines, _ = read_turns(path)
        kept = [line for line in lines if line.dialog_id not in scored_ids]
        for dialog_id, items in dialogue_items(kept, mentions).items():
            extra[f"{path.name}:{dialog_id}"] = items
        log.info("learning also from %s: %d of %d lines (the rest share a dialog_id with the scored file)",
                 path.name, len(kept), len(lines))
    return extra


class FoldPrior:
    """What the other folds' dialogues alone predict, without Marquee: popularity plus co-mention.

    A reference row beside Marquee's figures: it shows how much of a score comes from what is
    learned from ReDial dialogues rather than from understanding the conversation.
    """

    def __init__(self, per_dialogue: dict[str, set[str]], train: set[str]):
        self.counts: Counter[str] = Counter()
        self.co: dict[str, Counter[str]] = defaultdict(Counter)
        for dialog_id in sorted(train):  # sorted: ties rank the same way in every process
            items = sorted(per_dialogue.get(dialog_id, set()))
            self.counts.update(items)
            for a in items:
                self.co[a].update(b for b in items if b != a)
        self.top = max(self.counts.values(), default=1)

    def ranking(self, mentioned: list[str], k: int = DEEP_LIST) -> list[str]:
        """Items by popularity share plus co-mention with the items mentioned so far."""
        scores: Counter[str] = Counter({i: c / self.top for i, c in self.counts.items()})
        for item in mentioned:
            total = sum(self.co[item].values()) or 1
            for other, together in self.co[item].items():
                scores[other] += together / total ** 0.5
        return [i for i, _ in scores.most_common(k)]


# --- replay ----------------------------------------------------------------------------------


class LineResult(BaseModel):
    ranking: list[str]
    mentioned: list[str]
    gold: list[str]
    unmapped: int = 0
    asked: bool = False


def replay_line(marquee: Any, line: RedialLine, mentions: MentionIndex) -> LineResult:
    """Replay one line's context in a fresh conversation and take the deep list after its last seeker turn."""
    conversation = marquee.new_conversation()
    mentioned: list[str] = []
    *earlier, last = line.context
    for position, text in enumerate(earlier):
        ids = mentions.find(text)
        mentioned += ids
        if position % 2 == 1:  # the recommender: what it named counts as shown
            if ids:
                marquee.note_shown(conversation, ids)
        elif text.strip():
            _respond(marquee, conversation, text, CONTEXT_TURN_ITEMS)
    mentioned += mentions.find(last)
    result = _respond(marquee, conversation, last, DEEP_LIST, must_list=True) if last.strip() else None
    gold = [mentions.gold(t) for t in line.rec]
    return LineResult(
        ranking=[c.id for c in result.reply.items] if result else [],
        mentioned=list(dict.fromkeys(mentioned)),
        gold=[g for g in gold if g],
        unmapped=sum(g is None for g in gold),
        asked=bool(result and not result.reply.items),
    )


def _respond(marquee: Any, conversation: str, text: str, n_items: int, *, must_list: bool = False):
    try:
        return marquee.respond(conversation, text, n_items=n_items, must_list=must_list)
    except MarqueeError as exc:  # an utterance the pipeline refuses (e.g. only symbols): skip it
        log.debug("skipped an utterance: %s", exc)
        return None


# --- the benchmark ---------------------------------------------------------------------------


class Tally(BaseModel):
    n_lines: int = 0
    n_pairs: int = 0
    hits: dict[int, int] = Field(default_factory=lambda: {k: 0 for k in KS})
    hits_excl: dict[int, int] = Field(default_factory=lambda: {k: 0 for k in KS})
    n_new_pairs: int = 0  # gold items not mentioned earlier in the dialogue ("no repeated items")
    hits_new: dict[int, int] = Field(default_factory=lambda: {k: 0 for k in KS})
    unmapped: int = 0
    asked: int = 0

    def add(self, result: LineResult) -> None:
        self.n_lines += 1
        self.unmapped += result.unmapped
        self.asked += result.asked
        excluded = set(result.mentioned)
        kept = [i for i in result.ranking if i not in excluded]
        for gold in result.gold:
            self.n_pairs += 1
            for k in KS:
                self.hits[k] += gold in result.ranking[:k]
                self.hits_excl[k] += gold in kept[:k]
            if gold not in excluded:
                self.n_new_pairs += 1
                for k in KS:
                    self.hits_new[k] += gold in kept[:k]

    def recall(self, k: int, *, excl: bool = False) -> float:
        return round((self.hits_excl if excl else self.hits)[k] / self.n_pairs, 4) if self.n_pairs else 0.0

    def recall_new(self, k: int) -> float:
        return round(self.hits_new[k] / self.n_new_pairs, 4) if self.n_new_pairs else 0.0


def run_redial_eval(turns: Path, kb: Path, *, limit: int | None = None, folds: int = DEFAULT_FOLDS, seed: int = 7,
                    workspace_root: Path | None = None, train: list[Path] | None = None,
                    progress: bool = False) -> dict[str, Any]:
    """Replay ReDial lines through Marquee and score its deep lists. Returns the documented JSON.

    ``train``: extra dialogue files to learn from (default: :func:`sibling_dialogue_files`).
    """
    from marquee.service import Marquee
    from marquee.startup import load_deps
    from marquee.settings import Settings

    if folds == 1 or folds < 0:
        raise BadInput("--folds must be 0 (learn nothing from dialogues) or at least 2")
    lines, skipped = read_turns(turns, limit=limit)
    scored = lines[:limit] if limit else lines
    root = Path(workspace_root) if workspace_root else Settings().workspace / "evals"
    workspace = kb_workspace(kb, root, progress=progress)
    run_dir = workspace / "runs" / f"{time.strftime('%Y%m%d-%H%M%S')}-{random.randrange(1 << 30)}"
    run_dir.mkdir(parents=True, exist_ok=True)
    settings = Settings(workspace=workspace, catalog=workspace / "catalog",
                        database_url=f"sqlite:///{run_dir / 'replay.db'}")
    base = load_deps(settings, progress=progress)
    mentions = MentionIndex(base.catalog)
    tally, prior_tally, most_mentioned_tally = Tally(), Tally(), Tally()
    started = time.perf_counter()
    if folds:
        fold_of = assign_folds(lines, folds, seed)
        extra_files = sibling_dialogue_files(turns, kb) if train is None else list(train)
        extra = extra_dialogues(extra_files, mentions, set(fold_of))
        per_dialogue = dialogue_items(lines, mentions) | extra
        for f in range(folds):
            todo = [line for line in scored if fold_of[line.dialog_id] == f]
            if not todo:
                continue
            learn_from = {d for d, g in fold_of.items() if g != f} | set(extra)
            deps = fold_deps(base, per_dialogue, learn_from)
            prior = FoldPrior(per_dialogue, learn_from)
            marquee = Marquee(settings, deps)
            for line in todo:
                result = replay_line(marquee, line, mentions)
                tally.add(result)
                prior_tally.add(result.model_copy(update={"ranking": prior.ranking(result.mentioned)}))
                most_mentioned_tally.add(result.model_copy(update={"ranking": prior.ranking([])}))
            log.info("fold %d/%d: %d lines scored", f + 1, folds, tally.n_lines)
    else:
        marquee = Marquee(settings, base)
        most_rated = [i.id for i in sorted(base.catalog, key=lambda i: -i.n_ratings)[:DEEP_LIST]]
        for line in scored:
            result = replay_line(marquee, line, mentions)
            tally.add(result)
            most_mentioned_tally.add(result.model_copy(update={"ranking": most_rated}))
    elapsed = time.perf_counter() - started
    result: dict[str, Any] = {"n_lines": tally.n_lines, "n_pairs": tally.n_pairs}
    result.update({f"recall@{k}": tally.recall(k) for k in KS})
    result.update({f"recall_excl_mentioned@{k}": tally.recall(k, excl=True) for k in KS})
    result.update({f"recall_new_gold@{k}": tally.recall_new(k) for k in KS})
    result["n_new_gold_pairs"] = tally.n_new_pairs
    result["baseline_most_mentioned"] = {f"recall@{k}": most_mentioned_tally.recall(k) for k in KS}
    result["ms_per_line"] = round(1000 * elapsed / max(1, tally.n_lines), 1)
    result.update({"folds": folds, "unmapped_gold": tally.unmapped, "asked_instead": tally.asked,
                   "skipped_lines": skipped})
    if folds:
        result["extra_training_dialogues"] = len(extra)
    if folds:
        result["fold_prior_only"] = {f"recall@{k}": prior_tally.recall(k) for k in KS}
    return result


def format_table(result: dict[str, Any]) -> str:
    rows = [("Marquee (this run)", tuple(result[f"recall@{k}"] for k in KS)),
            ("Marquee, mentioned items excluded", tuple(result[f"recall_excl_mentioned@{k}"] for k in KS)),
            ("Marquee, gold not mentioned before (no repeats)", tuple(result[f"recall_new_gold@{k}"] for k in KS))]
    if "baseline_most_mentioned" in result:
        rows.append(("most-mentioned items (learned), baseline", tuple(result["baseline_most_mentioned"][f"recall@{k}"] for k in KS)))
    if "fold_prior_only" in result:
        rows.append(("other folds' popularity + co-mention only", tuple(result["fold_prior_only"][f"recall@{k}"] for k in KS)))
    rows += [(f"{name} (published)", values) for name, values in PUBLISHED.items()]
    lines = [f"{'system':44} {'R@1':>6} {'R@10':>6} {'R@50':>6}"]
    for name, values in rows:
        cells = " ".join(f"{v:6.3f}" if v is not None else f"{'-':>6}" for v in values)
        lines.append(f"{name:44} {cells}")
    lines.append(
        f"{result['n_lines']} lines, {result['n_pairs']} (line, gold) pairs, {result['ms_per_line']:.0f} ms/line, "
        f"{result.get('folds', 0)}-fold learning by dialog_id"
        f"{'' if result.get('folds') else ' (none)'}; {result.get('unmapped_gold', 0)} gold titles not in the KB, "
        f"{result.get('asked_instead', 0)} lines answered with a question"
    )
    return "\n".join(lines)
