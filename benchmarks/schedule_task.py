"""A live multi-fidelity task with a learning-rate schedule: a torch MLP on ``digits``, SGD with cosine or step decay.

A task family unlike the others in the suite, for the robustness tables (issue 16: "other
model families, other training schedules"). The schedule is tied to the *full* budget, as
in most real training scripts: the learning rate follows a cosine from its initial value at
epoch 1 to zero at epoch ``EPOCHS`` (``digits-cosine``), or drops x0.1 at 50% and 75% of the
epochs (``digits-step``, :data:`SCHEDULES`), after a linear warm-up over the first ``warmup`` epochs.
A low-fidelity result is therefore a run still at a high learning rate, and whether its
rank holds at the end depends on the config; over 40 random configs, Kendall's tau of epoch
1 against epoch 27 is 0.60 (epoch 3: 0.76), so here the early ranks mostly agree. LCBench's networks were trained the same way (cosine
annealing to 50 epochs), but there every number is a surrogate's; here every epoch is real
torch training, timed.

* Data: scikit-learn's 1,797 8x8 ``digits``, a stratified 30/70 train/validation split
  (``random_state=0``; :data:`VALIDATION_SHARE`), standardised on the training split. A
  small training set makes a harder task than :mod:`benchmarks.digits` (whose 75/25 split
  lets most configs reach within a few validation images of each other), and the large
  validation set resolves 0.08 points.
* Model: an MLP (ReLU, dropout) trained with SGD (momentum, Nesterov, weight decay);
  per-epoch learning rate as above; mini-batches from a per-config generator.
* Space (8 parameters, mixed): ``lr`` log [1e-3, 1], ``momentum`` [0, 0.99],
  ``weight_decay`` log [1e-6, 1e-2], ``hidden_units`` log int [16, 256], ``layers`` int
  [1, 3], ``dropout`` [0, 0.5], ``batch_size`` in {16, 32, 64, 128}, ``warmup`` in {0, 2, 5}.
* Fidelity: epochs 1..27; metric: validation accuracy in percent, maximised.
* Resuming: the model and optimizer after each epoch are kept in memory per config (the
  in-process equivalent of a checkpoint), so a promoted trial trains only its new epochs.
  A segment that does not start where the kept state ends retrains from scratch.

Same interface as :class:`benchmarks.digits.DigitsMLP` (``epochs``, ``space``,
``segment``, ``optuna_config``, ``ray_space``), so every multi-fidelity method runs it.
"""

from __future__ import annotations

import math
import time
from typing import Any

from benchmarks._kept import KeptStates

__all__ = ["DigitsCosine", "EPOCHS", "SCHEDULES", "learning_rate"]

EPOCHS = 27
#: Share of ``digits`` held out for validation: 70%, so that 539 training images make a
#: small-data task where regularisation matters, and one validation image is 0.08 points.
VALIDATION_SHARE = 0.7
#: Learning-rate schedules after the warm-up: ``"cosine"`` (to 0 at the last epoch) or ``"step"``
#: (x0.1 at 50% and at 75% of the epochs, the classic ResNet schedule, whose curves jump late).
SCHEDULES = ("cosine", "step")


