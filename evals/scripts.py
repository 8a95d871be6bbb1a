"""Scripted dialogue evaluations: a site's dialogues with expectations, run against its catalog.

A script is a YAML file (one dialogue) or a folder of them. Each turn says something (or gives
feedback, resets, or notes items someone else showed) and lists expectations that are checked
against the catalog and against what Marquee showed. The format is documented in
``evals/SCRIPTS.md``; ``run_scripts`` runs dialogues and returns a ``ScriptReport``.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Callable, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from chat.schemas import CritiqueAttribute, Recommendation
from marquee.errors import BadInput, MarqueeError
from retrieval.catalog import Catalog, Item, normalize_name

log = logging.getLogger(__name__)

KID_RATINGS = {"G", "PG", "TV-Y", "TV-Y7", "TV-G", "TV-PG", "U"}
ADULT_RATINGS = {"R", "NC-17", "TV-MA", "X"}
SCRIPT_SUFFIXES = (".yaml", ".yml")


# --- the format ------------------------------------------------------------------------------


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ItemRef(Strict):
    """An item a script points at: a catalog title, or a position among the previous turn's items."""

    title: str | None = None
    shown: int | None = Field(None, ge=1, description="1-based position in the last turn that showed items.")

    @model_validator(mode="after")
    def _one_of(self) -> "ItemRef":
        if (self.title is None) == (self.shown is None):
            raise ValueError("name exactly one of `title` or `shown`")
        return self

    def describe(self) -> str:
        return f"title {self.title!r}" if self.title is not None else f"shown item {self.shown}"


class Constraints(Strict):
    """Hard constraints every recommended item must satisfy."""

    genres_in: list[str] = Field(default_factory=list, description="Every item has all of these genres.")
    genres_any: list[str] = Field(default_factory=list, description="Every item has at least one of these.")
    genres_out: list[str] = Field(default_factory=list)
    year_min: int | None = None
    year_max: int | None = None
    runtime_min: int | None = None
    runtime_max: int | None = None
    people_in: list[str] = Field(default_factory=list, description="Every item has at least one of these people.")
    people_out: list[str] = Field(default_factory=list)
    audience: Literal["kids", "adults"] | None = None
    newer_than: ItemRef | None = None
    older_than: ItemRef | None = None
    shorter_than: ItemRef | None = None
    allow_unknown: bool = Field(
        False, description="Let an item whose runtime or people are unknown pass a runtime bound or people_in."
    )


class TopK(Strict):
    title: str
    k: int | None = Field(None, ge=1, description="Default: every item shown this turn.")


class SimilarTo(Strict):
    title: str | None = None
    shown: int | None = Field(None, ge=1)
    min_share: float = Field(0.8, gt=0, le=1, description="Share of items that must share a genre or a person.")

    @model_validator(mode="after")
    def _one_of(self) -> "SimilarTo":
        self.ref  # validates: exactly one of title / shown
        return self

    @property
    def ref(self) -> ItemRef:
        return ItemRef(title=self.title, shown=self.shown)


class CritiqueCheck(Strict):
    attribute: CritiqueAttribute
    direction: Literal["less", "more"]


class Expectations(Strict):
    """One turn's expectations; each key is optional. See evals/SCRIPTS.md."""

    recommends: int | None = Field(None, ge=1, description="At least this many items.")
    asks_question: bool | None = Field(None, description="True: a question and no items.")
    constraints: Constraints | None = None
    in_top: list[TopK] = Field(default_factory=list)
    not_in_top: list[TopK] = Field(default_factory=list)
    similar_to: SimilarTo | None = None
    no_repeats: bool | None = Field(None, description="No item shown earlier in the dialogue comes back.")
    grounded: bool | None = Field(None, description="Every justification cites only attributes the item has.")
    latency_ms: float | None = Field(None, gt=0, description="The turn took at most this long.")
    critique: CritiqueCheck | None = None
    text_contains: list[str] = Field(default_factory=list, description="Words the reply text contains (any case).")

    @field_validator("in_top", "not_in_top", "text_contains", mode="before")
    @classmethod
    def _listify(cls, value: Any) -> Any:
        return value if isinstance(value, list) or value is None else [value]

    def names(self) -> list[str]:
        return [name for name in type(self).model_fields if getattr(self, name) is not None and getattr(self, name) != []]


