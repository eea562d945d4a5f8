"""Maximizing an acquisition over a mixed, possibly conditional search space.

1. **Raw samples**: ``n_raw`` uniform points, canonicalized (integers and categories snapped
   to their cells, inactive conditional columns set to the space's inactive value), are
   scored in batched calls; the best ``n_restarts`` become starts. A ``discrete_only``
   acquisition (Thompson sampling) scores them all in one call, one joint draw, and
   picks the best.
2. **Continuous refinement**: L-BFGS-B (scipy) on the active continuous and integer columns
   of all starts at once (their scores summed, so one gradient call serves every start);
   categorical columns and inactive columns stay fixed per start. Skipped when the
   surrogate declares ``differentiable = False``.
3. **Categorical local search**: for the best refined points, every other value of every
   categorical column (selectors of conditional sub-spaces included) is tried, one column
   at a time, keeping improvements, until none is left.

Integer columns are optimized as reals and snapped at the end (as Optuna's GPSampler and
BoTorch's ``optimize_acqf_mixed_alternating`` do for their continuous relaxation).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from hpo.acquisition.functions import BaseAcquisition
from hpo.search_spaces import SearchSpace

if TYPE_CHECKING:
    import numpy as np

__all__ = ["optimize_acquisition", "canonical"]


def canonical(space: SearchSpace, x_unit: np.ndarray) -> np.ndarray:
    """Snap rows to the encoding of the configs they decode to (an idempotent projection)."""
    return space.encode(space.decode(x_unit))


def _score(acq: BaseAcquisition, x: np.ndarray, chunk: int = 512) -> np.ndarray:
    import numpy as np
    import torch

    out = []
    with torch.no_grad():
        for i in range(0, len(x), chunk):
            xt = torch.as_tensor(x[i : i + chunk], dtype=torch.float64).unsqueeze(-2)
            out.append(acq(xt).detach().numpy())
    return np.concatenate(out) if out else np.zeros(0)


def _refine(acq: BaseAcquisition, starts: np.ndarray, free: np.ndarray, maxiter: int) -> np.ndarray:
    """L-BFGS-B on the ``free`` (`r x d`-dim boolean) coordinates of all starts jointly."""
    import numpy as np
    import torch
    from scipy.optimize import minimize

    if not free.any():
        return starts
    fixed = torch.as_tensor(starts, dtype=torch.float64)
    mask = torch.as_tensor(free)

    def f(z: np.ndarray) -> tuple[float, np.ndarray]:
        zt = torch.as_tensor(z, dtype=torch.float64).requires_grad_(True)
        x = fixed.clone()
        x[mask] = zt
        value = acq(x.unsqueeze(-2))
        loss = -value.sum()
        loss.backward()
        grad = zt.grad.detach().numpy() if zt.grad is not None else np.zeros_like(z)
        if not np.isfinite(loss.item()):
            return 1e10, np.zeros_like(z)
        return float(loss.item()), np.nan_to_num(grad)

    z0 = starts[free]
    res = minimize(f, z0, jac=True, method="L-BFGS-B", bounds=[(0.0, 1.0)] * len(z0), options={"maxiter": maxiter})
    out = starts.copy()
    out[free] = np.clip(res.x, 0.0, 1.0)
    return out


def optimize_acquisition(
    acq: BaseAcquisition,
    space: SearchSpace,
    rng: np.random.Generator,
    *,
    n_raw: int = 512,
    n_restarts: int = 6,
    maxiter: int = 50,
    extra_starts: np.ndarray | None = None,
    fixed: Mapping[int, float] | None = None,
) -> tuple[np.ndarray, float]:
    """The best point found and its score.

    Args:
        acq: The acquisition to maximize.
        space: The search space (for canonicalization and column kinds).
        rng: Generator for the raw samples.
        n_raw: Number of raw samples.
        n_restarts: Number of starts refined by L-BFGS-B.
        maxiter: L-BFGS-B iterations.
        extra_starts: `m x d`-dim points added to the raw samples (e.g. the incumbent's
            neighbours).
        fixed: Column -> unit-cube value held fixed in every candidate (e.g. a ``Choice``
            selector, to search within one branch); the local search leaves them alone.

    Returns:
        A `d`-dim canonical unit-cube point and its acquisition value.
    """
    import numpy as np

    d = space.d
    fixed = dict(fixed or {})

    def pin(x: np.ndarray) -> np.ndarray:
        x = np.array(x, dtype=float)
        for j, v in fixed.items():
            x[:, j] = v
        return canonical(space, x)

    raw = pin(rng.random((n_raw, d)))
    if extra_starts is not None and len(extra_starts):
        raw = np.vstack([raw, pin(extra_starts)])
    if acq.discrete_only:
        scores = _score(acq, raw, chunk=len(raw))
        best = int(np.argmax(scores))
        return raw[best], float(scores[best])
    scores = _score(acq, raw)
    order = np.argsort(-scores)[:n_restarts]
    starts = raw[order]
    candidates, cand_scores = starts, scores[order]
    if acq.surrogate.differentiable:
        kinds = np.array([dim.kind for dim in space.dims])
        active = space.active_mask(space.decode(starts))
        free = active & (kinds != "categorical")[None, :]
        free[:, list(fixed)] = False  # e.g. a fidelity column held at the target fidelity
        refined = canonical(space, _refine(acq, starts, free, maxiter))
        candidates = np.vstack([refined, starts])
        cand_scores = np.concatenate([_score(acq, refined), cand_scores])
    cat_cols = [j for j, dim in enumerate(space.dims) if dim.kind == "categorical" and j not in fixed]
    if cat_cols:
        top = np.argsort(-cand_scores)[:2]
        for i in top:
            x, s = _local_search(acq, space, candidates[i], cand_scores[i], cat_cols)
            candidates[i], cand_scores[i] = x, s
    best = int(np.argmax(cand_scores))
    return candidates[best], float(cand_scores[best])


def _local_search(
    acq: BaseAcquisition, space: SearchSpace, x: np.ndarray, score: float, cat_cols: list[int]
) -> tuple[np.ndarray, float]:
    import numpy as np

    improved = True
    while improved:
        improved = False
        for j in cat_cols:
            k = space.dims[j].n_choices
            trials = np.repeat(x[None, :], k, axis=0)
            trials[:, j] = (np.arange(k) + 0.5) / k
            trials = canonical(space, trials)
            values = _score(acq, trials)
            b = int(np.argmax(values))
            if values[b] > score + 1e-12:
                x, score, improved = trials[b], float(values[b]), True
    return x, score


