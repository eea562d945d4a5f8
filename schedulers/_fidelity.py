"""Shared parts of the multi-fidelity schedulers: rung budgets and model-based sampling.

Model-based variants (BOHB-style; Falkner, Klein & Hutter, "BOHB: Robust and Efficient
Hyperparameter Optimization at Scale", ICML 2018): the searcher observes every job's
result at the fidelity it reached (a PAUSED trial at its rung, a PRUNED or FAILED one
too) and chooses what to fit itself (``BOSearcher`` fits the largest budget with at least
``d + 1`` results). When it learns from history (``searcher.uses_history``), a fraction
``random_fraction`` (1/3, as in BOHB) of new configs is drawn uniformly at random instead.
With a searcher that does not learn (random, Sobol), every config comes from it directly.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

from hpo.errors import HPOError
from hpo.schedulers.base import BaseScheduler
from hpo.searchers.base import BaseSearcher
from hpo.trial import Job, StudyView, Trial

__all__ = ["rung_budgets", "snap_budget", "MultiFidelityScheduler"]


def snap_budget(value: float, low: float, high: float, integral: bool) -> float:
    """A budget rounded to an integer for integer budgets (epochs), kept in ``[low, high]``."""
    if integral:
        value = float(round(value))
    return min(max(value, low), high)


def rung_budgets(low: float, high: float, eta: float) -> list[float]:
    """ASHA's rung budgets ``low * eta^k`` below ``high``, then ``high``.

    Integer ranges give integer rungs (duplicates after rounding are dropped), e.g.
    ``rung_budgets(1, 52, 3) == [1, 3, 9, 27, 52]``.
    """
    integral = float(low).is_integer() and float(high).is_integer()
    out: list[float] = []
    k = 0
    while True:
        r = low * eta**k
        if r >= high * (1 - 1e-9):
            break
        b = snap_budget(r, low, high, integral)
        if not out or b > out[-1]:
            out.append(b)
        k += 1
    if not out or high > out[-1]:
        out.append(float(high))
    return out


def check_eta(eta: float) -> float:
    if isinstance(eta, bool) or not isinstance(eta, (int, float)) or not eta > 1:
        raise HPOError(f"eta must be a number > 1, got {eta!r}")
    return float(eta)


class MultiFidelityScheduler(BaseScheduler):
    """Base of the schedulers that run trials rung by rung and promote the best.

    Jobs end at a rung's budget (``budget.stop``); the study then records the trial
    PAUSED with its value at that budget, and the scheduler may later continue it with a
    job from that budget to the next rung.

    Args:
        searcher: Where new configs come from (see the module docstring for model-based).
        eta: Reduction factor.
        random_fraction: Share of uniformly random new configs with a model-based searcher.
    """

    pauses_trials: ClassVar[bool] = True
    judges_reports: ClassVar[bool] = False

    def __init__(self, searcher: BaseSearcher, eta: float = 3, random_fraction: float = 1 / 3) -> None:
        super().__init__(searcher)
        self.eta = check_eta(eta)
        if not 0 <= random_fraction <= 1:
            raise HPOError(f"random_fraction must be in [0, 1], got {random_fraction!r}")
        self.random_fraction = random_fraction
        self.rng = self._own_rng()

    # ------------------------------------------------------------------ results
    def _signed(self, value: float) -> float:
        """Larger is better."""
        return self.searcher.sign * value

    @staticmethod
    def reached(trial: Trial) -> float:
        """The budget position a trial reached (its last job's stop, for completed jobs)."""
        return trial.fidelity

    # ------------------------------------------------------------------ new configs
    def _suggest(self, view: StudyView) -> dict[str, Any]:
        if self.searcher.uses_history:
            if self.rng.random() < self.random_fraction:
                return dict(self.searcher.space.sample(self.rng))
        (config,) = self.searcher.suggest(1, pending=self._pending(view))
        return config

    def _start_new(self, view: StudyView, stop: float, notes: Mapping[str, Any] | None = None) -> Job | None:
        """A job for a new (or enqueued) trial from 0 up to ``stop``, with ``notes`` on the
        trial; None if none may start."""
        from hpo.budget import JobBudget

        if not view.can_start_trial():
            return None
        trial = view.take_enqueued()
        if trial is None:
            trial = view.new_trial(self._suggest(view), notes=notes)
        elif notes:
            trial = view.annotate(trial.trial_id, notes)
        return Job(trial, JobBudget(0, stop, view.budget.max))

    @staticmethod
    def _continue(view: StudyView, trial: Trial, start: float, stop: float) -> Job:
        from hpo.budget import JobBudget

        return Job(trial, JobBudget(start, stop, view.budget.max))


def n_at_least_one(n: float) -> int:
    return max(1, int(math.floor(n)))
