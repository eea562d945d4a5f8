"""``BOSearcher(fidelity_model="input")``: one model across fidelities, the fidelity an input.

Split out of :mod:`hpo.searchers.bo` by responsibility; the rule is documented on
:class:`hpo.searchers.bo.BOSearcher` (``fidelity_model``). The mixin reads the searcher's
state (``_by_fidelity``, ``_failed``, ``space``, ``signs``, ``metrics``, ``rng``) and keeps
only the augmented space it builds once.

The model sees every result of every trial at every fidelity it reached, as a point
``(config, u)`` with ``u`` the fidelity log-scaled to [0, 1] over the observed range; the
acquisition holds ``u`` at the target fidelity, the largest with at least
:data:`MIN_AT_TARGET` results (MOBSTER's rule: Klein et al., "Model-based Asynchronous
Hyperparameter and Neural Architecture Search", 2020). MOBSTER's kernel is the
exponential-decay kernel over the resource; here the fidelity is an ordinary ARD input of
the surrogate (any surrogate serves), the "fidelity as a model input" of Swersky et al.,
"Multi-Task Bayesian Optimization", 2013, and of FABOLAS (Klein et al., 2017) -- a documented
deviation from MOBSTER that lets the forest, ensembles and the rest model fidelity too.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from hpo.search_spaces import Float, SearchSpace
from hpo.searchers._bo_subset import subsample

if TYPE_CHECKING:
    import numpy as np

__all__ = ["AcrossFidelities", "FIDELITY_KEY", "MIN_AT_TARGET", "MAX_POINTS"]

#: Name of the fidelity column in the model's space (not a legal user name clash: dunder).
FIDELITY_KEY = "__fidelity__"
#: Results the target fidelity needs (MOBSTER: the largest resource with 3 observations).
MIN_AT_TARGET = 3
#: Most points the model fits; beyond it, results below the target fidelity are subsampled
#: at random (results at and above the target are always kept).
MAX_POINTS = 400


class AcrossFidelities:
    """The model space, training data and encodings of ``fidelity_model="input"``."""

    space: SearchSpace
    fidelity_model: str
    failed: str
    signs: tuple[float, ...]
    metrics: tuple[str, ...]
    rng: np.random.Generator
    _by_fidelity: dict[float, dict[int, tuple[Mapping[str, Any], tuple[float, ...]]]]
    _failed: dict[int, Mapping[str, Any]]
    _augmented: SearchSpace | None = None

    def across_fidelities(self) -> bool:
        """Whether the model now spans fidelities (``"input"``, one objective, >1 fidelity seen)."""
        return self.fidelity_model == "input" and len(self.metrics) == 1 and len(self._by_fidelity) > 1

    def model_space(self) -> SearchSpace:
        """The space the model and the acquisition work in: ``space``, plus the fidelity column last."""
        if not self.across_fidelities():
            return self.space
        if self._augmented is None:
            self._augmented = SearchSpace({**self.space.params, FIDELITY_KEY: Float(0.0, 1.0)})
        return self._augmented

    def model_fixed(self) -> dict[int, float]:
        """Columns every proposal holds: the fidelity column at the target fidelity, if any."""
        if not self.across_fidelities():
            return {}
        return {self.space.d: self.fidelity_unit(self.target_fidelity())}

    def target_fidelity(self) -> float:
        """The largest fidelity with at least :data:`MIN_AT_TARGET` results (else the most observed)."""
        ready = [f for f, res in self._by_fidelity.items() if len(res) >= MIN_AT_TARGET]
        if ready:
            return max(ready)
        return max(self._by_fidelity, key=lambda f: (len(self._by_fidelity[f]), f))

    def fidelity_unit(self, fidelity: float) -> float:
        """``fidelity`` scaled to [0, 1] over the observed range, on a log scale when positive."""
        lo, hi = min(self._by_fidelity), max(self._by_fidelity)
        if hi <= lo:
            return 1.0
        if lo > 0:
            return math.log(fidelity / lo) / math.log(hi / lo)
        return (fidelity - lo) / (hi - lo)

    def encode_for_model(self, configs: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Encode configs to propose around (pending ones) at the target fidelity."""
        fixed = self.model_fixed()
        if not fixed:
            return self.space.encode(configs)
        u = next(iter(fixed.values()))
        return self.model_space().encode([{**c, FIDELITY_KEY: u} for c in configs])

    def decode_from_model(self, points: np.ndarray) -> list[dict[str, Any]]:
        """Decode model-space points to configs of ``space`` (the fidelity column dropped)."""
        configs = self.model_space().decode(points)
        for c in configs:
            c.pop(FIDELITY_KEY, None)
        return configs

    def fidelity_training_data(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """`m x (d+1)` encoded (config, fidelity), `m x 1` targets (maximized), `m` incumbent mask.

        The mask marks the rows at the target fidelity: the incumbent and the noisy-EI
        baseline come from them. Failed trials join at the target fidelity with the worst
        value seen (``failed="impute"``).
        """
        import numpy as np

        target = self.target_fidelity()
        configs: list[dict[str, Any]] = []
        y: list[float] = []
        fids: list[float] = []
        for f, results in self._by_fidelity.items():
            u = self.fidelity_unit(f)
            for config, values in results.values():
                configs.append({**config, FIDELITY_KEY: u})
                y.append(float(values[0]) * self.signs[0])
                fids.append(f)
        y_arr, f_arr = np.asarray(y), np.asarray(fids)
        # at and above the target always; below it, a uniform draw up to MAX_POINTS in all
        rows = subsample(np.flatnonzero(f_arr >= target), np.flatnonzero(f_arr < target), MAX_POINTS, self.rng)
        configs = [configs[i] for i in rows]
        y_arr, f_arr = y_arr[rows], f_arr[rows]
        if self.failed == "impute" and self._failed:
            seen = {tid for res in self._by_fidelity.values() for tid in res}
            failed = [c for tid, c in self._failed.items() if tid not in seen]
            u = self.fidelity_unit(target)
            configs += [{**c, FIDELITY_KEY: u} for c in failed]
            y_arr = np.concatenate([y_arr, np.full(len(failed), y_arr.min())])
            f_arr = np.concatenate([f_arr, np.full(len(failed), target)])
        return self.model_space().encode(configs), y_arr[:, None], f_arr == target
