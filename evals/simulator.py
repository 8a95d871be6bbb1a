"""A target-seeking simulated user (the iEvaLM / InteRecAgent protocol), and the loop that runs it.

The user is given one catalog item, the target. It opens with a vague description built from
the target's attributes (genres, era, audience, a theme tag) and never with the title or a word
of it; it answers the system's questions from the target's attributes; on wrong
recommendations it critiques them ("something newer", "less violent", "not animated", "more
like the second one") from ``attribute_level`` and year/genre differences; it succeeds when the
target is among the shown items.

``RuleBasedUser`` works offline. ``LLMUser`` phrases the same turns with a configured chat
model and falls back to the rule-based wording when the model fails or leaks the title.
"""

from __future__ import annotations

import logging
import random
import re
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, Field

from chat.schemas import Reply
from marquee.errors import BadInput, MarqueeError
from prompts.simulator import SIMULATOR_PROMPT
from retrieval.catalog import Catalog, Item, fold
from tools.attributes import attribute_level

log = logging.getLogger(__name__)

MIN_TARGET_RATINGS = 20
DEFAULT_MAX_TURNS = 5

GENRE_WORDS: dict[str, str] = {
    "Action": "action", "Adventure": "adventure", "Animation": "animated", "Children": "family",
    "Comedy": "comedy", "Crime": "crime", "Documentary": "documentary", "Drama": "drama",
    "Fantasy": "fantasy", "Film-Noir": "noir", "Horror": "horror", "Musical": "musical",
    "Mystery": "mystery", "Romance": "romance", "Sci-Fi": "sci-fi", "Thriller": "thriller",
    "War": "war", "Western": "western",
}
# A critique says "not <word>" for an unwanted genre.
GENRE_NOT: dict[str, str] = {"Animation": "not animated", "Children": "not a kids' movie", "Horror": "no horror"}
ATTRIBUTE_WORDS: dict[str, tuple[str, str]] = {  # attribute -> (less, more)
    "violence": ("less violent", "more violent"), "humor": ("less silly, more serious", "funnier"),
    "darkness": ("lighter, less dark", "darker"), "scariness": ("less scary", "scarier"),
    "romance": ("less romantic", "more romantic"), "action": ("less action", "more action"),
    "complexity": ("simpler", "more complex, something that makes me think"),
}
ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth")


def title_words(item: Item) -> set[str]:
    """The words of the target's title (articles and tiny words included): never said."""
    return set(fold(item.title).split())


def leaks(text: str, target: Item) -> bool:
    """True when ``text`` contains a word of the target's title (ignoring very common words)."""
    common = {"the", "a", "an", "of", "and", "in", "on", "to", "for", "with", "is", "it", "s", "movie"}
    words = set(fold(text).split())
    return bool((title_words(target) - common) & words)


def decade_phrase(year: int | None) -> str | None:
    if year is None:
        return None
    if year >= 2010:
        return "something fairly recent"
    return f"from the {str(year // 10 * 10)[2:]}s" if year >= 1930 else "an old classic"


class UserTurn(BaseModel):
    """What the simulated user says, and what it revealed (for the record)."""

    text: str
    revealed: list[str] = Field(default_factory=list)


class SimulatedUser(Protocol):
    target: Item

    def opening(self) -> UserTurn: ...

    def answer(self, reply: Reply) -> UserTurn: ...


