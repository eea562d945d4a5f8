"""The multi-fidelity benchmark's own parts: the live digits task and the report."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("sklearn")

from benchmarks.digits import DigitsMLP  # noqa: E402
from benchmarks.mf_report import report  # noqa: E402
from benchmarks.multifidelity import make_task, run_one  # noqa: E402

CONFIG = {"learning_rate": 0.01, "alpha": 1e-4, "hidden_units": 24, "layers": 1, "batch_size": 64, "activation": "relu"}


def test_digits_resumes_a_promoted_config_where_it_stopped():
    """Epochs 0..2 then 3..5 give what 0..5 in one go gives: the kept model continues, it does not restart."""
    task = DigitsMLP()
    first, t_first = task.segment(CONFIG, 0, 3)
    second, t_second = task.segment(CONFIG, 3, 6)
    whole, _ = DigitsMLP().segment(CONFIG, 0, 6)
    assert first + second == whole
    assert len(t_second) == 3 and t_second[0] > t_first[-1]  # cumulative seconds go on
    assert all(0.0 <= a <= 100.0 for a in whole) and whole[-1] > 50.0  # it learns


def test_digits_without_its_state_retrains_from_scratch():
    task = DigitsMLP()
    task.segment(CONFIG, 0, 3)
    again, seconds = task.segment(CONFIG, 0, 2)  # a restart (no checkpoint at 0): a fresh model
    assert again == DigitsMLP().segment(CONFIG, 0, 2)[0]
    assert seconds[0] < seconds[1]


def test_make_task_gives_the_live_task_by_name():
    task = make_task("digits")
    assert isinstance(task, DigitsMLP) and task.epochs == 27
    assert set(task.space()) == set(CONFIG)


def test_a_short_live_run_and_its_report(tmp_path):
    """Our Hyperband on the live task, end to end (a small budget), then the live report."""
    runs = [run_one("digits", "hpo-hyperband", seed, 60, workers=2) for seed in (0, 1)]
    for r in runs:
        assert len(r["values"]) == 60 and len(r["times"]) == 60
        assert np.all(np.diff(r["times"]) >= 0)  # simulated clock
    runs.append({"task": "digits", "method": "hpo-random", "seed": 0, "workers": 4, "values": [10.0] * 60, "wall": 0.0})
    for r in runs:
        r["workers"] = 4
    text = report(runs, {}, 60, ["cmd"], "test machine", tmp_path, stem="multifidelity_digits", live=True)
    assert "live task" in text and "| digits |" in text
    assert "**Best-known value** = the best value any run of any method reported (live training" in text
    assert "MLPClassifier.partial_fit" in text and "in accuracy points. search" not in text
    best = max(max(r["values"]) for r in runs)
    assert f"| digits | {best:.2f} |" in text  # best-known = best value any run reported
    assert (tmp_path / "multifidelity_digits_regret.png").exists()
    assert "Ray Tune runs for real" not in text and "`optuna-tpe-hyperband` runs" not in text  # neither ran


def test_report_only_rewrites_the_report_from_the_raw_file_and_runs_nothing(tmp_path):
    from pathlib import Path

    from benchmarks.run import _read_raw, _save_runs, main

    runs = [
        {"task": "digits", "method": m, "seed": s, "workers": 4, "values": [float(s + k), 50.0 + s + k] * 5, "wall": 1.0}
        for s in (0, 1) for k, m in enumerate(("hpo-asha", "optuna-tpe-hyperband"))
    ]
    _save_runs(Path(tmp_path / "multifidelity_digits_raw.json.gz"), runs, merge=False)
    log = tmp_path / "multifidelity_digits_commands.txt"
    log.write_text("python -m benchmarks.run mf --tasks digits   # 4 runs\n")
    assert main(["mf", "--tasks", "digits", "--report-only", "--out", str(tmp_path), "--methods", "hpo-random"]) == 0
    text = (tmp_path / "multifidelity_digits.md").read_text()
    assert "Budget: 10 cumulative epochs" in text  # the runs' budget, not --epochs's default
    assert "    python -m benchmarks.run mf --tasks digits   # 4 runs" in text
    assert len(_read_raw(tmp_path / "multifidelity_digits_raw.json.gz")) == 4  # nothing ran (hpo-random was asked for)
    assert log.read_text() == "python -m benchmarks.run mf --tasks digits   # 4 runs\n"  # no command added
    assert "`optuna-tpe-hyperband` runs one trial at a time" in text and "Ray Tune runs for real" not in text
    assert main(["mf", "--tasks", "digits", "--report-only", "--out", str(tmp_path / "empty")]) == 2


def _append_runs(path: str, worker: int, n: int) -> None:
    from pathlib import Path

    from benchmarks.run import _save_runs

    runs: list[dict] = []
    for i in range(n):
        runs.append({"task": "t", "method": f"m{worker}", "seed": i, "workers": 4, "values": [float(i)] * 2000})
        runs = _save_runs(Path(path), runs, merge=True)


def test_batches_appending_to_one_raw_file_at_once_lose_nothing(tmp_path):
    import multiprocessing as mp

    from benchmarks.run import _read_raw

    path = tmp_path / "raw.json.gz"
    procs = [mp.get_context("spawn").Process(target=_append_runs, args=(str(path), w, 15)) for w in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert all(p.exitcode == 0 for p in procs)
    keys = {(r["method"], r["seed"]) for r in _read_raw(path)}
    assert keys == {(f"m{w}", i) for w in range(3) for i in range(15)}  # every run of every writer
    assert not list(tmp_path.glob("*.tmp"))


def test_variant_table_reads_raw_runs_and_reports_regret_quartiles(tmp_path):
    import contextlib
    import gzip
    import io
    import json

    from benchmarks.variant_table import main

    runs = [{"task": "7593", "method": "hpo-asha:br", "seed": s, "values": [80.0, 85.0, 90.0 - s]} for s in range(3)]
    runs += [{"task": "7593", "method": "hpo-asha:br1", "seed": 0, "values": [70.0, 71.0, 72.0]}]
    path = tmp_path / "raw.json.gz"
    with gzip.open(path, "wt") as fh:
        json.dump(runs, fh)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        main([str(path), "--methods=hpo-asha:bht,hpo-asha:br1,hpo-asha:bt"])
    lines = [line for line in out.getvalue().splitlines() if line.startswith("| 7593")]
    assert len(lines) == 2  # after 1/3 of the budget, and at the end
    # best-known 90.66 (committed); ":br" is read as ":bht"; final regrets 0.66, 1.66, 2.66 -> median 1.66
    assert lines[1] == "| 7593 | 1.66 [1.16, 2.16] (3) | 18.7 [18.7, 18.7] (1) | - |"
    assert lines[0].split(" | ")[1] == "10.7 [10.7, 10.7] (3)"  # the first of 3 epochs: 90.66 - 80


def test_optuna_with_parallel_workers_on_a_simulated_clock():
    """One worker replays Optuna's own sequential loop; four run trials side by side, in report order."""
    pytest.importorskip("optuna")
    sequential = run_one("synthetic", "optuna-tpe-hyperband", 3, 120)
    one = run_one("synthetic", "optuna-tpe-hyperband-async", 3, 120, workers=1)
    assert one["values"] == sequential["values"] and one["n_trials"] == sequential["n_trials"]
    four = run_one("synthetic", "optuna-tpe-hyperband-async", 3, 120, workers=4)
    assert len(four["values"]) == 120 and np.all(np.diff(four["times"]) >= 0)
    # four trials share the clock: the same epochs take well under the sequential clock
    assert four["times"][-1] < 0.5 * one["times"][-1]
    assert four["values"] != one["values"]


def test_robustness_table_labels_worker_counts_and_sequential_optuna(tmp_path):
    import gzip
    import json

    from benchmarks.robustness import mf_table

    runs = [{"task": "t", "method": m, "seed": s, "workers": k, "values": [float(s), 50.0 + k]}
            for m in ("hpo-asha", "optuna-tpe-hyperband") for s in (0, 1) for k in (1, 4) if (m, k) != ("optuna-tpe-hyperband", 1)]
    path = tmp_path / "raw.json.gz"
    with gzip.open(path, "wt") as fh:
        json.dump(runs, fh)
    four = mf_table([str(path)])
    assert "| hpo-asha | 2 |" in four and "(1 worker)" not in four
    assert "| optuna-tpe-hyperband (one trial at a time) | 2 |" in four
    both = mf_table([str(path)], workers=(1, 4))
    assert "| hpo-asha (1 worker) | 2 |" in both and "| hpo-asha (4 workers) | 2 |" in both
    # best-known is 54 (4 workers' last value): 1 worker ends 3 points behind
    row = next(line for line in both.splitlines() if line.startswith("| hpo-asha (1 worker)"))
    assert row.split(" | ")[4] == "3 [3, 3]"  # final regret
