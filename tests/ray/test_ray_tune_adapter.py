"""hpo.integrations.ray_tune: HPOSearch and LCPFNStopper in real Ray Tune Tuners, and the
param_space conversion on its own.

Trainables are defined inside factories so that Ray ships them by value (this test module
is not importable in Ray's worker processes).
"""

from __future__ import annotations

import glob
import json
import math

import numpy as np
import pytest

pytest.importorskip("ray.tune")

from ray import tune  # noqa: E402

from hpo.errors import ConfigError, SearchSpaceError, SettingError, UnknownPluginError  # noqa: E402
from hpo.integrations.ray_tune import HPOSearch, LCPFNStopper, convert_param_space  # noqa: E402
from hpo.search_spaces import Categorical, Float, Int, SearchSpace  # noqa: E402
from hpo.trial import TrialStatus  # noqa: E402


# ---------------------------------------------------------------------- conversion (no Ray instance)
def test_every_supported_domain_converts_to_ray_bounds():
    rs = convert_param_space({
        "u": tune.uniform(-1.0, 2.0), "lu": tune.loguniform(1e-4, 1e-1), "qu": tune.quniform(0.1, 0.9, 0.1),
        "ri": tune.randint(1, 6), "qri": tune.qrandint(3, 20, 5), "qr1": tune.qrandint(0, 4, 1),
        "lri": tune.lograndint(16, 513), "c": tune.choice(["a", "b", 3]), "ours": Int(0, 2),
    })  # fmt: skip
    p = rs.space.params
    assert p["u"] == Float(-1.0, 2.0) and p["lu"] == Float(1e-4, 1e-1, log=True)
    assert p["qu"].low == pytest.approx(0.1) and p["qu"].high == pytest.approx(0.9) and p["qu"].step == 0.1
    assert p["ri"] == Int(1, 5) and p["qri"] == Int(5, 20, step=5) and p["qr1"] == Int(0, 3)
    assert p["lri"] == Int(16, 512, log=True) and p["c"] == Categorical(["a", "b", 3]) and p["ours"] == Int(0, 2)
    assert not rs.constants and not rs.indexed and rs.space.d == 9


def test_nested_dicts_constants_and_object_choices_round_trip():
    layers = ([64, 64], [128])
    rs = convert_param_space({"opt": {"lr": tune.loguniform(1e-3, 1.0), "name": "sgd"},
                              "layers": tune.choice(layers), "epochs": 3, "tags": ["x"]})  # fmt: skip
    assert set(rs.space.names) == {"opt/lr", "layers"} and rs.constants == {"opt/name": "sgd", "epochs": 3, "tags": ["x"]}
    config = rs.space.sample(np.random.default_rng(0))
    out = rs.to_ray(config)
    assert out["opt"]["name"] == "sgd" and out["epochs"] == 3 and out["layers"] in layers
    assert 1e-3 <= out["opt"]["lr"] <= 1.0
    assert rs.from_ray(out) == config  # the index of the chosen list, the flat names
    with pytest.raises(ConfigError, match="'opt/lr'"):
        rs.from_ray({"opt": {"lr": 5.0}, "layers": [128]})


@pytest.mark.parametrize(
    ("space", "name"),
    [
        ({"a": {"f": tune.sample_from(lambda _: 1)}}, "a/f"),
        ({"g": tune.grid_search([1, 2])}, "g"),
        ({"n": tune.randn(0, 1)}, "n"),
        ({"q": tune.qloguniform(1e-3, 1.0, 1e-3)}, "q"),
        ({"l": [tune.uniform(0, 1)]}, "l"),
        ({"a/b": tune.uniform(0, 1)}, "a/b"),
    ],
)
def test_unsupported_domains_raise_a_typed_error_naming_the_parameter(space, name):
    with pytest.raises(SearchSpaceError, match=f"parameter '{name}'"):
        convert_param_space(space)
    with pytest.raises(SearchSpaceError, match=f"parameter '{name}'"):
        HPOSearch().set_search_properties("loss", "min", space)


