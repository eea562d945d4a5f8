"""The surrogate study: the same BO loop for every surrogate, beside Optuna TPE and GPSampler.

After Li, Rudner & Wilson, "A Study of Bayesian Neural Network Surrogates for Bayesian
Optimization", ICLR 2024: one ``BOSearcher`` (Sobol design of ``max(5, d + 1)`` points, then
LogEI) whose only difference between methods is the surrogate, on problem groups of
different kinds (low and high dimension, mixed, conditional, LCBench at the full budget, a
live scikit-learn problem with categoricals). Every problem is minimized. Problems with a
known optimum report simple regret against it; the others (LCBench, the live one) against
the best value any run of the benchmark found.

Fit and predict seconds are measured by timing the surrogate's own ``fit`` and ``predict``
calls inside each run (per suggestion, medians over the run's model-based suggestions).
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Mapping
from typing import Any

__all__ = ["GROUPS", "surrogate_problems", "run_one", "methods"]

#: Problem key -> group (the acceptance counts groups; LCBench's 3 tasks form one group).
GROUPS = {
    "branin": "Branin",
    "hartmann6": "Hartmann6",
    "ackley10": "Ackley-10",
    "hartmann6_50d": "Hartmann6 in 50-d",
    "mixed": "Mixed-8",
    "conditional": "Conditional",
    "lcbench-3945": "LCBench (3 tasks)",
    "lcbench-7593": "LCBench (3 tasks)",
    "lcbench-189906": "LCBench (3 tasks)",
    "digits-sgd": "digits SGD (live, categoricals)",
}


def methods() -> list[str]:
    """``hpo-<surrogate>`` for every registered surrogate, then the Optuna peers."""
    from hpo._registry import SURROGATES

    return [f"hpo-{name}" for name in SURROGATES.names()] + ["optuna-tpe", "optuna-gp"]


def _hartmann6_50d() -> Any:
    """Hartmann-6 on the first 6 of 50 unit-interval parameters; 44 do nothing (min -3.32237)."""
    import torch
    from botorch.test_functions import Hartmann

    from benchmarks.problems import Problem
    from hpo.search_spaces import Float, SearchSpace

    fn = Hartmann(dim=6)
    names = [f"x{i:02d}" for i in range(50)]
    space = SearchSpace({n: Float(0.0, 1.0) for n in names})

    def evaluate(c: Mapping[str, Any]) -> float:
        return float(fn(torch.tensor([[float(c[n]) for n in names[:6]]], dtype=torch.float64)))

    def suggest(t: Any) -> dict[str, Any]:
        return {n: t.suggest_float(n, 0.0, 1.0) for n in names}

    return Problem("Hartmann6 embedded in 50-d", space, evaluate, float(fn.optimal_value), suggest, "high-dim")


def _lcbench(task: str) -> Any:
    """LCBench (YAHPO surrogate) at the full 52 epochs: minimize 100 - val_accuracy (%)."""
    from benchmarks.lcbench import EPOCHS, LCBench
    from benchmarks.problems import Problem
    from hpo.search_spaces import SearchSpace

    bench = LCBench(task)

    def evaluate(c: Mapping[str, Any]) -> float:
        acc, _ = bench.evaluate([dict(c)], [EPOCHS])
        return 100.0 - float(acc[0, 0])

    return Problem(f"LCBench {task} (52 epochs)", SearchSpace(LCBench.space()), evaluate, math.nan, LCBench.optuna_config, "lcbench")


def _digits_sgd() -> Any:
    """A live scikit-learn problem: SGDClassifier on digits, 3-fold CV error, 3 categoricals."""
    from benchmarks.problems import Problem
    from hpo.search_spaces import Categorical, Float, SearchSpace

    losses, penalties, schedules = ["hinge", "log_loss", "modified_huber"], ["l2", "l1", "elasticnet"], ["optimal", "invscaling", "adaptive"]
    space = SearchSpace(
        {
            "loss": Categorical(losses),
            "penalty": Categorical(penalties),
            "learning_rate": Categorical(schedules),
            "alpha": Float(1e-7, 1e-1, log=True),
            "l1_ratio": Float(0.0, 1.0),
            "eta0": Float(1e-4, 1.0, log=True),
        }
    )

    def evaluate(c: Mapping[str, Any]) -> float:
        from sklearn.datasets import load_digits
        from sklearn.linear_model import SGDClassifier
        from sklearn.model_selection import cross_val_score
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        x, y = load_digits(return_X_y=True)
        model = make_pipeline(
            StandardScaler(),
            SGDClassifier(loss=c["loss"], penalty=c["penalty"], learning_rate=c["learning_rate"], alpha=c["alpha"],
                          l1_ratio=c["l1_ratio"], eta0=c["eta0"], max_iter=30, tol=None, random_state=0),
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return 1.0 - float(cross_val_score(model, x, y, cv=3).mean())

    def suggest(t: Any) -> dict[str, Any]:
        return {
            "loss": t.suggest_categorical("loss", losses),
            "penalty": t.suggest_categorical("penalty", penalties),
            "learning_rate": t.suggest_categorical("learning_rate", schedules),
            "alpha": t.suggest_float("alpha", 1e-7, 1e-1, log=True),
            "l1_ratio": t.suggest_float("l1_ratio", 0.0, 1.0),
            "eta0": t.suggest_float("eta0", 1e-4, 1.0, log=True),
        }

    return Problem("digits: SGDClassifier, 3-fold CV error (live)", space, evaluate, math.nan, suggest, "live")


def surrogate_problems() -> dict[str, Any]:
    """Problem key -> factory, for every key of :data:`GROUPS`."""
    from benchmarks.problems import problems

    base = problems()
    out: dict[str, Any] = {k: base[k] for k in ("branin", "hartmann6", "ackley10", "mixed", "conditional")}
    out["hartmann6_50d"] = _hartmann6_50d
    for task in ("3945", "7593", "189906"):
        out[f"lcbench-{task}"] = lambda task=task: _lcbench(task)
    out["digits-sgd"] = _digits_sgd
    return out


class _Timed:
    """Wraps a surrogate's fit and predict to add up their seconds."""

    def __init__(self, surrogate: Any) -> None:
        self.fit_s: list[float] = []
        self.predict_s = 0.0
        fit, predict = surrogate.fit, surrogate.predict

        def timed_fit(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fit(*args, **kwargs)
            finally:
                self.fit_s.append(time.perf_counter() - t0)

        def timed_predict(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return predict(*args, **kwargs)
            finally:
                self.predict_s += time.perf_counter() - t0

        surrogate.fit, surrogate.predict = timed_fit, timed_predict


def run_one(problem_key: str, method: str, seed: int, evals: int) -> dict[str, Any]:
    """One run: the value of every evaluation, and the seconds the surrogate spent."""
    import torch

    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    problem = surrogate_problems()[problem_key]()
    values: list[float] = []
    times: list[float] = []
    fit_s: list[float] = []
    predict_s: list[float] = []
    model_times: list[float] = []  # suggestions that fitted the model (not the design's)
    if method.startswith("hpo-"):
        from hpo.searchers import BOSearcher
        from hpo.trial import Observation, TrialStatus

        searcher = BOSearcher(problem.space, seed=seed, surrogate=method.removeprefix("hpo-"))
        timer = _Timed(searcher.surrogate)
        searcher.set_objective("value", "min")
        for i in range(evals):
            n_fits, p0 = len(timer.fit_s), timer.predict_s
            t0 = time.perf_counter()
            (config,) = searcher.suggest(1)
            times.append(time.perf_counter() - t0)
            if len(timer.fit_s) > n_fits:
                fit_s.append(sum(timer.fit_s[n_fits:]))
                predict_s.append(timer.predict_s - p0)
                model_times.append(times[-1])
            value = problem.evaluate(config)
            values.append(value)
            searcher.observe([Observation(i + 1, config, TrialStatus.COMPLETED, 1.0, {"value": value}, 0.0, (value,))])
    else:
        from benchmarks.bo import optuna_run

        values, times = optuna_run(problem, method, seed, evals)
        model_times = times[min(10, evals) :]  # past TPE's / GPSampler's 10 startup trials
    return {
        "problem": problem_key,
        "name": problem.name,
        "group": GROUPS[problem_key],
        "method": method,
        "seed": seed,
        "evals": evals,
        "values": values,
        "optimum": None if math.isnan(problem.optimum) else problem.optimum,
        "times": times,
        "fit_s": fit_s,
        "predict_s": predict_s,
        "model_times": model_times,
    }