class FeedbackAction(Strict):
    item: int | str = Field(description="A 1-based position in the last shown items, or a title.")
    kind: Literal["liked", "disliked", "seen"]


class ScriptTurn(Strict):
    """One step of a dialogue: exactly one action, expectations only on `say`."""

    say: str | None = None
    n_items: int | None = Field(None, ge=1, le=50)
    feedback: FeedbackAction | None = None
    reset: bool = False
    show: list[str] = Field(default_factory=list, description="Titles someone else showed (a human recommender).")
    expect: Expectations = Field(default_factory=Expectations)

    @model_validator(mode="after")
    def _one_action(self) -> "ScriptTurn":
        actions = [self.say is not None, self.feedback is not None, self.reset, bool(self.show)]
        if sum(actions) != 1:
            raise ValueError("a turn has exactly one of: say, feedback, reset, show")
        if self.say is None and self.expect.names():
            raise ValueError("expectations belong to a `say` turn")
        return self


class Demographics(Strict):
    age: int | None = Field(None, ge=1, le=120)
    gender: str | None = None
    occupation: str | None = None


class Dialogue(Strict):
    """One scripted dialogue."""

    name: str
    description: str = ""
    user: Demographics | None = None
    every_turn: Expectations = Field(
        default_factory=Expectations, description="Expectations added to every `say` turn that shows items."
    )
    turns: list[ScriptTurn] = Field(min_length=1)


# --- loading ---------------------------------------------------------------------------------


def script_files(path: Path) -> list[Path]:
    """The YAML files of a script path (a file or a folder). Raises ``BadInput`` if there are none."""
    path = Path(path)
    if path.is_file():
        return [path]
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in SCRIPT_SUFFIXES and p.is_file())
        if not files:
            raise BadInput(f"no .yaml scripts in {path}")
        return files
    raise BadInput(f"script path not found: {path}")


def load_dialogue(path: Path) -> Dialogue:
    """Read and validate one script file. Raises ``BadInput`` naming the file and the problem."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"cannot read {path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise BadInput(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise BadInput(f"{path}: a script is a mapping with `name` and `turns`")
    data.setdefault("name", Path(path).stem)
    try:
        return Dialogue.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise BadInput(f"{path}: {problems}") from exc


def load_dialogues(path: Path) -> list[Dialogue]:
    return [load_dialogue(p) for p in script_files(path)]


# --- checks ----------------------------------------------------------------------------------


class TurnView(BaseModel):
    """What a check sees of one turn."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    catalog: Catalog
    items: list[Recommendation]
    question: bool
    text: str
    latency_ms: float
    shown_before: list[str] = Field(description="Ids shown earlier in the dialogue, oldest first.")
    previous: list[str] = Field(description="Ids of the last earlier turn that showed items.")
    demographics: Any = Field(None, description="The user's validated demographics, if given (a "
                              "retrieval.demographics.Demographics; cited groups must be theirs).")

    def item(self, card: Recommendation) -> Item | None:
        return self.catalog.get(card.id)

    def resolve(self, ref: ItemRef) -> Item | None:
        if ref.shown is not None:
            return self.catalog.get(self.previous[ref.shown - 1]) if ref.shown <= len(self.previous) else None
        return resolve_title(ref.title or "", self.catalog)


def resolve_title(title: str, catalog: Catalog) -> Item | None:
    """A script's title as a catalog item: exact (normalized) match, else the parser's fuzzy match."""
    item = catalog.find_title(title)
    if item is None:
        from chat.parser import TitleIndex

        item = TitleIndex.for_catalog(catalog).resolve(title)
    return item


def _labels(view: TurnView, ids: list[str]) -> str:
    return ", ".join(view.catalog.get(i).label if view.catalog.get(i) else i for i in ids)


def check_recommends(n: int, view: TurnView) -> list[str]:
    return [] if len(view.items) >= n else [f"expected at least {n} items, got {len(view.items)}"]


def check_asks_question(wanted: bool, view: TurnView) -> list[str]:
    asked = view.question and not view.items
    if asked == wanted:
        return []
    return [f"expected {'a question' if wanted else 'no question'}, got {len(view.items)} items: {view.text[:120]!r}"]


