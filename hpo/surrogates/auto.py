"""A surrogate that picks among others by cross-validated predictive log likelihood (``"auto"``).

Which model suits a study (a GP for smooth objectives, a forest for steps, categories and
conditional spaces, a deep ensemble in between) is seldom known beforehand, and the
study's own observations can tell. As in model selection by cross-validated predictive
density (Vehtari, Gelman & Gabry, "Practical Bayesian model evaluation using leave-one-out
cross-validation and WAIC", Statistics and Computing 2017; Rasmussen & Williams 2006,
§5.4.2, for GPs), :class:`AutoSurrogate`:

* before ``max(min_points, d + 2)`` observations, uses the first candidate (the GP);
* then, at the first fit and whenever ``every`` (5) observations have been added since the
  last selection (or the data set shrank, e.g. BO moved to a higher rung, or its columns
  changed), runs ``n_folds``-fold cross-validation (5; folds from a permutation seeded by
  ``(seed, n)``) of every candidate on the targets standardized over all points, on at
  most ``max_cv_points`` (100) of them (a seeded random subset above that);
* scores each candidate by the mean Gaussian log predictive density of the held-out
  targets, ``log N(y_i; mu_i, var_i + noise_i)``, with ``mu_i`` and ``var_i`` the latent
  mean and variance of the model fitted on the other folds and ``noise_i`` its own
  observation noise, at least ``noise_floor`` (1e-3 in standardized units): the
  ``noise_variance`` of its predictive where it has one (the deep ensemble's heads), the
  likelihood noise of its BoTorch model where it has one (the GP: ``likelihood.noise``
  times the squared outcome scale), else the floor alone (the forest);
* picks the best score (ties: the earlier candidate), then fits the chosen one on all the
  data. Between selections it keeps its choice and only refits it. A candidate that raises
  during cross-validation scores ``-inf`` and is skipped at later selections.

Cost control and fairness: every candidate keeps one cross-validation model for all folds
and selections, built with ``cv_kwargs``:

* the GP re-fits its hyperparameters on every fold (``full_refit_until=10**9``), starting
  from the previous fold's (40 L-BFGS-B iterations instead of 150 from scratch). Sharing
  one hyperparameter fit across the folds (the GP's own policy above 50 points) would let
  a fold's hyperparameters come from a fit that saw its held-out points: on a 4-d step
  function at 50 points, sharing raised the GP's score from -0.98 to -0.56 and took the
  choice from the forest (-0.64);
* the deep ensemble has 5 members instead of 10;
* the forest is cheap as it is (50-100 ms a fit).

Added time per suggestion, measured on 2 CPU cores (lightly loaded), d = 4 (a smooth
function plus a small step), default candidates, one fit per new observation: 0.56 s at
20 points, 0.66 s at 50 and 1.9 s at 100, where the deep ensemble was chosen and its own
fit (about 1 s) replaced the GP's (0.06 s). That is the cross-validation every 5 fits,
amortized (one selection: the GP 1.3 / 1.6 / 2.0 s, the ensemble 0.9 / 1.1 / 2.4 s, the
forest 0.2 s at 20 / 50 / 100 points), plus the chosen model's fit minus a GP's.
Fewer GP iterations per fold (15) cut the GP's part by 60% but raised its scores by
letting the previous fold's hyperparameters count for more (by 0.3 nats on a 3-d block
step), so they stay at 40.

``differentiable`` follows the current choice (an instance attribute, read by the
acquisition optimizer). ``chosen`` names it and ``history`` lists every selection.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from hpo.surrogates.base import BaseSurrogate, Predictive

if TYPE_CHECKING:
    import numpy as np
    import torch

__all__ = ["AutoSurrogate", "Selection"]

Candidate = str | BaseSurrogate | Callable[[], BaseSurrogate]

#: Constructor overrides of the cross-validation models of named candidates.
_CV_KWARGS: dict[str, dict[str, Any]] = {"gp": {"full_refit_until": 10**9}, "ensemble": {"n_members": 5}}


def _returns(model: BaseSurrogate) -> Callable[[], BaseSurrogate]:
    return lambda: model


def _copies(pristine: BaseSurrogate) -> Callable[[], BaseSurrogate]:
    """Fresh copies of an unfitted prototype (for the cross-validation model)."""
    return lambda: copy.deepcopy(pristine)


class Selection(NamedTuple):
    """One model selection: the data size, each candidate's CV score and the choice."""

    n_points: int
    scores: dict[str, float]
    chosen: str


