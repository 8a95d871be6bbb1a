"""The latency benchmark: varied scripted turns replayed in-process after a warm-up.

Reports p50/p95/max of the whole turn and of each stage Marquee times (parse, plan, retrieve,
rank, explain, persist) and the process's peak resident memory.
"""

from __future__ import annotations

import logging
import resource
import sys
from typing import Any

import numpy as np
from pydantic import BaseModel

from marquee.errors import BadInput, MarqueeError

log = logging.getLogger(__name__)

STAGES = ("parse", "plan", "retrieve", "rank", "explain", "persist")
WARMUP_TURNS = 3

# Short conversations, replayed in order and round-robin: first requests, refinements with
# references and critiques, feedback words, typos, people, titles, kids, runtime, greetings.
CONVERSATIONS: tuple[tuple[str, ...], ...] = (
    ("hi there", "a feel-good 90s comedy, nothing with Tom Cruise", "more like the second one, but newer"),
    ("something like Toy Story but for adults", "less violent", "seen all of those"),
    ("a scary movie, not too gory", "shorter please", "I liked the first one, more like it"),
    ("sci-fi with a twist ending", "older, something from the 80s", "reset"),
    ("a romantic comedy for date night", "no Hugh Grant", "funnier"),
    ("movies directed by Christopher Nolan", "something lighter", "who directed the third one?"),
    ("an animated movie for my kids under 90 minutes", "more like the first one", "newer"),
    ("I loved Inception and The Matrix", "darker", "less complex"),
    ("a thriler with Denzel Washington", "not crime", "older"),
    ("a western", "with Clint Eastwood", "something shorter than those"),
    ("documentary about music", "more popular ones", "more like the second one"),
    ("a war movie that is not too long", "less violent", "from the 2000s"),
)


class StageStats(BaseModel):
    p50_ms: float
    p95_ms: float
    max_ms: float


class LatencyReport(BaseModel):
    turns: int
    warmup_turns: int
    p50_ms: float
    p95_ms: float
    max_ms: float
    stages: dict[str, StageStats]
    peak_rss_mb: float
    errors: int = 0

    def as_json(self) -> dict[str, Any]:
        return self.model_dump()


def _stats(values: list[float]) -> StageStats:
    array = np.asarray(values or [0.0], dtype=np.float64)
    return StageStats(
        p50_ms=round(float(np.percentile(array, 50)), 2),
        p95_ms=round(float(np.percentile(array, 95)), 2),
        max_ms=round(float(array.max()), 2),
    )


def peak_rss_mb() -> float:
    """The process's peak resident set size so far, in MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024, 1)


def scripted_turns(n: int) -> list[tuple[int, str]]:
    """``n`` (conversation number, utterance) pairs, walking the conversations round-robin."""
    out: list[tuple[int, str]] = []
    round_ = 0
    while len(out) < n:
        for c, conversation in enumerate(CONVERSATIONS):
            for utterance in conversation:
                out.append((round_ * len(CONVERSATIONS) + c, utterance))
        round_ += 1
    return out[:n]


def run_latency_bench(marquee: Any, *, turns: int = 60, warmup: int = WARMUP_TURNS) -> LatencyReport:
    """Time ``turns`` scripted turns after ``warmup`` uncounted ones, all in-process."""
    if turns < 1:
        raise BadInput("--turns must be at least 1")
    warm = marquee.new_conversation()
    for utterance in [u for conv in CONVERSATIONS for u in conv][:warmup]:
        marquee.respond(warm, utterance)
    totals: list[float] = []
    stages: dict[str, list[float]] = {s: [] for s in STAGES}
    conversations: dict[int, str] = {}
    errors = 0
    for number, utterance in scripted_turns(turns):
        conversation = conversations.setdefault(number, marquee.new_conversation())
        try:
            result = marquee.respond(conversation, utterance)
        except MarqueeError as exc:
            errors += 1
            log.warning("turn %r failed: %s", utterance, exc)
            continue
        timings = result.timings_ms
        totals.append(timings.get("total", 0.0))
        for stage in STAGES:
            stages[stage].append(timings.get(stage, 0.0))
    overall = _stats(totals)
    return LatencyReport(
        turns=len(totals), warmup_turns=warmup, p50_ms=overall.p50_ms, p95_ms=overall.p95_ms, max_ms=overall.max_ms,
        stages={s: _stats(v) for s, v in stages.items()}, peak_rss_mb=peak_rss_mb(), errors=errors,
    )


def format_table(report: LatencyReport) -> str:
    lines = [f"{'stage':10} {'p50 ms':>9} {'p95 ms':>9} {'max ms':>9}"]
    for name, s in [("turn", StageStats(p50_ms=report.p50_ms, p95_ms=report.p95_ms, max_ms=report.max_ms)),
                    *report.stages.items()]:
        lines.append(f"{name:10} {s.p50_ms:9.1f} {s.p95_ms:9.1f} {s.max_ms:9.1f}")
    lines.append(f"{report.turns} turns after {report.warmup_turns} warm-up turns; peak RSS {report.peak_rss_mb:.0f} MiB"
                 + (f"; {report.errors} turns failed" if report.errors else ""))
    return "\n".join(lines)
