"""BOSearcher's robustness mechanisms: a random fraction, trust in a rung by rank
agreement with the next one, and the exploration floor of a Choice's options."""

import numpy as np
import pytest

from hpo.search_spaces import Choice, Float, SearchSpace
from hpo.searchers import BOSearcher
from hpo.trial import Observation, TrialStatus

FLAT = SearchSpace({"x": Float(0.0, 1.0), "y": Float(0.0, 1.0)})
COND = SearchSpace({
    "model": Choice({
        "a": {"a1": Float(0.0, 1.0)},
        "b": {"b1": Float(0.0, 1.0), "b2": Float(0.0, 1.0)},
        "c": {"c1": Float(0.0, 1.0)},
    }),
})


def _obs(tid, config, value, fidelity=1.0):
    return Observation(tid, config, TrialStatus.COMPLETED, fidelity, {"loss": value}, 0.0, (value,))


class CountingSurrogate:
    """Wraps the searcher's surrogate to count fits (a unit-isolating spy)."""

    def __init__(self, searcher):
        self.fits = 0
        inner = searcher.surrogate.fit

        def fit(*args, **kwargs):
            self.fits += 1
            return inner(*args, **kwargs)

        searcher.surrogate.fit = fit


def _suggest_recording_fits(s):
    """One suggestion, and ``(model, x shape, n)`` of every surrogate fit it made."""
    seen = []
    cls = type(s.surrogate)
    fit = cls.fit

    def recording_fit(model, x, y, cat_dims=None):
        seen.append((model, np.asarray(x).shape, len(y)))
        return fit(model, x, y, cat_dims)

    cls.fit = recording_fit
    try:
        (config,) = s.suggest(1)
    finally:
        cls.fit = fit
    return config, seen


def _sequential(space, seed, n, loss):
    """A floor-free BO searcher run for ``n`` sequential trials of ``loss``; returns it and its configs."""
    s = BOSearcher(space, seed=seed, branch_floor=0.0)
    s.set_objective("loss", "min")
    seen = []
    for tid in range(n):
        (config,) = s.suggest(1)
        seen.append(config)
        s.observe([_obs(tid, config, loss(config))])
    return s, seen


def _searcher(space, **kwargs):
    kwargs.setdefault("branch_floor", 0.25)  # the numbers below are worked out for 0.25
    s = BOSearcher(space, seed=0, **kwargs)
    s.set_objective("loss", "min")
    return s


def test_fifo_keeps_no_random_fraction_and_always_uses_the_model():
    s = _searcher(FLAT)
    rng = np.random.default_rng(0)
    s.observe([_obs(i, {"x": float(a), "y": float(b)}, float(a + b)) for i, (a, b) in enumerate(rng.random((8, 2)))])
    s._n_suggested = 8
    spy = CountingSurrogate(s)
    assert s.effective_random_fraction() == 0.0
    for _ in range(3):
        s.suggest(1)
    assert spy.fits == 3


def test_random_fraction_one_never_fits_the_model():
    s = _searcher(FLAT, random_fraction=1.0)
    rng = np.random.default_rng(0)
    s.observe([_obs(i, {"x": float(a), "y": float(b)}, float(a + b)) for i, (a, b) in enumerate(rng.random((8, 2)))])
    s._n_suggested = 8
    spy = CountingSurrogate(s)
    configs = s.suggest(4)
    assert len(configs) == 4 and all(FLAT.contains(c) for c in configs)
    assert spy.fits == 0


@pytest.mark.parametrize("bad", [0, 1.5, -0.1])
def test_bad_settings_are_typed_errors(bad):
    if 0 <= bad <= 1:
        BOSearcher(FLAT, random_fraction=bad, branch_floor=bad)
        return
    with pytest.raises(ValueError, match="random_fraction"):
        BOSearcher(FLAT, random_fraction=bad)
    with pytest.raises(ValueError, match="branch_floor"):
        BOSearcher(FLAT, branch_floor=bad)


def _two_rungs(agree: bool, n_low=12, n_common=6):
    """Rung 1 with ``n_low`` trials; the first ``n_common`` also at rung 3, ranked alike or reversed."""
    s = _searcher(FLAT)
    rng = np.random.default_rng(1)
    xs = rng.random((n_low, 2))
    low = [float(a + b) for a, b in xs]
    obs = [_obs(i, {"x": float(a), "y": float(b)}, low[i], 1.0) for i, (a, b) in enumerate(xs)]
    for i in range(n_common):
        obs.append(_obs(i, obs[i].config, (low[i] if agree else -low[i]) - 1.0, 3.0))
    s.observe(obs)
    return s


