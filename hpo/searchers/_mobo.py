"""Bayesian optimization of several objectives: one GP per objective and qLogNEHVI.

:func:`propose_pareto` is the engine for studies with several metrics, the
multi-objective counterpart of :func:`hpo.searchers.bo.propose`.

* **Model**: a BoTorch ``ModelListGP`` of independent GPs, one per objective, each one a
  fitted :class:`hpo.surrogates.GPSurrogate`'s ``botorch_model`` (so built and fitted as
  documented there: Matérn-5/2 ARD with gamma priors, ``MixedSingleTaskGP`` when the
  space has categorical columns, float64, standardized outcomes, MAP hyperparameters).
* **Acquisition**: BoTorch's ``qLogNoisyExpectedHypervolumeImprovement`` (Daulton,
  Balandat & Bakshy, "Parallel Bayesian Optimization of Multiple Noisy Objectives with
  Expected Hypervolume Improvement", NeurIPS 2021; in log space as in Ament et al.,
  "Unexpected Improvements to Expected Improvement for Bayesian Optimization", NeurIPS
  2023). The observed configs are the baseline (pruned to the probably Pareto-optimal
  ones) and the running trials are ``X_pending``, so parallel workers get different
  points.
* **Optimizer**: the project's mixed optimizer :func:`hpo.acquisition.optimize_acquisition`,
  with the observed Pareto set and perturbations of it as extra starts; ``n > 1`` points
  are chosen sequentially greedy, each joining the pending set.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from hpo.acquisition.functions import BaseAcquisition
from hpo.search_spaces import SearchSpace
from hpo.searchers._warp import WARPS, warp_targets

if TYPE_CHECKING:
    import numpy as np
    import torch

    from hpo.surrogates.gp import GPSurrogate

__all__ = ["propose_pareto", "infer_reference_point"]

#: Fraction of the Pareto front's range the inferred reference point lies below its nadir.
REF_SCALE = 0.1

_MC_SAMPLES = 128


def infer_reference_point(y: np.ndarray, scale: float = REF_SCALE) -> np.ndarray:
    """Reference point for `m x k`-dim targets to be maximized: below the front's nadir.

    Per objective, ``nadir - scale * (ideal - nadir)`` where nadir and ideal are the worst
    and best values **on the observed Pareto front**: BoTorch's ``infer_reference_point``
    rule, with the robust ``scale = 0.1`` of Ishibuchi et al. (2011). Where the front has
    no spread in an objective (e.g. a single Pareto point) the range of all observed values
    is used instead, and 1.0 where that is zero too (BoTorch would use ``|nadir|``, which
    depends on where zero happens to be).

    Args:
        y: `m x k`-dim observed targets (to be maximized), `m >= 1`, all finite.
        scale: Fraction of the range below the nadir.

    Returns:
        A `k`-dim reference point.
    """
    import numpy as np

    from hpo.pareto import non_dominated

    y = np.asarray(y, dtype=float)
    front = y[non_dominated(y, [True] * y.shape[1])]
    nadir, ideal = front.min(axis=0), front.max(axis=0)
    span = ideal - nadir
    overall = y.max(axis=0) - y.min(axis=0)
    span = np.where(span > 1e-12, span, np.where(overall > 1e-12, overall, 1.0))
    return nadir - scale * span


class _BoTorchAcquisition(BaseAcquisition):
    """A BoTorch acquisition on unit-cube inputs, for :func:`optimize_acquisition`.

    Maps `batch x q x d`-dim unit-cube points to the models' inputs (categorical cells to
    integer categories) and returns the `batch`-dim scores.

    Args:
        acq: The BoTorch acquisition (over a model of all objectives).
        surrogates: The fitted per-objective surrogates; the first one's input map and
            capability flags (``differentiable``, read by the optimizer) stand for all,
            since they are built alike.
    """

    discrete_only: ClassVar[bool] = False

    def __init__(self, acq: Any, surrogates: Sequence[GPSurrogate]) -> None:
        super().__init__(surrogates[0])
        self._acq = acq
        self._to_model = surrogates[0]._to_model_inputs

    def __call__(self, x_unit: torch.Tensor) -> torch.Tensor:
        return self._acq(self._to_model(x_unit))


def propose_pareto(
    space: SearchSpace,
    x_obs: np.ndarray,
    y_obs: np.ndarray,
    x_pending: np.ndarray | None,
    rng: np.random.Generator,
    n: int = 1,
    ref_point: Sequence[float] | None = None,
    warp: str = "none",
) -> np.ndarray:
    """Fit a GP per objective and return `n x d`-dim points maximizing qLogNEHVI.

    Args:
        space: The search space.
        x_obs: `m x d`-dim unit-cube encoded observations (``space.encode``), `m >= 1`.
        y_obs: `m x k`-dim finite targets, every column to be **maximized** (negate
            minimized objectives), `k >= 2`.
        x_pending: `p x d`-dim encoded running configs (or None).
        rng: Generator for GP subsampling seeds, MC base samples and raw samples.
        n: Number of points; the 2nd..n-th treat the earlier ones as pending.
        ref_point: `k`-dim reference point in the units of ``y_obs`` (maximized): only
            improvement beyond it counts. None infers it from the data, per objective
            ``nadir - 0.1 * (ideal - nadir)`` of the observed Pareto front (see
            :func:`infer_reference_point`); it is inferred anew at each call, so it moves
            as the front grows.
        warp: Output warp applied to each objective separately (see
            :mod:`hpo.searchers._warp`): ``"none"`` (default), ``"auto"`` or ``"log"``.
            The warps are monotone, so the Pareto set is unchanged, but hypervolume is then
            measured in warped units, where the gap-to-best warp of one objective
            compresses exactly the region where the other objectives' best trade-offs lie;
            hence the default. A given ``ref_point`` needs ``warp="none"``.

    Returns:
        `n x d`-dim canonical unit-cube points (decode with ``space.decode``).

    Raises:
        ValueError: On shapes that do not match, fewer than two objectives, no or
            non-finite observations, an unknown warp, or ``ref_point`` with a warp.

    Example:
        >>> import numpy as np
        >>> from hpo.search_spaces import SearchSpace, Float
        >>> space = SearchSpace({"a": Float(0.0, 1.0), "b": Float(0.0, 1.0)})
        >>> x = np.random.default_rng(0).random((6, 2))
        >>> y = np.column_stack([-x[:, 0], x[:, 0] - x[:, 1]])  # both maximized
        >>> propose_pareto(space, x, y, None, np.random.default_rng(0), n=2).shape
        (2, 2)
    """
    import numpy as np
    import torch

    x_obs = np.asarray(x_obs, dtype=float)
    y_obs = np.asarray(y_obs, dtype=float)
    if x_obs.ndim != 2 or x_obs.shape[1] != space.d:
        raise ValueError(f"x_obs must be `m x {space.d}`, got shape {x_obs.shape}")
    if y_obs.ndim != 2 or y_obs.shape[1] < 2:
        raise ValueError(f"y_obs must be `m x k` with k >= 2 objectives, got shape {y_obs.shape}")
    if len(y_obs) != len(x_obs) or len(y_obs) == 0:
        raise ValueError(f"need as many (>= 1) rows in x_obs and y_obs, got {len(x_obs)} and {len(y_obs)}")
    if not np.isfinite(y_obs).all():
        raise ValueError("y_obs must be finite (leave failed trials out)")
    if warp not in WARPS:
        raise ValueError(f"unknown output warp {warp!r}; choose from {WARPS}")
    if ref_point is not None:
        if warp != "none":
            raise ValueError("a ref_point is in the objectives' units; it needs warp='none'")
        ref = np.asarray(ref_point, dtype=float).reshape(-1)
        if ref.shape != (y_obs.shape[1],):
            raise ValueError(f"ref_point needs {y_obs.shape[1]} entries, got {ref.shape[0]}")
    y_model = np.column_stack([warp_targets(col, warp)[0] for col in y_obs.T])
    ref = infer_reference_point(y_model) if ref_point is None else ref
    pending = np.zeros((0, space.d)) if x_pending is None else np.asarray(x_pending, dtype=float).reshape(-1, space.d)
    # Many tiny tensor operations: one thread is faster than intra-op parallelism (as in
    # hpo.searchers.bo.propose); the caller's setting is restored after.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _propose(space, x_obs, y_model, pending, ref, rng, n)
    finally:
        torch.set_num_threads(threads)


def _fit_models(space: SearchSpace, x_obs: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> list[GPSurrogate]:
    """One :class:`GPSurrogate` per column of ``y``, fitted on ``x_obs``."""
    from hpo.surrogates.gp import GPSurrogate

    cat_dims = {j: dim.n_choices for j, dim in enumerate(space.dims) if dim.kind == "categorical"}
    surrogates = []
    for col in y.T:
        gp = GPSurrogate(seed=int(rng.integers(2**31)))
        gp.fit(x_obs, col, cat_dims)
        surrogates.append(gp)
    return surrogates


def _local_starts(front: np.ndarray, rng: np.random.Generator, n_centres: int = 8) -> np.ndarray:
    """The observed Pareto set and multi-scale Gaussian perturbations of (up to) 8 of its points."""
    import numpy as np

    centres = front if len(front) <= n_centres else front[rng.choice(len(front), n_centres, replace=False)]
    scales = np.repeat([0.1, 0.02, 0.004], 3)[:, None]
    noise = rng.normal(0.0, 1.0, size=(len(centres), len(scales), front.shape[1])) * scales[None]
    local = (centres[:, None, :] + noise).reshape(-1, front.shape[1])
    return np.clip(np.vstack([front, local]), 0.0, 1.0)


def _propose(
    space: SearchSpace,
    x_obs: np.ndarray,
    y: np.ndarray,
    pending: np.ndarray,
    ref: np.ndarray,
    rng: np.random.Generator,
    n: int,
) -> np.ndarray:
    import warnings

    import numpy as np
    import torch
    from botorch.acquisition.multi_objective.logei import qLogNoisyExpectedHypervolumeImprovement
    from botorch.acquisition.multi_objective.utils import get_default_partitioning_alpha
    from botorch.models import ModelListGP
    from botorch.sampling import SobolQMCNormalSampler
    from linear_operator.utils.warnings import NumericalWarning

    from hpo.acquisition import optimize_acquisition
    from hpo.pareto import non_dominated

    surrogates = _fit_models(space, x_obs, y, rng)
    # The BoTorch models see categorical cells as integer categories, as they were fitted.
    model = ModelListGP(*(gp.botorch_model for gp in surrogates))
    to_model = surrogates[0]._to_model_inputs
    starts = _local_starts(x_obs[non_dominated(y, [True] * y.shape[1])], rng)
    x_baseline = to_model(torch.as_tensor(x_obs, dtype=torch.float64))
    ref_t = torch.as_tensor(ref, dtype=torch.float64)
    out = []
    for _ in range(n):
        with warnings.catch_warnings():
            # Jitter added to near-singular joint posterior covariances (pending points
            # close to observations, duplicated configs) is expected; linear_operator
            # warns "A not p.d., added jitter". Other warnings pass through.
            warnings.simplefilter("ignore", category=NumericalWarning)
            acq = qLogNoisyExpectedHypervolumeImprovement(
                model=model,
                ref_point=ref_t,
                X_baseline=x_baseline,
                sampler=SobolQMCNormalSampler(sample_shape=torch.Size([_MC_SAMPLES]), seed=int(rng.integers(2**31))),
                X_pending=to_model(torch.as_tensor(pending, dtype=torch.float64)) if len(pending) else None,
                prune_baseline=True,
                alpha=get_default_partitioning_alpha(y.shape[1]),
            )
            x, _ = optimize_acquisition(_BoTorchAcquisition(acq, surrogates), space, rng, extra_starts=starts)
        out.append(x)
        pending = np.vstack([pending, x[None, :]])
    return np.asarray(out).reshape(n, space.d)
