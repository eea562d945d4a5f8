"""``LCPFNStopper``: LC-PFN predictive early stopping as a Ray Tune ``TrialScheduler``.

Reference: Adriaensen, Rakotoarison, Müller & Hutter, "Efficient Bayesian Learning Curve
Extrapolation using Prior-Data Fitted Networks", NeurIPS 2023, Section 5 (following
Domhan, Springenberg & Hutter, IJCAI 2015): stop a run once
``P(y at the final budget beats the incumbent) < threshold``. The rule is
:class:`hpo.surrogates.lcpfn.stopping.StoppingRule`, the one that
:class:`hpo.schedulers.LCStopping` and :class:`hpo.integrations.optuna.LCPFNPruner` use.
"""

from __future__ import annotations

from typing import Any

from ray.tune.schedulers import FIFOScheduler, TrialScheduler

from hpo.errors import SettingError
from hpo.trial import finite

__all__ = ["LCPFNStopper"]


class LCPFNStopper(FIFOScheduler):
    """Stop Ray Tune trials whose extrapolated final value is unlikely to beat the best one.

    On each result the trial's learning curve, ``(result[time_attr], result[metric])``
    points, goes to LC-PFN, which predicts the value at ``max_t``; the trial is stopped when
    the probability that it beats the best value a trial has reached at ``max_t`` is below
    ``threshold``. Until some trial has reached ``max_t`` nothing is stopped. Trials are
    stopped at ``max_t`` too, as Ray's ASHA does, so ``max_t`` must be the length of a
    full run. Trials run first come, first served (Ray's ``FIFOScheduler``).

    **Metric range.** LC-PFN models curves in [0, 1]: values are mapped with
    ``y_range=(lo, hi)`` (``(y - lo) / (hi - lo)``, or ``(hi - y) / (hi - lo)`` for
    ``mode="min"``, so a good curve rises). Give the range the metric can span, e.g.
    ``(0, 100)`` for an accuracy in percent or ``(0, initial_loss)`` for a loss. With
    ``y_range=None`` (default) it is inferred from the values seen so far
    (:func:`hpo.surrogates.lcpfn.stopping.infer_y_range`): ``(0, 1)`` while every value
    lies in [0, 1] (accuracies, error rates); ``(0, 100)`` for a maximized metric whose
    values lie in [0, 100] and exceed 1 (an accuracy in percent); ``(0, median first
    value)`` for a non-negative metric to minimize (a loss); anything else raises
    :class:`~hpo.errors.SettingError` asking for ``y_range``.

    Args:
        time_attr: The result key of progress, 1-based and increasing
            (``"training_iteration"``: 1, 2, ...).
        metric: The result key judged; None to take ``TuneConfig(metric=...)``.
        mode: ``"min"`` or ``"max"``; None to take ``TuneConfig(mode=...)``.
        max_t: The ``time_attr`` value of a full run (the final budget LC-PFN predicts at).
        grace_period: No trial is stopped before ``time_attr`` reaches it.
        threshold: Stop when P(final value beats the best) falls below it (0.05).
        min_steps: Results a trial must have made before it may be stopped (3; see ``rank_check``).
        y_range: ``(lo, hi)`` the metric spans, or None to infer it (see above).
        model: Anything with LC-PFN's ``prob_improvement``; default ``LCPFN.load()`` (the
            shipped weights), loaded on first use.
        every: Judge every ``every``-th result only (1), to save inference time.
        calibrate: Recalibrate LC-PFN on the trials that reach ``max_t``
            (:mod:`hpo.surrogates.lcpfn.calibration`; on by default).
        rank_check: Judge a trial before ``min_steps`` reports where this study's finished
            trials show that values at that point rank-agree with their finals
            (:mod:`hpo.surrogates.lcpfn.stopping`; on by default).

    Raises:
        SettingError: for a bad ``max_t``, ``grace_period``, ``mode``, ``y_range``,
            ``threshold``, ``min_steps`` or ``every``.
    """

    def __init__(
        self,
        time_attr: str = "training_iteration",
        metric: str | None = None,
        mode: str | None = None,
        max_t: float = 100,
        grace_period: float = 1,
        threshold: float = 0.05,
        min_steps: int = 3,
        y_range: tuple[float, float] | None = None,
        model: Any = None,
        every: int = 1,
        calibrate: bool = True,
        rank_check: bool = True,
    ) -> None:
        from hpo.surrogates.lcpfn.stopping import StoppingRule

        super().__init__()
        if isinstance(max_t, bool) or not isinstance(max_t, (int, float)) or not max_t > 0:
            raise SettingError(f"max_t must be a positive number, got {max_t!r}")
        if isinstance(grace_period, bool) or not isinstance(grace_period, (int, float)) or not 0 <= grace_period <= max_t:
            raise SettingError(f"grace_period must be in [0, max_t={max_t}], got {grace_period!r}")
        if mode not in (None, "min", "max"):
            raise SettingError(f"mode must be 'min' or 'max', got {mode!r}")
        self.rule = StoppingRule(threshold, min_steps, every, y_range, model, calibrate, rank_check)
        self.rule.label = repr(metric)  # for error messages; set_search_properties may name it later
        self.time_attr = time_attr
        self._metric = metric
        self._mode = mode
        self.max_t = max_t
        self.grace_period = grace_period
        self.threshold = threshold
        self.min_steps = min_steps
        self.y_range = y_range
        self.every = every
        self._curves: dict[str, list[tuple[float, float]]] = {}  # trial id -> (time, value)
        self._best: float | None = None  # best value at max_t
        self.n_stopped = 0

    @property
    def model(self) -> Any:
        return self.rule.model

    @property
    def best(self) -> float | None:
        """The best value a trial reached at ``max_t`` (None until one has)."""
        return self._best

    def set_search_properties(self, metric: str | None, mode: str | None, **spec: Any) -> bool:
        if (self._metric and metric) or (self._mode and mode):
            return False  # Ray then asks the user to give them once
        if mode not in (None, "min", "max"):
            raise SettingError(f"mode must be 'min' or 'max', got {mode!r}")
        self._metric = self._metric or metric
        self._mode = self._mode or mode
        self.rule.label = repr(self._metric)
        return True

    def on_trial_add(self, tune_controller: Any, trial: Any) -> None:
        if not self._metric or not self._mode:
            raise SettingError("LCPFNStopper needs a metric and a mode: pass them to LCPFNStopper(...) or TuneConfig(...)")

    def on_trial_result(self, tune_controller: Any, trial: Any, result: dict) -> str:
        t, value = finite(result.get(self.time_attr)), finite(result.get(self._metric))
        if t is None or value is None:
            return TrialScheduler.CONTINUE
        curve = self._curves.setdefault(trial.trial_id, [])
        while curve and curve[-1][0] >= t:  # a trial restarted without a checkpoint retraces its curve
            curve.pop()
        curve.append((t, value))
        if t >= self.max_t:
            self._track(value)
            self.rule.observe_final(curve, float(self.max_t), self._mode == "max")
            return TrialScheduler.STOP
        if t < self.grace_period:
            return TrialScheduler.CONTINUE
        if self.rule.should_stop(curve, float(self.max_t), self._best, self._mode == "max"):
            self.n_stopped += 1
            return TrialScheduler.STOP
        return TrialScheduler.CONTINUE

    def on_trial_complete(self, tune_controller: Any, trial: Any, result: dict) -> None:
        t, value = finite((result or {}).get(self.time_attr)), finite((result or {}).get(self._metric))
        if t is not None and value is not None and t >= self.max_t:
            self._track(value)
        self._curves.pop(trial.trial_id, None)

    def on_trial_remove(self, tune_controller: Any, trial: Any) -> None:
        self._curves.pop(trial.trial_id, None)

    def on_trial_error(self, tune_controller: Any, trial: Any) -> None:
        self._curves.pop(trial.trial_id, None)

    def debug_string(self) -> str:
        return f"Using LCPFNStopper (LC-PFN, threshold {self.threshold}): {self.n_stopped} trials stopped early."

    def _track(self, value: float) -> None:
        better = self._best is None or (value > self._best if self._mode == "max" else value < self._best)
        if better:
            self._best = value
