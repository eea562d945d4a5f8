"""LC-PFN: learning-curve extrapolation in one forward pass (Adriaensen et al., NeurIPS 2023).

    from hpo.surrogates.lcpfn import LCPFN

    pfn = LCPFN.load()                      # the weights shipped in the package, offline
    paper = LCPFN.load(variant="paper")     # the ones trained on the paper's prior alone
    q = pfn.predict_quantiles([[1, 2, 3]], [[0.3, 0.45, 0.52]], [[100]], qs=(0.05, 0.5, 0.95))
    p = pfn.prob_improvement([[1, 2, 3]], [[0.3, 0.45, 0.52]], x_final=100, threshold=0.8)

Conventions (documented normalisation):

* ``x`` are epochs, 1-based, up to the training length (100). Longer curves are mapped
  by compressing time linearly so that the largest epoch involved becomes 100
  (``x' = x * 100 / x_max``); the network has never seen curves past 100 epochs.
* ``y`` is mapped to the prior's scale, a rising curve in [0, 1]:
  ``(y - lo) / (hi - lo)`` for curves to maximise and ``(hi - y) / (hi - lo)`` for curves
  to minimise, with ``y_range=(lo, hi)`` (default (0, 1), e.g. an accuracy). Give the
  range a loss can span, e.g. ``(0, initial_loss)``. Predictions are mapped back.
* Inputs are batched: ``x_obs``/``y_obs`` are sequences of per-curve sequences (ragged
  lengths allowed; curves of equal length share one forward pass).

Calibration: the model is calibrated on its prior, not on every real task (its 90% final-value
interval covers 44-78% of real finals on the committed sets). ``calibration.CalibratedLCPFN``
wraps it with a map learned from the task's own finished curves; the early-stopping rules
use it by default (``calibrate=True``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hpo.errors import HPOError

__all__ = ["DEFAULT_VARIANT", "LCPFN", "VARIANTS", "WEIGHTS_DIR"]

#: The shipped weights: one sub-folder per variant, each with ``lcpfn.pt`` and ``lcpfn.json``.
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
#: ``"mixture"``: trained on the extended prior (a documented deviation from the paper, see
#: :class:`~hpo.surrogates.lcpfn.prior.MixturePrior`); ``"paper"``: on the paper's prior alone.
VARIANTS = ("mixture", "paper")
DEFAULT_VARIANT = "mixture"

#: Curves per forward pass in batched inference.
CHUNK_CURVES = 64


class LCPFN:
    """A trained LC-PFN network with a numpy API (see the module docstring for conventions).

    Args:
        net: An :class:`~hpo.surrogates.lcpfn.model.LCPFNet`.
        meta: What ``lcpfn.json`` says about the weights (version, training command, ...).
    """

    def __init__(self, net: Any, meta: dict[str, Any] | None = None) -> None:
        self.net = net.eval()
        self.meta = dict(meta or {})
        self.n_epochs = int(net.config.n_epochs)

    # ------------------------------------------------------------------ construction
    @classmethod
    def load(cls, folder: str | Path | None = None, *, variant: str | None = None) -> LCPFN:
        """Load weights with ``weights_only=True``: a ``folder`` of your own, or a shipped ``variant``.

        Args:
            folder: A folder with ``lcpfn.pt`` and ``lcpfn.json`` (e.g. from ``hpo.surrogates.lcpfn.train``).
            variant: One of :data:`VARIANTS` (default :data:`DEFAULT_VARIANT`): ``"mixture"``, trained
                on the extended prior (:class:`~hpo.surrogates.lcpfn.prior.MixturePrior`), or
                ``"paper"``, trained on Adriaensen et al.'s prior alone.

        Raises:
            HPOError: if both or an unknown variant are given, or the folder has no
                ``lcpfn.pt``/``lcpfn.json``, or they do not match.
        """
        import torch

        from hpo.surrogates.lcpfn.model import LCPFNConfig, LCPFNet

        if folder is not None and variant is not None:
            raise HPOError("LCPFN.load: give a folder or a variant, not both")
        if folder is None and (variant or DEFAULT_VARIANT) not in VARIANTS:
            raise HPOError(f"unknown LC-PFN variant {variant!r}; shipped: {list(VARIANTS)}")
        path = Path(folder) if folder is not None else WEIGHTS_DIR / (variant or DEFAULT_VARIANT)
        weights, info = path / "lcpfn.pt", path / "lcpfn.json"
        if not weights.is_file() or not info.is_file():
            raise HPOError(f"no LC-PFN weights in {str(path)!r} (expected lcpfn.pt and lcpfn.json)")
        meta = json.loads(info.read_text())
        net = LCPFNet(LCPFNConfig(**meta["config"]))
        try:
            state = torch.load(weights, map_location="cpu", weights_only=True)
            net.load_state_dict(state)
        except (RuntimeError, KeyError, ValueError) as exc:
            raise HPOError(f"LC-PFN weights in {str(path)!r} do not match their config: {exc}") from exc
        return cls(net, meta)

    @classmethod
    def untrained(cls, seed: int = 0, **config: Any) -> LCPFN:
        """A randomly initialised (tiny by default) network, for tests."""
        import torch

        from hpo.surrogates.lcpfn.model import LCPFNConfig, LCPFNet

        torch.manual_seed(seed)
        defaults = {"emsize": 16, "nlayers": 1, "nhead": 2, "nhid": 32, "n_buckets": 50}
        return cls(LCPFNet(LCPFNConfig(**{**defaults, **config})), {"version": "untrained"})

    @property
    def version(self) -> str:
        return str(self.meta.get("version", "unknown"))

    # ------------------------------------------------------------------ predictions
    def predict_quantiles(
        self,
        x_obs: Sequence[Sequence[float]],
        y_obs: Sequence[Sequence[float]],
        x_query: Sequence[Sequence[float]],
        qs: Sequence[float] = (0.05, 0.5, 0.95),
        *,
        maximize: bool = True,
        y_range: tuple[float, float] = (0.0, 1.0),
    ) -> list[np.ndarray]:
        """Quantiles of ``y`` at the query epochs: one ``(n_query, len(qs))`` array per curve."""
        qs = [float(q) for q in qs]
        if any(not 0 < q < 1 for q in qs):
            raise HPOError(f"quantiles must lie in (0, 1), got {qs}")
        # for a curve to minimise, the q quantile of y is the 1-q quantile of the normalised value
        levels = qs if maximize else [1.0 - q for q in qs]

        def compute(bar: Any, logits: Any) -> np.ndarray:
            import torch

            return torch.stack([bar.icdf(logits, q) for q in levels], dim=-1).numpy()

        out = self._run(x_obs, y_obs, x_query, compute, maximize, y_range)
        return [self._to_user(v, maximize, y_range) for v in out]

    @staticmethod
    def _to_user(v: np.ndarray, maximize: bool, y_range: tuple[float, float]) -> np.ndarray:
        lo, hi = y_range
        return lo + v * (hi - lo) if maximize else hi - v * (hi - lo)

    def predict_mean(
        self,
        x_obs: Sequence[Sequence[float]],
        y_obs: Sequence[Sequence[float]],
        x_query: Sequence[Sequence[float]],
        *,
        maximize: bool = True,
        y_range: tuple[float, float] = (0.0, 1.0),
    ) -> list[np.ndarray]:
        """Posterior-predictive means at the query epochs: one ``(n_query,)`` array per curve."""
        out = self._run(x_obs, y_obs, x_query, lambda bar, logits: bar.mean(logits).numpy(), maximize, y_range)
        return [self._to_user(v, maximize, y_range) for v in out]

    def log_density(
        self,
        x_obs: Sequence[Sequence[float]],
        y_obs: Sequence[Sequence[float]],
        x_query: Sequence[Sequence[float]],
        y_query: Sequence[Sequence[float]],
        *,
        maximize: bool = True,
        y_range: tuple[float, float] = (0.0, 1.0),
    ) -> list[np.ndarray]:
        """Log predictive density of each ``y_query`` value (in the user's units): ``(n_query,)`` per curve."""
        return self.score(x_obs, y_obs, x_query, y_query, maximize=maximize, y_range=y_range)[0]

    def score(
        self,
        x_obs: Sequence[Sequence[float]],
        y_obs: Sequence[Sequence[float]],
        x_query: Sequence[Sequence[float]],
        y_query: Sequence[Sequence[float]],
        *,
        maximize: bool = True,
        y_range: tuple[float, float] = (0.0, 1.0),
    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Log densities of ``y_query`` and the predictive means at ``x_query``, from one forward pass.

        Returns:
            ``(log_densities, means)``: each a list with one ``(n_query,)`` array per curve, in
            the user's units (as :meth:`log_density` and :meth:`predict_mean`).
        """
        lo, hi = (float(v) for v in y_range)
        targets = [np.asarray(v, dtype=np.float64).ravel() for v in y_query]
        targets = [(t - lo) / (hi - lo) if maximize else (hi - t) / (hi - lo) for t in targets]
        if any(len(t) != len(np.ravel(q)) for t, q in zip(targets, x_query, strict=True)):
            raise HPOError("y_query needs one value per query epoch")

        def compute_for(index: list[int]) -> Any:
            def compute(bar: Any, logits: Any) -> np.ndarray:
                import torch

                t = torch.tensor(np.stack([targets[i] for i in index]), dtype=logits.dtype)
                return torch.stack([bar.log_prob(logits, t), bar.mean(logits)], dim=-1).numpy()

            return compute

        out = self._run(x_obs, y_obs, x_query, compute_for, maximize, y_range, per_group=True)
        log_densities = [v[:, 0] - np.log(hi - lo) for v in out]  # the change of variables to the user's units
        return log_densities, [self._to_user(v[:, 1], maximize, y_range) for v in out]

    def prob_improvement(
        self,
        x_obs: Sequence[Sequence[float]],
        y_obs: Sequence[Sequence[float]],
        x_final: float,
        threshold: float | Sequence[float],
        *,
        maximize: bool = True,
        y_range: tuple[float, float] = (0.0, 1.0),
    ) -> np.ndarray:
        """P(the curve at ``x_final`` beats ``threshold``): above it to maximise, below to minimise.

        Returns:
            Shape ``(n_curves,)``.
        """
        n = len(x_obs)
        thresholds = np.broadcast_to(np.asarray(threshold, dtype=float), (n,))
        lo, hi = y_range
        t_norm = (thresholds - lo) / (hi - lo) if maximize else (hi - thresholds) / (hi - lo)
        queries = [[float(x_final)] for _ in range(n)]

        def compute_for(index: list[int]) -> Any:
            def compute(bar: Any, logits: Any) -> np.ndarray:
                import torch

                t = torch.tensor(t_norm[index], dtype=logits.dtype).unsqueeze(-1)
                return (1.0 - bar.cdf(logits, t)).numpy()

            return compute

        out = self._run(x_obs, y_obs, queries, compute_for, maximize, y_range, per_group=True)
        return np.array([float(v[0]) for v in out])

    # ------------------------------------------------------------------ batching
    def _run(self, x_obs, y_obs, x_query, compute, maximize, y_range, per_group: bool = False) -> list[np.ndarray]:  # type: ignore[no-untyped-def]
        import torch

        if not (len(x_obs) == len(y_obs) == len(x_query)):
            raise HPOError(f"x_obs, y_obs and x_query need one entry per curve, got {len(x_obs)}, {len(y_obs)}, {len(x_query)}")
        lo, hi = (float(v) for v in y_range)
        if not hi > lo:
            raise HPOError(f"y_range must be (low, high) with high > low, got {y_range!r}")
        curves = []
        for i, (xo, yo, xq) in enumerate(zip(x_obs, y_obs, x_query, strict=True)):
            xo, yo, xq = (np.asarray(v, dtype=np.float64).ravel() for v in (xo, yo, xq))
            if len(xo) != len(yo):
                raise HPOError(f"curve {i}: {len(xo)} epochs but {len(yo)} values")
            if len(xq) == 0 or not (np.isfinite(xo).all() and np.isfinite(yo).all() and np.isfinite(xq).all()):
                raise HPOError(f"curve {i}: needs at least one query epoch and finite values")
            if (xo < 1).any() or (xq < 1).any():
                raise HPOError(f"curve {i}: epochs are 1-based (x >= 1)")
            x_max = max(float(xq.max()), float(xo.max()) if len(xo) else 0.0)
            scale = self.n_epochs / x_max if x_max > self.n_epochs else 1.0
            y_norm = (yo - lo) / (hi - lo) if maximize else (hi - yo) / (hi - lo)
            curves.append((xo * scale, y_norm, xq * scale))
        results: list[Any] = [None] * len(curves)
        groups: dict[tuple[int, int], list[int]] = {}
        for i, (xo, _, xq) in enumerate(curves):
            groups.setdefault((len(xo), len(xq)), []).append(i)
        # Equal-length curves share a forward pass, in chunks of CHUNK_CURVES: on a CPU the
        # per-token work is memory-bound, and cache-sized chunks run about twice as fast.
        chunks = [ids[s : s + CHUNK_CURVES] for ids in groups.values() for s in range(0, len(ids), CHUNK_CURVES)]
        with torch.inference_mode():
            for index in chunks:
                xo = torch.tensor(np.stack([curves[i][0] for i in index]), dtype=torch.float32)
                yo = torch.tensor(np.stack([curves[i][1] for i in index]), dtype=torch.float32)
                xq = torch.tensor(np.stack([curves[i][2] for i in index]), dtype=torch.float32)
                logits = self.net(xo, yo, xq)
                values = (compute(index) if per_group else compute)(self.net.bar, logits)
                for row, i in enumerate(index):
                    results[i] = values[row]
        return results
