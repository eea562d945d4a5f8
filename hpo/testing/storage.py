"""``StorageContract``: behaviour every storage must have."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from hpo._reevaluation import ReevalRecord
from hpo.errors import StorageError, StudyMismatchError
from hpo.storage.base import BaseStorage, StudySpec
from hpo.trial import Observation, Report, TrialStatus

SPEC = StudySpec(
    name="contract",
    metric="loss",
    mode="min",
    space={"x": {"type": "float", "low": 0.0, "high": 1.0, "log": False, "step": None}},
    budget={"min": 1, "max": 9},
    objective="pkg.mod:f",
    settings={"seed": 3, "scheduler": "fifo"},
    created_at=1.0,
)


class StorageContract:
    """Subclass and implement :meth:`make_storage`; durable storages also :meth:`reopen`."""

    def make_storage(self, path: Path) -> BaseStorage:
        raise NotImplementedError

    def reopen(self, path: Path) -> BaseStorage:
        raise NotImplementedError

    @pytest.fixture
    def storage(self, tmp_path):  # type: ignore[no-untyped-def]
        s = self.make_storage(tmp_path / "study.db")
        yield s
        s.close()

    def test_empty_then_created_study(self, storage: BaseStorage) -> None:
        assert storage.load_study() is None
        storage.create_study(SPEC)
        assert storage.load_study() == SPEC

    def test_second_study_is_refused(self, storage: BaseStorage) -> None:
        storage.create_study(SPEC)
        with pytest.raises(StudyMismatchError, match="contract"):
            storage.create_study(SPEC)
        assert storage.load_study() == SPEC

    def test_settings_update(self, storage: BaseStorage) -> None:
        storage.create_study(SPEC)
        storage.update_settings({"seed": 3, "n_trials": 40})
        assert storage.load_study().settings == {"seed": 3, "n_trials": 40}  # type: ignore[union-attr]

    def test_trials_round_trip(self, storage: BaseStorage) -> None:
        storage.create_study(SPEC)
        a = storage.create_trial({"x": 0.25})
        b = storage.create_trial({"x": 0.75}, requeued_from=a.trial_id)
        assert b.trial_id > a.trial_id and a.status is TrialStatus.PENDING
        done = a.evolve(
            status=TrialStatus.COMPLETED,
            value=0.5,
            metrics={"loss": 0.5, "acc": 0.9},
            budget=9.0,
            cost=1.5,
            started_at=10.0,
            finished_at=11.5,
            last_step=8,
            worker="pid=1",
            reached=9.0,
            restarts=1,
            retries=2,
            parent=None,
            notes={"replaces": 3},
        )
        storage.update_trial(done)
        failed = b.evolve(status=TrialStatus.FAILED, reason="ValueError: x", traceback="Traceback ...")
        storage.update_trial(failed)
        assert storage.trials() == [done, failed]
        assert storage.trials()[1].requeued_from == a.trial_id

    def test_reports_keep_order_and_nan(self, storage: BaseStorage) -> None:
        storage.create_study(SPEC)
        t = storage.create_trial({"x": 0.5})
        reports = [Report(0, {"loss": 1.0}, 0.1), Report(1, {"loss": float("nan")}, 0.2), Report(2, {"loss": 0.5}, 0.3)]
        for r in reports:
            storage.add_report(t.trial_id, r)
        got = storage.reports(t.trial_id)
        assert [r.step for r in got] == [0, 1, 2]
        assert math.isnan(got[1].metrics["loss"]) and got[2] == reports[2]

    def test_all_reports_at_once_match_each_trials_reports(self, storage: BaseStorage) -> None:
        storage.create_study(SPEC)
        a, b, c = (storage.create_trial({"x": x}) for x in (0.1, 0.2, 0.3))
        for trial, step in ((b, 0), (a, 0), (b, 1), (a, 1), (b, 2)):
            storage.add_report(trial.trial_id, Report(step, {"loss": float(step)}, 0.1 * step))
        everything = storage.all_reports()
        assert set(everything) == {a.trial_id, b.trial_id}  # c has none
        for trial in (a, b):
            assert everything[trial.trial_id] == storage.reports(trial.trial_id)
        assert [r.step for r in everything[b.trial_id]] == [0, 1, 2] and storage.reports(c.trial_id) == []

    def test_several_objectives_in_the_spec(self, storage: BaseStorage) -> None:
        spec = StudySpec(**{**SPEC.__dict__, "metric": ["loss", "latency_ms"], "mode": ["min", "min"]})
        storage.create_study(spec)
        got = storage.load_study()
        assert got is not None and got.metrics == ("loss", "latency_ms") and got.modes == ("min", "min")

    def test_observations_keep_order_and_every_field(self, storage: BaseStorage) -> None:
        storage.create_study(SPEC)
        t = storage.create_trial({"x": 0.5})
        first = Observation(t.trial_id, {"x": 0.5}, TrialStatus.PAUSED, 3.0, {"loss": 0.7, "mem": 2}, 1.5, (0.7,))
        second = Observation(t.trial_id, {"x": 0.5}, TrialStatus.FAILED, 5.0, {}, 2.5, None, "MemoryError: oom")
        storage.add_observation(first)
        storage.add_observation(second)
        assert storage.observations() == [first, second]

    def test_reevaluations_replace_by_trial_and_seed(self, storage: BaseStorage) -> None:
        storage.create_study(SPEC)
        a, b = storage.create_trial({"x": 0.2}), storage.create_trial({"x": 0.8})
        assert storage.reevaluations() == []
        first = ReevalRecord(b.trial_id, 11, 0.5, "COMPLETED", None, 1.0)
        failed = ReevalRecord(a.trial_id, 11, None, "FAILED", "ValueError: seed 11", 2.0)
        storage.add_reevaluation(first)
        storage.add_reevaluation(failed)
        storage.add_reevaluation(ReevalRecord(a.trial_id, 10, 0.25, "COMPLETED", None, 3.0))
        again = ReevalRecord(b.trial_id, 11, 0.75, "COMPLETED", None, 4.0)
        storage.add_reevaluation(again)  # the same trial and seed: the newer run replaces it
        got = storage.reevaluations()
        assert [(r.trial_id, r.seed) for r in got] == [(a.trial_id, 10), (a.trial_id, 11), (b.trial_id, 11)]
        assert got[1] == failed and got[2] == again
        with pytest.raises(StorageError, match="trial 99"):
            storage.add_reevaluation(ReevalRecord(99, 1, 0.0))

    def test_durable_across_reopen(self, tmp_path: Path) -> None:
        path = tmp_path / "durable.db"
        first = self.make_storage(path)
        if not first.durable:
            first.close()
            pytest.skip("storage is not durable")
        first.create_study(SPEC)
        t = first.create_trial({"x": 0.1})
        first.update_trial(t.evolve(status=TrialStatus.RUNNING))
        first.add_report(t.trial_id, Report(0, {"loss": 2.0}, 0.0))
        first.add_reevaluation(ReevalRecord(t.trial_id, 10_000, 1.5, "COMPLETED", None, 5.0))
        first.close()
        second = self.reopen(path)
        try:
            assert second.load_study() == SPEC
            assert [x.status for x in second.trials()] == [TrialStatus.RUNNING]
            assert second.reports(t.trial_id)[0].metrics == {"loss": 2.0}
            assert second.reevaluations() == [ReevalRecord(t.trial_id, 10_000, 1.5, "COMPLETED", None, 5.0)]
        finally:
            second.close()