def _audience_problem(item: Item, audience: str) -> str | None:
    genres, rating = set(item.genres), (item.age_rating or "").upper()
    if audience == "kids":
        if "Horror" in genres or rating in ADULT_RATINGS:
            return "is not for kids (horror or an adult rating)"
        if not (genres & {"Children", "Animation"} or rating in KID_RATINGS):
            return "is not a children's or animated title and has no kids' rating"
    elif audience == "adults" and "Children" in genres:
        return "is a children's title"
    return None


def item_violations(item: Item, c: Constraints, view: TurnView) -> list[str]:
    """Why ``item`` breaks the constraints (empty when it satisfies them)."""
    out: list[str] = []
    genres = set(item.genres)
    out += [f"lacks genre {g}" for g in c.genres_in if g not in genres]
    if c.genres_any and not genres & set(c.genres_any):
        out.append(f"has none of {c.genres_any}")
    out += [f"has excluded genre {g}" for g in c.genres_out if g in genres]
    if c.year_min is not None and (item.year is None or item.year < c.year_min):
        out.append(f"year {item.year} < {c.year_min}")
    if c.year_max is not None and (item.year is None or item.year > c.year_max):
        out.append(f"year {item.year} > {c.year_max}")
    if item.runtime is None and (c.runtime_min or c.runtime_max or c.shorter_than):
        if not c.allow_unknown:
            out.append("runtime unknown")
    else:
        if c.runtime_min is not None and item.runtime < c.runtime_min:
            out.append(f"runtime {item.runtime} < {c.runtime_min}")
        if c.runtime_max is not None and item.runtime > c.runtime_max:
            out.append(f"runtime {item.runtime} > {c.runtime_max}")
    people = {normalize_name(p) for p in item.all_people()}
    if c.people_in and not people & {normalize_name(p) for p in c.people_in}:
        if people or not c.allow_unknown:
            out.append(f"has none of {c.people_in}" if people else "people unknown")
    out += [f"has excluded person {p}" for p in c.people_out if normalize_name(p) in people]
    if c.audience and (problem := _audience_problem(item, c.audience)):
        out.append(problem)
    for ref, word, ok in (
        (c.newer_than, "newer than", lambda a, b: a.year is not None and b.year is not None and a.year > b.year),
        (c.older_than, "older than", lambda a, b: a.year is not None and b.year is not None and a.year < b.year),
        (c.shorter_than, "shorter than",
         lambda a, b: a.runtime is None and c.allow_unknown or (a.runtime is not None and b.runtime is not None and a.runtime < b.runtime)),
    ):
        if ref is None:
            continue
        anchor = view.resolve(ref)
        if anchor is None:
            out.append(f"cannot resolve {ref.describe()}")
        elif not ok(item, anchor):
            out.append(f"is not {word} {anchor.label}")
    return out


def check_constraints(c: Constraints, view: TurnView) -> list[str]:
    problems = []
    for card in view.items:
        item = view.item(card)
        if item is None:
            problems.append(f"{card.id} is not a catalog item")
            continue
        if bad := item_violations(item, c, view):
            problems.append(f"{item.label}: {'; '.join(bad)}")
    return problems


def _rank_check(spec: TopK, view: TurnView, *, wanted: bool) -> list[str]:
    item = resolve_title(spec.title, view.catalog)
    if item is None:
        return [f"title {spec.title!r} is not in the catalog"]
    top = [c.id for c in view.items[: spec.k or len(view.items)]]
    found = item.id in top
    if found == wanted:
        return []
    where = f"top {spec.k}" if spec.k else "the items"
    verb = "is not among" if wanted else "is among"
    return [f"{item.label} {verb} {where}: {_labels(view, top)}"]


def check_in_top(specs: list[TopK], view: TurnView) -> list[str]:
    return [p for spec in specs for p in _rank_check(spec, view, wanted=True)]


def check_not_in_top(specs: list[TopK], view: TurnView) -> list[str]:
    return [p for spec in specs for p in _rank_check(spec, view, wanted=False)]


SIMILAR_GENRE_OVERLAP = 0.5  # Jaccard of the genre sets: "Crime, Drama" is not like a seven-genre sci-fi thriller


def is_similar(item: Item, anchor: Item) -> bool:
    """Shares a person (director, writer, star) or a viewer tag with the anchor, or most of its
    genres (Jaccard >= 0.5). Sharing "Drama" alone is not enough: Shawshank is not like Inception."""
    people = {normalize_name(p) for p in anchor.all_people()}
    if any(normalize_name(p) in people for p in item.all_people()):
        return True
    if {t.lower() for t in item.tags} & {t.lower() for t in anchor.tags}:
        return True
    genres, theirs = set(item.genres), set(anchor.genres)
    return bool(genres | theirs) and len(genres & theirs) / len(genres | theirs) >= SIMILAR_GENRE_OVERLAP


