"""SMAC3's random-forest BO (``HyperparameterOptimizationFacade``) on a BO-suite problem.

SMAC3 (Lindauer et al., "SMAC3: A Versatile Bayesian Optimization Package for Hyperparameter
Optimization", JMLR 23(54), 2022) shares our environment, so it runs in-process through its
ask/tell interface, unlike the peers that need ``.venv-peers``. Conditional spaces become
ConfigSpace conditions, so SMAC sees only the active parameters of the chosen branch.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["configspace", "smac_run"]


def configspace(space: Any, seed: int) -> Any:
    """The ConfigSpace ``ConfigurationSpace`` of our :class:`~hpo.search_spaces.SearchSpace`.

    Floats and ints keep bounds and log scale (a ``step`` is dropped: SMAC searches the
    continuous range and the value is snapped by the space on evaluation); categoricals keep their
    choices; a ``Fixed`` becomes a ``Constant``; a ``Choice`` becomes a categorical branch
    parameter with an ``EqualsCondition`` on it for each parameter of each branch (nested
    choices nest the conditions).
    """
    from ConfigSpace import (
        Categorical,
        ConfigurationSpace,
        Constant,
        EqualsCondition,
        Float,
        Integer,
    )

    cs = ConfigurationSpace(seed=seed)

    def add(spec: Mapping[str, Any], parent: tuple[Any, str] | None) -> None:
        for name, p in spec.items():
            kind = p["type"]
            if kind == "float":
                hp: Any = Float(name, (float(p["low"]), float(p["high"])), log=p["log"])
            elif kind == "int":
                hp = Integer(name, (int(p["low"]), int(p["high"])), log=p["log"])
            elif kind in ("categorical", "choice"):
                hp = Categorical(name, list(p["choices"] if kind == "categorical" else p["options"]))
            elif kind == "fixed":
                hp = Constant(name, p["value"])
            else:
                raise ValueError(f"parameter {name!r}: no ConfigSpace form for type {kind!r}")
            cs.add(hp)
            if parent is not None:
                cs.add(EqualsCondition(hp, parent[0], parent[1]))
            if kind == "choice":
                for option, sub in p["options"].items():
                    add(sub, (hp, option))

    add(space.to_dict(), None)
    return cs


def _plain(value: Any) -> Any:
    """A numpy scalar from ConfigSpace as the Python value our spaces and problems expect."""
    return value.item() if hasattr(value, "item") else value


def smac_run(
    problem: Any, seed: int, evals: int, evaluate: Callable[[dict[str, Any]], float] | None = None
) -> tuple[list[float], list[float]]:
    """An ask/tell run of SMAC3's HPO facade (defaults: RF surrogate, log-EI, Sobol initial design).

    Args:
        problem: A :class:`benchmarks.problems.Problem` (its ``space`` and ``evaluate``).
        seed: SMAC's scenario seed (and the ConfigSpace seed).
        evals: Evaluations; also SMAC's ``n_trials`` (its initial design is at most 25% of it).
        evaluate: Overrides ``problem.evaluate`` (tests).

    Returns:
        The value of each evaluation and the seconds each ``ask`` took.
    """
    from smac import HyperparameterOptimizationFacade, Scenario
    from smac.runhistory.dataclasses import TrialValue

    logging.getLogger("smac").setLevel(logging.ERROR)
    evaluate = evaluate or problem.evaluate
    values: list[float] = []
    times: list[float] = []
    with tempfile.TemporaryDirectory(prefix="smac-") as tmp:
        scenario = Scenario(configspace(problem.space, seed), deterministic=True, n_trials=evals, seed=seed,
                            output_directory=tmp, name="bo")
        smac = HyperparameterOptimizationFacade(scenario, target_function=lambda config, seed=0: 0.0,
                                                logging_level=False, overwrite=True)
        for _ in range(evals):
            t0 = time.perf_counter()
            info = smac.ask()
            times.append(time.perf_counter() - t0)
            config = {k: _plain(v) for k, v in dict(info.config).items()}
            value = float(evaluate(config))
            values.append(value)
            smac.tell(info, TrialValue(cost=value))
    return values, times
