"""Early stopping with LC-PFN on LCBench (replayed in simulated time): epochs spent and final regret.

The same protocol replays the recorded curves of :mod:`benchmarks.schedule_curves`
(tasks ``digits-cosine``, ``digits-step`` and ``trees``: a config is a recorded run, drawn at random).

Protocol (Adriaensen et al., NeurIPS 2023, Section 5): every method of a pair sees the
same sequence of random configs (same seed), so the comparison isolates the stopping
rule. Each run evaluates ``n_trials`` configs on one task; we record the epochs it
consumed and the best final ``val_accuracy`` (percent) of the trials that reached the last epoch
(52 on LCBench).

* ours (simulated executor, 1 worker, so the incumbent forms as in the paper's sequential runs):
  ``hpo-fifo`` (full budget), ``hpo-fifo-lc`` (``LCStopping`` on top of FIFO), both for
  ``n_trials`` configs; ``hpo-asha``, ``hpo-asha-lc`` (LC-PFN deciding within ASHA's
  rungs), both until they consumed ``n_trials * epochs / 4`` epochs (ASHA keeps promoting
  paused trials, so a trial count alone does not bound it);
* Optuna (random sampler, same seed for all three): ``optuna-median`` (MedianPruner),
  ``optuna-hyperband`` (HyperbandPruner), ``optuna-lcpfn`` (our ``LCPFNPruner``).
"""

from __future__ import annotations

import time
from typing import Any

OURS = ("hpo-fifo", "hpo-fifo-lc", "hpo-asha", "hpo-asha-lc")
OPTUNA = ("optuna-median", "optuna-hyperband", "optuna-lcpfn")
METHODS = OURS + OPTUNA
Y_RANGE = (0.0, 100.0)  # LCBench's val_accuracy is in percent, and so are the recorded curves'


def replay_task(task: str) -> Any:
    """An LCBench task id, or a recorded curve pool (``digits-cosine``, ``digits-step``, ``trees``)."""
    from benchmarks.schedule_curves import LOSS_POOLS, POOLS, CurvePool

    if task in POOLS or task in LOSS_POOLS:
        return CurvePool(task)
    from benchmarks.lcbench import LCBench

    return LCBench(task)


def best_known(task: str) -> float:
    """The best-known final value: a pool's best recorded run, or LCBench's best of 20,000 random configs."""
    from benchmarks.schedule_curves import POOLS, CurvePool

    if task in POOLS:
        return CurvePool(task).best()
    from benchmarks.multifidelity import reference_best

    return reference_best(task)


def _ours(task: str, method: str, seed: int, n_trials: int, weights: str | None) -> dict[str, Any]:
    import hpo
    from hpo.budget import Budget
    from hpo.execution.simulated import SimulatedExecutor
    from hpo.schedulers import ASHA, FIFOScheduler, LCStopping
    from hpo.search_spaces import SearchSpace
    from hpo.searchers import RandomSearcher
    from hpo.study import Study
    from hpo.surrogates.lcpfn import LCPFN
    from hpo.trial import TrialStatus

    bench = replay_task(task)
    space = SearchSpace(bench.space())
    epochs = bench.epochs

    def train(config: dict[str, Any], budget: Any) -> dict[str, float]:
        acc, tm = bench.segment(config, budget.start, budget.stop)
        for i, epoch in enumerate(range(budget.start, budget.stop)):
            hpo.report(val_accuracy=acc[i], time=tm[i], step=epoch)
        return {"val_accuracy": acc[-1], "time": tm[-1]}

    searcher = RandomSearcher(space, seed)
    base = ASHA(searcher, eta=3) if "asha" in method else FIFOScheduler(searcher)
    scheduler = base
    if method.endswith("-lc"):
        model = LCPFN.load(weights) if weights else LCPFN.load()
        scheduler = LCStopping(searcher, base=base, y_range=Y_RANGE, model=model)
    study = Study.create(train, space, metric="val_accuracy", mode="max", budget=Budget(1, epochs),
                         scheduler=scheduler, executor=SimulatedExecutor(n_workers=1), seed=seed)  # fmt: skip
    t0 = time.perf_counter()
    if "asha" in method:
        result = study.optimize(max_budget=n_trials * epochs / 4)
    else:
        result = study.optimize(n_trials=n_trials)
    full = [t.value for t in result.trials if t.status is TrialStatus.COMPLETED and t.value is not None]
    return {
        "epochs": float(sum(t.budget for t in result.trials)),
        "best": max(full) if full else float("nan"),
        "wall": time.perf_counter() - t0,
        "stopped": getattr(scheduler, "n_stopped", 0),
    }


