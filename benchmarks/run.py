"""Benchmark runner: ``python -m benchmarks.run {bo,overhead} ...``.

    python -m benchmarks.run bo --seeds 10 --evals 100          # full table (about 40 min on 2 cores)
    python -m benchmarks.run bo --quick                         # smoke test: 2 problems, 2 seeds, 15 evals
    python -m benchmarks.run bo --methods smac-hpo hebo --seeds 3 --resume   # add peers to the existing table
    python -m benchmarks.run overhead --sizes 100 300 1000      # time per suggestion vs n
    python -m benchmarks.run mf --seeds 10                      # multi-fidelity on LCBench vs Ray Tune, Optuna
    python -m benchmarks.run mf --tasks digits-cosine --epochs 810   # live torch MLP with a cosine schedule
    python -m benchmarks.run mf --tasks trees --report-only     # rewrite a report from its committed raw runs
    python -m benchmarks.run replay --trials 10000              # simulated replay speed
    python -m benchmarks.run ray --trials 1000 --repeats 3      # Ray dispatch: ours vs Ray Tune Tuner
    python -m benchmarks.run lcpfn                              # LC-PFN vs MCMC and last value
    python -m benchmarks.run early --seeds 10 --trials 100      # LC-PFN early stopping on LCBench
    python -m benchmarks.run loss-pruning --seeds 10            # Optuna pruners on recorded loss curves
    python -m benchmarks.run cash --seeds 10 --evals 100        # live sklearn CASH: Rising Bandits, BO, TPE, random
    python -m benchmarks.run cost --seeds 10                    # cost-aware search on LCBench (simulated cost)
    python -m benchmarks.run cost --tasks digits-mlp --seeds 10  # ... on a live MLP, cost in measured seconds
    python -m benchmarks.carbs_toy --seeds 10                   # the CARBS reference's toy problem
    python -m benchmarks.run ray-tune-adapter --seeds 5 --trials 30   # Ray Tune Tuner: HPOSearch vs random

Results go to ``benchmarks/results/`` (markdown tables, PNG plots, raw JSON), with the
exact command written at the top of each table file.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from benchmarks._batch import (  # noqa: F401 - re-exported: the suites import them from here
    _command,
    _key_function,
    _locked,
    _merge_runs,
    _read_raw,
    _save_runs,
    _write_raw,
    add_batch_args,
    run_batch,
    skipped_lines,
)

RESULTS = Path(__file__).resolve().parent / "results"


def _quartiles(values: list[float]) -> tuple[float, float, float]:
    import numpy as np

    q1, med, q3 = np.percentile(values, [25, 50, 75])
    return float(med), float(q1), float(q3)


def _fmt(x: float) -> str:
    return f"{x:.3g}" if abs(x) >= 1e-3 or x == 0 else f"{x:.2e}"


def _machine() -> str:
    import platform

    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def cmd_overhead(args: argparse.Namespace) -> int:
    from benchmarks.bo import overhead

    start = time.time()
    rows = overhead(args.sizes, repeats=args.repeats, problem=args.problem)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = "overhead" if args.problem == "hartmann6" else f"overhead_{args.problem}"
    (out / f"{stem}_raw.json").write_text(json.dumps(rows))
    from benchmarks.problems import problems

    lines = [
        f"# Suggestion overhead: time per suggestion with n observations ({problems()[args.problem]().name})",
        "",
        f"Command: `{_command()}`  ",
        f"Machine: {_machine()}; both methods run one after the other in the same process, default torch threads.  ",
        f"`first` = the first suggestion after loading n observations (includes a cold hyperparameter fit); "
        f"`steady` = median of the next {args.repeats} suggestions, one new observation between each "
        "(warm-started fits; ours re-fits hyperparameters every max(2, n//20) new points and conditions on every point).  ",
        f"Total wall time {time.time() - start:.0f} s.",
        "",
        "| n | hyperbandit first | hyperbandit steady | Optuna GPSampler first | GPSampler steady | steady ratio (ours / GPSampler) |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        theirs = (f"{r['gp_first']:.3f} s | {r['gp_steady']:.3f} s | {r['hpo_steady'] / r['gp_steady']:.2f}" if "gp_first" in r
                  else "n/a (conditional space) | n/a | n/a")
        lines.append(f"| {r['n']} | {r['hpo_first']:.3f} s | {r['hpo_steady']:.3f} s | {theirs} |")
    text = "\n".join(lines) + "\n"
    (out / f"{stem}.md").write_text(text)
    print(text)
    return 0


#: Live single-task families of ``benchmarks.run mf`` -> the stem of their report.
LIVE_SINGLE = {"digits": "multifidelity_digits", "digits-cosine": "multifidelity_cosine", "digits-step": "multifidelity_step",
               "trees": "multifidelity_trees"}


def cmd_mf(args: argparse.Namespace) -> int:
    """Multi-fidelity suite on LCBench; raw traces are appended as runs finish (resumable)."""
    from benchmarks.lcbench import TASKS, benchdata_dir
    from benchmarks.mf_report import report
    from benchmarks.multifidelity import (
        LIBRARY_PEERS,
        METHODS,
        OURS,
        reference_best,
        run_one,
        unavailable,
    )

    quick = args.quick
    tasks = args.tasks or (list(TASKS[:2]) if quick else list(TASKS))
    cash = [t for t in tasks if t.startswith("cash-")]
    single = [t for t in tasks if t in LIVE_SINGLE]
    live = bool(single) or bool(cash)
    if live and tasks != single[:1] and cash != tasks:
        print("run each live task family on its own: --tasks digits, --tasks digits-cosine, --tasks digits-step, --tasks trees, or --tasks cash-digits cash-breast_cancer")
        return 2
    if not live and not (benchdata_dir() / "yahpo_lcbench" / "model.onnx").exists():
        print(f"LCBench data not found under {benchdata_dir()} (set HPO_BENCHDATA); nothing to run")
        return 0
    stem = ("multifidelity_cash" if cash else LIVE_SINGLE[single[0]] if live else "multifidelity") + ("_quick" if quick else "")
    methods = args.methods or [m for m in METHODS if not (live and m in LIBRARY_PEERS)]  # library peers: LCBench only
    skipped = {m: why for m in methods if (why := unavailable(m))}  # a peer whose library is missing: reported, not run
    methods = [m for m in methods if m not in skipped]
    seeds = list(range(args.first_seed, 2 if quick else args.seeds))
    epochs = 520 if quick else args.epochs
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    raw_path = out / f"{stem}_raw.json.gz"
    runs: list[dict[str, Any]] = _read_raw(raw_path) if raw_path.exists() and (args.resume or args.report_only) else []
    if args.report_only:
        if not runs:
            print(f"no runs in {raw_path}; nothing to report")
            return 2
        epochs = len(runs[0]["values"])  # every run of a report spends the same budget
    done = {(r["task"], r["method"], r["seed"], r["workers"]) for r in runs}
    # seed-major, so a run cut short leaves every method with the same seeds
    tasks_todo = [(t, m, s, epochs, 4) for s in seeds for t in tasks for m in methods]
    for k in args.sim_workers:
        if k != 4:
            tasks_todo += [(t, m, s, epochs, k) for s in seeds for t in tasks for m in OURS if m in methods]
    tasks_todo = [] if args.report_only else [x for x in tasks_todo if (x[0], x[1], x[2], x[4]) not in done]
    start = time.time()
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futures = {pool.submit(run_one, *x): x for x in tasks_todo}
        failed: list[str] = []
        for i, f in enumerate(as_completed(futures)):
            try:
                r = f.result()
            except Exception as exc:  # noqa: BLE001 - a peer library crashing must not end the batch
                task, method, seed, _, k = futures[f]
                failed.append(f"{task} {method} seed {seed} K={k}: {type(exc).__name__}: {exc}")
                print(f"[{i + 1}/{len(futures)}] FAILED {failed[-1]}", flush=True)
                continue
            r["values"] = [round(v, 3) for v in r["values"]]
            if "times" in r:
                r["times"] = [round(t, 1) for t in r["times"]]
            runs.append(r)
            runs = _save_runs(raw_path, runs, merge=args.resume)
            print(f"[{i + 1}/{len(futures)}] {r['task']} {r['method']} seed {r['seed']} K={r['workers']}: "
                  f"best {max(r['values']):.2f}, {r['wall']:.1f} s", flush=True)
    log = out / f"{stem}_commands.txt"
    previous = log.read_text().splitlines() if log.exists() and (args.resume or args.report_only) else []
    crashed = f"; {len(failed)} failed and not recorded: " + " | ".join(failed) if failed else ""
    commands = previous  # --report-only: the report's commands stay as they were
    if not args.report_only:
        commands = [*previous, f"{_command()}   # {len(tasks_todo)} runs, {(time.time() - start) / 60:.1f} min{crashed}"]
        log.write_text("\n".join(commands) + "\n")
    all_tasks = sorted({r["task"] for r in runs})
    refs = {} if live else {t: reference_best(t) for t in all_tasks}
    text = report(runs, refs, epochs, commands, _machine(), out, stem=stem, live=live, cash=bool(cash), unavailable=skipped)
    (out / f"{stem}.md").write_text(text)
    print(text)
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    """Wall seconds of a simulated ASHA study with many trials on LCBench."""
    import hpo
    from benchmarks.lcbench import EPOCHS, LCBench
    from hpo.budget import Budget
    from hpo.study import Study

    bench = LCBench(args.task)

    def train(config: dict[str, Any], budget: Any) -> dict[str, float]:
        acc, tm = bench.segment(config, budget.start, budget.stop)
        for i, epoch in enumerate(range(budget.start, budget.stop)):
            hpo.report(val_accuracy=acc[i], time=tm[i], step=epoch)
        return {"val_accuracy": acc[-1], "time": tm[-1]}

    t0 = time.perf_counter()
    study = Study.create(train, LCBench.space(), metric="val_accuracy", mode="max", budget=Budget(1, EPOCHS),
                         scheduler="asha", searcher="random", executor="simulated", workers=args.workers, seed=0)
    result = study.optimize(n_trials=args.trials)
    wall = time.perf_counter() - t0
    ex = study.executor
    text = "\n".join([
        "# Simulated replay speed",
        "",
        f"Command: `{_command()}`  ",
        f"Machine: {_machine()}.",
        "",
        f"ASHA (eta 3, rungs 1/3/9/27/52 epochs, random configs) on LCBench task {args.task}, {args.trials} trials, "
        f"{args.workers} simulated workers, in-memory storage, optimizer overhead added to the simulated clock.",
        "",
        "| trials | jobs' epochs | simulated time | optimizer overhead (real s) | wall seconds |",
        "|---|---|---|---|---|",
        f"| {len(result.trials)} | {sum(t.budget for t in result.trials):.0f} | {ex.clock.time() / 3600:.1f} h | "
        f"{ex.overhead:.1f} | **{wall:.1f}** |",
        "",
    ])
    (Path(args.out) / "replay.md").write_text(text)
    print(text)
    return 0


def cmd_ray(args: argparse.Namespace) -> int:
    """Trial throughput and worker utilisation on Ray, ours against Ray Tune's Tuner."""
    from benchmarks.ray_dispatch import report, run_all

    rows = run_all(args.trials, args.workers, args.repeats, args.methods, tuple(args.once))
    out = Path(args.out)
    (out / "ray_raw.json").write_text(json.dumps(rows, indent=1))
    text = report(rows, _command(), _machine(), args.trials, args.workers)
    (out / "ray.md").write_text(text)
    print(text)
    return 0


