"""The ``hpo`` command: run, resume, status and best, all on one storage file.

    hpo run train.py:train --space space.yaml --trials 50 --workers 2 --storage study.db
    hpo status study.db
    hpo best study.db
    hpo resume study.db
    hpo report study.db -o report.html   # plots and a table, one self-contained HTML page
    hpo reevaluate study.db --seeds 10   # the best configs on held-out seeds

On a Ray cluster (``ray start --head`` here, ``ray start --address=HEAD:6379`` on each
worker machine):

    hpo run train.py:train --executor ray --address auto --gpus-per-trial 0.5 --trials 200
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Sequence
from typing import Any

from hpo.errors import HPOError

__all__ = ["main"]


def _add_run_options(p: argparse.ArgumentParser, resume: bool) -> None:
    p.add_argument("--trials", type=int, default=None, help="total number of trials of the study")
    p.add_argument(
        "--workers", type=int, default=None, help="trials running at once (local: 1 by default; ray: a cap)"
    )
    p.add_argument("--executor", default=None, help="local (processes, default), inprocess (threads), ray")
    p.add_argument("--scheduler", default=None, help="fifo (default), asha, async_hyperband, hyperband, sh, pbt, lcstopping, rising_bandits" + (" (default: stored)" if resume else ""))
    p.add_argument("--searcher", default=None, help="bo (default: GP BO after a Sobol design), bo-ts, random, sobol, cfo or carbs")
    ray = p.add_argument_group("ray executor")
    ray.add_argument("--address", default=None, help="Ray cluster: auto, HOST:PORT or ray://HOST:10001 (default: local)")
    ray.add_argument("--gpus-per-trial", type=float, default=None, help="GPUs per trial (fractions allowed)")
    ray.add_argument("--cpus-per-trial", type=float, default=None, help="CPUs per trial (default 1)")
    ray.add_argument("--max-retries", type=int, default=None, help="retries of a trial whose worker died (2)")
    p.add_argument("--timeout", type=float, default=None, help="wall-time budget in seconds")
    p.add_argument("--max-budget", type=float, default=None, help="total budget (e.g. epochs) over all trials")
    p.add_argument("--max-cost", type=float, default=None,
                   help="total cost over all trials: reported 'cost' metrics, else seconds of worker time")
    p.add_argument("--trial-timeout", type=float, default=None, help="seconds one trial may run before it is killed")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("-v", "--verbose", action="store_true", help="log every trial")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hpo", description="hyperbandit: hyperparameter optimization")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run a study of FILE_OR_MODULE:FUNCTION")
    run.add_argument("target", help="path/to/train.py:function or package.module:function")
    run.add_argument("--space", help="YAML or JSON search space (optional if the function uses @hpo.tune)")
    run.add_argument("--storage", default="study.db", help="SQLite file (default: study.db)")
    run.add_argument(
        "--metric", default=None,
        help="metric to optimize, or several separated by commas (default: from @tune, else 'loss')",
    )
    run.add_argument("--mode", default=None, help="min or max, or one per metric separated by commas")
    run.add_argument("--surrogate", default=None, help="surrogate of the BO searcher: gp (default), dkl, ensemble, hmc, ibnn, forest or auto")
    run.add_argument("--budget-min", type=float, default=None, help="smallest fidelity budget")
    run.add_argument("--budget-max", type=float, default=None, help="full fidelity budget (e.g. epochs)")
    run.add_argument("--seed", type=int, default=None)
    run.add_argument("--name", default=None, help="study name (default: the function's name)")
    _add_run_options(run, resume=False)

    resume = sub.add_parser("resume", help="continue a stored study")
    resume.add_argument("storage")
    _add_run_options(resume, resume=True)

    status = sub.add_parser("status", help="trial counts by state, incumbent, elapsed, running trials")
    status.add_argument("storage")
    status.add_argument("--json", action="store_true", help="machine-readable output")

    best = sub.add_parser("best", help="print the incumbent's config as JSON (the Pareto front for several objectives)")
    best.add_argument("storage")
    best.add_argument("--with-value", action="store_true", help="print {config, value, trial_id}")
    best.add_argument("--front", nargs="?", const="cost", default=None, metavar="COST",
                      help="print the cost-performance Pareto front (cost: a reported metric, default "
                           "'cost': a reported cost, else seconds)")
    from hpo.viz._cli import add_parser as add_report_parser

    add_report_parser(sub)  # `hpo report` lives in hpo/viz/_cli.py
    from hpo import _cli_reevaluate

    _cli_reevaluate.add_parser(sub)  # `hpo reevaluate` lives in hpo/_cli_reevaluate.py
    return parser


def _run_study(study: Any, args: argparse.Namespace, n_trials: int | None) -> int:
    from hpo._progress import ProgressBar

    if n_trials is None and args.timeout is None and args.max_budget is None and args.max_cost is None:
        raise HPOError("give a stopping rule: --trials, --timeout, --max-budget or --max-cost")
    callbacks: list[Any] = []
    progress = None if args.no_progress else ProgressBar(total=n_trials)
    try:
        if progress is not None:
            callbacks.append(progress)
            with progress.attach(study):
                result = study.optimize(n_trials, timeout=args.timeout, max_budget=args.max_budget, max_cost=args.max_cost,
                                        callbacks=callbacks)
        else:
            result = study.optimize(n_trials, timeout=args.timeout, max_budget=args.max_budget, max_cost=args.max_cost,
                                        callbacks=callbacks)
    finally:
        study.close()
    counts = ", ".join(f"{k.lower()} {v}" for k, v in sorted(result.counts().items()))
    print(f"study {study.name!r} stopped ({result.stop_reason}): {counts}")
    if len(result.metrics) > 1:
        _print_front(result)
    elif result.incumbent is not None:
        inc = result.incumbent
        print(f"incumbent: trial {inc.trial_id}, {result.metric}={inc.value:.6g}")
        print(json.dumps(dict(inc.config), sort_keys=True))
    print(f"storage: {result.storage}")
    return 130 if result.stop_reason == "interrupted" else 0


def _cmd_run(args: argparse.Namespace) -> int:
    from hpo._objective import load_objective
    from hpo.budget import Budget
    from hpo.search_spaces import load_space
    from hpo.study import Study
    from hpo.tune import TunedFunction

    fn = load_objective(args.target)
    settings = fn.settings if isinstance(fn, TunedFunction) else None
    if args.space:
        space = load_space(args.space)
    elif settings is not None:
        space = settings.space
    else:
        raise HPOError(f"{args.target} is not decorated with @hpo.tune; pass --space space.yaml")
    budget = settings.budget if settings else Budget(1, 1)
    if args.budget_min is not None or args.budget_max is not None:
        hi = args.budget_max if args.budget_max is not None else budget.max
        budget = Budget(args.budget_min if args.budget_min is not None else min(budget.min, hi), hi)
    metric: Any = args.metric.split(",") if args.metric else (settings.metric if settings else "loss")
    mode: Any = args.mode.split(",") if args.mode else (settings.mode if settings else "min")
    if isinstance(metric, list) and len(metric) == 1:
        metric = metric[0]
    if isinstance(mode, list) and len(mode) == 1:
        mode = mode[0]
    study = Study.create(
        fn,
        space,
        metric=metric,
        mode=mode,
        budget=budget,
        storage=args.storage,
        name=args.name or (settings.name if settings else None),
        scheduler=args.scheduler or (settings.scheduler if settings else "fifo"),
        searcher=args.searcher or (settings.searcher if settings else "bo"),
        surrogate=args.surrogate or (settings.surrogate if settings else None),
        executor=args.executor or "local",
        workers=args.workers,
        trial_timeout=args.trial_timeout,
        seed=args.seed,
        load_if_exists=True,
        executor_options=_executor_options(args, args.executor or "local", settings.resources if settings else None),
    )
    return _run_study(study, args, args.trials)


def _executor_options(args: argparse.Namespace, executor: str | None, resources: Any = None) -> dict[str, Any]:
    """``--address``/``--gpus-per-trial``/... as executor options (only the Ray executor takes them)."""
    flags = {
        "--address": args.address,
        "--max-retries": args.max_retries,
        "--gpus-per-trial": args.gpus_per_trial,
        "--cpus-per-trial": args.cpus_per_trial,
    }
    if executor != "ray":
        given = [flag for flag, value in flags.items() if value is not None]
        if given:
            raise HPOError(f"{', '.join(given)} need --executor ray")
        return {}
    options: dict[str, Any] = {}
    if args.address is not None:
        options["address"] = args.address
    if args.max_retries is not None:
        options["max_retries"] = args.max_retries
    if args.gpus_per_trial is not None or args.cpus_per_trial is not None:
        options["resources"] = {
            "cpu": 1.0 if args.cpus_per_trial is None else args.cpus_per_trial,
            "gpu": args.gpus_per_trial or 0.0,
        }
    elif resources is not None:
        options["resources"] = resources  # from @hpo.tune(resources=...)
    return options


def _cmd_resume(args: argparse.Namespace) -> int:
    from hpo.study import Study

    spec = _read_spec(args.storage)
    stored = spec.settings
    executor = args.executor or stored.get("executor", "local")
    # A study file names code that resuming imports: say which, before anything is imported.
    overridden = {"scheduler": args.scheduler, "searcher": args.searcher}
    for what, ref in [("objective", spec.objective), *_stored_classes(stored, overridden)]:
        if ref is not None:
            print(f"hpo resume: importing {what} {ref!r} named in the study file {args.storage!r} "
                  "(resume only study files you trust)", file=sys.stderr)
    study = Study.load(
        args.storage,
        scheduler=args.scheduler,
        searcher=args.searcher,
        executor=args.executor,
        workers=args.workers,
        trial_timeout=args.trial_timeout,
        executor_options=_executor_options(args, executor),
    )
    n_trials = args.trials if args.trials is not None else study.spec.settings.get("n_trials")
    return _run_study(study, args, n_trials)


def _stored_classes(settings: Any, overridden: dict[str, Any]) -> list[tuple[str, str]]:
    """``(kind, "module:Class")`` of every plugin class outside ``hpo`` that the settings name."""
    found: list[tuple[str, str]] = []

    def visit(kind: str, value: Any) -> None:
        if isinstance(value, dict):
            ref = value.get("class")
            if isinstance(ref, str) and not ref.startswith("hpo."):
                found.append((f"{kind} class", ref))
            params = value.get("params")
            for name, nested in params.items() if isinstance(params, dict) else ():
                visit(name, nested)

    for kind in ("scheduler", "searcher", "surrogate"):
        if overridden.get(kind) is None:
            visit(kind, settings.get(kind))
    return found


def _read_spec(storage: str) -> Any:
    """The stored study's spec (read-only, no lock)."""
    from hpo.storage import open_storage

    store = open_storage(storage, readonly=True)
    try:
        spec = store.load_study()
        if spec is None:
            raise HPOError(f"{storage!r} holds no study")
        return spec
    finally:
        store.close()


