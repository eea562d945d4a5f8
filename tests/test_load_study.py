"""``hpo.load_study``: a read-only view of a study file, also while a driver runs it."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import pytest

import hpo
from hpo.errors import StorageLockedError
from hpo.trial import TrialStatus

DRIVER = textwrap.dedent(
    """
    import sys, time
    import hpo
    from hpo.search_spaces import Float

    @hpo.tune(space={"x": Float(0.0, 1.0)}, metric="loss", budget=hpo.Budget(1, 3), searcher="random")
    def slow(config, budget):
        for epoch in range(budget.start, budget.stop):
            time.sleep(0.15)
            hpo.report(loss=(config["x"] - 0.3) ** 2 + 1.0 / (epoch + 1), step=epoch)
        return {"loss": (config["x"] - 0.3) ** 2}

    slow.run(n_trials=12, executor="inprocess", storage=sys.argv[1], seed=0)
    """
)


def test_a_second_process_reads_the_study_while_the_driver_runs_it(tmp_path):
    path = tmp_path / "live.db"
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    driver = subprocess.Popen([sys.executable, str(script), str(path)], cwd=tmp_path)
    try:
        seen_running = None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and driver.poll() is None:
            if path.exists():
                try:
                    snap = hpo.load_study(path)
                except hpo.StorageError:
                    snap = None  # the driver has not created the study yet
                if snap is not None and snap.stop_reason == "running" and snap.counts().get("COMPLETED", 0) >= 2:
                    seen_running = snap
                    break
            time.sleep(0.05)
        assert seen_running is not None, "never saw the study while it ran"
        assert driver.poll() is None  # the driver was still running: the reader took no lock
        running = [t for t in seen_running.trials if t.status is TrialStatus.RUNNING]
        assert running and seen_running.incumbent is not None
        done = [t for t in seen_running.trials if t.status is TrialStatus.COMPLETED]
        assert [r.step for r in seen_running.reports(done[0].trial_id)] == [0, 1, 2]
        with pytest.raises(StorageLockedError, match="load_study"):
            hpo.Study.load(path)  # continuing needs the lock, and says how to read instead
        assert driver.wait(timeout=120) == 0
    finally:
        if driver.poll() is None:
            driver.kill()
    final = hpo.load_study(path)
    assert final.stop_reason is None and final.counts() == {"COMPLETED": 12}
    frame = final.to_dataframe()
    assert len(frame) == 12 and {"trial_id", "value", "reached", "config.x"} <= set(frame.columns)
    assert final.incumbent.value == min(t.value for t in final.trials)


def test_load_study_names_a_missing_file(tmp_path):
    with pytest.raises(hpo.StorageError, match="no study database"):
        hpo.load_study(tmp_path / "nothing.db")
