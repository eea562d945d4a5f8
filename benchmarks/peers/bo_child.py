"""Child side of the BO suite's ask/tell conversation, run in ``.venv-peers``.

``python -m benchmarks.peers.bo_child`` reads one request line (method, seed, space in its
JSON form, evals) from stdin, then ``evals`` times writes ``{"ask": config}`` and reads
``{"tell": value}`` (minimized), and ends with ``{"done": true, "ask_seconds": [...]}``. The
protocol goes over the original stdout; anything the libraries print is sent to stderr. See
``benchmarks.peers._pipe`` for the parent side.

Methods:

* ``hebo``: HEBO (Cowen-Rivers et al., "HEBO: Pushing the Limits of Sample-Efficient
  Hyperparameter Optimisation", JAIR 74, 2022), its ``HEBO`` optimizer with defaults (GP
  with input warping, power-transformed outputs, MACE acquisition optimized by NSGA-II,
  Sobol initial design of ``d + 1``);
* ``synetune-bo``: Syne Tune's ``BayesianOptimization`` (Salinas et al., "Syne Tune: A
  Library for Large Scale Hyperparameter Tuning and Reproducible Research", AutoML 2022),
  GP-EI with defaults except ``points_to_evaluate=[]`` (no centre-point first config),
  driven through its scheduler API;
* ``random``: uniform random search with numpy (no peer library; used by the tests).

None of them supports conditional spaces: they search the flat union of every branch's
parameters, and the parent keeps only the active ones. This module imports only the
standard library, numpy and the peer library, never ``hpo``.
"""

from __future__ import annotations

import json
import math
import os
import random
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

Ask = Callable[[], dict[str, Any]]
Tell = Callable[[dict[str, Any], float], None]


def flat_params(space: Mapping[str, Any]) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """The searchable parameters of the flat union of all branches, and the fixed values.

    Args:
        space: A space in its JSON form (``SearchSpace.to_dict()``).

    Returns:
        Name to spec (``float``/``int`` with ``low``, ``high``, ``log``; ``categorical``
        with ``choices``; a ``choice`` becomes a ``categorical`` of its option names), and
        name to value of every ``fixed`` parameter.
    """
    params: dict[str, dict[str, Any]] = {}
    fixed: dict[str, Any] = {}
    for name, spec in space.items():
        kind = spec["type"]
        if kind == "fixed":
            fixed[name] = spec["value"]
        elif kind == "choice":
            params[name] = {"type": "categorical", "choices": list(spec["options"])}
            for sub in spec["options"].values():
                sub_params, sub_fixed = flat_params(sub)
                params.update(sub_params)
                fixed.update(sub_fixed)
        elif kind in ("float", "int", "categorical"):
            if kind == "float" and spec.get("step") is not None or kind == "int" and spec.get("step", 1) != 1:
                raise ValueError(f"parameter {name!r}: stepped ranges are not supported")
            params[name] = dict(spec)
        else:
            raise ValueError(f"parameter {name!r}: unknown type {kind!r}")
    return params, fixed


def _plain(value: Any) -> Any:
    """A numpy/pandas scalar as a JSON-ready Python value."""
    return value.item() if hasattr(value, "item") else value


def _random(params: dict[str, dict[str, Any]], seed: int, evals: int) -> tuple[Ask, Tell]:
    import numpy as np

    rng = np.random.default_rng(seed)

    def draw(p: dict[str, Any]) -> Any:
        if p["type"] == "categorical":
            return p["choices"][int(rng.integers(len(p["choices"])))]
        lo, hi = p["low"], p["high"]
        if p["type"] == "int":
            lo, hi = lo - 0.5, hi + 0.5  # each integer gets the interval that rounds to it (log: low >= 1)
        x = math.exp(rng.uniform(math.log(lo), math.log(hi))) if p["log"] else float(rng.uniform(lo, hi))
        return min(max(round(x), p["low"]), p["high"]) if p["type"] == "int" else min(max(x, p["low"]), p["high"])

    return (lambda: {n: draw(p) for n, p in params.items()}), (lambda config, value: None)