class RuleBasedUser:
    """Speaks from the target's attributes with templates; deterministic for a given seed."""

    def __init__(self, target: Item, catalog: Catalog, rng: random.Random):
        self.target = target
        self.catalog = catalog
        self.rng = rng
        self.banned = title_words(target)
        self.genres = [g for g in target.genres if g in GENRE_WORDS]
        rng.shuffle(self.genres)
        self.revealed: set[str] = set()

    # -- facts the user can reveal, each a short phrase and a key -------------------------------

    def _facts(self) -> list[tuple[str, str]]:
        t = self.target
        facts: list[tuple[str, str]] = []
        facts += [(f"genre:{g}", f"{GENRE_WORDS[g]}") for g in self.genres if g != "Children"]
        if "Children" in t.genres:
            facts.append(("audience", "something the kids can watch"))
        if (decade := decade_phrase(t.year)) is not None:
            facts.append(("era", decade))
        for tag in t.tags[:5]:
            if self._clean(tag) and len(tag) > 3:
                facts.append((f"tag:{tag}", f"about {tag}"))
                break
        for role, template in (("stars", "with {}"), ("directors", "directed by {}")):
            for name in t.people.get(role, [])[:1]:
                if self._clean(name):
                    facts.append((f"{role}:{name}", template.format(name)))
        return facts

    def _clean(self, phrase: str) -> bool:
        return not (set(fold(phrase).split()) & self.banned)

    def _reveal(self, keys_first: tuple[str, ...] = (), n: int = 1) -> list[tuple[str, str]]:
        fresh = [f for f in self._facts() if f[0] not in self.revealed]
        fresh.sort(key=lambda f: 0 if f[0].startswith(keys_first) else 1)
        chosen = fresh[:n]
        self.revealed.update(k for k, _ in chosen)
        return chosen

    # -- turns ---------------------------------------------------------------------------------

    def opening(self) -> UserTurn:
        genres = [f for f in self._facts() if f[0].startswith("genre:")][:2]
        self.revealed.update(k for k, _ in genres)
        words = " ".join(p for _, p in genres) or "good"
        extra = self._reveal(("audience", "era"), n=1)
        starts = ("I'm looking for a {} movie", "Can you recommend a {} film?", "I'd like to watch a {} movie")
        text = self.rng.choice(starts).format(words)
        text = re.sub(r"\ba ([aeiou])", r"an \1", text)
        if extra:
            text = f"{text.rstrip('?')}, {extra[0][1]}"
        return self._said(text, [k for k, _ in genres + extra])

    def answer(self, reply: Reply) -> UserTurn:
        if reply.question or not reply.items:
            return self._answer_question(reply.text)
        return self._critique(reply)

    def _answer_question(self, question: str) -> UserTurn:
        q = question.lower()
        wanted: tuple[str, ...] = ()
        if re.search(r"\b(genre|kind|type)\b", q):
            wanted = ("genre:",)
        elif re.search(r"\b(period|era|decade|recent|old|year)\b", q):
            wanted = ("era",)
        elif re.search(r"\b(actor|actress|director|star|who)\b", q):
            wanted = ("stars:", "directors:")
        topical = [f for f in self._facts() if wanted and f[0].startswith(wanted)][:2]
        facts = topical or self._reveal(("genre:", "era", "audience", "tag:"), n=2)
        self.revealed.update(k for k, _ in facts)
        if not facts:
            return self._said("Anything like that, surprise me.", [])
        return self._said("Hmm, " + " and ".join(p for _, p in facts) + ".", [k for k, _ in facts])

    def _critique(self, reply: Reply) -> UserTurn:
        shown = [self.catalog.get(c.id) for c in reply.items]
        shown = [s for s in shown if s is not None]
        phrases: list[str] = []
        keys: list[str] = []
        closest = self._closest(shown)
        if closest is not None:
            phrases.append(f"more like the {ORDINALS[closest]} one")
            keys.append(f"refer:{closest + 1}")
        for key, phrase in self._differences(shown)[:2]:
            phrases.append(phrase)
            keys.append(key)
        if len(phrases) < 2:
            for key, phrase in self._reveal(("stars:", "directors:", "tag:", "era", "genre:"), n=1):
                phrases.append(phrase)
                keys.append(key)
        if not phrases:
            return self._said("Not quite, show me something else.", [])
        opener = self.rng.choice(("Not those.", "Hmm, not quite.", "None of these."))
        phrases = [p.rstrip(".") for p in phrases]
        body = ", but ".join(phrases[:2]) + (f", {phrases[2]}" if len(phrases) > 2 else "")
        return self._said(f"{opener} {body}.", keys)

    def _closest(self, shown: list[Item]) -> int | None:
        """The shown item most like the target, when it is clearly close (shares most genres and an era)."""
        best, best_score = None, 0.0
        target_genres = set(self.target.genres)
        for i, item in enumerate(shown[: len(ORDINALS)]):
            overlap = len(target_genres & set(item.genres)) / max(1, len(target_genres | set(item.genres)))
            people = len(set(self.target.all_people()) & set(item.all_people()))
            near = 1.0 if item.year and self.target.year and abs(item.year - self.target.year) <= 10 else 0.0
            score = overlap + 0.5 * min(people, 2) + 0.3 * near
            if score > best_score:
                best, best_score = i, score
        return best if best_score >= 0.9 else None

    def _differences(self, shown: list[Item]) -> list[tuple[str, str]]:
        """Critiques, biggest difference first: era, unwanted or missing genres, attribute levels."""
        out: list[tuple[float, str, str]] = []
        t = self.target
        years = [s.year for s in shown if s.year]
        if t.year and years:
            gap = sum(years) / len(years) - t.year
            if gap <= -8:
                out.append((1.1 * min(1.0, -gap / 15), "recency:more", "something newer"))
            elif gap >= 8:
                out.append((1.1 * min(1.0, gap / 15), "recency:less", "something older"))
        for genre in sorted({g for s in shown for g in s.genres} - set(t.genres)):
            share = sum(genre in s.genres for s in shown) / len(shown)
            if share >= 0.5 and genre in GENRE_WORDS:
                out.append((share, f"genre_out:{genre}", GENRE_NOT.get(genre, f"no {GENRE_WORDS[genre]}")))
        for genre in self.genres:
            share = sum(genre in s.genres for s in shown) / len(shown)
            if share <= 0.2:
                out.append((0.8 - share, f"genre:{genre}", f"I want {GENRE_WORDS[genre]}"))
        for attribute, (less, more) in ATTRIBUTE_WORDS.items():
            diff = sum(attribute_level(s, attribute) for s in shown) / len(shown) - attribute_level(t, attribute)
            if abs(diff) >= 0.5:
                out.append((min(1.0, abs(diff)) * 0.9, f"{attribute}:{'less' if diff > 0 else 'more'}", less if diff > 0 else more))
        if t.runtime:
            runtimes = [s.runtime for s in shown if s.runtime]
            if runtimes and sum(runtimes) / len(runtimes) - t.runtime >= 30:
                out.append((0.6, "length:less", "shorter"))
        out.sort(key=lambda x: -x[0])
        chosen: list[tuple[str, str]] = []
        attributes = 0
        for _, key, phrase in out:  # at most one attribute critique: "less violent, less dark" says one thing
            is_attribute = key.split(":")[0] in ATTRIBUTE_WORDS
            if self._clean(phrase) and not (is_attribute and attributes):
                chosen.append((key, phrase))
                attributes += is_attribute
        return chosen

    def _said(self, text: str, revealed: list[str]) -> UserTurn:
        if leaks(text, self.target):  # a person's or tag's word may coincide with the title: drop it
            text = " ".join(w for w in text.split() if not leaks(w, self.target))
        return UserTurn(text=text, revealed=revealed)


