"""One space, three front ends: a benchmark task's hpo space as Optuna define-by-run and as a Ray Tune space.

Tasks define their space once (:mod:`hpo.search_spaces`) and derive the peers' versions
from it, so the three cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["optuna_config", "optuna_suggest", "ray_domains"]


def optuna_suggest(trial: Any, space: Mapping[str, Any], config: dict[str, Any]) -> None:
    """Fill ``config`` from an Optuna ``trial``, walking a (nested) space define-by-run."""
    from hpo.search_spaces import Categorical, Choice, Float, Int

    for name, p in space.items():
        if isinstance(p, Choice):
            config[name] = trial.suggest_categorical(name, list(p.options))
            optuna_suggest(trial, p.options[config[name]], config)
        elif isinstance(p, Categorical):
            config[name] = trial.suggest_categorical(name, list(p.choices))
        elif isinstance(p, Int):
            config[name] = trial.suggest_int(name, p.low, p.high, log=p.log)
        elif isinstance(p, Float):
            config[name] = trial.suggest_float(name, p.low, p.high, log=p.log)
        else:
            raise TypeError(f"{name}: no Optuna counterpart for {type(p).__name__}")


def optuna_config(trial: Any, space: Mapping[str, Any]) -> dict[str, Any]:
    """The config an Optuna ``trial`` suggests from ``space`` (:func:`optuna_suggest` into a new dict)."""
    config: dict[str, Any] = {}
    optuna_suggest(trial, space, config)
    return config


def ray_domains(space: Mapping[str, Any], tune: Any = None) -> dict[str, Any]:
    """The space as a flat Ray Tune ``param_space``.

    Ray Tune's random search has no conditional parameters: a ``Choice`` becomes
    ``tune.choice`` over its option names, followed by every option's parameters (a trainable
    uses the chosen option's only). Ray's integer upper bounds are exclusive.

    Args:
        space: Name -> hpo parameter (a ``Choice`` may nest).
        tune: The module whose domains to build: ``ray.tune`` (default) or ``flaml.tune``
            (the same API).
    """
    if tune is None:
        from ray import tune

    from hpo.search_spaces import Categorical, Choice, Float, Int

    out: dict[str, Any] = {}
    for name, p in space.items():
        if isinstance(p, Choice):
            out[name] = tune.choice(list(p.options))
            for option in p.options.values():
                out.update(ray_domains(option, tune))
        elif isinstance(p, Float):
            out[name] = (tune.loguniform if p.log else tune.uniform)(p.low, p.high)
        elif isinstance(p, Int):
            out[name] = (tune.lograndint if p.log else tune.randint)(p.low, p.high + 1)
        elif isinstance(p, Categorical):
            out[name] = tune.choice(list(p.choices))
    return out
