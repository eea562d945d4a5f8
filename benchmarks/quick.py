"""``make bench-quick``: a smoke run of every benchmark suite, from a fresh clone.

Each suite runs once with a tiny budget (a few seeds, evaluations or trials), in its own
process, writing into a scratch folder (``--out``, default a temporary directory), so the
committed tables in ``benchmarks/results/`` are never overwritten. The point is that every
runner still works end to end: the numbers of a smoke run mean nothing.

    python -m benchmarks.quick                 # all suites
    python -m benchmarks.quick --only bo mf    # some of them
    python -m benchmarks.quick --out /tmp/q    # keep the smoke tables

Exit status: 0 when every suite ran, 1 otherwise (the failures are listed with their last
output lines). A suite whose optional peer is not installed still runs (the runners skip
that method and say so in the table).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

__all__ = ["SUITES", "main"]

#: Suite name -> the arguments of ``python -m benchmarks.run`` for its smoke version.
SUITES: dict[str, list[str]] = {
    "bo": ["bo", "--quick", "--jobs", "1"],
    "overhead": ["overhead", "--sizes", "30", "--repeats", "1"],
    "mf": ["mf", "--quick", "--tasks", "3945", "--seeds", "1", "--jobs", "1", "--sim-workers", "4",
           "--methods", "hpo-asha", "ray-asha", "optuna-tpe-hyperband", "optuna-tpe-hyperband-async"],
    "mf-live": ["mf", "--tasks", "digits", "--epochs", "60", "--seeds", "1", "--jobs", "1", "--sim-workers", "4",
                "--methods", "hpo-asha"],
    "replay": ["replay", "--trials", "300", "--workers", "8"],
    "ray": ["ray", "--trials", "40", "--workers", "2", "--repeats", "1", "--methods", "hpo-ray", "ray-tune-reuse",
            "--once"],
    "lcpfn": ["lcpfn", "--prior-curves", "40", "--mcmc-curves", "1", "--mcmc-real", "1", "--mcmc-steps", "60",
              "--mcmc-burn", "20", "--mcmc-walkers", "100"],
    "early": ["early", "--seeds", "1", "--trials", "12", "--tasks", "3945", "--jobs", "1",
              "--methods", "hpo-fifo", "hpo-fifo-lc", "optuna-median"],
    "early-schedules": ["early", "--seeds", "1", "--trials", "12", "--tasks", "digits-step", "trees", "--jobs", "1",
                        "--methods", "hpo-fifo", "hpo-fifo-lc", "optuna-lcpfn"],
    "loss-pruning": ["loss-pruning", "--seeds", "1", "--trials", "12", "--tasks", "digits-step-loss",
                     "--methods", "optuna-median", "optuna-lcpfn"],
    "surrogates": ["surrogates", "--seeds", "1", "--evals", "12", "--problems", "branin", "--jobs", "1",
                   "--methods", "hpo-gp", "hpo-forest", "optuna-tpe"],
    "cash": ["cash", "--seeds", "1", "--evals", "10", "--datasets", "wine", "--jobs", "1",
             "--methods", "hpo-rb", "hpo-bo", "hpo-sampler", "random"],
    "cost": ["cost", "--seeds", "1", "--evals", "12", "--tasks", "3945", "digits-mlp", "--jobs", "1",
             "--budget-multiple", "3", "--methods", "hpo-cfo", "hpo-logei", "random"],
}


def _run(name: str, argv: list[str], out: Path, timeout: float) -> tuple[bool, float, str]:
    folder = out / name
    folder.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "benchmarks.run", *argv, "--out", str(folder)]
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              cwd=Path(__file__).resolve().parent.parent)
    except subprocess.TimeoutExpired:
        return False, time.perf_counter() - start, f"timed out after {timeout:.0f} s"
    tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-8:])
    ok = proc.returncode == 0 and any(folder.glob("*.md"))
    if proc.returncode == 0 and not ok:
        tail = f"no table written in {folder}\n{tail}"
    return ok, time.perf_counter() - start, tail


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.quick", description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", choices=sorted(SUITES), help="run only these suites")
    parser.add_argument("--out", default=None, help="scratch folder for the smoke tables (default: a temporary one)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per suite")
    args = parser.parse_args(argv)
    names = args.only or list(SUITES)
    with tempfile.TemporaryDirectory(prefix="hpo-bench-quick-") as tmp:
        out = Path(args.out) if args.out else Path(tmp)
        failed = []
        for name in names:
            ok, seconds, tail = _run(name, SUITES[name], out, args.timeout)
            print(f"{'ok  ' if ok else 'FAIL'} {name:<11} {seconds:7.1f} s", flush=True)
            if not ok:
                failed.append(name)
                print("     " + tail.replace("\n", "\n     "), flush=True)
    print(f"{len(names) - len(failed)} of {len(names)} suites ran" + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
