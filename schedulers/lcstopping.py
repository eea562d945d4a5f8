"""Predictive early stopping with a learning-curve extrapolator (LC-PFN).

Reference: Adriaensen, Rakotoarison, Müller & Hutter, "Efficient Bayesian Learning Curve
Extrapolation using Prior-Data Fitted Networks", NeurIPS 2023, Section 5 (following
Domhan, Springenberg & Hutter, IJCAI 2015): stop a run once
``P(y at the final budget beats the incumbent) < threshold`` (0.05).

:class:`LCStopping` wraps another scheduler (FIFO by default; ASHA and Hyperband
compose): that scheduler decides which jobs run and how far; LC-PFN judges every report
inside a job and stops the trial when its curve, extrapolated to ``budget.max``, is
unlikely to beat the best final value seen so far. With ASHA it thus decides within a
rung. Until a trial has reached the full budget there is no incumbent, and nothing is
stopped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hpo.errors import HPOError
from hpo.schedulers.base import BaseScheduler
from hpo.schedulers.fifo import FIFOScheduler
from hpo.searchers.base import BaseSearcher
from hpo.trial import Decision, Job, Report, StudyView, Trial, TrialStatus

__all__ = ["LCStopping"]


class LCStopping(BaseScheduler):
    """Stop trials whose extrapolated final value is unlikely to beat the incumbent.

    Args:
        searcher: Where new configs come from (passed to the default FIFO base).
        base: The scheduler that hands out jobs (default ``FIFOScheduler(searcher)``).
        threshold: Stop when P(final value beats the incumbent) falls below it (0.05).
        min_steps: Reports a trial must have made before it may be stopped (3).
        y_range: ``(low, high)`` the metric can span, to map it onto LC-PFN's [0, 1]
            scale (default (0, 1), e.g. an accuracy; for a loss give e.g. (0, its start)).
        model: Anything with LC-PFN's ``prob_improvement``; default ``LCPFN.load()``
            (the shipped weights), loaded on first use.
        every: Judge every ``every``-th report only (1), to save inference time.

    Raises:
        HPOError: for a threshold outside (0, 1) or a bad ``min_steps``/``every``.
    """

    def __init__(
        self,
        searcher: BaseSearcher,
        base: BaseScheduler | None = None,
        threshold: float = 0.05,
        min_steps: int = 3,
        y_range: tuple[float, float] = (0.0, 1.0),
        model: Any = None,
        every: int = 1,
    ) -> None:
        super().__init__(searcher)
        if not 0 < threshold < 1:
            raise HPOError(f"threshold must be in (0, 1), got {threshold!r}")
        for label, value in (("min_steps", min_steps), ("every", every)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise HPOError(f"{label} must be a positive integer, got {value!r}")
        self.base = base if base is not None else FIFOScheduler(searcher)
        self.threshold = threshold
        self.min_steps = min_steps
        self.y_range = y_range
        self.every = every
        self._model = model
        self._curves: dict[int, list[tuple[float, float]]] = {}  # trial id -> (epoch, value)
        self._best: float | None = None  # best value of a trial that reached the full budget
        self._budget_max: float | None = None
        self.n_stopped = 0

    # capabilities follow the base
    @property
    def pauses_trials(self) -> bool:  # type: ignore[override]
        return self.base.pauses_trials

    @property
    def model(self) -> Any:
        if self._model is None:
            from hpo.surrogates.lcpfn import LCPFN

            self._model = LCPFN.load()
        return self._model

    @property
    def _maximize(self) -> bool:
        return self.searcher.sign > 0  # the study tells the searcher its metric and mode

    def next_job(self, view: StudyView) -> Job | None:
        self._budget_max = float(view.budget.max)
        return self.base.next_job(view)

    def on_report(self, trial: Trial, report: Report) -> Decision:
        decision = self.base.on_report(trial, report)
        value = report.value(self.searcher.metric)
        if decision is not Decision.CONTINUE or value is None:
            return decision
        curve = self._curves.setdefault(trial.trial_id, [])
        epoch = float(report.step) + 1.0  # steps are 0-based epochs
        while curve and curve[-1][0] >= epoch:  # a job that restarted without a checkpoint retraces its curve
            curve.pop()
        curve.append((epoch, float(value)))
        if self._best is None or self._budget_max is None or len(curve) < self.min_steps:
            return decision
        if len(curve) % self.every or curve[-1][0] >= self._budget_max:
            return decision
        if self.probability([curve])[0] < self.threshold:
            self.n_stopped += 1
            return Decision.STOP
        return decision

    def probability(self, curves: Sequence[Sequence[tuple[float, float]]]) -> list[float]:
        """P(final value beats the incumbent) for each curve of ``(epoch, value)`` points (batched)."""
        x = [[p[0] for p in c] for c in curves]
        y = [[p[1] for p in c] for c in curves]
        probs = self.model.prob_improvement(
            x, y, x_final=self._budget_max, threshold=self._best, maximize=self._maximize, y_range=self.y_range
        )
        return [float(p) for p in probs]

    def on_complete(self, trial: Trial) -> None:
        if trial.status is not TrialStatus.PAUSED:  # a paused trial's curve goes on in its next job
            self._curves.pop(trial.trial_id, None)
        self._track(trial)
        self.base.on_complete(trial)

    def _track(self, trial: Trial) -> None:
        """Keep the best value of the trials that reached the full budget."""
        if trial.status is not TrialStatus.COMPLETED or trial.value is None:
            return
        if self._best is None or self.searcher.sign * trial.value > self.searcher.sign * self._best:
            self._best = trial.value

    def restore(self, trials: Sequence[Trial]) -> None:
        for trial in trials:
            self._track(trial)
        self.base.restore(trials)