def cmd_lcpfn(args: argparse.Namespace) -> int:
    """LC-PFN against MCMC and last value, on prior and real curves."""
    from benchmarks.lcbench import benchdata_dir
    from benchmarks.lcpfn.evaluate import run
    from benchmarks.lcpfn.tables import calibration_plot, report

    args.curves = args.curves or str(benchdata_dir() / "curves")
    results = run(args)
    out = Path(args.out)
    (out / "lcpfn_raw.json").write_text(json.dumps(results, default=float))
    plot = calibration_plot(results, out / "lcpfn_calibration.png").name
    text = report(results, _command(), plot)
    (out / "lcpfn.md").write_text(text)
    print(text)
    return 0


def _shipped_weights() -> str:
    """The LC-PFN weights ``LCPFN.load()`` gives, in words (variant and version)."""
    from hpo.surrogates.lcpfn import DEFAULT_VARIANT, WEIGHTS_DIR

    meta = json.loads((WEIGHTS_DIR / DEFAULT_VARIANT / "lcpfn.json").read_text())
    return f"shipped default, variant {DEFAULT_VARIANT} ({meta['version']}, hpo/surrogates/lcpfn/weights/{DEFAULT_VARIANT})"


def _early_one(*args: Any) -> dict[str, Any]:
    import torch

    from benchmarks.early_stopping import run_one

    torch.set_num_threads(1)  # one run per core
    return run_one(*args)


