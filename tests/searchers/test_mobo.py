"""Multi-objective BO (hpo.searchers._mobo.propose_pareto): one GP per objective + qLogNEHVI."""

import doctest
import subprocess
import sys

import numpy as np
import pytest

import hpo.searchers._mobo
from hpo.pareto import hypervolume
from hpo.search_spaces import Categorical, Float, Int, SearchSpace
from hpo.searchers._mobo import infer_reference_point, propose_pareto
from hpo.searchers.sobol import SobolSearcher

UNIT2 = SearchSpace({"a": Float(0.0, 1.0), "b": Float(0.0, 1.0)})


def _branin_currin(x_unit):
    """BoTorch's BraninCurrin, negated (both maximized), on `m x 2` unit-cube points."""
    import torch
    from botorch.test_functions.multi_objective import BraninCurrin

    f = BraninCurrin(negate=True).to(torch.float64)
    return f(torch.as_tensor(x_unit, dtype=torch.float64)).numpy(), f.ref_point.numpy(), float(f.max_hv)


def test_module_imports_nothing_heavy():
    code = (
        "import sys, hpo.searchers._mobo, hpo.pareto; "
        "print([m for m in ('torch', 'botorch', 'numpy') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_docstring_example_runs():
    assert doctest.testmod(hpo.searchers._mobo).failed == 0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_beats_random_search_on_branin_currin(seed):
    rng = np.random.default_rng(seed)
    x = UNIT2.encode(SobolSearcher(UNIT2, seed).suggest(10))
    y, ref, max_hv = _branin_currin(x)
    for _ in range(10):
        x_new = propose_pareto(UNIT2, x, y, None, rng)
        x = np.vstack([x, x_new])
        y = np.vstack([y, _branin_currin(x_new)[0]])
    ours = hypervolume(y, ref, [True, True])
    # Same budget, random: the best of 10 sets of 20 uniform points.
    random = max(
        hypervolume(_branin_currin(np.random.default_rng([seed, i]).random((20, 2)))[0], ref, [True, True])
        for i in range(10)
    )
    # Measured (max_hv 59.4): ours 49.8-50.6 at seeds 0-2 and 46.2-53.6 at seeds 0-9;
    # the best random set 27.1, 20.4, 35.4 at seeds 0-2; the Sobol design alone 0-3.
    assert ours > 0.7 * max_hv
    assert ours > random + 5.0


def _toy(configs):
    """Two conflicting objectives (maximized) on a mixed space; the category shifts the optimum."""
    out = []
    for c in configs:
        off = {"a": 0.0, "b": 0.3, "c": 0.6}[c["c"]]
        out.append([-((c["x"] - off) ** 2) - c["n"] / 10, -((c["x"] - 1 + off) ** 2) - (8 - c["n"]) / 10])
    return np.asarray(out)


MIXED = SearchSpace({"x": Float(0.0, 1.0), "n": Int(1, 8), "c": Categorical(["a", "b", "c"])})


def test_mixed_space_shapes_validity_and_distinct_points_with_pending():
    rng = np.random.default_rng(0)
    configs = MIXED.sample(rng, 8)
    x, y = MIXED.encode(configs), _toy(configs)
    points = propose_pareto(MIXED, x, y, x_pending=x[:2], rng=rng, n=3)
    assert points.shape == (3, MIXED.d)
    assert ((points >= 0) & (points <= 1)).all()
    decoded = MIXED.decode(points)
    for c in decoded:
        MIXED.validate(c)
        assert isinstance(c["n"], int) and c["c"] in ("a", "b", "c")
    # Canonical points: encoding the decoded configs gives them back.
    np.testing.assert_allclose(MIXED.encode(decoded), points)
    # Sequential greedy: each point is pending for the next, so all differ (and differ
    # from the pending ones).
    rows = {tuple(np.round(p, 6)) for p in np.vstack([points, x[:2]])}
    assert len(rows) == 5


def test_pending_points_change_the_proposal():
    x = UNIT2.encode(SobolSearcher(UNIT2, 3).suggest(12))
    y, _, _ = _branin_currin(x)
    first = propose_pareto(UNIT2, x, y, None, np.random.default_rng(0))
    again = propose_pareto(UNIT2, x, y, first, np.random.default_rng(0))
    assert np.abs(first - again).max() > 1e-3
    # Deterministic for a seed.
    np.testing.assert_array_equal(first, propose_pareto(UNIT2, x, y, None, np.random.default_rng(0)))


def test_explicit_reference_point_and_three_objectives():
    rng = np.random.default_rng(1)
    x = rng.random((8, 2))
    y = np.column_stack([-x[:, 0], -x[:, 1], x.sum(1)])
    points = propose_pareto(UNIT2, x, y, None, rng, ref_point=[-1.5, -1.5, -0.5])
    assert points.shape == (1, 2)


def test_infer_reference_point():
    y = np.array([[0.0, 10.0], [4.0, 2.0], [1.0, 1.0]])  # front: (0, 10), (4, 2)
    np.testing.assert_allclose(infer_reference_point(y), [0.0 - 0.4, 2.0 - 0.8])
    # A single Pareto point: the range of all observations is used instead.
    y = np.array([[5.0, 5.0], [1.0, 4.0], [3.0, 3.0]])
    np.testing.assert_allclose(infer_reference_point(y), [5.0 - 0.4, 5.0 - 0.2])
    # No spread at all: one unit.
    np.testing.assert_allclose(infer_reference_point(np.ones((2, 2))), [0.9, 0.9])


def test_warp_options():
    x = UNIT2.encode(SobolSearcher(UNIT2, 0).suggest(8))
    y, ref, _ = _branin_currin(x)
    assert propose_pareto(UNIT2, x, y, None, np.random.default_rng(0), warp="auto").shape == (1, 2)
    with pytest.raises(ValueError, match="warp='none'"):
        propose_pareto(UNIT2, x, y, None, np.random.default_rng(0), ref_point=ref, warp="log")
    with pytest.raises(ValueError, match="unknown output warp"):
        propose_pareto(UNIT2, x, y, None, np.random.default_rng(0), warp="cube")


def test_rejects_bad_inputs():
    x = np.random.default_rng(0).random((4, 2))
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="k >= 2"):
        propose_pareto(UNIT2, x, np.zeros((4, 1)), None, rng)
    with pytest.raises(ValueError, match="as many"):
        propose_pareto(UNIT2, x, np.zeros((3, 2)), None, rng)
    with pytest.raises(ValueError, match="finite"):
        propose_pareto(UNIT2, x, np.full((4, 2), np.nan), None, rng)
    with pytest.raises(ValueError, match="x_obs must be"):
        propose_pareto(UNIT2, x[:, :1], np.zeros((4, 2)), None, rng)
    with pytest.raises(ValueError, match="ref_point needs 2"):
        propose_pareto(UNIT2, x, np.zeros((4, 2)), None, rng, ref_point=[0.0])