class AutoSurrogate(BaseSurrogate):
    """Chooses among candidate surrogates by held-out log likelihood (see the module docstring).

    Args:
        candidates: Registered names (``"gp"``, ``"forest"``, ``"ensemble"``), surrogate
            objects or zero-argument factories, or a mapping from names to these. The
            first one serves before there are enough observations.
        every: Re-select after this many new observations.
        n_folds: Folds of the cross-validation (at most the number of points).
        min_points: Select only from ``max(min_points, d + 2)`` observations on.
        max_cv_points: Cross-validate on at most this many points.
        noise_floor: Least observation-noise variance (standardized units) in the scores.
        cv_kwargs: Constructor overrides for the fold fits of named candidates.
        seed: Seed of the candidates and of the folds.

    Attributes:
        chosen: Name of the current model.
        history: Every selection, in order.
        differentiable: Whether the current model is differentiable.
    """

    def __init__(
        self,
        candidates: Sequence[Candidate] | Mapping[str, Candidate] = ("gp", "forest", "ensemble"),
        every: int = 5,
        n_folds: int = 5,
        min_points: int = 8,
        max_cv_points: int = 100,
        noise_floor: float = 1e-3,
        cv_kwargs: Mapping[str, Mapping[str, Any]] | None = None,
        seed: int = 0,
    ) -> None:
        if every < 1:
            raise ValueError(f"every must be at least 1, got {every}")
        if n_folds < 2:
            raise ValueError(f"n_folds must be at least 2, got {n_folds}")
        if max_cv_points < 4:
            raise ValueError(f"max_cv_points must be at least 4, got {max_cv_points}")
        if noise_floor <= 0:
            raise ValueError(f"noise_floor must be positive, got {noise_floor}")
        self.every = every
        self.n_folds = n_folds
        self.min_points = min_points
        self.max_cv_points = max_cv_points
        self.noise_floor = noise_floor
        self.cv_kwargs = dict(_CV_KWARGS if cv_kwargs is None else cv_kwargs)
        self.seed = seed
        self._makers = self._candidates(candidates)
        if not self._makers:
            raise ValueError("AutoSurrogate needs at least one candidate")
        self._models: dict[str, BaseSurrogate] = {}
        self._cv_models: dict[str, BaseSurrogate] = {}
        self._failed: set[str] = set()
        self._selected_at: int | None = None
        self._key: tuple[Any, ...] | None = None
        self.chosen = next(iter(self._makers))
        self.history: list[Selection] = []
        # The current model's, set by every fit; an instance attribute over the class's
        # capability flag, which is what the acquisition optimizer reads.
        self.differentiable = True  # type: ignore[misc]
        self._current: BaseSurrogate | None = None

    # ----------------------------------------------------------------- candidates
    def _candidates(
        self, candidates: Sequence[Candidate] | Mapping[str, Candidate]
    ) -> dict[str, tuple[Callable[[], BaseSurrogate], Callable[[], BaseSurrogate]]]:
        """Name -> (factory of the main model, factory of a cross-validation model)."""
        items = list(candidates.items()) if isinstance(candidates, Mapping) else [(None, c) for c in candidates]
        makers: dict[str, tuple[Callable[[], BaseSurrogate], Callable[[], BaseSurrogate]]] = {}
        for i, (given, cand) in enumerate(items):
            if isinstance(cand, str):
                name = given or cand.lower()
                if cand.lower() == "auto":
                    raise ValueError("'auto' cannot be a candidate of itself")
                makers[name] = (self._named(cand, {}), self._named(cand, dict(self.cv_kwargs.get(cand.lower(), {}))))
            elif isinstance(cand, BaseSurrogate):
                name = given or type(cand).__name__
                makers[name] = (_returns(cand), _copies(copy.deepcopy(cand)))
            elif callable(cand):
                name = given or str(getattr(cand, "__name__", f"candidate{i}"))
                makers[name] = (cand, cand)
            else:
                raise TypeError(f"a candidate is a name, a surrogate or a factory, got {type(cand).__name__}")
        return makers

    def _named(self, name: str, overrides: dict[str, Any]) -> Callable[[], BaseSurrogate]:
        def make() -> BaseSurrogate:
            from hpo.surrogates import make_surrogate

            return make_surrogate(name, seed=self.seed, **overrides)

        return make

    def _model(self, name: str) -> BaseSurrogate:
        if name not in self._models:
            self._models[name] = self._makers[name][0]()
        return self._models[name]

    # ----------------------------------------------------------------- fit
    def fit(self, x_unit: Any, y: Any, cat_dims: Mapping[int, int] | None = None) -> None:
        import numpy as np

        x_np = np.asarray(x_unit, dtype=float)
        y_np = np.asarray(y, dtype=float).reshape(-1)
        if len(y_np) == 0:
            raise ValueError("AutoSurrogate.fit needs at least one observation")
        if not np.all(np.isfinite(y_np)):
            raise ValueError("AutoSurrogate.fit got non-finite targets")
        # Many small fits: one thread is much faster than intra-op parallelism on busy
        # cores (as in hpo.searchers.bo.propose); the caller's setting is restored.
        import torch

        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            self._fit(x_np, y_np, cat_dims)
        finally:
            torch.set_num_threads(threads)

    def _fit(self, x_np: np.ndarray, y_np: np.ndarray, cat_dims: Mapping[int, int] | None) -> None:
        n, d = x_np.shape
        key = (d, tuple(sorted((cat_dims or {}).items())))
        if n >= max(self.min_points, d + 2) and self._selection_due(n, key):
            scores = self._cross_validate(x_np, y_np, cat_dims)
            ranked = sorted(scores, key=lambda k: -scores[k])  # stable: ties keep the order
            self._fit_first(ranked, x_np, y_np, cat_dims)
            self.history.append(Selection(n, scores, self.chosen))
            self._selected_at, self._key = n, key
        else:
            order = [self.chosen] + [k for k in self._makers if k != self.chosen and k not in self._failed]
            self._fit_first(order, x_np, y_np, cat_dims)

    def _selection_due(self, n: int, key: tuple[Any, ...]) -> bool:
        last = self._selected_at
        return last is None or key != self._key or n < last or n - last >= self.every

    def _fit_first(self, order: list[str], x: np.ndarray, y: np.ndarray, cat_dims: Mapping[int, int] | None) -> None:
        """Fit the first candidate of ``order`` that fits; it becomes the current model."""
        error: Exception | None = None
        for name in order:
            model = self._model(name)
            try:
                model.fit(x, y, cat_dims)
            except Exception as exc:  # a broken candidate must not stop the study
                self._failed.add(name)
                error = exc
                continue
            self.chosen, self._current = name, model
            self.differentiable = bool(model.differentiable)  # type: ignore[misc]
            return
        raise RuntimeError(f"no candidate surrogate could be fitted (last error: {error!r})") from error

    # ----------------------------------------------------------------- selection
    def _cross_validate(self, x: np.ndarray, y: np.ndarray, cat_dims: Mapping[int, int] | None) -> dict[str, float]:
        """Mean held-out log predictive density of every candidate (standardized targets)."""
        import numpy as np

        n = len(y)
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, n]))
        keep = rng.permutation(n)[: self.max_cv_points]
        x_cv, y_cv = x[keep], y[keep]
        sd = float(y_cv.std())
        y_cv = (y_cv - y_cv.mean()) / (sd if sd > 1e-12 else 1.0)
        folds = np.array_split(np.arange(len(y_cv)), min(self.n_folds, len(y_cv)))
        scores: dict[str, float] = {}
        for name, (_, make_cv) in self._makers.items():
            if name in self._failed:
                scores[name] = -math.inf
                continue
            try:
                if name not in self._cv_models:
                    self._cv_models[name] = make_cv()
                scores[name] = self._score(self._cv_models[name], x_cv, y_cv, folds, cat_dims)
            except Exception:  # scored out, and skipped from now on
                self._failed.add(name)
                scores[name] = -math.inf
        return scores

    def _score(
        self, model: BaseSurrogate, x: np.ndarray, y: np.ndarray, folds: list[np.ndarray], cat_dims: Mapping[int, int] | None
    ) -> float:
        import numpy as np
        import torch

        total = 0.0
        for test in folds:
            train = np.setdiff1d(np.arange(len(y)), test)
            model.fit(x[train], y[train], cat_dims)
            with torch.no_grad():
                pred = model.predict(torch.as_tensor(x[test], dtype=torch.float64))
                mean = pred.mean.detach().double().numpy().reshape(-1)
                var = pred.variance.detach().double().numpy().reshape(-1)
            var = np.maximum(var, 0.0) + self._noise(model, pred, len(test))
            total += float(np.sum(-0.5 * np.log(2 * np.pi * var) - 0.5 * (y[test] - mean) ** 2 / var))
        value = total / len(y)
        return value if np.isfinite(value) else -math.inf

    def _noise(self, model: BaseSurrogate, pred: Predictive, n: int) -> np.ndarray:
        """Observation-noise variance at the held-out points, at least ``noise_floor``."""
        import numpy as np

        noise: Any = getattr(pred, "noise_variance", None)
        if noise is not None:
            noise = noise.detach().double().numpy().reshape(-1)
        else:
            botorch_model = getattr(model, "botorch_model", None)
            try:
                scale = botorch_model.outcome_transform.stdvs.reshape(-1)[0]  # type: ignore[union-attr]
                noise = float((botorch_model.likelihood.noise.reshape(-1)[0] * scale**2).detach())  # type: ignore[union-attr]
            except (AttributeError, TypeError):
                noise = 0.0
        return np.maximum(np.broadcast_to(noise, (n,)), self.noise_floor)

    # ----------------------------------------------------------------- predict
    def predict(self, x_unit: torch.Tensor) -> Predictive:
        if self._current is None:
            raise RuntimeError("AutoSurrogate.predict called before fit")
        return self._current.predict(x_unit)
