"""Dispatch benchmark: many short trials on Ray, ours (``RayExecutor``) against Ray Tune's ``Tuner``.

Each trial sleeps about 50 ms in three slices and reports after each (``hpo.report`` /
``ray.tune.report``). Both run on the same local Ray instance that declares ``workers``
GPUs and as many CPUs, with ``{"cpu": 1, "gpu": 1}`` per trial, one after the other in
the same process. Measured per run:

* throughput: trials / wall seconds (from the call of ``optimize`` / ``Tuner.fit`` to its return);
* utilisation: busy time / (workers x wall), where busy time is each trial function's own
  duration (entry to return, measured inside the worker, so report round trips count as
  busy); ``compute`` is the same with the 50 ms of sleep alone;
* dispatch overhead per trial: (workers x wall - busy) / trials, i.e. the worker time
  lost between trials.

Ours records every trial and report in a real SQLite file, as a study does by default.
"""

from __future__ import annotations

import os
import tempfile
import time
from typing import Any

SLICE = 0.05 / 3  # three slices of ~16.7 ms: ~50 ms of "training" per trial


def hpo_trial(config: dict[str, Any]) -> dict[str, float]:
    import hpo

    start, t0 = time.perf_counter(), time.time()
    loss = 0.0
    for step in range(3):
        time.sleep(SLICE)
        loss = (config["x"] - 0.5) ** 2 + 1.0 / (step + 1)
        hpo.report(loss=loss, step=step)
    return {"loss": loss, "busy": time.perf_counter() - start, "t0": t0, "t1": time.time()}


def tune_trial(config: dict[str, Any]) -> None:
    from ray import tune

    start, t0 = time.perf_counter(), time.time()
    for step in range(3):
        time.sleep(SLICE)
        loss = (config["x"] - 0.5) ** 2 + 1.0 / (step + 1)
        # the busy time so far goes with each report; the last report's is (almost) the whole trial
        tune.report({"loss": loss, "step": step, "busy": time.perf_counter() - start, "t0": t0, "t1": time.time()})


def run_ours(n_trials: int, workers: int, folder: str) -> dict[str, float]:
    from hpo.execution.ray import RayExecutor
    from hpo.search_spaces import Float
    from hpo.study import Study
    from hpo.trial import TrialStatus

    path = os.path.join(folder, f"ours_{time.time_ns()}.db")
    study = Study.create(
        hpo_trial, {"x": Float(0.0, 1.0)}, storage=path, searcher="random", seed=0,
        executor=RayExecutor(resources={"cpu": 1, "gpu": 1}, max_concurrent=workers),
    )  # fmt: skip
    t0, started = time.perf_counter(), time.time()
    result = study.optimize(n_trials=n_trials)
    wall = time.perf_counter() - t0
    study.close()
    done = [t.metrics for t in result.trials if t.status is TrialStatus.COMPLETED]
    return _summary(done, wall, workers, started)


def run_tune(n_trials: int, workers: int, folder: str, reuse_actors: bool) -> dict[str, float]:
    from ray import tune

    trainable = tune.with_resources(tune_trial, {"cpu": 1, "gpu": 1})
    tuner = tune.Tuner(
        trainable,
        param_space={"x": tune.uniform(0.0, 1.0)},
        tune_config=tune.TuneConfig(
            num_samples=n_trials, metric="loss", mode="min", reuse_actors=reuse_actors, max_concurrent_trials=workers
        ),
        run_config=tune.RunConfig(storage_path=folder, name=f"tune_{time.time_ns()}", verbose=0),
    )
    t0, started = time.perf_counter(), time.time()
    grid = tuner.fit()
    wall = time.perf_counter() - t0
    done = [r.metrics for r in grid if r.error is None and r.metrics and "busy" in r.metrics]
    return _summary(done, wall, workers, started)


def _summary(done: list[dict[str, float]], wall: float, workers: int, started: float) -> dict[str, float]:
    """Throughput and utilisation from the finished trials' own timings (``busy``, ``t0``, ``t1``)."""
    n = len(done)
    busy = sum(m["busy"] for m in done)
    span = (max(m["t1"] for m in done) - min(m["t0"] for m in done)) if done else wall
    return {
        "trials": n,
        "wall_s": wall,
        "trials_per_s": n / wall,
        "utilisation": busy / (workers * wall),
        "compute_utilisation": n * 3 * SLICE / (workers * wall),
        # from the first trial's start to the last one's end: without start-up and tear-down
        "steady_utilisation": busy / (workers * span),
        "overhead_ms_per_trial": 1000 * (workers * wall - busy) / max(n, 1),
        "first_trial_s": (min(m["t0"] for m in done) - started) if done else 0.0,  # start-up
    }


