"""FLOW2's moving parts for :mod:`hpo.searchers.cfo`: one local-search thread, proposals, encodings.

Split out of :mod:`hpo.searchers.cfo` by responsibility (the search thread's step-size rules
here, the searcher's bookkeeping there); the rules and their FLAML references are documented
on :class:`hpo.searchers.cfo.CFO`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hpo.search_spaces import Float, Int

if TYPE_CHECKING:
    import numpy as np


def _key(config: Mapping[str, Any]) -> str:
    return json.dumps(dict(config), sort_keys=True, default=repr)


def _bucket(u: Any, n: int) -> Any:
    import numpy as np

    return np.clip(np.floor(np.asarray(u) * n), 0, n - 1).astype(int)


def _n_grid(param: Float | Int) -> int:
    return int(math.floor((param.high - param.low) / param.step + 1e-9)) + 1


@dataclass
class _Proposal:
    """Who handed out a config: a start point (``thread is None``) or a thread's move."""

    thread: int | None
    step: float | None = None
    version: int = -1


@dataclass
class _Flow2:
    """State of one FLOW2 local search (FLAML's ``FLOW2`` searcher, one per CFO thread).

    ``x`` is the incumbent, a `d`-dim point in the searcher's unit coordinates.
    """

    x: np.ndarray
    config: dict[str, Any]
    score: float
    step: float
    step_ub: float
    step_lb: float
    n_dirs: int  # 2^min(9, d): proposals around one incumbent before the step shrinks
    version: int = 0  # bumped whenever ``x`` changes
    direction: np.ndarray | None = None  # step * u, while -u is still to be tried
    k: int = 0  # FLAML's _K: proposal count at the last shrink (0: no shrink yet)
    old_k: int = 0  # FLAML's _oldK
    iter_best: int = 1  # completion count when the incumbent last moved
    n_proposed_total: int = 1  # FLAML's trial_count_proposed
    n_complete_total: int = 1  # FLAML's trial_count_complete
    n_proposed: int = 0  # proposals around the current incumbent
    n_complete: int = 0  # results of those proposals
    init_phase: bool = True
    same: bool = False  # the +u move of the current pair rounded to the incumbent

    def next_move(self, rng: np.random.Generator) -> np.ndarray:
        """``x + step*u`` with a fresh ``u`` uniform on the unit sphere, or ``x - step*u``."""
        import numpy as np

        self.n_proposed_total += 1
        if self.direction is not None:
            move = self.x - self.direction
            self.direction = None
        else:
            u = rng.standard_normal(self.x.shape[0])
            while not np.linalg.norm(u) > 0:
                u = rng.standard_normal(self.x.shape[0])
            self.direction = np.multiply(u, self.step / float(np.linalg.norm(u)))
            move = self.x + self.direction
        return np.clip(move, 0.0, 1.0)

    def after_proposal(self, same: bool, step_increment: float) -> bool:
        """Count a proposal; shrink the step after ``n_dirs`` of them.

        Args:
            same: Whether the proposed config equals the incumbent's.
            step_increment: Added to the step in the initial phase when both moves of a
                pair round to the incumbent (discrete spaces).

        Returns:
            False when the step is below its lower bound at a shrink: the thread is stuck
            and the proposal is dropped.
        """
        if self.init_phase:
            if self.direction is None:  # the -u move of a pair
                if self.same and same:
                    self.step = min(self.step + step_increment, self.step_ub)
            else:
                self.same = same
        self.n_proposed += 1
        if self.n_proposed == self.n_dirs:
            self.n_proposed -= 2
            self.init_phase = False
            if self.step < self.step_lb:
                return False
            self.old_k = self.k or self.iter_best
            self.k = self.n_proposed_total + 1
            self.step *= math.sqrt(self.old_k / self.k)
        return True

    def move_to(self, x: np.ndarray, config: dict[str, Any], score: float, step: float | None, step_lb: float) -> None:
        """A better result: it becomes the incumbent, with the step it was proposed at."""
        self.x, self.config, self.score, self.step_lb = x, config, score, step_lb
        self.step = self.step if step is None else step
        if self.k > 0:
            self.step *= math.sqrt(self.k / self.old_k)
        self.step = min(self.step, self.step_ub)
        self.n_complete = self.n_proposed = 0
        self.iter_best = self.n_complete_total
        self.version += 1

    def no_improvement(self, counts: bool) -> None:
        """A result that did not improve (``counts``: it came from a move of this incumbent)."""
        if counts:
            self.n_complete += 1
            if self.n_complete == self.n_dirs:
                self.n_complete -= 2

    @property
    def converged(self) -> bool:
        return self.n_complete >= self.n_dirs - 2 and self.step < self.step_lb


def _numeric(choices: Sequence[Any]) -> bool:
    return all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in choices)
