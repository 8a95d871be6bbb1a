"""What the agents produce and consume: parsed preferences, conversation state, replies."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, model_validator

Intent = Literal["greet", "recommend", "refine", "feedback", "ask_item", "reset", "other"]
Audience = Literal["kids", "adults"]
Direction = Literal["less", "more"]
CritiqueAttribute = Literal[
    "violence", "humor", "length", "recency", "darkness",
    "popularity", "scariness", "complexity", "romance", "action",
]
FeedbackKind = Literal["liked", "disliked", "seen"]
ItemQuestion = Literal["director", "cast", "writer", "year", "genres", "runtime", "rating", "age_rating", "general"]


class Critique(BaseModel):
    """A wish relative to what was shown: ``less violent`` = (violence, less)."""

    attribute: CritiqueAttribute
    direction: Direction


class TitleRef(BaseModel):
    """A title the user named, resolved to a catalog item when one matches."""

    text: str = Field(description="The title as the user wrote it (or as the catalog spells it).")
    item_id: str | None = Field(None, description="Catalog id when the title was resolved.")


class PreferenceUpdate(BaseModel):
    """What one utterance says. Produced by a parser; merged into a ``PreferenceState``."""

    intent: Intent = "other"
    genres_include: list[str] = Field(default_factory=list, description="Catalog genre names the user wants.")
    genres_exclude: list[str] = Field(default_factory=list, description="Catalog genre names the user rules out.")
    people_include: list[str] = Field(default_factory=list)
    people_exclude: list[str] = Field(default_factory=list)
    titles_like: list[TitleRef] = Field(default_factory=list, description="Titles to find similar items to.")
    titles_exclude: list[TitleRef] = Field(default_factory=list, description="Titles disliked or already seen.")
    year_min: int | None = Field(None, ge=1870, le=2100)
    year_max: int | None = Field(None, ge=1870, le=2100)
    runtime_min: int | None = Field(None, ge=1, le=1200, description="Minutes.")
    runtime_max: int | None = Field(None, ge=1, le=1200, description="Minutes.")
    audience: Audience | None = None
    keywords: list[str] = Field(default_factory=list, description="Free-text mood/theme words.")
    critiques: list[Critique] = Field(default_factory=list)
    refers_to_shown: list[int] = Field(
        default_factory=list, description="1-based positions in the previous assistant turn's items."
    )
    feedback: FeedbackKind | None = Field(
        None, description="Feedback on the referred/named items (seen, liked, disliked)."
    )
    ask: ItemQuestion | None = Field(None, description="For intent ask_item: what the user asks about.")
    query: str = Field("", description="Free-text remainder used for dense search.")
    notes: list[str] = Field(default_factory=list, description="What the parser ignored or could not resolve.")
    visual: bool = Field(
        False,
        description="The user asks for a look (\"a poster like Se7en's\", \"a dark, gritty look\", a picture "
        "sent with the message): the image collection decides.",
    )
    assumptions: Literal["why", "drop"] | None = Field(
        None, description="About the taste assumed from the user's demographics: 'why' (\"why these?\": say what "
        "the list rests on) or 'drop' (\"not into those\": leave the assumed taste out from now on).",
    )
    picture: list[float] | None = Field(
        None, exclude=True,
        description="A picture sent with this message, embedded in the image space by the service. Never set by "
        "a parser, never stored.",
    )

    @model_validator(mode="after")
    def _no_contradictions(self) -> "PreferenceUpdate":
        # A genre or person both wanted and ruled out is read as ruled out: negation wins.
        self.genres_include = [g for g in self.genres_include if g not in self.genres_exclude]
        self.people_include = [p for p in self.people_include if p not in self.people_exclude]
        if self.year_min and self.year_max and self.year_min > self.year_max:
            self.year_min, self.year_max = self.year_max, self.year_min
        if self.runtime_min and self.runtime_max and self.runtime_min > self.runtime_max:
            self.runtime_min, self.runtime_max = self.runtime_max, self.runtime_min
        self.refers_to_shown = sorted({p for p in self.refers_to_shown if 1 <= p <= 50})
        return self


class PreferenceState(BaseModel):
    """Everything a conversation has established so far. Stored as JSON with the conversation."""

    genres_include: list[str] = Field(default_factory=list)
    genres_exclude: list[str] = Field(default_factory=list)
    people_include: list[str] = Field(default_factory=list)
    people_exclude: list[str] = Field(default_factory=list)
    year_min: int | None = None
    year_max: int | None = None
    runtime_min: int | None = None
    runtime_max: int | None = None
    audience: Audience | None = None
    keywords: list[str] = Field(default_factory=list)
    query: str = ""
    critiques: list[Critique] = Field(default_factory=list)
    anchor_ids: list[str] = Field(default_factory=list, description="Items to find similar items to.")
    liked_ids: list[str] = Field(default_factory=list)
    disliked_ids: list[str] = Field(default_factory=list)
    seen_ids: list[str] = Field(default_factory=list)
    shown_ids: list[str] = Field(default_factory=list, description="Every item shown in this conversation.")
    last_shown_ids: list[str] = Field(default_factory=list, description="Items of the last assistant turn, in order.")
    assumptions_dropped: bool = Field(
        False, description="The user set aside the taste assumed from their demographics (\"not into those\")."
    )

    @property
    def excluded_ids(self) -> set[str]:
        """Items that must not be recommended again."""
        return set(self.disliked_ids) | set(self.seen_ids) | set(self.shown_ids)

    def has_request(self) -> bool:
        """True when there is anything to recommend from."""
        return bool(
            self.genres_include or self.people_include or self.anchor_ids or self.keywords
            or self.query or self.year_min or self.year_max or self.runtime_max or self.runtime_min
            or self.audience or self.liked_ids or self.genres_exclude or self.people_exclude
            or self.critiques
        )


class Recommendation(BaseModel):
    """One card: a real catalog item and why it was picked."""

    id: str
    title: str
    year: int | None
    genres: list[str]
    people: dict[str, list[str]] = Field(default_factory=dict)
    image: str | None = None
    why: str
    reasons: list[str] = Field(default_factory=list, description="Attributes the why cites, e.g. 'genre:Comedy'.")


class Reply(BaseModel):
    """What Marquee answers to one utterance."""

    text: str
    items: list[Recommendation] = Field(default_factory=list)
    question: bool = Field(False, description="True when the reply asks the user something instead of recommending.")
    notes: list[str] = Field(default_factory=list, description="Honest notes: ignored input, unknown facts, fallbacks.")
    cleared: bool = Field(
        False, description="The request and the list shown so far were cleared (\"start over\" or the Reset "
        "button): a UI stops showing earlier cards as the current list.",
    )
