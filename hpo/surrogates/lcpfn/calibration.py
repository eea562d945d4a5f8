"""Recalibrating LC-PFN's final-value predictive on the task's own finished curves.

LC-PFN is calibrated on its prior by construction; on real curves it need not be. On the
committed real sets its 90% interval of the final value at the 40% cutoff covers 44-78% of
real finals (``benchmarks/results/lcpfn.md``): real runs keep improving later than most prior
curves do, and by how much differs from one task to the next (LCBench tasks are close to
calibrated, ConvNeXt with its schedule is far off). A fixed correction would fit one task
family; this one is learned per task from the curves a study has run to the end.

Method: quantile recalibration (Kuleshov, Fenner & Ermon, "Accurate Uncertainties for Deep
Learning Using Calibrated Regression", ICML 2018). For each finished curve and several of its
prefixes, the probability integral transform ``u = F(y_final | prefix)`` is recorded (in the
"goodness" orientation: ``u`` is the predicted probability of doing no better than the
curve really did). A calibrated model has uniform ``u``; the map ``R(u)`` = the share of
recorded ``u`` at or below ``u`` turns the model's CDF into a calibrated one, ``R(F(y))``.

Choices (documented deviations from the paper, which fits ``R`` by isotonic regression on
a held-out set):

* ``R`` is the weighted empirical CDF of the recorded values mixed with the identity, with
  ``prior_curves`` pseudo-curves of weight on the identity: with few finished curves the
  model is trusted, with many the data decide. It is strictly increasing, so invertible.
* Each finished curve weighs 1 in total, spread over up to ``max_prefixes`` prefixes evenly
  spaced between ``min_steps`` points and the last point before the final one: a curve's
  prefixes are strongly correlated and count as one observation.
* One map serves every cutoff and, in :meth:`CalibratedLCPFN.predict_quantiles`, every query
  epoch (the recorded values are for the final value only).
* In early stopping only curves that were not stopped reach the end, so the map is learned
  on the survivors: a selection effect the paper's held-out set does not have.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from hpo.errors import SettingError

__all__ = ["Recalibration", "CalibratedLCPFN"]


class Recalibration:
    """The map ``R(u)`` from the model's CDF of the final value to a calibrated CDF.

    Args:
        prior_curves: Pseudo-curves of weight on the identity map (3).
        max_prefixes: Prefixes of a finished curve that are scored (8).
        min_steps: The shortest prefix scored (3 points).

    Raises:
        SettingError: for a negative ``prior_curves`` or a bad ``max_prefixes``/``min_steps``.
    """

    def __init__(self, prior_curves: float = 3.0, max_prefixes: int = 8, min_steps: int = 3) -> None:
        if isinstance(prior_curves, bool) or not isinstance(prior_curves, (int, float)) or not prior_curves >= 0:
            raise SettingError(f"prior_curves must be >= 0, got {prior_curves!r}")
        from hpo.surrogates.lcpfn.stopping import positive_ints

        positive_ints(max_prefixes=max_prefixes, min_steps=min_steps)
        self.prior_curves = float(prior_curves)
        self.max_prefixes = max_prefixes
        self.min_steps = min_steps
        self._values: list[np.ndarray] = []  # one array of u per finished curve

    @property
    def n_curves(self) -> int:
        return len(self._values)

    def prefix_lengths(self, n_points: int) -> list[int]:
        """The prefix lengths scored for a finished curve of ``n_points`` points (the last is its final)."""
        top = n_points - 1
        if top < self.min_steps:
            return []
        k = min(self.max_prefixes, top - self.min_steps + 1)
        return sorted({int(round(v)) for v in np.linspace(self.min_steps, top, k)})

    def observe(
        self,
        model: Any,
        curve: Sequence[tuple[float, float]],
        x_final: float,
        *,
        maximize: bool = True,
        y_range: tuple[float, float] = (0.0, 1.0),
    ) -> np.ndarray:
        """Score a finished curve of ``(epoch, value)`` points whose last point is the final value.

        Returns:
            The recorded values ``u`` (shape ``(n_prefixes,)``; empty for a curve too short).
        """
        lengths = self.prefix_lengths(len(curve))
        if not lengths:
            return np.empty(0)
        final = float(curve[-1][1])
        x = [[float(p[0]) for p in curve[:k]] for k in lengths]
        y = [[float(p[1]) for p in curve[:k]] for k in lengths]
        beats = model.prob_improvement(x, y, x_final=float(x_final), threshold=final, maximize=maximize, y_range=y_range)
        u = np.clip(1.0 - np.asarray(beats, dtype=float), 0.0, 1.0)
        self.add(u)
        return u

    def add(self, u: Sequence[float]) -> None:
        """Record the values ``u`` of one finished curve (each curve weighs 1 in total)."""
        u = np.asarray(u, dtype=float).ravel()
        if len(u):
            self._values.append(np.clip(u, 0.0, 1.0))

    def cdf(self, u: np.ndarray | Sequence[float] | float) -> np.ndarray:
        """``R(u)``: the calibrated probability of doing no better than where the model says ``u``."""
        u = np.clip(np.asarray(u, dtype=float), 0.0, 1.0)
        total = self.prior_curves + self.n_curves
        if self.n_curves == 0 or total == 0:
            return u
        out = self.prior_curves * u
        for values in self._values:
            out = out + (values[:, None] <= u.ravel()[None, :]).mean(axis=0).reshape(u.shape)
        return np.asarray(out / total)

    def level(self, q: np.ndarray | Sequence[float] | float) -> np.ndarray:
        """``R^-1(q)``: the model's quantile level that is the calibrated level ``q`` (bisection)."""
        q = np.asarray(q, dtype=float)
        lo, hi = np.zeros_like(q), np.ones_like(q)
        for _ in range(40):
            mid = 0.5 * (lo + hi)
            below = self.cdf(mid) < q
            lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
        return np.clip(0.5 * (lo + hi), 1e-6, 1.0 - 1e-6)