def _hebo(params: dict[str, dict[str, Any]], seed: int, evals: int) -> tuple[Ask, Tell]:
    import numpy as np
    import pandas as pd
    import torch
    from hebo.design_space.design_space import DesignSpace
    from hebo.optimizers.hebo import HEBO

    torch.set_num_threads(1)
    # HEBO draws from the global numpy and torch generators (this process runs one study)
    np.random.seed(seed)
    torch.manual_seed(seed)
    rows = []
    for name, p in params.items():
        if p["type"] == "categorical":
            rows.append({"name": name, "type": "cat", "categories": list(p["choices"])})
        else:
            kind = {("float", False): "num", ("float", True): "pow", ("int", False): "int", ("int", True): "pow_int"}
            rows.append({"name": name, "type": kind[p["type"], p["log"]], "lb": p["low"], "ub": p["high"]})
    opt = HEBO(DesignSpace().parse(rows), scramble_seed=seed)
    pending: list[Any] = []

    def ask() -> dict[str, Any]:
        rec = opt.suggest(n_suggestions=1)
        pending.append(rec)
        return {k: _plain(v) for k, v in rec.iloc[0].to_dict().items()}

    def tell(config: dict[str, Any], value: float) -> None:
        rec: pd.DataFrame = pending.pop()
        opt.observe(rec, np.array([[value]], dtype=float))

    return ask, tell


def _synetune(params: dict[str, dict[str, Any]], seed: int, evals: int) -> tuple[Ask, Tell]:
    from datetime import datetime

    from syne_tune.backend.trial_status import Trial
    from syne_tune.config_space import choice, lograndint, loguniform, randint, uniform
    from syne_tune.optimizer.baselines import BayesianOptimization

    domains: dict[str, Any] = {}
    for name, p in params.items():
        if p["type"] == "categorical":
            domains[name] = choice(list(p["choices"]))
        elif p["type"] == "float":
            domains[name] = (loguniform if p["log"] else uniform)(p["low"], p["high"])
        else:
            domains[name] = (lograndint if p["log"] else randint)(p["low"], p["high"])
    # points_to_evaluate=[]: no centre-of-the-space first config (Syne Tune's default), which is
    # Ackley's optimum; like the other methods it starts from random configs
    scheduler = BayesianOptimization(domains, metric="value", mode="min", random_seed=seed, points_to_evaluate=[])
    trials: list[Trial] = []

    def ask() -> dict[str, Any]:
        suggestion = scheduler.suggest(len(trials))
        if suggestion is None or suggestion.config is None:
            raise RuntimeError("Syne Tune made no suggestion")
        config = {k: _plain(v) for k, v in suggestion.config.items() if k in domains}
        trials.append(Trial(trial_id=len(trials), config=suggestion.config, creation_time=datetime.now()))
        scheduler.on_trial_add(trials[-1])
        return config

    def tell(config: dict[str, Any], value: float) -> None:
        scheduler.on_trial_complete(trials[-1], {"value": value})

    return ask, tell


METHODS: dict[str, Callable[[dict[str, dict[str, Any]], int, int], tuple[Ask, Tell]]] = {
    "hebo": _hebo,
    "synetune-bo": _synetune,
    "random": _random,
}


def main() -> int:
    """Serve one run on stdin/stdout; an error ends the process with a traceback on stderr."""
    protocol = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # library prints (even from C) go to stderr
    sys.stdout = sys.stderr
    request = json.loads(sys.stdin.readline())
    seed, evals = int(request["seed"]), int(request["evals"])
    random.seed(seed)
    params, fixed = flat_params(request["space"])
    ask, tell = METHODS[request["method"]](params, seed, evals)
    seconds = []
    for _ in range(evals):
        t0 = time.perf_counter()
        config = ask()
        seconds.append(time.perf_counter() - t0)
        protocol.write(json.dumps({"ask": {**config, **fixed}}) + "\n")
        protocol.flush()
        line = sys.stdin.readline()
        if not line:
            raise RuntimeError("the parent closed the pipe before telling a value")
        tell(config, float(json.loads(line)["tell"]))
    protocol.write(json.dumps({"done": True, "ask_seconds": seconds}) + "\n")
    protocol.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
