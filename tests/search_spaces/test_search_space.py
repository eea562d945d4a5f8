import json

import numpy as np
import pytest

from hpo.errors import ConfigError, SearchSpaceError
from hpo.search_spaces import (
    INACTIVE_VALUE,
    Categorical,
    Choice,
    Fixed,
    Float,
    Int,
    SearchSpace,
    load_space,
)

CASH = {
    "model": Choice(
        {
            "svm": {"C": Float(1e-3, 1e3, log=True)},
            "rf": {"n_estimators": Int(10, 500), "depth": Choice({"fixed": {"max_depth": Int(2, 16)}, "none": {}})},
        }
    ),
    "lr": Float(1e-4, 1.0, log=True),
}


@pytest.mark.parametrize(
    ("space", "param", "fragment"),
    [
        ({"lr": Float(1.0, 1.0)}, "lr", "empty range"),
        ({"lr": Float(2.0, 1.0)}, "lr", "inverted range"),
        ({"n": Int(5, 1)}, "n", "inverted range"),
        ({"lr": Float(0.0, 1.0, log=True)}, "lr", "log=True needs low > 0"),
        ({"n": Int(-1, 5, log=True)}, "n", "log=True needs low > 0"),
        ({"lr": Float(1e-3, 1.0, log=True, step=0.1)}, "lr", "log=True cannot be combined with step"),
        ({"n": Int(1, 64, log=True, step=2)}, "n", "log=True cannot be combined with step"),
        ({"opt": Categorical([])}, "opt", "empty choices"),
        ({"opt": Categorical([["a"], ["b"]])}, "opt", "unhashable"),
        ({"opt": Categorical([{"a": 1}])}, "opt", "unhashable"),
        ({"opt": Categorical(["a", "a"])}, "opt", "duplicate choice"),
        ({"opt": Categorical([object()])}, "opt", "not a str, int, float, bool or None"),
        ({"m": Choice({})}, "m", "empty choices"),
        ({"x": Float(0.0, float("inf"))}, "x", "not finite"),
        ({"x": Float("a", 1.0)}, "x", "not a number"),
        ({"n": Int(1.5, 3)}, "n", "not an integer"),
        ({"x": Float(0.0, 1.0, step=-1)}, "x", "step must be a positive number"),
        ({"x": 0.5}, "x", "unknown parameter type float"),
        ({"x": {"type": "gaussian", "mu": 0}}, "x", "unknown type 'gaussian'"),
        ({"a": Float(0, 1), "m": Choice({"o": {"a": Float(0, 1)}})}, "a", "duplicate parameter name"),
    ],
)
def test_invalid_spaces_raise_naming_the_parameter(space, param, fragment):
    with pytest.raises(SearchSpaceError, match=fragment) as info:
        SearchSpace(space)
    assert info.value.param == param
    assert repr(param) in str(info.value)


def test_empty_space_is_an_error():
    with pytest.raises(SearchSpaceError, match="empty"):
        SearchSpace({})


def test_sampling_is_reproducible_and_in_bounds():
    space = SearchSpace(
        {"lr": Float(1e-5, 1e-1, log=True), "n": Int(1, 8), "u": Int(16, 1024, log=True), "d": Float(0, 0.5, step=0.1)}
    )
    a = space.sample(np.random.default_rng(3), 200)
    b = space.sample(np.random.default_rng(3), 200)
    assert a == b
    assert all(space.contains(c) for c in a)
    assert {c["n"] for c in a} == set(range(1, 9))  # every integer is reachable
    assert {round(c["d"], 6) for c in a} == {0.0, 0.1, 0.2, 0.3, 0.4, 0.5}
    lrs = np.log10([c["lr"] for c in a])
    assert np.mean(lrs < -3) == pytest.approx(0.5, abs=0.12)  # log-uniform: half below the log midpoint


def test_encode_decode_round_trip_and_unit_cube():
    space = SearchSpace({**CASH, "opt": Categorical(["adam", "sgd", None]), "seed": Fixed(7)})
    configs = space.sample(np.random.default_rng(0), 100)
    x = space.encode(configs)
    assert x.shape == (100, space.d) == (100, 7)
    assert x.min() >= 0.0 and x.max() <= 1.0
    assert space.decode(x) == configs
    assert all(c["seed"] == 7 for c in configs)


