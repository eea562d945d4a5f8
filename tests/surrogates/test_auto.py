import numpy as np
import pytest
import torch

from hpo._registry import SURROGATES
from hpo.search_spaces import Categorical, Float, SearchSpace
from hpo.surrogates.auto import AutoSurrogate, Selection
from hpo.surrogates.base import BaseSurrogate
from hpo.surrogates.forest import RandomForestSurrogate
from hpo.testing import FunctionSurrogate, SurrogateContract


class TestAutoSurrogate(SurrogateContract):
    def make_surrogate(self):
        return AutoSurrogate(candidates=("gp", "forest"), seed=0)

    def test_mean_is_differentiable(self):
        # The contract checks gradients unconditionally; "auto" is differentiable when its
        # current choice is (the GP, on the contract's smooth data).
        s = self.make_surrogate()
        rng = np.random.default_rng(3)
        x = rng.random((20, 2))
        s.fit(x, np.sin(3 * x[:, 0]) + 0.5 * np.cos(5 * x[:, 1]))
        assert s.chosen == "gp" and s.differentiable
        xt = torch.rand(4, 1, 2, dtype=torch.float64, requires_grad=True)
        s.predict(xt).mean.sum().backward()
        assert xt.grad is not None and torch.isfinite(xt.grad).all()


STEP_SPACE = SearchSpace({"a": Float(0, 1), "b": Float(0, 1), "c": Categorical(["p", "q"])})


def _step(x):
    """Discontinuous: a raised block in the continuous columns, plus a categorical offset."""
    return 3.0 * (x[:, 0] > 0.37) * (x[:, 1] > 0.6) + 2.0 * (x[:, 2] > 0.5)


def _smooth(x):
    return np.sin(3 * x[:, 0]) + 0.5 * np.cos(5 * x[:, 1])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_forest_wins_on_a_step_function_with_a_categorical(seed):
    # held-out log density, GP vs forest, seeds 0/1/2: -0.52/-0.08, -1.74/-0.38, -2.01/0.02
    x = STEP_SPACE.encode(STEP_SPACE.decode(np.random.default_rng(seed).random((40, 3))))
    s = AutoSurrogate(candidates=("gp", "forest"), seed=seed)
    s.fit(x, _step(x), cat_dims={2: 2})
    (selection,) = s.history
    assert selection.chosen == "forest" == s.chosen, selection
    assert not s.differentiable


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_gp_wins_on_a_smooth_function(seed):
    # held-out log density, GP vs forest, seeds 0/1/2: 0.37/-1.26, 0.73/-0.96, 0.51/-1.01
    x = np.random.default_rng(seed).random((20, 2))
    s = AutoSurrogate(candidates=("gp", "forest"), seed=seed)
    s.fit(x, _smooth(x))
    (selection,) = s.history
    assert selection.chosen == "gp" == s.chosen, selection
    assert selection.scores["gp"] > selection.scores["forest"] + 0.5
    assert s.differentiable


def _cheap(**kwargs):
    """Two forests that differ only in size: cheap candidates for the mechanics."""
    return {"big": RandomForestSurrogate(n_trees=20, seed=0), "small": RandomForestSurrogate(n_trees=4, seed=0, **kwargs)}


def test_reselects_only_every_few_points_and_the_first_candidate_serves_until_then():
    s = AutoSurrogate(candidates=_cheap(), every=5, min_points=8)
    assert s.chosen == "big"
    x = np.random.default_rng(0).random((30, 2))
    y = _smooth(x)
    for n in range(3, 24):
        s.fit(x[:n], y[:n])
    assert [h.n_points for h in s.history] == [8, 13, 18, 23]
    assert all(isinstance(h, Selection) and set(h.scores) == {"big", "small"} for h in s.history)
    assert s.chosen == s.history[-1].chosen
    # fewer points (e.g. a higher rung's data) or other columns: a new selection at once
    s.fit(x[:15], y[:15])
    s.fit(np.column_stack([x[:15], x[:15, :1]]), y[:15])
    assert [h.n_points for h in s.history][-2:] == [15, 15]
    # min_points grows with the dimension: d + 2
    wide = AutoSurrogate(candidates=_cheap(), min_points=4)
    wide.fit(np.random.default_rng(1).random((7, 6)), np.arange(7.0))
    assert wide.history == []
    wide.fit(np.random.default_rng(1).random((8, 6)), np.arange(8.0))
    assert len(wide.history) == 1