def optuna_study(
    task: str, method: str, seed: int, n_trials: int, weights: str | None = None, min_steps: int = 3,
    y_range: tuple[float, float] | None = None,
) -> Any:
    """The Optuna study of one ``optuna-*`` run, optimized: random configs, one report per epoch.

    ``min_steps`` is ``LCPFNPruner``'s (``optuna-lcpfn`` only; :mod:`benchmarks.pruner_steps`
    varies it). Each trial's epochs are its ``intermediate_values``. A task whose
    ``maximize`` is False (a loss pool) is minimised; ``LCPFNPruner`` then infers its range
    (its default ``y_range=None``) unless ``y_range`` is given; ``optuna-nopruner`` prunes nothing.
    """
    import optuna

    from hpo.integrations.optuna import LCPFNPruner
    from hpo.surrogates.lcpfn import LCPFN

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    bench = replay_task(task)
    epochs = bench.epochs
    maximize = getattr(bench, "maximize", True)

    def objective(trial: Any) -> float:
        config = bench.optuna_config(trial)
        acc = 0.0
        for epoch in range(epochs):
            (acc,), _ = bench.segment(config, epoch, epoch + 1)
            trial.report(acc, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return acc

    if method == "optuna-median":
        pruner: Any = optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=3)
    elif method == "optuna-hyperband":
        pruner = optuna.pruners.HyperbandPruner(min_resource=1, max_resource=epochs, reduction_factor=3)
    elif method == "optuna-lcpfn":
        model = LCPFN.load(weights) if weights else LCPFN.load()
        pruner = LCPFNPruner(max_step=epochs, y_range=y_range or (Y_RANGE if maximize else None), model=model,
                             min_steps=min_steps)  # fmt: skip
    elif method == "optuna-nopruner":
        pruner = optuna.pruners.NopPruner()
    else:
        raise ValueError(f"unknown Optuna method {method!r}; choose from {OPTUNA}")
    study = optuna.create_study(direction="maximize" if maximize else "minimize", sampler=optuna.samplers.RandomSampler(seed=seed), pruner=pruner)
    study.optimize(objective, n_trials=n_trials)
    return study


