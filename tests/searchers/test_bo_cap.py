"""The cap on fitted points (``BOSearcher(max_fit_points=...)``, :mod:`hpo.searchers._bo_subset`).

Behaviour only: the model sees at most the cap, the best observation is always among
them, the incumbent of EI is the best of all observations, and a seeded searcher draws
the same subset twice. Timing is measured in ``benchmarks/scale.py``.
"""

import numpy as np
import pytest

from hpo.presets import describe
from hpo.search_spaces import Choice, Float, SearchSpace
from hpo.searchers import BOSearcher
from hpo.searchers._bo_subset import MAX_FIT_POINTS, fit_subset, subsample
from hpo.testing.surrogate import FunctionSurrogate
from hpo.trial import Observation, TrialStatus

SPACE = SearchSpace({"x": Float(0.0, 1.0), "y": Float(0.0, 1.0)})
FITS: list[tuple[np.ndarray, np.ndarray]] = []  # shared by deep copies (the branch models)


class SpySurrogate(FunctionSurrogate):
    """Records what each ``fit`` saw; predicts a fixed bowl."""

    def __init__(self) -> None:
        super().__init__(lambda x: -((x - 0.5) ** 2).sum(-1), variance=0.05)

    def fit(self, x_unit, y, cat_dims=None):
        FITS.append((np.asarray(x_unit, dtype=float).copy(), np.asarray(y, dtype=float).copy()))


@pytest.fixture(autouse=True)
def _clear():
    FITS.clear()


def _loss(c):
    return (c["x"] - 0.3) ** 2 + (c["y"] - 0.8) ** 2


def _loaded(n, cap, seed=0, space=SPACE, loss=_loss, **kwargs):
    configs = space.sample(np.random.default_rng(123), n)
    searcher = BOSearcher(space, seed=seed, surrogate=SpySurrogate(), warp="none", max_fit_points=cap, **kwargs)
    searcher.set_objective("loss", "min")
    searcher.replay([Observation(i + 1, c, TrialStatus.COMPLETED, 1.0, {"loss": loss(c)}, 0.0, (loss(c),))
                     for i, c in enumerate(configs)])
    return searcher, configs, np.array([loss(c) for c in configs])


def test_fit_subset_keeps_every_row_up_to_the_cap_and_leaves_the_generator_alone():
    rng = np.random.default_rng(0)
    state = rng.bit_generator.state
    assert fit_subset(np.arange(10.0), 10, rng) is None
    assert fit_subset(np.arange(10.0), None, rng) is None
    assert rng.bit_generator.state == state


def test_fit_subset_holds_the_best_quarter_the_forced_rows_and_a_seeded_random_rest():
    y = np.random.default_rng(1).normal(size=500)
    rows = fit_subset(y, 40, np.random.default_rng(7), always=np.array([3]))
    assert len(rows) == 40 and len(set(rows)) == 40 and list(rows) == sorted(rows)
    assert 3 in rows
    assert set(np.argsort(-y)[:10]) <= set(rows)  # ceil(0.25 * 40) best
    assert np.array_equal(rows, fit_subset(y, 40, np.random.default_rng(7), always=np.array([3])))
    assert not np.array_equal(rows, fit_subset(y, 40, np.random.default_rng(8), always=np.array([3])))


def test_subsample_keeps_the_given_rows_first_and_fills_up_to_the_cap():
    rows = subsample(np.array([9, 8]), np.arange(8), 5, np.random.default_rng(0))
    assert list(rows[:2]) == [9, 8] and len(rows) == 5 and set(rows[2:]) <= set(range(8))
    assert list(subsample(np.array([1]), np.array([0, 2]), 5, np.random.default_rng(0))) == [1, 0, 2]


def test_the_model_sees_at_most_the_cap_with_the_best_point_and_ei_uses_the_true_incumbent(monkeypatch):
    import hpo.acquisition

    seen = []

    class SpyLogEI(hpo.acquisition.LogEI):
        def __init__(self, surrogate, best_f):
            seen.append(best_f)
            super().__init__(surrogate, best_f)

    monkeypatch.setattr(hpo.acquisition, "LogEI", SpyLogEI)
    searcher, configs, losses = _loaded(300, 40)
    (config,) = searcher.suggest(1)
    assert set(config) == {"x", "y"}
    ((x_fit, y_fit),) = FITS
    assert len(y_fit) == 40
    best = int(np.argmin(losses))
    assert np.any(np.all(np.isclose(x_fit, SPACE.encode([configs[best]])[0]), axis=1))  # the best point is in
    assert seen == [pytest.approx(-losses.min())]  # EI's incumbent: the best of all 300


