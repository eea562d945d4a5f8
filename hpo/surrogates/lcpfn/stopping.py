"""The LC-PFN early-stopping rule, shared by :class:`hpo.schedulers.LCStopping` and
:class:`hpo.integrations.optuna.LCPFNPruner`.

Reference: Adriaensen, Rakotoarison, Müller & Hutter, "Efficient Bayesian Learning Curve
Extrapolation using Prior-Data Fitted Networks", NeurIPS 2023, Section 5 (following
Domhan, Springenberg & Hutter, IJCAI 2015): stop a run once
``P(y at the final budget beats the incumbent) < threshold``.

Deviation (``rank_check``, on by default): the paper judges a run from its first epoch on;
a fixed ``min_steps`` guards against early epochs that mislead (warm-up, schedules, a
first epoch whose ranks run backwards). Here a curve may be judged before ``min_steps``
points only where the task's own finished curves show that their values at that epoch
order runs as their final values do: Kendall's tau between the two, over at least
``hpo._rank.MIN_COMMON`` (6) finished curves, with P(tau > 0) = ``Phi(tau / sd0(n))`` of at least
``RANK_CONFIDENCE`` (a one-sided 5% test of no rank agreement; the rank rule of
:mod:`hpo._rank`, after Hyper-Tune, Li et al., VLDB 2022).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Any

from hpo.errors import SettingError

__all__ = ["StoppingRule", "infer_y_range", "positive_ints"]

#: P(tau > 0) an early epoch needs before a curve is judged there (one-sided 5% test).
RANK_CONFIDENCE = 0.95


def infer_y_range(low: float, high: float, start: float, maximize: bool) -> tuple[tuple[float, float], str] | None:
    """The range LC-PFN maps a metric from, inferred from its values, and the reason; None if unknown.

    LC-PFN models curves in [0, 1] on which a good run rises. Without a given range:

    * every value in [0, 1] (an accuracy, an error rate): ``(0, 1)``;
    * a maximised metric in [0, 100] with values above 1 (an accuracy in percent): ``(0, 100)``;
    * a minimised metric that is never negative (a loss, an error in percent):
      ``(0, start)``, ``start`` the *median first value* of the curves. A loss's floor is 0
      and its scale is where training begins. The median, not the largest: on real loss
      curves a few runs start orders of magnitude higher (a too-large learning rate; on the
      recorded digits MLP runs first values reach 360 where the median is 2.3) and would
      squash every other curve against the top. A value above ``start`` (a run that starts
      badly or diverges) is clipped there, at the bottom of LC-PFN's scale;
    * a maximised metric that is never positive (a negated loss): ``(start, 0)``;
    * anything else (rewards, log-likelihoods): None; the caller asks for ``y_range``.

    Args:
        low: The smallest finite value seen.
        high: The largest finite value seen.
        start: The median first value of the curves seen.
        maximize: Whether larger values are better.
    """
    if 0.0 <= low and high <= 1.0:
        return (0.0, 1.0), "every value lies in [0, 1]"
    if maximize and 0.0 <= low and high <= 100.0:
        return (0.0, 100.0), "a maximised metric in [0, 100] (a percentage)"
    if not maximize and low >= 0.0 and start > 0.0:
        return (0.0, start), "a non-negative metric to minimise (a loss): 0 to the median first value of a curve"
    if maximize and high <= 0.0 and start < 0.0:
        return (start, 0.0), "a non-positive metric to maximise (a negated loss): the median first value of a curve to 0"
    return None


def positive_ints(**values: Any) -> None:
    """Raise :class:`SettingError` naming the first argument that is not a positive integer."""
    for label, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise SettingError(f"{label} must be a positive integer, got {value!r}")


class StoppingRule:
    """Stop a curve whose extrapolated final value is unlikely to beat the best one.

    Args:
        threshold: Stop when P(final value beats the best) falls below it (0.05).
        min_steps: Points a curve must have before it may be stopped (3), unless
            ``rank_check`` finds its latest epoch trustworthy.
        every: Judge every ``every``-th point only (1), to save inference time.
        y_range: ``(low, high)`` the metric can span, to map it onto LC-PFN's [0, 1]; values
            outside are clipped to it. None (default): inferred from the values seen so far
            (:func:`infer_y_range`: ``(0, 1)``, ``(0, 100)`` for a percentage to maximise,
            ``(0, median first value)`` for a loss to minimise); a metric it cannot place raises
            :class:`SettingError` at the first judgement, asking for ``y_range``.
        model: Anything with LC-PFN's ``prob_improvement``; default ``LCPFN.load()``
            (the shipped weights), loaded on first use.
        calibrate: Recalibrate the model on the task's own curves that reach the final
            epoch (:meth:`observe_final`; :mod:`hpo.surrogates.lcpfn.calibration`). On by
            default: how well LC-PFN's intervals hold differs from task to task.
        rank_check: Judge a curve before ``min_steps`` points where the finished curves'
            values at its latest epoch rank-agree with their finals (module docstring; on
            by default). Off: ``min_steps`` is a fixed floor, as before.

    Raises:
        SettingError: for a threshold outside (0, 1), a bad ``min_steps``/``every`` or ``y_range``.
    """

    #: Names the metric in error messages (callers set it, e.g. to the study's metric).
    label = "the reported metric"

    def __init__(
        self,
        threshold: float = 0.05,
        min_steps: int = 3,
        every: int = 1,
        y_range: tuple[float, float] | None = None,
        model: Any = None,
        calibrate: bool = True,
        rank_check: bool = True,
    ) -> None:
        if y_range is not None:
            try:
                low, high = (float(v) for v in y_range)
            except (TypeError, ValueError):
                low = high = math.nan
            if not (math.isfinite(low) and math.isfinite(high) and low < high):
                raise SettingError(f"y_range must be (low, high) with finite low < high, or None to infer it, got {y_range!r}")
            y_range = (low, high)
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 < threshold < 1:
            raise SettingError(f"threshold must be in (0, 1), got {threshold!r}")
        positive_ints(min_steps=min_steps, every=every)
        self.threshold = float(threshold)
        self.min_steps = min_steps
        self.every = every
        self.y_range = y_range
        self._model = model
        self.calibrate = calibrate
        self._calibrated: Any = None
        self.rank_check = rank_check
        self._finished: list[tuple[dict[float, float], float]] = []  # (epoch -> value, final value)
        self._trusted: dict[float, bool] = {}  # epoch -> rank check passed (cache, reset per finish)
        self._seen = [math.inf, -math.inf]  # smallest and largest finite value seen (to infer y_range)
        self._starts: set[float] = set()  # the curves' first values (distinct values stand for curves)
        self._median_start: float | None = None  # cached median of _starts (a judgement per report needs it)

    def scale(self, maximize: bool) -> tuple[float, float]:
        """The ``(low, high)`` mapped onto LC-PFN's [0, 1]: ``y_range``, or inferred from the values seen.

        Raises:
            SettingError: with ``y_range=None``, for values :func:`infer_y_range` cannot place.
        """
        if self.y_range is not None:
            return self.y_range
        low, high = self._seen
        if low > high:
            return (0.0, 1.0)  # nothing seen yet
        if self._median_start is None:
            self._median_start = statistics.median(self._starts)
        inferred = infer_y_range(low, high, self._median_start, maximize)
        if inferred is None:
            goal = "maximised" if maximize else "minimised"
            raise SettingError(
                f"LC-PFN needs the range of {self.label}: its values so far lie in [{low:g}, {high:g}] ({goal}), "
                "which is neither in [0, 1], a percentage to maximise, a non-negative loss to minimise, nor a "
                "non-positive metric to maximise; pass y_range=(low, high), the range it can span"
            )
        return inferred[0]

    def _see(self, curve: Sequence[tuple[float, float]]) -> None:
        """Widen the seen values by ``curve``'s finite points (the first one is its start)."""
        if not curve:
            return
        ys = [p[1] for p in curve]
        self._seen = [min(self._seen[0], *ys), max(self._seen[1], *ys)]
        if ys[0] not in self._starts:
            self._starts.add(ys[0])
            self._median_start = None

    def _mapped(self, curve: Sequence[tuple[float, float]], low: float, high: float) -> list[tuple[float, float]]:
        """``curve``'s points with their values clipped to ``[low, high]`` (LC-PFN's support)."""
        return [(x, min(max(y, low), high)) for x, y in curve]

    @property
    def model(self) -> Any:
        """The model the rule asks: LC-PFN, recalibrated when ``calibrate`` is on."""
        if self._model is None:
            from hpo.surrogates.lcpfn import LCPFN

            self._model = LCPFN.load()
        if not self.calibrate:
            return self._model
        if self._calibrated is None:
            from hpo.surrogates.lcpfn.calibration import CalibratedLCPFN, Recalibration

            self._calibrated = CalibratedLCPFN(self._model, Recalibration(min_steps=self.min_steps))
        return self._calibrated

    def observe_final(self, curve: Sequence[tuple[float, float]], x_final: float, maximize: bool) -> None:
        """Learn from a curve of ``(epoch, value)`` points that reached ``x_final``.

        It recalibrates the model (with ``calibrate``) and joins the rank check's curves.
        """
        if not curve or curve[-1][0] < x_final or not math.isfinite(curve[-1][1]):
            return
        finite = _finite(curve)
        self._see(finite)
        if self.calibrate:
            low, high = self.scale(maximize)
            self.model.observe(self._mapped(finite, low, high), x_final, maximize=maximize, y_range=(low, high))
        if self.rank_check:
            self._finished.append(({float(x): float(y) for x, y in _finite(curve)}, float(curve[-1][1])))
            self._trusted.clear()

    def trusted_early(self, epoch: float) -> bool:
        """Whether the finished curves' values at ``epoch`` rank-agree with their finals.

        True when at least ``hpo._rank.MIN_COMMON`` (6) finished curves have a value at ``epoch`` and
        P(Kendall's tau > 0) >= ``RANK_CONFIDENCE``; False otherwise or with ``rank_check`` off.
        """
        if not self.rank_check:
            return False
        key = float(epoch)
        if key not in self._trusted:
            from hpo._rank import MIN_COMMON, kendall_agreement, positive_rank_probability

            at = {i: pts[key] for i, (pts, _) in enumerate(self._finished) if key in pts}
            finals = {i: final for i, (_, final) in enumerate(self._finished)}
            agreement = kendall_agreement(at, finals, min_common=MIN_COMMON)
            self._trusted[key] = agreement is not None and positive_rank_probability(*agreement) >= RANK_CONFIDENCE
        return self._trusted[key]

    def probabilities(
        self, curves: Sequence[Sequence[tuple[float, float]]], x_final: float, best: float, maximize: bool
    ) -> list[float]:
        """P(value at ``x_final`` beats ``best``) for each curve of ``(epoch, value)`` points (batched).

        Non-finite points (a NaN or inf report) are left out of a curve; a curve with no
        finite point gets 0. Values (and ``best``) are clipped to :meth:`scale`.
        """
        clean = [_finite(c) for c in curves]
        known = [c for c in clean if c]
        out = iter([])
        if known:
            for c in known:
                self._see(c)
            low, high = self.scale(maximize)
            known = [self._mapped(c, low, high) for c in known]
            x = [[p[0] for p in c] for c in known]
            y = [[p[1] for p in c] for c in known]
            best = min(max(best, low), high)
            probs = self.model.prob_improvement(x, y, x_final=x_final, threshold=best, maximize=maximize, y_range=(low, high))
            out = iter([float(p) for p in probs])
        return [next(out) if c else 0.0 for c in clean]

    def should_stop(
        self, curve: Sequence[tuple[float, float]], x_final: float, best: float | None, maximize: bool
    ) -> bool:
        """Whether to stop a curve of 1-based ``(epoch, value)`` points now.

        Never before there is a best final value, before ``min_steps`` points (unless
        :meth:`trusted_early` passes for the latest epoch), between every ``every``-th
        point, or once the final epoch is in. A curve whose latest value
        is NaN or inf (the run diverged) is stopped at once, as Optuna's ``MedianPruner``
        prunes a NaN report; earlier non-finite points are left out of the extrapolation.
        """
        if curve and not math.isfinite(curve[-1][1]):
            return True
        if best is None or len(curve) % self.every:
            return False
        if len(curve) < self.min_steps and not self.trusted_early(curve[-1][0]):
            return False
        if curve[-1][0] >= x_final:
            return False
        return self.probabilities([curve], x_final, best, maximize)[0] < self.threshold


def _finite(curve: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """The points of ``curve`` with a finite value."""
    return [p for p in curve if math.isfinite(p[1])]
