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
from typing import Any, ClassVar

from hpo.schedulers.base import BaseScheduler
from hpo.schedulers.fifo import FIFOScheduler
from hpo.searchers.base import BaseSearcher
from hpo.surrogates.lcpfn.stopping import StoppingRule
from hpo.trial import Decision, Job, Observation, Report, StudyView, Trial, TrialStatus

__all__ = ["LCStopping"]


class LCStopping(BaseScheduler):
    """Stop trials whose extrapolated final value is unlikely to beat the incumbent.

    The rule is :class:`hpo.surrogates.lcpfn.stopping.StoppingRule`, which
    ``hpo.integrations.optuna.LCPFNPruner`` shares.

    Args:
        searcher: Where new configs come from (passed to the default FIFO base).
        base: The scheduler that hands out jobs (default ``FIFOScheduler(searcher)``).
        threshold: Stop when P(final value beats the incumbent) falls below it (0.05).
        min_steps: Reports a trial must have made before it may be stopped (3; see ``rank_check``).
        y_range: ``(low, high)`` the metric can span, to map it onto LC-PFN's [0, 1]
            scale, e.g. (0, 100) for an accuracy in percent. None (default): inferred from
            the reports (:func:`hpo.surrogates.lcpfn.stopping.infer_y_range`: (0, 1), a
            percentage to maximise, or (0, median first value) for a loss to minimise); a metric
            it cannot place raises :class:`~hpo.errors.SettingError` naming it.
        model: Anything with LC-PFN's ``prob_improvement``; default ``LCPFN.load()``
            (the shipped weights), loaded on first use.
        every: Judge every ``every``-th report only (1), to save inference time.
        calibrate: Recalibrate LC-PFN on this study's curves that reach ``budget.max``
            (:mod:`hpo.surrogates.lcpfn.calibration`; on by default). The curves are held
            in memory: after a resume it starts again from the model.
        rank_check: Judge a trial before ``min_steps`` reports where this study's finished
            trials show that values at that point rank-agree with their finals
            (:mod:`hpo.surrogates.lcpfn.stopping`; on by default).

    Raises:
        SettingError: for a threshold outside (0, 1), a bad ``min_steps``/``every`` or ``y_range``.
    """

    needs_intermediate_reports: ClassVar[bool] = True

    def __init__(
        self,
        searcher: BaseSearcher,
        base: BaseScheduler | None = None,
        threshold: float = 0.05,
        min_steps: int = 3,
        y_range: tuple[float, float] | None = None,
        model: Any = None,
        every: int = 1,
        calibrate: bool = True,
        rank_check: bool = True,
    ) -> None:
        super().__init__(searcher)
        self.rule = StoppingRule(threshold, min_steps, every, y_range, model, calibrate, rank_check)
        self.base = base if base is not None else FIFOScheduler(searcher)
        self.threshold = threshold
        self.min_steps = min_steps
        self.y_range = y_range
        self.every = every
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
        return self.rule.model

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
        if self._budget_max is not None and self.rule.should_stop(curve, self._budget_max, self._best, self._maximize):
            self.n_stopped += 1
            return Decision.STOP
        return decision

    def probability(self, curves: Sequence[Sequence[tuple[float, float]]]) -> list[float]:
        """P(final value beats the incumbent) for each curve of ``(epoch, value)`` points (batched)."""
        assert self._budget_max is not None and self._best is not None
        return self.rule.probabilities(curves, self._budget_max, self._best, self._maximize)

    def on_complete(self, trial: Trial) -> None:
        if trial.status is not TrialStatus.PAUSED:  # a paused trial's curve goes on in its next job
            curve = self._curves.pop(trial.trial_id, None)
            if trial.status is TrialStatus.COMPLETED and curve and self._budget_max is not None:
                self.rule.observe_final(curve, self._budget_max, self._maximize)
        self._track(trial)
        self.base.on_complete(trial)

    def _track(self, trial: Trial) -> None:
        """Keep the best value of the trials that reached the full budget."""
        if trial.status is not TrialStatus.COMPLETED or trial.value is None:
            return
        if self._best is None or self.searcher.sign * trial.value > self.searcher.sign * self._best:
            self._best = trial.value

    def set_objective(self, metric: Any, mode: Any) -> None:
        self.rule.label = repr(metric)
        self.base.set_objective(metric, mode)

    def set_cost_budget(self, total: float | None) -> None:
        self.base.set_cost_budget(total)

    def observe(self, observation: Observation) -> None:
        self.base.observe(observation)  # the base scheduler's searcher proposes the configs

    def restore(self, trials: Sequence[Trial]) -> None:
        for trial in trials:
            self._track(trial)
        self.base.restore(trials)

    def replay(self, observations: Sequence[Observation]) -> None:
        self.base.replay(observations)
