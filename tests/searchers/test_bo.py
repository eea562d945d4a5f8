import numpy as np

import hpo
from hpo.search_spaces import Choice, Float, SearchSpace
from hpo.searchers import BOSearcher, RandomSearcher
from hpo.testing import SearcherContract
from hpo.trial import Trial, TrialStatus


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
        searcher.observe([Trial(i + 1, c, TrialStatus.COMPLETED, value=v)])
    return best


def test_bo_beats_random_search_at_equal_evaluations():
    bo = [_best(BOSearcher(SPACE, seed=s), 25) for s in range(3)]
    rnd = [_best(RandomSearcher(SPACE, seed=s), 25) for s in range(3)]
    assert np.median(bo) < np.median(rnd)
    assert np.median(bo) - 0.397887 < 0.1


def test_maximize_mode_is_respected():
    searcher = BOSearcher(SPACE, seed=0)
    searcher.set_objective("score", "max")
    best = -np.inf
    for i in range(20):
        (c,) = searcher.suggest(1)
        v = -branin(c)
        best = max(best, v)
        searcher.observe([Trial(i + 1, c, TrialStatus.COMPLETED, value=v)])
    assert best > -1.5


def test_pending_points_give_distinct_batches():
    searcher = BOSearcher(SPACE, seed=0, n_init=5)
    _best(searcher, 6)
    batch = searcher.suggest(3)
    assert len({(round(c["x"], 3), round(c["y"], 3)) for c in batch}) == 3
    pending = searcher.suggest(1)
    more = searcher.suggest(1, pending=pending)
    assert more[0] != pending[0]


def test_failed_trials_are_left_out_of_the_model():
    searcher = BOSearcher(SPACE, seed=0, n_init=2)
    searcher.set_objective("loss", "min")
    configs = searcher.suggest(2)
    searcher.observe([Trial(1, configs[0], TrialStatus.FAILED), Trial(2, configs[1], TrialStatus.COMPLETED, value=3.0)])
    assert len(searcher._y) == 1
    assert SPACE.contains(searcher.suggest(1)[0])


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
