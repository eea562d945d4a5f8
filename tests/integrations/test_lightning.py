"""``hpo.integrations.lightning``: a tiny Lightning regression inside real studies.

Each fit is a linear model on 64 synthetic points (4 batches an epoch), well under a second.
Lightning is in the ``test`` extra (``hyperbandit[lightning]`` for users).
"""

from __future__ import annotations

import os

import lightning as L
import pytest
import torch

import hpo
from hpo import _runtime
from hpo.budget import Budget, JobBudget
from hpo.errors import ObjectiveError, SettingError
from hpo.integrations.lightning import HPOCallback, HPOCallbackWarning, resume_path
from hpo.schedulers.asha import ASHA
from hpo.schedulers.fifo import FIFOScheduler
from hpo.search_spaces import Float, SearchSpace
from hpo.searchers.random import RandomSearcher
from hpo.study import Study
from hpo.trial import Decision, TrialStatus

# Lightning 2.6's CombinedLoader still builds torch's deprecated ``LeafSpec`` (torch >= 2.10).
pytestmark = pytest.mark.filterwarnings("ignore:`isinstance\\(treespec, LeafSpec\\)` is deprecated:FutureWarning")

SPACE = {"lr": Float(1e-3, 0.3, log=True)}
BATCHES_PER_EPOCH = 4


class Regression(L.LightningModule):
    """Linear regression that counts the training batches it has seen (saved in its state)."""

    def __init__(self, lr: float) -> None:
        super().__init__()
        self.lr = lr
        self.net = torch.nn.Linear(4, 1)
        self.register_buffer("batches_seen", torch.zeros((), dtype=torch.long))

    def training_step(self, batch, batch_idx):
        x, y = batch
        self.batches_seen += 1
        return torch.nn.functional.mse_loss(self.net(x).squeeze(-1), y)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", torch.nn.functional.mse_loss(self.net(x).squeeze(-1), y))
        self.log("batches_seen", self.batches_seen.float())

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.lr)


