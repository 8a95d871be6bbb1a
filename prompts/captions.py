"""The "describe what you see" prompt: one vision request per poster.

The caption is embedded with the text encoder into the ``items_caption`` collection, so it should
read like the words a person uses to ask for a look ("dark, rainy city at night, a lone man in a
trench coat, gritty thriller"), not like a review. The title and plot are deliberately not sent:
the caption must say what the poster shows, not what the model remembers about the film.
"""

from __future__ import annotations

from langchain_core.messages import HumanMessage

CAPTION_PROMPT = (
    "Describe what this movie poster shows, for someone searching by look and feel. "
    "In one or two plain sentences (at most 50 words), say: the mood, the main colours, the setting, "
    "who or what is pictured, and any genre cues (horror, comedy, western, sci-fi, romance, ...). "
    "Do not guess the title, the actors or the plot, do not read out the text on the poster, "
    "and answer with the description only: no preamble, no lists, no markdown."
)


def caption_message(image_data_url: str) -> HumanMessage:
    """The one message of a caption request: the instruction, then the poster as a data URL."""
    return HumanMessage(content=[
        {"type": "text", "text": CAPTION_PROMPT},
        {"type": "image_url", "image_url": {"url": image_data_url}},
    ])
