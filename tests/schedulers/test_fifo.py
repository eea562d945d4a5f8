from hpo.budget import Budget
from hpo.schedulers import FIFOScheduler
from hpo.testing import SchedulerContract


class TestFIFOScheduler(SchedulerContract):
    def make_scheduler(self, searcher, budget: Budget):
        return FIFOScheduler(searcher)

    def test_every_job_gets_the_full_budget(self):
        study, rec = self._study()
        result = study.optimize(n_trials=5)
        assert [(j.budget.start, j.budget.stop) for j in rec.jobs] == [(0, 9)] * 5
        assert all(t.budget == 9 for t in result.trials)