def check_similar_to(spec: SimilarTo, view: TurnView) -> list[str]:
    anchor = view.resolve(spec.ref)
    if anchor is None:
        return [f"cannot resolve {spec.ref.describe()}"]
    if not view.items:
        return [f"no items to compare with {anchor.label}"]
    items = [view.item(c) for c in view.items]
    similar = [i for i in items if i is not None and is_similar(i, anchor)]
    share = len(similar) / len(items)
    if share >= spec.min_share:
        return []
    unlike = [i.label for i in items if i is not None and i not in similar]
    return [f"only {share:.0%} share a person, a tag or most genres with {anchor.label} (need {spec.min_share:.0%}); "
            f"unlike: {', '.join(unlike)}"]


def check_no_repeats(wanted: bool, view: TurnView) -> list[str]:
    repeated = [c.id for c in view.items if c.id in set(view.shown_before)]
    return [f"shown again: {_labels(view, repeated)}"] if wanted and repeated else []


def check_grounded(wanted: bool, view: TurnView) -> list[str]:
    from evals.grounding import grounding_errors

    if not wanted:
        return []
    return [f"{card.title}: {err}" for card in view.items
            for err in grounding_errors(card, view.catalog, demographics=view.demographics)]


def check_latency(bound: float, view: TurnView) -> list[str]:
    return [] if view.latency_ms <= bound else [f"took {view.latency_ms:.0f} ms > {bound:.0f} ms"]


def check_critique(spec: CritiqueCheck, view: TurnView) -> list[str]:
    """The items' mean level of the attribute moved in the asked direction from the previous turn's."""
    from tools.attributes import attribute_level

    before = [view.catalog.get(i) for i in view.previous]
    now = [view.item(c) for c in view.items]
    before, now = [i for i in before if i], [i for i in now if i]
    if not before or not now:
        return [f"need items in this and an earlier turn to compare {spec.attribute}"]
    mean_before = sum(attribute_level(i, spec.attribute) for i in before) / len(before)
    mean_now = sum(attribute_level(i, spec.attribute) for i in now) / len(now)
    moved = mean_now < mean_before if spec.direction == "less" else mean_now > mean_before
    if moved:
        return []
    return [f"{spec.attribute} went from {mean_before:+.2f} to {mean_now:+.2f}, not {spec.direction}"]


def check_text_contains(words: list[str], view: TurnView) -> list[str]:
    text = view.text.lower()
    return [f"reply text lacks {w!r}: {view.text[:120]!r}" for w in words if w.lower() not in text]


CHECKS: dict[str, Callable[[Any, TurnView], list[str]]] = {
    "recommends": check_recommends,
    "asks_question": check_asks_question,
    "constraints": check_constraints,
    "in_top": check_in_top,
    "not_in_top": check_not_in_top,
    "similar_to": check_similar_to,
    "no_repeats": check_no_repeats,
    "grounded": check_grounded,
    "latency_ms": check_latency,
    "critique": check_critique,
    "text_contains": check_text_contains,
}


# --- running ---------------------------------------------------------------------------------


class Failure(BaseModel):
    dialogue: str
    turn: int = Field(description="1-based turn number in the script.")
    expectation: str
    detail: str


class ScriptReport(BaseModel):
    """The result of running scripts; ``as_json`` has the documented keys."""

    dialogues: int = 0
    turns: int = 0
    expectations: int = 0
    failed: int = 0
    failures: list[Failure] = Field(default_factory=list)
    per_dialogue: list[dict[str, Any]] = Field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "dialogues": self.dialogues, "turns": self.turns, "expectations": self.expectations,
            "failed": self.failed, "failures": [f.model_dump() for f in self.failures],
        }


def _expectations_for(turn: ScriptTurn, dialogue: Dialogue, has_items: bool) -> Expectations:
    """The turn's own expectations plus the dialogue's ``every_turn`` ones when it shows items."""
    if not has_items:
        return turn.expect
    merged = dialogue.every_turn.model_dump(exclude_defaults=True)
    merged.update(turn.expect.model_dump(exclude_defaults=True))
    return Expectations.model_validate(merged)