def cmd_early(args: argparse.Namespace) -> int:
    """LC-PFN early stopping on LCBench: epochs and final regret, paired with FIFO, ASHA and Optuna's pruners."""
    from benchmarks.early_stopping import METHODS, best_known, report
    from benchmarks.lcbench import TASKS, benchdata_dir

    tasks = args.tasks or list(TASKS)
    if any(t.isdigit() for t in tasks) and not (benchdata_dir() / "yahpo_lcbench" / "model.onnx").exists():
        print(f"LCBench data not found under {benchdata_dir()} (set HPO_BENCHDATA); nothing to run")
        return 0
    methods = args.methods or list(METHODS)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    raw_path = out / "early_stopping_raw.json"
    runs: list[dict[str, Any]] = json.loads(raw_path.read_text()) if raw_path.exists() and args.resume else []
    done = {(r["task"], r["method"], r["seed"]) for r in runs}
    todo = [(t, m, s, args.trials, args.weights) for t in tasks for m in methods for s in range(args.seeds)]
    todo = [x for x in todo if x[:3] not in done]
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futures = [pool.submit(_early_one, *x) for x in todo]
        for i, f in enumerate(futures):
            r = f.result()
            runs.append(r)
            raw_path.write_text(json.dumps(runs, indent=0))
            print(f"[{i + 1}/{len(futures)}] {r['task']} {r['method']} seed {r['seed']}: {r['epochs']:.0f} epochs, "
                  f"best {r['best']:.2f}, {r['wall']:.1f} s", flush=True)  # fmt: skip
    log = out / "early_stopping_commands.txt"
    commands = log.read_text().splitlines() if log.exists() and args.resume else []
    if todo or not commands:
        commands.append(f"{_command()}   # {len(todo)} runs")
        log.write_text("\n".join(commands) + "\n")
    refs = {t: best_known(t) for t in sorted({r["task"] for r in runs})}
    weights = args.weights or _shipped_weights()
    text = report(runs, refs, args.trials, commands, _machine(), weights)
    (out / "early_stopping.md").write_text(text)
    print(text)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run")
    sub = parser.add_subparsers(dest="suite", required=True)
    from benchmarks import bo_report

    bo_report.add_parser(sub, RESULTS)
    ov = sub.add_parser("overhead", help="time per suggestion at n observations, ours vs Optuna GPSampler")
    ov.add_argument("--sizes", type=int, nargs="+", default=[100, 300, 1000])
    ov.add_argument("--repeats", type=int, default=5)
    ov.add_argument("--problem", default="hartmann6", help="a bo problem key (hartmann6, mixed, conditional, ...)")
    ov.add_argument("--out", default=str(RESULTS))
    mf = sub.add_parser("mf", help="multi-fidelity on LCBench: ours vs Ray Tune ASHA/HyperBand and Optuna+Hyperband")
    mf.add_argument("--seeds", type=int, default=10)
    mf.add_argument("--first-seed", type=int, default=0, help="run seeds first-seed..seeds-1 (split seeds over processes)")
    mf.add_argument("--epochs", type=int, default=3120, help="cumulative epoch budget per run")
    mf.add_argument("--tasks", nargs="*")
    mf.add_argument("--methods", nargs="*")
    mf.add_argument("--quick", action="store_true", help="smoke test: 2 tasks, 2 seeds, 520 epochs")
    mf.add_argument("--resume", action="store_true", help="keep the runs already in the raw file")
    mf.add_argument("--sim-workers", type=int, nargs="+", default=[4, 16], help="simulated workers for our methods")
    mf.add_argument("--jobs", type=int, default=2)
    mf.add_argument("--out", default=str(RESULTS))
    mf.add_argument("--report-only", action="store_true",
                    help="rewrite the report from the raw file and its commands (run nothing; the budget is the runs')")
    rp = sub.add_parser("replay", help="wall time of a large simulated ASHA study on LCBench")
    rp.add_argument("--trials", type=int, default=10_000)
    rp.add_argument("--workers", type=int, default=16)
    rp.add_argument("--task", default="3945")
    rp.add_argument("--out", default=str(RESULTS))
    ry = sub.add_parser("ray", help="Ray dispatch: throughput and utilisation, ours vs Ray Tune Tuner")
    ry.add_argument("--trials", type=int, default=1000)
    ry.add_argument("--workers", type=int, default=8, help="declared GPUs (and CPUs) of the local Ray instance")
    ry.add_argument("--repeats", type=int, default=3)
    ry.add_argument("--methods", nargs="+", default=["hpo-ray", "ray-tune-reuse", "ray-tune"])
    ry.add_argument("--once", nargs="*", default=["ray-tune"], help="methods run in the first repeat only (slow ones)")
    ry.add_argument("--out", default=str(RESULTS))
    lc = sub.add_parser("lcpfn", help="LC-PFN vs MCMC (Domhan et al.) and last value on prior and real curves")
    lc.add_argument("--weights", default=None, help="one folder with lcpfn.pt/lcpfn.json (instead of the shipped variants)")
    lc.add_argument("--variants", nargs="*", default=["mixture", "paper"], help="shipped weight variants to evaluate")
    lc.add_argument("--prior-curves", type=int, default=1000)
    lc.add_argument("--mcmc-curves", type=int, default=50, help="prior curves that MCMC also fits (time)")
    lc.add_argument("--mcmc-real", type=int, default=10, help="real curves per file that MCMC also fits")
    lc.add_argument("--mcmc-steps", type=int, default=2500)
    lc.add_argument("--mcmc-burn", type=int, default=500)
    lc.add_argument("--mcmc-walkers", type=int, default=100)
    lc.add_argument("--reuse-mcmc", default=None, help="an earlier lcpfn_raw.json whose MCMC results to keep (LC-PFN is re-run)")
    lc.add_argument("--threads", type=int, default=1, help="torch threads (MCMC is single-threaded)")
    lc.add_argument("--curves", default=None, help="folder of real curves (default: benchdata/curves)")
    lc.add_argument("--out", default=str(RESULTS))
    es = sub.add_parser("early", help="LC-PFN early stopping on LCBench (or --tasks digits-cosine digits-step trees: recorded curves) vs FIFO, ASHA and Optuna's pruners")
    es.add_argument("--seeds", type=int, default=10)
    es.add_argument("--trials", type=int, default=100, help="configs per run")
    es.add_argument("--tasks", nargs="*", help="LCBench task ids (default: all 8), or digits-cosine / digits-step / trees (recorded curve pools)")
    es.add_argument("--methods", nargs="*")
    es.add_argument("--weights", default=None, help="folder with lcpfn.pt/lcpfn.json (default: the shipped ones)")
    es.add_argument("--resume", action="store_true", help="keep the runs already in the raw file")
    es.add_argument("--jobs", type=int, default=2)
    es.add_argument("--out", default=str(RESULTS))
    from benchmarks import (
        cash_report,
        cost_aware_report,
        loss_pruning,
        ray_tune_adapter,
        surrogates_report,
    )

    surrogates_report.add_parser(sub, RESULTS)
    cash_report.add_parser(sub, RESULTS)
    cost_aware_report.add_parser(sub, RESULTS)
    ray_tune_adapter.add_parser(sub, RESULTS)
    loss_pruning.add_parser(sub, RESULTS)
    args = parser.parse_args(argv)
    suites = {"early": cmd_early, "bo": bo_report.cmd_bo, "overhead": cmd_overhead, "mf": cmd_mf, "replay": cmd_replay, "ray": cmd_ray,
              "lcpfn": cmd_lcpfn, "surrogates": surrogates_report.cmd_surrogates, "cash": cash_report.cmd_cash,
              "cost": cost_aware_report.cmd_cost, "ray-tune-adapter": ray_tune_adapter.cmd_ray_tune_adapter,
              "loss-pruning": loss_pruning.cmd_loss_pruning}
    return suites[args.suite](args)


if __name__ == "__main__":
    sys.exit(main())
