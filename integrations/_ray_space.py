"""Ray Tune search spaces as hyperbandit search spaces, and back.

:func:`convert_param_space` turns a Ray Tune ``param_space`` (possibly nested dicts of
``tune.uniform``, ``tune.choice``, ... and constants) into a flat
:class:`~hpo.search_spaces.SearchSpace`; :meth:`RaySpace.to_ray` turns a config of that
space back into the nested dict the trainable receives. The bounds follow Ray's sampling
exactly (``ray.tune.search.sample``, Ray 2.x), as Ray's own Optuna and HyperOpt searchers
convert them:

=====================================  ======================================================
Ray Tune domain                        hyperbandit parameter
=====================================  ======================================================
``uniform(lo, hi)``                    ``Float(lo, hi)``
``loguniform(lo, hi)``                 ``Float(lo, hi, log=True)``
``quniform(lo, hi, q)``                ``Float(lo', hi', step=q)``, bounds rounded inwards to
                                       multiples of ``q`` (Ray draws multiples of ``q``)
``randint(lo, hi)``                    ``Int(lo, hi - 1)`` (Ray's upper bound is exclusive)
``qrandint(lo, hi, q)``                ``Int(lo', hi', step=q)``, multiples of ``q``, both
                                       bounds included (``q == 1``: as ``randint``)
``lograndint(lo, hi)``                 ``Int(lo, hi - 1, log=True)``
``choice([...])``                      ``Categorical([...])``; choices that are not str,
                                       int, float, bool or None (lists, objects) are searched
                                       by their index and handed back as the objects
constant (any other value)             passed through unchanged, never searched
=====================================  ======================================================

Anything else (``tune.sample_from``, ``tune.grid_search``, ``randn``, ``qloguniform``,
``qlograndint``, domains inside lists) raises :class:`~hpo.errors.SearchSpaceError`
naming the parameter. Nested dicts are flattened with ``"/"`` (``{"opt": {"lr": ...}}``
is the parameter ``"opt/lr"``), as Ray's own searchers do.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hpo.errors import SearchSpaceError
from hpo.search_spaces import Categorical, Float, Int, Param, SearchSpace
from hpo.search_spaces._params import JSON_SCALARS

__all__ = ["RaySpace", "convert_param_space", "DELIMITER"]

#: Joins the keys of nested dicts into one parameter name.
DELIMITER = "/"


@dataclass(frozen=True)
class RaySpace:
    """A flat hyperbandit space with what it takes to hand configs back to Ray Tune.

    Attributes:
        space: The searched parameters (flat names, ``"a/b"`` for nested keys).
        constants: Flat name -> value of the constants, merged into every config.
        indexed: Flat name -> the choices of a ``tune.choice`` searched by index.
        nested: Whether configs are unflattened at :data:`DELIMITER` on the way out.
    """

    space: SearchSpace
    constants: Mapping[str, Any] = field(default_factory=dict)
    indexed: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    nested: bool = True

    def to_ray(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """The trainable's config for ``config`` of :attr:`space` (constants included)."""
        flat = {**self.constants, **config}
        for name, choices in self.indexed.items():
            if name in flat:
                flat[name] = choices[flat[name]]
        return _unflatten(flat) if self.nested else flat

    def from_ray(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """The config of :attr:`space` for a (nested) Ray Tune config, e.g. ``points_to_evaluate``.

        Raises:
            ConfigError: naming the parameter, when ``config`` is not in the space.
        """
        flat = _flatten_values(config) if self.nested else dict(config)
        out = {k: v for k, v in flat.items() if k not in self.constants}
        for name, choices in self.indexed.items():
            if name in out:
                match = [i for i, c in enumerate(choices) if c is out[name] or _same(c, out[name])]
                if not match:
                    from hpo.errors import ConfigError

                    raise ConfigError(name, f"{out[name]!r} is not one of the choices")
                out[name] = match[0]
        self.space.validate(out)
        return out


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(type(a) is type(b) and a == b)
    except Exception:  # objects whose == is not a bool (arrays)
        return False


def convert_param_space(param_space: Mapping[str, Any] | SearchSpace) -> RaySpace:
    """Convert a Ray Tune ``param_space`` (or a dict of our parameters, or a mix) to a :class:`RaySpace`.

    Args:
        param_space: A dict whose leaves are Ray Tune domains, hyperbandit
            :class:`~hpo.search_spaces.Param` objects, nested dicts or constants; or a
            :class:`~hpo.search_spaces.SearchSpace`, used as it is (flat).

    Raises:
        SearchSpaceError: naming the parameter, for a domain that cannot be converted, a
            key containing ``"/"``, or a space with nothing to search.
    """
    if isinstance(param_space, SearchSpace):
        return RaySpace(param_space, nested=False)
    if not isinstance(param_space, Mapping):
        raise SearchSpaceError(None, f"a param_space is a dict, got {type(param_space).__name__}")
    params: dict[str, Any] = {}
    constants: dict[str, Any] = {}
    indexed: dict[str, tuple[Any, ...]] = {}
    _walk(param_space, "", params, constants, indexed)
    if not params:
        raise SearchSpaceError(None, "the param_space has no parameter to search (only constants)")
    return RaySpace(SearchSpace(params), constants, indexed, nested=True)


def _walk(node: Mapping[str, Any], prefix: str, params: dict, constants: dict, indexed: dict) -> None:
    from ray.tune.search.sample import Domain

    for key, value in node.items():
        if not isinstance(key, str):
            raise SearchSpaceError(repr(key), "parameter names must be strings")
        name = f"{prefix}{key}"
        if DELIMITER in key:
            raise SearchSpaceError(name, f"a key may not contain {DELIMITER!r} (it joins nested keys)")
        if isinstance(value, Param):
            params[name] = value
        elif isinstance(value, Domain):
            params[name] = _from_domain(name, value, indexed)
        elif isinstance(value, Mapping) and len(value) == 1 and ("grid_search" in value or "eval" in value):
            what = "tune.grid_search" if "grid_search" in value else "an 'eval' spec"
            raise SearchSpaceError(name, f"{what} cannot be searched by HPOSearch; use tune.choice")
        elif isinstance(value, Mapping) and value:
            _walk(value, name + DELIMITER, params, constants, indexed)
        elif isinstance(value, (list, tuple)) and _holds_domain(value):
            raise SearchSpaceError(name, "search domains inside a list are not supported; use a dict")
        else:
            constants[name] = value


def _holds_domain(value: Any) -> bool:
    from ray.tune.search.sample import Domain

    if isinstance(value, (Domain, Param)):
        return True
    if isinstance(value, Mapping):
        return any(_holds_domain(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_holds_domain(v) for v in value)
    return False


def _from_domain(name: str, domain: Any, indexed: dict[str, tuple[Any, ...]]) -> Param:
    from ray.tune.search import sample

    sampler = domain.get_sampler()
    q = None
    if isinstance(sampler, sample.Quantized):
        q, sampler = sampler.q, sampler.get_sampler()
    log = isinstance(sampler, sample.LogUniform)
    uniform = isinstance(sampler, sample.Uniform) and not isinstance(sampler, sample.Grid)
    if isinstance(domain, sample.Categorical) and uniform and q is None:
        choices = tuple(domain.categories)
        if all(isinstance(c, JSON_SCALARS) for c in choices):
            return Categorical(list(choices))
        indexed[name] = choices
        return Categorical(list(range(len(choices))))
    if isinstance(domain, sample.Float) and (log or uniform):
        if q is None:
            return Float(domain.lower, domain.upper, log=log)
        if not log:
            low, high = _on_grid(domain.lower, domain.upper, q)
            return Float(low, high, step=q)
    if isinstance(domain, sample.Integer) and (log or uniform):
        if q is None or q == 1:
            return Int(int(domain.lower), int(domain.upper) - 1, log=log)
        if not log:
            low, high = _on_grid(domain.lower, domain.upper, q)
            return Int(int(round(low)), int(round(high)), step=int(q))
    raise SearchSpaceError(name, f"cannot convert Ray Tune domain {_describe(domain, sampler, q)} "
                                 "(supported: uniform, loguniform, quniform, randint, qrandint, "
                                 "lograndint, choice)")  # fmt: skip


def _on_grid(lower: float, upper: float, q: float) -> tuple[float, float]:
    """The smallest and largest multiples of ``q`` in ``[lower, upper]`` (Ray's ``Quantized``)."""

    def index(bound: float, rounding: Any) -> float:
        scaled = bound / q
        return round(scaled) if math.isclose(scaled, round(scaled)) else rounding(scaled)

    return index(lower, math.ceil) * q, index(upper, math.floor) * q


def _describe(domain: Any, sampler: Any, q: Any) -> str:
    kind = type(domain).__name__
    how = type(sampler).__name__.strip("_")
    return f"{kind}/{how}" + (f" quantized by {q}" if q is not None else "")


def _flatten_values(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, Mapping) and value:
            out.update(_flatten_values(value, f"{prefix}{key}{DELIMITER}"))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _unflatten(flat: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in flat.items():
        *parents, leaf = name.split(DELIMITER)
        node = out
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return out
