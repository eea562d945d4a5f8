"""Random configs against a space: ``validate`` names the parameter, ``contains`` says False."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from _strategies import scaled, space_specs
from hypothesis import given, settings
from hypothesis import strategies as st

from hpo.search_spaces import Choice, ConfigError, SearchSpace

junk_values = st.one_of(
    st.sampled_from(
        [math.nan, math.inf, -math.inf, 10**400, -(10**400), 1e300, -1e300, True, False, None, "x", "", [], {},
         (1,), b"\x00", np.float64("nan"), np.int64(3), np.float32(0.5)]
    ),
    st.builds(np.array, st.floats(-10, 10)),  # a 0-d array
    st.builds(lambda v: np.array([v, v]), st.integers(-5, 5)),
    st.integers(),
    st.floats(),
    st.text(max_size=4),
)
junk_keys = st.one_of(st.text(max_size=4), st.integers(), st.none(), st.tuples(st.integers()), st.just(1.5))


def _outcome(space: SearchSpace, config: Any) -> ConfigError | None:
    """What ``validate`` raised (None if it passed); ``contains`` must agree, and never raise."""
    try:
        space.validate(config)
        error = None
    except ConfigError as exc:
        assert exc.param is None or repr(exc.param) in str(exc)
        error = exc
    assert space.contains(config) is (error is None)
    return error


@settings(max_examples=scaled(200))
@given(space_specs(defect_rate=0.0), st.integers(0, 2**32 - 1), st.data())
def test_a_wrong_config_gets_a_config_error_naming_the_parameter(spec_culprit, seed, data):
    space = SearchSpace(spec_culprit[0])
    config = space.sample(np.random.default_rng(seed))
    assert _outcome(space, config) is None
    selectors = [d.name for d in space.dims if isinstance(d.param, Choice) and d.name in config]
    kinds = ["delete", "extra", "value", "not a dict"] + (["switch branch"] if selectors else [])
    kind = data.draw(st.sampled_from(kinds), label="mutation")
    bad = dict(config)
    if kind == "not a dict":
        bad = data.draw(st.one_of(st.none(), st.lists(st.integers()), st.text(), st.integers()))
        assert _outcome(space, bad).param is None
    elif kind == "delete":
        key = data.draw(st.sampled_from(sorted(config)))
        del bad[key]
        assert _outcome(space, bad).param == key  # "missing from config"
    elif kind == "extra":
        key = data.draw(junk_keys.filter(lambda k: k not in config))
        bad[key] = data.draw(junk_values)
        assert _outcome(space, bad).param == key  # "not an active parameter"
    elif kind == "value":
        key = data.draw(st.sampled_from(sorted(config)))
        bad[key] = data.draw(junk_values)
        error = _outcome(space, bad)
        if error is not None and error.param != key:  # a changed selector: a child is named
            assert key in selectors and error.param in space.names, (str(error), key)
    else:  # the wrong branch of a conditional: the old option's children stay
        key = data.draw(st.sampled_from(selectors))
        options = space.dims[[d.name for d in space.dims].index(key)].param.option_names
        bad[key] = data.draw(st.sampled_from([o for o in options if o != config[key]] or [config[key]]))
        error = _outcome(space, bad)
        assert error is None or error.param in space.names, str(error)


@pytest.mark.parametrize(
    ("config", "culprits"),
    [
        ({"x": 10**400, "m": "a"}, {"x"}),  # an int too large for a float
        ({"x": 0.5, "m": ["a"]}, {"m"}),  # an unhashable selector value
        ({"x": 0.5, "m": "a", 1: 2, "zz": 3}, {1, "zz"}),  # extra keys of mixed types
    ],
)
def test_configs_that_used_to_raise_something_else(config, culprits):
    from hpo.search_spaces import Float, Int

    space = SearchSpace({"x": Float(0.0, 1.0), "m": Choice({"a": {}, "b": {"n": Int(1, 3)}})})
    error = _outcome(space, config)
    assert error is not None and error.param in culprits
