"""What ``BOSearcher`` does beyond fitting one model: trust in a rung, and conditional spaces.

Split out of :mod:`hpo.searchers.bo` by responsibility; the rules and their references are
documented on :class:`hpo.searchers.bo.BOSearcher` ("Trusting a rung", ``branch_floor``,
``conditional``). The mixins read the searcher's state (``_by_fidelity``, ``_failed``,
``space``, ``n_init``, ``rng``, ``surrogate``) and never keep their own, except the
branch model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from hpo.search_spaces import SearchSpace
from hpo.searchers._bo_propose import propose

if TYPE_CHECKING:
    import numpy as np

__all__ = ["RungTrust", "Branches"]


class RungTrust:
    """The random share under multi-fidelity from rank agreement between rungs."""

    _by_fidelity: dict[float, dict[int, tuple[Mapping[str, Any], tuple[float, ...]]]]
    random_fraction: float | None

    _fitted_fidelity: Any  # BOSearcher's: the fidelity its model fits

    def effective_random_fraction(self) -> float:
        """``random_fraction``, or its adaptive default (see "Trusting a rung")."""
        if self.random_fraction is not None:
            return self.random_fraction
        if len(self._by_fidelity) <= 1:
            return 0.0
        agreement = self.rung_agreement()
        trust = 1.0 if agreement is None else min(1.0, max(0.0, agreement[2] / 0.5))
        return 1.0 - trust

    def rung_agreement(self) -> tuple[float, float, float, int] | None:
        """``(lower fidelity, higher fidelity, Kendall tau, common trials)`` behind the trust, or None.

        The pair is the fitted fidelity and the next larger one; when no larger one has 5
        trials in common with it (e.g. the fitted rung is the largest observed), the next
        smaller one and the fitted one, as the best evidence of how far rungs predict
        their successors at this stage. None when neither pair has 5 common trials.
        """
        fitted = self._fitted_fidelity()
        if fitted is None:
            return None
        fids = sorted(self._by_fidelity)
        i = fids.index(fitted)
        for lo, hi in ((i, i + 1), (i - 1, i)):
            if lo >= 0 and hi < len(fids):
                tau = self._kendall(fids[lo], fids[hi])
                if tau is not None:
                    return fids[lo], fids[hi], tau[0], tau[1]
        return None

    def _kendall(self, low_f: float, high_f: float) -> tuple[float, int] | None:
        import numpy as np
        from scipy.stats import kendalltau

        low, high = self._by_fidelity[low_f], self._by_fidelity[high_f]
        common = sorted(set(low) & set(high))
        if len(common) < 5:
            return None
        a = np.array([low[t][1][0] for t in common], dtype=float)
        b = np.array([high[t][1][0] for t in common], dtype=float)
        tau = kendalltau(a, b).statistic
        return (float(tau) if np.isfinite(tau) else 0.0), len(common)



class Branches:
    """Conditional spaces: the floor per top-level ``Choice`` option and the decomposed BO."""

    space: SearchSpace
    n_init: int
    branch_floor: float
    _failed: dict[int, Mapping[str, Any]]
    _by_fidelity: dict[float, dict[int, tuple[Mapping[str, Any], tuple[float, ...]]]]
    _branch_surrogate: Any
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
        from hpo.search_spaces import Choice

        selectors = [(j, dim) for j, dim in enumerate(self.space.dims) if dim.condition is None and isinstance(dim.param, Choice)]
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

    def _suggest_in_branch(
        self,
        branch: dict[int, float],
        x_obs: np.ndarray,
        y_obs: np.ndarray,
        x_pending: np.ndarray | None,
        incumbent: np.ndarray | None = None,
    ) -> dict[str, Any]:
        """One config inside a starved option: BO on that option's own observations, else random.

        The model is fitted on the option's observations only, so the acquisition is
        relative to the option's own incumbent (as TPE's per-parameter densities are): in an
        option that looks bad overall, it searches where that option is best instead of
        exploring wherever its variance is largest. Fewer than ``min(d_option + 1, n_init)``
        observations there (``d_option``: the columns active in the option): a uniform
        draw inside the option. ``x_obs`` and ``x_pending`` are in the searcher's
        :meth:`model_space` (with a fidelity column under ``fidelity_model="input"``).
        """
        import copy

        import numpy as np

        (j, value), = branch.items()
        rows = np.abs(x_obs[:, j] - value) < 1e-9
        draw = self.draw_in_branch(branch)
        d_branch = int(self.space.active_mask([draw]).sum())  # the option's columns
        if rows.sum() < max(2, min(d_branch + 1, self.n_init)):
            return draw
        fixed = {**self.model_fixed(), **branch}
        if self._branch_surrogate is None:  # its own model: the main one keeps its warm start
            from hpo.surrogates import make_surrogate

            self._branch_surrogate = (
                make_surrogate(self._surrogate_name, seed=self.seed or 0) if self._surrogate_name else copy.deepcopy(self.surrogate)
            )
        pend = None
        if x_pending is not None:
            in_branch = np.abs(x_pending[:, j] - value) < 1e-9
            pend = x_pending[in_branch] if in_branch.any() else None
        (point,) = propose(self.model_space(), x_obs[rows], y_obs[rows], pend, self._branch_surrogate, self.acquisition,
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
        from hpo.search_spaces import Choice

        tops = [(j, dim) for j, dim in enumerate(self.space.dims) if dim.condition is None and isinstance(dim.param, Choice)]
        return tops[0] if len(tops) == 1 else None

    def _pick_branch(
        self, j: int, x_obs: np.ndarray, y_obs: np.ndarray, x_pending: np.ndarray | None, incumbent: np.ndarray | None = None
    ) -> dict[int, float]:
        """Step 1 of ``conditional="decompose"``: the option, by BO over the top-level columns only.

        The top-level columns of :meth:`model_space` (a fidelity column is top-level).
        """
        import numpy as np

        from hpo.search_spaces import Categorical

        space = self.model_space()
        top = [i for i, dim in enumerate(space.dims) if dim.condition is None]
        k = space.dims[j].n_choices
        root = SearchSpace({space.dims[i].name: (Categorical(list(range(k))) if i == j else space.dims[i].param) for i in top})
        fixed = {top.index(col): u for col, u in self.model_fixed().items()}
        # The root space's columns are the top-level columns, in order, with the same codecs.
        # ``self.surrogate`` is the root model: it sees every observation, as in "joint" mode.
        (point,) = propose(root, x_obs[:, top], y_obs, None if x_pending is None else x_pending[:, top],
                           self.surrogate, self.acquisition, self.rng, 1, self.warp, fixed=fixed, incumbent=incumbent,
                           max_fit_points=self.max_fit_points)
        cell = int(np.clip(np.floor(point[top.index(j)] * k), 0, k - 1))
        return {j: (cell + 0.5) / k}