def _print_front(result: Any, cost: str | None = None) -> None:
    """A Pareto front, one JSON line per trial: over every objective, or the first one against ``cost``."""
    front = result.pareto_front(cost=cost)
    metrics, modes = (result.metrics, result.modes) if cost is None else (result.metrics[:1], (result.modes[0],))
    names = ", ".join(f"{m} ({d})" for m, d in zip(metrics, modes, strict=True))
    if cost is not None:
        names += f", {cost} (min)"
    print(f"pareto front over {names}: {len(front)} trial(s)")
    if cost is not None:  # cheapest first
        front = sorted(front, key=lambda t: t.cost_used if cost == "cost" else t.metrics.get(cost))
    for t in front:
        values = {m: t.metrics.get(m) for m in metrics}
        if cost is not None:
            values[cost] = t.cost_used if cost == "cost" else t.metrics.get(cost)
        print(json.dumps({"trial_id": t.trial_id, "values": values, "config": dict(t.config)}, sort_keys=True))


def _cmd_status(args: argparse.Namespace) -> int:
    from hpo.result import load_study
    from hpo.trial import TrialStatus

    result = load_study(args.storage, reports=False)  # status shows no reports: not read
    spec, trials = _read_spec(args.storage), result.trials
    counts = result.counts()
    best = result.incumbent
    starts = [t.started_at for t in trials if t.started_at]
    ends = [t.finished_at or time.time() for t in trials if t.started_at]
    elapsed = (max(ends) - min(starts)) if starts else 0.0
    running = [t for t in trials if t.status is TrialStatus.RUNNING]
    several = len(result.metrics) > 1
    if args.json:
        out = {
            "study": spec.name,
            "metric": spec.metric,
            "mode": spec.mode,
            "counts": counts,
            "n_trials": spec.settings.get("n_trials"),
            "elapsed_s": elapsed,
            "incumbent": None if best is None else {"trial_id": best.trial_id, "value": best.value, "config": best.config},
            "running": [{"trial_id": t.trial_id, "worker": t.worker} for t in running],
        }
        if several:
            out["pareto_front"] = [t.trial_id for t in result.pareto_front()]
        print(json.dumps(out, sort_keys=True))
        return 0
    objectives = ", ".join(f"{m} {d}" for m, d in zip(result.metrics, result.modes, strict=True))
    print(f"study: {spec.name}  ({objectives})  target trials: {spec.settings.get('n_trials')}")
    print("trials: " + (", ".join(f"{k.lower()} {v}" for k, v in sorted(counts.items())) or "none"))
    print(f"elapsed: {elapsed:.1f} s")
    if several:
        print(f"pareto front: {len(result.pareto_front())} trial(s) (`hpo best` lists them)")
    elif best is not None:
        print(f"incumbent: trial {best.trial_id}, {spec.metric}={best.value:.6g}, config {json.dumps(dict(best.config), sort_keys=True)}")
    else:
        print("incumbent: none yet")
    for t in running:
        print(f"running: trial {t.trial_id} on {t.worker or 'unknown worker'}")
    return 0


def _cmd_best(args: argparse.Namespace) -> int:
    from hpo.result import load_study

    result = load_study(args.storage)
    if len(result.metrics) > 1 or args.front:
        if not result.pareto_front(cost=args.front):
            print(f"no completed trial in {args.storage!r}", file=sys.stderr)
            return 1
        _print_front(result, args.front)
        return 0
    best = result.incumbent
    if best is None:
        print(f"no completed trial in {args.storage!r}", file=sys.stderr)
        return 1
    if args.with_value:
        print(json.dumps({"trial_id": best.trial_id, "value": best.value, "config": dict(best.config)}, sort_keys=True))
    else:
        print(json.dumps(dict(best.config), sort_keys=True))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if getattr(args, "verbose", False) else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    commands = {"run": _cmd_run, "resume": _cmd_resume, "status": _cmd_status, "best": _cmd_best}
    from hpo.viz._cli import cmd as report_cmd

    commands["report"] = report_cmd
    from hpo._cli_reevaluate import cmd as reevaluate_cmd

    commands["reevaluate"] = reevaluate_cmd
    try:
        return commands[args.command](args)
    except HPOError as exc:
        print(f"hpo {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
