"""The simulated user's prompt (``marquee eval simulate`` with an LLM endpoint).

The rule-based user decides what to say (its plan: reveal a fact, criticise a suggestion); the
model only re-phrases that plan as a person would, knowing the target's facts but never its title.
"""

SIMULATOR_PROMPT = (
    "You are a person looking for a movie to watch, chatting with a recommender. You secretly want one "
    "specific movie with these attributes: {facts}. Never say its title or any word of its title. "
    "Say in one short sentence what you want, like a real user would: vague at first, then answer the "
    "recommender's question or criticise its suggestions (too old, less violent, not animated...). "
    "The plan for this turn: {plan}"
)
