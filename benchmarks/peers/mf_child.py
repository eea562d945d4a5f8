"""Multi-fidelity peers that need ``numpy<1.27``, run inside the peers' environment on LCBench.

``python -m benchmarks.peers.mf_child`` reads one JSON request on stdin
(``{"method", "task", "seed", "epochs", "workers"}``, or ``{"requests": [...]}`` for several
runs in one process, as the tests do) and prints one JSON result, the run's trace, as its
last stdout line (:func:`benchmarks.peers.run_child`). It imports nothing from
``hpo``: LCBench (:mod:`benchmarks.lcbench`) needs only numpy and onnxruntime.

* ``synetune-mobster`` / ``synetune-hypertune`` / ``synetune-bohb``: Syne Tune 0.13's
  ``MOBSTER``, ``HyperTune`` and ``BOHB`` on its simulator backend (``UserBlackboxBackend``
  over :class:`LCBenchBlackbox`, ``n_workers`` simulated workers, ``SimulatorCallback``).
  Schedulers as Syne Tune's baselines define them: ``type="stopping"`` (asynchronous
  successive halving: a trial runs on until a rung stops it, so no epoch is trained twice),
  ``grace_period=1``, ``reduction_factor=3``, ``max_resource_attr`` set to 52 epochs;
  HyperTune with ``brackets=4`` (the number of Hyperband brackets for eta 3 over 1..52, as
  in our ``hpo-hyperband``), MOBSTER and BOHB with Syne Tune's default of one bracket.
  Epoch accounting: every result the backend hands the tuner is one epoch of one trial (the
  backend reports every epoch); the recorder appends each to the trace as it is fetched,
  and ``StoppingCriterion(max_num_evaluations=epochs - 1)`` ends the run once more than
  ``epochs - 1`` results were fetched (it counts the same results). Results fetched past
  that point are cut off, so the trace holds exactly ``epochs`` entries. One departure from
  Syne Tune's simulator: its clock also advances by the scheduler's real compute time, so
  results would depend on the machine's load (or a paused process); here it does not
  (``_SimulatedOnlyBackend``). A fetch holds the results of the simulated time that passed
  (one tuner sleep, 5 s, while all workers are busy), listed trial by trial rather than in
  time order, so ``sim_times`` (each result's simulated time) is not monotone. Results a
  trial reported in the same fetch after the one that stopped it were trained and count,
  though the scheduler never sees them.
* ``dehb``: DEHB 0.1.2, ask/tell, ``min_fidelity=1, max_fidelity=52, eta=3`` (fidelities
  1.93, 5.78, 17.3, 52, rounded to 2, 6, 17, 52 epochs). DEHB evaluates a config at a
  fidelity from scratch (no checkpoint continuation), so every evaluation pays its full
  fidelity in epochs (:class:`benchmarks.peers._ledger.EpochLedger`): that is its real cost.

Klein, Tiao, Lienen, Archambeau & Seeger, "Model-based Asynchronous Hyperparameter and Neural
Architecture Search", arXiv:2003.10865, 2020 (MOBSTER); Li, Shen, Jiang, Wu, Li, Gao, Yang,
Zhou & Cui, "Hyper-Tune: Towards Efficient Hyper-parameter Tuning at Scale", VLDB 2022;
Falkner, Klein & Hutter, "BOHB: Robust and Efficient Hyperparameter Optimization at Scale",
ICML 2018; Awad, Mallik & Hutter, "DEHB: Evolutionary Hyperband for Scalable, Robust and
Efficient Hyperparameter Optimization", IJCAI 2021; Salinas et al., "Syne Tune: A Library for
Large Scale Hyperparameter Tuning and Reproducible Research", AutoML 2022.
"""

from __future__ import annotations

import contextlib
import json
import sys
import tempfile
import time
from typing import Any

from benchmarks.lcbench import EPOCHS, PARAMS, LCBench
from benchmarks.peers._ledger import EpochLedger

