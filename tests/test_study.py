import os
import signal
import threading
import time

import pytest

import hpo
from hpo.errors import HPOError, StudyMismatchError
from hpo.search_spaces import Float, Int
from hpo.study import Study
from hpo.testing import objectives
from hpo.trial import INTERRUPTED, TrialStatus

SPACE = {"x": Float(0.0, 1.0)}


def make(objective, storage=None, executor="local", workers=2, **kw):
    kw.setdefault("searcher", "random")
    return Study.create(objective, SPACE, metric="loss", mode="min", storage=storage, executor=executor, workers=workers, seed=0, **kw)


@pytest.mark.parametrize(
    ("objective", "reason"),
    [
        (objectives.raises, r"^ValueError: bad config x=0\.\d+"),
        (objectives.returns_nan, r"'loss' is nan \(not finite\)"),
        (objectives.returns_inf, r"'loss' is inf \(not finite\)"),
        (objectives.returns_string, r"objective returned str 'not a number'; expected a number or a dict"),
        (objectives.returns_wrong_metric, r"result has no 'loss' \(keys: \['accuracy'\]\)"),
        (objectives.returns_nothing, r"returned None and never reported 'loss'"),
        (objectives.crashes, r"worker process died \(exit code 13\)"),
    ],
    ids=["raises", "nan", "inf", "wrong-type", "wrong-metric", "no-metric", "crash"],
)
def test_bad_objectives_fail_their_trials_and_the_study_goes_on(tmp_path, objective, reason):
    study = make(objective, storage=tmp_path / "s.db")
    result = study.optimize(n_trials=3)
    study.close()
    assert [t.status for t in result.trials] == [TrialStatus.FAILED] * 3
    for t in result.trials:
        assert t.reason is not None
        assert __import__("re").search(reason, t.reason), t.reason
    assert result.incumbent is None
    reread = Study.load(tmp_path / "s.db", objective=objective)
    assert [t.reason for t in reread.trials] == [t.reason for t in result.trials]
    reread.close()


def test_failed_trial_keeps_its_full_traceback(tmp_path):
    study = make(objectives.raises, storage=tmp_path / "s.db", workers=1)
    (trial,) = study.optimize(n_trials=1).trials
    assert "Traceback (most recent call last)" in trial.traceback
    assert 'raise ValueError(f"bad config' in trial.traceback
    study.close()


def test_hanging_objective_is_killed_at_its_timeout(tmp_path):
    study = make(objectives.hangs, storage=tmp_path / "s.db", workers=1, trial_timeout=0.5)
    start = time.monotonic()
    result = study.optimize(n_trials=2)
    assert time.monotonic() - start < 30
    assert all("timed out after 0.5 s" in t.reason for t in result.trials)
    study.close()


def test_mixed_failures_do_not_stop_the_study():
    def sometimes(config):
        if config["x"] < 0.3:
            raise RuntimeError("unlucky")
        return config["x"]

    result = make(sometimes, executor="inprocess", workers=1).optimize(n_trials=20)
    counts = result.counts()
    assert counts["FAILED"] >= 1 and counts["COMPLETED"] >= 1
    assert counts["FAILED"] + counts["COMPLETED"] == 20
    assert result.incumbent.value == min(t.value for t in result.trials if t.status is TrialStatus.COMPLETED)


def test_incumbent_tracks_mode():
    def f(config):
        return {"score": config["x"]}

    for mode, pick in (("min", min), ("max", max)):
        study = Study.create(f, SPACE, metric="score", mode=mode, executor="inprocess", seed=1)
        result = study.optimize(n_trials=10)
        assert result.incumbent.value == pick(t.value for t in result.trials)


def test_reports_reach_the_scheduler_and_storage(tmp_path):
    study = Study.create(
        objectives.curve, SPACE, metric="loss", budget=hpo.Budget(1, 5), storage=tmp_path / "s.db", seed=0
    )
    result = study.optimize(n_trials=2)
    for t in result.trials:
        reports = study.storage.reports(t.trial_id)
        assert [r.step for r in reports] == [0, 1, 2, 3, 4]
        assert t.budget == 5 and t.last_step == 4
        assert t.value == pytest.approx(reports[-1].metrics["loss"])
    study.close()


def test_scheduler_stop_prunes_the_trial_early():
    from hpo.schedulers import FIFOScheduler
    from hpo.searchers import RandomSearcher
    from hpo.trial import Decision

    class StopAtTwo(FIFOScheduler):
        def on_report(self, trial, report):
            return Decision.STOP if report.step >= 2 else Decision.CONTINUE

    from hpo.search_spaces import SearchSpace

    scheduler = StopAtTwo(RandomSearcher(SearchSpace(SPACE), 0))
    study = Study.create(objectives.curve, SPACE, budget=hpo.Budget(1, 20), scheduler=scheduler, executor="local")
    result = study.optimize(n_trials=3)
    for t in result.trials:
        assert t.status is TrialStatus.PRUNED and t.last_step == 2 and t.budget == 3
    assert result.incumbent is None


