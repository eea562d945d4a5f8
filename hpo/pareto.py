"""Pareto dominance and hypervolume for studies with several objectives.

* :func:`non_dominated` — the exact non-dominated mask of `m x k` objective values: rows
  in lexicographic order, each block compared with the front found so far (the
  sort-then-filter idea of Kung, Luccio & Preparata, "On Finding the Maxima of a Set of
  Vectors", JACM 1975), `O(m f k)` for a front of `f` rows (`O(m^2 k)` at worst), memory
  `O(block x f x k)`. 10,000 trials take milliseconds, not seconds.
* :func:`pareto_front` — the non-dominated trials among COMPLETED ones.
* :func:`hypervolume` — the volume dominated by a set and bounded by a reference point:
  an exact sweep for two objectives, BoTorch's dimension-sweep ``Hypervolume``
  (Fonseca, Paquete & López-Ibáñez, CEC 2006) for more.

numpy (and, for three or more objectives, torch/BoTorch) is imported lazily.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from hpo.trial import finite

if TYPE_CHECKING:
    import numpy as np

__all__ = ["non_dominated", "pareto_front", "hypervolume"]

T = TypeVar("T")

_BLOCK = 256  # rows filtered at once in non_dominated


def _as_maximized(y: Any, maximize: Sequence[bool]) -> np.ndarray:
    """`m x k`-dim float array with minimized columns negated (everything maximized)."""
    import numpy as np

    y = np.asarray(y, dtype=float)
    if y.ndim != 2:
        raise ValueError(f"objective values must be an `m x k` array, got shape {y.shape}")
    flags = [bool(f) for f in maximize]
    if len(flags) != y.shape[1]:
        raise ValueError(f"maximize has {len(flags)} entries for {y.shape[1]} objectives")
    return np.where(np.asarray(flags, dtype=bool)[None, :], y, -y) if flags else y


def non_dominated(y: Any, maximize: Sequence[bool]) -> np.ndarray:
    """Boolean mask of the rows of ``y`` that no other row dominates.

    Row ``a`` dominates row ``b`` when it is at least as good in every objective and
    strictly better in one. Equal rows do not dominate each other, so all copies of a
    point on the front are kept. Rows containing NaN are never on the front and dominate
    nothing; infinities compare as usual.

    Args:
        y: `m x k`-dim objective values.
        maximize: `k` flags, True where an objective is maximized, False where minimized.

    Returns:
        An `m`-dim boolean array.

    Example:
        >>> non_dominated([[1, 4], [2, 2], [3, 3], [3, 3], [0, 5]], [False, False]).tolist()
        [True, True, False, False, True]
    """
    import numpy as np

    s = _as_maximized(y, maximize)
    mask = np.zeros(len(s), dtype=bool)
    valid = np.flatnonzero(~np.isnan(s).any(axis=1))
    if len(valid) == 0:
        return mask
    v = s[valid]
    # Lexicographically descending: a row that dominates another is larger in the first
    # column where they differ, so every row's dominators come before it, and a dominated
    # row's dominators are dominated by (or are) rows of the front found so far.
    order = np.lexsort(v.T[::-1])[::-1]
    keep = np.zeros(len(v), dtype=bool)
    front = v[:0]
    for start in range(0, len(order), _BLOCK):
        rows = order[start : start + _BLOCK]
        rows = rows[~_dominated_by(front, v[rows])]
        rows = rows[~_dominated_by(v[rows], v[rows])]
        keep[rows] = True
        front = np.vstack([front, v[rows]])
    mask[valid] = keep
    return mask


def _dominated_by(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """For each row of `n x k` ``b`` (maximized): whether a row of `f x k` ``a`` dominates it."""
    import numpy as np

    out = np.zeros(len(b), dtype=bool)
    for start in range(0, len(a), 4 * _BLOCK):  # `n x 4 block x k` at a time
        part = a[None, start : start + 4 * _BLOCK, :]
        out |= ((part >= b[:, None, :]).all(-1) & (part > b[:, None, :]).any(-1)).any(-1)
    return out


def pareto_front(trials: Iterable[T], metrics: Sequence[str], modes: Sequence[str]) -> list[T]:
    """The non-dominated trials, in their given order.

    Only trials whose status value is ``"COMPLETED"`` and whose ``metrics`` hold a finite
    number for every objective take part; ties on the front are all kept.

    Args:
        trials: Objects with ``.status`` (e.g. :class:`hpo.trial.TrialStatus`) and
            ``.metrics`` (a mapping from metric name to value).
        metrics: The `k` objective names.
        modes: `k` entries, ``"min"`` or ``"max"``.

    Returns:
        The Pareto-optimal trials (empty when none qualifies).

    Raises:
        ValueError: ``metrics`` and ``modes`` differ in length, are empty, or a mode is
            neither ``"min"`` nor ``"max"``.
    """
    import numpy as np

    metrics, modes = tuple(metrics), tuple(modes)
    if not metrics or len(metrics) != len(modes):
        raise ValueError(f"need one mode per metric, got metrics={metrics!r}, modes={modes!r}")
    bad = [m for m in modes if m not in ("min", "max")]
    if bad:
        raise ValueError(f"modes must be 'min' or 'max', got {bad[0]!r}")
    done: list[T] = []
    rows: list[list[float]] = []
    for t in trials:
        status = getattr(t, "status", None)
        if getattr(status, "value", status) != "COMPLETED":
            continue
        values = [finite((getattr(t, "metrics", None) or {}).get(name)) for name in metrics]
        if any(v is None for v in values):
            continue
        done.append(t)
        rows.append(values)  # type: ignore[arg-type]
    if not done:
        return []
    mask = non_dominated(np.asarray(rows), [m == "max" for m in modes])
    return [t for t, keep in zip(done, mask, strict=True) if keep]


def hypervolume(y: Any, ref: Sequence[float], maximize: Sequence[bool]) -> float:
    """Volume of the objective region dominated by ``y`` and bounded by ``ref``.

    Points that are not strictly better than ``ref`` in every objective add nothing.
    Two objectives: an exact sweep over the front sorted by the first objective. One:
    the best gap to ``ref``. Three or more: BoTorch's ``Hypervolume`` (dimension sweep,
    Fonseca et al. 2006; exponential in `k`, fine for the few objectives of HPO).

    Args:
        y: `m x k`-dim objective values (in the objectives' own directions).
        ref: `k`-dim reference point, in the same units and directions as ``y``.
        maximize: `k` flags, True where an objective is maximized.

    Returns:
        The hypervolume (0.0 for an empty set or nothing better than ``ref``).

    Example:
        >>> hypervolume([[1.0, 3.0], [2.0, 1.0]], ref=[4.0, 4.0], maximize=[False, False])
        7.0
    """
    import numpy as np

    s = _as_maximized(y, maximize)
    r = _as_maximized(np.asarray(ref, dtype=float).reshape(1, -1), maximize)[0]
    s = s[np.isfinite(s).all(axis=1) & (s > r[None, :]).all(axis=1)]
    if len(s) == 0:
        return 0.0
    s = s[non_dominated(s, [True] * s.shape[1])]
    k = s.shape[1]
    if k == 1:
        return float(s[:, 0].max() - r[0])
    if k == 2:
        order = np.argsort(-s[:, 0], kind="stable")
        volume, top = 0.0, r[1]
        for a, b in s[order]:
            if b > top:
                volume += (a - r[0]) * (b - top)
                top = b
        return float(volume)
    import torch
    from botorch.utils.multi_objective.hypervolume import Hypervolume

    hv = Hypervolume(torch.as_tensor(r, dtype=torch.float64))
    return float(hv.compute(torch.as_tensor(s, dtype=torch.float64)))
