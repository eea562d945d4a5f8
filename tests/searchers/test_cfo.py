"""CFO / FLOW2 (Wu, Wang & Huang, AAAI 2021): contract, convergence, frugality, step rules, studies."""

from __future__ import annotations

import math

import numpy as np
import pytest

import hpo
from hpo.errors import ConfigError, SettingError
from hpo.search_spaces import Categorical, Choice, Float, Int, SearchSpace
from hpo.searchers import RandomSearcher
from hpo.searchers.cfo import CFO
from hpo.study import Study
from hpo.testing import SearcherContract
from hpo.testing.searcher import MIXED, ask_tell
from hpo.trial import INTERRUPTED, Observation, TrialStatus


class TestCFO(SearcherContract):
    def make_searcher(self, space, seed):
        return CFO(space, seed)


class TestCFOWithPartialConfig(SearcherContract):
    """With a partial low-cost config (names absent from a space are its own problem)."""

    def make_searcher(self, space, seed):
        given = {"layers": 1, "units": 16} if "layers" in space.names else {"scale": True}
        return CFO(space, seed, low_cost_partial_config=given)


QUAD_OPT = np.array([0.3, 0.6, 0.45, 0.7])
QUAD = SearchSpace({f"x{i}": Float(0.0, 1.0) for i in range(4)})
NUMERIC = SearchSpace({k: p for k, p in MIXED.params.items() if k != "seed"})  # no Fixed


def quadratic(config):
    return float(sum((config[f"x{i}"] - QUAD_OPT[i]) ** 2 for i in range(4)))


def done(trial_id, config, value, status=TrialStatus.COMPLETED, fidelity=1.0, reason=None):
    values = None if value is None else (value,)
    metrics = {} if value is None else {"loss": value}
    return Observation(trial_id, config, status, fidelity, metrics, 0.0, values, reason)


def run(searcher, f, n, start_id=0):
    """Sequential ask/observe loop; returns the configs and values in order."""
    searcher.set_objective("loss", "min")
    configs, values = [], []
    for i in range(n):
        (config,) = searcher.suggest(1)
        value = f(config)
        searcher.observe([done(start_id + i, config, value)])
        configs.append(config)
        values.append(value)
    return configs, values


def numeric_cost(space, configs):
    """Sum of the unit-cube positions of the Float and Int parameters."""
    x = space.encode(configs)
    cols = [j for j, dim in enumerate(space.dims) if dim.kind in ("float", "int")]
    return x[:, cols].sum(axis=1)


# ---------------------------------------------------------------------- search behaviour
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_reaches_the_interior_minimum_of_a_quadratic_from_the_corner(seed):
    configs, values = run(CFO(QUAD, seed), quadratic, 150)
    assert configs[0] == {f"x{i}": 0.0 for i in range(4)}
    assert values[0] > 1.0
    assert min(values) < 0.02  # within about 0.14 of the optimum in unit distance


def test_maximizes_when_told_to():
    values = ask_tell(CFO(QUAD, 0), lambda c: -quadratic(c), 100, "score", "max")
    assert max(values) > -0.05


def test_first_suggestion_is_the_low_cost_corner_and_early_costs_are_low():
    cfo = CFO(NUMERIC, 3)
    configs, _ = run(cfo, lambda c: (math.log10(c["lr"]) + 3) ** 2 + c["dropout"], 10)
    first = configs[0]
    assert (first["lr"], first["dropout"], first["layers"], first["units"]) == (1e-5, 0.0, 1, 16)
    assert first["opt"] in ("adam", "sgd", "rmsprop")
    random_configs = RandomSearcher(NUMERIC, 3).suggest(10)
    cfo_cost, random_cost = numeric_cost(NUMERIC, configs), numeric_cost(NUMERIC, random_configs)
    assert cfo_cost[0] == cfo_cost.min()
    assert cfo_cost.mean() < 0.5 * random_cost.mean()


def test_low_cost_partial_config_gives_the_start_and_the_rest_is_random():
    firsts = [CFO(NUMERIC, s, low_cost_partial_config={"units": 32, "opt": "sgd"}).suggest(1)[0] for s in range(6)]
    assert all(c["units"] == 32 and c["opt"] == "sgd" for c in firsts)
    assert len({c["lr"] for c in firsts}) == 6  # not given: drawn at random
    for c in firsts:
        NUMERIC.validate(c)


def test_bad_settings_raise_typed_errors():
    with pytest.raises(ConfigError, match="nope"):
        CFO(NUMERIC, 0, low_cost_partial_config={"nope": 1})
    with pytest.raises(ConfigError, match="units"):
        CFO(NUMERIC, 0, low_cost_partial_config={"units": 4})
    with pytest.raises(SettingError, match="step_init"):
        CFO(NUMERIC, 0, step_init=0.0)


