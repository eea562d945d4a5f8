"""BOSearcher(fidelity_model="input"): one model across fidelities, the fidelity an input."""

import math

import numpy as np
import pytest

from hpo.search_spaces import Categorical, Choice, Float, SearchSpace
from hpo.searchers import BOSearcher
from hpo.searchers._bo_fidelity import FIDELITY_KEY
from hpo.trial import Observation, TrialStatus

LINE = SearchSpace({"x": Float(0.0, 1.0)})
MIXED = SearchSpace({
    "model": Choice({
        "a": {"a1": Float(0.0, 1.0), "k": Categorical(["u", "v", "w"])},
        "b": {"b1": Float(1e-3, 1.0, log=True)},
    }),
    "lr": Float(0.0, 1.0),
})


def _obs(tid, config, value, fidelity):
    return Observation(tid, config, TrialStatus.COMPLETED, fidelity, {"acc": value}, 0.0, (value,))


def _searcher(space, **kwargs):
    s = BOSearcher(space, seed=0, n_init=2, **kwargs)
    s.set_objective("acc", "max")
    return s


def test_training_data_holds_every_fidelity_with_a_log_scaled_column():
    s = _searcher(LINE, fidelity_model="input")
    obs = [_obs(i, {"x": i / 10}, 0.1 * i, 1.0) for i in range(6)]
    obs += [_obs(i, {"x": i / 10}, 0.2 * i, 3.0) for i in range(3)]
    obs += [_obs(0, {"x": 0.0}, 0.5, 9.0)]
    obs += [Observation(7, {"x": 0.99}, TrialStatus.FAILED, 1.0, {}, 0.0, None, reason="boom")]
    s.observe(obs)
    x, y = s.training_data()
    assert x.shape == (6 + 3 + 1 + 1, 2)  # every result, plus the failure imputed
    assert sorted(set(np.round(x[:, 1], 9))) == [0.0, 0.5, 1.0]  # log scale: 1, 3, 9
    assert s.target_fidelity() == 3.0  # the largest fidelity with 3 results (MOBSTER)
    assert math.isclose(s.model_fixed()[1], 0.5)
    assert y[-1, 0] == y[:-1, 0].min()  # the failure joins with the worst value seen
    assert x[-1, 1] == pytest.approx(0.5)  # ... at the target fidelity


def test_one_fidelity_behaves_exactly_like_the_rung_model():
    configs = [{"x": v} for v in (0.1, 0.35, 0.6, 0.8, 0.95)]
    runs = []
    for mode in ("rung", "input"):
        s = _searcher(LINE, fidelity_model=mode)
        s.observe([_obs(i, c, -((c["x"] - 0.4) ** 2), 1.0) for i, c in enumerate(configs)])
        s._n_suggested = 5
        runs.append(s.suggest(2))
        assert s.training_data()[0].shape == (5, 1)
    assert runs[0] == runs[1]


def test_a_sparse_top_rung_borrows_the_shape_from_lower_rungs():
    """Low rungs agree with the top one up to an offset; the top rung has 3 results far from
    the optimum. The model across fidelities proposes near the optimum at the top fidelity."""
    rng = np.random.default_rng(0)
    xs = rng.random(20)
    obs = [_obs(i, {"x": float(v)}, 0.5 - (v - 0.7) ** 2, 1.0) for i, v in enumerate(xs)]
    obs += [_obs(i, {"x": float(v)}, 0.8 - (v - 0.7) ** 2, 3.0) for i, v in enumerate(xs[:8])]
    top = [0.02, 0.1, 0.2]
    obs += [_obs(100 + i, {"x": v}, 1.0 - (v - 0.7) ** 2, 9.0) for i, v in enumerate(top)]
    s = _searcher(LINE, fidelity_model="input", random_fraction=0.0)
    s.observe(obs)
    s._n_suggested = 30
    fits = []
    fit = type(s.surrogate).fit

    def recording_fit(model, x, y, cat_dims=None):
        fits.append(np.asarray(x).shape)
        return fit(model, x, y, cat_dims)

    type(s.surrogate).fit = recording_fit
    try:
        (config,) = s.suggest(1)
    finally:
        type(s.surrogate).fit = fit
    assert fits == [(31, 2)]
    assert FIDELITY_KEY not in config
    assert abs(config["x"] - 0.7) < 0.15, config


def test_mixed_conditional_space_with_pending_points():
    s = _searcher(MIXED, fidelity_model="input")
    rng = np.random.default_rng(1)
    configs = MIXED.sample(rng, 24)
    obs = []
    for i, c in enumerate(configs):
        score = c["lr"] + (0.5 if c["model"] == "a" else 0.0)
        obs.append(_obs(i, c, score, 1.0))
        if i < 8:
            obs.append(_obs(i, c, score + 0.1, 3.0))
    s.observe(obs)
    s._n_suggested = 30
    pending = MIXED.sample(rng, 2)
    out = s.suggest(3, pending=pending)
    assert len(out) == 3
    for c in out:
        assert MIXED.contains(c), c


def test_bad_fidelity_model_is_a_typed_error():
    with pytest.raises(ValueError, match="fidelity_model"):
        BOSearcher(LINE, fidelity_model="mobster")


def test_asha_study_with_the_model_across_fidelities(tmp_path):
    from hpo import Budget
    from hpo.schedulers import ASHA
    from hpo.study import Study

    searcher = BOSearcher(MIXED, seed=0, fidelity_model="input", acquisition="ts")

    def train(config, budget):
        base = config["lr"] + (0.3 if config["model"] == "a" else 0.0)
        return {"acc": base * (1 - 0.5 ** budget.stop)}

    study = Study.create(train, MIXED, metric="acc", mode="max", budget=Budget(1, 9), scheduler=ASHA(searcher, eta=3),
                         storage=f"sqlite:///{tmp_path / 's.db'}", seed=0)
    result = study.optimize(n_trials=30)
    assert searcher.across_fidelities()
    assert searcher.training_data()[0].shape[1] == MIXED.d + 1
    assert result.best_value > 1.0