class LLMUser:
    """The rule-based user's turns re-phrased by a chat model; any failure or leak keeps the rule wording."""

    def __init__(self, rules: RuleBasedUser, model: Any):
        self.rules = rules
        self.target = rules.target
        self.model = model

    def _facts(self) -> str:
        t = self.target
        tags = [tag for tag in t.tags[:6] if self.rules._clean(tag)][:3]  # no tag that repeats a title word
        parts = [f"genres {', '.join(t.genres)}", f"year {t.year}" if t.year else "", ", ".join(tags)]
        return "; ".join(p for p in parts if p)

    def _rephrase(self, turn: UserTurn) -> UserTurn:
        from langchain_core.messages import HumanMessage, SystemMessage

        from marquee.llm import invoke_model, message_text

        try:
            message = invoke_model(self.model, [
                SystemMessage(SIMULATOR_PROMPT.format(facts=self._facts(), plan=turn.text)),
                HumanMessage("Your message:"),
            ])
        except MarqueeError as exc:
            log.warning("simulator LLM failed, using the rule wording: %s", exc)
            return turn
        text = " ".join(message_text(message).split())[:300]
        if not text or leaks(text, self.target):
            return turn
        return UserTurn(text=text, revealed=turn.revealed)

    def opening(self) -> UserTurn:
        return self._rephrase(self.rules.opening())

    def answer(self, reply: Reply) -> UserTurn:
        return self._rephrase(self.rules.answer(reply))


# --- targets and the loop ------------------------------------------------------------------


def sample_targets(catalog: Catalog, n: int, seed: int, *, min_ratings: int = MIN_TARGET_RATINGS) -> list[Item]:
    """``n`` items with at least ``min_ratings`` ratings and some genres, sampled with ``seed``."""
    if n < 1:
        raise BadInput("--targets must be at least 1")
    pool = sorted((i for i in catalog if i.n_ratings >= min_ratings and any(g in GENRE_WORDS for g in i.genres)),
                  key=lambda i: i.id)
    if not pool:
        raise BadInput(f"no catalog item has {min_ratings}+ ratings and a known genre to use as a target")
    return random.Random(seed).sample(pool, min(n, len(pool)))