def test_parallel_suggestions_are_distinct_and_valid_before_any_result():
    searcher = CFO(NUMERIC, 0)
    first = searcher.suggest(8)
    more = searcher.suggest(8)
    keys = {tuple(sorted(c.items())) for c in first + more}
    assert len(keys) == 16
    for c in first + more:
        NUMERIC.validate(c)
    # waiting for the start point, the others are start points with noise near the corner
    assert numeric_cost(NUMERIC, first + more).max() < 1.0


def test_moves_alternate_around_the_incumbent_while_results_are_pending():
    space = SearchSpace({"a": Float(0.0, 1.0), "b": Float(0.0, 1.0)})
    searcher = CFO(space, 0, low_cost_partial_config={"a": 0.5, "b": 0.5})
    (start,) = searcher.suggest(1)
    searcher.observe([done(0, start, 1.0)])
    moves = space.encode(searcher.suggest(4)) - 0.5
    step = 0.1 * math.sqrt(2)
    assert np.allclose(np.linalg.norm(moves, axis=1), step)
    assert np.allclose(moves[0], -moves[1]) and np.allclose(moves[2], -moves[3])
    assert not np.allclose(moves[0], moves[2])


# ---------------------------------------------------------------------- step rules
def test_step_shrinks_after_2_to_the_d_proposals_without_improvement():
    space = SearchSpace({"a": Float(0.0, 1.0), "b": Float(0.0, 1.0)})  # d = 2: 4 proposals
    searcher = CFO(space, 0, low_cost_partial_config={"a": 0.5, "b": 0.5})
    run(searcher, lambda c: 1.0, 1)  # the start point's result starts the thread
    step0 = 0.1 * math.sqrt(2)
    assert searcher.step == pytest.approx(step0)
    assert searcher.step_lower_bound == pytest.approx(1e-4)
    steps = []
    for i in range(6):
        run(searcher, lambda c: 1.0, 1, start_id=i + 1)
        steps.append(searcher.step)
    # FLAML's code (FLAML#85): oldK = K or k_best, K = proposals + 1, step *= sqrt(oldK / K)
    k1 = 1 + 4 + 1  # the thread's proposal counter starts at 1
    assert steps[:3] == [pytest.approx(step0)] * 3
    assert steps[3] == pytest.approx(step0 * math.sqrt(1 / k1))
    assert steps[4] == pytest.approx(steps[3])  # then every 2 proposals
    assert steps[5] == pytest.approx(steps[3] * math.sqrt(k1 / (k1 + 2)))


def test_an_improvement_moves_the_incumbent_and_undoes_the_last_shrink():
    space = SearchSpace({"a": Float(0.0, 1.0), "b": Float(0.0, 1.0)})
    searcher = CFO(space, 0, low_cost_partial_config={"a": 0.5, "b": 0.5})
    run(searcher, lambda c: 1.0, 7)  # start + 6 moves: two shrinks
    shrunk = searcher.step
    (better,) = searcher.suggest(1)
    searcher.observe([done(99, better, 0.5)])
    assert searcher.incumbent == better
    # proposed at the shrunk step, which is multiplied by sqrt(K / oldK) = sqrt(8 / 6)
    assert searcher.step == pytest.approx(shrunk * math.sqrt(8 / 6))


def test_restarts_from_the_start_with_noise_when_the_step_falls_below_its_bound():
    space = SearchSpace({"a": Int(0, 19), "b": Int(0, 19)})
    searcher = CFO(space, 0)
    step0 = 0.1 * math.sqrt(2)
    lb = math.sqrt(2) / 20  # one integer of 20 is 1/20 of the unit interval
    searcher.set_objective("loss", "min")
    last_step = None
    for i in range(300):
        (config,) = searcher.suggest(1)
        if searcher.step is not None:
            last_step = searcher.step
            assert searcher.step_lower_bound == pytest.approx(lb)
        searcher.observe([done(i, config, 1.0)])
        if searcher.n_restarts:
            break
    assert searcher.n_restarts == 1 and searcher.step is None
    assert last_step < lb
    (restart,) = searcher.suggest(1)
    assert restart != {"a": 0, "b": 0}
    assert max(restart.values()) <= 10  # noise as wide as the explored box, near the corner
    searcher.observe([done(1000, restart, 1.0)])
    assert searcher.incumbent == restart and searcher.n_threads == 2
    assert searcher.step == pytest.approx(step0)


def test_failed_and_interrupted_results_do_not_move_the_incumbent():
    space = SearchSpace({"a": Float(0.0, 1.0), "b": Float(0.0, 1.0)})
    searcher = CFO(space, 0)
    searcher.set_objective("loss", "min")
    (start,) = searcher.suggest(1)
    searcher.observe([done(0, start, None, status=TrialStatus.FAILED)])
    assert searcher.incumbent is None  # a failed start point starts nothing
    (again,) = searcher.suggest(1)  # another start point (a failed config may come again)
    searcher.observe([done(1, again, 2.0)])
    a, b = searcher.suggest(2)
    searcher.observe([done(2, a, None, status=TrialStatus.FAILED), done(3, b, -5.0, status=TrialStatus.FAILED, reason=INTERRUPTED)])
    assert searcher.incumbent == again
    searcher.observe([done(4, b, 0.0)])  # a value of exactly 0 is a result
    assert searcher.incumbent == b


