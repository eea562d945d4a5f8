"""The simulated-time executor: event order, clock, overhead, failures, schedulers on top."""

from __future__ import annotations

import time

import pytest

import hpo
from hpo.budget import Budget, JobBudget
from hpo.errors import HPOError
from hpo.execution.base import Failed, Finished, Reported
from hpo.execution.simulated import SimulatedExecutor
from hpo.schedulers import ASHA, FIFOScheduler
from hpo.search_spaces import Float, SearchSpace
from hpo.searchers import RandomSearcher
from hpo.study import Study
from hpo.trial import Decision, Job, Trial, TrialStatus

SPACE = {"x": Float(0.0, 1.0)}


def timed_curve(config, budget):
    """Epoch ``e`` ends at cumulative time ``(e + 1) * seconds``; reports its own trial id."""
    seconds = config.get("seconds", 10.0)
    ctx = hpo.trial_context()
    loss = None
    for epoch in range(budget.start, budget.stop):
        loss = (config["x"] - 0.3) ** 2 + 1.0 / (epoch + 1)
        hpo.report(loss=loss, time=(epoch + 1) * seconds, me=ctx.trial_id, step=epoch)
    return {"loss": loss, "time": budget.stop * seconds}


def no_time(config, budget):
    hpo.report(loss=1.0, step=0)
    return 1.0


def _job(trial_id, config, start=0, stop=3):
    return Job(Trial(trial_id, config), JobBudget(start, stop, 10))


def _drain(ex):
    out = []
    while ex.running():
        for event in ex.events(None):
            out.append((ex.clock.time(), event))
            if isinstance(event, Reported):
                ex.respond(event.trial_id, Decision.CONTINUE)
    return out


def test_reports_arrive_in_simulated_time_order():
    ex = SimulatedExecutor(n_workers=2, count_overhead=False)
    ex.start(timed_curve)
    ex.submit(_job(1, {"x": 0.1, "seconds": 10.0}))
    ex.submit(_job(2, {"x": 0.2, "seconds": 4.0}))
    events = _drain(ex)
    reports = [(t, e.trial_id, e.report.step) for t, e in events if isinstance(e, Reported)]
    assert reports == [(4.0, 2, 0), (8.0, 2, 1), (10.0, 1, 0), (12.0, 2, 2), (20.0, 1, 1), (30.0, 1, 2)]
    for _, e in events:  # each job saw its own trial context although they interleave
        if isinstance(e, Reported):
            assert e.report.metrics["me"] == e.trial_id
    finished = [(t, e.trial_id) for t, e in events if isinstance(e, Finished)]
    assert finished == [(12.0, 2), (30.0, 1)]


def test_a_resumed_job_is_timed_from_where_its_trial_stopped():
    ex = SimulatedExecutor(n_workers=1, count_overhead=False)
    ex.start(timed_curve)
    ex.submit(_job(1, {"x": 0.1, "seconds": 5.0}, 0, 2))
    _drain(ex)
    assert ex.clock.time() == 10.0
    ex.submit(_job(1, {"x": 0.1, "seconds": 5.0}, 2, 4))  # the trial's time was 10 at epoch 2
    events = _drain(ex)
    assert [t for t, e in events if isinstance(e, Reported)] == [15.0, 20.0]


def test_stop_ends_the_job_at_the_current_time():
    ex = SimulatedExecutor(n_workers=1, count_overhead=False)
    ex.start(timed_curve)
    ex.submit(_job(1, {"x": 0.1, "seconds": 5.0}, 0, 5))
    (event,) = ex.events(None)
    ex.respond(event.trial_id, Decision.STOP)
    (end,) = ex.events(None)
    assert end.decision is Decision.STOP and ex.clock.time() == 5.0 and not ex.running()


def test_missing_time_metric_fails_the_trial_with_a_clear_reason():
    ex = SimulatedExecutor(n_workers=1)
    ex.start(no_time)
    ex.submit(_job(1, {"x": 0.5}))
    (event,) = ex.events(None)
    assert isinstance(event, Failed)
    assert "'time'" in event.reason and "trial 1" in event.reason
    assert not ex.running()