SYNETUNE = {"synetune-mobster": "MOBSTER", "synetune-hypertune": "HyperTune", "synetune-bohb": "BOHB"}
RESOURCE, MAX_RESOURCE = "epoch", "max_epochs"


def synetune_space() -> dict[str, Any]:
    """LCBench's space (:data:`benchmarks.lcbench.PARAMS`) in Syne Tune's domains (bounds inclusive)."""
    import syne_tune.config_space as sp

    kinds = {("int", True): sp.lograndint, ("int", False): sp.randint, ("float", True): sp.loguniform, ("float", False): sp.uniform}
    return {
        name: kinds[(kind, log)](*((int(low), int(high)) if kind == "int" else (low, high)))
        for name, (kind, low, high, log) in PARAMS.items()
    }


def _blackbox(task: str) -> Any:
    """:class:`LCBenchBlackbox` for ``task`` (the class is built here: Syne Tune loads lazily)."""
    import numpy as np
    import syne_tune.config_space as sp
    from syne_tune.blackbox_repository.blackbox import Blackbox

    class LCBenchBlackbox(Blackbox):
        """An LCBench task as a Syne Tune blackbox: fidelity ``epoch`` 1..52, objectives ``val_accuracy`` and ``time``.

        ``time`` is LCBench's cumulative training time up to the epoch, which the simulator
        backend uses as the elapsed time of each result.
        """

        def __init__(self) -> None:
            super().__init__(
                configuration_space=synetune_space(), fidelity_space={RESOURCE: sp.randint(1, EPOCHS)},
                objectives_names=["val_accuracy", "time"],
            )
            self.bench = LCBench(task)

        @property
        def fidelity_values(self) -> Any:
            return np.arange(1, EPOCHS + 1)

        def _objective_function(self, configuration: dict[str, Any], fidelity: dict | None = None, seed: int | None = None) -> Any:
            acc, tm = self.bench.segment(configuration, 0, EPOCHS)
            if fidelity is None:  # the whole curve, `52 x 2`
                return np.stack([acc, tm], axis=1)
            epoch = int(fidelity[RESOURCE])
            return {"val_accuracy": acc[epoch - 1], "time": tm[epoch - 1]}

    return LCBenchBlackbox()


