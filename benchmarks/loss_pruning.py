"""Optuna pruners on *loss* curves: ``LCPFNPruner`` with its range inferred, against ``MedianPruner``.

Most users report a validation loss, not an accuracy in [0, 1]. LC-PFN models curves in
[0, 1]; ``LCPFNPruner()``'s default ``y_range=None`` infers the range from the reports
(:func:`hpo.surrogates.lcpfn.stopping.infer_y_range`; for a loss to minimise, 0 to the
largest first value of a curve). This benchmark checks that default on real loss curves it
was not designed on: the validation cross-entropy of the torch MLP of
:mod:`benchmarks.schedule_task` (cosine and step schedules, 400 recorded runs each,
:data:`benchmarks.schedule_curves.LOSS_POOLS`), replayed as in ``benchmarks.run early``:
100 random configs per study, one report per epoch, minimised.

Methods (Optuna ``RandomSampler(seed)``, the same configs for every method of a seed):
``optuna-nopruner`` (every run to the end), ``optuna-median`` (``MedianPruner(5, 3)``),
``optuna-hyperband`` (``HyperbandPruner(1..27, 3)``), ``optuna-lcpfn`` (``LCPFNPruner(max_step=27)``,
the range inferred), ``optuna-lcpfn-given`` (``y_range=(0, ln 10)``: the cross-entropy of a
uniform guess over 10 classes, the range a user who knows the task would give),
``optuna-lcpfn-before`` (the behaviour before the range was inferred: ``y_range=(0, 1)``, the
old default, with values outside it passed to LC-PFN unclipped, as the rule did then).

Usage::

    python -m benchmarks.run loss-pruning --seeds 10 --out DIR
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["METHODS", "add_parser", "cmd_loss_pruning", "report", "run_one"]

METHODS = ("optuna-nopruner", "optuna-median", "optuna-hyperband", "optuna-lcpfn", "optuna-lcpfn-given", "optuna-lcpfn-before")
GIVEN = (0.0, math.log(10.0))


def run_one(task: str, method: str, seed: int, n_trials: int = 100) -> dict[str, Any]:
    """One study: epochs spent, the best final loss of a run that reached the last epoch, wall seconds."""
    import optuna

    from benchmarks.early_stopping import optuna_study
    from hpo.surrogates.lcpfn.stopping import StoppingRule

    t0 = time.perf_counter()
    y_range = {"optuna-lcpfn-given": GIVEN, "optuna-lcpfn-before": (0.0, 1.0)}.get(method)
    mapped = StoppingRule._mapped
    if method == "optuna-lcpfn-before":  # the rule before this change: nothing clipped
        StoppingRule._mapped = lambda self, curve, low, high: list(curve)  # type: ignore[method-assign]
    try:
        study = optuna_study(task, "optuna-lcpfn" if y_range else method, seed, n_trials, y_range=y_range)
    finally:
        StoppingRule._mapped = mapped  # type: ignore[method-assign]
    complete = [t.value for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE and t.value is not None]
    finite = [v for v in complete if math.isfinite(v)]
    return {
        "task": task, "method": method, "seed": seed,
        "epochs": float(sum(len(t.intermediate_values) for t in study.trials)),
        "best": min(finite) if finite else math.inf,
        "pruned": sum(t.state == optuna.trial.TrialState.PRUNED for t in study.trials),
        "wall": time.perf_counter() - t0,
    }  # fmt: skip


def _q(values: list[float], fmt: str = "{:.3g}") -> str:
    q1, med, q3 = np.percentile(values, [25, 50, 75])
    return f"{fmt.format(med)} [{fmt.format(q1)}, {fmt.format(q3)}]"


def report(runs: list[dict[str, Any]], command: str) -> str:
    """Markdown: epochs and final regret per method and task, and the paired check against MedianPruner."""
    from benchmarks.early_stopping import replay_task

    tasks = sorted({r["task"] for r in runs})
    methods = [m for m in METHODS if any(r["method"] == m for r in runs)]
    by = {(r["task"], r["method"], int(r["seed"])): r for r in runs}
    lines = [
        "# LC-PFN pruning on loss curves (the range inferred)", "",
        "Command:", "", f"    {command}", "",
        "Validation cross-entropy of the torch MLP of `benchmarks.schedule_task` (recorded, 400 runs per schedule; "
        "`benchmarks/data/schedule_curves`), minimised; 100 random configs per study. Regret = best final loss of a "
        "run that reached epoch 27 - the pool's best final loss. Cells: median [Q1, Q3] over seeds.", "",
        "| task | best-known loss | " + " | ".join(methods) + " |",
        "|---|---|" + "---|" * len(methods),
    ]  # fmt: skip
    for task in tasks:
        ref = replay_task(task).best()
        cells = []
        for m in methods:
            rs = [r for r in runs if r["task"] == task and r["method"] == m]
            cells.append(f"{_q([r['epochs'] for r in rs], '{:.0f}')} ep<br>{_q([r['best'] - ref for r in rs])}")
        lines.append(f"| {task} | {ref:.4f} | " + " | ".join(cells) + " |")
    lines += ["", "Paired against `optuna-median`, per seed then median over seeds: epoch ratio, value loss "
              "= (best(LC-PFN) - best(median)) / best(median) in %; **meets** = value loss <= 1 % and ratio <= 0.5 "
              "(medians, as in `early_stopping.md`); seeds > 1 % = seeds whose value loss exceeds 1 %.", "",
              "| pruner | task | epoch ratio | value loss % | seeds > 1 % | meets |", "|---|---|---|---|---|---|"]  # fmt: skip
    for m in ("optuna-lcpfn", "optuna-lcpfn-given", "optuna-lcpfn-before"):
        for task in tasks:
            pairs = [(by[(task, m, s)], by[(task, "optuna-median", s)]) for (t, mm, s) in by if t == task and mm == m
                     and (task, "optuna-median", s) in by]  # fmt: skip
            if not pairs:
                continue
            ratio = [a["epochs"] / b["epochs"] for a, b in pairs]
            loss = [100.0 * (a["best"] - b["best"]) / b["best"] for a, b in pairs]
            meets = float(np.median(loss)) <= 1.0 and float(np.median(ratio)) <= 0.5
            worse = f"{sum(v > 1.0 for v in loss)}/{len(loss)}"
            lines.append(f"| {m} | {task} | {_q(ratio, '{:.2f}')} | {_q(loss, '{:.2f}')} | {worse} | {'yes' if meets else 'no'} |")
    walls = {m: float(np.median([r["wall"] for r in runs if r["method"] == m])) for m in methods}
    lines += ["", "Median wall time per study: " + ", ".join(f"{m} {w:.1f} s" for m, w in walls.items()) + "."]
    return "\n".join(lines) + "\n"


def add_parser(sub: Any, results: Path) -> None:
    p = sub.add_parser("loss-pruning", help="Optuna pruners on recorded loss curves: LCPFNPruner (range inferred) vs MedianPruner")
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--trials", type=int, default=100)
    p.add_argument("--tasks", nargs="*", help="loss pools (default: every one of benchmarks.schedule_curves.LOSS_POOLS)")
    p.add_argument("--methods", nargs="*", default=list(METHODS), choices=METHODS)
    p.add_argument("--out", default=str(results), help="folder for loss_pruning.md and loss_pruning_raw.json")


def cmd_loss_pruning(args: argparse.Namespace) -> int:
    from benchmarks.schedule_curves import LOSS_POOLS

    tasks = args.tasks or sorted(LOSS_POOLS)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    runs = [run_one(t, m, s, args.trials) for t in tasks for s in range(args.seeds) for m in args.methods]
    (out / "loss_pruning_raw.json").write_text(json.dumps(runs, indent=0))
    command = (f"python -m benchmarks.run loss-pruning --seeds {args.seeds} --trials {args.trials} --tasks {' '.join(tasks)} "
               f"--methods {' '.join(args.methods)} --out DIR")  # fmt: skip
    (out / "loss_pruning.md").write_text(report(runs, command))
    print((out / "loss_pruning.md").read_text())
    return 0