def test_settings_are_checked_with_typed_errors():
    with pytest.raises(UnknownPluginError, match="nope"):
        HPOSearch(searcher="nope")
    with pytest.raises(SettingError, match="surrogate"):
        HPOSearch(searcher="random", surrogate="forest")
    with pytest.raises(SettingError, match="mode"):
        HPOSearch(metric="loss", mode="minimize")
    with pytest.raises(SettingError, match="search space"):
        HPOSearch(metric="loss", mode="min").suggest("t1")
    with pytest.raises(SearchSpaceError, match="no parameter"):
        HPOSearch().set_search_properties("loss", "min", {"epochs": 3})
    with pytest.raises(ConfigError, match="'x'"):
        HPOSearch({"x": Float(0, 1)}, points_to_evaluate=[{"x": 2.0}])
    search = HPOSearch({"x": Float(0, 1)}, "loss", "min")
    assert not search.set_search_properties(None, None, {"y": tune.uniform(0, 1)})  # Ray raises: two spaces
    with pytest.raises(SettingError, match="metric"):
        search.set_search_properties("acc", None, {})
    for bad in ({"max_t": 0}, {"grace_period": 50, "max_t": 10}, {"threshold": 1.5}, {"y_range": (1, 0)}):
        with pytest.raises(SettingError):
            LCPFNStopper(**bad)


def test_mode_and_failures_reach_our_searcher():
    search = HPOSearch({"x": Float(0.0, 1.0), "k": Categorical(["a", "b"])}, "acc", "max", searcher="random", seed=0)
    first, second, third = (search.suggest(f"t{i}") for i in range(3))
    assert SearchSpace({"x": Float(0.0, 1.0), "k": Categorical(["a", "b"])}).contains(first)
    assert search.suggest("t0") == first  # asked again for the same trial: the same config
    search.on_trial_complete("t0", {"acc": 0.7, "done": True, "time_total_s": 2.0})
    search.on_trial_complete("t1", None, error=True)
    search.on_trial_complete("t2", {"acc": float("nan")})
    ok, failed, nan = search.observations
    assert search._model.sign == 1.0 and ok.values == (0.7,) and ok.cost == 2.0 and ok.status is TrialStatus.COMPLETED
    assert failed.status is nan.status is TrialStatus.FAILED and "error" in failed.reason and "'acc'" in nan.reason
    search.add_evaluated_point({"x": 0.5, "k": "b"}, 0.9, pruned=True)
    assert search.observations[-1].status is TrialStatus.PRUNED and search.observations[-1].values == (0.9,)


# ---------------------------------------------------------------------- Tuner runs
def _quadratic():
    def trainable(config):
        import random

        from ray import tune

        assert config["opt"]["scale"] == 2.0  # a constant of the param_space
        x, y = config["x"], config["opt"]["y"]
        loss = config["opt"]["scale"] * ((x - 1.0) ** 2 + (y + 2.0) ** 2) + random.gauss(0.0, 0.01)
        tune.report({"score": -loss, "x": x, "y": y})

    return trainable


def _run(tmp_path, trainable, search_alg, num_samples, param_space, **tune_config):
    tuner = tune.Tuner(
        trainable,
        param_space=param_space,
        tune_config=tune.TuneConfig(num_samples=num_samples, search_alg=search_alg, reuse_actors=True, **tune_config),
        run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0, log_to_file=False),
    )
    return tuner.fit()


QUADRATIC = {"x": tune.uniform(-5.0, 5.0), "opt": {"y": tune.uniform(-5.0, 5.0), "scale": 2.0}}


