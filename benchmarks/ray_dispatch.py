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
  lost between trials;
* the gap between two trials on one worker (median; trials carry their worker's pid), and
  when the last worker started its first trial (start-up);
* where the workers' time goes (shares of workers x wall, summing to 1 with utilisation):
  before each worker's first trial (start-up), between two trials on a worker, and after
  its last trial until the call returns (tear-down).

Ours records every trial and report in a real SQLite file, as a study does by default.
``hpo-ray`` is the study as a user gets it (FIFO with random search, so the executor
queues one trial ahead on each busy actor: ``RayExecutor`` "Queueing ahead");
``hpo-ray-noqueue`` is the same with queueing ahead off (as with ASHA or BO).

Ray's own floor on the machine: ``ray-bare`` runs the same trial body (no reports, no
study, no storage) on bare actors created inside the timed call, from a minimal
``ray.wait`` loop that keeps one call in flight per actor; ``ray-bare-queued`` keeps two
(the next call waits on the actor). No dispatcher built on Ray actors can beat these.
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
    return {"loss": loss, "busy": time.perf_counter() - start, "t0": t0, "t1": time.time(), "pid": os.getpid()}


def tune_trial(config: dict[str, Any]) -> None:
    from ray import tune

    start, t0 = time.perf_counter(), time.time()
    for step in range(3):
        time.sleep(SLICE)
        loss = (config["x"] - 0.5) ** 2 + 1.0 / (step + 1)
        # the busy time so far goes with each report; the last report's is (almost) the whole trial
        metrics = {"loss": loss, "step": step, "busy": time.perf_counter() - start, "t0": t0, "t1": time.time()}
        tune.report({**metrics, "pid": os.getpid()})


class BareActor:
    """``ray-bare``: the trial body alone, on a plain Ray actor."""

    def run(self) -> dict[str, float]:
        start, t0 = time.perf_counter(), time.time()
        for _ in range(3):
            time.sleep(SLICE)
        return {"busy": time.perf_counter() - start, "t0": t0, "t1": time.time(), "pid": os.getpid()}


def run_bare(n_trials: int, workers: int, depth: int) -> dict[str, float]:
    """Ray's floor: ``workers`` bare actors (started inside the timed call), ``depth`` calls in flight on each."""
    import ray

    t0, started = time.perf_counter(), time.time()
    actors = [ray.remote(num_cpus=1, num_gpus=1)(BareActor).remote() for _ in range(workers)]
    inflight: dict[Any, int] = {}
    sent = 0
    for _ in range(depth):
        for k, actor in enumerate(actors):
            if sent < n_trials:
                inflight[actor.run.remote()] = k
                sent += 1
    done = []
    while inflight:
        ready, _ = ray.wait(list(inflight), num_returns=1)
        ready, _ = ray.wait(list(inflight), num_returns=len(inflight), timeout=0)
        for ref in ready:
            k = inflight.pop(ref)
            done.append(ray.get(ref))
            if sent < n_trials:
                inflight[actors[k].run.remote()] = k
                sent += 1
    for actor in actors:
        ray.kill(actor)
    return _summary(done, time.perf_counter() - t0, workers, started)


