"""CARBS: cost-aware search around the cost-performance Pareto front.

Reference: Fetterman et al., "Tune As You Scale: Hyperparameter Optimization For Compute
Efficient Training", 2023; imbue-ai/carbs (``carbs.py``, ``model.py``, ``utils.py``).
The basic-space codec, models, acquisition factors and Pareto groups live in
:mod:`hpo.searchers._carbs_models`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

from hpo.errors import SettingError
from hpo.search_spaces import SearchSpace
from hpo.searchers import _carbs_models as M
from hpo.searchers._carbs_models import BasicSpace
from hpo.searchers.base import BaseSearcher
from hpo.trial import INTERRUPTED, Observation, TrialStatus

if TYPE_CHECKING:
    import numpy as np

__all__ = ["CARBS", "BasicSpace", "ParetoPoint", "Proposal"]

log = logging.getLogger(__name__)


class ParetoPoint(NamedTuple):
    """One config of the observed cost-performance Pareto front (means over its repeats)."""

    cost: float
    value: float
    config: dict[str, Any]


@dataclass(frozen=True)
class Proposal:
    """How a suggestion was made (the reference's suggestion log), for diagnostics.

    Attributes:
        config: The suggested config.
        kind: ``"warmup"``, ``"resample"``, ``"model"`` or ``"fallback"`` (model failed).
        predicted_cost: The cost GP's estimate (``"model"`` only), in cost units.
        predicted_value: The output GP's mean in the user's units (``"model"`` only).
        success_probability, prior_density, log_ei: The acquisition's factors.
    """

    config: dict[str, Any]
    kind: str
    predicted_cost: float | None = None
    predicted_value: float | None = None
    success_probability: float | None = None
    prior_density: float | None = None
    log_ei: float | None = None


class CARBS(BaseSearcher):
    """Cost Aware pareto-Region Bayesian Search (Fetterman et al., 2023; imbue-ai/carbs).

    A local search around the Pareto front of cost (:attr:`~hpo.trial.Observation.cost_used`:
    a reported ``cost`` metric, else seconds of worker time) against performance:

    1. **Warm-up**: until ``num_random_samples`` successful observations exist, configs are
       ``center + N(0, r^2)`` in basic space, ``r = search_radius`` (see
       :class:`~hpo.searchers._carbs_models.BasicSpace`).
    2. **Models**: GPs with a Linear + Matérn-3/2 kernel (ARD lengthscales starting at
       ``r``) on the outputs quantile-transformed to a normal, on log-cost min-max scaled
       to ``[-1, 1]``, and, once a trial failed, on ±1 success labels; a 1-D RBF GP of the
       Pareto observations' outputs against their log-cost. Running and batch-mates'
       configs get one joint Thompson sample of the output GP as fantasy observations.
    3. **Candidates**: ``candidates_per_dim * d`` draws of ``N(0, r^2)`` around randomly
       chosen "origins" (the conservative Pareto groups, with a
       ``min_pareto_cost_fraction`` cost-quantile floor), rounded, out-of-bounds ones dropped.
    4. **Acquisition**: ``EI(mu - best - exploration_bias) * prior_density * P(success) *
       1[predicted cost < max_cost]``, where ``best`` is the Pareto GP at the candidate's
       predicted log-cost, raised to at least its value at a log-uniform random cost
       within the Pareto front's range, and ``prior_density`` is the ``N(0, r)`` density of
       the distance to the nearest origin.
    5. **Resampling**: every ``resample_frequency`` successful observations, the cheapest
       least-sampled Pareto config is suggested again unchanged, to average its noise.

    :meth:`pareto_front` gives the current cost-performance front. Only COMPLETED trials
    with a value are successes; FAILED ones (not interrupted) and COMPLETED ones without a
    finite value feed the success model; PAUSED and PRUNED results are ignored (CARBS
    models whole runs).

    Args:
        space: The search space.
        seed: Seed of every random draw (numpy generator; torch generators seeded from it).
        center: Config values (any subset) to start from; by default the middle of each
            range in basic space, and a uniform draw for categoricals without one.
        max_cost: No model-based suggestion predicted to cost this much or more.
        num_random_samples: Successful observations before the models take over.
        exploration_bias: Subtracted inside EI, in normal-quantile units of the output.
        resample_frequency: Successful observations per resample; 0 turns resampling off.
        search_radius: ``r``, in basic units.
        candidates_per_dim: Candidates per dimension of the space.
        min_pareto_cost_fraction: Cost quantile below which Pareto groups are bucketed.
        categorical_resample: Probability that a candidate's categorical differs from its
            origin's (a uniform draw among the other choices).
        transforms: Parameter name -> ``"linear"``, ``"log"`` or ``"logit"`` (overrides the
            defaults of :class:`~hpo.searchers._carbs_models.BasicSpace`).
        scales: Parameter name -> basic-space scale (as the reference's ``scale``).
        fit_hyperparameters: Fit the GPs' hyperparameters by MAP instead of keeping the
            reference's values (see the deviations).

    Example:
        >>> from hpo.search_spaces import Float, Int, SearchSpace
        >>> space = SearchSpace({"width": Int(1, 1000, log=True), "lr": Float(1e-4, 1e-1, log=True)})
        >>> searcher = CARBS(space, seed=0, center={"width": 4, "lr": 1e-3}, max_cost=100.0)
        >>> searcher.set_objective("score", "max")
        >>> (config,) = searcher.suggest(1)
        >>> space.contains(config), searcher.proposals[-1].kind
        (True, 'warmup')

    **Deviations from the reference** (each deliberate):

    * *carbs#6*: the Pareto cost floor is raised to at least the cheapest group's mean
      cost, so resampled configs never leave the cheap bucket empty
      (:func:`~hpo.searchers._carbs_models.pareto_groups`).
    * ``P(success)`` uses the success GP's standard deviation; the reference passes its
      variance as the scale (:func:`~hpo.searchers._carbs_models.success_probability`).
    * Categoricals and ``Choice`` selectors, which the reference lacks: one-hot GP inputs;
      candidates keep their origin's choice with probability ``1 - categorical_resample``;
      the prior density is multiplied by that choice's probability. Parameters inactive
      under a ``Choice`` are modelled at the centre's value. Default transforms and
      scales of bounded parameters are chosen as in
      :class:`~hpo.searchers._carbs_models.BasicSpace` (the reference asks the user).
    * GP hyperparameters are held at the reference's starting values (variances 1,
      Matérn lengthscale ``r``, RBF lengthscale 1, noise 1e-2) instead of running its 1000
      Adam steps at lr 1e-4, which leave them within about 10% of the start. The optional
      MAP fit (``fit_hyperparameters=True``) is not the reference's: on the quantile-
      transformed outputs it shrinks lengthscales to a few hundredths and the output GP
      stops generalizing (the tests' width/lr trade-off, 40 evaluations, seeds 0 and 1:
      fronts spanning 3.5x and 4x in cost with best values 0.13 and 0.14, against 20x and
      42x with 0.70 and 1.00 without it, at 4-14 times the run time).
    * Fantasies condition the output GP on the Thompson samples instead of refitting it.
      EI is ranked in log space (same argmax, no underflow).
    * Resampling skips Pareto configs whose mean cost reaches ``max_cost`` when cheaper
      ones exist; when no candidate is predicted under ``max_cost`` the cheapest predicted
      one is taken (the reference asserts). Warm-up knows no cost model and ignores it.
    * When the models fail (e.g. a Cholesky error), a draw around the Pareto origins is
      suggested, as in the reference; but out-of-bounds draws are clipped after eight
      rejected batches instead of raising.
    * On :meth:`replay`, the resample count restarts at
      ``ceil(n_success / resample_frequency) - 1`` (so no burst of resamples), and the
      generator is re-seeded from the number of trials handed out, so warm-up draws are
      not repeated. Warm-up lasts, as in the reference, until ``num_random_samples``
      *successful* observations exist (with several workers or early failures, more
      than ``num_random_samples`` configs are drawn around the centre).
    """

    uses_history: ClassVar[bool] = True
    supports_pending: ClassVar[bool] = True

    def __init__(
        self,
        space: SearchSpace,
        seed: int | None = None,
        center: Mapping[str, Any] | None = None,
        max_cost: float | None = None,
        num_random_samples: int = 4,
        exploration_bias: float = 1.0,
        resample_frequency: int = 5,
        search_radius: float = 0.3,
        candidates_per_dim: int = 100,
        min_pareto_cost_fraction: float = 0.2,
        categorical_resample: float = 0.2,
        transforms: Mapping[str, str] | None = None,
        scales: Mapping[str, float] | None = None,
        fit_hyperparameters: bool = False,
    ) -> None:
        super().__init__(space, seed)
        for label, value, ok in (
            ("max_cost", max_cost, max_cost is None or (isinstance(max_cost, (int, float)) and max_cost > 0)),
            ("num_random_samples", num_random_samples, isinstance(num_random_samples, int) and num_random_samples >= 1),
            ("resample_frequency", resample_frequency, isinstance(resample_frequency, int) and resample_frequency >= 0),
            ("search_radius", search_radius, search_radius > 0),
            ("candidates_per_dim", candidates_per_dim, isinstance(candidates_per_dim, int) and candidates_per_dim >= 1),
            ("min_pareto_cost_fraction", min_pareto_cost_fraction, 0.0 <= min_pareto_cost_fraction <= 1.0),
            ("categorical_resample", categorical_resample, 0.0 <= categorical_resample <= 1.0),
        ):
            if not ok:
                raise SettingError(f"CARBS: invalid {label}={value!r}")
        self.center = dict(center or {})
        self.max_cost = max_cost
        self.num_random_samples = num_random_samples
        self.exploration_bias = float(exploration_bias)
        self.resample_frequency = resample_frequency
        self.search_radius = float(search_radius)
        self.candidates_per_dim = candidates_per_dim
        self.min_pareto_cost_fraction = float(min_pareto_cost_fraction)
        self.categorical_resample = float(categorical_resample)
        self.transforms = dict(transforms or {})
        self.scales = dict(scales or {})
        self.fit_hyperparameters = bool(fit_hyperparameters)
        self.basic = BasicSpace(space, self.search_radius, self.transforms, self.scales)
        self.center_basic, self._center_fixed = self._center()
        self.resample_count = 0
        self.proposals: list[Proposal] = []
        self._successes: list[tuple[dict[str, Any], float, float]] = []  # config, value (user units), cost
        self._failures: list[dict[str, Any]] = []
        self._overgenerate = 2 ** (int(self.basic.real.sum()) // 2)

    def _center(self) -> tuple[np.ndarray, np.ndarray]:
        """The centre in basic space, and which categorical columns the user fixed."""
        import numpy as np

        from hpo.errors import ConfigError

        dims = {dim.name: dim for dim in self.space.dims}
        for name, value in self.center.items():
            if name not in dims:
                raise SettingError(f"center: {name!r} is not a searched parameter of the space")
            try:
                dims[name].param.check(name, value)
            except ConfigError as exc:
                raise SettingError(f"center: {exc}") from None
        middle = np.where(self.basic.real, (self.basic.low_b + self.basic.high_b) / 2, 0.0)
        given = self.basic.encode([self.center], middle)[0]
        rounded, _ = self.basic.round_valid(given[None, :])
        fixed = np.array([dim.name in self.center for dim in self.space.dims], dtype=bool)
        return rounded[0], fixed & ~self.basic.real

    # ------------------------------------------------------------------ observations
    def observe(self, observations: Sequence[Observation]) -> None:
        for obs in observations:
            if obs.status is TrialStatus.FAILED and obs.reason != INTERRUPTED:
                self._failures.append(dict(obs.config))
            elif obs.status is TrialStatus.COMPLETED:
                if obs.value is None:
                    self._failures.append(dict(obs.config))  # the reference: a non-finite output is a failure
                else:
                    self._successes.append((dict(obs.config), float(obs.value), obs.cost_used))
        super().observe(observations)

    def replay(self, observations: Sequence[Observation]) -> None:
        import numpy as np

        super().replay(observations)
        self.rng = np.random.default_rng([self.seed or 0, self.n_trials_in(observations)])
        if self.resample_frequency:
            self.resample_count = max(0, math.ceil(len(self._successes) / self.resample_frequency) - 1)

    def _groups(self) -> list[M.Group]:
        x = self.basic.encode([c for c, _, _ in self._successes], self.center_basic)
        rows = [(c, x[i], cost, self.sign * v) for i, (c, v, cost) in enumerate(self._successes)]
        return M.group_observations(rows)

    def pareto_front(self) -> list[ParetoPoint]:
        """The observed cost-performance Pareto front, cheapest first (user units; with the
        cheap bucket of ``min_pareto_cost_fraction``, as CARBS sees it)."""
        front = M.pareto_groups(self._groups(), self.min_pareto_cost_fraction, conservative=False)
        return [ParetoPoint(g.cost, self.sign * g.output, dict(g.config)) for g in front]

    # ------------------------------------------------------------------ suggestions
    def suggest(self, n: int, pending: Sequence[Mapping[str, Any]] = ()) -> list[dict[str, Any]]:
        import torch

        out: list[dict[str, Any]] = []
        fitted: Any = None
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # many tiny tensor operations: one thread is faster
        try:
            for _ in range(n):
                busy = [*pending, *out]
                if len(self._successes) < self.num_random_samples:
                    proposal = self._sample([self.center_basic], "warmup")
                elif self.resample_frequency and len(self._successes) > (self.resample_count + 1) * self.resample_frequency:
                    proposal = self._resample(busy)
                else:
                    try:
                        fitted = fitted or self._fit()
                        proposal = self._propose(fitted, busy)
                    except (RuntimeError, ValueError, ArithmeticError) as exc:
                        log.warning("CARBS: the models failed (%s); sampling around the Pareto front", exc)
                        origins = [g.x_basic for g in M.pareto_groups(self._groups(), self.min_pareto_cost_fraction)]
                        proposal = self._sample(origins, "fallback")
                self.proposals.append(proposal)
                out.append(proposal.config)
        finally:
            torch.set_num_threads(threads)
        return out

    def _perturb(self, origins: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``m`` draws of ``N(0, r^2)`` around random origins (categoricals kept or redrawn):
        rounded, their validity, and unrounded."""
        import numpy as np

        pick = self.rng.integers(len(origins), size=m)
        x = origins[pick] + np.where(self.basic.real, self.rng.normal(0.0, self.search_radius, (m, self.space.d)), 0.0)
        for j in np.flatnonzero(~self.basic.real):
            k = int(self.basic.n_choices[j])
            keep = self.rng.random(m) >= self.categorical_resample
            other = (np.round(x[:, j]) + self.rng.integers(1, max(k, 2), size=m)) % k
            x[:, j] = np.where(keep | (k == 1), x[:, j], other)
        return (*self.basic.round_valid(x), x)

    def _sample(self, origins: Sequence[np.ndarray], kind: str) -> Proposal:
        """One random draw around ``origins`` (warm-up around the centre; fallback)."""
        import numpy as np

        origins_arr = np.asarray(origins, dtype=float)
        for _ in range(8):
            x, valid, _ = self._perturb(origins_arr, 32 * self._overgenerate)
            if valid.any():
                break
        else:
            x = np.clip(x, self.basic.low_b, self.basic.high_b)
            x, valid = self.basic.round_valid(x)
        row = x[int(np.flatnonzero(valid)[0]) if valid.any() else 0]
        if kind == "warmup":  # categoricals without a centre: uniform
            free = ~self.basic.real & ~self._center_fixed
            row[free] = [self.rng.integers(k) for k in self.basic.n_choices[free]]
        return Proposal(self.basic.decode(row)[0], kind)

    def _resample(self, busy: Sequence[Mapping[str, Any]]) -> Proposal:
        """The cheapest least-sampled Pareto config (pending repeats count), again unchanged."""
        front = sorted(M.pareto_groups(self._groups(), self.min_pareto_cost_fraction, conservative=False), key=lambda g: g.cost)
        if self.max_cost is not None and any(g.cost < self.max_cost for g in front):
            front = [g for g in front if g.cost < self.max_cost]
        busy_keys = [M.config_key(c) for c in busy]
        counts = [len(g.outputs) + busy_keys.count(M.config_key(g.config)) for g in front]
        self.resample_count += 1
        return Proposal(dict(front[counts.index(min(counts))].config), "resample")

    def _fit(self) -> dict[str, Any]:
        """Fit the output, cost, success and Pareto GPs on the observations."""
        import numpy as np
        import torch

        configs = [c for c, _, _ in self._successes]
        y = np.array([self.sign * v for _, v, _ in self._successes])
        costs = np.array([c for _, _, c in self._successes])
        x_in = torch.as_tensor(self.basic.model_inputs(self.basic.encode(configs, self.center_basic), self.center_basic))
        y_tf, c_tf = M.QuantileOutput(y), M.LogCostScale(costs)
        r, fit = self.search_radius, self.fit_hyperparameters
        fitted: dict[str, Any] = {
            "y_tf": y_tf,
            "c_tf": c_tf,
            "output": M.fit_gp(x_in, torch.as_tensor(y_tf(y)), r, fit=fit),
            "cost": M.fit_gp(x_in, torch.as_tensor(c_tf(costs)), r, fit=fit),
            "success": None,
        }
        if self._failures:
            x_fail = self.basic.model_inputs(self.basic.encode(self._failures, self.center_basic), self.center_basic)
            labels = torch.tensor([-1.0] * len(configs) + [1.0] * len(self._failures), dtype=torch.float64)
            fitted["success"] = M.fit_gp(torch.cat([x_in, torch.as_tensor(x_fail)]), labels, r, fit=fit)
        front = M.pareto_groups(self._groups(), self.min_pareto_cost_fraction, conservative=True)
        p_cost = c_tf(np.array([c for g in front for c in g.costs]))
        p_out = y_tf(np.array([o for g in front for o in g.outputs]))
        fitted["pareto"] = M.fit_gp(torch.as_tensor(p_cost).reshape(-1, 1), torch.as_tensor(p_out), r, pareto=True, fit=fit)
        fitted["front"], fitted["range"] = front, (float(p_cost.min()), float(p_cost.max()))
        return fitted

    def _propose(self, fitted: dict[str, Any], busy: Sequence[Mapping[str, Any]]) -> Proposal:
        """The candidate maximizing the CARBS acquisition (computed in logs)."""
        import numpy as np
        import torch

        front: list[M.Group] = fitted["front"]
        origins = np.array([g.x_basic for g in front])
        want = self.candidates_per_dim * self.space.d
        x, valid, raw = self._perturb(origins, want * self._overgenerate)
        if valid.sum() < want:
            self._overgenerate = min(2 * self._overgenerate, 2 ** max(int(self.basic.real.sum()), 1))
        x, raw = x[valid][:want], raw[valid][:want]
        if len(x) == 0:
            raise ValueError("no candidate inside the bounds")
        inputs = lambda rows: torch.as_tensor(self.basic.model_inputs(rows, self.center_basic))  # noqa: E731
        x_in = inputs(x)
        output = fitted["output"]
        if busy:
            gen = torch.Generator().manual_seed(int(self.rng.integers(2**31)))
            output = M.with_fantasies(output, inputs(self.basic.encode(busy, self.center_basic)), gen)
        mu, var = M.predict(output, x_in)
        logcost, _ = M.predict(fitted["cost"], x_in)
        c_tf: M.LogCostScale = fitted["c_tf"]
        lo, hi = fitted["range"]
        best, _ = M.predict(fitted["pareto"], logcost.clamp(lo, hi).reshape(-1, 1))
        # raise "best" to the front's value at a random log-uniform cost within its range
        log_lo, log_hi = math.log(max(front[0].cost, c_tf.FLOOR)), math.log(max(front[-1].cost, c_tf.FLOOR))
        if self.max_cost is not None:
            log_hi = min(log_hi, math.log(self.max_cost))
        threshold = c_tf.from_log(self.rng.uniform(min(log_lo, log_hi), max(log_lo, log_hi)))
        floor, _ = M.predict(fitted["pareto"], torch.tensor([[min(max(threshold, lo), hi)]], dtype=torch.float64))
        best = best.clamp_min(float(floor[0]))
        log_ei = M.log_expected_improvement(mu, var, best, self.exploration_bias)
        p_success = M.predict_success(fitted["success"], x_in)
        log_prior = torch.as_tensor(self._log_prior(raw, origins))  # of the draw, before rounding (as the reference)
        score = log_ei + log_prior + p_success.clamp_min(1e-300).log()
        cost = torch.exp(c_tf.to_log(logcost))
        if self.max_cost is not None:
            under = cost < self.max_cost
            if not bool(under.any()):
                log.warning("CARBS: no candidate is predicted under max_cost=%s; taking the cheapest", self.max_cost)
                score = torch.where(cost == cost.min(), score, torch.full_like(score, -math.inf))
            else:
                score = torch.where(under, score, torch.full_like(score, -math.inf))
        i = int(torch.argmax(score))
        value = fitted["y_tf"].inverse(mu[i : i + 1].numpy())
        return Proposal(
            self.basic.decode(x[i])[0],
            "model",
            predicted_cost=float(cost[i]),
            predicted_value=None if value is None else float(self.sign * value[0]),
            success_probability=float(p_success[i]),
            prior_density=math.exp(float(log_prior[i])),
            log_ei=float(log_ei[i]),
        )

    def _log_prior(self, x: np.ndarray, origins: np.ndarray) -> np.ndarray:
        """`n`-dim log density of the search distribution around the nearest origin: the
        ``N(0, r)`` log-pdf of the real-space distance, plus each categorical's log-probability."""
        import numpy as np

        real = self.basic.real
        dist = np.linalg.norm(x[:, None, real] - origins[None, :, real], axis=-1)
        r = self.search_radius
        logp = -0.5 * (dist / r) ** 2 - math.log(r * math.sqrt(2 * math.pi))
        for j in np.flatnonzero(~real):
            k, q = int(self.basic.n_choices[j]), self.categorical_resample
            same = np.round(x[:, None, j]) == np.round(origins[None, :, j])
            p_same, p_other = (1.0 - q, q / (k - 1)) if k > 1 else (1.0, 1.0)
            logp = logp + np.log(np.where(same, max(p_same, 1e-300), max(p_other, 1e-300)))
        return logp.max(axis=1)
