"""Benchmark problems: BoTorch test functions plus a mixed and a conditional problem.

Every problem is minimized and knows its optimal value, so simple regret is
``best value so far - optimum``. Each has an hpo space and an Optuna define-by-run
``suggest`` that draw the same parameters under the same names.

:data:`OPT_IN` problems are run only when named (``--problems``): ``hgb-live`` trains real
models (its optimum is unknown and taken as 0, so its "regret" is the objective itself), and
the ``dbr-*`` problems are define-by-run spaces for ``HPOSampler``'s per-group path.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from hpo.search_spaces import Categorical, Choice, Float, Int, SearchSpace


@dataclass(frozen=True)
class Problem:
    name: str
    space: SearchSpace
    evaluate: Callable[[Mapping[str, Any]], float]
    optimum: float
    suggest: Callable[[Any], dict[str, Any]]
    kind: str = "continuous"


def _botorch(name: str, factory: Callable[[], Any], dim: int) -> Problem:
    import torch

    fn = factory()
    lo, hi = fn.bounds[0].tolist(), fn.bounds[1].tolist()
    names = [f"x{i}" for i in range(dim)]
    space = SearchSpace({n: Float(float(lo[i]), float(hi[i])) for i, n in enumerate(names)})

    def evaluate(config: Mapping[str, Any]) -> float:
        x = torch.tensor([[float(config[n]) for n in names]], dtype=torch.float64)
        return float(fn(x))

    def suggest(trial: Any) -> dict[str, Any]:
        return {n: trial.suggest_float(n, float(lo[i]), float(hi[i])) for i, n in enumerate(names)}

    return Problem(name, space, evaluate, float(fn.optimal_value), suggest)


def _mixed() -> Problem:
    """Ackley-4 on [-5, 5]^4, a log-scaled float, an int and two categoricals (min 0)."""
    offsets = {"a": 0.0, "b": 0.5, "c": 1.0, "d": 2.0}
    shifts = {"left": -1.0, "mid": 0.0, "right": 1.0}
    space = SearchSpace(
        {
            **{f"x{i}": Float(-5.0, 5.0) for i in range(4)},
            "scale": Float(1e-3, 1e1, log=True),
            "n": Int(1, 8),
            "c1": Categorical(list(offsets)),
            "c2": Categorical(list(shifts)),
        }
    )

    def evaluate(c: Mapping[str, Any]) -> float:
        s = shifts[c["c2"]]
        z = [c[f"x{i}"] - s for i in range(4)]
        ackley = (
            -20 * math.exp(-0.2 * math.sqrt(sum(v * v for v in z) / 4))
            - math.exp(sum(math.cos(2 * math.pi * v) for v in z) / 4)
            + 20
            + math.e
        )
        return ackley + offsets[c["c1"]] + 0.1 * abs(c["n"] - 3) + 0.3 * abs(math.log10(c["scale"]) + 1)

    def suggest(t: Any) -> dict[str, Any]:
        out = {f"x{i}": t.suggest_float(f"x{i}", -5.0, 5.0) for i in range(4)}
        out["scale"] = t.suggest_float("scale", 1e-3, 1e1, log=True)
        out["n"] = t.suggest_int("n", 1, 8)
        out["c1"] = t.suggest_categorical("c1", list(offsets))
        out["c2"] = t.suggest_categorical("c2", list(shifts))
        return out

    return Problem("Mixed-8 (Ackley-4 + log/int/2 cat)", space, evaluate, 0.0, suggest, "mixed")


def _conditional() -> Problem:
    """CASH-like: choose a branch (Branin, Hartmann-3, Levy-4), then its own parameters (min 0)."""
    import torch
    from botorch.test_functions import Branin, Hartmann, Levy

    branches = {"branin": (Branin(), 2, 0.2), "hartmann3": (Hartmann(dim=3), 3, 0.0), "levy4": (Levy(dim=4), 4, 0.5)}
    options = {}
    for key, (fn, dim, _) in branches.items():
        lo, hi = fn.bounds[0].tolist(), fn.bounds[1].tolist()
        options[key] = {f"{key}_x{i}": Float(float(lo[i]), float(hi[i])) for i in range(dim)}
    space = SearchSpace({"model": Choice(options)})

    def evaluate(c: Mapping[str, Any]) -> float:
        fn, dim, offset = branches[c["model"]]
        x = torch.tensor([[float(c[f"{c['model']}_x{i}"]) for i in range(dim)]], dtype=torch.float64)
        return float(fn(x)) - float(fn.optimal_value) + offset

    def suggest(t: Any) -> dict[str, Any]:
        model = t.suggest_categorical("model", list(branches))
        out: dict[str, Any] = {"model": model}
        for name, p in options[model].items():
            out[name] = t.suggest_float(name, p.low, p.high)
        return out

    return Problem("Conditional (Branin | Hartmann-3 | Levy-4)", space, evaluate, 0.0, suggest, "conditional")


#: Problems run only by name (``--problems``), not in the default suite: the ones that train
#: real models, and define-by-run spaces that form no conditional tree (for ``HPOSampler``'s
#: per-group path; the default suite's ``conditional`` is a tree).
OPT_IN = ("hgb-live", "dbr-threshold", "dbr-cats")


def _dbr_threshold() -> Problem:
    """A define-by-run space whose condition is a float threshold, not a categorical (min 0).

    ``x`` in [0, 1]; above 0.5 a trial also draws ``y`` in [-5, 5] (value ``(y - 1.3)^2 +
    (x - 0.8)^2``), otherwise ``z`` (log int 1..100) and ``w`` (log float 1e-4..1) (value
    ``0.5 + (log10 w + 2)^2 / 4 + (ln z - 2)^2 / 10``, at least 0.5). Like ``if
    trial.suggest_float("dropout", ...) > 0: ...``: Optuna trials then fall into parameter
    groups that no categorical selects, so ``HPOSampler`` models each group on its own. The
    hpo space is the flat union (a branch's parameters are ignored where they do not apply).
    """
    space = SearchSpace({"x": Float(0.0, 1.0), "y": Float(-5.0, 5.0), "z": Int(1, 100, log=True),
                         "w": Float(1e-4, 1.0, log=True)})  # fmt: skip

    def evaluate(c: Mapping[str, Any]) -> float:
        if c["x"] > 0.5:
            return (c["y"] - 1.3) ** 2 + (c["x"] - 0.8) ** 2
        return 0.5 + (math.log10(c["w"]) + 2) ** 2 / 4 + (math.log(c["z"]) - 2) ** 2 / 10

    def suggest(t: Any) -> dict[str, Any]:
        out: dict[str, Any] = {"x": t.suggest_float("x", 0.0, 1.0)}
        if out["x"] > 0.5:
            out["y"] = t.suggest_float("y", -5.0, 5.0)
        else:
            out["z"] = t.suggest_int("z", 1, 100, log=True)
            out["w"] = t.suggest_float("w", 1e-4, 1.0, log=True)
        return {**{"y": 0.0, "z": 1, "w": 1.0}, **out}  # the flat union's unused parameters, ignored

    return Problem("Define-by-run, float-threshold condition", space, evaluate, 0.0, suggest, "conditional")


def _dbr_cats() -> Problem:
    """Six 8-way categoricals and a float (min 0): one point per categorical off its best value, plus ``x^2``.

    Categorical-heavy spaces (architecture choices, optimizer and activation names) have many
    combinations and no order: 8^6 = 262,144 here, against 60 evaluations.
    """
    params: dict[str, Any] = {f"c{i}": Categorical([f"v{j}" for j in range(8)]) for i in range(6)}
    params["x"] = Float(-3.0, 3.0)

    def evaluate(c: Mapping[str, Any]) -> float:
        return sum(c[f"c{i}"] != f"v{i}" for i in range(6)) + c["x"] ** 2

    from benchmarks._spaces import optuna_config

    return Problem("Six 8-way categoricals + a float", SearchSpace(params), evaluate, 0.0,
                   functools.partial(optuna_config, space=params), "mixed")  # fmt: skip


def _hgb_live() -> Problem:
    """Gradient-boosted trees on a fixed synthetic classification set: 3-fold CV error (minimized).

    scikit-learn's ``HistGradientBoostingClassifier`` on ``make_classification`` (2,000 samples,
    20 features, 8 informative, 5% flipped labels, ``random_state=0``), seven parameters of four
    kinds (log floats, log ints, a plain float, a categorical), every fit with
    ``random_state=0`` on fixed stratified folds, so a config's value is deterministic. One
    validation sample is 0.0005 of error (0.05 points). A model family and space that no default was
    tuned on.
    """
    from sklearn.datasets import make_classification
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    from benchmarks._spaces import optuna_config

    x, y = make_classification(n_samples=2000, n_features=20, n_informative=8, n_redundant=4, flip_y=0.05,
                               class_sep=0.8, random_state=0)
    folds = StratifiedKFold(n_splits=3, shuffle=True, random_state=0)
    params = {
        "learning_rate": Float(1e-3, 1.0, log=True),
        "max_iter": Int(10, 300, log=True),
        "max_leaf_nodes": Int(4, 128, log=True),
        "min_samples_leaf": Int(1, 100, log=True),
        "l2_regularization": Float(1e-6, 10.0, log=True),
        "max_features": Float(0.2, 1.0),
        "interaction_cst": Categorical(["none", "no_interactions", "pairwise"]),
    }

    def evaluate(config: Mapping[str, Any]) -> float:
        kw = {k: config[k] for k in params if k != "interaction_cst"}
        cst = None if config["interaction_cst"] == "none" else config["interaction_cst"]
        model = HistGradientBoostingClassifier(**kw, interaction_cst=cst, early_stopping=False, random_state=0)
        return float(1.0 - cross_val_score(model, x, y, cv=folds).mean())

    return Problem("HGB on a synthetic classification set (live, 3-fold CV error)", SearchSpace(params), evaluate, 0.0,
                   functools.partial(optuna_config, space=params), "live")


def problems() -> dict[str, Callable[[], Problem]]:
    """Problem key -> factory (built lazily inside worker processes)."""
    from botorch.test_functions import Ackley, Branin, Hartmann, Levy, Rosenbrock

    return {
        "branin": lambda: _botorch("Branin", Branin, 2),
        "hartmann6": lambda: _botorch("Hartmann6", lambda: Hartmann(dim=6), 6),
        "ackley10": lambda: _botorch("Ackley-10", lambda: Ackley(dim=10), 10),
        "levy10": lambda: _botorch("Levy-10", lambda: Levy(dim=10), 10),
        "rosenbrock6": lambda: _botorch("Rosenbrock-6", lambda: Rosenbrock(dim=6), 6),
        "mixed": _mixed,
        "conditional": _conditional,
        "hgb-live": _hgb_live,
        "dbr-threshold": _dbr_threshold,
        "dbr-cats": _dbr_cats,
    }
