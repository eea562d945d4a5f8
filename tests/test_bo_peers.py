"""The BO suite's library peers: the ask/tell pipe to ``.venv-peers``, SMAC3, HEBO and Syne Tune.

The pipe is tested with the child's numpy-only ``random`` method and with fake children run
by this interpreter; SMAC3 runs in-process; HEBO and Syne Tune are skipped with the reason
when the peers' environment lacks them (a failure instead under ``HPO_PEERS_STRICT=1``, which
``make bench-peers`` sets after installing them).
"""

from __future__ import annotations

import importlib.util
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmarks.peers import ROOT, peer_unavailable
from benchmarks.peers._pipe import CHILD, active_config, ask_tell
from benchmarks.peers.bo_child import flat_params

CONDITIONAL = {
    "model": {
        "type": "choice",
        "options": {
            "a": {"a_x": {"type": "float", "low": 0.0, "high": 1.0, "log": False, "step": None}},
            "b": {"b_n": {"type": "int", "low": 1, "high": 64, "log": True, "step": 1},
                  "b_c": {"type": "categorical", "choices": ["u", "v"]}},
        },
    },
    "lr": {"type": "float", "low": 1e-4, "high": 1.0, "log": True, "step": None},
}


def missing_peer(why: str) -> None:
    """Skip for a peer library that is not installed; fail under ``HPO_PEERS_STRICT=1`` (``make bench-peers``)."""
    if os.environ.get("HPO_PEERS_STRICT") == "1":
        pytest.fail(f"HPO_PEERS_STRICT=1 (make bench-peers installed the peers), but {why}")
    pytest.skip(why)


def test_the_flat_union_holds_the_branch_choice_and_every_branch_parameter():
    params, fixed = flat_params(CONDITIONAL)
    assert set(params) == {"model", "a_x", "b_n", "b_c", "lr"} and fixed == {}
    assert params["model"] == {"type": "categorical", "choices": ["a", "b"]}


def test_active_config_keeps_only_the_chosen_branch():
    flat = {"model": "b", "a_x": 0.5, "b_n": 3, "b_c": "u", "lr": 0.01}
    assert active_config(CONDITIONAL, flat) == {"model": "b", "b_n": 3, "b_c": "u", "lr": 0.01}


def test_the_child_imports_nothing_from_hpo():
    code = f"import sys, {CHILD}; sys.exit(any(m == 'hpo' or m.startswith('hpo.') for m in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0


def test_the_pipe_asks_evals_times_and_tells_each_value_back():
    from hpo.search_spaces import SearchSpace

    space = SearchSpace(CONDITIONAL)
    seen = []

    def evaluate(config):
        active = active_config(CONDITIONAL, config)
        assert space.contains(active)
        seen.append(active)
        return float(len(seen))

    request = {"method": "random", "seed": 3, "space": CONDITIONAL, "evals": 12}
    values, seconds = ask_tell([sys.executable, "-m", CHILD], request, evaluate, timeout=60)
    assert values == [float(i) for i in range(1, 13)] and len(seconds) == 12
    assert {c["model"] for c in seen} == {"a", "b"}  # both branches drawn in 12 tries (seed 3)
    again, _ = ask_tell([sys.executable, "-m", CHILD], request, lambda c: 0.0, timeout=60)
    assert len(again) == 12


def _fake_child(tmp_path: Path, body: str) -> list[str]:
    script = tmp_path / "child.py"
    script.write_text("import json, sys, time\nsys.stdin.readline()\n" + body)
    return [sys.executable, str(script)]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("sys.stderr.write('boom: no such optimizer\\n'); sys.exit(3)", "boom: no such optimizer"),
        ("print('hello', flush=True); time.sleep(30)", "not a JSON line"),
        ("print(json.dumps({'what': 1}), flush=True); time.sleep(30)", "unexpected message"),
        ("time.sleep(30)", "no message within"),
        ("print(json.dumps({'ask': {'x': 1}}), flush=True); sys.exit(0)", "ended before it was done"),
    ],
)
def test_a_failing_or_rude_child_raises_with_its_stderr(tmp_path, body, message):
    with pytest.raises(RuntimeError, match=message):
        ask_tell(_fake_child(tmp_path, body), {"evals": 1}, lambda c: 0.0, timeout=2)


def _check(run: dict, evals: int) -> None:
    assert len(run["regret"]) == evals and len(run["times"]) == evals
    assert all(math.isfinite(r) and r >= -1e-9 for r in run["regret"])
    assert all(a >= b for a, b in zip(run["regret"], run["regret"][1:], strict=False))  # best so far


@pytest.mark.parametrize("problem", ["branin", "conditional"])
def test_smac_hpo_runs_its_evaluations_with_finite_regret(problem):
    from benchmarks.bo import run_one, unavailable

    if why := unavailable("smac-hpo"):
        missing_peer(why)
    _check(run_one(problem, "smac-hpo", 0, 8), 8)


def test_smac_configspace_conditions_each_branch_parameter_on_the_choice():
    from benchmarks.peers.smac_hpo import configspace
    from hpo.search_spaces import SearchSpace

    if importlib.util.find_spec("ConfigSpace") is None:
        missing_peer("ConfigSpace (installed with smac) is not installed")
    cs = configspace(SearchSpace(CONDITIONAL), seed=0)
    assert {c.child.name: (c.parent.name, c.value) for c in cs.conditions} == {
        "a_x": ("model", "a"), "b_n": ("model", "b"), "b_c": ("model", "b")}
    assert cs["b_n"].log and cs["lr"].log


@pytest.mark.parametrize(
    ("method", "problem"),
    [pytest.param("hebo", "branin", marks=pytest.mark.slow), ("synetune-bo", "conditional")],  # hebo: ~1 min
)
def test_peers_env_methods_run_over_the_pipe(method, problem):
    from benchmarks.bo import run_one, unavailable

    if why := unavailable(method):
        missing_peer(why)
    _check(run_one(problem, method, 0, 5), 5)


def test_a_failed_peers_install_names_pips_error_line(tmp_path, monkeypatch):
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(sys.executable)
    monkeypatch.setenv("HPO_PEERS_PYTHON", str(venv / "bin" / "python"))
    assert peer_unavailable("json") is None
    why = peer_unavailable("no_such_peer_module")
    assert "No module named 'no_such_peer_module'" in why and "make bench-peers` failed" not in why
    (venv / "install-error.txt").write_text("ERROR: No matching distribution found for hebo==9.9\n")
    why = peer_unavailable("no_such_peer_module")
    assert why.endswith("; `make bench-peers` failed: ERROR: No matching distribution found for hebo==9.9")
    monkeypatch.setenv("HPO_PEERS_PYTHON", str(tmp_path / "none" / "python"))
    assert "run `make bench-peers`" in peer_unavailable("json")


def test_a_child_gone_before_the_tell_raises_a_runtime_error_not_a_broken_pipe(tmp_path):
    # The race CI once hit: the child exits after its ask, and the parent's tell meets a closed
    # pipe before it reads the EOF. Evaluating slowly makes the race certain.
    argv = _fake_child(tmp_path, "print(json.dumps({'ask': {'x': 1}}), flush=True); sys.stderr.write('bye\\n')")

    def slow(config):
        time.sleep(1.0)
        return 0.0

    with pytest.raises(RuntimeError, match=r"ended before it was done[\s\S]*bye"):
        ask_tell(argv, {"evals": 1}, slow, timeout=5)