def run_dialogue(marquee: Any, dialogue: Dialogue, report: ScriptReport) -> None:
    """Run one dialogue in a fresh conversation and add its checks to ``report``."""
    from marquee import db

    demographics = db.UserBase(**dialogue.user.model_dump()) if dialogue.user else None
    conversation = marquee.new_conversation(demographics=demographics)
    catalog: Catalog = marquee.catalog
    shown: list[str] = []
    previous: list[str] = []
    before = (report.expectations, report.failed)

    def fail(number: int, name: str, detail: str) -> None:
        report.failures.append(Failure(dialogue=dialogue.name, turn=number, expectation=name, detail=detail))

    for number, turn in enumerate(dialogue.turns, start=1):
        report.turns += 1
        try:
            if turn.say is None:
                _act(marquee, conversation, turn, previous, catalog)
                if turn.show:  # items someone else showed count as shown too
                    shown += [i for i in previous if i not in shown]
                continue
            started = time.perf_counter()
            result = marquee.respond(conversation, turn.say, n_items=turn.n_items)
            latency = result.timings_ms.get("total", (time.perf_counter() - started) * 1000)
        except MarqueeError as exc:
            names = turn.expect.names() or ["turn"]
            report.expectations += len(names)
            report.failed += len(names)
            for name in names:
                fail(number, name, f"the turn raised {type(exc).__name__}: {exc}")
            continue
        items = result.reply.items
        view = TurnView(catalog=catalog, items=items, question=result.reply.question, text=result.reply.text,
                        latency_ms=latency, shown_before=list(shown), previous=list(previous),
                        demographics=marquee.demographics(conversation))
        expect = _expectations_for(turn, dialogue, bool(items))
        for name in expect.names():
            report.expectations += 1
            problems = CHECKS[name](getattr(expect, name), view)
            if problems:
                report.failed += 1
                fail(number, name, "; ".join(problems)[:1000])
        if items:
            previous = [c.id for c in items]
            shown += [i for i in previous if i not in shown]
    report.dialogues += 1
    report.per_dialogue.append({
        "dialogue": dialogue.name, "expectations": report.expectations - before[0], "failed": report.failed - before[1],
    })


def _act(marquee: Any, conversation: str, turn: ScriptTurn, previous: list[str], catalog: Catalog) -> None:
    """Run a non-`say` turn: feedback, reset or items shown by someone else."""
    if turn.reset:
        marquee.reset(conversation)
    elif turn.feedback is not None:
        marquee.feedback(conversation, _feedback_item(turn.feedback.item, previous, catalog), turn.feedback.kind)
    else:
        ids = []
        for title in turn.show:
            item = resolve_title(title, catalog)
            if item is None:
                raise BadInput(f"shown title {title!r} is not in the catalog")
            ids.append(item.id)
        marquee.note_shown(conversation, ids)
        previous[:] = ids


def _feedback_item(ref: int | str, previous: list[str], catalog: Catalog) -> str:
    if isinstance(ref, int):
        if not 1 <= ref <= len(previous):
            raise BadInput(f"feedback on item {ref} but the last turn showed {len(previous)}")
        return previous[ref - 1]
    item = resolve_title(ref, catalog)
    if item is None:
        raise BadInput(f"feedback title {ref!r} is not in the catalog")
    return item.id


def run_scripts(marquee: Any, dialogues: list[Dialogue]) -> ScriptReport:
    """Run every dialogue (each in its own conversation) and collect the failed expectations."""
    report = ScriptReport()
    for dialogue in dialogues:
        log.info("running dialogue %s", dialogue.name)
        run_dialogue(marquee, dialogue, report)
    return report


def format_table(report: ScriptReport) -> str:
    """A readable summary: one line per dialogue, then each failure."""
    lines = [f"{'dialogue':40} {'checks':>7} {'failed':>7}"]
    for row in report.per_dialogue:
        lines.append(f"{row['dialogue'][:40]:40} {row['expectations']:>7} {row['failed']:>7}")
    lines.append(f"{report.dialogues} dialogues, {report.turns} turns, {report.expectations} expectations, "
                 f"{report.failed} failed")
    for f in report.failures:
        lines.append(f"FAIL {f.dialogue} turn {f.turn} [{f.expectation}]: {f.detail}")
    return "\n".join(lines)
