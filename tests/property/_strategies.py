"""Hypothesis strategies shared by the property suites: search-space specs and configs.

A space spec is the dict form that YAML/JSON files and ``SearchSpace(dict)`` accept
(``{name: {"type": "float", "low": ..., ...}}``). :func:`space_specs` draws one together
with the name of the parameter it made invalid on purpose (or None for a valid spec), so
the suites can check that the error names exactly that parameter.
"""

from __future__ import annotations

import math
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st

__all__ = ["scaled", "space_specs", "wild_space_specs", "json_values", "all_names"]


def scaled(n: int) -> int:
    """``n`` examples under the default profile, more under ``HPO_HYPOTHESIS_PROFILE=ci``."""
    return max(1, n * settings.default.max_examples // 100)


finite = st.floats(allow_nan=False, allow_infinity=False)
json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**6), 10**6), st.floats(-1e6, 1e6), st.text(max_size=6)
)
json_values = st.recursive(
    st.one_of(json_scalars, st.floats(), st.integers()),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4),
    max_leaves=12,
)


# ---------------------------------------------------------------- valid parameters
@st.composite
def _valid_float(draw: st.DrawFn) -> dict[str, Any]:
    log = draw(st.booleans())
    if log:
        low = draw(st.floats(1e-8, 1e4))
        high = low * draw(st.floats(1.001, 1e6))
        return {"type": "float", "low": low, "high": high, "log": True}
    low = draw(st.floats(-1e6, 1e6))
    width = draw(st.floats(1e-3, 1e6))
    spec: dict[str, Any] = {"type": "float", "low": low, "high": low + width}
    if draw(st.booleans()):  # a step that may or may not divide the range (or exceed it)
        spec["step"] = width * draw(st.sampled_from([1 / 7, 0.1, 0.3, 0.25, 1.0, 1.5]))
    return spec


@st.composite
def _valid_int(draw: st.DrawFn) -> dict[str, Any]:
    if draw(st.booleans()):
        low = draw(st.integers(1, 10**4))
        return {"type": "int", "low": low, "high": low + draw(st.integers(0, 10**6)), "log": True}
    low = draw(st.integers(-(10**6), 10**6))
    spec: dict[str, Any] = {"type": "int", "low": low, "high": low + draw(st.integers(0, 10**6))}
    if draw(st.booleans()):
        spec["step"] = draw(st.integers(1, 50))
    return spec


def _unique_choices() -> st.SearchStrategy[list[Any]]:
    return st.lists(json_scalars, min_size=1, max_size=6, unique_by=lambda c: (type(c), c))


_valid_leaf = st.one_of(
    _valid_float(),
    _valid_int(),
    _unique_choices().map(lambda cs: {"type": "categorical", "choices": cs}),
    json_scalars.map(lambda v: {"type": "fixed", "value": v}),
)

# ---------------------------------------------------------------- invalid parameters
_bad_number = st.one_of(
    st.just(math.nan), st.just(math.inf), st.just(-math.inf), st.just("abc"), st.none(), st.just(True), st.just([1])
)
_invalid_leaf = st.one_of(
    # inverted and empty ranges
    st.tuples(finite, finite).filter(lambda lh: lh[0] > lh[1]).map(
        lambda lh: {"type": "float", "low": lh[0], "high": lh[1]}
    ),
    finite.map(lambda v: {"type": "float", "low": v, "high": v}),
    st.tuples(st.integers(), st.integers()).filter(lambda lh: lh[0] > lh[1]).map(
        lambda lh: {"type": "int", "low": lh[0], "high": lh[1]}
    ),
    # log with low <= 0
    st.floats(-1e6, 0.0).map(lambda v: {"type": "float", "low": v, "high": v + 1.0, "log": True}),
    st.integers(-100, 0).map(lambda v: {"type": "int", "low": v, "high": v + 10, "log": True}),
    # NaN / inf / non-numeric bounds
    _bad_number.map(lambda v: {"type": "float", "low": v, "high": 1.0}),
    _bad_number.map(lambda v: {"type": "float", "low": 0.0, "high": v}),
    st.one_of(_bad_number, st.just(1.5)).map(lambda v: {"type": "int", "low": v, "high": 10}),
    # bad steps and flags
    st.one_of(st.floats(max_value=0.0), _bad_number.filter(lambda v: v is not None)).map(
        lambda s: {"type": "float", "low": 0, "high": 1, "step": s}
    ),
    st.one_of(st.integers(max_value=0), st.just(0.5)).map(lambda s: {"type": "int", "low": 0, "high": 9, "step": s}),
    st.just({"type": "float", "low": 1.0, "high": 2.0, "log": True, "step": 0.5}),
    st.just({"type": "int", "low": 1, "high": 64, "log": True, "step": 2}),
    st.sampled_from([1, "yes", None]).map(lambda f: {"type": "float", "low": 1.0, "high": 2.0, "log": f}),
    # categorical: empty, duplicated, non-finite or unhashable choices, not a list
    st.just({"type": "categorical", "choices": []}),
    json_scalars.filter(lambda c: not (isinstance(c, float) and math.isnan(c))).map(
        lambda c: {"type": "categorical", "choices": [c, "other", c]}
    ),
    st.sampled_from([math.nan, math.inf, [1, 2], {"a": 1}]).map(lambda c: {"type": "categorical", "choices": ["a", c]}),
    st.sampled_from(["abc", 3, {"a": 1}, None]).map(lambda c: {"type": "categorical", "choices": c}),
    # fixed: not a scalar, or not finite
    st.sampled_from([[1], {"a": 1}, math.nan, math.inf]).map(lambda v: {"type": "fixed", "value": v}),
    # choice: no options, options not a mapping, an option that is not a sub-space
    st.just({"type": "choice", "options": {}}),
    st.sampled_from([[1, 2], "abc", None]).map(lambda o: {"type": "choice", "options": o}),
    st.sampled_from([[1], 3, "abc"]).map(lambda sub: {"type": "choice", "options": {"a": sub}}),
    st.just({"type": "choice", "options": {"": {}}}),
    # not a parameter at all
    st.sampled_from([{}, {"low": 0, "high": 1}, {"type": "gaussian"}, {"type": ["float"]}, {"type": None}]),
    st.sampled_from([3, "float", None, [1, 2]]),
    st.just({"type": "float", "low": 0.0, "high": 1.0, "colour": "red"}),
)