def test_rung_agreement_sets_the_random_fraction():
    agree = _two_rungs(agree=True)
    fitted, nxt, tau, n = agree.rung_agreement()
    assert (fitted, nxt, n) == (1.0, 3.0, 6) and tau == pytest.approx(1.0)
    assert agree.effective_random_fraction() == 0.0  # full trust (BOHB's rho is the scheduler's)

    reversed_ = _two_rungs(agree=False)
    assert reversed_.rung_agreement()[2] == pytest.approx(-1.0)
    assert reversed_.effective_random_fraction() == 1.0  # no trust: random search

    unmeasured = _two_rungs(agree=False, n_common=4)
    assert unmeasured.rung_agreement() is None
    assert unmeasured.effective_random_fraction() == 0.0


def test_without_a_larger_rung_the_pair_below_the_fitted_one_decides():
    # rung 3 has enough results to be fitted and nothing lies above it: the agreement of
    # rung 1 with rung 3 is the evidence
    s = _two_rungs(agree=False, n_low=12, n_common=12)
    assert s._fitted_fidelity() == 3.0
    assert s.rung_agreement()[:2] == (1.0, 3.0)
    assert s.effective_random_fraction() == 1.0
    single = _searcher(FLAT)
    single.observe([_obs(i, {"x": 0.1 * i, "y": 0.5}, float(i)) for i in range(6)])
    assert single.rung_agreement() is None and single.effective_random_fraction() == 0.0


def test_default_floor_is_half_an_even_share():
    assert BOSearcher(COND).branch_floor == 0.5


def test_a_starved_choice_option_gets_the_next_suggestion():
    s = _searcher(COND)
    rng = np.random.default_rng(2)
    obs = [_obs(i, {"model": "a", "a1": float(v)}, float((v - 0.3) ** 2)) for i, v in enumerate(rng.random(10))]
    obs += [_obs(10 + i, {"model": "c", "c1": float(v)}, 1.0 + float(v)) for i, v in enumerate(rng.random(2))]
    s.observe(obs)
    s._n_suggested = 12
    # floor 0.25 * 12 / 3 = 1: "b" has 0 (a deficit of 1), "c" has 2
    assert s.starved_branch() == {0: pytest.approx(1.5 / 3)}
    spy = CountingSurrogate(s)
    (config,) = s.suggest(1)
    assert config["model"] == "b" and spy.fits == 0  # nothing observed in "b" yet: a draw inside it
    # the running "b" config is counted: nothing is starved any more
    assert s.starved_branch([config]) is None
    assert BOSearcher(COND, branch_floor=0.0).starved_branch() is None


def test_a_starved_option_with_observations_gets_its_own_model():
    s = _searcher(COND)
    rng = np.random.default_rng(4)
    obs = [_obs(i, {"model": "a", "a1": float(v)}, float(v)) for i, v in enumerate(rng.random(30))]
    # "b" has 4 observations (= 1 + its 3 active columns), below its floor of 0.25 * 70 / 3
    obs += [_obs(30 + i, {"model": "b", "b1": float(u), "b2": float(w)}, 5.0 + float(u))
            for i, (u, w) in enumerate(rng.random((4, 2)))]
    obs += [_obs(34 + i, {"model": "c", "c1": float(v)}, 2.0 + float(v)) for i, v in enumerate(rng.random(36))]
    s.observe(obs)
    s._n_suggested = 70
    assert s.starved_branch() == {0: pytest.approx(1.5 / 3)}
    config, seen = _suggest_recording_fits(s)
    assert config["model"] == "b"
    # fitted on the 4 "b" observations only, by a model other than the main one
    assert [n for _, _, n in seen] == [4] and seen[0][0] is not s.surrogate


def test_floor_counts_pending_configs_and_keeps_suggesting_in_a_batch():
    s = _searcher(COND)
    rng = np.random.default_rng(3)
    s.observe([_obs(i, {"model": "a", "a1": float(v)}, float(v)) for i, v in enumerate(rng.random(24))])
    s._n_suggested = 24
    configs = s.suggest(3)
    # 0.25 * 24 / 3 = 2 for each of "b" and "c": the batch serves both starved options
    assert {c["model"] for c in configs} >= {"b", "c"}
    assert all(COND.contains(c) for c in configs)


