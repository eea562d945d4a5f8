"""Bayesian optimization: a surrogate plus an acquisition, after a Sobol initial design.

:func:`propose` is the engine (:mod:`hpo.searchers._bo_propose`, re-exported here), shared
by :class:`BOSearcher` (hyperbandit studies) and :class:`hpo.integrations.optuna.HPOSampler`
(Optuna studies).

Reference: Jones, Schonlau & Welch, "Efficient Global Optimization of Expensive
Black-Box Functions", 1998 (EI); Ament et al., NeurIPS 2023 (LogEI, qLogNEI);
Balandat et al., "BoTorch", NeurIPS 2020.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from hpo.presets import ACQUISITIONS
from hpo.search_spaces import SearchSpace
from hpo.searchers._bo_branches import FRESH_TRIES, Branches, check_branch_choice
from hpo.searchers._bo_cost import COST_ACQUISITIONS, CostAware, check_budget
from hpo.searchers._bo_fidelity import AcrossFidelities
from hpo.searchers._bo_policies import RungTrust
from hpo.searchers._bo_propose import check_cap, propose
from hpo.searchers._bo_subset import MAX_FIT_POINTS, subsample
from hpo.searchers._warp import WARPS
from hpo.searchers.base import BaseSearcher
from hpo.searchers.sobol import SobolSearcher
from hpo.trial import INTERRUPTED, Observation, TrialStatus

if TYPE_CHECKING:
    import numpy as np

__all__ = ["BOSearcher", "thompson_bo", "propose", "ACQUISITIONS", "MAX_FIT_POINTS"]


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
        branch_choice: How the decomposed BO picks the option to search next:
            ``"top-ts"`` (default), Thompson sampling on each option's share of the best
            ``min(ceil(n / 10), 25)`` observations, as TPE weighs categories by ranks; or
            ``"ei"``, each option's best acquisition value against the global incumbent
            under its own model (the default until 2026-12-04). The reasons and the
            evidence are in :mod:`hpo.searchers._bo_branches`.
        conditional: How a space with a top-level ``Choice`` is modelled (one objective).
            ``"decompose"`` (default): in two steps, as tree-structured BO (one model per
            option, Jenatton et al. 2017) and Optuna's TPE with ``group=True`` do. Each option
            has its own model of its own observations (a fresh instance of ``surrogate``);
            the targets are warped together, and the option with the best acquisition value
            against the global incumbent (LogEI; a posterior draw for ``"ts"``) is chosen;
            then BO on that option's observations picks its parameters, relative to the
            option's own incumbent. See :mod:`hpo.searchers._bo_branches`. ``"joint"``: one
            model over every column, with inactive ones held constant. On ``Conditional``
            (100 evaluations) the joint GP ended at median regret 0.10 (4 seeds; stuck in a
            branch whose optimum is not the global one on two), the decomposition at 1.7e-4
            (10 seeds), TPE with ``group=True`` at 0.019; on the live CASH task (5 seeds) the
            decomposition is at or above random search, TPE and SMAC on 3 of 3 datasets; see
            ``benchmarks/results/robustness.md`` and ``cash.md``.
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
        max_fit_points: Most observations the model is fitted on (default
            :data:`~hpo.searchers._bo_subset.MAX_FIT_POINTS`, 500; None: no cap). Past
            it, the best quarter plus a uniform draw of the rest from the searcher's seeded
            generator, a subset of data (Rasmussen & Williams 2006, §8.3.3; the best
            region kept as local models such as TuRBO do; see
            :mod:`hpo.searchers._bo_subset`). EI's best value and the local starts still come from the best of
            every observation, and running trials are all kept as pending points. The
            same cap applies to each option's model in a decomposed conditional space, to
            every surrogate, and with several objectives (there the Pareto front is always
            kept, with a uniform draw of the rest). With 10,000 observations of Hartmann-6 a suggestion then
            takes well under a second (``benchmarks/results/scale.md``).

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
        branch_choice: str = "top-ts",
        conditional: str = "decompose",
        fidelity_model: str = "rung",
        cost_budget: float | None = None,
        max_fit_points: int | None = MAX_FIT_POINTS,
    ) -> None:
        super().__init__(space, seed)
        self.max_fit_points = check_cap(max_fit_points)
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
        self.branch_choice = check_branch_choice(branch_choice)
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
        self._option_surrogates: dict[tuple[float, str], Any] = {}  # models per top-level option (decompose)
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
        self._rows: dict[int, tuple[Mapping[str, Any], np.ndarray]] = {}  # trial id -> (config, encoded row)

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
        trials = [(tid, c) for tid, (c, _) in results.items()]
        y = np.asarray([v for _, v in results.values()], dtype=float) * np.asarray(self.signs)
        if self.failed == "impute" and self._failed:
            failed = [(tid, c) for tid, c in self._failed.items() if tid not in results]
            if failed:
                trials += failed
                y = np.vstack([y, np.repeat(y.min(axis=0, keepdims=True), len(failed), axis=0)])
        return self._encoded(trials), y

    def _encoded(self, trials: list[tuple[int, Mapping[str, Any]]]) -> np.ndarray:
        """`m x d` ``space.encode`` of ``(trial id, config)`` pairs, each config encoded once.

        Encoding is per row, so rows are cached by trial id (and checked against the
        config): with 10,000 observations a full encode took ~0.1 s of every suggestion.
        """
        import numpy as np

        cache = self._rows
        new = [(tid, c) for tid, c in trials if tid not in cache or cache[tid][0] != c]
        if new:
            for (tid, c), row in zip(new, self.space.encode([c for _, c in new]), strict=True):
                cache[tid] = (c, row)
        if not trials:
            return np.zeros((0, self.space.d))
        return np.stack([cache[tid][1] for tid, _ in trials])

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
                # one suggestion inside an option (a starved one, or the one whose model promises most); the rest in turn
                branch = self.starved_branch([*pending, *out])
                if branch is None and root is not None:
                    branch = self._pick_branch(root[0], x_obs, y_obs[:, 0], x_pending, incumbent)
                assert branch is not None
                config = self._suggest_in_branch(branch, x_obs, y_obs[:, 0], x_pending, incumbent)
                out.extend(self._fresh([config], [*pending, *out], draw=lambda b=branch: self.draw_in_branch(b)))
                self._n_suggested += 1
                return out if len(out) >= n else out + self.suggest(n - len(out), [*pending, *out])
            if y_obs.shape[1] > 1:
                from hpo.pareto import non_dominated
                from hpo.searchers._mobo import propose_pareto

                if self.max_fit_points is not None and len(y_obs) > self.max_fit_points:  # the front, then a uniform rest
                    front = non_dominated(y_obs, [True] * y_obs.shape[1])
                    rows = subsample(np.flatnonzero(front), np.flatnonzero(~front), self.max_fit_points, self.rng)
                    x_obs, y_obs = x_obs[rows], y_obs[rows]
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
                    max_fit_points=self.max_fit_points,
                )
            out.extend(self._fresh(self.decode_from_model(points), [*pending, *out]))
            self._n_suggested += len(points)
        return out

    def _fresh(
        self, configs: list[dict[str, Any]], pending: Sequence[Mapping[str, Any]], draw: Any = None
    ) -> list[dict[str, Any]]:
        """``configs``, with any equal to an observed, pending or earlier one replaced by a random config.

        A flat acquisition (e.g. every observation has the same value) can return an
        observed point, since the incumbent is one of the optimizer's starts; evaluating it
        again would teach the model nothing. The replacement comes from ``draw()`` (inside
        the option a decomposed suggestion chose), up to ``FRESH_TRIES`` draws that are not
        known either, then up to as many from the whole space. Without this, a small option (kNN's three
        parameters on ``wine``) had one config evaluated 56 times in 100.
        """
        known = [*self.known_configs(), *pending]
        draw = draw if draw is not None else (lambda: self.space.sample(self.rng, 1)[0])
        out: list[dict[str, Any]] = []
        for config in configs:
            for attempt in range(2 * FRESH_TRIES):  # a finite space can run out: then a repeat is kept
                if config not in known and config not in out:
                    break
                config = draw() if attempt < FRESH_TRIES else self.space.sample(self.rng, 1)[0]
            out.append(config)
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