class CalibratedLCPFN:
    """LC-PFN whose final-value predictions are recalibrated on finished curves of the task.

    It has LC-PFN's ``prob_improvement`` and ``predict_quantiles`` (so it can be the
    ``model`` of :class:`hpo.surrogates.lcpfn.stopping.StoppingRule`), and
    :meth:`observe` to learn from a curve that reached its final epoch. Until then it
    predicts what the model does.

    Args:
        model: An :class:`hpo.surrogates.lcpfn.LCPFN` (or anything with its methods).
        calibration: The map to learn (default ``Recalibration()``).

    Example::

        pfn = CalibratedLCPFN(LCPFN.load())
        for curve in finished_curves:          # lists of (epoch, value)
            pfn.observe(curve, x_final=50)
        pfn.prob_improvement([[1, 2, 3]], [[0.2, 0.3, 0.35]], x_final=50, threshold=0.8)
    """

    def __init__(self, model: Any, calibration: Recalibration | None = None) -> None:
        self.model = model
        self.calibration = calibration if calibration is not None else Recalibration()

    def __getattr__(self, name: str) -> Any:  # meta, version, log_density, ... of the model
        if name in ("model", "calibration"):
            raise AttributeError(name)
        return getattr(self.model, name)

    def observe(
        self,
        curve: Sequence[tuple[float, float]],
        x_final: float,
        *,
        maximize: bool = True,
        y_range: tuple[float, float] = (0.0, 1.0),
    ) -> None:
        """Learn from a curve of ``(epoch, value)`` points that reached ``x_final``."""
        self.calibration.observe(self.model, curve, x_final, maximize=maximize, y_range=y_range)

    def prob_improvement(self, x_obs: Any, y_obs: Any, x_final: float, threshold: Any, **kw: Any) -> np.ndarray:
        """LC-PFN's ``prob_improvement``, recalibrated: ``1 - R(1 - p)``."""
        p = np.asarray(self.model.prob_improvement(x_obs, y_obs, x_final, threshold, **kw), dtype=float)
        return 1.0 - self.calibration.cdf(1.0 - p)

    def predict_quantiles(self, x_obs: Any, y_obs: Any, x_query: Any, qs: Sequence[float] = (0.05, 0.5, 0.95), **kw: Any) -> list[np.ndarray]:
        """LC-PFN's ``predict_quantiles`` at the recalibrated levels (same shapes)."""
        qs = [float(q) for q in qs]
        maximize = kw.get("maximize", True)
        good = np.array(qs) if maximize else 1.0 - np.array(qs)  # levels in the goodness orientation
        raw = self.calibration.level(good)
        levels = raw if maximize else 1.0 - raw
        return self.model.predict_quantiles(x_obs, y_obs, x_query, qs=[float(v) for v in levels], **kw)
