"""``python -m benchmarks.run surrogates``: run the surrogate study and write its table and plot."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["add_parser", "cmd_surrogates", "report"]

_RUN_KEY = ("problem", "method", "seed", "evals")


def add_parser(sub: Any, results: Path) -> None:
    from benchmarks.run import add_batch_args

    p = sub.add_parser("surrogates", help="the same BO loop with every surrogate, beside Optuna TPE and GPSampler")
    add_batch_args(p, results)
    p.add_argument("--problems", nargs="*", help="problem keys (default: all of benchmarks.surrogates.GROUPS)")
    p.add_argument("--methods", nargs="*", help="hpo-<surrogate> and optuna-tpe / optuna-gp (default: all)")


def cmd_surrogates(args: argparse.Namespace) -> int:
    from benchmarks.run import _machine, run_batch
    from benchmarks.surrogates import GROUPS, methods, run_one

    keys = args.problems or list(GROUPS)
    names = args.methods or methods()
    tasks = [
        (p, m, s, args.evals)
        for s in range(args.first_seed, args.seeds)  # seed-major: a cut-short batch leaves equal seeds
        for p in keys
        for m in names
    ]
    runs, commands, _ = run_batch(args, "surrogates", tasks, run_one, _RUN_KEY,
                                  lambda r: f"{r['problem']} {r['method']} seed {r['seed']}: best {min(r['values']):.4g}")
    out = Path(args.out)
    text = report(runs, commands, _machine(), args.evals)
    (out / "surrogates.md").write_text(text)
    _plot(runs, out / "surrogates_regret.png", args.evals)
    print(text)
    return 0


def _regrets(runs: list[dict[str, Any]], evals: int) -> dict[int, list[float]]:
    """Run index -> regret curve: against the optimum, or the best value any run found."""
    import numpy as np

    best_any: dict[str, float] = {}
    for r in runs:
        best_any[r["problem"]] = min(best_any.get(r["problem"], np.inf), min(r["values"]))
    out = {}
    for i, r in enumerate(runs):
        ref = r["optimum"] if r["optimum"] is not None else best_any[r["problem"]]
        out[i] = list(np.minimum.accumulate(np.asarray(r["values"][:evals])) - ref)
    return out


def report(runs: list[dict[str, Any]], commands: list[str], machine: str, evals: int) -> str:
    """Median regret [Q1, Q3] at ``evals`` per problem and method, seconds, and the GP comparison."""
    import numpy as np

    from benchmarks.run import _fmt, _quartiles
    from benchmarks.surrogates import GROUPS

    runs = [r for r in runs if len(r["values"]) >= evals]
    regrets = _regrets(runs, evals)
    keys = [k for k in GROUPS if any(r["problem"] == k for r in runs)]
    names = sorted({r["method"] for r in runs}, key=lambda m: (not m.startswith("hpo-"), m))
    seeds = sorted({r["seed"] for r in runs})
    lines = [
        "# Surrogate study: the same BO loop with every surrogate",
        "",
        "After Li, Rudner & Wilson, ICLR 2024. `hpo-<name>` = `BOSearcher(surrogate=<name>)`: Sobol design of max(5, d+1), "
        "then LogEI; only the surrogate differs. Optuna TPE (multivariate) and GPSampler run beside it. "
        "Regret = best value so far - optimum (or - the best value any run found, for LCBench and the live problem). "
        "Cells: median [Q1, Q3] over seeds.",
        "",
        f"Machine: {machine}; every run single-threaded.  ",
        f"Seeds: {len(seeds)} ({', '.join(map(str, seeds))}); evaluations: {evals}.  ",
        "Commands:",
        "",
        *[f"    {c}" for c in commands],
        "",
        f"## Median regret @{evals}",
        "",
        "| problem | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    med: dict[tuple[str, str], float] = {}
    for k in keys:
        cells = []
        for m in names:
            idx = [i for i, r in enumerate(runs) if r["problem"] == k and r["method"] == m]
            if not idx:
                cells.append("-")
                continue
            q = _quartiles([regrets[i][-1] for i in idx])
            med[(k, m)] = q[0]
            cells.append(f"{_fmt(q[0])} [{_fmt(q[1])}, {_fmt(q[2])}] (n={len(idx)})")
        name = next(r["name"] for r in runs if r["problem"] == k)
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", "## Seconds per model-based suggestion (median over runs of each run's median)", "",
              "| method | fit | predict (all calls of one acquisition optimization) | whole model-based suggestion |", "|---|---|---|---|"]
    for m in names:
        mr = [r for r in runs if r["method"] == m]
        fit = [float(np.median(r["fit_s"])) for r in mr if r["fit_s"]]
        pred = [float(np.median(r["predict_s"])) for r in mr if r["predict_s"]]
        whole = [float(np.median(r["model_times"])) for r in mr if r.get("model_times")]
        cell = lambda v: f"{np.median(v):.3f}" if v else "-"  # noqa: E731
        lines.append(f"| {m} | {cell(fit)} | {cell(pred)} | {cell(whole)} |")
    # group-level comparison with the GP, as the acceptance counts it
    groups = sorted({GROUPS[k] for k in keys}, key=list(dict.fromkeys(GROUPS.values())).index)
    lines += ["", f"## Against the GP, per problem group (median regret @{evals}; LCBench: the median over its tasks' medians)", ""]
    for m in names:
        if m == "hpo-gp" or not m.startswith("hpo-"):
            continue
        better = worse = ties = 0
        for g in groups:
            ks = [k for k in keys if GROUPS[k] == g and (k, m) in med and (k, "hpo-gp") in med]
            if not ks:
                continue
            a = float(np.median([med[(k, m)] for k in ks]))
            b = float(np.median([med[(k, "hpo-gp")] for k in ks]))
            if a < b * (1 - 1e-9):
                better += 1
            elif a > b * (1 + 1e-9):
                worse += 1
            else:
                ties += 1
        lines.append(f"- {m}: better than the GP on {better}, worse on {worse}, equal on {ties} of {better + worse + ties} groups.")
    lines += ["", "Raw runs: `surrogates_raw.json.gz`; plot: `surrogates_regret.png`.", ""]
    return "\n".join(lines)


def _plot(runs: list[dict[str, Any]], path: Path, evals: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from benchmarks.surrogates import GROUPS

    runs = [r for r in runs if len(r["values"]) >= evals]
    if not runs:
        return
    regrets = _regrets(runs, evals)
    keys = [k for k in GROUPS if any(r["problem"] == k for r in runs)]
    cols = min(4, len(keys))
    rows = (len(keys) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3 * rows), squeeze=False)
    for ax, k in zip(axes.flat, keys, strict=False):
        for m in sorted({r["method"] for r in runs}):
            idx = [i for i, r in enumerate(runs) if r["problem"] == k and r["method"] == m]
            if idx:
                curve = np.median(np.array([regrets[i] for i in idx]), axis=0)
                ax.plot(np.arange(1, len(curve) + 1), np.maximum(curve, 1e-8), label=m)
        ax.set_yscale("log")
        ax.set_title(next(r["name"] for r in runs if r["problem"] == k), fontsize=8)
        ax.set_xlabel("evaluations")
    for ax in list(axes.flat)[len(keys):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
