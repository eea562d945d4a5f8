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

        # Independent points; base samples shared by every batch (the Predictive contract).
        q = self._mean.shape[-1]
        gen = generator if generator is not None else torch.Generator()
        eps = torch.randn((n, q), generator=gen, dtype=self._mean.dtype)
        eps = eps.reshape(n, *([1] * (self._mean.dim() - 1)), q)
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


def _mixed_space() -> Any:
    """A 2-d continuous space plus a 3-way categorical, for the acquisition contract tests."""
    from hpo.search_spaces import Categorical, Float, SearchSpace

    return SearchSpace({"a": Float(0.0, 1.0), "b": Float(1e-3, 1.0, log=True), "c": Categorical(["x", "y", "z"])})


def _mixed_data(n: int, seed: int) -> tuple[Any, np.ndarray, np.ndarray]:
    space = _mixed_space()
    rng = np.random.default_rng(seed)
    x = space.encode(space.decode(rng.random((n, space.d))))
    cat = np.floor(x[:, 2] * 3)
    y = -((x[:, 0] - 0.6) ** 2) - (x[:, 1] - 0.3) ** 2 + 0.3 * (cat == 2)
    return space, x, y


class SurrogateContract:
    """Subclass and implement :meth:`make_surrogate`.

    Besides fitting and predicting, it checks the :class:`~hpo.surrogates.Predictive`
    contract that acquisitions rely on (joint, seeded, batch-independent samples) and runs
    every acquisition, and :func:`hpo.searchers.bo.propose` with pending points, on it.
    """

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
        if not s.differentiable:
            pytest.skip("surrogate declares differentiable = False")
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

    # ------------------------------------------------------------- samples
    def _fitted_mixed(self, n: int = 24) -> tuple[Any, BaseSurrogate, np.ndarray, np.ndarray]:
        space, x, y = _mixed_data(n, 7)
        s = self.make_surrogate()
        s.fit(x, y, cat_dims={2: 3})
        return space, s, x, y

    def test_samples_are_seeded_joint_and_batch_independent(self) -> None:
        import torch

        _, s, _, _ = self._fitted_mixed()
        xt = torch.as_tensor(_mixed_data(12, 8)[1], dtype=torch.float64).reshape(4, 3, 3)
        a = s.predict(xt).sample(64, torch.Generator().manual_seed(3))
        b = s.predict(xt).sample(64, torch.Generator().manual_seed(3))
        assert a.shape == (64, 4, 3) and torch.isfinite(a).all()
        assert torch.equal(a, b), "a generator seeded afresh must give the same samples"
        alone = s.predict(xt[1:2]).sample(64, torch.Generator().manual_seed(3))
        assert torch.allclose(alone[:, 0], a[:, 1], atol=1e-6), "a batch's samples depend on the other batches"
        flat = s.predict(xt[1]).sample(64, torch.Generator().manual_seed(3))
        assert flat.shape == (64, 3)

    def test_samples_are_differentiable_when_declared(self) -> None:
        import torch

        _, s, _, _ = self._fitted_mixed()
        if not s.differentiable:
            pytest.skip("surrogate declares differentiable = False")
        xt = torch.as_tensor(_mixed_data(6, 9)[1], dtype=torch.float64).reshape(3, 2, 3).requires_grad_(True)
        s.predict(xt).sample(16, torch.Generator().manual_seed(0)).sum().backward()
        assert xt.grad is not None and torch.isfinite(xt.grad).all()
        assert xt.grad[..., :2].abs().sum() > 0

    # ------------------------------------------------------------- acquisitions
    def test_acquisitions_give_finite_scores(self) -> None:
        import torch

        from hpo.acquisition import UCB, LogEI, QLogNEI, ThompsonSampling

        _, s, x, y = self._fitted_mixed()
        cand = torch.as_tensor(_mixed_data(10, 10)[1], dtype=torch.float64)
        pending = torch.as_tensor(_mixed_data(2, 11)[1], dtype=torch.float64)
        acqs = {
            "logei": LogEI(s, best_f=float(y.max())),
            "ucb": UCB(s),
            "ts": ThompsonSampling(s, torch.Generator().manual_seed(0)),
            "qlognei": QLogNEI(s, torch.as_tensor(x), pending, seed=0),
        }
        for name, acq in acqs.items():
            with torch.no_grad():
                values = acq(cand.unsqueeze(-2))
            assert values.shape == (10,), name
            assert torch.isfinite(values).all(), name
        q2 = acqs["qlognei"](cand.reshape(5, 2, 3))
        assert q2.shape == (5,) and torch.isfinite(q2).all()

    def test_qlognei_with_pending_points_is_deterministic(self) -> None:
        import torch

        from hpo.acquisition import QLogNEI

        _, s, x, _ = self._fitted_mixed()
        pending = torch.as_tensor(_mixed_data(2, 11)[1], dtype=torch.float64)
        acq = QLogNEI(s, torch.as_tensor(x), pending, seed=5)
        cand = torch.as_tensor(_mixed_data(6, 12)[1], dtype=torch.float64).unsqueeze(-2)
        first = acq(cand).detach()
        assert torch.equal(first, acq(cand).detach())
        assert torch.allclose(acq(cand[2:3]).detach(), first[2:3], atol=1e-6)
        if s.differentiable:
            xg = cand.clone().requires_grad_(True)
            acq(xg).sum().backward()
            assert xg.grad is not None and torch.isfinite(xg.grad).all()

    def test_propose_with_pending_points_returns_distinct_valid_points(self) -> None:
        from hpo.searchers.bo import propose

        space, s, x, y = self._fitted_mixed()
        pending = space.encode(space.decode(np.random.default_rng(13).random((2, space.d))))
        for acquisition in ("logei", "ts"):
            points = propose(space, x, y, pending, s, acquisition, np.random.default_rng(0), n=2)
            assert points.shape == (2, space.d)
            configs = space.decode(points)
            assert all(space.contains(c) for c in configs)
            assert configs[0] != configs[1]
            pending_configs = space.decode(pending)
            assert all(c not in pending_configs for c in configs)
