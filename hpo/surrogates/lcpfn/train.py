"""Train LC-PFN on curves from the prior: ``python -m hpo.surrogates.lcpfn.train --out DIR --minutes M``.

Every step draws a fresh batch of prior curves (:mod:`hpo.surrogates.lcpfn.prior`; ``--prior
mixture``, the default, or ``paper``), a
cutoff ``c ~ U{1..n_epochs-1}`` shared by the batch, and minimises the bar-distribution
NLL of the points after the cutoff given those before it (Adriaensen et al., NeurIPS
2023, Section 3). Adam with linear warm-up and cosine decay over the time budget.

On a GPU (``--device cuda``), prior curves are drawn by ``--samplers`` worker processes
(each from its own spawned seed) so that sampling keeps up with the training steps.

Writes ``DIR/lcpfn.pt`` (a ``state_dict``, loadable with ``weights_only=True``) and
``DIR/lcpfn.json`` (the config, version, command, training time, curves seen and final
loss), every ``--save-every`` minutes and at the end, so an interrupted run still leaves
usable weights.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

VERSION_PREFIX = "lcpfn"


def bucket_borders(n_buckets: int, rng: np.random.Generator, n_epochs: int = 100, n_curves: int = 50_000) -> np.ndarray:
    """Borders of ``n_buckets`` equal-mass buckets of the prior's values (``n_buckets + 1`` numbers)."""
    from hpo.surrogates.lcpfn.prior import CurvePrior

    values = CurvePrior(n_epochs).sample(n_curves, rng).ravel()
    borders = np.quantile(values, np.linspace(0.0, 1.0, n_buckets + 1))
    borders = np.maximum.accumulate(borders + np.arange(n_buckets + 1) * 1e-9)  # strictly increasing
    return borders


def _draw(job: tuple[int, np.random.SeedSequence, int, str]) -> np.ndarray:
    """``n`` prior curves of ``n_epochs`` points from their own seed (runs in a sampler process)."""
    from hpo.surrogates.lcpfn.prior import sample_curves

    n_epochs, seq, n, prior = job
    return sample_curves(n, np.random.default_rng(seq), n_epochs, prior)


class CurveStream:
    """Batches of prior curves, drawn in the caller (``procs=0``) or by worker processes.

    Every chunk of 4096 curves comes from its own child of ``seed`` (``SeedSequence.spawn``),
    so a run is reproducible for a given number of processes.
    """

    chunk = 4096

    def __init__(self, n_epochs: int, seed: int, procs: int = 0, prior: str = "paper") -> None:
        self.n_epochs = n_epochs
        self.prior = prior
        self._seq = np.random.SeedSequence([seed, 0x1C9F])
        self._pool: Any = None
        self._pending: list[Any] = []
        if procs > 0:
            import multiprocessing as mp

            self._pool = mp.get_context("spawn").Pool(procs)
            for _ in range(2 * procs):
                self._submit()
        self._buf = np.empty((0, n_epochs))

    def _job(self) -> tuple[int, np.random.SeedSequence, int, str]:
        return (self.n_epochs, self._seq.spawn(1)[0], self.chunk, self.prior)

    def _submit(self) -> None:
        self._pending.append(self._pool.apply_async(_draw, (self._job(),)))

    def take(self, n: int) -> np.ndarray:
        """The next ``n`` curves (`n x n_epochs`)."""
        while len(self._buf) < n:
            if self._pool is None:
                more = _draw(self._job())
            else:
                more = self._pending.pop(0).get()
                self._submit()
            self._buf = np.concatenate([self._buf, more])
        out, self._buf = self._buf[:n], self._buf[n:]
        return out

    def close(self) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool = None


def save(model: Any, meta: dict[str, Any], out: Path) -> None:
    """Write the weights (on the CPU) and their metadata atomically (``.tmp`` then rename)."""
    import torch

    out.mkdir(parents=True, exist_ok=True)
    tmp = out / "lcpfn.pt.tmp"
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, tmp)
    os.replace(tmp, out / "lcpfn.pt")
    (out / "lcpfn.json.tmp").write_text(json.dumps(meta, indent=1, sort_keys=True))
    os.replace(out / "lcpfn.json.tmp", out / "lcpfn.json")


