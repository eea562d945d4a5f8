"""``python -m benchmarks.run cost``: cost-aware search on LCBench (simulated cost); writes ``cost_aware.md``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["add_parser", "cmd_cost", "report", "within", "hv_fraction"]

_RUN_KEY = ("task", "method", "seed", "budget_multiple", "max_trials")
FRACTIONS = (0.25, 0.5, 1.0)


def add_parser(sub: Any, results: Path) -> None:
    from benchmarks.cost_aware import BUDGET_MULTIPLE, MAX_TRIALS
    from benchmarks.run import add_batch_args

    p = sub.add_parser("cost", help="cost-aware search on LCBench with simulated cost: the cost-performance front")
    add_batch_args(p, results)
    p.set_defaults(evals=MAX_TRIALS)  # --evals: the cap on evaluations per run
    p.add_argument("--tasks", nargs="*", help="LCBench task ids, or digits-mlp (the live task; default: the first 4 of benchmarks.lcbench.TASKS)")
    p.add_argument("--methods", nargs="*", help="default: every method of benchmarks.cost_aware.METHODS that can run here")
    p.add_argument("--budget-multiple", type=float, default=BUDGET_MULTIPLE,
                   help="max_cost = this x the mean full-training cost of 50 random configs")


def cmd_cost(args: argparse.Namespace) -> int:
    import os

    from benchmarks.cost_aware import METHODS, available, run_one
    from benchmarks.cost_live import LIVE_TASKS
    from benchmarks.lcbench import TASKS, benchdata_dir
    from benchmarks.run import _machine, run_batch

    tasks = args.tasks or list(TASKS[:4])
    if any(t not in LIVE_TASKS for t in tasks) and not (benchdata_dir() / "yahpo_lcbench" / "model.onnx").exists():
        print(f"LCBench data not found under {benchdata_dir()} (set HPO_BENCHDATA); nothing to run")
        return 0
    # the live task's cost scale is measured once and shared by every run (benchmarks.cost_live)
    os.environ.setdefault("HPO_COST_SCALE_FILE", str(Path(args.out) / "cost_aware_scale.json"))
    Path(args.out).mkdir(parents=True, exist_ok=True)
    for t in tasks:
        if t in LIVE_TASKS:
            from benchmarks.cost_aware import task_scale

            task_scale(t)
    wanted = args.methods or list(METHODS)
    unavailable = {m: why for m in wanted if (why := available(m))}
    for m, why in unavailable.items():
        print(f"skipping {m}: {why}")
    methods = [m for m in wanted if m not in unavailable]
    todo = [
        (t, m, s, args.budget_multiple, args.evals)
        for s in range(args.first_seed, args.seeds)  # seed-major: a cut-short batch leaves equal seeds
        for t in tasks
        for m in methods
    ]
    runs, commands, _ = run_batch(
        args, "cost_aware", todo, run_one, _RUN_KEY,
        lambda r: f"{r['task']} {r['method']} seed {r['seed']}: {len(r['errors'])} evals, best val_error "
                  f"{min(r['errors'], default=float('nan')):.2f}, {r['wall']:.0f} s",
    )
    runs = [r for r in runs if r["budget_multiple"] == args.budget_multiple and r["max_trials"] == args.evals]
    shown = [m for m in METHODS if m in wanted or any(r["method"] == m for r in runs)]  # resumed runs too
    text = report(runs, commands, _machine(), shown, unavailable)
    (Path(args.out) / "cost_aware.md").write_text(text)
    print(text)
    return 0


def within(costs: list[float], budget: float) -> int:
    """How many leading evaluations have a cumulative cost of at most ``budget``."""
    import numpy as np

    return int(np.searchsorted(np.cumsum(costs), budget, side="right")) if costs else 0


def hv_fraction(errors: list[float], costs: list[float], ref: tuple[float, float]) -> float:
    """Hypervolume of the ``(cost, val_error)`` points (both minimized) w.r.t. ``ref = (cost, error)``,
    as a fraction of the box ``[0, ref_cost] x [0, ref_error]`` (1 would be zero cost and zero error)."""
    from hpo.pareto import hypervolume

    if not errors:
        return 0.0
    points = [[c, e] for c, e in zip(costs, errors, strict=True)]
    return hypervolume(points, ref=list(ref), maximize=[False, False]) / (ref[0] * ref[1])


def _cell(values: list[float], digits: int) -> str:
    import numpy as np

    if not values:
        return "-"
    q1, med, q3 = np.percentile(values, [25, 50, 75])
    return f"{med:.{digits}f} [{q1:.{digits}f}, {q3:.{digits}f}]"


LIVE_TEXT = (
    "`benchmarks/cost_live.py`: scikit-learn's MLPClassifier (one hidden layer) on `load_digits`, a fixed stratified "
    "75/25 split; searched: hidden_units Int(8, 256, log), learning_rate Float(1e-4, 1e-1, log), epochs Int(1, 60) "
    "(max_iter, every epoch run); val_error = 100 - validation accuracy; cost = the measured seconds of the fit, one "
    "thread. max_cost = the budget multiple x the mean 60-epoch fit time of 10 random configs, measured once and "
    "kept in `cost_aware_scale.json` for every run; the reference cost is 2 x the slowest of those 10 fits. Measured times "
    "carry the machine's noise (runs of the batch shared 2 cores)."
)


def report(runs: list[dict[str, Any]], commands: list[str], machine: str, methods: list[str],
           unavailable: dict[str, str]) -> str:
    """The markdown report: per task, hypervolume of the cost front and best val_error at 25/50/100% of ``max_cost``."""
    import numpy as np

    from benchmarks import cost_aware as ca
    from benchmarks.lcbench import TASKS

    multiples = sorted({r["budget_multiple"] for r in runs})
    caps = sorted({r["max_trials"] for r in runs})
    pct = " / ".join(f"{f:.0%}" for f in FRACTIONS)
    lines = [
        "# Cost-aware search on LCBench (simulated cost) and a live task: the cost-performance front",
        "",
        *[f"Command: `{c}`  " for c in commands],
        f"Machine: {machine}; every run single-threaded, one evaluation at a time.  ",
        "Task: an LCBench task's space (YAHPO Gym surrogate, `benchmarks/lcbench.py`) plus `epochs` = Int(1, 52), searched. "
        "An evaluation reads the surrogate at `epochs`: val_error = 100 - val accuracy (percent, minimized) and "
        "cost = cumulative training time up to that epoch (simulated seconds, the `cost` metric).  ",
        f"Budget per run: max_cost = {', '.join(f'{m:g}' for m in multiples) or '-'} x the mean 52-epoch cost of "
        f"{ca.N_BUDGET_CONFIGS} uniform random configs (seed {ca.SCALE_SEED}, per task), and at most "
        f"{', '.join(map(str, caps)) or '-'} evaluations; a method stops starting evaluations once its costs sum to max_cost.  ",
        f"Methods: `hpo-logei` = our BOSearcher (LogEI, cost-blind); `hpo-ei-per-cost` = EI / predicted cost; "
        f"`hpo-ei-cool` = CArBO cost cooling over max_cost; `hpo-cfo` = our CFO from {ca.LOW_COST}; `hpo-carbs` = our CARBS "
        "(default centre); `random` = our random searcher (all ours: one objective, val_error, "
        "`Study.optimize(max_cost=...)`); `optuna-nsga2` / `optuna-motpe` = Optuna NSGAIISampler / "
        "TPESampler(multivariate=True) on (val_error, cost), both minimized, ask/tell; `flaml-cfo` = FLAML's CFO "
        f"(`flaml.tune.run`, low_cost_partial_config={ca.LOW_COST}, cost_attr='cost', cost_budget=max_cost).  ",
        f"FLAML: {ca.FLAML_STATUS}",
        "",
    ]
    from benchmarks.run import skipped_lines

    lines += skipped_lines(unavailable, commands)
    lines += [
        f"Cells: median [Q1, Q3] over seeds. At {pct} of max_cost, only the evaluations whose cumulative cost is "
        "within that spend count (the one that crossed max_cost does not). **HV**: hypervolume of those evaluations' "
        "(cost, val_error) points, both minimized, over the fixed reference point of the task (cost "
        f"{ca.REF_COST_FACTOR:g} x the largest 52-epoch cost among {ca.N_REF_CONFIGS} uniform random configs, seed "
        f"{ca.SCALE_SEED}; val_error the worst any run in this table saw on the task), as a fraction of the box "
        "[0, ref cost] x [0, ref val_error]; higher is better. **best**: the lowest val_error among them (percent; a run with "
        "none within the spend counts as the reference val_error, and HV 0). "
        "evals: median number of evaluations within max_cost; capped: runs that stopped at the evaluation cap "
        "before spending max_cost. Our BO methods start with a Sobol design of max(5, d + 1) = 9 configs, so "
        "`hpo-logei`, `hpo-ei-per-cost` and `hpo-ei-cool` agree on a seed's first 9 evaluations.",
        "",
    ]
    for task in sorted({r["task"] for r in runs}, key=lambda t: (TASKS.index(t) if t in TASKS else len(TASKS), t)):
        truns = [r for r in runs if r["task"] == task and r["errors"]]
        if not truns:
            continue
        scale = truns[0]
        ref = (ca.REF_COST_FACTOR * scale["max_full_cost"], max(max(r["errors"]) for r in truns))
        budgets = ", ".join(f"{c:.0f}" for c in sorted({r["max_cost"] for r in truns}))
        from benchmarks.cost_live import LIVE_TASKS

        if task in LIVE_TASKS:
            lines += [f"## Live task {task} (measured seconds)", "", LIVE_TEXT, "",
                      f"Mean 60-epoch fit {scale['mean_full_cost']:.2f} s; max_cost {budgets} s; "
                      f"reference point (cost {ref[0]:.2f} s, val_error {ref[1]:.2f}).", ""]
        else:
            lines += [f"## LCBench task {task}", "",
                      f"Mean 52-epoch cost {scale['mean_full_cost']:.1f} s; max_cost {budgets} s; "
                      f"reference point (cost {ref[0]:.1f} s, val_error {ref[1]:.2f}).", ""]
        lines += ["| method | seeds | evals | capped | " + " | ".join(f"HV @{f:.0%}" for f in FRACTIONS) + " | "
                  + " | ".join(f"best @{f:.0%}" for f in FRACTIONS) + " |",
                  "|---|---|---|---|" + "---|" * (2 * len(FRACTIONS))]
        for m in methods:
            mruns = [r for r in truns if r["method"] == m]
            if not mruns:
                continue
            counts = {f: [within(r["costs"], f * r["max_cost"]) for r in mruns] for f in FRACTIONS}
            hv = [_cell([hv_fraction(r["errors"][:n], r["costs"][:n], ref) for r, n in zip(mruns, counts[f], strict=True)], 4)
                  for f in FRACTIONS]
            best = [_cell([min(r["errors"][:n], default=ref[1]) for r, n in zip(mruns, counts[f], strict=True)], 2)
                    for f in FRACTIONS]
            capped = sum(r["stop"] == "n_trials" for r in mruns)
            lines.append(f"| {m} | {len(mruns)} | {np.median(counts[1.0]):.0f} | {capped} | " + " | ".join(hv + best) + " |")
        lines.append("")
    lines += ["Raw per-run data (val_error, cost and epochs of every evaluation in order): `cost_aware_raw.json.gz`.", ""]
    return "\n".join(lines)