def test_conditional_space_moves_between_options():
    space = SearchSpace(
        {
            "model": Choice({"svm": {"C": Float(1e-3, 1e3, log=True)}, "rf": {"depth": Int(2, 32)}, "knn": {}}),
            "scale": Categorical([True, False]),
        }
    )
    searcher = CFO(space, 0)
    configs, values = run(searcher, lambda c: {"svm": 1.0, "rf": 2.0, "knn": 3.0}[c["model"]], 60)
    for c in configs:
        space.validate(c)
    assert {c["model"] for c in configs} == {"svm", "rf", "knn"}
    assert values[0] > 1.0 and min(values) == 1.0  # it left the start's option for the best one


def test_ordered_numeric_categoricals_move_by_value():
    space = SearchSpace({"batch": Categorical([256, 16, 64, 32, 128]), "x": Float(0.0, 1.0)})
    searcher = CFO(space, 0, low_cost_partial_config={"batch": 16, "x": 0.5})
    configs, _ = run(searcher, lambda c: abs(math.log2(c["batch"]) - 7) + (c["x"] - 0.5) ** 2, 60)
    assert configs[0]["batch"] == 16
    # a step of 0.14 moves at most one cell of 0.2: from 16 to its neighbour by value, 32
    assert [c["batch"] for c in configs if c["batch"] != 16][0] == 32
    assert searcher.incumbent["batch"] == 128


def test_replay_rebuilds_the_incumbent_and_goes_on_elsewhere():
    history_searcher = CFO(QUAD, 5)
    configs, values = run(history_searcher, quadratic, 40)
    history = [done(i, c, v) for i, (c, v) in enumerate(zip(configs, values, strict=True))]
    again = CFO(QUAD, 5)
    again.set_objective("loss", "min")
    again.replay(history)
    best = configs[int(np.argmin(values))]
    assert again.incumbent == best
    step = again.step
    new = again.suggest(4)
    assert not any(c in configs for c in new)
    dist = np.linalg.norm(QUAD.encode(new) - QUAD.encode([best]), axis=1)
    assert dist.max() <= step + 1e-9  # moves around the rebuilt incumbent


def test_lower_fidelity_results_of_a_trial_seen_higher_are_ignored():
    space = SearchSpace({"a": Float(0.0, 1.0)})
    searcher = CFO(space, 0)
    searcher.set_objective("loss", "min")
    (start,) = searcher.suggest(1)
    searcher.observe([done(0, start, 1.0, status=TrialStatus.PAUSED, fidelity=3)])
    (move,) = searcher.suggest(1)
    searcher.observe([done(1, move, 0.9, status=TrialStatus.PAUSED, fidelity=1)])
    assert searcher.incumbent == move
    searcher.observe([done(0, start, 0.1, status=TrialStatus.PAUSED, fidelity=1)])  # stale
    assert searcher.incumbent == move
    searcher.observe([done(0, start, 0.5, status=TrialStatus.COMPLETED, fidelity=9)])
    assert searcher.incumbent == start


def test_same_seed_same_sequence_with_results():
    a, _ = run(CFO(NUMERIC, 11), lambda c: c["dropout"] + c["layers"], 25)
    b, _ = run(CFO(NUMERIC, 11), lambda c: c["dropout"] + c["layers"], 25)
    assert a == b


# ---------------------------------------------------------------------- studies
def test_study_fifo_end_to_end():
    space = SearchSpace({"x": Float(0.0, 1.0), "n": Int(1, 64, log=True)})

    def f(config):
        return (config["x"] - 0.3) ** 2 + (math.log2(config["n"]) - 3) ** 2 / 36

    searcher = CFO(space, seed=0)
    study = Study.create(f, space, metric="loss", mode="min", searcher=searcher, executor="inprocess")
    result = study.optimize(n_trials=30)
    study.close()
    assert len(result.trials) == 30
    assert all(t.status is TrialStatus.COMPLETED for t in result.trials)
    assert result.trials[0].config == {"x": 0.0, "n": 1}
    assert result.incumbent.value < f({"x": 0.0, "n": 1})


def test_study_asha_end_to_end():
    space = SearchSpace({"x": Float(0.0, 1.0)})

    def train(config, budget):
        for epoch in range(budget.start, budget.stop):
            hpo.report(loss=(config["x"] - 0.3) ** 2 + 1.0 / (epoch + 1), step=epoch)

    study = Study.create(
        train, space, metric="loss", mode="min", searcher=CFO(space, seed=0), scheduler="asha",
        budget=hpo.Budget(1, 9), executor="inprocess",
    )
    result = study.optimize(n_trials=30)
    study.close()
    assert len(result.trials) == 30
    assert any((t.reached or 0) > 1 for t in result.trials)
    assert result.incumbent is not None