def test_bo_concentrates_near_the_optimum_of_a_maximized_quadratic(ray_local, tmp_path):
    search = HPOSearch(seed=0)  # the param_space and metric/mode come from the Tuner
    results = _run(tmp_path, _quadratic(), search, 16, QUADRATIC, metric="score", mode="max", max_concurrent_trials=2)
    assert len(results) == 16 and not results.errors
    points = [(r.metrics["x"], r.metrics["y"]) for r in results]
    assert all(-5.0 <= x <= 5.0 and -5.0 <= y <= 5.0 for x, y in points)
    assert set(search.space.names) == {"x", "opt/y"} and len(search.observations) == 16
    dist2 = [(o.config["x"] - 1.0) ** 2 + (o.config["opt/y"] + 2.0) ** 2 for o in search.observations]
    # Uniform random search: P(best of 16 within sqrt(0.05)) = 1 - (1 - 0.05 pi / 100)^16 = 0.025,
    # and the median squared distance of a random point is about 25. The default design has 5
    # points. Seeds 0-4 here: best 0.001-0.009, median of the last 6 0.04-0.15.
    assert min(dist2) < 0.05
    assert np.median(dist2[-6:]) < 1.0
    best = results.get_best_result()
    assert best.metrics["score"] == max(r.metrics["score"] for r in results)


def test_a_failing_trial_is_recorded_and_the_checkpoint_round_trips(ray_local, tmp_path):
    def trainable(config):
        from ray import tune

        if config["x"] < -4.0:
            raise ValueError("diverged")
        tune.report({"loss": (config["x"] - 1.0) ** 2 + config["n"]})

    space = {"x": tune.uniform(-5.0, 5.0), "n": tune.randint(0, 3)}
    search = HPOSearch(metric="loss", mode="min", n_initial=3, seed=1, points_to_evaluate=[{"x": -4.5, "n": 1}])
    results = _run(tmp_path, trainable, search, 6, space, max_concurrent_trials=2)
    assert len(results) == 6 and len(results.errors) >= 1  # the Tuner finished
    statuses = [o.status for o in search.observations]
    assert len(statuses) == 6 and statuses.count(TrialStatus.FAILED) == len(results.errors)
    failed = next(o for o in search.observations if o.config == {"x": -4.5, "n": 1})  # points_to_evaluate ran
    assert failed.status is TrialStatus.FAILED and "error" in failed.reason

    # Ray checkpointed the searcher through save(): JSON, which restore() reads into a bare HPOSearch
    saved = sorted(glob.glob(str(tmp_path / "*" / "searcher-state-*.pkl")))
    assert saved and json.loads(open(saved[-1]).read())["format"].startswith("hpo.integrations")
    restored = HPOSearch(seed=1)
    restored.restore(saved[-1])
    assert restored.space == search.space and restored.metric == "loss" and restored.mode == "min"
    assert [o.to_dict() for o in restored.observations] == [o.to_dict() for o in search.observations]
    config = restored.suggest("next")
    assert search.space.contains(config) and restored._model.n_observed == 6

    path = tmp_path / "state.json"
    search.save(str(path))
    again = HPOSearch(space, metric="loss", mode="min")
    again.restore(str(path))
    assert len(again.observations) == 6
    with pytest.raises(SettingError, match="checkpoint"):
        HPOSearch().restore(saved[-1].replace("searcher-state", "nothing"))


def test_lcpfn_stopper_stops_bad_curves_and_lets_the_best_run_to_max_t(ray_local, tmp_path):
    def trainable(config):
        import math

        from ray import tune

        for t in range(1, 21):
            tune.report({"acc": config["q"] * (1.0 - math.exp(-t / 5.0))})

    stopper = LCPFNStopper(max_t=20, grace_period=1)
    results = _run(tmp_path, trainable, None, 1, {"q": tune.grid_search([0.9, 0.3, 0.2, 0.25])},
                   metric="acc", mode="max", scheduler=stopper, max_concurrent_trials=1)  # fmt: skip
    iters = {r.config["q"]: r.metrics["training_iteration"] for r in results}
    assert iters[0.9] == 20
    assert all(3 <= iters[q] < 20 for q in (0.3, 0.2, 0.25)), iters
    assert stopper.n_stopped == 3 and stopper.best == pytest.approx(0.9 * (1 - math.exp(-4.0)))