def test_scores_are_held_out_log_densities_on_standardized_targets():
    # A constant-mean candidate with unit variance scores the mean of log N(z; 0, 1 + floor).
    flat = FunctionSurrogate(lambda z: z[..., 0] * 0.0, variance=1.0)
    s = AutoSurrogate(candidates={"flat": flat}, noise_floor=1e-3)
    x = np.random.default_rng(0).random((20, 2))
    y = 5.0 + 3.0 * np.random.default_rng(1).normal(size=20)
    s.fit(x, y)
    z = (y - y.mean()) / y.std()
    expected = np.mean(-0.5 * np.log(2 * np.pi * (1 + 1e-3)) - 0.5 * z**2 / (1 + 1e-3))
    assert s.history[0].scores["flat"] == pytest.approx(expected)


class _Broken(BaseSurrogate):
    calls = 0

    def fit(self, x_unit, y, cat_dims=None):
        type(self).calls += 1
        raise RuntimeError("broken")

    def predict(self, x_unit):
        raise AssertionError("never fitted")


def test_a_failing_candidate_scores_minus_infinity_and_is_skipped_later():
    _Broken.calls = 0
    s = AutoSurrogate(candidates={"broken": _Broken, "forest": RandomForestSurrogate(n_trees=5)}, every=2)
    x = np.random.default_rng(0).random((14, 2))
    s.fit(x[:4], _smooth(x[:4]))  # before selection: the first candidate fails, the next serves
    assert s.chosen == "forest" and _Broken.calls == 1
    s.fit(x[:10], _smooth(x[:10]))
    s.fit(x[:12], _smooth(x[:12]))
    assert [h.scores["broken"] for h in s.history] == [-np.inf, -np.inf]
    assert s.chosen == "forest" and _Broken.calls == 1
    assert s.predict(torch.rand(3, 1, 2, dtype=torch.float64)).mean.shape == (3, 1)


def test_differentiable_follows_the_choice_and_the_optimizer_reads_it(monkeypatch):
    from hpo.acquisition import UCB, optimize_acquisition
    from hpo.acquisition import optimize as opt

    space = SearchSpace({"u": Float(0, 1), "v": Float(0, 1)})
    x = np.random.default_rng(0).random((12, 2))
    y = -((x[:, 0] - 0.7) ** 2)
    mu, sd = y.mean(), y.std()  # the scores are on targets standardized over all 12 points
    smooth = FunctionSurrogate(lambda z: (-((z[..., 0] - 0.7) ** 2) - mu) / sd, variance=1e-4)
    s = AutoSurrogate(candidates={"smooth": smooth, "forest": RandomForestSurrogate(n_trees=5)})
    assert s.differentiable and AutoSurrogate.differentiable
    s.fit(x, y)
    assert s.chosen == "smooth" and s.differentiable
    steps = np.floor(4 * x[:, 1])
    s.fit(x[:11], steps[:11])  # fewer points: re-selection, the forest fits steps far better
    assert s.chosen == "forest" and s.differentiable is False

    def no_refine(*args, **kwargs):
        raise AssertionError("L-BFGS refinement on a non-differentiable choice")

    monkeypatch.setattr(opt, "_refine", no_refine)
    x_best, _ = optimize_acquisition(UCB(s), space, np.random.default_rng(0))
    assert x_best.shape == (2,)


def test_default_candidates_and_registration():
    s = SURROGATES.build("auto", seed=3)
    assert isinstance(s, AutoSurrogate) and s.seed == 3 and s.chosen == "gp"
    x = STEP_SPACE.encode(STEP_SPACE.decode(np.random.default_rng(0).random((12, 3))))
    s.fit(x, _step(x), cat_dims={2: 2})
    assert set(s.history[0].scores) == {"gp", "forest", "ensemble"}
    assert s.chosen == max(s.history[0].scores, key=s.history[0].scores.get)
    assert s.predict(torch.as_tensor(x[:4]).unsqueeze(-2)).mean.shape == (4, 1)


def test_rejects_bad_arguments():
    for kwargs, match in (({"every": 0}, "every"), ({"n_folds": 1}, "n_folds"), ({"max_cv_points": 2}, "max_cv_points"),
                          ({"noise_floor": 0.0}, "noise_floor"), ({"candidates": ()}, "at least one"),
                          ({"candidates": ("auto",)}, "itself")):  # fmt: skip
        with pytest.raises(ValueError, match=match):
            AutoSurrogate(**kwargs)
    with pytest.raises(TypeError, match="candidate"):
        AutoSurrogate(candidates=(3,))
    with pytest.raises(RuntimeError, match="before fit"):
        AutoSurrogate().predict(torch.rand(1, 1, 2))