# ---------------------------------------------------------------- whole spaces
@st.composite
def _tree(draw: st.DrawFn, depth: int, counter: list[int], paths: list[tuple[dict[str, Any], str]]) -> dict[str, Any]:
    """A dict of uniquely named parameters; records ``(parent dict, name)`` of each."""
    out: dict[str, Any] = {}
    for _ in range(draw(st.integers(1 if depth == 0 else 0, 3))):
        counter[0] += 1
        name = f"p{counter[0]}"
        if depth < 2 and draw(st.integers(0, 4)) == 0:
            options = {}
            for k in range(draw(st.integers(1, 3))):
                options[f"o{k}"] = draw(_tree(depth + 1, counter, paths))
            out[name] = {"type": "choice", "options": options}
        else:
            out[name] = draw(_valid_leaf)
        paths.append((out, name))
    return out


@st.composite
def space_specs(draw: st.DrawFn, defect_rate: float = 0.5) -> tuple[dict[str, Any], str | None]:
    """A space spec and the parameter made invalid (None: the spec is valid).

    Defects are one invalid parameter spec or one duplicated name, placed anywhere in the
    tree (Choice sub-spaces included).
    """
    paths: list[tuple[dict[str, Any], str]] = []
    spec = draw(_tree(0, [0], paths))
    if draw(st.floats(0, 1)) >= defect_rate:
        return spec, None
    parent, name = draw(st.sampled_from(paths))
    if len(paths) > 1 and draw(st.booleans()):  # duplicate: rename this one to another's name
        other = draw(st.sampled_from([n for _, n in paths if n != name]))
        if other not in parent:
            parent[other] = parent.pop(name)
            return spec, other
    parent[name] = draw(_invalid_leaf)
    return spec, name


_wild_field = st.one_of(json_values, st.integers(), st.floats(), st.sampled_from([10**400, -(10**400), 5e-324]))


@st.composite
def _wild_leaf(draw: st.DrawFn) -> Any:
    kind = draw(st.sampled_from(["float", "int", "categorical", "fixed", "choice", "other"]))
    if kind in ("float", "int"):
        spec = {"type": kind, "low": draw(_wild_field), "high": draw(_wild_field)}
        if draw(st.booleans()):
            spec["log"] = draw(st.one_of(st.booleans(), _wild_field))
        if draw(st.booleans()):
            spec["step"] = draw(_wild_field)
        return spec
    if kind == "categorical":
        return {"type": kind, "choices": draw(st.one_of(st.lists(_wild_field, max_size=5), _wild_field))}
    if kind == "fixed":
        return {"type": kind, "value": draw(_wild_field)}
    if kind == "choice":
        names = st.sampled_from(["a", "b", "c", "", 1])
        return {"type": kind, "options": draw(st.dictionaries(names, st.dictionaries(names, st.deferred(lambda: _wild_leaf()), max_size=2), max_size=3))}
    return draw(_wild_field)


def wild_space_specs() -> st.SearchStrategy[Any]:
    """Anything: numbers at the limits, wrong field types, repeated names, non-dicts."""
    names = st.sampled_from(["a", "b", "c", "lr", "", 0])
    return st.one_of(st.dictionaries(names, _wild_leaf(), max_size=4), _wild_field)


def all_names(spec: Any) -> set[Any]:
    """Every parameter name in a spec (Choice sub-spaces included), unvalidated."""
    names: set[Any] = set()
    if not isinstance(spec, dict):
        return names
    for name, param in spec.items():
        names.add(name)
        if isinstance(param, dict) and isinstance(param.get("options"), dict):
            for sub in param["options"].values():
                names |= all_names(sub)
    return names