# ---------------------------------------------------------------------- the stopper's rule on its own
class _Trial:
    def __init__(self, trial_id):
        self.trial_id = trial_id


class _Oracle:
    """LC-PFN stand-in: hopeless when the last value, mapped onto [0, 1] as LC-PFN maps it, is below 0.5."""

    def __init__(self):
        self.y_ranges = []

    def prob_improvement(self, x, y, x_final, threshold, maximize, y_range):
        self.y_ranges.append(y_range)
        lo, hi = y_range
        unit = [(c[-1] - lo) / (hi - lo) if maximize else (hi - c[-1]) / (hi - lo) for c in y]
        return np.array([0.01 if u < 0.5 else 0.9 for u in unit])


def _feed(stopper, trial_id, values):
    return [stopper.on_trial_result(None, _Trial(trial_id), {"training_iteration": t, "v": v})
            for t, v in enumerate(values, start=1)]  # fmt: skip


def test_stopper_rule_grace_period_and_metric_range():
    oracle = _Oracle()
    stopper = LCPFNStopper(metric="v", mode="max", max_t=5, grace_period=4, min_steps=2, model=oracle, calibrate=False)
    assert _feed(stopper, "a", [10, 20, 40, 60, 80]) == ["CONTINUE"] * 4 + ["STOP"]  # no best yet; STOP at max_t
    assert stopper.best == 80 and not oracle.y_ranges
    assert _feed(stopper, "b", [5, 10, 20, 30]) == ["CONTINUE"] * 3 + ["STOP"]  # judged from the grace period on
    assert oracle.y_ranges == [(0.0, 100.0)] and stopper.n_stopped == 1  # a percentage, inferred

    loss = LCPFNStopper(metric="v", mode="min", max_t=5, min_steps=2, model=oracle, calibrate=False)
    _feed(loss, "a", [0.9, 0.5, 0.3, 0.2, 0.1])
    assert _feed(loss, "b", [0.9, 0.3])[-1] == "CONTINUE" and oracle.y_ranges[-1] == (0.0, 1.0)
    _feed(loss, "c", [3.0, 2.0])
    assert oracle.y_ranges[-1] == (0.0, 1.95)  # a loss above 1: 0 to the median first value of a curve
    reward = LCPFNStopper(metric="v", mode="max", max_t=5, min_steps=2, model=oracle, calibrate=False)
    _feed(reward, "a", [-5.0, 1.0, 20.0, 150.0, 300.0])  # a reward of either sign: no range to infer
    with pytest.raises(SettingError, match=r"'v'.*\[-5, 300\].*y_range"):
        _feed(reward, "b", [-3.0, 2.0])
    given = LCPFNStopper(metric="v", mode="min", max_t=5, min_steps=2, y_range=(0.0, 4.0), model=oracle, calibrate=False)
    _feed(given, "a", [3.0, 2.0, 1.0, 0.5, 0.25])
    assert _feed(given, "b", [3.5, 3.0])[-1] == "STOP" and oracle.y_ranges[-1] == (0.0, 4.0)
    assert not given.set_search_properties("acc", None)  # its own metric: Ray asks to give it once


def test_stopper_learns_its_calibration_from_trials_that_reach_max_t():
    from hpo.surrogates.lcpfn import LCPFN

    stopper = LCPFNStopper(metric="v", mode="max", max_t=6, min_steps=2, model=LCPFN.untrained(seed=0))
    _feed(stopper, "a", [0.1, 0.2, 0.3])  # stopped or still running: nothing to learn from
    assert stopper.model.calibration.n_curves == 0
    _feed(stopper, "b", [0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    assert stopper.model.calibration.n_curves == 1 and stopper.best == 0.6