def run_all(n_trials: int, workers: int, repeats: int, methods: list[str], once: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Start one local Ray instance and run every method ``repeats`` times, interleaved (``once``: in the first only)."""
    import ray

    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    ray.init(address="local", num_cpus=workers, num_gpus=workers, include_dashboard=False, log_to_driver=False)
    rows: list[dict[str, Any]] = []
    try:
        with tempfile.TemporaryDirectory() as folder:
            for rep in range(repeats):
                for method in methods:
                    if rep and method in once:
                        continue
                    if method == "hpo-ray":
                        row = run_ours(n_trials, workers, folder)
                    elif method == "ray-tune-reuse":
                        row = run_tune(n_trials, workers, folder, reuse_actors=True)
                    elif method == "ray-tune":
                        row = run_tune(n_trials, workers, folder, reuse_actors=False)
                    else:
                        raise ValueError(f"unknown method {method!r}")
                    rows.append({"method": method, "repeat": rep, **row})
                    print(f"[ray] {method} #{rep}: {row['trials_per_s']:.1f} trials/s, utilisation {row['utilisation']:.1%}", flush=True)
    finally:
        ray.shutdown()
    return rows


def report(rows: list[dict[str, Any]], command: str, machine: str, n_trials: int, workers: int) -> str:
    """Markdown table: median [Q1, Q3] over repeats, per method."""
    import numpy as np

    def cell(values: list[float], fmt: str) -> str:
        q1, med, q3 = np.percentile(values, [25, 50, 75])
        return f"{fmt.format(med)} [{fmt.format(q1)}, {fmt.format(q3)}]" if len(values) > 1 else fmt.format(med)

    methods = list(dict.fromkeys(r["method"] for r in rows))
    lines = [
        "# Dispatch: many short trials on Ray, ours against Ray Tune",
        "",
        f"Command: `{command}`  ",
        f"Machine: {machine}; one local Ray instance declaring {workers} GPUs and {workers} CPUs, "
        f"`{{cpu: 1, gpu: 1}}` per trial, {n_trials} trials of ~50 ms (3 slices of 16.7 ms, a report after each). "
        "Methods run one after the other in the same process; repeats interleave them.",
        "",
        "| method | runs | trials/s | utilisation | steady-state utilisation | compute utilisation | "
        "overhead per trial (ms of worker time) | start-up to first trial (s) | wall (s) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for m in methods:
        rs = [r for r in rows if r["method"] == m]
        col = {k: [r[k] for r in rs] for k in rs[0] if isinstance(rs[0][k], float)}
        lines.append(
            f"| {m} | {len(rs)} | {cell(col['trials_per_s'], '{:.1f}')} | {cell(col['utilisation'], '{:.1%}')} | "
            f"{cell(col['steady_utilisation'], '{:.1%}')} | {cell(col['compute_utilisation'], '{:.1%}')} | "
            f"{cell(col['overhead_ms_per_trial'], '{:.1f}')} | {cell(col['first_trial_s'], '{:.2f}')} | "
            f"{cell(col['wall_s'], '{:.1f}')} |"
        )
    lines += [
        "",
        "- utilisation: busy / (workers x wall), busy = each trial function's own duration, measured inside the "
        "worker (report calls included); wall = from the call of `optimize` / `Tuner.fit` to its return.",
        "- steady-state utilisation: the same over the span from the first trial's start to the last trial's end.",
        "- compute utilisation: the 50 ms of sleep alone, i.e. trials/s x 0.05 s / workers.",
        "- overhead per trial: (workers x wall - busy) / trials.",
    ]
    base = {m: float(np.median([r["trials_per_s"] for r in rows if r["method"] == m])) for m in methods}
    if "hpo-ray" in base:
        for m in methods:
            if m != "hpo-ray":
                lines.append(f"- throughput, hpo-ray / {m}: **{base['hpo-ray'] / base[m]:.1f}x** (medians).")
    return "\n".join(lines) + "\n"
