"""Parser accuracy on a gold file of utterances with canonical slots (``marquee eval parser``).

The gold format is the one of ``parser_dev.jsonl``: one JSON object a line, ``{"id",
"context": [{"role", "text", "shown": ["Title (Year)", ...]}], "utterance", "gold": {slot:
value}}``; an absent slot is empty. Blank lines and lines starting with ``#`` are skipped.

Any ``PreferenceParser`` can be scored (the rule parser, the LLM parser). Its
``PreferenceUpdate`` is mapped onto the canonical slots and scored so:

- ``intent``: accuracy.
- Set slots (``genres_include``, ``genres_exclude``, ``people_include``, ``people_exclude``,
  ``titles_like``, ``titles_exclude``, and ``critiques`` as (attribute, direction) pairs): each
  element is a true positive, a false positive or a false negative. Genres and people are
  compared case- and accent-insensitively; titles ignoring case, articles, a year suffix and
  small typos, against the text of the parser's ``TitleRef`` and every name the catalog knows
  its item by ("Se7en" matches "Seven (a.k.a. Se7en)").
- Exact slots (``year_min``, ``year_max``, ``runtime_min``, ``runtime_max``, ``audience``,
  ``refers_to_shown`` as one list): a right value is a true positive; a wrong one is both a false
  positive and a false negative; a missing one a false negative; an extra one a false positive.
- ``keywords`` leniently and for recall only: a gold keyword is found when its words appear in
  the parser's positive keywords or free-text query ("not gory" / "no gory" must be among the
  negated keywords: "no", "not", "without" read alike; a trailing plural "s" is ignored).
  Keywords add true positives and false negatives to the overall recall but nothing to the
  overall precision, because the query legitimately holds more words than any gold list; their
  ``per_slot`` precision and F1 are ``null``.

Overall precision, recall and F1 are micro-averaged over all slots of all utterances.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, field_validator
from rapidfuzz import fuzz

from chat.parser import ParseContext, PreferenceParser, TitleIndex, key_words, title_key, title_variants
from chat.reconcile import NOTE_DISAGREED
from chat.schemas import PreferenceUpdate
from marquee.errors import BadInput
from retrieval.catalog import Catalog, Item, fold

logger = logging.getLogger(__name__)

SET_SLOTS = ("genres_include", "genres_exclude", "people_include", "people_exclude", "titles_like",
             "titles_exclude", "critiques")
EXACT_SLOTS = ("year_min", "year_max", "runtime_min", "runtime_max", "audience", "refers_to_shown")
SLOTS = (*SET_SLOTS, *EXACT_SLOTS, "keywords")
TITLE_TYPO_RATIO = 90.0
DISAGREED_PREFIX = NOTE_DISAGREED.split("{")[0]
NEGATORS = {"no", "not", "without", "non", "nothing", "none", "never"}


class GoldCritique(BaseModel):
    attribute: str
    direction: Literal["less", "more"]


class GoldSlots(BaseModel):
    """The canonical slots of one gold line (DESIGN.md, "Canonical parser slots")."""

    intent: Literal["greet", "recommend", "refine", "feedback", "ask_item", "reset", "other"]
    genres_include: list[str] = Field(default_factory=list)
    genres_exclude: list[str] = Field(default_factory=list)
    people_include: list[str] = Field(default_factory=list)
    people_exclude: list[str] = Field(default_factory=list)
    titles_like: list[str] = Field(default_factory=list)
    titles_exclude: list[str] = Field(default_factory=list)
    year_min: int | None = None
    year_max: int | None = None
    runtime_min: int | None = None
    runtime_max: int | None = None
    audience: Literal["kids", "adults"] | None = None
    critiques: list[GoldCritique] = Field(default_factory=list)
    refers_to_shown: list[int] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)


class GoldTurn(BaseModel):
    role: str
    text: str = ""
    shown: list[str] | None = None


class GoldLine(BaseModel):
    id: int | str
    context: list[GoldTurn] = Field(default_factory=list)
    utterance: str
    gold: GoldSlots

    @field_validator("context", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return value or []


def read_gold(path: Path) -> list[GoldLine]:
    """Read a gold file. Raises ``BadInput`` naming the line of the first unusable one."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError as exc:
        raise BadInput(f"gold file not found: {path}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"cannot read gold file {path}: {exc}") from exc
    out: list[GoldLine] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            out.append(GoldLine.model_validate(json.loads(line)))
        except json.JSONDecodeError as exc:
            raise BadInput(f"{path} line {number}: not valid JSON ({exc.msg})") from exc
        except ValidationError as exc:
            problem = exc.errors()[0]
            where = ".".join(str(p) for p in problem["loc"])
            raise BadInput(f"{path} line {number}: {where}: {problem['msg']}") from exc
    if not out:
        raise BadInput(f"{path} has no gold lines")
    return out


# --- mapping the parser's output ----------------------------------------------------------

def _shown_items(turns: list[GoldTurn], catalog: Catalog, index: TitleIndex) -> list[Item]:
    """Items of the last assistant turn with ``shown``, resolved to the catalog (placeholders if not)."""
    for turn in reversed(turns):
        if turn.shown:
            items = []
            for number, text in enumerate(turn.shown, start=1):
                item = index.resolve(text)
                if item is None:
                    logger.warning("shown title %r is not in the catalog; using a placeholder", text)
                    year = re.search(r"\((\d{4})\)\s*$", text)
                    item = Item(id=f"unresolved-{number}", title=re.sub(r"\s*\(\d{4}\)\s*$", "", text) or text,
                                year=int(year.group(1)) if year else None)
                items.append(item)
            return items
    return []


def _title_names(text: str, item_id: str | None, catalog: Catalog) -> set[tuple[str, ...]]:
    names = {key for key, _ in title_variants(text)} | {title_key(text)}
    item = catalog.get(item_id) if item_id else None
    if item is not None:
        names |= {key for key, _ in title_variants(item.title)}
    return {n for n in names if n}


def _genre(text: str) -> str:
    return fold(text.replace("-", " "))


def predicted_slots(update: PreferenceUpdate, catalog: Catalog) -> dict[str, Any]:
    """The parser's update in canonical slots; titles as sets of names they are known by."""
    return {
        "intent": update.intent,
        "genres_include": [_genre(g) for g in update.genres_include],
        "genres_exclude": [_genre(g) for g in update.genres_exclude],
        "people_include": [fold(p) for p in update.people_include],
        "people_exclude": [fold(p) for p in update.people_exclude],
        "titles_like": [(t.text, _title_names(t.text, t.item_id, catalog)) for t in update.titles_like],
        "titles_exclude": [(t.text, _title_names(t.text, t.item_id, catalog)) for t in update.titles_exclude],
        "critiques": [(c.attribute, c.direction) for c in update.critiques],
        "year_min": update.year_min, "year_max": update.year_max,
        "runtime_min": update.runtime_min, "runtime_max": update.runtime_max,
        "audience": update.audience,
        "refers_to_shown": sorted(set(update.refers_to_shown)) or None,
        "keywords": list(update.keywords), "query": update.query,
    }


def _gold_slots(gold: GoldSlots) -> dict[str, Any]:
    return {
        "genres_include": [_genre(g) for g in gold.genres_include],
        "genres_exclude": [_genre(g) for g in gold.genres_exclude],
        "people_include": [fold(p) for p in gold.people_include],
        "people_exclude": [fold(p) for p in gold.people_exclude],
        "titles_like": list(gold.titles_like), "titles_exclude": list(gold.titles_exclude),
        "critiques": [(c.attribute, c.direction) for c in gold.critiques],
        "year_min": gold.year_min, "year_max": gold.year_max,
        "runtime_min": gold.runtime_min, "runtime_max": gold.runtime_max,
        "audience": gold.audience, "refers_to_shown": sorted(set(gold.refers_to_shown)) or None,
        "keywords": list(gold.keywords),
    }


# --- matching -----------------------------------------------------------------------------

def _title_matches(gold: str, names: set[tuple[str, ...]]) -> bool:
    key = title_key(gold)
    if key in names:
        return True
    text = " ".join(key)
    return any(fuzz.ratio(text, " ".join(n)) >= TITLE_TYPO_RATIO for n in names)


def _match_sets(slot: str, gold: list, predicted: list) -> tuple[int, int, int]:
    """(tp, fp, fn) of one set slot, one-to-one."""
    remaining = list(predicted)
    tp = 0
    for g in gold:
        for k, p in enumerate(remaining):
            same = _title_matches(g, p[1]) if slot.startswith("titles") else g == p
            if same:
                tp += 1
                del remaining[k]
                break
    return tp, len(remaining), len(gold) - tp


def _keyword_words(text: str) -> list[str]:
    words = [w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w for w in key_words(text)]
    return [w for w in words if w not in ("a", "an", "the", "of", "stuff", "movie", "movies", "film", "films")]


def _keyword_found(gold: str, keywords: list[str], query: str) -> bool:
    words = _keyword_words(gold)
    negated = bool(words) and words[0] in NEGATORS
    words = [w for w in words if w not in NEGATORS]
    if not words:
        return True
    positive: set[str] = set(_keyword_words(query))
    negative: set[str] = set()
    for keyword in keywords:
        kw = _keyword_words(keyword)
        if kw and kw[0] in NEGATORS:
            negative |= {w for w in kw if w not in NEGATORS}
        else:
            positive |= set(kw)
    return set(words) <= (negative if negated else positive)


def _show(slot: str, value: Any) -> Any:
    if slot.startswith("titles"):
        return [t if isinstance(t, str) else t[0] for t in value]
    if slot == "critiques":
        return [{"attribute": a, "direction": d} for a, d in value]
    return value


def run_parser_eval(gold_path: Path, parser: PreferenceParser, catalog: Catalog) -> dict[str, Any]:
    """Parse every gold utterance with ``parser`` and score it. See the module docstring."""
    lines = read_gold(Path(gold_path))
    index = TitleIndex.for_catalog(catalog)
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # slot -> tp, fp, fn
    intents_right = 0
    errors: list[dict[str, Any]] = []
    llm = {"answers_used": 0, "fell_back": 0, "readings_set_aside": 0}  # an LLM parser's record
    started = time.perf_counter()
    for line in lines:
        context = ParseContext(
            shown=_shown_items(line.context, catalog, index),
            history=[(turn.role, turn.text) for turn in line.context],
        )
        update = parser.parse(line.utterance, context)
        _count_llm(llm, parser, update)
        predicted = predicted_slots(update, catalog)
        gold = _gold_slots(line.gold)
        wrong_gold: dict[str, Any] = {}
        wrong_predicted: dict[str, Any] = {}
        if predicted["intent"] == line.gold.intent:
            intents_right += 1
        else:
            wrong_gold["intent"], wrong_predicted["intent"] = line.gold.intent, predicted["intent"]
        for slot in SET_SLOTS:
            tp, fp, fn = _match_sets(slot, gold[slot], predicted[slot])
            _count(counts[slot], tp, fp, fn)
            if fp or fn:
                wrong_gold[slot], wrong_predicted[slot] = _show(slot, gold[slot]), _show(slot, predicted[slot])
        for slot in EXACT_SLOTS:
            g, p = gold[slot], predicted[slot]
            tp = int(g is not None and g == p)
            _count(counts[slot], tp, int(p is not None and not tp), int(g is not None and not tp))
            if g != p:
                wrong_gold[slot], wrong_predicted[slot] = g, p
        missed = [k for k in gold["keywords"] if not _keyword_found(k, predicted["keywords"], predicted["query"])]
        _count(counts["keywords"], len(gold["keywords"]) - len(missed), 0, len(missed))
        if missed:
            wrong_gold["keywords"] = gold["keywords"]
            wrong_predicted["keywords"] = {"keywords": predicted["keywords"], "query": predicted["query"]}
        if wrong_gold or wrong_predicted:
            errors.append({"id": line.id, "utterance": line.utterance, "gold": wrong_gold,
                           "predicted": wrong_predicted})
    summary = _summary(len(lines), intents_right, counts, errors)
    summary["seconds_per_utterance"] = round((time.perf_counter() - started) / max(1, len(lines)), 3)
    if hasattr(parser, "last_attempts"):
        summary["llm"] = llm
    return summary


def _count_llm(llm: dict[str, int], parser: PreferenceParser, update: PreferenceUpdate) -> None:
    """For an LLM parser: was its answer used (reconciled), did it fall back, was a reading set aside."""
    attempts = getattr(parser, "last_attempts", None)
    if attempts is None:
        return
    used = bool(attempts) and attempts[-1].error is None
    llm["answers_used" if used else "fell_back"] += 1
    llm["readings_set_aside"] += any(n.startswith(DISAGREED_PREFIX) for n in update.notes)


def _count(cell: list[int], tp: int, fp: int, fn: int) -> None:
    cell[0] += tp
    cell[1] += fp
    cell[2] += fn


def _prf(tp: int, fp: int, fn: int) -> tuple[float | None, float | None, float | None]:
    p = tp / (tp + fp) if tp + fp else None
    r = tp / (tp + fn) if tp + fn else None
    if p is None or r is None:
        return p, r, None
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def _summary(n: int, intents_right: int, counts: dict[str, list[int]], errors: list) -> dict[str, Any]:
    per_slot: dict[str, dict[str, float | None]] = {}
    for slot in SLOTS:
        tp, fp, fn = counts[slot]
        p, r, f1 = _prf(tp, fp, fn)
        if slot == "keywords":
            p = f1 = None
        per_slot[slot] = {"p": _round(p), "r": _round(r), "f1": _round(f1)}
    tp = sum(counts[s][0] for s in SLOTS)
    tp_scored = sum(counts[s][0] for s in SLOTS if s != "keywords")
    fp = sum(counts[s][1] for s in SLOTS)
    fn = sum(counts[s][2] for s in SLOTS)
    precision = tp_scored / (tp_scored + fp) if tp_scored + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "n": n,
        "intent_accuracy": round(intents_right / n, 4),
        "slot_precision": round(precision, 4),
        "slot_recall": round(recall, 4),
        "slot_f1": round(f1, 4),
        "per_slot": per_slot,
        "errors": errors,
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def format_table(result: dict[str, Any], *, max_errors: int = 20) -> str:
    """A readable summary of ``run_parser_eval``'s result: totals, one row per slot, the errors."""

    def cell(value: float | None) -> str:
        return "    -" if value is None else f"{value:5.3f}"

    lines = [
        f"Parser evaluation: {result['n']} utterances",
        f"  intent accuracy  {result['intent_accuracy']:.3f}",
        f"  slots            P {result['slot_precision']:.3f}   R {result['slot_recall']:.3f}   "
        f"F1 {result['slot_f1']:.3f}",
        f"  seconds per utterance  {result.get('seconds_per_utterance', 0):.3f}",
    ]
    if "llm" in result:
        llm = result["llm"]
        lines.append(f"  language model   answers used {llm['answers_used']}, fell back to rules {llm['fell_back']}, "
                     f"readings set aside {llm['readings_set_aside']}")
    lines += [
        "",
        f"  {'slot':<16} {'P':>5}  {'R':>5}  {'F1':>5}",
    ]
    for slot, scores in result["per_slot"].items():
        lines.append(f"  {slot:<16} {cell(scores['p'])}  {cell(scores['r'])}  {cell(scores['f1'])}")
    errors = result["errors"]
    lines += ["", f"  {len(errors)} utterance(s) with a mistake" + (":" if errors else "")]
    for error in errors[:max_errors]:
        lines.append(f"  #{error['id']} {error['utterance']!r}")
        for slot in [s for s in ("intent", *SLOTS) if s in error["gold"] or s in error["predicted"]]:
            gold = json.dumps(error["gold"].get(slot), ensure_ascii=False)
            predicted = json.dumps(error["predicted"].get(slot), ensure_ascii=False)
            lines.append(f"      {slot}: gold {gold}  predicted {predicted}")
    if len(errors) > max_errors:
        lines.append(f"  ... and {len(errors) - max_errors} more (--json lists them all)")
    return "\n".join(lines)