def read_targets_file(path: Path, catalog: Catalog) -> tuple[list[Item], list[str]]:
    """Targets named one per line (an item id or a title). Returns the items and the unknown lines."""
    from evals.scripts import resolve_title

    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"cannot read targets file {path}: {exc}") from exc
    items, unknown = [], []
    for line in lines:
        name = line.strip()
        if not name or name.startswith("#"):
            continue
        item = catalog.get(name) or resolve_title(name, catalog)
        (items.append(item) if item else unknown.append(name))
    if not items:
        raise BadInput(f"no line of {path} names a catalog item")
    return items, unknown


class Episode(BaseModel):
    target: str
    success: bool
    turns: int = Field(description="User turns until the target was shown (max_turns when it never was).")
    first_turn_hit_at_10: bool
    questions: int
    transcript: list[tuple[str, list[str]]] = Field(default_factory=list, description="(user text, shown titles)")


def make_user(target: Item, catalog: Catalog, rng: random.Random, model: Any | None = None) -> SimulatedUser:
    rules = RuleBasedUser(target, catalog, rng)
    return LLMUser(rules, model) if model is not None else rules


def simulate_one(marquee: Any, target: Item, *, max_turns: int, rng: random.Random, model: Any | None = None) -> Episode:
    """One simulated conversation about ``target``."""
    user = make_user(target, marquee.catalog, rng, model)
    said = user.opening()
    probe = marquee.respond(None, said.text, n_items=10)  # a separate conversation: recall@10 of the opening
    first_hit = target.id in [c.id for c in probe.reply.items]
    conversation = marquee.new_conversation()
    questions = 0
    transcript: list[tuple[str, list[str]]] = []
    for turn in range(1, max_turns + 1):
        result = marquee.respond(conversation, said.text)
        reply = result.reply
        questions += bool(reply.question and not reply.items)
        shown = [c.id for c in reply.items]
        transcript.append((said.text, [c.title for c in reply.items]))
        if target.id in shown:
            return Episode(target=target.label, success=True, turns=turn, first_turn_hit_at_10=first_hit,
                           questions=questions, transcript=transcript)
        said = user.answer(reply)
    return Episode(target=target.label, success=False, turns=max_turns, first_turn_hit_at_10=first_hit,
                   questions=questions, transcript=transcript)


class SimulationReport(BaseModel):
    max_turns: int
    episodes: list[Episode]
    skipped: list[str] = Field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        n = len(self.episodes) or 1
        success = sum(e.success for e in self.episodes) / n
        return {
            "targets": len(self.episodes),
            "success@T": round(success, 4),
            f"success@{self.max_turns}": round(success, 4),
            "avg_turns": round(sum(e.turns for e in self.episodes) / n, 3),
            "recall@10_first_turn": round(sum(e.first_turn_hit_at_10 for e in self.episodes) / n, 4),
            "questions_asked": sum(e.questions for e in self.episodes),
            "max_turns": self.max_turns,
        }


def run_simulation(marquee: Any, targets: list[Item], *, seed: int, max_turns: int = DEFAULT_MAX_TURNS,
                   model: Any | None = None) -> SimulationReport:
    """Simulate one conversation per target; the seed fixes every wording choice."""
    if max_turns < 1:
        raise BadInput("--max-turns must be at least 1")
    episodes = []
    for n, target in enumerate(targets):
        rng = random.Random(f"{seed}:{n}:{target.id}")
        episode = simulate_one(marquee, target, max_turns=max_turns, rng=rng, model=model)
        log.info("target %s: %s in %d turns", target.label, "found" if episode.success else "missed", episode.turns)
        episodes.append(episode)
    return SimulationReport(max_turns=max_turns, episodes=episodes)


def format_table(report: SimulationReport) -> str:
    data = report.as_json()
    lines = [f"{'target':45} {'found':>6} {'turns':>6} {'R@10 t1':>8}"]
    for e in report.episodes:
        lines.append(f"{e.target[:45]:45} {'yes' if e.success else 'no':>6} {e.turns:>6} {'yes' if e.first_turn_hit_at_10 else 'no':>8}")
    lines.append(
        f"targets {data['targets']}  success@{report.max_turns} {data['success@T']:.3f}  avg turns {data['avg_turns']:.2f}  "
        f"recall@10 first turn {data['recall@10_first_turn']:.3f}  questions asked {data['questions_asked']}"
    )
    if report.skipped:
        lines.append(f"skipped {len(report.skipped)} unknown targets: {', '.join(report.skipped[:10])}")
    return "\n".join(lines)