def test_optimize_acquisition_holds_fixed_columns():
    import torch

    from hpo.acquisition import LogEI, optimize_acquisition
    from hpo.surrogates.gp import GPSurrogate

    x = COND.encode([{"model": "a", "a1": float(v)} for v in np.linspace(0, 1, 6)])
    y = -np.linspace(0, 1, 6)
    gp = GPSurrogate()
    gp.fit(x, y, {0: 3})
    point, _ = optimize_acquisition(LogEI(gp, best_f=float(y.max())), COND, np.random.default_rng(0), n_raw=64, fixed={0: 2.5 / 3})
    assert COND.decode(point[None, :])[0]["model"] == "c"
    assert torch.is_tensor(torch.as_tensor(point))


def test_decompose_scores_each_option_by_its_own_model_then_searches_inside_the_best():
    s = _searcher(COND, branch_choice="ei")
    rng = np.random.default_rng(5)
    obs = []
    for i in range(30):
        option = ("a", "b", "c")[i % 3]
        u = float(rng.random())
        config = {"model": option, **({"b1": u, "b2": 0.5} if option == "b" else {f"{option}1": u})}
        obs.append(_obs(i, config, {"a": 0.0, "b": 3.0, "c": 5.0}[option] + (u - 0.4) ** 2))
    s.observe(obs)
    s._n_suggested = 30
    assert s.starved_branch() is None
    config, seen = _suggest_recording_fits(s)
    # three option models, each on its own 10 observations and only its own columns (none is
    # the main model); then the chosen option's search model, on every column
    assert [n for _, _, n in seen] == [10, 10, 10, 10]
    assert [shape[1] for _, shape, _ in seen] == [1, 2, 1, COND.d]
    assert all(model is not s.surrogate for model, _, _ in seen)
    assert len({id(model) for model, _, _ in seen}) == 4
    assert config["model"] == "a"
    joint = _searcher(COND, conditional="joint")
    joint.observe(obs)
    joint._n_suggested = 30
    assert COND.contains(joint.suggest(1)[0])
    with pytest.raises(ValueError, match="conditional"):
        BOSearcher(COND, conditional="tree")


def test_a_flat_option_with_the_best_mean_loses_to_a_spread_option_with_the_best_config():
    """Regression (CASH ``diabetes``): a model of the top-level choice alone predicts each
    option's *mean*, and sent 58-61 of 100 evaluations to ridge, flat at 0.4896, while the
    best configs were in options with many bad configs around them. The per-option score
    against the global incumbent prefers the option that can still improve on it
    (``branch_choice="ei"``; ``"top-ts"`` counts ranks: the next test)."""
    space = SearchSpace({"model": Choice({"flat": {"f": Float(0.0, 1.0)}, "spread": {"s": Float(0.0, 1.0)}})})
    s = BOSearcher(space, seed=0, branch_floor=0.0, branch_choice="ei")
    s.set_objective("loss", "min")
    rng = np.random.default_rng(0)
    obs = []
    for i in range(24):
        u = float(rng.random())
        if i % 2:
            obs.append(_obs(i, {"model": "flat", "f": u}, -(0.49 + 1e-4 * u)))  # losses: minus the score
        else:  # mostly poor, best near s = 0.7, where it beats every flat config
            obs.append(_obs(i, {"model": "spread", "s": u}, -(0.5 - 4.0 * (u - 0.7) ** 2)))
    s.observe(obs)
    s._n_suggested = 24
    assert np.mean([o.values[0] for o in obs if o.config["model"] == "flat"]) < np.mean(
        [o.values[0] for o in obs if o.config["model"] == "spread"])  # flat has the better mean loss
    picks = [s.suggest(1)[0]["model"] for _ in range(3)]
    assert picks == ["spread"] * 3


def test_top_ts_picks_options_by_their_share_of_the_best_trials_whatever_their_models_scale():
    """``branch_choice="top-ts"`` (default): Thompson sampling on Beta(1 + good, 1 + other), the
    good ones being the top ``min(ceil(n / 10), 25)`` trials. Here "narrow" (values close together,
    a GP of tiny scale) holds 5 of the top 6 and is picked far more often than "wide" (the single
    best value among many poor ones: a GP of large scale, a large EI); the others are still drawn
    now and then (seeded, so the counts are fixed)."""
    from hpo.searchers._bo_branches import top_gamma

    assert [top_gamma(n) for n in (1, 10, 11, 60, 250, 1000)] == [1, 1, 2, 6, 25, 25]
    space = SearchSpace({"model": Choice({"narrow": {"a": Float(0.0, 1.0)}, "wide": {"b": Float(0.0, 1.0)},
                                          "none": {"c": Float(0.0, 1.0)}})})  # fmt: skip
    rng = np.random.default_rng(0)
    obs = []
    for i in range(60):
        u = float(rng.random())
        option = ("narrow", "wide", "none")[i % 3]
        loss = {"narrow": 0.1 + 0.01 * u, "wide": 0.0 if i == 1 else 1.0 + 5.0 * u, "none": 2.0 + u}[option]
        obs.append(_obs(i, {"model": option, {"narrow": "a", "wide": "b", "none": "c"}[option]: u}, loss))
    picks = []
    for seed in range(40):
        s = BOSearcher(space, seed=seed, branch_floor=0.0)
        s.set_objective("loss", "min")
        s.observe(obs)
        s._n_suggested = len(obs)
        x_obs, y_obs = s.training_data()
        j = s._root_choice()[0]
        (value,) = s._pick_branch(j, x_obs, y_obs[:, 0], None).values()
        picks.append(("narrow", "wide", "none")[int(value * 3)])
    assert picks.count("narrow") > 25 and picks.count("wide") + picks.count("none") >= 1
    assert BOSearcher(space, seed=0).branch_choice == "top-ts"
    with pytest.raises(ValueError, match="branch_choice"):
        BOSearcher(space, branch_choice="mean")


