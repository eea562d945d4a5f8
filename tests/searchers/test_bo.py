import numpy as np

import hpo
from hpo.search_spaces import Choice, Float, SearchSpace
from hpo.searchers import BOSearcher, RandomSearcher
from hpo.testing import SearcherContract
from hpo.testing.searcher import ask_tell
from hpo.trial import INTERRUPTED, Observation, TrialStatus


class TestBOSearcher(SearcherContract):
    def make_searcher(self, space, seed):
        return BOSearcher(space, seed, n_init=3)


class TestThompsonBOSearcher(SearcherContract):
    """The ``"bo-ts"`` searcher (ASHA's default) passes the same contract."""

    def make_searcher(self, space, seed):
        from hpo._registry import SEARCHERS

        searcher = SEARCHERS.build("bo-ts", space=space, seed=seed, n_init=3)
        assert searcher.acquisition == "ts"
        return searcher


SPACE = SearchSpace({"x": Float(-5, 10), "y": Float(0, 15)})


def done(trial_id, config, value, fidelity=1.0, status=TrialStatus.COMPLETED):
    return Observation(trial_id, config, status, fidelity, {"loss": value}, 0.0, (value,))


def branin(c):
    x, y = c["x"], c["y"]
    return (y - 5.1 / (4 * np.pi**2) * x**2 + 5 / np.pi * x - 6) ** 2 + 10 * (1 - 1 / (8 * np.pi)) * np.cos(x) + 10


def _best(searcher, n, f=branin):
    searcher.set_objective("loss", "min")
    best = np.inf
    for i in range(n):
        (c,) = searcher.suggest(1)
        v = f(c)
        best = min(best, v)
        searcher.observe([done(i + 1, c, v)])
    return best


def test_bo_beats_random_search_at_equal_evaluations():
    bo = [_best(BOSearcher(SPACE, seed=s), 25) for s in range(3)]
    rnd = [_best(RandomSearcher(SPACE, seed=s), 25) for s in range(3)]
    assert np.median(bo) < np.median(rnd)
    assert np.median(bo) - 0.397887 < 0.1


def test_maximize_mode_is_respected():
    values = ask_tell(BOSearcher(SPACE, seed=0), lambda c: -branin(c), 20, "score", "max")
    assert max(values) > -1.5


def test_pending_points_give_distinct_batches():
    searcher = BOSearcher(SPACE, seed=0, n_init=5)
    _best(searcher, 6)
    batch = searcher.suggest(3)
    assert len({(round(c["x"], 3), round(c["y"], 3)) for c in batch}) == 3
    pending = searcher.suggest(1)
    more = searcher.suggest(1, pending=pending)
    assert more[0] != pending[0]


def _failed(trial_id, config, reason="MemoryError: out of memory"):
    return Observation(trial_id, config, TrialStatus.FAILED, 0.3, {}, 1.0, None, reason)


def test_failed_trials_join_the_model_at_the_worst_value_unless_ignored():
    for failed, rows in (("impute", 3), ("ignore", 2)):
        searcher = BOSearcher(SPACE, seed=0, n_init=2, failed=failed)
        searcher.set_objective("loss", "min")
        c = searcher.suggest(4)
        searcher.observe([done(1, c[0], 3.0), done(2, c[1], 5.0), _failed(3, c[2]), _failed(4, c[3], INTERRUPTED)])
        x, y = searcher.training_data()
        assert len(x) == rows  # the interrupted trial never counts
        assert y[:, 0].tolist()[:2] == [-3.0, -5.0] and (failed == "ignore" or y[2, 0] == -5.0)
        assert SPACE.contains(searcher.suggest(1)[0])


def test_bo_learns_to_avoid_a_region_that_fails():
    """Configs with x > 0.6 run out of memory; the loss keeps falling towards them."""
    space = SearchSpace({"x": Float(0, 1), "y": Float(0, 1)})

    def run(failed):
        searcher = BOSearcher(space, seed=0, n_init=6, failed=failed)
        searcher.set_objective("loss", "min")
        fails = []
        for i in range(26):
            (c,) = searcher.suggest(1)
            if c["x"] > 0.6:
                searcher.observe([_failed(i + 1, c)])
            else:
                searcher.observe([done(i + 1, c, -c["x"] + 0.1 * (c["y"] - 0.5) ** 2)])
            fails.append(c["x"] > 0.6)
        return sum(fails[6:])

    assert run("impute") < run("ignore")
    assert run("impute") <= 8


def test_model_fits_the_largest_fidelity_with_enough_results():
    searcher = BOSearcher(SPACE, seed=0, n_init=3)
    searcher.set_objective("loss", "min")
    c = searcher.suggest(6)
    low = [done(i + 1, c[i], float(i), fidelity=1.0, status=TrialStatus.PAUSED) for i in range(6)]
    searcher.observe(low)
    searcher.observe([done(1, c[0], 0.5, fidelity=9.0, status=TrialStatus.PAUSED)])
    x, y = searcher.training_data()
    assert len(x) == 6  # one result at 9 is not enough (d + 1 = 3)
    searcher.observe([done(i + 1, c[i], 0.5 + i, fidelity=9.0, status=TrialStatus.PAUSED) for i in (1, 2)])
    x, y = searcher.training_data()
    assert len(x) == 3 and sorted(y[:, 0].tolist()) == [-2.5, -1.5, -0.5]


def test_bo_on_a_conditional_space():
    space = SearchSpace({"m": Choice({"a": {"u": Float(0, 1)}, "b": {"v": Float(0, 1), "w": Float(0, 1)}})})

    def f(c):
        return (c["u"] - 0.3) ** 2 if c["m"] == "a" else 0.5 + (c["v"] - 0.5) ** 2

    best = _best(BOSearcher(space, seed=1), 20, f)
    assert best < 0.01


def test_tune_uses_bo_by_default():
    @hpo.tune(space={"x": Float(-5, 10), "y": Float(0, 15)})
    def f(config):
        return branin(config)

    study = f.study(executor="inprocess", seed=0)
    assert isinstance(study.scheduler.searcher, BOSearcher)
    result = study.optimize(n_trials=12)
    study.close()
    assert result.incumbent.value < 5
