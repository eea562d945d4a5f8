"""CARBS' basic space: every parameter mapped to log, linear or logit space, and back.

Split out of :mod:`hpo.searchers._carbs_models` by responsibility (the codec here, the models
there). Reference: Fetterman et al., "Tune As You Scale", 2023 (imbue-ai/carbs ``utils.py``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from hpo.errors import SettingError
from hpo.search_spaces import Categorical, Choice, Float, Int, SearchSpace

if TYPE_CHECKING:
    import numpy as np

__all__ = ["BasicSpace", "TRANSFORMS"]

#: The basic-space transforms of real parameters.
TRANSFORMS = ("linear", "log", "logit")


# ---------------------------------------------------------------------- basic space
class BasicSpace:
    """The search space in CARBS' "basic" coordinates: one column per ``space.dims`` entry.

    A real column holds ``log10(v) / scale`` (``"log"``), ``v / scale`` (``"linear"``) or
    ``log10(v / (1 - v)) / scale`` (``"logit"``). Defaults: ``log=True`` -> log, scale 1
    (the reference's ``LogSpace``); a continuous ``Float`` inside ``(0, 1)`` -> logit,
    scale 1; otherwise linear with scale ``max((high - low) / 2, step / radius)``, so the
    range is 2 wide and a one-step move is within one search radius (the reference asks
    its users for a scale of at least ``1 / radius`` on integers). A categorical column
    (``Categorical`` or a ``Choice`` selector) holds the choice's index.
    """

    def __init__(self, space: SearchSpace, radius: float, transforms: Mapping[str, str], scales: Mapping[str, float]) -> None:
        import numpy as np

        self.space = space
        names = {dim.name for dim in space.dims}
        for what, given in (("transforms", transforms), ("scales", scales)):
            for name in given:
                if name not in names:
                    raise SettingError(f"{what}: {name!r} is not a searched parameter of the space")
        self.kinds: list[str] = []
        self.scales = np.ones(space.d)
        self.n_choices = np.zeros(space.d, dtype=int)
        for j, dim in enumerate(space.dims):
            p = dim.param
            if isinstance(p, (Categorical, Choice)):
                self.kinds.append("categorical")
                self.n_choices[j] = dim.n_choices
                continue
            assert isinstance(p, (Float, Int))
            continuous = isinstance(p, Float) and p.step is None
            kind = transforms.get(dim.name, "log" if p.log else "logit" if continuous and 0 < p.low and p.high < 1 else "linear")
            if kind not in TRANSFORMS:
                raise SettingError(f"transforms[{dim.name!r}] must be one of {TRANSFORMS}, got {kind!r}")
            if (kind == "log" and p.low <= 0) or (kind == "logit" and not (0 < p.low and p.high < 1)):
                raise SettingError(f"transforms[{dim.name!r}]={kind!r} needs bounds inside {'(0, inf)' if kind == 'log' else '(0, 1)'}")
            step = float(p.step or 0.0)
            scale = float(scales.get(dim.name, max((p.high - p.low) / 2, step / radius) if kind == "linear" else 1.0))
            if not (math.isfinite(scale) and scale > 0):
                raise SettingError(f"scales[{dim.name!r}] must be a positive number, got {scale!r}")
            self.kinds.append(kind)
            self.scales[j] = scale
        self.real = np.array([k != "categorical" for k in self.kinds], dtype=bool)
        lows = [d.param.low if self.real[j] else 0 for j, d in enumerate(space.dims)]
        highs = [d.param.high if self.real[j] else 0 for j, d in enumerate(space.dims)]
        self.low_b = np.array([self._to_basic(j, float(v)) for j, v in enumerate(lows)], dtype=float)
        self.high_b = np.array([self._to_basic(j, float(v)) for j, v in enumerate(highs)], dtype=float)
        # selector column and option index deciding each column's activity (None: top level)
        column = {dim.name: j for j, dim in enumerate(space.dims)}
        self._parent: list[tuple[int, int] | None] = []
        for dim in space.dims:
            if dim.condition is None:
                self._parent.append(None)
            else:
                sel, option = dim.condition
                self._parent.append((column[sel], space.dims[column[sel]].param.option_names.index(option)))

    # ------------------------------------------------------------------ scalar codec
    def _to_basic(self, j: int, v: Any) -> Any:
        """Basic coordinate(s) of column ``j``'s value(s) (a float or an array)."""
        import numpy as np

        kind, s = self.kinds[j], self.scales[j]
        if kind == "log":
            return np.log10(v) / s
        if kind == "logit":
            return np.log10(v / (1 - v)) / s
        return v / s if kind == "linear" else v

    def to_values(self, x_basic: np.ndarray) -> np.ndarray:
        """Parameter values (unrounded) of `n x d` basic rows; categorical columns unchanged."""
        import numpy as np

        x = np.asarray(x_basic, dtype=float) * np.where(self.real, self.scales, 1.0)
        out = x.copy()
        for j, kind in enumerate(self.kinds):
            if kind == "log":
                out[:, j] = 10.0 ** x[:, j]
            elif kind == "logit":
                out[:, j] = 1.0 / (1.0 + 10.0 ** (-x[:, j]))
        return out

    def encode(self, configs: Sequence[Mapping[str, Any]], center: np.ndarray) -> np.ndarray:
        """`n x d` basic rows of configs; inactive columns take ``center``'s value."""
        import numpy as np

        x = np.tile(np.asarray(center, dtype=float), (len(configs), 1))
        for i, config in enumerate(configs):
            for j, dim in enumerate(self.space.dims):
                if dim.name in config:
                    if self.real[j]:
                        x[i, j] = float(self._to_basic(j, float(config[dim.name])))
                    else:
                        x[i, j] = round(dim.param.to_unit(config[dim.name]) * self.n_choices[j] - 0.5)
        return x

    def decode(self, x_basic: np.ndarray) -> list[dict[str, Any]]:
        """Configs of rounded, valid basic rows (through the space's unit-cube codec)."""
        import numpy as np

        values = self.to_values(np.atleast_2d(x_basic))
        u = np.empty_like(values)
        for j, dim in enumerate(self.space.dims):
            if self.real[j]:
                u[:, j] = [dim.param.to_unit(int(round(v)) if isinstance(dim.param, Int) else v) for v in values[:, j]]
            else:
                u[:, j] = (values[:, j] + 0.5) / self.n_choices[j]
        return self.space.decode(u)

    # ------------------------------------------------------------------ arrays
    def round_valid(self, x_basic: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Round integer/step columns to their grid; return the rows and an `n`-dim in-bounds mask."""
        import numpy as np

        x = np.array(x_basic, dtype=float)
        values = self.to_values(x)
        valid = np.ones(len(x), dtype=bool)
        for j, dim in enumerate(self.space.dims):
            if not self.real[j]:
                continue
            p = dim.param
            v = values[:, j]
            if p.step is not None:
                v = p.low + np.round((v - p.low) / p.step) * p.step
            tol = 1e-9 * max(1.0, abs(p.high - p.low))
            valid &= (v >= p.low - tol) & (v <= p.high + tol)
            v = np.clip(v, p.low, p.high)
            x[:, j] = self._to_basic(j, v) if p.step is not None else np.clip(x[:, j], self.low_b[j], self.high_b[j])
        return x, valid

    def active(self, x_basic: np.ndarray) -> np.ndarray:
        """`n x d` boolean mask of the columns active in each row (conditional spaces)."""
        import numpy as np

        mask = np.ones(np.shape(x_basic), dtype=bool)
        for j, parent in enumerate(self._parent):  # selectors precede their children
            if parent is not None:
                sel, option = parent
                mask[:, j] = mask[:, sel] & (np.round(x_basic[:, sel]) == option)
        return mask

    def model_inputs(self, x_basic: np.ndarray, center: np.ndarray) -> np.ndarray:
        """`n x D` GP inputs: the real columns (``center``'s value where inactive), then
        each categorical one-hot (zeros where inactive)."""
        import numpy as np

        x = np.asarray(x_basic, dtype=float)
        act = self.active(x)
        cols = [np.where(act[:, self.real], x[:, self.real], center[self.real])]
        for j in np.flatnonzero(~self.real):
            onehot = np.eye(self.n_choices[j])[np.round(x[:, j]).astype(int)]
            cols.append(onehot * act[:, [j]])
        return np.hstack(cols)
