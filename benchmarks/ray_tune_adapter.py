"""Ray Tune with ``HPOSearch`` against Ray Tune's default search, at equal trials.

    PYTHONPATH=. .venv/bin/python -m benchmarks.ray_tune_adapter --seeds 5 --trials 30
    PYTHONPATH=. .venv/bin/python -m benchmarks.run ray-tune-adapter --seeds 5 --trials 30   # the same

Both methods run the same real ``ray.tune.Tuner`` on one local Ray instance (2 CPUs),
with the same ``param_space``, ``num_samples``, at most 2 trials at a time, and the same
seeds; only ``search_alg`` differs:

* ``hpo-bo``: ``HPOSearch(seed=seed)``: our BO, default settings (GP surrogate, Sobol
  design of ``max(5, d + 1)`` points, LogEI; qLogNEI with the running trial as a pending
  point), the ``param_space`` converted by the adapter;
* ``ray-random``: ``BasicVariantGenerator(random_state=seed, max_concurrent=2)``, what a
  ``Tuner`` uses when no ``search_alg`` is given (random sampling of the ``param_space``).

Problems (:data:`PROBLEMS`):

* ``lcbench-<task>``: the YAHPO LCBench surrogate (:mod:`benchmarks.lcbench`), validation
  accuracy (%) at epoch 52 of an MLP with 7 hyperparameters, maximized; the space is
  ``LCBench.tune_domains`` (``lograndint``, ``loguniform``, ``uniform``, ``randint``).
  Regret is taken against the best of 20,000 random configs
  (:func:`benchmarks.multifidelity.reference_best`).
* ``breast_cancer-hgb``: live training: scikit-learn's ``HistGradientBoostingClassifier``
  on ``breast_cancer``, 4 hyperparameters, 5-fold CV accuracy
  (:class:`benchmarks.cash.CashProblem`'s ``hgb`` learner; the ``learner`` key is a
  constant of the ``param_space``).

"Best @k" is the best value among the first ``k`` trials to finish. Results go to
``benchmarks/results/ray_tune_adapter.md`` (raw runs in ``ray_tune_adapter_raw.json``),
the command to ``ray_tune_adapter_commands.txt``.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

__all__ = ["METHODS", "PROBLEMS", "add_parser", "cmd_ray_tune_adapter", "run_one"]

METHODS = ("hpo-bo", "ray-random")
PROBLEMS = ("lcbench-7593", "lcbench-126025", "breast_cancer-hgb")
RESULTS = Path(__file__).resolve().parent / "results"
_STEM = "ray_tune_adapter"

_CACHE: dict[str, Any] = {}  # one task object per Ray worker process (reused actors keep it)


def param_space(problem: str) -> dict[str, Any]:
    """The Ray Tune ``param_space`` of ``problem``."""
    from ray import tune

    if problem.startswith("lcbench-"):
        from benchmarks.lcbench import LCBench

        return LCBench.tune_domains(tune)
    if problem == "breast_cancer-hgb":
        return {
            "learner": "hgb",
            "hgb_learning_rate": tune.loguniform(1e-3, 0.5),
            "hgb_max_iter": tune.randint(20, 201),
            "hgb_max_leaf_nodes": tune.randint(4, 65),
            "hgb_l2": tune.loguniform(1e-6, 1.0),
        }
    raise ValueError(f"unknown problem {problem!r}; choose from {PROBLEMS}")


def evaluate(problem: str, config: dict[str, Any]) -> float:
    """The score of ``config`` (maximized), with the task object cached in this process."""
    if problem not in _CACHE:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
        if problem.startswith("lcbench-"):
            from benchmarks.lcbench import LCBench

            _CACHE[problem] = LCBench(problem.split("-", 1)[1])
        else:
            from benchmarks.cash import CashProblem

            _CACHE[problem] = CashProblem(problem.split("-", 1)[0])
    task = _CACHE[problem]
    if problem.startswith("lcbench-"):
        acc, _ = task.evaluate([config], [52])
        return float(acc[0, 0])
    return task.evaluate(config)


def run_one(problem: str, method: str, seed: int, trials: int) -> dict[str, Any]:
    """One Tuner run; the scores in the order the trials finished, and the wall time."""
    from ray import tune
    from ray.tune.search import BasicVariantGenerator

    from hpo.integrations.ray_tune import HPOSearch

    def trainable(config: dict[str, Any]) -> None:
        from benchmarks.ray_tune_adapter import evaluate

        tune.report({"score": evaluate(problem, config), "finished_at": time.time()})

    if method == "hpo-bo":
        search_alg: Any = HPOSearch(seed=seed)
        limit: int | None = 2
    elif method == "ray-random":
        search_alg, limit = BasicVariantGenerator(random_state=seed, max_concurrent=2), None
    else:
        raise ValueError(f"unknown method {method!r}; choose from {METHODS}")
    with tempfile.TemporaryDirectory() as folder:
        tuner = tune.Tuner(
            trainable,
            param_space=param_space(problem),
            tune_config=tune.TuneConfig(metric="score", mode="max", num_samples=trials, search_alg=search_alg,
                                        max_concurrent_trials=limit, reuse_actors=True),  # fmt: skip
            run_config=tune.RunConfig(storage_path=folder, name=f"{method}_{seed}", verbose=0, log_to_file=False),
        )
        start = time.perf_counter()
        results = tuner.fit()
        wall = time.perf_counter() - start
    done = sorted((r.metrics["finished_at"], r.metrics["score"]) for r in results if r.error is None and r.metrics)
    return {"problem": problem, "method": method, "seed": seed, "trials": trials, "scores": [s for _, s in done],
            "errors": sum(r.error is not None for r in results), "wall": wall}  # fmt: skip


def _quartiles(values: list[float], scale: float = 1.0) -> str:
    import numpy as np

    q1, med, q3 = scale * np.percentile(values, [25, 50, 75])
    return f"{med:.2f} [{q1:.2f}, {q3:.2f}]"


def report(runs: list[dict[str, Any]], commands: list[str], machine: str) -> str:
    """The markdown table: best @k (median [Q1, Q3] over seeds) per problem and method."""
    import numpy as np

    trials = max(r["trials"] for r in runs)
    marks = sorted({k for k in (10, 20, trials) if k <= trials})
    lines = ["# Ray Tune: `HPOSearch` vs Ray Tune's default random search, equal trials", "",
             "Commands:", "", *[f"    {c}" for c in commands], "",
             f"Machine: {machine}; one local Ray instance (`num_cpus=2`), at most 2 trials at a time, "
             "`reuse_actors=True`.  ",
             "Cells: median [Q1, Q3] over seeds of the best score among the first k trials to finish "
             "(higher is better); regret = reference best - best @"
             f"{trials}; wall = seconds per `Tuner.fit`.", ""]  # fmt: skip
    for problem in sorted({r["problem"] for r in runs}):
        pruns = [r for r in runs if r["problem"] == problem]
        ref = _reference(problem)
        seeds = sorted({r["seed"] for r in pruns})
        lcbench = problem.startswith("lcbench")
        unit = "validation accuracy (%) at epoch 52" if lcbench else "5-fold CV accuracy (%)"
        scale = 1.0 if lcbench else 100.0  # CV accuracy is a fraction
        lines += [f"## {problem}: {unit}, {len(seeds)} seeds", ""]
        if ref is not None:
            lines += [f"Reference best (20,000 random configs): {ref:.2f}; a negative regret is a config better than that.", ""]
        head = ["method", *[f"best @{k}" for k in marks], *(["regret @" + str(trials)] if ref is not None else []),
                "wall (s)", "failed trials"]  # fmt: skip
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for method in METHODS:
            mruns = [r for r in pruns if r["method"] == method]
            if not mruns:
                continue
            cells = [_quartiles([max(r["scores"][:k]) for r in mruns], scale) for k in marks]
            if ref is not None:
                cells.append(_quartiles([ref - max(r["scores"]) for r in mruns]))
            cells += [f"{np.median([r['wall'] for r in mruns]):.0f}", str(sum(r["errors"] for r in mruns))]
            lines.append(f"| `{method}` | " + " | ".join(cells) + " |")
        wins = sum(max(a["scores"]) > max(b["scores"]) for a in pruns for b in pruns
                   if a["method"] == "hpo-bo" and b["method"] == "ray-random" and a["seed"] == b["seed"])  # fmt: skip
        ties = sum(max(a["scores"]) == max(b["scores"]) for a in pruns for b in pruns
                   if a["method"] == "hpo-bo" and b["method"] == "ray-random" and a["seed"] == b["seed"])  # fmt: skip
        lines += ["", f"Paired by seed, `hpo-bo` ended higher on {wins} of {len(seeds)} seeds ({ties} tied).", ""]
    return "\n".join(lines)


def _reference(problem: str) -> float | None:
    if not problem.startswith("lcbench-"):
        return None
    from benchmarks.multifidelity import reference_best

    return reference_best(problem.split("-", 1)[1])


def add_parser(sub: Any, results: Path = RESULTS) -> argparse.ArgumentParser:
    p = sub.add_parser("ray-tune-adapter", help="Ray Tune Tuner: HPOSearch vs Ray's default random search")
    _arguments(p, results)
    return p


def _arguments(p: argparse.ArgumentParser, results: Path) -> None:
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--trials", type=int, default=30)
    p.add_argument("--problems", nargs="*", default=["lcbench-7593", "breast_cancer-hgb"],
                   help=f"any of {PROBLEMS}")
    p.add_argument("--methods", nargs="*", default=list(METHODS))
    p.add_argument("--resume", action="store_true", help="keep the runs already in the raw file")
    p.add_argument("--out", default=str(results))


def cmd_ray_tune_adapter(args: argparse.Namespace) -> int:
    import ray

    from benchmarks.run import _machine

    warnings.simplefilter("ignore")
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    raw_path = out / f"{_STEM}_raw.json"
    runs: list[dict[str, Any]] = json.loads(raw_path.read_text()) if args.resume and raw_path.exists() else []
    done = {(r["problem"], r["method"], r["seed"], r["trials"]) for r in runs}
    todo = [(p, m, s, args.trials) for p in args.problems for s in range(args.seeds) for m in args.methods]
    todo = [t for t in todo if t not in done]
    ray.init(num_cpus=2, include_dashboard=False, configure_logging=False, log_to_driver=False)
    start = time.time()
    try:
        for i, task in enumerate(todo):
            r = run_one(*task)
            runs.append(r)
            raw_path.write_text(json.dumps(runs, indent=0))
            print(f"[{i + 1}/{len(todo)}] {r['problem']} {r['method']} seed {r['seed']}: best {max(r['scores']):.2f}, "
                  f"{r['wall']:.0f} s", flush=True)  # fmt: skip
    finally:
        ray.shutdown()
    log = out / f"{_STEM}_commands.txt"
    commands = log.read_text().splitlines() if log.exists() and args.resume else []
    if todo or not commands:
        commands.append(f"PYTHONPATH=. {_command()}   # {len(todo)} runs, {(time.time() - start) / 60:.1f} min")
        log.write_text("\n".join(commands) + "\n")
    text = report(runs, commands, _machine())
    (out / f"{_STEM}.md").write_text(text + "\n")
    print(text)
    return 0


def _command() -> str:
    import shlex
    import sys

    run = Path(sys.argv[0]).stem == "run"  # python -m benchmarks.run ray-tune-adapter ...
    return f"python -m benchmarks.{'run' if run else 'ray_tune_adapter'} " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ray_tune_adapter")
    _arguments(parser, RESULTS)
    return cmd_ray_tune_adapter(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
