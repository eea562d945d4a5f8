"""ASHA: asynchronous successive halving, the promotion variant.

Reference: Li, Jamieson, Rostamizadeh, Gonina, Ben-Tzur, Hardt, Recht & Talwalkar,
"A System for Massively Parallel Hyperparameter Tuning", MLSys 2020, Algorithm 2.

Rung ``k`` has budget ``r * eta^(s + k)`` (``r = budget.min``, ``s`` the minimum
early-stopping rate), and the last rung is ``budget.max``. Whenever a worker is free,
``get_job`` looks at the rungs from the top down: the best config of rung ``k`` that is
in the top ``floor(|rung k| / eta)`` and not yet promoted is continued up to rung
``k + 1``; if nothing can be promoted, a new config starts at the bottom rung. A
promoted trial continues from its checkpoint (see :mod:`hpo.checkpoint`), so it spends
only the budget between the two rungs.

This is not Ray Tune's ``ASHAScheduler``, which only stops trials and never resumes one
(ray-project/ray#44256).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hpo.errors import HPOError
from hpo.schedulers._fidelity import MultiFidelityScheduler, rung_budgets
from hpo.searchers.base import BaseSearcher
from hpo.trial import Job, StudyView, Trial

__all__ = ["ASHA"]


class ASHA(MultiFidelityScheduler):
    """Asynchronous successive halving with promotions.

    Args:
        searcher: Where new configs come from; a model-based searcher makes this
            model-based ASHA (fitted on the largest budget with ``d + 1`` results, 1/3 of
            new configs random, as in BOHB).
        eta: Reduction factor (3 by default).
        min_early_stopping_rate: ``s``: the bottom rung is ``budget.min * eta^s``.
        random_fraction: Share of random new configs with a model-based searcher.
    """

    def __init__(
        self,
        searcher: BaseSearcher,
        eta: float = 3,
        min_early_stopping_rate: int = 0,
        random_fraction: float = 1 / 3,
    ) -> None:
        super().__init__(searcher, eta, random_fraction)
        if isinstance(min_early_stopping_rate, bool) or not isinstance(min_early_stopping_rate, int) or min_early_stopping_rate < 0:
            raise HPOError(f"min_early_stopping_rate must be an int >= 0, got {min_early_stopping_rate!r}")
        self.s = self.min_early_stopping_rate = min_early_stopping_rate
        self.rungs: list[float] | None = None
        # per rung: trial id -> value (user units); trials promoted out of it
        self._rung_values: list[dict[int, float]] = []
        self._ranked: list[list[tuple[float, int]]] = []  # per rung, sorted best first
        self._promoted: list[set[int]] = []
        self._trials: dict[int, Trial] = {}
        self._pending_restore: list[Trial] = []

    def _setup(self, view: StudyView) -> list[float]:
        if self.rungs is None:
            budget = view.budget
            self.rungs = rung_budgets(budget.min, budget.max, self.eta)[self.s :] or [float(budget.max)]
            self._rung_values = [{} for _ in self.rungs]
            self._ranked = [[] for _ in self.rungs]
            self._promoted = [set() for _ in self.rungs]
            for trial in self._pending_restore:
                self._restore_one(trial)
            self._pending_restore = []
        return self.rungs

    def rung_of(self, budget: float) -> int | None:
        """Index of the rung with this budget, or None."""
        rungs = self.rungs or []
        for k, r in enumerate(rungs):
            if abs(r - budget) <= 1e-9 * max(1.0, r):
                return k
        return None

    def next_job(self, view: StudyView) -> Job | None:
        rungs = self._setup(view)
        for k in range(len(rungs) - 2, -1, -1):
            trial_id = self._promotable(k)
            if trial_id is not None:
                self._promoted[k].add(trial_id)
                return self._continue(view, self._trials[trial_id], rungs[k], rungs[k + 1])
        job = self._start_new(view, rungs[0])
        if job is None and not view.running():
            job = self._finish_up(view, rungs)
        return job

    def _finish_up(self, view: StudyView, rungs: list[float]) -> Job | None:
        """No new trial may start and nothing runs: promote the best unpromoted trial of the
        highest rung below the top (deviation from Algorithm 2, which never ends: with a
        finite number of trials, the rungs' ``floor(n / eta)`` may leave no trial to reach
        ``budget.max``; this lets the study end with the best one trained to the full budget).
        """
        if self._ranked[len(rungs) - 1]:
            return None  # a trial already reached the full budget
        for k in range(len(rungs) - 2, -1, -1):
            for _, trial_id in self._ranked[k]:
                if trial_id not in self._promoted[k]:
                    self._promoted[k].add(trial_id)
                    return self._continue(view, self._trials[trial_id], rungs[k], rungs[k + 1])
        return None

    def _promotable(self, k: int) -> int | None:
        """The best trial of rung ``k`` in its top ``floor(n / eta)`` not promoted yet."""
        ranked = self._ranked[k]
        n_top = int(len(ranked) // self.eta)
        promoted = self._promoted[k]
        if len(promoted) >= n_top:
            return None
        for _, tid in ranked[:n_top]:
            if tid not in promoted:
                return tid
        return None

    def _add(self, k: int, trial: Trial) -> None:
        import bisect

        value = float(trial.value)  # type: ignore[arg-type]
        old = self._rung_values[k].get(trial.trial_id)
        if old is not None:
            self._ranked[k].remove((-self._signed(old), trial.trial_id))
        self._rung_values[k][trial.trial_id] = value
        bisect.insort(self._ranked[k], (-self._signed(value), trial.trial_id))
        self._trials[trial.trial_id] = trial

    def on_complete(self, trial: Trial) -> None:
        super().on_complete(trial)
        if self.rungs is None:
            return
        if trial.value is not None and trial.status.value in ("PAUSED", "COMPLETED"):
            k = self.rung_of(self.reached(trial))
            if k is not None:
                self._add(k, trial)

    def restore(self, trials: Sequence[Trial]) -> None:
        """A trial that reached rung ``j`` is put back in rungs ``0..j`` (promoted below ``j``).

        Its value at the lower rungs is its latest one (the per-rung values are in the
        stored reports, not in the trial); rung membership and promotions are exact.
        """
        super().restore(trials)
        self._pending_restore = list(trials)

    def _restore_one(self, trial: Trial) -> None:
        if trial.value is None or trial.status.value not in ("PAUSED", "COMPLETED"):
            return
        reached = self.reached(trial)
        top = max((k for k, r in enumerate(self.rungs or []) if r <= reached + 1e-9), default=None)
        if top is None:
            return
        for k in range(top + 1):
            self._add(k, trial)
            if k < top:
                self._promoted[k].add(trial.trial_id)

    def describe(self) -> dict[str, Any]:
        """Rung budgets and how many trials reached each (for logs and tests)."""
        return {"rungs": list(self.rungs or []), "sizes": [len(v) for v in self._rung_values]}