def learning_rate(base: float, epoch: int, warmup: int, epochs: int = EPOCHS, schedule: str = "cosine") -> float:
    """The learning rate of 0-based ``epoch``: linear warm-up, then the schedule (:data:`SCHEDULES`).

    Warm-up epoch ``e < warmup`` uses ``base * (e + 1) / (warmup + 1)``. Later epochs:
    ``"cosine"``: ``base * 0.5 * (1 + cos(pi * (e - warmup) / (epochs - warmup)))``;
    ``"step"``: ``base * 0.1 ** k``, ``k`` the milestones ``epochs // 2`` and
    ``3 * epochs // 4`` that ``e`` has reached.
    """
    if epoch < warmup:
        return base * (epoch + 1) / (warmup + 1)
    if schedule == "step":
        return base * 0.1 ** sum(epoch >= m for m in (epochs // 2, 3 * epochs // 4))
    if schedule != "cosine":
        raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
    return base * 0.5 * (1.0 + math.cos(math.pi * (epoch - warmup) / max(1, epochs - warmup)))


class DigitsCosine:
    """The live schedule task; one instance per process (it keeps the per-config state).

    Args:
        schedule: ``"cosine"`` (default; task ``digits-cosine``) or ``"step"`` (``digits-step``).
    """

    epochs = EPOCHS

    def __init__(self, schedule: str = "cosine") -> None:
        import numpy as np
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
        from sklearn.preprocessing import StandardScaler

        if schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
        self.schedule = schedule
        self.task = f"digits-{schedule}"
        x, y = load_digits(return_X_y=True)
        x_train, x_val, y_train, y_val = train_test_split(x, y, test_size=VALIDATION_SHARE, random_state=0, stratify=y)
        scaler = StandardScaler().fit(x_train)
        self.x_train = scaler.transform(x_train).astype(np.float32)
        self.x_val = scaler.transform(x_val).astype(np.float32)
        self.y_train, self.y_val = y_train.astype(np.int64), y_val.astype(np.int64)
        self._kept = KeptStates(EPOCHS)

    @staticmethod
    def space() -> dict[str, Any]:
        """The search space (module docstring)."""
        from hpo.search_spaces import Categorical, Float, Int

        return {
            "lr": Float(1e-3, 1.0, log=True),
            "momentum": Float(0.0, 0.99),
            "weight_decay": Float(1e-6, 1e-2, log=True),
            "hidden_units": Int(16, 256, log=True),
            "layers": Int(1, 3),
            "dropout": Float(0.0, 0.5),
            "batch_size": Categorical([16, 32, 64, 128]),
            "warmup": Categorical([0, 2, 5]),
        }

    @staticmethod
    def optuna_config(trial: Any) -> dict[str, Any]:
        """The same space, suggested through an Optuna trial."""
        from benchmarks._spaces import optuna_suggest

        config: dict[str, Any] = {}
        optuna_suggest(trial, DigitsCosine.space(), config)
        return config

    @staticmethod
    def ray_space() -> dict[str, Any]:
        """The same space as a Ray Tune ``param_space``."""
        from benchmarks._spaces import ray_domains

        return ray_domains(DigitsCosine.space())

    def _fresh(self, config: dict[str, Any]) -> dict[str, Any]:
        import torch

        gen = torch.Generator().manual_seed(0)
        layers: list[Any] = []
        width, d_in = int(config["hidden_units"]), self.x_train.shape[1]
        with torch.random.fork_rng():
            torch.manual_seed(0)
            for _ in range(int(config["layers"])):
                layers += [torch.nn.Linear(d_in, width), torch.nn.ReLU(), torch.nn.Dropout(float(config["dropout"]))]
                d_in = width
            layers.append(torch.nn.Linear(d_in, 10))
            model = torch.nn.Sequential(*layers)
        momentum = float(config["momentum"])
        opt = torch.optim.SGD(model.parameters(), lr=float(config["lr"]), momentum=momentum,
                              nesterov=momentum > 0, weight_decay=float(config["weight_decay"]))
        with torch.random.fork_rng():
            torch.manual_seed(1)
            rng = torch.get_rng_state()  # the config's own stream for dropout
        return {"model": model, "opt": opt, "gen": gen, "rng": rng, "epoch": 0, "seconds": 0.0}

    def segment(
        self, config: dict[str, Any], start: int, stop: int, metric: str = "accuracy"
    ) -> tuple[list[float], list[float]]:
        """Train 0-based epochs ``start..stop-1``: val accuracy (percent) and cumulative seconds after each.

        A diverged run (non-finite loss) keeps reporting its accuracy, which is then at chance.
        ``metric="loss"`` gives the validation cross-entropy instead (NaN once diverged).
        """
        import torch

        state = self._kept.resume(config, start, lambda: self._fresh(config))  # no checkpoint at `start`: from scratch
        first = state["epoch"]
        with torch.random.fork_rng():  # dropout draws from the config's own stream, not the process's
            torch.set_rng_state(state["rng"])
            acc, seconds, losses = self._train(config, state, stop)
            state["rng"] = torch.get_rng_state()
        if metric == "loss":
            acc = losses
        elif metric != "accuracy":
            raise ValueError(f"metric must be 'accuracy' or 'loss', got {metric!r}")
        self._kept.keep(config, state, stop)
        return acc[start - first:], seconds[start - first:]

    def _train(
        self, config: dict[str, Any], state: dict[str, Any], stop: int
    ) -> tuple[list[float], list[float], list[float]]:
        """Train from ``state["epoch"]`` to ``stop``: accuracy, cumulative seconds and val loss after each epoch."""
        import torch

        x, y = torch.from_numpy(self.x_train), torch.from_numpy(self.y_train)
        x_val, y_val = torch.from_numpy(self.x_val), torch.from_numpy(self.y_val)
        batch, model, opt = int(config["batch_size"]), state["model"], state["opt"]
        acc: list[float] = []
        seconds: list[float] = []
        losses: list[float] = []
        for epoch in range(state["epoch"], stop):
            t0 = time.perf_counter()
            for group in opt.param_groups:
                group["lr"] = learning_rate(float(config["lr"]), epoch, int(config["warmup"]), self.epochs, self.schedule)
            model.train()
            order = torch.randperm(len(x), generator=state["gen"])
            for i in range(0, len(x), batch):
                idx = order[i:i + batch]
                loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx])
                if not torch.isfinite(loss):
                    break  # diverged: no further steps this epoch (the weights stay as they are)
                opt.zero_grad()
                loss.backward()
                opt.step()
            model.eval()
            with torch.no_grad():
                logits = model(x_val)
                finite = bool(torch.isfinite(logits).all())
                pred = logits.argmax(1) if finite else torch.zeros_like(y_val)
                losses.append(float(torch.nn.functional.cross_entropy(logits, y_val)) if finite else float("nan"))
            value = 100.0 * float((pred == y_val).float().mean())
            state["seconds"] += time.perf_counter() - t0
            acc.append(value)
            seconds.append(state["seconds"])
        return acc, seconds, losses
