"""Searchers: which config to try next."""

from hpo.searchers.base import BaseSearcher
from hpo.searchers.random import RandomSearcher
from hpo.searchers.sobol import SobolSearcher

__all__ = ["BaseSearcher", "RandomSearcher", "SobolSearcher", "make_searcher"]


def make_searcher(name: str | BaseSearcher, space, seed: int | None = None) -> BaseSearcher:  # type: ignore[no-untyped-def]
    """Build a searcher from its registered name (``"random"``, ``"sobol"``) or pass one through."""
    from hpo._registry import SEARCHERS

    if isinstance(name, BaseSearcher):
        return name
    return SEARCHERS.build(name, space=space, seed=seed)
