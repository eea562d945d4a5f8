"""Lightning integration: :class:`HPOCallback` reports, stops and checkpoints a ``Trainer``.

Add the callback, and pass :func:`resume_path` to ``fit``; that is the whole change::

    import lightning as L
    import hpo
    from hpo.integrations.lightning import HPOCallback, resume_path

    @hpo.tune(space=SPACE, metric="val_loss", mode="min", scheduler="asha", budget=hpo.Budget(1, 27))
    def train(config, budget):
        model = LitModel(lr=config["lr"])
        trainer = L.Trainer(max_epochs=budget.stop, callbacks=[HPOCallback(monitor="val_loss")])
        trainer.fit(model, datamodule=DataModule(), ckpt_path=resume_path())
        return trainer.callback_metrics["val_loss"].item()

What the callback does inside a trial (the fidelity is **epochs**):

* **Budget.** It sets the fit loop's ``max_epochs`` to the job's ``budget.stop`` (pass
  ``max_epochs=budget.stop`` too, which keeps Lightning from warning), so a job trains the
  epochs ``[budget.start, budget.stop)`` its scheduler gave it.
* **Reports.** At the end of each validation epoch (sanity checks excepted) it calls
  ``hpo.report(step=trainer.current_epoch, **{monitor: value})`` with the monitored value
  from ``trainer.callback_metrics`` (and any ``extra_metrics``). A missing monitor fails
  the trial with an :class:`~hpo.errors.ObjectiveError` naming the metrics it found.
* **Stop.** When the scheduler answers STOP, the :class:`hpo.TrialStopped` raised by
  ``hpo.report`` propagates out of ``trainer.fit`` at once (Lightning runs its
  ``on_exception`` hooks and tears down, then re-raises), and the study records the trial
  as pruned. A ``PAUSE`` finishes the current epoch, saves a checkpoint, then re-raises.
* **Checkpoints.** At the end of the job's last epoch (when ASHA, Hyperband or successive
  halving will pause it at a rung), on a PAUSE, and every ``checkpoint_every`` epochs, it
  writes ``trainer.save_checkpoint`` (model, optimizer, schedulers, loop state, epoch and
  global step) into the trial's folder and records it with :mod:`hpo.checkpoint` at the
  number of epochs done. The previous file is removed only after the new one is
  committed, so a worker killed mid-save leaves the last checkpoint usable.
* **Resume.** When the trial is promoted, :func:`resume_path` returns that file, and
  ``trainer.fit(..., ckpt_path=resume_path())`` continues at epoch ``budget.start`` with
  the same optimizer state and global step instead of starting again. Forgetting it fails
  the trial at train start with a :class:`~hpo.errors.SettingError` that says so.

Outside a study (the train function called directly, for debugging) the callback is a
**no-op that warns once** (:class:`HPOCallbackWarning`) and :func:`resume_path` returns
None, so the same script runs without hyperbandit, as ``hpo.report`` does.

Limits: the callback owns the trial's :mod:`hpo.checkpoint` record, so do not also call
``hpo.checkpoint.save`` in the same train function; one process per trial (no
multi-process DDP inside a trial); PBT's exploit step copies :mod:`hpo.checkpoint`'s
record but not the Lightning file it points to, so with PBT a child's job fails at train
start with a :class:`~hpo.errors.SettingError` saying so (rather than silently train from
scratch): use :mod:`hpo.checkpoint` directly with PBT.

Needs ``lightning>=2.4`` (``pip install 'hyperbandit[lightning]'``); ``import hpo`` never
imports it.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from hpo import _runtime
from hpo import checkpoint as hpo_checkpoint
from hpo.errors import ObjectiveError, SettingError
from hpo.trial import Decision

try:
    import lightning.pytorch as pl
except ImportError as exc:  # pragma: no cover - exercised only without lightning
    raise ImportError(
        "hpo.integrations.lightning needs Lightning: pip install 'hyperbandit[lightning]' (lightning>=2.4)"
    ) from exc

__all__ = ["HPOCallback", "HPOCallbackWarning", "resume_path"]

_FORMAT = "lightning"


class HPOCallbackWarning(UserWarning):
    """:class:`HPOCallback` is used outside a study, so it does nothing."""


def _record() -> Mapping[str, Any] | None:
    """The running trial's hpo checkpoint record if it points to a Lightning file, else None."""
    state = hpo_checkpoint.load()
    if isinstance(state, Mapping) and state.get("format") == _FORMAT:
        return state
    return None


def resume_path() -> str | None:
    """The Lightning checkpoint this job continues from, for ``trainer.fit(ckpt_path=...)``.

    Returns:
        The path of the ``.ckpt`` file saved by :class:`HPOCallback` when the running trial
        was paused, if this job continues it (``budget.start > 0``); None for a fresh start
        and outside a study.
    """
    context = _runtime.current()
    if context is None or not context.artifact_dir or context.budget.start <= 0:
        return None
    record = _record()
    if record is None:
        return None
    path = os.path.join(context.artifact_dir, str(record["file"]))
    return path if os.path.exists(path) else None


