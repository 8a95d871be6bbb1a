"""Importing this module registers every tool once in ``tools.base.TOOLS``."""

from tools import ask, cold_start, explain, filtering, ranking, retrieve  # noqa: F401  (registration)
from tools.base import TOOLS, call_tool

__all__ = ["TOOLS", "call_tool"]