def run_ours(n_trials: int, workers: int, folder: str, queue_ahead: bool = True) -> dict[str, float]:
    from hpo.execution.ray import RayExecutor
    from hpo.search_spaces import Float
    from hpo.study import Study
    from hpo.trial import TrialStatus

    class NoQueue(RayExecutor):
        queues_jobs = False  # the study then never turns queue_ahead on

    executor = (RayExecutor if queue_ahead else NoQueue)(resources={"cpu": 1, "gpu": 1}, max_concurrent=workers)
    path = os.path.join(folder, f"ours_{time.time_ns()}.db")
    study = Study.create(
        hpo_trial, {"x": Float(0.0, 1.0)}, storage=path, searcher="random", seed=0, executor=executor,
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
    import numpy as np

    n = len(done)
    busy = sum(m["busy"] for m in done)
    span = (max(m["t1"] for m in done) - min(m["t0"] for m in done)) if done else wall
    by_worker: dict[float, list[dict[str, float]]] = {}
    for m in done:
        by_worker.setdefault(m.get("pid", 0.0), []).append(m)
    gaps = []
    for ms in by_worker.values():
        ms.sort(key=lambda m: m["t0"])
        gaps += [b["t0"] - a["t1"] for a, b in zip(ms, ms[1:], strict=False)]
    # worker time outside trials; a worker that never ran a trial idles all the call (start-up)
    total, end = workers * wall, started + wall
    known = len(by_worker) <= workers  # without actor reuse, each trial has its own process
    before = sum(ms[0]["t0"] - started for ms in by_worker.values()) + (workers - len(by_worker)) * wall
    after = sum(end - ms[-1]["t1"] for ms in by_worker.values())
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
        # start-up until every worker had begun (the last worker's first trial)
        "all_busy_s": (max(ms[0]["t0"] for ms in by_worker.values()) - started) if done else 0.0,
        "gap_ms": 1000 * float(np.median(gaps)) if gaps else float("nan"),  # between two trials on a worker
        "startup_share": before / total if known else float("nan"),
        "between_share": sum(gaps) / total if known else float("nan"),
        "teardown_share": after / total if known else float("nan"),
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
                    elif method == "hpo-ray-noqueue":
                        row = run_ours(n_trials, workers, folder, queue_ahead=False)
                    elif method == "ray-bare":
                        row = run_bare(n_trials, workers, depth=1)
                    elif method == "ray-bare-queued":
                        row = run_bare(n_trials, workers, depth=2)
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
        "overhead per trial (ms of worker time) | gap between trials on a worker (ms) | "
        "start-up to first trial (s) | to every worker's first trial (s) | wall (s) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for m in methods:
        rs = [r for r in rows if r["method"] == m]
        col = {k: [r[k] for r in rs] for k in rs[0] if isinstance(rs[0][k], float)}
        lines.append(
            f"| {m} | {len(rs)} | {cell(col['trials_per_s'], '{:.1f}')} | {cell(col['utilisation'], '{:.1%}')} | "
            f"{cell(col['steady_utilisation'], '{:.1%}')} | {cell(col['compute_utilisation'], '{:.1%}')} | "
            f"{cell(col['overhead_ms_per_trial'], '{:.1f}')} | {cell(col['gap_ms'], '{:.1f}')} | "
            f"{cell(col['first_trial_s'], '{:.2f}')} | {cell(col['all_busy_s'], '{:.2f}')} | "
            f"{cell(col['wall_s'], '{:.1f}')} |"
        )
    lines += [
        "",
        "- utilisation: busy / (workers x wall), busy = each trial function's own duration, measured inside the "
        "worker (report calls included); wall = from the call of `optimize` / `Tuner.fit` to its return.",
        "- steady-state utilisation: the same over the span from the first trial's start to the last trial's end.",
        "- compute utilisation: the 50 ms of sleep alone, i.e. trials/s x 0.05 s / workers.",
        "- overhead per trial: (workers x wall - busy) / trials.",
        "- gap between trials on a worker: median time from one trial's end to the next one's start in the "
        "same worker process.",
        "- ray-bare / ray-bare-queued: Ray's own floor (bare actors, one / two calls in flight per actor, "
        "no study); not a method a user runs.",
        "",
        "Where the workers' time goes (share of workers x wall; the four add up to 100% up to the few "
        "microseconds between a trial's own clocks):",
        "",
        "| method | in trials (utilisation) | before each worker's first trial (start-up) | between trials on a worker "
        "| after its last trial (tear-down) |",
        "|---|---|---|---|---|",
    ]
    for m in methods:
        rs = [r for r in rows if r["method"] == m]
        if any(not np.isfinite(r.get("startup_share", float("nan"))) for r in rs):
            lines.append(f"| {m} | {cell([r['utilisation'] for r in rs], '{:.1%}')} | n/a (a process per trial) | | |")
            continue
        lines.append(
            f"| {m} | {cell([r['utilisation'] for r in rs], '{:.1%}')} | "
            f"{cell([r['startup_share'] for r in rs], '{:.1%}')} | {cell([r['between_share'] for r in rs], '{:.1%}')} | "
            f"{cell([r['teardown_share'] for r in rs], '{:.1%}')} |"
        )
    lines += [""]
    base = {m: float(np.median([r["trials_per_s"] for r in rows if r["method"] == m])) for m in methods}
    if "hpo-ray" in base:
        for m in methods:
            if m.startswith("ray-tune"):
                lines.append(f"- throughput, hpo-ray / {m}: **{base['hpo-ray'] / base[m]:.1f}x** (medians).")
    return "\n".join(lines) + "\n"