def _loader():
    from torch.utils.data import DataLoader, TensorDataset

    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 4, generator=g)
    y = x @ torch.tensor([1.0, -2.0, 0.5, 0.0]) + 0.1 * torch.randn(64, generator=g)
    return DataLoader(TensorDataset(x, y), batch_size=64 // BATCHES_PER_EPOCH)


def _trainer(budget, callback=None):
    return L.Trainer(
        max_epochs=int(budget.stop),
        callbacks=[callback or HPOCallback(monitor="val_loss", extra_metrics=["batches_seen"])],
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )


def train(config, budget):
    """The user's train function: the callback, plus ``ckpt_path=resume_path()``."""
    torch.set_num_threads(1)
    model = Regression(config["lr"])
    trainer = _trainer(budget)
    trainer.fit(model, _loader(), _loader(), ckpt_path=resume_path())
    return {"val_loss": trainer.callback_metrics["val_loss"].item(), "global_step": trainer.global_step}


def test_asha_study_reports_each_epoch_and_promoted_trials_resume_from_their_checkpoint(tmp_path):
    space = SearchSpace(SPACE)
    path = tmp_path / "lightning.db"
    study = Study.create(
        train, space, metric="val_loss", mode="min", budget=Budget(1, 9),
        scheduler=ASHA(RandomSearcher(space, 0), eta=3), executor="local", workers=1, storage=str(path), seed=0,
    )
    try:
        study.optimize(n_trials=6)
    finally:
        study.close()
    result = hpo.load_study(path)
    assert {t.status for t in result.trials} <= {TrialStatus.PAUSED, TrialStatus.COMPLETED}, result.counts()
    early = [t for t in result.trials if t.reached < 9]
    promoted = [t for t in result.trials if t.reached > 1]
    assert early and promoted
    for trial in result.trials:
        reports = result.reports(trial.trial_id)
        # one report per epoch, never an epoch redone after a promotion
        assert [r.step for r in reports] == list(range(int(trial.reached)))
        assert all("val_loss" in r.metrics for r in reports)
        # the batch counter in the model's state continued across the pauses
        assert [r.metrics["batches_seen"] for r in reports] == [BATCHES_PER_EPOCH * (e + 1) for e in range(int(trial.reached))]
        assert trial.metrics["global_step"] == BATCHES_PER_EPOCH * trial.reached
        assert trial.restarts == 0 and trial.budget == trial.reached
    for trial in early:  # paused at a rung below the full budget: stopped early
        assert len(result.reports(trial.trial_id)) < 9
    folder = path.with_suffix(".artifacts") / f"trial_{promoted[0].trial_id}"
    ckpts = [f for f in os.listdir(folder) if f.endswith(".ckpt")]
    assert ckpts == [f"lightning-epoch{int(promoted[0].reached)}.ckpt"]  # older ones removed


class StopAtTwo(FIFOScheduler):
    def on_report(self, trial, report):
        return Decision.STOP if report.step >= 2 else Decision.CONTINUE


def test_a_stop_decision_propagates_out_of_fit_and_prunes_the_trial(tmp_path):
    space = SearchSpace(SPACE)
    study = Study.create(
        train, space, metric="val_loss", mode="min", budget=Budget(1, 8), scheduler=StopAtTwo(RandomSearcher(space, 0)),
        executor="inprocess", storage=str(tmp_path / "stop.db"), seed=0,
    )
    try:
        result = study.optimize(n_trials=2)
    finally:
        study.close()
    for trial in result.trials:
        assert trial.status is TrialStatus.PRUNED and trial.last_step == 2
        assert [r.step for r in result.reports(trial.trial_id)] == [0, 1, 2]


class _Channel:
    def __init__(self, decide):
        self.decide = decide
        self.steps: list[float] = []

    def report(self, report):
        self.steps.append(report.step)
        return self.decide(report)


def _job(folder, start, stop, decide=lambda r: Decision.CONTINUE, ckpt=True, callback=None):
    channel = _Channel(decide)
    context = _runtime.TrialContext(1, {"lr": 0.05}, JobBudget(start, stop, 9), str(folder), channel=channel)
    _runtime.bind(context)
    model = Regression(0.05)
    try:
        _trainer(context.budget, callback).fit(model, _loader(), _loader(), ckpt_path=resume_path() if ckpt else None)
        return "finished", channel.steps, int(model.batches_seen)
    except _runtime.TrialStopped as stopped:
        return stopped.decision, channel.steps, int(model.batches_seen)
    finally:
        _runtime.bind(None)


def test_pause_finishes_the_epoch_checkpoints_it_and_the_next_job_resumes(tmp_path):
    pause = _job(tmp_path, 0, 9, lambda r: Decision.PAUSE if r.step == 2 else Decision.CONTINUE)
    assert pause == (Decision.PAUSE, [0, 1, 2], 3 * BATCHES_PER_EPOCH)
    assert hpo.checkpoint.saved_step(str(tmp_path)) == 3
    assert _job(tmp_path, 3, 5) == ("finished", [3, 4], 5 * BATCHES_PER_EPOCH)


def test_forgetting_ckpt_path_or_the_monitor_fails_with_a_named_error(tmp_path):
    _job(tmp_path, 0, 2)
    with pytest.raises(SettingError, match="resume_path"):
        _job(tmp_path, 2, 4, ckpt=False)
    os.remove(tmp_path / "lightning-epoch2.ckpt")  # as in a PBT child: the record without its file
    with pytest.raises(SettingError, match="'lightning-epoch2.ckpt' is not in .*PBT"):
        _job(tmp_path, 2, 4)
    with pytest.raises(ObjectiveError, match=r"monitor='val_acc'.*logged: \['batches_seen', 'val_loss'\]"):
        _job(tmp_path / "other", 0, 1, callback=HPOCallback(monitor="val_acc"))


def test_outside_a_study_it_warns_once_and_does_nothing(tmp_path):
    model = Regression(0.05)
    with pytest.warns(HPOCallbackWarning, match="outside a hyperbandit study") as caught:
        _trainer(JobBudget(0, 2, 2)).fit(model, _loader(), _loader(), ckpt_path=resume_path())
    assert len([w for w in caught if w.category is HPOCallbackWarning]) == 1
    assert int(model.batches_seen) == 2 * BATCHES_PER_EPOCH and resume_path() is None


def test_bad_arguments_are_named():
    with pytest.raises(SettingError, match="monitor"):
        HPOCallback(monitor="")
    with pytest.raises(SettingError, match="checkpoint_every"):
        HPOCallback(checkpoint_every=0)


def test_checkpoint_every_saves_mid_job_and_a_stop_saves_nothing(tmp_path):
    every_two = HPOCallback(monitor="val_loss", checkpoint_every=2)
    stopped = _job(tmp_path, 0, 9, lambda r: Decision.STOP if r.step == 3 else Decision.CONTINUE, callback=every_two)
    assert stopped == (Decision.STOP, [0, 1, 2, 3], 4 * BATCHES_PER_EPOCH)
    assert hpo.checkpoint.saved_step(str(tmp_path)) == 2
    assert [f for f in os.listdir(tmp_path) if f.endswith(".ckpt")] == ["lightning-epoch2.ckpt"]
