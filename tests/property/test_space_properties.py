"""Random search spaces: a typed error naming the culprit, or a space whose samples round-trip."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
import yaml
from _strategies import all_names, scaled, space_specs, wild_space_specs
from hypothesis import given, settings
from hypothesis import strategies as st

from hpo.search_spaces import Float, SearchSpace, SearchSpaceError, load_space

seeds = st.integers(0, 2**32 - 1)


def _same_value(param: Any, a: Any, b: Any) -> bool:
    if isinstance(param, Float):
        tol = 1e-9 * max(1.0, abs(param.high - param.low))
        return isinstance(b, float) and math.isclose(a, b, rel_tol=1e-9, abs_tol=tol)
    return type(a) is type(b) and a == b  # ints, categoricals and Choice selectors: exactly


def check_round_trip(space: SearchSpace, seed: int) -> None:
    """Samples are valid, encode into the unit cube and decode back; the space serialises."""
    configs = space.sample(np.random.default_rng(seed), n=6)
    for config in configs:
        space.validate(config)
        assert space.contains(config)
    x_unit = space.encode(configs)
    assert x_unit.shape == (6, space.d)
    assert np.all((x_unit >= 0.0) & (x_unit <= 1.0))
    mask = space.active_mask(configs)
    for config, back, active in zip(configs, space.decode(x_unit), mask, strict=True):
        assert set(back) == set(config)
        for dim, on in zip(space.dims, active, strict=True):
            assert (dim.name in config) == bool(on)  # inactive conditional parameters are absent
            if on:
                assert _same_value(dim.param, config[dim.name], back[dim.name]), (dim, config, back)
    assert SearchSpace(space.to_dict()) == space
    assert SearchSpace.from_json(space.to_json()) == space


def _culprit_named(exc: SearchSpaceError, culprit: Any) -> bool:
    return exc.param == culprit and repr(culprit) in str(exc)


@settings(max_examples=scaled(150))
@given(space_specs(), seeds)
def test_a_spec_builds_and_round_trips_or_its_error_names_the_bad_parameter(spec_culprit, seed):
    spec, culprit = spec_culprit
    if culprit is None:
        check_round_trip(SearchSpace(spec), seed)
        return
    with pytest.raises(SearchSpaceError) as info:
        SearchSpace(spec)
    assert _culprit_named(info.value, culprit), (str(info.value), culprit)


@settings(max_examples=scaled(150))
@given(wild_space_specs(), seeds)
def test_any_spec_builds_or_raises_a_search_space_error_naming_a_parameter(spec, seed):
    try:
        space = SearchSpace(spec)
    except SearchSpaceError as exc:
        if exc.param is None:  # only a whole-space problem: not a dict, or an empty one
            assert not isinstance(spec, dict) or not spec, str(exc)
        else:
            names = all_names(spec)
            assert exc.param in names or exc.param in {repr(n) for n in names}, (str(exc), names)
            assert repr(exc.param) in str(exc)
        return
    check_round_trip(space, seed)


def _outcome(build: Any) -> Any:
    try:
        return build()
    except SearchSpaceError as exc:
        return ("error", exc.param)


@settings(max_examples=scaled(60))
@given(space_specs(defect_rate=0.3), st.sampled_from(["yaml", "json"]))
def test_a_space_file_loads_as_its_dict_does(tmp_path_factory, spec_culprit, fmt):
    spec, _ = spec_culprit
    path = tmp_path_factory.mktemp("spaces") / f"space.{fmt}"
    path.write_text(yaml.safe_dump(spec, sort_keys=False) if fmt == "yaml" else json.dumps(spec))
    assert _outcome(lambda: load_space(path)) == _outcome(lambda: SearchSpace(spec))


@pytest.mark.parametrize(
    ("spec", "culprit"),
    [
        ({"x": {"type": "choice", "options": {"a": [1]}}}, "x"),  # an option that is not a sub-space
        ({"x": {"type": ["float"], "low": 0, "high": 1}}, "x"),  # an unhashable type name
        ({"x": {"type": "fixed", "value": math.nan}}, "x"),  # NaN is never equal to itself
        ({"x": {"type": "float", "low": -1e308, "high": 1e308}}, "x"),  # high - low overflows
        ({"x": {"type": "float", "low": 0.0, "high": 1.0, "step": 5e-324}}, "x"),  # a grid too fine
        ({"x": {"type": "float", "low": 10**400, "high": 10**401}}, "x"),  # ints beyond float
        ({"x": {"type": "int", "low": 0, "high": 2**62}}, "x"),  # more values than floats resolve
    ],
)
def test_degenerate_specs_found_by_the_properties(spec, culprit):
    with pytest.raises(SearchSpaceError) as info:
        SearchSpace(spec)
    assert _culprit_named(info.value, culprit)
