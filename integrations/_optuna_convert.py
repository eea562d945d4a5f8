"""Conversions between Optuna distributions and hyperbandit parameters (used by :mod:`hpo.integrations.optuna`)."""

from __future__ import annotations

from typing import Any

from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from hpo.search_spaces import Categorical, Float, Int, SearchSpace

__all__ = ["_to_optuna_value", "_to_param", "to_distribution", "to_distributions"]


def _to_param(dist: BaseDistribution) -> Any:
    if isinstance(dist, FloatDistribution):
        return Float(float(dist.low), float(dist.high), log=dist.log, step=dist.step)
    if isinstance(dist, IntDistribution):
        return Int(int(dist.low), int(dist.high), log=dist.log, step=int(dist.step))
    if isinstance(dist, CategoricalDistribution):
        return Categorical(list(dist.choices))
    raise ValueError(f"HPOSampler does not support {type(dist).__name__}")


def to_distribution(param: Any) -> BaseDistribution | None:
    """The Optuna distribution of one of our parameters (the inverse of ``_to_param``).

    ``Float``/``Int`` keep ``log`` and ``step``; ``Categorical`` keeps its choices; a
    ``Choice`` selector becomes a categorical over its option names. None for ``Fixed``
    (a constant has no distribution) and unknown types.
    """
    from hpo.search_spaces import Choice

    if isinstance(param, Float):
        return FloatDistribution(float(param.low), float(param.high), log=bool(param.log), step=param.step)
    if isinstance(param, Int):
        return IntDistribution(int(param.low), int(param.high), log=bool(param.log), step=int(param.step))
    if isinstance(param, Categorical):
        return CategoricalDistribution(list(param.choices))
    if isinstance(param, Choice):
        return CategoricalDistribution(list(param.option_names))
    return None


def to_distributions(space: SearchSpace) -> dict[str, BaseDistribution]:
    """``{name: distribution}`` for every value-bearing parameter of ``space``, sub-spaces included."""
    out = {d.name: to_distribution(d.param) for d in space.dims}
    return {name: dist for name, dist in out.items() if dist is not None}


def _to_optuna_value(dist: BaseDistribution, value: Any) -> Any:
    if isinstance(dist, FloatDistribution):
        return float(value)
    if isinstance(dist, IntDistribution):
        return int(value)
    return value
