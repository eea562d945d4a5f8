"""The benchmark tasks' Optuna and Ray Tune spaces are derived from their hpo space (one definition)."""

from __future__ import annotations

import pytest

optuna = pytest.importorskip("optuna")

from benchmarks._spaces import optuna_config, ray_domains  # noqa: E402
from hpo.search_spaces import Categorical, Choice, Float, Int  # noqa: E402


def suggested(fn, n=20):
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    trials = []
    for _ in range(n):
        trial = study.ask()
        trials.append((fn(trial), trial.distributions))
        study.tell(trial, 0.0)
    return trials


@pytest.mark.parametrize("task", ["lcbench", "digits", "cost_live"])
def test_each_task_suggests_its_own_space_through_optuna(task):
    from benchmarks.cost_live import DigitsMLPCost
    from benchmarks.digits import DigitsMLP
    from benchmarks.lcbench import LCBench

    cls = {"lcbench": LCBench, "digits": DigitsMLP, "cost_live": DigitsMLPCost}[task]
    space = cls.space()
    for config, dists in suggested(cls.optuna_config):
        assert list(config) == list(space)
        for name, p in space.items():
            d = dists[name]
            if isinstance(p, Categorical):
                assert tuple(d.choices) == tuple(p.choices) and config[name] in p.choices
            else:
                assert (d.low, d.high, d.log) == (p.low, p.high, p.log)
                assert p.low <= config[name] <= p.high
                assert isinstance(config[name], int) == isinstance(p, Int)


def test_a_choice_is_suggested_define_by_run_and_flattened_for_ray():
    space = {"model": Choice({"a": {"a_x": Float(0.0, 1.0)}, "b": {"b_n": Int(1, 4, log=True)}}), "lr": Float(1e-3, 1.0, log=True)}
    seen = set()
    for config, dists in suggested(lambda t: optuna_config(t, space), n=30):
        own = {"a": "a_x", "b": "b_n"}[config["model"]]
        assert set(config) == {"model", own, "lr"} and set(dists) == set(config)  # only the chosen option's parameter
        seen.add(config["model"])
    assert seen == {"a", "b"}
    tune = pytest.importorskip("ray.tune")
    domains = ray_domains(space, tune)
    assert list(domains) == ["model", "a_x", "b_n", "lr"]
    assert domains["b_n"].upper == 5  # Ray's integer upper bound is exclusive
    assert domains["model"].categories == ["a", "b"]
