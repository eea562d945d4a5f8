"""Conditional spaces in ``BOSearcher``: the floor per option and the decomposed BO.

Split out of :mod:`hpo.searchers.bo` by responsibility; the settings are documented on
:class:`hpo.searchers.bo.BOSearcher` (``branch_floor``, ``conditional``). The mixin reads
the searcher's state (``_by_fidelity``, ``_failed``, ``space``, ``n_init``, ``rng``,
``surrogate``, ``warp``, ``acquisition``) and keeps one model per option.

**Which option** (:meth:`Branches._pick_branch`). Each option of the top-level ``Choice``
has its own model, fitted on that option's observations only (the top-level columns and
the option's own), as in tree-structured BO where every leaf has its own GP (Jenatton et
al., "Bayesian Optimization with Tree-structured Dependencies", ICML 2017; SMAC's and TPE's
``group=True`` per-group models are the same decomposition). Which option is searched next
(step 2, :meth:`Branches._suggest_in_branch`) is decided by ``branch_choice``:

* ``"top-ts"`` (default since 2026-12-04): Thompson sampling on how often an option's trials
  land among the best. With ``n`` observations, the top ``gamma(n) = min(ceil(0.1 n), 25)``
  (Optuna's TPE split) are the "good" ones; an option with ``a`` good and ``b`` other trials
  draws from Beta(1 + a, 1 + b) and the highest draw wins (a Bernoulli bandit, Thompson
  1933; Chapelle & Li, NeurIPS 2011). It ranks options as TPE's categorical ``l(x) / g(x)``
  does (Bergstra et al., NeurIPS 2011), by ranks only. Why: the scores below compare GPs
  fitted on a handful of points each, and an option whose few values sit close together
  (Hartmann-3's in ``Conditional``, all near the incumbent once the warp squeezes them
  against Branin's and Levy's far worse ones) gets a GP of tiny scale and an EI of nearly
  nothing, so the option that found its own optimum first kept every trial but the floor's
  (seed 16 of the define-by-run runs, trials 18-57: Hartmann-3's 5-9 values within 0.03-0.7
  of the incumbent in warped units with a spread of 0.03-0.15, Branin's spread 0.3-0.95;
  Hartmann-3's best LogEI -6 to -22 against Branin's -3.4 to -7). Counting good trials does
  not depend on the GPs' scales; ``benchmarks/results/robustness.md`` has the runs. Its
  cost: it spreads more trials over weak options than ``"ei"`` (on the live CASH task, 10
  seeds: diabetes 0.5022 against 0.5051, breast_cancer 0.9824 against 0.9842; an
  empirical-Bayes prior with the base rate as its mean did not help, 0.5017 on diabetes).
* ``"ei"``: the targets of every option are warped *together* (one
  :func:`~hpo.searchers._warp.warp_targets` over all observations), and each option is scored
  by its best acquisition value against the **global** incumbent over a candidate set inside
  it: LogEI, or for ``acquisition="ts"`` the maximum of one joint posterior draw (Thompson
  sampling over the tree). The option with the highest score is searched next.

Why not a model of the top-level columns alone (our first version, until 2026-12-02): such
a model predicts an option's *average* config, and on the live CASH task (``benchmarks/
cash.py``) that sent 58-61 of 100 diabetes evaluations to ridge regression, whose one
parameter gives a flat 0.4896 everywhere, because ridge has the highest mean, while the best
configs were SVMs and MLPs with many bad configs around them. What an option is worth is
what its best configs can still add, which is what the per-option EI measures: a flat option
below the incumbent has almost none.

Deviations: running configs are not used to score or count options (the search inside the chosen
option is pending-aware, qLogNEI); an option with fewer than ``min(d_option + 1, n_init)``
observations is picked before any scoring, with a uniform draw inside it (it cannot be
modelled yet; the Sobol design and the floor usually give each option that many); the
candidate set is 256 uniform points inside the option plus 33 perturbations of its best,
not a gradient optimisation; the cost-aware acquisitions score options by EI alone (the
cost enters the search inside the option). The scoring models see only the option's
columns, and a GP among them refits its hyperparameters only when the option's data grew:
on the CASH space (21 columns, 6 options, 80 observations) a suggestion took 0.6-0.8 s,
against 0.1-0.2 s with the single top-level model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from hpo.search_spaces import SearchSpace
from hpo.searchers._bo_propose import cat_dims, propose
from hpo.searchers._bo_subset import fit_subset
from hpo.searchers._warp import warp_targets

if TYPE_CHECKING:
    import numpy as np

__all__ = ["BRANCH_CHOICES", "Branches", "N_OPTION_CANDIDATES", "FRESH_TRIES", "check_branch_choice", "top_gamma"]

#: How the decomposed BO picks the option to search next (module docstring).
BRANCH_CHOICES = ("top-ts", "ei")

#: Uniform candidates per option when options are scored (plus local ones around its best).
N_OPTION_CANDIDATES = 256
#: Random draws inside an option before it counts as exhausted, or before
#: :meth:`~hpo.searchers.bo.BOSearcher._fresh` draws from the whole space.
FRESH_TRIES = 20


def _constant(z_b: np.ndarray) -> bool:
    """Whether three or more configs of an option gave exactly the same value.

    Its parameters do not move it (or it always fails and is imputed): searching it again
    cannot improve on it, so under either ``branch_choice`` it keeps only its floor share.
    """
    import numpy as np

    return len(z_b) >= 3 and float(np.ptp(z_b)) <= 1e-12 * (1.0 + float(np.abs(z_b).max()))


def check_branch_choice(branch_choice: str) -> str:
    """``branch_choice`` itself, or :class:`ValueError` naming it when it is not one of :data:`BRANCH_CHOICES`."""
    if branch_choice not in BRANCH_CHOICES:
        raise ValueError(f"branch_choice must be one of {BRANCH_CHOICES}, got {branch_choice!r}")
    return branch_choice


def top_gamma(n: int) -> int:
    """How many of ``n`` observations count as good for ``branch_choice="top-ts"``: ``min(ceil(n / 10), 25)``."""
    return min(-(-n // 10), 25)


class Branches:
    """Conditional spaces: the floor per top-level ``Choice`` option and the decomposed BO."""

    space: SearchSpace
    n_init: int
    seed: int | None
    rng: np.random.Generator
    branch_floor: float
    branch_choice: str
    warp: str
    acquisition: str
    surrogate: Any
    _failed: dict[int, Mapping[str, Any]]
    _by_fidelity: dict[float, dict[int, tuple[Mapping[str, Any], tuple[float, ...]]]]
    _option_surrogates: dict[tuple[float, str], Any]
    max_fit_points: int | None
    _surrogate_name: str | None
    model_space: Any  # BOSearcher's (AcrossFidelities): the space the model works in
    model_fixed: Any
    decode_from_model: Any

    def starved_branch(self, extra: Sequence[Mapping[str, Any]] = ()) -> dict[int, float] | None:
        """``{selector column: unit value}`` of the top-level ``Choice`` option most below its floor, or None.

        Counts every trial the searcher has seen (each once, at any fidelity, failed ones
        included) plus ``extra`` (running and just-suggested configs).
        """
        selectors = self._top_choices()
        if not selectors or self.branch_floor <= 0:
            return None
        seen: dict[int, Mapping[str, Any]] = dict(self._failed)
        for results in self._by_fidelity.values():
            seen.update({tid: config for tid, (config, _) in results.items()})
        configs = [*seen.values(), *extra]
        worst: tuple[float, int, float] | None = None
        for j, dim in selectors:
            options = list(dim.param.options)  # type: ignore[attr-defined]
            need = self.branch_floor * len(configs) / len(options)
            for i, option in enumerate(options):
                deficit = need - sum(1 for c in configs if c.get(dim.name) == option)
                if deficit >= 1 and (worst is None or deficit > worst[0]):
                    worst = (deficit, j, (i + 0.5) / len(options))
        return None if worst is None else {worst[1]: worst[2]}

    def _option_model(self, value: float, role: str) -> Any:
        """The option's own surrogate for ``role`` (``"score"`` or ``"search"``), made once.

        One per option and role, so each keeps its warm start (the two roles fit different
        columns, and a surrogate refits from scratch when its inputs change shape).
        """
        import copy

        from hpo.surrogates import make_surrogate

        key = (value, role)
        if key not in self._option_surrogates:
            model = make_surrogate(self._surrogate_name, seed=self.seed or 0) if self._surrogate_name else copy.deepcopy(self.surrogate)
            if role == "score" and hasattr(model, "full_refit_until"):
                # a GP refits its hyperparameters only when the option's data grew (one option per
                # sequential step); otherwise it conditions on the re-warped targets
                model.full_refit_until, model.refit_every = 0, 1
            self._option_surrogates[key] = model
        return self._option_surrogates[key]

    def _need_in_option(self, branch: dict[int, float]) -> tuple[int, dict[str, Any]]:
        """``(observations an option needs before it is modelled, a uniform config inside it)``.

        ``min(d_option + 1, n_init)``, at least 2; 1 for an option with no parameter of its
        own and no other top-level one (it has a single config).
        """
        draw = self.draw_in_branch(branch)
        d_branch = int(self.space.active_mask([draw]).sum())  # the option's columns, the selector included
        return (1 if d_branch == 1 else max(2, min(d_branch + 1, self.n_init))), draw

    def _suggest_in_branch(
        self,
        branch: dict[int, float],
        x_obs: np.ndarray,
        y_obs: np.ndarray,
        x_pending: np.ndarray | None,
        incumbent: np.ndarray | None = None,
    ) -> dict[str, Any]:
        """One config inside an option (a starved one, or the picked one): BO on that option's own observations.

        The model is fitted on the option's observations only, so the acquisition is
        relative to the option's own incumbent (as TPE's per-parameter densities are): in an
        option that looks bad overall, it searches where that option is best instead of
        exploring wherever its variance is largest. Fewer than ``min(d_option + 1, n_init)``
        observations there (``d_option``: the columns active in the option): a uniform
        draw inside the option. ``x_obs`` and ``x_pending`` are in the searcher's
        :meth:`model_space` (with a fidelity column under ``fidelity_model="input"``).
        """
        import numpy as np

        (j, value), = branch.items()
        rows = np.abs(x_obs[:, j] - value) < 1e-9
        need, draw = self._need_in_option(branch)
        if rows.sum() < need:
            return draw
        fixed = {**self.model_fixed(), **branch}
        pend = None
        if x_pending is not None:
            in_branch = np.abs(x_pending[:, j] - value) < 1e-9
            pend = x_pending[in_branch] if in_branch.any() else None
        (point,) = propose(self.model_space(), x_obs[rows], y_obs[rows], pend, self._option_model(value, "search"), self.acquisition,
                           self.rng, 1, self.warp, fixed=fixed, incumbent=None if incumbent is None else incumbent[rows],
                           cost=getattr(self, "_cost_arg", None), max_fit_points=self.max_fit_points)
        return self.decode_from_model(point[None, :])[0]

    def draw_in_branch(self, branch: dict[int, float]) -> dict[str, Any]:
        """A uniform random config inside the option ``branch`` (``{selector column: unit value}``)."""
        (j, value), = branch.items()
        probe = self.rng.random((1, self.space.d))
        probe[:, j] = value
        return self.space.decode(probe)[0]

    def _root_choice(self) -> tuple[int, Any] | None:
        """``(column, Choice dim)`` of the one top-level ``Choice`` the decomposition splits on, or None."""
        tops = self._top_choices()
        return tops[0] if len(tops) == 1 else None

    def _top_choices(self) -> list[tuple[int, Any]]:
        """``(column, dim)`` of every top-level ``Choice`` of the space."""
        from hpo.search_spaces import Choice

        return [(j, dim) for j, dim in enumerate(self.space.dims) if dim.condition is None and isinstance(dim.param, Choice)]

    def known_configs(self) -> list[Mapping[str, Any]]:
        """Every config the searcher has a result for (at any fidelity) or that failed."""
        return [c for res in self._by_fidelity.values() for c, _ in res.values()] + list(self._failed.values())

    def _pick_branch(
        self, j: int, x_obs: np.ndarray, y_obs: np.ndarray, x_pending: np.ndarray | None, incumbent: np.ndarray | None = None
    ) -> dict[int, float]:
        """Step 1 of ``conditional="decompose"``: the option whose own model promises most (module docstring).

        Args:
            j: The selector column of the top-level ``Choice``.
            x_obs: `m x d`-dim observations in :meth:`model_space`.
            y_obs: `m`-dim targets (maximized).
            x_pending: Running configs; not used to score options (module docstring).
            incumbent: `m`-dim mask of the rows the incumbent comes from (a target fidelity).
        """
        import numpy as np

        k = self.model_space().dims[j].n_choices
        options = [{j: (cell + 0.5) / k} for cell in range(k)]
        rows = [np.abs(x_obs[:, j] - option[j]) < 1e-9 for option in options]
        known = self.known_configs()
        short = [need - int(r.sum()) for (need, _), r in zip(map(self._need_in_option, options), rows, strict=True)]
        z = warp_targets(y_obs, self.warp)[0]  # one warp for all: the options' scores share a scale
        inc = np.ones(len(z), dtype=bool) if incumbent is None or not np.any(incumbent) else np.asarray(incumbent, dtype=bool)
        best = float(z[inc].max())
        # an option too little known to be modelled is learned first; then the best score
        order = sorted(range(k), key=lambda i: -short[i])
        if short[order[0]] <= 0:
            if self.branch_choice == "top-ts":
                good = np.zeros(len(z), dtype=bool)
                good[np.argsort(-z, kind="stable")[: top_gamma(len(z))]] = True
                scores = [float("-inf") if _constant(z[r]) else self.rng.beta(1 + int((good & r).sum()), 1 + int((~good & r).sum()))
                          for r in rows]
            else:
                scores = [self._option_score(option, x_obs[r], z[r], best, inc[r]) if r.sum() >= 2 else float("-inf")
                          for option, r in zip(options, rows, strict=True)]
            order = sorted(range(k), key=lambda i: -scores[i])
        for i in order:  # an option whose configs have all been tried (a small finite one) is passed over
            if not self._exhausted(options[i], known):
                return options[i]
        return options[order[0]]

    def _exhausted(self, branch: dict[int, float], known: list[Mapping[str, Any]]) -> bool:
        """Whether ``FRESH_TRIES`` uniform draws inside the option are all configs already tried."""
        return all(self.draw_in_branch(branch) in known for _ in range(FRESH_TRIES))

    def _option_score(self, branch: dict[int, float], x_b: np.ndarray, z_b: np.ndarray, best: float, inc_b: np.ndarray) -> float:
        """Best acquisition value inside one option against the global incumbent ``best`` (warped units)."""
        import numpy as np
        import torch

        from hpo.acquisition import LogEI

        (j, value), = branch.items()
        space = self.model_space()
        active = np.zeros(space.d, dtype=bool)  # the option's columns (any observation's); the rest keep their value
        active[: self.space.d] = self.space.active_mask(self.decode_from_model(x_b)).any(axis=0)
        active[j] = False
        fixed = self.model_fixed()
        # The model sees the option's columns and any model-only column (a fidelity), not the
        # constant columns of other options: a fit then costs a fraction (76 -> 16 ms on CASH).
        cols = np.flatnonzero(active | (np.arange(space.d) >= self.space.d))
        space_cats = cat_dims(space)
        cats = {new: space_cats[old] for new, old in enumerate(cols) if old in space_cats}
        if cols.size == 0:  # the option's one config is known: it has nothing left to offer
            return float("-inf")
        if _constant(z_b):
            # A model of constant targets has no scale of its own (a standardized GP falls back
            # to unit variance), so its EI would be pure prior; the option keeps only its floor share.
            return float("-inf")
        model = self._option_model(value, "score")
        keep = fit_subset(z_b, self.max_fit_points, self.rng)
        x_fit, z_fit = (x_b, z_b) if keep is None else (x_b[keep], z_b[keep])
        model.fit(x_fit[:, cols], z_fit, cats)
        base = x_b[int(np.argmax(np.where(inc_b, z_b, -np.inf)))]
        uniform = np.repeat(base[None, :], N_OPTION_CANDIDATES, axis=0)
        uniform[:, active] = self.rng.random((N_OPTION_CANDIDATES, int(active.sum())))
        local = np.repeat(base[None, :], 33, axis=0)
        steps = self.rng.normal(0.0, 1.0, size=(33, int(active.sum()))) * np.repeat([0.1, 0.02, 0.004], 11)[:, None]
        local[:, active] = np.clip(local[:, active] + steps, 0.0, 1.0)
        cands = np.vstack([uniform, local])
        for col, u in fixed.items():
            cands[:, col] = u
        cands = cands[:, cols]
        x = torch.as_tensor(cands, dtype=torch.float64)
        with torch.no_grad():
            if self.acquisition == "ts":
                gen = torch.Generator().manual_seed(int(self.rng.integers(2**31)))
                values = model.predict(x[None, :, :]).sample(1, gen).reshape(-1)
            else:
                values = LogEI(model, best_f=best)(x[:, None, :])
        return float(values.max())
