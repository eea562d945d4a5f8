"""``SurrogateContract`` and ``FunctionSurrogate`` (a fake, like BoTorch's ``MockModel``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pytest

from hpo.surrogates.base import BaseSurrogate, Predictive


class _GaussianPredictive(Predictive):
    def __init__(self, mean: Any, variance: Any) -> None:
        self._mean, self._variance = mean, variance

    @property
    def mean(self) -> Any:
        return self._mean

    @property
    def variance(self) -> Any:
        return self._variance

    def sample(self, n: int, generator: Any = None) -> Any:
        import torch

        eps = torch.randn((n, *self._mean.shape), generator=generator, dtype=self._mean.dtype)
        return self._mean + eps * self._variance.sqrt()


class FunctionSurrogate(BaseSurrogate):
    """A surrogate whose predictive is a given function: for testing acquisitions in isolation.

    Args:
        mean_fn: Maps a `... x d` tensor to its `...` mean.
        variance: Constant predictive variance.
    """

    def __init__(self, mean_fn: Callable[[Any], Any], variance: float = 0.01) -> None:
        self.mean_fn = mean_fn
        self.variance = variance

    def fit(self, x_unit: Any, y: Any, cat_dims: Mapping[int, int] | None = None) -> None:
        pass

    def predict(self, x_unit: Any) -> Predictive:
        import torch

        x = torch.as_tensor(x_unit, dtype=torch.float64)
        mean = self.mean_fn(x)
        return _GaussianPredictive(mean, torch.full_like(mean, self.variance))


def _toy(n: int, d: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.random((n, d))
    y = np.sin(3 * x[:, 0]) + 0.5 * np.cos(5 * x[:, 1]) if d > 1 else np.sin(3 * x[:, 0])
    return x, y


class SurrogateContract:
    """Subclass and implement :meth:`make_surrogate`."""

    def make_surrogate(self) -> BaseSurrogate:
        raise NotImplementedError

    def test_predictive_shapes(self) -> None:
        import torch

        x, y = _toy(20, 3, 0)
        s = self.make_surrogate()
        s.fit(x, y)
        pred = s.predict(torch.rand(7, 2, 3, dtype=torch.float64))
        assert pred.mean.shape == (7, 2) and pred.variance.shape == (7, 2)
        assert torch.all(pred.variance >= 0)
        assert pred.sample(5).shape == (5, 7, 2)

    def test_fits_the_data(self) -> None:
        import torch

        x, y = _toy(40, 2, 1)
        s = self.make_surrogate()
        s.fit(x, y)
        xt, yt = _toy(200, 2, 2)
        pred = s.predict(torch.as_tensor(xt).unsqueeze(-2)).mean.squeeze(-1).detach().numpy()
        rmse = float(np.sqrt(np.mean((pred - yt) ** 2)))
        assert rmse < 0.5 * float(np.std(yt)), f"test RMSE {rmse:.3f} vs std {np.std(yt):.3f}"

    def test_uncertainty_grows_away_from_data(self) -> None:
        import torch

        x = np.random.default_rng(0).random((15, 2)) * 0.3  # data only in a corner
        y = x.sum(1)
        s = self.make_surrogate()
        s.fit(x, y)
        near = s.predict(torch.tensor([[[0.15, 0.15]]], dtype=torch.float64)).variance.item()
        far = s.predict(torch.tensor([[[0.95, 0.95]]], dtype=torch.float64)).variance.item()
        assert far > 2 * near

    def test_mean_is_differentiable(self) -> None:
        import torch

        x, y = _toy(20, 2, 3)
        s = self.make_surrogate()
        s.fit(x, y)
        xt = torch.rand(4, 1, 2, dtype=torch.float64, requires_grad=True)
        s.predict(xt).mean.sum().backward()
        assert xt.grad is not None and torch.isfinite(xt.grad).all()

    def test_categorical_columns(self) -> None:
        import torch

        rng = np.random.default_rng(4)
        cat = rng.integers(0, 3, 60)
        x = np.column_stack([rng.random(60), (cat + 0.5) / 3])
        y = x[:, 0] + np.array([0.0, 2.0, -2.0])[cat]
        s = self.make_surrogate()
        s.fit(x, y, cat_dims={1: 3})
        probe = torch.tensor([[[0.5, (c + 0.5) / 3]] for c in range(3)], dtype=torch.float64)
        means = s.predict(probe).mean.squeeze(-1).detach().numpy()
        assert means[1] > means[0] > means[2]

    def test_refit_with_more_data(self) -> None:
        import torch

        s = self.make_surrogate()
        for n in (8, 12, 30):
            x, y = _toy(n, 2, 5)
            s.fit(x, y)
        assert s.predict(torch.rand(3, 1, 2, dtype=torch.float64)).mean.shape == (3, 1)

    @pytest.mark.parametrize("bad", [float("nan"), float("inf")])
    def test_rejects_non_finite_targets(self, bad: float) -> None:
        x, y = _toy(10, 2, 6)
        y[3] = bad
        with pytest.raises(ValueError, match="non-finite"):
            self.make_surrogate().fit(x, y)
