"""Real-GPU check of the Ray executor (issue 22, part 6): run it on a machine with a CUDA GPU.

    python -m benchmarks.gpu_check --out benchmarks/results/gpu_check.json

What it checks, each as a named step with its timing:

1. ``ray_sees_gpu``: a local Ray instance declares the machine's GPUs (``ray.cluster_resources()``).
2. ``two_trials_share_one_gpu``: with ``{"gpu": 0.5}`` per trial, two torch trials run at
   the same time on the one GPU (their run intervals overlap); each sees it in
   ``CUDA_VISIBLE_DEVICES`` and ``torch.cuda.is_available()``, and trains a small MLP on
   CUDA (on ``load_digits``) whose loss falls.
3. ``asha_resumes_from_a_cuda_checkpoint``: ASHA pauses trials at a rung and promotes
   some; a promoted trial continues from its checkpoint (model and optimizer state saved
   from CUDA tensors) at the step it paused at, not from 0.

Without a GPU it exits with status 2 and says so. ``--plumbing`` runs the same steps on the
CPU with one GPU declared to Ray (no CUDA checks): it tests this script, not the GPU, and
its JSON says ``"plumbing": true``. The results, the device name and the command are written as
JSON to ``--out`` and printed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any


def train_digits(config: dict[str, Any], budget: Any) -> dict[str, float]:
    """A small MLP on ``load_digits``, trained on CUDA; checkpoints every epoch (model + optimizer)."""
    import torch
    from sklearn.datasets import load_digits

    import hpo

    started = time.time()
    plumbing = os.environ.get("HPO_GPU_CHECK_PLUMBING") == "1"
    assert plumbing or torch.cuda.is_available(), "torch.cuda.is_available() is False inside the trial"
    device = torch.device("cpu" if plumbing else "cuda")
    data = load_digits()
    x = torch.tensor(data.data / 16.0, dtype=torch.float32, device=device)
    y = torch.tensor(data.target, dtype=torch.long, device=device)
    torch.manual_seed(int(config["seed"]))
    net = torch.nn.Sequential(torch.nn.Linear(64, int(config["width"])), torch.nn.ReLU(), torch.nn.Linear(int(config["width"]), 10)).to(device)
    opt = torch.optim.SGD(net.parameters(), lr=float(config["lr"]), momentum=0.9)
    state = hpo.checkpoint.load()
    resumed_at = -1.0
    if state is not None:
        net.load_state_dict(state["net"])
        opt.load_state_dict(state["opt"])
        resumed_at = float(state["epoch"])
    first = last = float("nan")
    for epoch in range(int(budget.start), int(budget.stop)):
        for _ in range(20):
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(net(x), y)
            loss.backward()
            opt.step()
        last = float(loss.item())
        first = last if first != first else first
        hpo.report(loss=last, step=epoch)
        hpo.checkpoint.save({"net": net.state_dict(), "opt": opt.state_dict(), "epoch": epoch + 1})
        time.sleep(0.3)  # long enough for two trials on one GPU to overlap visibly
    return {
        "loss": last,
        "first_loss": first,
        "resumed_at": resumed_at,
        "start": started,
        "end": time.time(),
        "cuda_visible": float(len([d for d in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if d.strip()])),
        "on_cuda": float(next(net.parameters()).is_cuda or plumbing),
    }


def _step(results: dict[str, Any], name: str, fn: Any) -> None:
    t0 = time.perf_counter()
    try:
        detail = fn()
        results[name] = {"ok": True, "seconds": round(time.perf_counter() - t0, 2), **detail}
    except Exception as exc:  # a failed step is recorded and the others still run
        results[name] = {"ok": False, "seconds": round(time.perf_counter() - t0, 2), "error": f"{type(exc).__name__}: {exc}"}
    print(f"[gpu-check] {name}: {json.dumps(results[name])}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="gpu_check.json")
    parser.add_argument("--workdir", default=None, help="where the study files go (default: a temporary folder)")
    parser.add_argument("--plumbing", action="store_true", help="CPU only, one GPU declared: tests the script, not a GPU")
    args = parser.parse_args(argv)
    import tempfile

    import torch

    if args.plumbing:
        os.environ["HPO_GPU_CHECK_PLUMBING"] = "1"  # the Ray workers inherit it
    elif not torch.cuda.is_available():
        print("no CUDA GPU here (torch.cuda.is_available() is False): nothing to check", file=sys.stderr)
        return 2
    import ray

    from hpo.budget import Budget
    from hpo.search_spaces import Float, Int
    from hpo.study import Study
    from hpo.trial import TrialStatus

    work = Path(args.workdir or tempfile.mkdtemp(prefix="hpo-gpu-"))
    work.mkdir(parents=True, exist_ok=True)
    device = "cpu (plumbing)" if args.plumbing else torch.cuda.get_device_name(0)
    results: dict[str, Any] = {"device": device, "plumbing": args.plumbing, "torch": torch.__version__, "ray": ray.__version__,
                               "command": "python -m benchmarks.gpu_check " + " ".join(argv if argv is not None else sys.argv[1:])}  # fmt: skip
    ray.init(include_dashboard=False, **({"num_gpus": 1, "num_cpus": 2} if args.plumbing else {}))
    space = {"lr": Float(0.01, 0.3, log=True), "width": Int(32, 128), "seed": Int(0, 1000)}

    def sees_gpu() -> dict[str, Any]:
        gpus = ray.cluster_resources().get("GPU", 0)
        assert gpus >= 1, f"Ray declares {gpus} GPUs"
        return {"ray_gpus": gpus}

    def share() -> dict[str, Any]:
        study = Study.create(train_digits, space, budget=Budget(1, 4), storage=str(work / "share.db"), searcher="random",
                             seed=0, executor="ray", executor_options={"resources": {"gpu": 0.5, "cpu": 1}})  # fmt: skip
        result = study.optimize(n_trials=2)
        study.close()
        done = [t for t in result.trials if t.status is TrialStatus.COMPLETED]
        assert len(done) == 2, [(t.status, t.reason) for t in result.trials]
        a, b = (t.metrics for t in done)
        overlap = min(a["end"], b["end"]) - max(a["start"], b["start"])
        assert overlap > 0, "the two trials did not run at the same time"
        assert all((m["cuda_visible"] >= 1 or args.plumbing) and m["on_cuda"] == 1.0 for m in (a, b))
        assert all(m["loss"] < m["first_loss"] for m in (a, b)), "a trial's loss did not fall"
        return {"overlap_s": round(overlap, 2), "losses": [round(m["loss"], 4) for m in (a, b)], "workers": [t.worker for t in done]}

    def asha() -> dict[str, Any]:
        study = Study.create(train_digits, space, budget=Budget(1, 9), storage=str(work / "asha.db"), scheduler="asha",
                             searcher="random", seed=1, executor="ray",
                             executor_options={"resources": {"gpu": 0.5, "cpu": 1}})  # fmt: skip
        result = study.optimize(max_budget=40)
        study.close()
        promoted = [t for t in result.trials if t.metrics and t.metrics.get("resumed_at", -1.0) > 0]
        assert promoted, "no trial continued from a checkpoint"
        assert all(t.restarts == 0 for t in promoted), "a promoted trial ran again from 0"
        return {"trials": len(result.trials), "resumed_from": sorted({t.metrics["resumed_at"] for t in promoted}),
                "statuses": sorted({t.status.value for t in result.trials})}  # fmt: skip

    _step(results, "ray_sees_gpu", sees_gpu)
    _step(results, "two_trials_share_one_gpu", share)
    _step(results, "asha_resumes_from_a_cuda_checkpoint", asha)
    ray.shutdown()
    Path(args.out).write_text(json.dumps(results, indent=1))
    ok = all(v["ok"] for v in results.values() if isinstance(v, dict) and "ok" in v)
    print(json.dumps(results, indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