def test_bad_arguments():
    with pytest.raises(HPOError, match="n_workers"):
        SimulatedExecutor(n_workers=0)
    with pytest.raises(HPOError, match="trial_timeout"):
        SimulatedExecutor(trial_timeout=5.0)


def _study(scheduler, executor, n_seconds=10.0):
    space = SearchSpace(SPACE)

    def objective(config, budget):
        return timed_curve({**config, "seconds": n_seconds}, budget)

    return Study.create(objective, space, budget=Budget(1, 9), scheduler=scheduler(RandomSearcher(space, 0)), executor=executor, seed=0)


def test_fifo_on_one_worker_takes_the_sum_of_trial_times():
    ex = SimulatedExecutor(n_workers=1, count_overhead=False)
    study = _study(FIFOScheduler, ex)
    study.optimize(n_trials=5)
    assert ex.clock.time() == pytest.approx(5 * 9 * 10.0)
    assert all(t.cost == pytest.approx(90.0) for t in study.trials)


def test_optimizer_overhead_is_added_to_the_clock():
    class SlowSearcher(RandomSearcher):
        def suggest(self, n, pending=()):
            time.sleep(0.05)
            return super().suggest(n, pending)

    space = SearchSpace(SPACE)
    ex = SimulatedExecutor(n_workers=1, count_overhead=True)
    study = Study.create(lambda c, b: timed_curve(c, b), space, budget=Budget(1, 9), scheduler=FIFOScheduler(SlowSearcher(space, 0)), executor=ex)
    study.optimize(n_trials=4)
    assert ex.overhead >= 3 * 0.05  # the first suggestion comes before the clock starts
    # each later trial starts only once its (slow) suggestion is made; overhead spent while
    # a job runs overlaps with it
    assert 4 * 90.0 + 3 * 0.05 <= ex.clock.time() <= 4 * 90.0 + ex.overhead + 1e-9


def test_asha_runs_unchanged_on_the_simulated_executor_and_is_deterministic():
    def replay():
        ex = SimulatedExecutor(n_workers=4, count_overhead=False)
        study = _study(lambda s: ASHA(s, eta=3), ex)
        result = study.optimize(n_trials=40)
        return ex.clock.time(), [(t.trial_id, t.status, t.reached, t.value) for t in result.trials], study

    clock1, trials1, study = replay()
    clock2, trials2, _ = replay()
    assert (clock1, trials1) == (clock2, trials2)
    promoted = [t for t in study.trials if t.reached > 1]
    assert promoted
    for t in promoted:  # continued for free: no epoch twice
        assert t.budget == t.reached
        assert [r.step for r in study.storage.reports(t.trial_id)] == list(range(int(t.reached)))
    assert any(t.status is TrialStatus.COMPLETED for t in study.trials)


def test_simulated_is_a_registered_executor():
    @hpo.tune(space=SPACE, metric="loss", scheduler="asha", searcher="random", budget=Budget(1, 9))
    def f(config, budget):
        return timed_curve(config, budget)

    result = f.run(n_trials=20, executor="simulated", workers=4, seed=0)
    assert result.incumbent is not None and len(result.trials) == 20


def test_trials_record_simulated_timestamps():
    ex = SimulatedExecutor(n_workers=1, count_overhead=False)
    study = Study.create(timed_curve, SPACE, budget=Budget(1, 3), searcher="random", executor=ex, seed=0)
    result = study.optimize(n_trials=3)
    ends = [t.finished_at for t in result.trials]
    assert ends == sorted(ends) and ends[-1] == pytest.approx(ex.clock.time())
    for t in result.trials:  # simulated seconds since the start, not Unix times
        assert 0.0 <= t.created_at <= t.started_at < t.finished_at <= ex.clock.time() < 1e6
