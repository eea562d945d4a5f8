"""Searchers: which config to try next."""

from __future__ import annotations

from typing import Any

from hpo.searchers.base import BaseSearcher
from hpo.searchers.random import RandomSearcher
from hpo.searchers.sobol import SobolSearcher

__all__ = ["BaseSearcher", "RandomSearcher", "SobolSearcher", "BOSearcher", "CFO", "CARBS", "make_searcher"]


def __getattr__(name: str) -> Any:
    if name == "BOSearcher":  # imports nothing heavy itself, but keep torch paths lazy
        from hpo.searchers.bo import BOSearcher

        return BOSearcher
    if name == "CFO":
        from hpo.searchers.cfo import CFO

        return CFO
    if name == "CARBS":
        from hpo.searchers.carbs import CARBS

        return CARBS
    raise AttributeError(name)


def make_searcher(name: str | BaseSearcher, space: Any, seed: int | None = None) -> BaseSearcher:
    """Build a searcher from its registered name (``"bo"``, ``"random"``, ``"sobol"``) or pass one through."""
    from hpo._registry import SEARCHERS

    if isinstance(name, BaseSearcher):
        return name
    return SEARCHERS.build(name, space=space, seed=seed)