def _optuna(task: str, method: str, seed: int, n_trials: int, weights: str | None) -> dict[str, Any]:
    import optuna

    t0 = time.perf_counter()
    study = optuna_study(task, method, seed, n_trials, weights)
    wall = time.perf_counter() - t0
    complete = [t.value for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    epochs = sum(len(t.intermediate_values) for t in study.trials)
    return {"epochs": float(epochs), "best": max(complete) if complete else float("nan"), "wall": wall}


def run_one(task: str, method: str, seed: int, n_trials: int, weights: str | None = None) -> dict[str, Any]:
    """One run; ``best`` is the best final val_accuracy of the trials that reached the last epoch."""
    fn = _ours if method in OURS else _optuna
    return {"task": task, "method": method, "seed": seed, **fn(task, method, seed, n_trials, weights)}


PAIRS = (  # (with LC-PFN, its baseline, same trial count?) as the issue asks for them
    ("hpo-fifo-lc", "hpo-fifo", True),
    ("hpo-asha-lc", "hpo-asha", False),  # equal epoch budget instead: compare regret only
    ("optuna-lcpfn", "optuna-median", True),
    ("optuna-lcpfn", "optuna-hyperband", True),
)


def report(runs: list[dict[str, Any]], refs: dict[str, float], n_trials: int, commands: list[str], machine: str, weights: str) -> str:
    """Markdown: per task and method, epochs and final regret (median [Q1, Q3] over seeds), and the paired checks.

    A pair "meets" the acceptance rule on a task when, over seeds (paired by seed), the
    median relative loss of final value ``(best_base - best_lc) / best_base`` is at most
    1 % and the median epoch ratio ``epochs_lc / epochs_base`` is at most 0.5.
    """
    import numpy as np

    def q(values: list[float], fmt: str = "{:.3g}") -> str:
        v = np.asarray(values, dtype=float)
        v = v[np.isfinite(v)]
        if not len(v):
            return "n/a"
        q1, med, q3 = np.percentile(v, [25, 50, 75])
        return f"{fmt.format(med)} [{fmt.format(q1)}, {fmt.format(q3)}]"

    tasks = sorted({r["task"] for r in runs}, key=lambda t: (not t.isdigit(), int(t) if t.isdigit() else t))
    best = {t: max([refs[t]] + [r["best"] for r in runs if r["task"] == t and np.isfinite(r["best"])]) for t in tasks}
    by = {(r["task"], r["method"], r["seed"]): r for r in runs}
    methods = [m for m in METHODS if any(r["method"] == m for r in runs)]
    seeds = sorted({r["seed"] for r in runs})
    lcbench = all(t.isdigit() for t in tasks)
    if lcbench:
        title, epochs, ref = "on LCBench (YAHPO surrogate, simulated time)", 52, "the best of 20,000 random configs (seed 12345)"
    else:
        epochs = max(replay_task(t).epochs for t in tasks)
        title = "on recorded curves (`benchmarks.schedule_curves`: the digits MLP with learning-rate schedules, tree ensembles; simulated time)"
        ref = "the best recorded run of the task's pool (every config is in the pool)"
    lines = [
        f"# Early stopping with LC-PFN {title}",
        "",
        "Commands (in this order; a `--resume` run adds its runs to the same raw file):",
        "",
        *[f"    {c}" for c in commands],
        "",
        f"Machine: {machine}. LC-PFN weights: `{weights}`.  ",
        f"Each run evaluates {n_trials} random configs (same seed, same configs within a framework) on one task; "
        f"`hpo-asha`/`hpo-asha-lc` instead run until {n_trials} x {epochs} / 4 epochs (ASHA's promotions make a trial "
        "count meaningless), so that pair compares regret at an equal budget.  ",
        f"Final regret = best-known value - best final ({epochs}-epoch) val_accuracy among the trials that reached "
        f"{epochs} epochs, in accuracy points. Best-known = max of {ref} and every run's best. "
        f"Cells: median [Q1, Q3] over {len(seeds)} seeds. LCStopping/LCPFNPruner: threshold 0.05, min_steps 3 "
        "(earlier where 6+ finished runs' values at that epoch rank-agree with their finals, P(tau > 0) >= 0.95: "
        f"the rank check, on by default), y_range (0, 100); MedianPruner(n_startup_trials=5, n_warmup_steps=3); HyperbandPruner(1..{epochs}, reduction 3).",
        "",
        "## Epochs spent and final regret",
        "",
        "| task | best-known | " + " | ".join(methods) + " |",
        "|---|---|" + "---|" * len(methods),
    ]
    for t in tasks:
        cells = []
        for m in methods:
            rs = [r for r in runs if r["task"] == t and r["method"] == m]
            cells.append(f"{q([r['epochs'] for r in rs], '{:.0f}')} ep<br>{q([best[t] - r['best'] for r in rs])}")
        lines.append(f"| {t} | {best[t]:.2f} | " + " | ".join(cells) + " |")
    lines += ["", "## Paired checks (per seed, then median over seeds)", "",
              "Epoch ratio = epochs(LC-PFN) / epochs(baseline); value loss = (best(baseline) - best(LC-PFN)) / best(baseline); "
              "regret diff = regret(LC-PFN) - regret(baseline) in points. **meets** = value loss <= 1 % and epoch ratio <= 0.5.",
              "", "| pair | task | epoch ratio | value loss % | regret diff | meets |", "|---|---|---|---|---|---|"]
    summary = []
    for lc, base, same_trials in PAIRS:
        if lc not in methods or base not in methods:
            continue
        n_meet = better = worse = fewer = 0
        for t in tasks:
            pairs = [(by[(t, lc, s)], by[(t, base, s)]) for s in seeds if (t, lc, s) in by and (t, base, s) in by]
            ratio = [a["epochs"] / b["epochs"] for a, b in pairs]
            loss = [100 * (b["best"] - a["best"]) / b["best"] for a, b in pairs]
            diff = [b["best"] - a["best"] for a, b in pairs]
            meets = bool(pairs) and np.nanmedian(loss) <= 1.0 and np.median(ratio) <= 0.5
            n_meet += meets
            verdict = ("yes" if meets else "no") if same_trials else "(equal budget)"
            lines.append(f"| {lc} vs {base} | {t} | {q(ratio, '{:.2f}')} | {q(loss, '{:.2f}')} | {q(diff)} | {verdict} |")
            better += bool(pairs) and float(np.median(diff)) < 0
            fewer += bool(pairs) and float(np.median(ratio)) < 1
            worse += bool(pairs) and float(np.median(diff)) > 0
        if same_trials:
            summary.append(f"- **{lc} vs {base}:** meets on {n_meet} of {len(tasks)} tasks; fewer epochs (median ratio < 1) "
                           f"on {fewer}, median regret no worse on {len(tasks) - worse} of {len(tasks)}.")
        else:
            summary.append(f"- **{lc} vs {base}** (equal epochs): median regret lower on {better}, higher on {worse}, "
                           f"equal on {len(tasks) - better - worse} of {len(tasks)} tasks.")
    walls = [f"{m} {np.median([r['wall'] for r in runs if r['method'] == m]):.1f} s" for m in methods]
    stops = [f"{m} {np.median([r['stopped'] for r in runs if r['method'] == m]):.0f}" for m in methods if m.endswith("-lc")]
    lines += ["", "## Summary", "", *summary, "",
              "Median wall time per run (replay + scheduler + LC-PFN inference, 1 thread): " + ", ".join(walls) + ".  ",
              "Median trials stopped by LC-PFN per run: " + ", ".join(stops) + ".", ""]
    return "\n".join(lines)