def test_timeout_and_max_budget_stop_the_study():
    def slow(config):
        time.sleep(0.2)
        return config["x"]

    result = make(slow, executor="inprocess", workers=1).optimize(timeout=0.7)
    assert result.stop_reason == "timeout"
    assert 2 <= len(result.trials) <= 5
    study = Study.create(objectives.curve, SPACE, budget=hpo.Budget(1, 4), executor="inprocess", seed=0)
    result = study.optimize(max_budget=10)
    assert result.stop_reason == "max_budget"
    assert sum(t.budget for t in result.trials) == 12  # 3 trials x 4 epochs: the third crossed the limit


def test_bad_stopping_rules_are_rejected():
    study = make(objectives.quadratic, executor="inprocess")
    with pytest.raises(HPOError, match="n_trials must be positive"):
        study.optimize(n_trials=0)
    with pytest.raises(HPOError, match="timeout must be positive"):
        study.optimize(timeout=-1)


def test_bad_mode_and_metric():
    with pytest.raises(HPOError, match="mode must be 'min' or 'max'"):
        Study.create(objectives.quadratic, SPACE, mode="minimize")
    with pytest.raises(HPOError, match="metric must be a non-empty string"):
        Study.create(objectives.quadratic, SPACE, metric="")


def test_ctrl_c_stops_cleanly_and_resume_finishes(tmp_path):
    path = tmp_path / "s.db"

    def slow(config):
        time.sleep(0.3)
        return config["x"]

    study = make(slow, storage=path, executor="inprocess", workers=2)
    # A shell's background jobs inherit SIGINT ignored; act as a terminal's foreground would.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(1.0, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    try:
        result = study.optimize(n_trials=20)
    finally:
        signal.signal(signal.SIGINT, previous)
    study.close()
    assert result.stop_reason == "interrupted"
    completed = {t.trial_id: t for t in result.trials if t.status is TrialStatus.COMPLETED}
    interrupted = [t for t in result.trials if t.reason == INTERRUPTED]
    assert 1 <= len(completed) < 20 and len(interrupted) >= 1
    queued = [t for t in result.trials if t.requeued_from is not None]
    assert {t.requeued_from for t in queued} == {t.trial_id for t in interrupted}
    assert all(q.config == result.trials[q.requeued_from - 1].config for q in queued)

    again = Study.load(path, objective=slow, executor="inprocess")
    final = again.optimize(n_trials=20)
    again.close()
    assert len([t for t in final.trials if t.status.is_finished and t.counts_toward_limit]) == 20
    for trial_id, t in completed.items():
        assert final.trials[trial_id - 1] == t  # untouched, not re-run


def test_existing_file_with_another_study_is_not_overwritten(tmp_path):
    path = tmp_path / "s.db"
    first = make(objectives.quadratic, storage=path, executor="inprocess", name="first")
    first.optimize(n_trials=2)
    first.close()
    with pytest.raises(StudyMismatchError, match="already holds study 'first'"):
        make(objectives.quadratic, storage=path, executor="inprocess", name="second")
    with pytest.raises(StudyMismatchError, match="different"):
        Study.create(
            objectives.quadratic, {"y": Int(0, 3)}, storage=path, name="first", executor="inprocess", load_if_exists=True
        )
    kept = Study.load(path, objective=objectives.quadratic, executor="inprocess")
    assert len(kept.trials) == 2
    kept.close()


def test_enqueue_validates_the_config():
    study = make(objectives.quadratic, executor="inprocess")
    with pytest.raises(hpo.ConfigError, match="'x'"):
        study.enqueue({"x": 5.0})


def test_resume_at_the_limit_starts_no_trial_beyond_it(tmp_path):
    """A dead driver left the last trial RUNNING: resume re-runs it and starts nothing more.

    The re-queued copy must be queued once, not once by the recovery and again as a
    PENDING trial (a stale second entry let a free worker start trial n_trials + 1).
    """
    path = tmp_path / "s.db"
    study = make(objectives.quadratic, storage=path, executor="inprocess")
    study.optimize(n_trials=4)
    last = study.trials[-1]
    study.storage.update_trial(last.evolve(status=TrialStatus.RUNNING, finished_at=None))  # as a SIGKILL leaves it
    study.close()

    again = Study.load(path, objective=objectives.quadratic, executor="inprocess", workers=2)
    final = again.optimize(n_trials=4)
    again.close()
    counted = [t for t in final.trials if t.counts_toward_limit]
    assert len(counted) == 4 and all(t.status is TrialStatus.COMPLETED for t in counted)
    assert [t.requeued_from for t in final.trials if t.requeued_from is not None] == [last.trial_id]
    assert counted[-1].config == last.config