class HPOCallback(pl.Callback):
    """Report a monitored metric to the study every validation epoch, stop and checkpoint.

    Args:
        monitor: The key of ``trainer.callback_metrics`` to report (what the module logs
            with ``self.log(monitor, ...)``), under the same name.
        extra_metrics: More keys of ``trainer.callback_metrics`` to report alongside (those
            missing in an epoch are left out).
        checkpoint_every: Also checkpoint every this many epochs (so a trial whose worker
            dies is retried from there); by default only at the job's end and on a PAUSE.

    Raises:
        SettingError: for an empty ``monitor`` or a ``checkpoint_every`` that is not a
            positive int.
    """

    def __init__(self, monitor: str = "val_loss", *, extra_metrics: Sequence[str] = (),
                 checkpoint_every: int | None = None) -> None:
        super().__init__()
        if not isinstance(monitor, str) or not monitor:
            raise SettingError(f"HPOCallback(monitor={monitor!r}) must name a logged metric")
        if checkpoint_every is not None and (
            isinstance(checkpoint_every, bool) or not isinstance(checkpoint_every, int) or checkpoint_every < 1
        ):
            raise SettingError(f"HPOCallback(checkpoint_every={checkpoint_every!r}) must be a positive int or None")
        self.monitor = monitor
        self.extra_metrics = tuple(extra_metrics)
        self.checkpoint_every = checkpoint_every
        self._pause: _runtime.TrialStopped | None = None
        self._warned = False

    # ------------------------------------------------------------------ helpers
    def _context(self) -> _runtime.TrialContext | None:
        context = _runtime.current()
        if context is None and not self._warned:
            self._warned = True
            warnings.warn(
                "HPOCallback is used outside a hyperbandit study (no hpo.trial_context()): it reports, "
                "stops and checkpoints nothing",
                HPOCallbackWarning,
                stacklevel=3,
            )
        return context

    def _metrics(self, trainer: pl.Trainer, trial_id: int) -> dict[str, float]:
        found = trainer.callback_metrics
        if self.monitor not in found:
            raise ObjectiveError(
                f"trial {trial_id}: HPOCallback(monitor={self.monitor!r}) found no such metric after "
                f"validation epoch {trainer.current_epoch}; logged: {sorted(found)}; log it with "
                f"self.log({self.monitor!r}, ...) in validation_step"
            )
        return {name: float(found[name]) for name in (self.monitor, *self.extra_metrics) if name in found}

    def _save(self, trainer: pl.Trainer, context: _runtime.TrialContext, epochs_done: int) -> None:
        if not context.artifact_dir:
            return
        old = _record()
        name = f"lightning-epoch{epochs_done}.ckpt"
        os.makedirs(context.artifact_dir, exist_ok=True)
        trainer.save_checkpoint(os.path.join(context.artifact_dir, name))
        # the hpo record is the commit marker; only then is the previous file removed
        hpo_checkpoint.save({"format": _FORMAT, "file": name, "epoch": epochs_done}, step=epochs_done)
        if old is not None and old.get("file") != name:
            try:
                os.remove(os.path.join(context.artifact_dir, str(old["file"])))
            except OSError:
                pass

    # ------------------------------------------------------------------ hooks
    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        context = self._context()
        if context is None or stage != "fit":
            return
        stop = context.budget.stop
        if not float(stop).is_integer():
            raise SettingError(
                f"trial {context.trial_id}: HPOCallback counts the budget in epochs, but the job's "
                f"budget.stop is {stop!r}; use a whole-number hpo.Budget"
            )
        trainer.fit_loop.max_epochs = int(stop)
        self._pause = None

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        context = _runtime.current()
        if context is None or trainer.current_epoch == context.budget.start:
            return
        record = _record()
        if trainer.current_epoch != 0:
            hint = "resume only from hpo.integrations.lightning.resume_path()"
        elif record is not None and resume_path() is None:
            hint = (
                f"its Lightning checkpoint {record['file']!r} is not in {context.artifact_dir!r} (PBT copies "
                "only the hpo.checkpoint record; use hpo.checkpoint directly with PBT)"
            )
        else:
            hint = "pass ckpt_path=hpo.integrations.lightning.resume_path() to trainer.fit"
        raise SettingError(
            f"trial {context.trial_id}: this job continues at epoch {context.budget.start} but the trainer "
            f"starts at epoch {trainer.current_epoch}; {hint}"
        )

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or not trainer.is_global_zero:
            return
        context = self._context()
        if context is None:
            return
        metrics = self._metrics(trainer, context.trial_id)
        try:
            _runtime.report(step=trainer.current_epoch, **metrics)
        except _runtime.TrialStopped as stopped:
            if stopped.decision is not Decision.PAUSE:
                raise
            self._pause = stopped  # finish the epoch, checkpoint it, then re-raise

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        context = _runtime.current()
        if context is None:
            return
        epochs_done = trainer.current_epoch + 1
        every = self.checkpoint_every
        if self._pause is not None or epochs_done >= context.budget.stop or (every and epochs_done % every == 0):
            self._save(trainer, context, epochs_done)
        if self._pause is not None:
            pause, self._pause = self._pause, None
            raise pause
