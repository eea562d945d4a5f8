"""Checkpoints: how a paused or promoted trial continues instead of starting again.

Inside a train function::

    def train(config, budget):
        state = hpo.checkpoint.load()                 # None on a fresh start
        model = build(config) if state is None else state["model"]
        for epoch in range(budget.start, budget.stop):
            loss = train_one_epoch(model)
            hpo.report(val_loss=loss, step=epoch)
            hpo.checkpoint.save({"model": model})     # the budget reached: epoch + 1
        return {"val_loss": loss}

A checkpoint lives in the trial's artifact folder (``<study file>.artifacts/trial_<id>/``,
next to the SQLite file; a temporary folder for in-memory studies). It records the
budget position it was saved at. When a scheduler continues a trial from budget
``start``, the study looks at that position first:

* a checkpoint at ``start`` (or later): the job runs ``start..stop``;
* one saved earlier (say every 5 epochs): the job runs from the checkpoint's position;
* none: the trial runs again from 0, ``trial.notes["restarts"]`` counts it, and the
  budget it spends again is added to ``trial.budget``.

The state is pickled (torch tensors and ``state_dict()`` objects pickle fine) and written
atomically, so a worker killed mid-save leaves the previous checkpoint intact.

Checkpoints are trusted as the user's own files: unpickling one runs whatever code it
names. hyperbandit only loads checkpoints from the study's own artifact folder, which the
study's trials wrote; do not resume a study whose artifact folder came from someone you
do not trust (see SECURITY.md). The files are created with the user's umask.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
from typing import Any

from hpo import _runtime

__all__ = ["save", "load", "saved_step", "copy", "STATE_FILE", "INFO_FILE"]

STATE_FILE = "checkpoint.pkl"
INFO_FILE = "checkpoint.json"


def _folder() -> str | None:
    context = _runtime.current()
    return None if context is None else context.artifact_dir


def _atomic_write(path: str, data: bytes) -> None:
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def save(state: Any, step: float | None = None) -> str | None:
    """Save ``state`` as the running trial's checkpoint.

    Args:
        state: Any picklable object (a dict of ``state_dict()``s, a fitted estimator, ...).
        step: The budget position the state corresponds to (epochs done). By default, one
            past the last reported step, or the job's ``budget.start`` before any report.

    Returns:
        The checkpoint's path, or None when called outside a study (nothing is saved).
    """
    folder = _folder()
    context = _runtime.current()
    if folder is None or context is None:
        return None
    os.makedirs(folder, exist_ok=True)
    position = context.next_step if step is None else step
    path = os.path.join(folder, STATE_FILE)
    _atomic_write(path, pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL))
    # The info file is written last: it is the commit marker the study reads.
    _atomic_write(os.path.join(folder, INFO_FILE), json.dumps({"step": float(position)}).encode())
    return path


def load(default: Any = None) -> Any:
    """The running trial's last checkpoint, or ``default`` (no checkpoint, or outside a study)."""
    folder = _folder()
    if folder is None or saved_step(folder) is None:
        return default
    with open(os.path.join(folder, STATE_FILE), "rb") as fh:
        return pickle.load(fh)


def saved_step(folder: str) -> float | None:
    """The budget position of the checkpoint in a trial folder, or None if it has none."""
    try:
        with open(os.path.join(folder, INFO_FILE)) as fh:
            step = json.load(fh)["step"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not os.path.exists(os.path.join(folder, STATE_FILE)):
        return None
    return float(step)


def copy(src_folder: str, dst_folder: str) -> bool:
    """Copy a trial's checkpoint to another trial's folder (PBT's exploit); False if none."""
    if saved_step(src_folder) is None:
        return False
    os.makedirs(dst_folder, exist_ok=True)
    for name in (STATE_FILE, INFO_FILE):  # the info file last, as in `save`
        tmp = os.path.join(dst_folder, f"{name}.tmp-{os.getpid()}")
        shutil.copyfile(os.path.join(src_folder, name), tmp)
        os.replace(tmp, os.path.join(dst_folder, name))
    return True