def train(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    from hpo.surrogates.lcpfn.model import LCPFNConfig, LCPFNet

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    earlier: dict[str, Any] = {}
    if args.init:
        # Go on from earlier weights: their config and bucket borders win over the size flags.
        earlier = json.loads((Path(args.init) / "lcpfn.json").read_text())
        config = LCPFNConfig(**earlier["config"])
        state = torch.load(Path(args.init) / "lcpfn.pt", weights_only=True)
        model = LCPFNet(config, state["bar.borders"])
        model.load_state_dict(state)
    else:
        config = LCPFNConfig(emsize=args.emsize, nlayers=args.nlayers, nhead=args.nhead, nhid=args.nhid,
                             n_buckets=args.buckets, n_epochs=100)  # fmt: skip
        borders = torch.tensor(bucket_borders(config.n_buckets, rng, config.n_epochs), dtype=torch.float32)
        model = LCPFNet(config, borders)
    n_params = sum(p.numel() for p in model.parameters())
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    model.to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.0)
    stream = CurveStream(config.n_epochs, args.seed, args.samplers, args.prior)
    budget = args.minutes * 60.0
    warmup = min(0.05 * budget, 120.0)
    out = Path(args.out)
    command = "python -m hpo.surrogates.lcpfn.train " + " ".join(shlex.quote(a) for a in args.argv)
    if earlier:
        command = f"{earlier['command']}; then {command}"
    x_all = torch.arange(1, config.n_epochs + 1, dtype=torch.float32, device=device)
    start = last_save = time.monotonic()
    step = seen = 0
    recent: list[float] = []
    meta: dict[str, Any] = {}
    print(f"[lcpfn] {n_params:,} parameters, config {config.to_dict()}, budget {args.minutes} min", flush=True)
    model.train()
    while True:
        elapsed = time.monotonic() - start
        if elapsed >= budget:
            break
        lr = args.lr * (elapsed / warmup if elapsed < warmup else 0.5 * (1 + math.cos(math.pi * (elapsed - warmup) / (budget - warmup))))
        for group in opt.param_groups:
            group["lr"] = max(lr, args.lr * 0.01)
        curves = torch.tensor(stream.take(args.batch), dtype=torch.float32).to(device, non_blocking=True)
        cut = int(rng.integers(1, config.n_epochs))
        x = x_all.expand(len(curves), -1)
        logits = model(x[:, :cut], curves[:, :cut], x[:, cut:])
        loss = -model.bar.log_prob(logits, curves[:, cut:]).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        seen += len(curves)
        recent.append(loss.detach())
        if step % args.log_every == 0:
            recent = [float(v) for v in recent]
            print(f"[lcpfn] step {step} curves {seen} elapsed {elapsed / 60:.1f} min lr {lr:.2e} "
                  f"loss {np.mean(recent[-args.log_every:]):.4f}", flush=True)  # fmt: skip
        if time.monotonic() - last_save > args.save_every * 60:
            recent = [float(v) for v in recent]
            meta = _meta(config, command, time.monotonic() - start, seen, step, recent, n_params, False, earlier)
            meta["curves_by_prior"] = _by_prior(earlier, args.prior, seen)
            save(model, meta, out)
            last_save = time.monotonic()
    stream.close()
    recent = [float(v) for v in recent]
    meta = _meta(config, command, time.monotonic() - start, seen, step, recent, n_params, True, earlier)
    meta["curves_by_prior"] = _by_prior(earlier, args.prior, seen)
    save(model, meta, out)
    print(f"[lcpfn] done: {json.dumps(meta)}", flush=True)
    return meta


def _by_prior(earlier: dict[str, Any], prior: str, seen: int) -> dict[str, int]:
    """Curves seen per prior over all stages (weights from before ``--prior`` existed saw the paper's)."""
    counts = dict(earlier.get("curves_by_prior", {"paper": earlier.get("curves_seen", 0)} if earlier else {}))
    counts[prior] = counts.get(prior, 0) + seen
    return counts


def _meta(config: Any, command: str, seconds: float, seen: int, steps: int, losses: list[float], n_params: int,
          finished: bool, earlier: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    """The metadata written next to the weights; totals include an ``--init`` run's ``earlier`` metadata."""
    import torch

    earlier = earlier or {}
    return {
        "version": f"{VERSION_PREFIX}-{config.emsize}x{config.nlayers}-b{config.n_buckets}-{time.strftime('%Y%m%d')}",
        "config": config.to_dict(),
        "command": command,
        "train_seconds": round(seconds + earlier.get("train_seconds", 0.0), 1),
        "curves_seen": seen + earlier.get("curves_seen", 0),
        "steps": steps + earlier.get("steps", 0),
        "final_loss": float(np.mean(losses[-500:])) if losses else None,
        "parameters": n_params,
        "finished": finished,
        "torch": torch.__version__,
    }


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(prog="python -m hpo.surrogates.lcpfn.train", description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, help="folder for lcpfn.pt and lcpfn.json")
    p.add_argument("--minutes", type=float, default=60.0)
    p.add_argument("--emsize", type=int, default=128)
    p.add_argument("--nlayers", type=int, default=6)
    p.add_argument("--nhead", type=int, default=4)
    p.add_argument("--nhid", type=int, default=256)
    p.add_argument("--buckets", type=int, default=1000)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cpu", help="torch device, e.g. cuda")
    p.add_argument("--samplers", type=int, default=0, help="worker processes drawing prior curves (0: in the training loop)")
    p.add_argument("--log-every", type=int, default=200)
    p.add_argument("--prior", default="mixture", choices=["mixture", "paper"],
                   help="the curve prior to train on (hpo.surrogates.lcpfn.prior; 'paper' is Adriaensen et al.'s alone)")
    p.add_argument("--init", default=None, help="folder with earlier lcpfn.pt/lcpfn.json to go on training from")
    p.add_argument("--save-every", type=float, default=5.0, help="minutes between intermediate saves")
    args = p.parse_args(argv)
    args.argv = argv
    train(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