def test_an_option_whose_configs_all_gave_the_same_value_is_not_chosen_by_its_model():
    """An option whose value its parameters do not move (here: a shared top-level ``x`` only)
    and which holds the incumbent: a standardized GP of constant targets falls back to unit
    variance, so its EI against itself was pure prior and it took 15 of 24 trials in an
    ``HPOSampler`` run. Such an option is left to its floor; the option that can still beat it
    is searched."""
    space = SearchSpace({"x": Float(0.0, 1.0), "model": Choice({"flat": {}, "wide": {"u": Float(0.0, 1.0), "v": Float(0.0, 1.0)}})})
    s = BOSearcher(space, seed=0, branch_floor=0.0)
    s.set_objective("loss", "min")
    rng = np.random.default_rng(1)
    obs = [_obs(i, {"x": float(rng.random()), "model": "flat"}, 0.3) for i in range(4)]
    for i in range(4, 12):  # mostly worse than 0.3; its best region (u, v) = (0.8, 0.3) beats it
        u, v = rng.random(2)
        obs.append(_obs(i, {"x": float(rng.random()), "model": "wide", "u": float(u), "v": float(v)},
                        min(1.5, 8.0 * ((u - 0.8) ** 2 + (v - 0.3) ** 2))))
    s.observe(obs)
    s._n_suggested = len(obs)
    x_obs, y_obs = s.training_data()
    flat = s._option_score({1: 0.25}, x_obs[:4], y_obs[:4, 0], float(y_obs.max()), np.ones(4, dtype=bool))
    assert flat == float("-inf")
    assert [s.suggest(1)[0]["model"] for _ in range(3)] == ["wide"] * 3


def test_a_small_option_that_looks_best_is_never_evaluated_twice():
    """Regression: on the CASH task ``wine``, kNN (three small parameters) tied the best score and
    one kNN config was evaluated 56 times in 100. A repeat inside the chosen option is replaced
    by another draw there, and by a config elsewhere once the option has none left."""
    from hpo.search_spaces import Int

    space = SearchSpace({"model": Choice({"small": {"k": Int(1, 4)}, "wide": {"x": Float(0.0, 1.0)}})})
    # every small config beats every wide one (when they all tie, the option is left to its
    # floor after three: test_an_option_whose_configs_all_gave_the_same_value_...)
    _, seen = _sequential(space, 0, 16, lambda c: -0.01 * c["k"] if c["model"] == "small" else 1.0 + c["x"])
    keys = [tuple(sorted(c.items())) for c in seen]
    assert len(set(keys)) == len(keys)  # 16 distinct configs
    assert sum(c["model"] == "small" for c in seen) == 4  # all of the small option, once each


def test_an_option_with_fewer_configs_than_a_model_needs_does_not_turn_bo_into_random_search():
    """A two-config option can never hold the 3 observations a model of it needs; once both
    configs are tried it is passed over, and BO goes on in the other option."""
    from hpo.search_spaces import Categorical

    space = SearchSpace({"model": Choice({"tiny": {"t": Categorical(["x", "y"])}, "wide": {"w": Float(0.0, 1.0)}})})
    s, seen = _sequential(space, 1, 18, lambda c: 0.05 if c["model"] == "tiny" else 0.1 + (c["w"] - 0.3) ** 2)
    assert {c["t"] for c in seen if c["model"] == "tiny"} == {"x", "y"}
    assert all(c["model"] == "wide" for c in seen[s.n_init:])  # after the design (which may repeat one)
    last = [c["w"] for c in seen[-6:]]
    assert sum(abs(w - 0.3) < 0.1 for w in last) >= 4  # BO converging, not uniform draws (p ~ 0.017)
