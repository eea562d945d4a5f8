"""hyperbandit demo: tune a scikit-learn MLP on the bundled `digits` data set.

A real study on the embedded default: the local executor (2 worker processes) and a
SQLite file, with ASHA (asynchronous successive halving with promotions, rungs at 1, 3,
9 and 27 epochs) and GP BO proposing new configs (model-based ASHA). Each trial trains
an MLP epoch by epoch (``partial_fit``), reports the validation loss every epoch with
``hpo.report``, and saves a checkpoint, so a promoted trial continues where it stopped.

    python examples/digits_demo.py --storage demo_study.db --trials 60
    hpo status demo_study.db      # while it runs or afterwards
    hpo best demo_study.db
"""

from __future__ import annotations

import argparse
import json
import time

import hpo
from hpo.search_spaces import Categorical, Float, Int

SPACE = {
    "learning_rate": Float(1e-4, 3e-1, log=True),
    "alpha": Float(1e-6, 1e-1, log=True),
    "hidden_units": Int(16, 256, log=True),
    "layers": Int(1, 3),
    "batch_size": Categorical([16, 32, 64, 128]),
    "activation": Categorical(["relu", "tanh", "logistic"]),
}


@hpo.tune(space=SPACE, metric="val_loss", mode="min", scheduler="asha", budget=hpo.Budget(min=1, max=27))
def train(config, budget):
    """Train an MLP for epochs ``[budget.start, budget.stop)``; report and checkpoint every epoch."""
    import warnings

    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.metrics import accuracy_score, log_loss
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier
    from sklearn.preprocessing import StandardScaler

    x, y = load_digits(return_X_y=True)
    x_train, x_val, y_train, y_val = train_test_split(x, y, test_size=0.25, random_state=0, stratify=y)
    scaler = StandardScaler().fit(x_train)
    x_train, x_val = scaler.transform(x_train), scaler.transform(x_val)
    state = hpo.checkpoint.load()  # None on a fresh start; the saved model when promoted
    if state is None:
        model = MLPClassifier(
            hidden_layer_sizes=(config["hidden_units"],) * config["layers"],
            activation=config["activation"],
            alpha=config["alpha"],
            batch_size=config["batch_size"],
            learning_rate_init=config["learning_rate"],
            random_state=0,
        )
        rng = np.random.default_rng(0)
    else:
        model, rng = state["model"], state["rng"]
    classes = np.unique(y)
    val_loss = val_acc = float("nan")
    for epoch in range(budget.start, budget.stop):
        order = rng.permutation(len(x_train))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.partial_fit(x_train[order], y_train[order], classes=classes)
        proba = model.predict_proba(x_val)
        val_loss = float(log_loss(y_val, proba, labels=classes))
        val_acc = float(accuracy_score(y_val, classes[proba.argmax(1)]))
        hpo.report(val_loss=val_loss, val_accuracy=val_acc, step=epoch)
        hpo.checkpoint.save({"model": model, "rng": rng})
    return {"val_loss": val_loss, "val_accuracy": val_acc}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--storage", default="demo_study.db")
    parser.add_argument("--trials", type=int, default=60)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    start = time.monotonic()
    result = train.run(
        n_trials=args.trials, workers=args.workers, storage=args.storage, seed=args.seed, show_progress=True
    )
    counts = ", ".join(f"{k.lower()} {v}" for k, v in sorted(result.counts().items()))
    print(f"\nfinished in {time.monotonic() - start:.1f} s: {counts}")
    inc = result.incumbent
    if inc is None:
        print("no trial completed")
        return
    epochs = sum(t.budget for t in result.trials)
    print(f"epochs trained in all: {epochs:.0f} (random search at the full budget: {args.trials * 27})")
    reached = inc.fidelity
    print(
        f"incumbent: trial {inc.trial_id} ({inc.status.value.lower()} at {reached:.0f} epochs)  "
        f"val_loss={inc.value:.4f}  val_accuracy={inc.metrics['val_accuracy']:.4f}"
    )
    print(f"config: {json.dumps(dict(inc.config), sort_keys=True)}")
    print(f"study stored in SQLite file: {result.storage}")
    print(f"inspect it with: hpo status {result.storage}   |   hpo best {result.storage}")


if __name__ == "__main__":
    main()
