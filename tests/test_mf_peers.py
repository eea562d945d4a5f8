"""The multi-fidelity suite's library peers (SMAC3 here; Syne Tune and DEHB in the peers' environment).

Each runs one LCBench task with a tiny epoch budget; a peer whose library is missing is
skipped with the reason (a failure instead under ``HPO_PEERS_STRICT=1``, which ``make bench-peers``
sets after installing them).
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from benchmarks.lcbench import EPOCHS, PARAMS, LCBench, benchdata_dir
from benchmarks.multifidelity import run_one, unavailable

pytestmark = pytest.mark.skipif(
    not (benchdata_dir() / "yahpo_lcbench" / "model.onnx").exists(), reason="LCBench surrogate data not found"
)
TASK = "3945"


def missing_peer(why: str) -> None:
    """Skip for a peer library that is not installed; fail under ``HPO_PEERS_STRICT=1`` (``make bench-peers``)."""
    if os.environ.get("HPO_PEERS_STRICT") == "1":
        pytest.fail(f"HPO_PEERS_STRICT=1 (make bench-peers installed the peers), but {why}")
    pytest.skip(why)


def _check_trace(run: dict, budget: int) -> None:
    values = np.asarray(run["values"])
    assert 0 < len(values) <= budget  # epochs of every evaluation together, cut at the budget
    assert np.all((values >= 0.0) & (values <= 100.0))  # LCBench's val_accuracy is in percent
    assert run["n_trials"] >= 1


def test_smac_mf_spends_at_most_its_epoch_budget_training_from_scratch():
    if why := unavailable("smac-mf"):
        missing_peer(why)
    run = run_one(TASK, "smac-mf", seed=0, epochs=200)
    _check_trace(run, 200)
    assert len(run["values"]) == 200 and run["n_evaluations"] >= run["n_trials"]


def test_a_from_scratch_evaluation_pays_every_epoch_again_up_to_the_budget():
    from benchmarks.peers._ledger import EpochLedger

    bench = LCBench(TASK)
    config = {name: (low if kind == "int" else (low * high) ** 0.5 if log else (low + high) / 2)
              for name, (kind, low, high, log) in PARAMS.items()}
    curve, _ = bench.segment(config, 0, EPOCHS)
    ledger = EpochLedger(bench, epochs=10)
    assert ledger.train_from_scratch(config, 2) == pytest.approx(curve[1])
    assert ledger.train_from_scratch(config, 6) == pytest.approx(curve[5])  # promoted: epochs 1..6 again
    assert ledger.values == curve[:2] + curve[:6] and not ledger.spent
    ledger.train_from_scratch(config, 17)
    assert ledger.values == curve[:2] + curve[:6] + curve[:2] and ledger.spent  # cut at the budget
    assert ledger.n_evaluations == 3


def test_dehb_in_the_peers_environment_spends_exactly_its_epoch_budget():
    from benchmarks.peers import peer_unavailable

    if why := peer_unavailable("dehb"):
        missing_peer(why)
    run = run_one(TASK, "dehb", seed=1, epochs=120)  # through run_child, as the suite runs it
    _check_trace(run, 120)
    assert len(run["values"]) == 120 and run["n_evaluations"] >= run["n_trials"]


def test_syne_tune_methods_on_the_simulator_spend_exactly_their_epoch_budget():
    from benchmarks.peers import peer_unavailable, run_child

    if why := peer_unavailable("syne_tune"):
        missing_peer(why)
    methods = ("synetune-mobster", "synetune-hypertune", "synetune-bohb")
    requests = [{"method": m, "task": TASK, "seed": 1, "epochs": 60, "workers": 4} for m in methods]
    runs = run_child("benchmarks.peers.mf_child", {"requests": requests})["results"]  # one process: one import
    for run in runs:
        _check_trace(run, 60)
        assert len(run["values"]) == len(run["sim_times"]) == 60 and min(run["sim_times"]) > 0  # simulated seconds
        assert run["restarts"] == 0  # stopping-type schedulers never retrain an epoch


def test_plain_data_space_matches_the_search_space():
    space = LCBench.space()
    assert list(space) == list(PARAMS)
    for name, (kind, low, high, log) in PARAMS.items():
        assert (space[name].low, space[name].high, space[name].log) == (low, high, log)
        assert type(space[name]).__name__ == {"int": "Int", "float": "Float"}[kind]
    assert EPOCHS == 52


def test_report_adds_a_half_budget_line_per_library_peer(tmp_path):
    from benchmarks.mf_report import report

    epochs = 120
    ramp = list(np.linspace(50.0, 90.0, epochs))
    runs = [
        {"task": "t", "method": "hpo-asha", "seed": 0, "workers": 4, "values": ramp, "wall": 0.0},
        {"task": "t", "method": "ray-asha", "seed": 0, "workers": 4, "values": [60.0] * epochs, "wall": 0.0},
        {"task": "t", "method": "dehb", "seed": 0, "workers": 4, "values": [80.0] * epochs, "wall": 0.0},
        {"task": "t", "method": "smac-mf", "seed": 0, "workers": 4, "values": [89.0] * epochs, "wall": 0.0},
    ]
    text = report(runs, {"t": 90.0}, epochs, ["cmd"], "test machine", tmp_path, unavailable={"synetune-bohb": "no syne_tune"})
    assert "- Not run: `synetune-bohb`: no syne_tune" in text
    header = next(line for line in text.splitlines() if line.startswith("| task | best-known |"))
    assert header.endswith("| ray-asha | dehb | smac-mf |") and "| t | 90.00 |" in text
    # 80 is reached at epoch 91 > 60 (1/2 of 120): not in time; 89 at epoch 118: not in time either
    assert "- `dehb`: 0/1 tasks (none)." in text and "- `smac-mf`: 0/1 tasks (none)." in text
    # smac-mf ends at regret 1 against hpo-asha's 0 (ramp to 90); ray-asha at 30
    assert "- `smac-mf` (seeds: 1): 0/1 tasks." in text and "- `ray-asha` (seeds: 1): 0/1 tasks." in text
    runs[0]["values"] = list(np.linspace(50.0, 85.0, epochs))
    text = report(runs, {"t": 90.0}, epochs, ["cmd"], "test machine", tmp_path)
    assert "- `smac-mf` (seeds: 1): 1/1 tasks: t 1 against 5." in text
    runs[0]["values"] = ramp
    runs[2]["values"] = [60.0] * epochs
    text = report(runs, {"t": 90.0}, epochs, ["cmd"], "test machine", tmp_path)
    assert "- `dehb`: 1/1 tasks (t)." in text and "Not run" not in text


def test_report_names_the_run_that_set_each_best_known_value(tmp_path):
    from benchmarks.lcbench_corners import corners, task_row
    from benchmarks.mf_report import report
    from benchmarks.multifidelity import reference_best

    corner, random_best, n_above, config = task_row(TASK)
    assert len(corners()) == 2 ** len(PARAMS) and config in corners()
    assert n_above == 0 or corner > random_best
    ref = reference_best(TASK)
    epochs = 60
    runs = [
        {"task": TASK, "method": "hpo-asha", "seed": 0, "workers": 4, "values": [ref - 1.0] * epochs, "wall": 0.0},
        {"task": TASK, "method": "dehb", "seed": 3, "workers": 4, "values": [ref - 2.0] * epochs, "wall": 0.0},
    ]
    line = next(x for x in report(runs, {TASK: ref}, epochs, ["cmd"], "m", tmp_path).splitlines() if x.startswith(f"| {TASK} | {ref:.2f}"))
    assert line.endswith("| the random reference |")  # no run beat the 20,000 random configs
    runs[1]["values"] = [ref + 0.5] * epochs
    line = next(x for x in report(runs, {TASK: ref}, epochs, ["cmd"], "m", tmp_path).splitlines() if x.startswith(f"| {TASK} | {ref:.2f}"))
    assert line.endswith(f"| {ref + 0.5:.2f} | `dehb`, seed 3 |")
