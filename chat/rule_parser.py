"""The catalog-aware rule parser; it lives in ``chat.rules`` (one module per kind of expression).

This module keeps the import path ``chat.rule_parser.RuleParser`` that callers use.
"""

from chat.rules.parser import RuleParser
from chat.rules.utterance import MAX_CHARS

__all__ = ["MAX_CHARS", "RuleParser"]