def run_synetune(method: str, task: str, seed: int, epochs: int, workers: int) -> dict[str, Any]:
    """One Syne Tune run on the simulator backend; the trace is every result the backend handed the tuner."""
    import os

    from syne_tune import StoppingCriterion, Tuner
    from syne_tune.backend.simulator_backend.simulator_callback import SimulatorCallback
    from syne_tune.blackbox_repository.simulated_tabular_backend import UserBlackboxBackend
    from syne_tune.optimizer import baselines
    from syne_tune.tuner_callback import TunerCallback

    class _Recorder(TunerCallback):
        """Appends each result the backend hands the tuner (one epoch of one trial) to the trace."""

        def __init__(self) -> None:
            self.values: list[float] = []
            self.sim_times: list[float] = []
            self.last_epoch: dict[int, int] = {}
            self.restarts = 0  # results for an epoch the trial had reported before (a retrain; none under type="stopping")

        def on_fetch_status_results(self, trial_status_dict: Any, new_results: list[tuple[int, dict[str, Any]]]) -> None:
            for trial_id, result in new_results[: max(0, epochs - len(self.values))]:
                self.values.append(float(result["val_accuracy"]))
                self.sim_times.append(round(float(result["st_tuner_time"]), 1))
                epoch = int(result[RESOURCE])
                self.restarts += int(epoch <= self.last_epoch.get(trial_id, 0))
                self.last_epoch[trial_id] = epoch
                if len(self.values) % max(1, epochs // 10) == 0:  # progress, on stderr
                    print(f"{len(self.values)} epochs, {len(self.last_epoch)} trials, {time.process_time():.0f} s CPU", file=sys.stderr)

    class _SimulatedOnlyBackend(UserBlackboxBackend):
        """Simulated time only: the scheduler's real compute time is not added to the clock.

        Syne Tune's simulator advances its clock by the real seconds spent outside the backend,
        so a loaded or paused machine hands the scheduler bigger batches of results, later. Here
        the clock moves only by simulated training time and the tuner's sleeps
        (``tuner_sleep_time``, 5 s), so a run is the same on any machine.
        """

        def _advance_by_outside_time(self) -> None:
            pass

    blackbox = _blackbox(task)
    extra = {"brackets": 4} if method == "synetune-hypertune" else {}
    scheduler = getattr(baselines, SYNETUNE[method])(
        blackbox.configuration_space_with_max_resource_attr(MAX_RESOURCE), metric="val_accuracy", mode="max",
        resource_attr=RESOURCE, max_resource_attr=MAX_RESOURCE, grace_period=1, reduction_factor=3, random_seed=seed, **extra,
    )
    recorder = _Recorder()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["SYNETUNE_FOLDER"] = tmp  # the tuner's files go to a folder deleted afterwards
        tuner = Tuner(
            trial_backend=_SimulatedOnlyBackend(blackbox, elapsed_time_attr="time", max_resource_attr=MAX_RESOURCE),
            scheduler=scheduler, stop_criterion=StoppingCriterion(max_num_evaluations=epochs - 1), n_workers=workers,
            sleep_time=0, callbacks=[SimulatorCallback(), recorder], results_update_interval=1e9,
            print_update_interval=1e9, save_tuner=False, tuner_name=f"{method}-{task}-{seed}",
        )
        t0 = time.perf_counter()
        tuner.run()
        wall = time.perf_counter() - t0
    return {"values": recorder.values, "sim_times": recorder.sim_times, "wall": wall, "n_trials": len(recorder.last_epoch),
            "restarts": recorder.restarts}


def run_dehb(task: str, seed: int, epochs: int) -> dict[str, Any]:
    """One DEHB run (ask/tell, one evaluation at a time); each evaluation trains from scratch."""
    from dehb import DEHB

    ledger = EpochLedger(LCBench(task), epochs)
    configs: set[tuple[Any, ...]] = set()
    with tempfile.TemporaryDirectory() as tmp:
        dehb = DEHB(
            cs=LCBench.configspace(seed), min_fidelity=1, max_fidelity=EPOCHS, eta=3, n_workers=1, seed=seed,
            output_path=tmp, log_level="ERROR", save_freq="end",
        )
        t0 = time.perf_counter()
        while not ledger.spent:
            job = dehb.ask()
            config = dict(job["config"])
            configs.add(tuple(sorted(config.items())))
            acc = ledger.train_from_scratch(config, max(1, round(job["fidelity"])))
            dehb.tell(job, {"fitness": 100.0 - acc, "cost": round(job["fidelity"])})
        wall = time.perf_counter() - t0
    return {"values": ledger.values, "wall": wall, "n_trials": len(configs), "n_evaluations": ledger.n_evaluations}


def run(request: dict[str, Any]) -> dict[str, Any]:
    """Dispatch one request to its peer; ``{"requests": [...]}`` runs several in this process (``{"results": [...]}``)."""
    if "requests" in request:
        return {"results": [run(r) for r in request["requests"]]}
    method, task, seed, epochs = request["method"], request["task"], int(request["seed"]), int(request["epochs"])
    if method in SYNETUNE:
        return run_synetune(method, task, seed, epochs, int(request.get("workers", 4)))
    if method == "dehb":
        return run_dehb(task, seed, epochs)
    raise ValueError(f"unknown peer method {method!r}")


def main() -> None:
    """Read the request from stdin, run it with the libraries' output sent to stderr, print the result."""
    import logging
    import os
    import warnings

    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # read when each BLAS loads (scipy's, later)
        os.environ[var] = "1"
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)  # one BLAS thread, as in benchmarks.multifidelity.run_one
    warnings.simplefilter("ignore")
    logging.basicConfig(level=logging.ERROR, stream=sys.stderr)
    request = json.loads(sys.stdin.read())
    with contextlib.redirect_stdout(sys.stderr):  # DEHB's loguru and Syne Tune print to stdout
        result = run(request)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
