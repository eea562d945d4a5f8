"""Bayesian optimization: a surrogate plus an acquisition, after a Sobol initial design.

:func:`propose` is the engine, shared by :class:`BOSearcher` (hyperbandit studies) and
:class:`hpo.integrations.optuna.HPOSampler` (Optuna studies).

Reference: Jones, Schonlau & Welch, "Efficient Global Optimization of Expensive
Black-Box Functions", 1998 (EI); Ament et al., NeurIPS 2023 (LogEI, qLogNEI);
Balandat et al., "BoTorch", NeurIPS 2020.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from hpo.presets import ACQUISITIONS
from hpo.search_spaces import SearchSpace
from hpo.searchers._bo_cost import COST_ACQUISITIONS, CostAware, check_budget
from hpo.searchers._bo_fidelity import AcrossFidelities
from hpo.searchers._bo_policies import Branches, RungTrust
from hpo.searchers._warp import WARPS, warp_targets
from hpo.searchers.base import BaseSearcher
from hpo.searchers.sobol import SobolSearcher
from hpo.trial import INTERRUPTED, Observation, TrialStatus

if TYPE_CHECKING:
    import numpy as np

    from hpo.surrogates.base import BaseSurrogate

__all__ = ["BOSearcher", "thompson_bo", "propose", "ACQUISITIONS"]



def _cat_dims(space: SearchSpace) -> dict[int, int]:
    return {j: dim.n_choices for j, dim in enumerate(space.dims) if dim.kind == "categorical"}


def propose(
    space: SearchSpace,
    x_obs: np.ndarray,
    y_obs: np.ndarray,
    x_pending: np.ndarray | None,
    surrogate: BaseSurrogate,
    acquisition: str,
    rng: np.random.Generator,
    n: int = 1,
    warp: str = "auto",
    fixed: Mapping[int, float] | None = None,
    incumbent: np.ndarray | None = None,
    cost: tuple[Any, np.ndarray, np.ndarray, float] | None = None,
) -> np.ndarray:
    """Fit ``surrogate`` and return `n x d`-dim unit-cube points maximizing the acquisition.

    Args:
        space: The search space.
        x_obs: `m x d`-dim encoded observations.
        y_obs: `m`-dim targets, to be **maximized**.
        x_pending: `p x d`-dim encoded running configs (or None).
        surrogate: Any :class:`~hpo.surrogates.BaseSurrogate`.
        acquisition: ``"logei"`` (LogEI; qLogNEI when there are pending points),
            ``"qlognei"``, ``"ucb"`` or ``"ts"`` (Thompson sampling on a candidate set).
        rng: Generator for raw samples and local perturbations.
        n: Number of points; the 2nd..n-th treat the earlier ones as pending.
        warp: Output warp of the targets before fitting (see :mod:`hpo.searchers._warp`):
            ``"auto"``, ``"log"`` or ``"none"``.
        fixed: Column -> unit-cube value every proposed point keeps (e.g. a ``Choice``
            selector: search one branch; a fidelity column: propose at that fidelity).
        incumbent: `m`-dim boolean mask of the observations the incumbent (EI's best
            value, the local starts, the noisy-EI baseline) comes from; all by default.
        cost: For ``"ei_per_cost"``/``"ei_cool"``: ``(log-cost surrogate, `c x d`-dim
            encoded configs, `c`-dim log costs, alpha)``; the score is then
            ``log EI - alpha * mu_logcost`` (:class:`~hpo.acquisition.CostWeighted`). Without
            it those acquisitions are plain LogEI.
    """
    import torch

    if acquisition not in ACQUISITIONS:
        raise ValueError(f"unknown acquisition {acquisition!r}; choose from {ACQUISITIONS}")
    # The many tiny tensor operations of fitting and acquisition optimization run faster on
    # one thread than with intra-op parallelism; the caller's setting is restored after.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _propose(space, x_obs, warp_targets(y_obs, warp)[0], x_pending, surrogate, acquisition, rng, n, fixed, incumbent,
                        cost)
    finally:
        torch.set_num_threads(threads)


def _propose(
    space: SearchSpace,
    x_obs: np.ndarray,
    y_obs: np.ndarray,
    x_pending: np.ndarray | None,
    surrogate: BaseSurrogate,
    acquisition: str,
    rng: np.random.Generator,
    n: int,
    fixed: Mapping[int, float] | None = None,
    incumbent: np.ndarray | None = None,
    cost: tuple[Any, np.ndarray, np.ndarray, float] | None = None,
) -> np.ndarray:
    import numpy as np
    import torch

    from hpo.acquisition import (
        UCB,
        CostWeighted,
        LogEI,
        QLogNEI,
        ThompsonSampling,
        optimize_acquisition,
    )

    surrogate.fit(x_obs, y_obs, _cat_dims(space))
    if cost is not None:
        cost[0].fit(cost[1], cost[2], _cat_dims(space))
    pending = np.zeros((0, space.d)) if x_pending is None else np.asarray(x_pending, dtype=float).reshape(-1, space.d)
    rows = np.ones(len(y_obs), dtype=bool) if incumbent is None or not np.any(incumbent) else np.asarray(incumbent, dtype=bool)
    x_inc, y_inc = x_obs[rows], y_obs[rows]
    # Local starts: the incumbent and multi-scale Gaussian perturbations of it.
    best = x_inc[int(np.argmax(y_inc))]
    scales = np.repeat([0.1, 0.02, 0.004], 22)[:, None]
    local = np.vstack([best[None, :], best[None, :] + rng.normal(0.0, 1.0, size=(len(scales), space.d)) * scales])
    out = []
    for _ in range(n):
        if acquisition == "ucb":
            acq: Any = UCB(surrogate)
        elif acquisition == "ts":
            gen = torch.Generator().manual_seed(int(rng.integers(2**31)))
            acq = ThompsonSampling(surrogate, gen)
        elif acquisition == "qlognei" or len(pending):
            # Only the surrogate's joint samples are used, so any surrogate serves here.
            acq = QLogNEI(
                surrogate,
                torch.as_tensor(x_inc, dtype=torch.float64),
                torch.as_tensor(pending, dtype=torch.float64),
                seed=int(rng.integers(2**31)),
            )
        else:
            acq = LogEI(surrogate, best_f=float(np.max(y_inc)))
        if cost is not None and isinstance(acq, (LogEI, QLogNEI)):
            acq = CostWeighted(acq, cost[0], cost[3])
        x, _ = optimize_acquisition(acq, space, rng, extra_starts=np.clip(local, 0.0, 1.0), fixed=fixed)
        out.append(x)
        pending = np.vstack([pending, x[None, :]])
    return np.asarray(out)


class BOSearcher(CostAware, AcrossFidelities, RungTrust, Branches, BaseSearcher):
    """GP (or any surrogate) Bayesian optimization with a scrambled-Sobol initial design.

    Args:
        space: The search space.
        seed: Seed for the design, raw samples and MC samples.
        surrogate: A registered surrogate name (``"gp"``) or a :class:`~hpo.surrogates.BaseSurrogate`.
        acquisition: ``"logei"`` (default), ``"qlognei"``, ``"ucb"`` or ``"ts"``. With
            ``"logei"``, suggestions made while trials run use qLogNEI with the running
            configs as ``X_pending``. Several objectives always use qLogNEHVI.
            Cost-aware (one objective): ``"ei_per_cost"``, EI divided by the cost a log-cost
            GP predicts; ``"ei_cool"``, CArBO's cost cooling, EI / cost^alpha with alpha
            falling from 1 to 0 as the total cost budget is spent (see
            :mod:`hpo.searchers._bo_cost`). Cost is a reported ``cost`` metric, else the
            trial's seconds.
        cost_budget: Total cost budget of ``"ei_cool"``; by default the study's
            ``optimize(max_cost=...)``.
        n_init: Initial design size; ``max(5, d + 1)`` by default.
        warp: Output warp (``"auto"``: a Yeo-Johnson power transform of the gaps to the
            incumbent with the exponent chosen by maximum likelihood, as in HEBO;
            ``"log"``; ``"none"``). See :mod:`hpo.searchers._warp`.
        failed: ``"impute"`` (default): a FAILED trial (it raised, ran out of memory or
            time) joins the model with the worst value of the fitted fidelity, as SMAC
            imputes crashed runs, so BO learns to avoid regions that fail; ``"ignore"``
            leaves failures out. Interrupted trials (re-queued) are never counted.
        random_fraction: Share of the model-phase suggestions drawn uniformly at random
            instead. ``None`` (default): ``1 - trust`` in the fitted rung, see "Trusting a
            rung" below; 0 while every observation is at one fidelity (FIFO). This comes
            on top of the multi-fidelity schedulers' own ``random_fraction`` (BOHB's
            ``rho = 1/3`` of new configs, drawn before the searcher is asked).
        branch_floor: Exploration floor of conditional spaces: every option of a top-level
            ``Choice`` gets at least ``branch_floor`` times its even share (``1/K`` of the
            trials) of the suggestions. When an option falls a whole suggestion short, the
            next model-based suggestion is BO inside that option on its own observations
            (see :meth:`_suggest_in_branch`). 0 turns it off. On the ``Conditional``
            benchmark (Branin | Hartmann-3 | Levy-4, 100 evaluations, seeds 0-1) the joint
            GP stayed in Branin's branch with floors 0 and 0.25 (regret 0.202, 0.209 both);
            with 0.5 it found Hartmann-3's optimum on seed 0 (0.0; 0.201 on seed 1). The
            price is at most ``branch_floor * (K - 1) / K`` of the trials spent in options
            that turn out worse.
        conditional: How a space with a top-level ``Choice`` is modelled (one objective).
            ``"decompose"`` (default): in two steps, as Optuna's TPE with ``group=True``
            and our ``HPOSampler`` do for define-by-run spaces: a model of the top-level
            parameters only (``surrogate`` itself; the ``Choice`` as a categorical, on every
            observation) picks the option by the acquisition; then BO on that option's own observations picks
            its parameters, relative to the option's own incumbent
            (:meth:`_suggest_in_branch`). ``"joint"``: one model over every column, with
            inactive ones held constant. On ``Conditional`` (100 evaluations) the joint GP
            ended at median regret 0.10 (4 seeds; stuck in a branch whose optimum is not
            the global one on two), the decomposition at 3.6e-5 (5 seeds, all below 3e-4),
            TPE with ``group=True`` at 0.026; see ``benchmarks/results/robustness.md``.
        fidelity_model: Which observations the model fits under a multi-fidelity
            scheduler. ``"rung"`` (default): BOHB's model of one fidelity, see below.
            ``"input"``: one model over every result at every fidelity, with the fidelity
            (log-scaled to [0, 1] over the observed range) as one more input; the
            acquisition holds it at the largest fidelity with at least 3 results and takes
            the incumbent there (MOBSTER's rule, Klein et al. 2020, with the fidelity as an
            ordinary ARD input instead of MOBSTER's exponential-decay kernel: a documented
            deviation, so that any surrogate models fidelity; see
            :mod:`hpo.searchers._bo_fidelity`). At most 400 points are fitted: results
            below the target fidelity are subsampled past that. With one fidelity (FIFO)
            both are the same. Side by side (``benchmarks/results/robustness.md``, 3-5
            seeds): ``"input"`` ended better on 5 of 8 LCBench tasks and worse on 2 (by a
            lot), equal on the live conditional task and digits MLP but slower to get going
            there, at 1.3-3.4x the wall time; so ``"rung"`` stays the default.

    **Which observations the model sees.** Observations are grouped by the fidelity they
    reached; the model is fitted on the largest fidelity with at least
    ``min(d + 1, n_init)`` results (BOHB, Falkner et al. 2018). Under FIFO that is every
    COMPLETED trial; under Hyperband/ASHA it is the highest rung with enough results. Until
    some fidelity has enough, the Sobol design goes on. A trial seen at several rungs counts
    at each with its value there.

    **Trusting a rung** (``random_fraction=None``, multi-fidelity schedulers). A low rung can
    mislead the model (a branch that learns fast on 7% of the data), and then every
    model-based suggestion goes where that rung looks good. So the model makes only the
    share of suggestions the fitted rung has earned, its *trust*; the rest are uniform
    random draws (after the scheduler's BOHB fraction, the model's share of new configs
    is ``(1 - rho) * trust``). The trust grows with Kendall's tau between the fitted rung's values and the next
    larger rung's, on the trials seen at both (at least 5; failing that, between the next
    smaller rung and the fitted one, see :meth:`rung_agreement`): 0 for tau <= 0, 1 for
    tau >= 0.5 (three pairs in four ordered alike), linear between; 1 until 5 such trials
    exist. This follows Hyper-Tune's
    rule of weighting a fidelity by how well its ranks agree with the next one (Li et al.,
    "Hyper-Tune: Towards Efficient Hyper-parameter Tuning at Scale", VLDB 2022), applied to
    the BOHB model's rung choice rather than as ensemble weights (a simplification). The
    promoted trials are the rung's best, so their tau is attenuated by selection: the rule
    errs towards random search, which is what ASHA with random configs does anyway.

    **Several objectives** (``metric=(...)``): one GP per objective in a BoTorch
    ``ModelListGP`` and qLogNEHVI with pending points (:mod:`hpo.searchers._mobo`).
    """

    uses_history: ClassVar[bool] = True
    supports_pending: ClassVar[bool] = True
    max_objectives: ClassVar[int] = 8

    def __init__(
        self,
        space: SearchSpace,
        seed: int | None = None,
        surrogate: Any = "gp",
        acquisition: str = "logei",
        n_init: int | None = None,
        warp: str = "auto",
        failed: str = "impute",
        random_fraction: float | None = None,
        branch_floor: float = 0.5,
        conditional: str = "decompose",
        fidelity_model: str = "rung",
        cost_budget: float | None = None,
    ) -> None:
        super().__init__(space, seed)
        self._own_budget = check_budget(cost_budget)
        self.cost_budget = cost_budget
        self._init_costs()
        if fidelity_model not in ("rung", "input"):
            raise ValueError(f"fidelity_model must be 'rung' or 'input', got {fidelity_model!r}")
        self.fidelity_model = fidelity_model
        if conditional not in ("decompose", "joint"):
            raise ValueError(f"conditional must be 'decompose' or 'joint', got {conditional!r}")
        self.conditional = conditional
        if random_fraction is not None and not 0.0 <= random_fraction <= 1.0:
            raise ValueError(f"random_fraction must be in [0, 1] or None, got {random_fraction!r}")
        if not 0.0 <= branch_floor <= 1.0:
            raise ValueError(f"branch_floor must be in [0, 1], got {branch_floor!r}")
        self.random_fraction = random_fraction
        self.branch_floor = branch_floor
        if warp not in WARPS:
            raise ValueError(f"unknown output warp {warp!r}; choose from {WARPS}")
        if failed not in ("impute", "ignore"):
            raise ValueError(f"failed must be 'impute' or 'ignore', got {failed!r}")
        self.warp = warp
        self.failed = failed
        from hpo.surrogates import make_surrogate

        if acquisition not in ACQUISITIONS:
            raise ValueError(f"unknown acquisition {acquisition!r}; choose from {ACQUISITIONS}")
        self.surrogate = make_surrogate(surrogate, seed=seed or 0) if isinstance(surrogate, str) else surrogate
        self._branch_surrogate: Any = None
        self._surrogate_name = surrogate if isinstance(surrogate, str) else None
        self.acquisition = acquisition
        self.n_init = n_init if n_init is not None else max(5, space.d + 1)
        #: Constructor settings computed from the space (``presets.searcher_like`` recomputes them).
        self.space_derived: tuple[str, ...] = () if n_init is not None else ("n_init",)
        self._design = SobolSearcher(space, seed)
        self._n_suggested = 0
        # fidelity -> trial id -> objective values (user units); failed trial ids
        self._by_fidelity: dict[float, dict[int, tuple[Mapping[str, Any], tuple[float, ...]]]] = {}
        self._failed: dict[int, Mapping[str, Any]] = {}

    def observe(self, observations: Sequence[Observation]) -> None:
        for obs in observations:
            if obs.status is TrialStatus.FAILED:
                if obs.reason != INTERRUPTED:
                    self._failed[obs.trial_id] = obs.config
            elif obs.values is not None and len(obs.values) == len(self.metrics):
                self._by_fidelity.setdefault(obs.fidelity, {})[obs.trial_id] = (obs.config, obs.values)
        self._observe_costs(observations)
        super().observe(observations)

    def replay(self, observations: Sequence[Observation]) -> None:
        super().replay(observations)
        handed_out = self.n_trials_in(observations)  # the design already gave these points
        self._design.skip_to(min(handed_out, self.n_init))
        self._n_suggested = max(self._n_suggested, handed_out)

    def training_data(self) -> tuple[np.ndarray, np.ndarray] | None:
        """`m x d`-dim encoded configs and `m x k`-dim targets (maximized) the model fits, or None.

        The largest fidelity with at least ``min(d + 1, n_init)`` results, plus imputed
        failures (see the class docstring). With ``fidelity_model="input"`` and several
        fidelities seen: every fidelity's results, `m x (d + 1)`-dim with the fidelity
        column last (:meth:`fidelity_training_data`); None until the rung model would start.
        """
        import numpy as np

        fitted = self._fitted_fidelity()
        if fitted is None:
            return None
        if self.across_fidelities():
            x, y, _ = self.fidelity_training_data()
            return x, y
        results = self._by_fidelity[fitted]
        configs = [c for c, _ in results.values()]
        y = np.asarray([v for _, v in results.values()], dtype=float) * np.asarray(self.signs)
        if self.failed == "impute" and self._failed:
            failed = [c for tid, c in self._failed.items() if tid not in results]
            if failed:
                configs += failed
                y = np.vstack([y, np.repeat(y.min(axis=0, keepdims=True), len(failed), axis=0)])
        return self.space.encode(configs), y

    def _fitted_fidelity(self) -> float | None:
        need = max(1, min(self.space.d + 1, self.n_init))
        ready = [f for f, res in self._by_fidelity.items() if len(res) >= need]
        return max(ready) if ready else None

    def _cost_argument(self) -> tuple[Any, np.ndarray, np.ndarray, float] | None:
        """``propose``'s ``cost`` for the cost-aware acquisitions, or None (others, or too few costs)."""
        if self.acquisition not in COST_ACQUISITIONS:
            return None
        alpha = self.cost_alpha()
        data = self.cost_data()
        if data is None or alpha == 0.0:
            return None
        return self.cost_model(), data[0], data[1], alpha

    def suggest(self, n: int, pending: Sequence[Mapping[str, Any]] = ()) -> list[dict[str, Any]]:
        import numpy as np

        out: list[dict[str, Any]] = []
        data = self.training_data() if self._n_suggested >= self.n_init else None
        while len(out) < n and (self._n_suggested < self.n_init or data is None):
            out.extend(self._design.suggest(1))
            self._n_suggested += 1
            if self._n_suggested == self.n_init:
                data = self.training_data()
        rho = self.effective_random_fraction() if data is not None else 0.0
        if rho > 0 and len(out) < n:  # BOHB's random fraction: each remaining point is random w.p. rho
            n_random = int((self.rng.random(n - len(out)) < rho).sum())
            out.extend(self.space.sample(self.rng, n_random) if n_random else [])
            self._n_suggested += n_random
        if len(out) < n and data is not None:
            x_obs, y_obs = data
            x_pending = self.encode_for_model(list(pending) + out) if (pending or out) else None
            fixed = self.model_fixed()
            self._cost_arg = self._cost_argument() if y_obs.shape[1] == 1 else None
            incumbent = None
            if fixed:  # across fidelities: the incumbent is the best at the target fidelity
                (col, u), = fixed.items()
                incumbent = np.abs(x_obs[:, col] - u) < 1e-9
            root = self._root_choice() if self.conditional == "decompose" else None
            if y_obs.shape[1] == 1 and (root is not None or (self.starved_branch([*pending, *out]) is not None)):
                # one suggestion inside an option (a starved one, or the root model's pick); the rest in turn
                branch = self.starved_branch([*pending, *out])
                if branch is None and root is not None:
                    branch = self._pick_branch(root[0], x_obs, y_obs[:, 0], x_pending, incumbent)
                assert branch is not None
                out.append(self._suggest_in_branch(branch, x_obs, y_obs[:, 0], x_pending, incumbent))
                self._n_suggested += 1
                return out if len(out) >= n else out + self.suggest(n - len(out), [*pending, *out])
            if y_obs.shape[1] > 1:
                from hpo.searchers._mobo import propose_pareto

                points = propose_pareto(self.space, x_obs, y_obs, x_pending, self.rng, n - len(out))
            else:
                points = propose(
                    self.model_space(),
                    x_obs,
                    y_obs[:, 0],
                    x_pending,
                    self.surrogate,
                    self.acquisition,
                    self.rng,
                    n - len(out),
                    self.warp,
                    fixed=fixed,
                    incumbent=incumbent,
                    cost=self._cost_arg,
                )
            out.extend(self.decode_from_model(points))
            self._n_suggested += len(points)
        return out


def thompson_bo(space: SearchSpace, seed: int | None = None, **kwargs: Any) -> BOSearcher:
    """``BOSearcher`` that picks by Thompson sampling (registered as ``"bo-ts"``).

    One joint GP posterior draw over the candidate set: parallel workers get different
    configs without pending-point integration, at about a fifth of qLogNEI's cost per
    suggestion. It is the default searcher of ``scheduler="asha"``, whose many short
    trials ask for a config often (``benchmarks/results/multifidelity.md``: model-based
    ASHA with it is our best multi-fidelity method on LCBench). Kandasamy et al.,
    "Parallelised Bayesian Optimisation via Thompson Sampling", AISTATS 2018.
    """
    return BOSearcher(space, seed=seed, acquisition="ts", **kwargs)