def test_inactive_parameters_have_the_documented_encoding():
    space = SearchSpace(CASH)
    config = {"model": "svm", "C": 1.0, "lr": 0.01}
    x = space.encode([config])[0]
    mask = space.active_mask([config])[0]
    names = [d.name for d in space.dims]
    assert names == ["model", "C", "n_estimators", "depth", "max_depth", "lr"]
    assert mask.tolist() == [True, True, False, False, False, True]
    assert (x[~mask] == INACTIVE_VALUE).all()
    # Whatever stands in inactive columns, decoding gives the same config.
    noisy = x.copy()
    noisy[~mask] = [0.01, 0.99, 0.3]
    assert space.decode(noisy[None, :])[0] == space.decode(x[None, :])[0]


def test_conditional_sampling_covers_nested_options():
    space = SearchSpace(CASH)
    configs = space.sample(np.random.default_rng(1), 300)
    assert {c["model"] for c in configs} == {"svm", "rf"}
    rf = [c for c in configs if c["model"] == "rf"]
    assert {c["depth"] for c in rf} == {"fixed", "none"}
    for c in configs:
        assert space.contains(c)
        assert ("C" in c) == (c["model"] == "svm")
        assert ("max_depth" in c) == (c.get("depth") == "fixed")


@pytest.mark.parametrize(
    ("config", "param", "fragment"),
    [
        ({"model": "svm", "C": 1.0}, "lr", "missing"),
        ({"model": "svm", "C": 1e9, "lr": 0.1}, "C", "outside"),
        ({"model": "svm", "C": 1.0, "lr": 0.1, "n_estimators": 5}, "n_estimators", "not an active parameter"),
        ({"model": "knn", "lr": 0.1}, "model", "not one of the options"),
        ({"model": "rf", "n_estimators": 2.5, "depth": "none", "lr": 0.1}, "n_estimators", "not an integer"),
        ({"model": "svm", "C": float("nan"), "lr": 0.1}, "C", "not a finite"),
    ],
)
def test_validate_names_the_culprit(config, param, fragment):
    space = SearchSpace(CASH)
    assert not space.contains(config)
    with pytest.raises(ConfigError, match=fragment) as info:
        space.validate(config)
    assert info.value.param == param


def test_json_round_trip():
    space = SearchSpace({**CASH, "opt": Categorical(["a", 1, 2.5, True, None]), "k": Fixed("x"), "s": Float(0, 1, step=0.25)})
    text = space.to_json()
    json.loads(text)
    again = SearchSpace.from_json(text)
    assert again == space
    assert again.to_dict() == space.to_dict()


def test_load_yaml_and_json_files(tmp_path):
    yaml_file = tmp_path / "space.yaml"
    yaml_file.write_text(
        """
lr: {type: float, low: 1e-5, high: 1e-1, log: true}
layers: {type: int, low: 1, high: 8}
opt: {type: categorical, choices: [adam, sgd]}
seed: {type: fixed, value: 0}
model:
  type: choice
  options:
    svm: {C: {type: float, low: 0.01, high: 100, log: true}}
    knn: {}
"""
    )
    space = load_space(yaml_file)
    assert space.params["lr"] == Float(1e-5, 1e-1, log=True)
    assert space.params["layers"] == Int(1, 8)
    assert space.params["model"] == Choice({"svm": {"C": Float(0.01, 100, log=True)}, "knn": {}})
    json_file = tmp_path / "space.json"
    json_file.write_text(space.to_json())
    assert load_space(json_file) == space


def test_bad_space_files(tmp_path):
    with pytest.raises(SearchSpaceError, match="cannot read space file"):
        load_space(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("lr: {type: float, low: [")
    with pytest.raises(SearchSpaceError, match="not valid YAML"):
        load_space(bad)
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text("lr: {type: float, low: 1}\n")
    with pytest.raises(SearchSpaceError, match="'lr'"):
        load_space(wrong)