def test_running_trials_stay_pending_and_the_noisy_ei_baseline_is_the_subset(monkeypatch):
    import hpo.acquisition

    seen = []

    class SpyQLogNEI(hpo.acquisition.QLogNEI):
        def __init__(self, surrogate, x_baseline, x_pending=None, **kwargs):
            seen.append((len(x_baseline), 0 if x_pending is None else len(x_pending)))
            super().__init__(surrogate, x_baseline, x_pending, **kwargs)

    monkeypatch.setattr(hpo.acquisition, "QLogNEI", SpyQLogNEI)
    searcher, _, _ = _loaded(200, 30)
    running = SPACE.sample(np.random.default_rng(5), 3)
    searcher.suggest(1, running)
    assert seen == [(30, 3)]
    assert len(FITS[0][1]) == 30


def test_below_the_cap_nothing_changes():
    capped, _, _ = _loaded(50, 1000)
    uncapped, _, _ = _loaded(50, None)
    assert capped.suggest(1) == uncapped.suggest(1)
    assert len(FITS[0][1]) == len(FITS[1][1]) == 50
    assert np.array_equal(FITS[0][0], FITS[1][0])


def test_a_seeded_searcher_fits_the_same_subset_and_suggests_the_same_config():
    first, _, _ = _loaded(250, 25, seed=3)
    second, _, _ = _loaded(250, 25, seed=3)
    assert first.suggest(1) == second.suggest(1)
    assert np.array_equal(FITS[0][0], FITS[1][0])


def test_the_decomposed_conditional_models_are_capped_too():
    space = SearchSpace({"model": Choice({"a": {"u": Float(0.0, 1.0)}, "b": {"v": Float(0.0, 1.0)}})})

    def loss(c):
        return (c["u"] - 0.2) ** 2 if c["model"] == "a" else 0.5 + (c["v"] - 0.7) ** 2

    searcher, _, _ = _loaded(400, 30, space=space, loss=loss, branch_choice="ei")
    config = searcher.suggest(1)[0]
    assert config["model"] in ("a", "b")
    assert len(FITS) == 3  # each option's model scores it, then the chosen option's model searches it
    assert all(len(y) <= 30 for _, y in FITS)


def test_with_several_objectives_the_front_is_kept_and_the_rest_drawn(monkeypatch):
    import hpo.searchers._mobo as mobo
    from hpo.pareto import non_dominated

    seen = []

    def spy(space, x_obs, y_obs, x_pending, rng, n=1):
        seen.append((x_obs, y_obs))
        return np.full((n, space.d), 0.5)

    monkeypatch.setattr(mobo, "propose_pareto", spy)
    configs = SPACE.sample(np.random.default_rng(4), 300)
    searcher = BOSearcher(SPACE, seed=0, max_fit_points=40)
    searcher.set_objective(("a", "b"), ("min", "min"))
    searcher.replay([Observation(i + 1, c, TrialStatus.COMPLETED, 1.0, {"a": c["x"], "b": c["y"] + (1 - c["x"]) ** 2},
                                 0.0, (c["x"], c["y"] + (1 - c["x"]) ** 2)) for i, c in enumerate(configs)])
    searcher.suggest(1)
    ((x_fit, y_fit),) = seen
    full = -np.array([[c["x"], c["y"] + (1 - c["x"]) ** 2] for c in configs])  # maximized
    front = full[non_dominated(full, [True, True])]
    assert len(y_fit) == 40 and all(np.any(np.all(np.isclose(y_fit, f), axis=1)) for f in front)


def test_the_cap_is_stored_for_resume_and_checked():
    assert describe(BOSearcher(SPACE, seed=0, max_fit_points=123))["params"]["max_fit_points"] == 123
    assert BOSearcher(SPACE, seed=0).max_fit_points == MAX_FIT_POINTS
    for bad in (1, 0, 2.5, True, "10"):
        with pytest.raises(ValueError, match="max_fit_points"):
            BOSearcher(SPACE, seed=0, max_fit_points=bad)
