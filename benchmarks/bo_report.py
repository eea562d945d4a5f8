"""``python -m benchmarks.run bo``: run the sequential BO suite and write ``bo.md`` and its plot.

With ``--resume``, the runs already in ``<out>/bo_raw.json`` are kept (a run is its problem,
method, seed and length), so new methods add columns without re-running the old ones; the
commands go to ``bo_commands.txt`` and the table shows every method the raw file holds.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["add_parser", "cmd_bo", "report"]

OURS = "hpo-gp-logei"
CONTINUOUS = ("branin", "hartmann6", "ackley10", "levy10", "rosenbrock6")
METHOD_NOTES = {
    "hpo-gp-logei": "hyperbandit BOSearcher (BoTorch SingleTaskGP Matérn-5/2 ARD + gamma priors, noise >= 1e-6, "
    "Yeo-Johnson output warp of the gaps to the incumbent chosen by maximum likelihood (HEBO-style), LogEI, Sobol "
    "initial design of max(5, d+1))",
    "optuna-gp": "Optuna GPSampler (greenlet installed)",
    "optuna-tpe": "TPESampler(multivariate=True)",
    "random": "uniform random search",
    "smac-hpo": "SMAC3 2.4 `HyperparameterOptimizationFacade` defaults (random forest, log-EI, Sobol initial design of "
    "at most 25% of the evaluations, one config in five random, the forest refit every 8 suggestions, so its "
    "s/suggestion alternates between refits and cheap asks; Lindauer et al., JMLR 2022), ask/tell, the conditional "
    "problem as ConfigSpace conditions",
    "hebo": "HEBO 0.3.6 `HEBO` defaults (GP with input warping, power-transformed outputs, MACE acquisition by "
    "NSGA-II, d+1 Sobol points; Cowen-Rivers et al., JAIR 2022), in `.venv-peers` over the ask/tell pipe (pymoo "
    "0.6.0 there runs without its compiled modules, which slows HEBO's suggestions)",
    "synetune-bo": "Syne Tune 0.13 `BayesianOptimization` (GP-EI, searcher `bayesopt`; Salinas et al., AutoML 2022) "
    "with defaults except `points_to_evaluate=[]`: its default first config is the centre of the space, which is "
    "Ackley's optimum; in `.venv-peers` over the ask/tell pipe",
}
FLAT_UNION = ("hebo", "synetune-bo")


def add_parser(sub: Any, results: Path) -> None:
    p = sub.add_parser("bo", help="sequential BO: regret vs evaluations against Optuna, SMAC3, HEBO, Syne Tune, random")
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--first-seed", type=int, default=0, help="run seeds first-seed..seeds-1")
    p.add_argument("--evals", type=int, default=100)
    p.add_argument("--quick", action="store_true", help="smoke test: 2 problems, 2 seeds, 15 evals, in-process methods")
    p.add_argument("--problems", nargs="*")
    p.add_argument("--methods", nargs="*", help="default: benchmarks.bo.METHODS (those that can run here)")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--resume", action="store_true", help="keep the runs already in the raw file; run only the missing ones")
    p.add_argument("--timing-evals", type=int, default=300, help="length of the per-suggestion timing runs (0: none)")
    p.add_argument("--timing-seeds", type=int, default=2)
    p.add_argument("--out", default=str(results))


def _key(run: dict[str, Any]) -> tuple[Any, ...]:
    return run["problem"], run["method"], run["seed"], len(run["regret"])


def cmd_bo(args: argparse.Namespace) -> int:
    from benchmarks.bo import METHODS, PEER_MODULES, run_one, unavailable
    from benchmarks.problems import OPT_IN, problems
    from benchmarks.run import _fmt, run_batch

    keys = args.problems or (["branin", "hartmann6"] if args.quick else [k for k in problems() if k not in OPT_IN])
    wanted = args.methods or [m for m in METHODS if not (args.quick and m in PEER_MODULES)]
    skipped = {m: why for m in wanted if (why := unavailable(m))}
    for m, why in skipped.items():
        print(f"skipping {m}: {why}", flush=True)
    methods = [m for m in wanted if m not in skipped]
    seeds = list(range(0 if args.quick else args.first_seed, 2 if args.quick else args.seeds))
    evals = 15 if args.quick else args.evals
    tasks = [(p, m, s, evals) for s in seeds for p in keys for m in methods]  # seed-major: a cut-short batch leaves equal seeds
    timing_evals = 0 if args.quick else args.timing_evals
    tasks += [("hartmann6", m, 100 + s, timing_evals) for m in (OURS, "optuna-gp") if timing_evals and m in methods
              for s in range(args.timing_seeds)]
    out = Path(args.out)
    stem = "bo_quick" if args.quick else "bo"

    def label(r: dict[str, Any]) -> str:
        return (f"{r['problem']} {r['method']} seed {r['seed']}: final regret {_fmt(r['regret'][-1])}, "
                f"{sum(r['times']):.0f} s asking")

    runs, commands, _ = run_batch(args, stem, tasks, run_one, _key, label, raw_name=f"{stem}_raw.json")
    present = {r["problem"] for r in runs}
    keys = [k for k in problems() if k in present or k in keys]
    shown = list(dict.fromkeys([*(m for m in METHODS if any(r["method"] == m for r in runs)), *methods]))
    main_runs = [r for r in runs if len(r["regret"]) == evals and r["seed"] < 100]
    timing_runs = [r for r in runs if r["seed"] >= 100]
    text = report(main_runs, timing_runs, keys, shown, evals, commands, skipped, stem)
    (out / f"{stem}.md").write_text(text)
    plot(main_runs, keys, shown, out / f"{stem}_regret.png")
    print(text)
    return 0


def _cell(values: list[float]) -> str:
    from benchmarks.run import _fmt, _quartiles

    med, q1, q3 = _quartiles(values)
    return f"{_fmt(med)} [{_fmt(q1)}, {_fmt(q3)}]"


def _header(methods: list[str], commands: list[str], skipped: dict[str, str]) -> list[str]:
    from benchmarks.run import _machine, skipped_lines

    lines = [
        "# Sequential BO benchmark: simple regret",
        "",
        "Commands, in order (`bo_commands.txt`; with `--resume` each adds only the runs it lacked):",
        "",
        *(f"    {c}" for c in commands),
        "",
        f"Machine: {_machine()}; each run single-threaded (`torch.set_num_threads(1)`; the peers' child processes "
        "with OMP/MKL/OpenBLAS threads = 1), `--jobs` runs in parallel.  ",
        "Regret = best value so far - known optimum. Cells: median [Q1, Q3] over seeds. s/suggestion: median over "
        "seeds of the n-th suggestion's seconds, and of the mean over the run.  ",
        "Methods: " + "; ".join(f"`{m}` = {METHOD_NOTES.get(m, 'an ablation variant of ours')}" for m in methods) + ".  ",
    ]
    if any(m in FLAT_UNION for m in methods):
        flat = " and ".join(f"`{m}`" for m in FLAT_UNION if m in methods)
        lines.append(f"No conditional spaces in {flat}: on the conditional problem they search the flat union of "
                     "the branch choice and every branch's parameters (10 dimensions), and the objective ignores the "
                     "inactive branches' values.  ")
    return [*lines, "", *skipped_lines(skipped, commands)]


def report(runs, timing_runs, keys, methods, evals, commands, skipped, stem) -> str:  # type: ignore[no-untyped-def]
    """The markdown of ``bo.md``: an overview at the last checkpoint, a table per problem, the verdicts."""
    import numpy as np

    lines = _header(methods, commands, skipped)
    checkpoints = [c for c in (25, 50, 100) if c <= evals] or [evals]
    last = checkpoints[-1]
    medians: dict[str, dict[str, float]] = {}  # problem -> method -> median regret @last
    names = {r["problem"]: r["name"] for r in runs}
    keys = [k for k in keys if k in names]
    overview = [m for m in methods if any(r["method"] == m for r in runs)]
    lines += [f"## Median regret @{last} [Q1, Q3] (seeds)", "",
              "| problem | " + " | ".join(overview) + " |", "|---|" + "---|" * len(overview)]
    for key in keys:
        cells = []
        for m in overview:
            finals = [r["regret"][last - 1] for r in runs if r["problem"] == key and r["method"] == m]
            if finals:
                medians.setdefault(key, {})[m] = float(np.median(finals))
            cells.append(f"{_cell(finals)} ({len(finals)})" if finals else "-")
        lines.append(f"| {names[key]} | " + " | ".join(cells) + " |")
    lines.append("")
    for key in keys:
        pruns = [r for r in runs if r["problem"] == key]
        lines += [f"## {names[key]}", ""]
        lines += ["| method | seeds | " + " | ".join(f"regret @{c}" for c in checkpoints)
                  + " | evals to reach TPE's final median | median s/suggestion @50 | @100 | mean |",
                  "|---|---|" + "---|" * (len(checkpoints) + 4)]
        tpe = [r["regret"][-1] for r in pruns if r["method"] == "optuna-tpe"]
        tpe_final = float(np.median(tpe)) if tpe else None
        for m in methods:
            mruns = [r for r in pruns if r["method"] == m]
            if not mruns:
                continue
            cells = [str(len(mruns))] + [_cell([r["regret"][c - 1] for r in mruns]) for c in checkpoints]
            if tpe_final is not None:
                hit = np.nonzero(np.median(np.array([r["regret"] for r in mruns]), axis=0) <= tpe_final)[0]
                cells.append(str(int(hit[0]) + 1) if len(hit) else f"not within {evals}")
            else:
                cells.append("-")
            for n in (50, 100):
                cells.append(f"{np.median([r['times'][min(n - 1, len(r['times']) - 1)] for r in mruns]):.3f}")
            cells.append(f"{np.median([np.mean(r['times']) for r in mruns]):.3f}")
            lines.append(f"| {m} | " + " | ".join(cells) + " |")
        lines.append("")
    n_seeds = {m: len({r["seed"] for r in runs if r["method"] == m}) for m in overview}
    lines += _verdicts(medians, n_seeds, last)
    lines += _timing(timing_runs)
    lines += [f"Raw per-run data: `{stem}_raw.json`; plot: `{stem}_regret.png`.", ""]
    return "\n".join(lines)


def _verdicts(medians: dict[str, dict[str, float]], n_seeds: dict[str, int], last: int) -> list[str]:
    """Summary lines: where ours has the lower median regret @last than each other method (seeds per method)."""

    def wins(peer: str, among: list[str]) -> tuple[list[str], list[str]]:
        both = [k for k in among if OURS in medians.get(k, {}) and peer in medians[k]]
        return [k for k in both if medians[k][OURS] < medians[k][peer]], both

    lines = ["## Summary", ""]
    cont = [k for k in CONTINUOUS if k in medians]
    labels = {"optuna-gp": "Optuna GPSampler's", "optuna-tpe": "TPE's"}
    for peer, label in labels.items():
        won, both = wins(peer, cont)
        if both:
            lines.append(f"- Median regret @{last} below {label} on {len(won)}/{len(both)} continuous problems: "
                         f"{', '.join(won) or 'none'}.")
    for peer in n_seeds:
        won, both = wins(peer, list(medians))
        if peer != OURS and both:
            lines.append(f"- vs `{peer}`: ours (`{OURS}`) has the lower median regret @{last} on {len(won)}/{len(both)} "
                         f"problems (seeds: ours {n_seeds[OURS]}, `{peer}` {n_seeds[peer]}): {', '.join(won) or 'none'}.")
    return [*lines, ""] if len(lines) > 2 else []


def _timing(timing_runs: list[dict[str, Any]]) -> list[str]:
    import numpy as np

    if not timing_runs:
        return []
    lines = [
        "## Time per suggestion along one long run (Hartmann6)",
        "",
        f"Median over {len({r['seed'] for r in timing_runs})} seeds of the time of the n-th suggestion "
        "(and the mean over suggestions n-9..n, which includes our periodic hyperparameter refits).",
        "",
        "| method | n=50 | n=150 | n=300 | mean n=291..300 |",
        "|---|---|---|---|---|",
    ]
    for m in (OURS, "optuna-gp"):
        mr = [r for r in timing_runs if r["method"] == m]
        if not mr:
            continue
        n_max = len(mr[0]["times"])
        cells = [f"{np.median([r['times'][n - 1] for r in mr]):.3f} s" if n <= n_max else "-" for n in (50, 150, 300)]
        window = np.mean([np.mean(r["times"][max(0, n_max - 10):]) for r in mr])
        lines.append(f"| {m} | " + " | ".join(cells) + f" | {window:.3f} s |")
    return [*lines, ""]


def plot(runs: list[dict[str, Any]], keys: list[str], methods: list[str], path: Path) -> None:
    """Median regret curves with quartile bands, one panel per problem (log scale)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    keys = [k for k in keys if any(r["problem"] == k for r in runs)]
    if not keys:
        return
    cols = min(4, len(keys))
    rows = (len(keys) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.3 * rows), squeeze=False)
    for ax, key in zip(axes.flat, keys, strict=False):
        for i, m in enumerate(methods):
            curves = np.array([r["regret"] for r in runs if r["problem"] == key and r["method"] == m])
            if not len(curves):
                continue
            q1, med, q3 = np.percentile(np.maximum(curves, 1e-12), [25, 50, 75], axis=0)
            xs = np.arange(1, curves.shape[1] + 1)
            ax.plot(xs, med, label=m, color=f"C{i % 10}")  # one colour per method in every panel
            ax.fill_between(xs, q1, q3, alpha=0.2, color=f"C{i % 10}")
        ax.set_yscale("log")
        ax.set_title(next(r["name"] for r in runs if r["problem"] == key), fontsize=9)
        ax.set_xlabel("evaluations")
        ax.set_ylabel("simple regret")
    for ax in list(axes.flat)[len(keys):]:
        ax.axis("off")
    handles = {h.get_label(): h for ax in axes.flat for h in ax.get_lines()}  # every method, even if not in panel 1
    axes.flat[0].legend(handles.values(), handles.keys(), fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
