"""Pareto dominance, the Pareto front of trials, and hypervolume (hpo.pareto)."""

import doctest
import itertools
import math
from types import SimpleNamespace

import numpy as np
import pytest

import hpo.pareto
from hpo.pareto import hypervolume, non_dominated, pareto_front
from hpo.trial import Trial, TrialStatus


def _brute_force(y, maximize):
    s = np.where(np.asarray(maximize)[None, :], y, -y)
    return np.array(
        [not any((s[j] >= s[i]).all() and (s[j] > s[i]).any() for j in range(len(s))) for i in range(len(s))]
    )


def test_docstring_examples_run():
    assert doctest.testmod(hpo.pareto).failed == 0


def test_hand_made_front_minimize():
    y = np.array([[1.0, 5.0], [2.0, 3.0], [3.0, 4.0], [4.0, 1.0], [2.0, 3.0], [5.0, 5.0]])
    # (3, 4) is dominated by (2, 3); (5, 5) by everything; the tie (2, 3) is kept twice.
    assert non_dominated(y, [False, False]).tolist() == [True, True, False, True, True, False]


def test_hand_made_front_maximize_and_mixed():
    y = np.array([[1.0, 5.0], [2.0, 3.0], [3.0, 4.0], [4.0, 1.0], [5.0, 5.0]])
    assert non_dominated(y, [True, True]).tolist() == [False, False, False, False, True]
    # Minimize the first, maximize the second: (1, 5) beats everything.
    assert non_dominated(y, [False, True]).tolist() == [True, False, False, False, False]
    # Maximize the first, minimize the second: (4, 1) and (5, 5) trade off.
    assert non_dominated(y, [True, False]).tolist() == [False, False, False, True, True]


def test_ties_equal_in_one_objective():
    # Equal in the first objective, better in the second: dominates.
    y = np.array([[1.0, 2.0], [1.0, 3.0], [1.0, 2.0]])
    assert non_dominated(y, [False, False]).tolist() == [True, False, True]


def test_all_equal_points_are_all_kept():
    assert non_dominated(np.ones((4, 3)), [True, False, True]).all()


@pytest.mark.parametrize("k", [1, 2, 3])
def test_matches_brute_force_on_random_points_with_ties(k):
    rng = np.random.default_rng(k)
    y = rng.integers(0, 4, size=(300, k)).astype(float)  # many ties
    for maximize in itertools.product([False, True], repeat=k):
        assert (non_dominated(y, maximize) == _brute_force(y, maximize)).all()


def test_nan_rows_are_off_the_front_and_dominate_nothing():
    y = np.array([[np.nan, 0.0], [1.0, 1.0], [0.0, 2.0]])
    assert non_dominated(y, [False, False]).tolist() == [False, True, True]


def test_empty_and_bad_shapes():
    assert non_dominated(np.zeros((0, 2)), [True, True]).shape == (0,)
    with pytest.raises(ValueError, match="2 objectives"):
        non_dominated(np.zeros((3, 2)), [True])
    with pytest.raises(ValueError, match="m x k"):
        non_dominated(np.zeros(3), [True])


def _trial(i, status, **metrics):
    return Trial(trial_id=i, config={"x": i}, status=status, metrics=metrics)


def test_pareto_front_of_trials():
    trials = [
        _trial(0, TrialStatus.COMPLETED, loss=1.0, acc=0.5),
        _trial(1, TrialStatus.COMPLETED, loss=2.0, acc=0.9),
        _trial(2, TrialStatus.COMPLETED, loss=2.0, acc=0.4),  # dominated by 0
        _trial(3, TrialStatus.COMPLETED, loss=1.0, acc=0.5),  # tie with 0: kept
        _trial(4, TrialStatus.PRUNED, loss=0.1, acc=1.0),  # would dominate, not COMPLETED
        _trial(5, TrialStatus.FAILED, loss=0.1, acc=1.0),
        _trial(6, TrialStatus.COMPLETED, loss=math.nan, acc=1.0),  # not finite
        _trial(7, TrialStatus.COMPLETED, loss=0.5),  # objective missing
        _trial(8, TrialStatus.COMPLETED, loss=math.inf, acc=2.0),  # not finite
    ]
    front = pareto_front(trials, ("loss", "acc"), ("min", "max"))
    assert [t.trial_id for t in front] == [0, 1, 3]
    # Same trials, both minimized: trial 2 (2.0, 0.4) is now on the front, 1 is not.
    assert [t.trial_id for t in pareto_front(trials, ("loss", "acc"), ("min", "min"))] == [0, 2, 3]


def test_pareto_front_accepts_duck_typed_trials_and_string_status():
    trials = [
        SimpleNamespace(status="COMPLETED", metrics={"a": 1, "b": 2}),
        SimpleNamespace(status="COMPLETED", metrics={"a": 2, "b": 1}),
        SimpleNamespace(status="COMPLETED", metrics={"a": 2, "b": 2}),
        SimpleNamespace(status="RUNNING", metrics={"a": 0, "b": 0}),
    ]
    assert pareto_front(trials, ["a", "b"], ["min", "min"]) == trials[:2]
    assert pareto_front([], ["a", "b"], ["min", "min"]) == []


def test_pareto_front_rejects_bad_modes():
    with pytest.raises(ValueError, match="one mode per metric"):
        pareto_front([], ("a", "b"), ("min",))
    with pytest.raises(ValueError, match="'min' or 'max'"):
        pareto_front([], ("a", "b"), ("min", "minimize"))


def test_hypervolume_two_objectives_by_hand():
    y = np.array([[1.0, 3.0], [2.0, 2.0], [3.0, 1.0], [2.5, 2.5]])  # last one dominated
    # Staircase under (4, 4): 3*1 + 2*1 + 1*1 = 6 with the steps (1,3), (2,2), (3,1).
    assert hypervolume(y, [4.0, 4.0], [False, False]) == pytest.approx(6.0)
    # Maximized copy of the same geometry.
    assert hypervolume(-y, [-4.0, -4.0], [True, True]) == pytest.approx(6.0)
    # Mixed directions: second objective maximized.
    assert hypervolume(y * [1, -1], [4.0, -4.0], [False, True]) == pytest.approx(6.0)
    # Points not strictly better than the reference add nothing.
    assert hypervolume([[4.0, 0.0], [5.0, 5.0]], [4.0, 4.0], [False, False]) == 0.0
    assert hypervolume(np.zeros((0, 2)), [1.0, 1.0], [True, True]) == 0.0
    assert hypervolume([[1.0]], [3.0], [False]) == pytest.approx(2.0)


def test_hypervolume_three_objectives_matches_monte_carlo():
    rng = np.random.default_rng(0)
    y = rng.random((30, 3))
    exact = hypervolume(y, [1.0, 1.0, 1.0], [False, False, False])
    u = rng.random((200_000, 3))
    dominated = np.zeros(len(u), dtype=bool)
    for p in y:
        dominated |= (u >= p).all(axis=1)
    assert exact == pytest.approx(dominated.mean(), abs=5e-3)
    # Two objectives through the general path agree with the sweep.
    y2 = rng.random((40, 2))
    ref = [1.1, 1.2]
    sweep = hypervolume(y2, ref, [False, False])
    padded = hypervolume(np.column_stack([y2, np.zeros(40)]), [*ref, 1.0], [False, False, False])
    assert padded == pytest.approx(sweep)
