"""Asking a clarifying question, only when the conversation gives nothing to go on."""

from __future__ import annotations

from pydantic import BaseModel, Field

from tools.base import CandidateBuffer, ToolDeps, tool


class AskArgs(BaseModel):
    """Ask the user one clarifying question instead of recommending."""

    about: str = Field("request", description="What is missing: request, genre, era or title.")


class Question(BaseModel):
    text: str
    about: str


QUESTIONS = {
    "request": "What are you in the mood for? A genre, a movie you loved, an actor or director, or an era all help.",
    "genre": "Which kind of movie: comedy, drama, thriller, sci-fi, animation, something else?",
    "era": "Any period in mind, like the 90s or something recent?",
    "title": "Is there a movie you loved that I should find something like?",
}


@tool("ask", AskArgs, Question)
def ask_question(args: AskArgs, *, deps: ToolDeps, buffer: CandidateBuffer) -> Question:
    """Ask one short question about what is missing (the request, a genre, an era or a liked
    title). Use it only when there is nothing to recommend from."""
    text = QUESTIONS.get(args.about, QUESTIONS["request"])
    buffer.question = text
    return Question(text=text, about=args.about if args.about in QUESTIONS else "request")
