"""The batch machinery of ``benchmarks.run``: resumable per-seed runs in a process pool.

Split out of :mod:`benchmarks.run` (which re-exports these names). Raw runs are merged
under a file lock, so several batches may append to one raw file.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

__all__ = ["add_batch_args", "skipped_lines", "run_batch"]


def _command() -> str:
    return "python -m benchmarks.run " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def add_batch_args(p: argparse.ArgumentParser, results: Path) -> None:
    """The options every resumable per-seed suite shares (surrogates, cash)."""
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--first-seed", type=int, default=0, help="run seeds first-seed..seeds-1 (split seeds over processes)")
    p.add_argument("--evals", type=int, default=100)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--resume", action="store_true", help="keep the runs already in the raw file")
    p.add_argument("--out", default=str(results))


def skipped_lines(unavailable: dict[str, str], commands: list[str]) -> list[str]:
    """Report lines naming the methods that could not run here and the runs that failed."""
    lines = [f"- Not run: `{m}`: {why}" for m, why in unavailable.items()]
    failed = [c.split("failed: ", 1)[1] for c in commands if "failed: " in c]
    if failed:
        lines.append(f"- Failed runs (not recorded): {' | '.join(failed)}")
    return [*lines, ""] if lines else []


def run_batch(
    args: argparse.Namespace,
    stem: str,
    tasks: list[tuple[Any, ...]],
    run_one: Any,
    key: tuple[str, ...] | Any,
    label: Any,
    raw_name: str | None = None,
) -> tuple[list[dict[str, Any]], list[str], int]:
    """Run ``tasks`` (tuples in ``key`` order) in a process pool, saving raw runs as they finish.

    Runs already in ``<out>/<raw_name>`` (default ``<stem>_raw.json.gz``; plain JSON when the
    name does not end in ``.gz``) are kept and skipped with ``--resume``; the file is merged
    under a lock (several batches may share it); one task raising is logged and the batch goes
    on. ``key`` names the run fields that identify a run, or is a function of the run giving
    that tuple. The command, with its run count and minutes, is appended to
    ``<stem>_commands.txt`` under the same kind of lock.

    Returns:
        Every run in the raw file, the command log's lines, and the number of tasks run.
    """
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    raw_path = out / (raw_name or f"{stem}_raw.json.gz")
    key_of = _key_function(key)
    runs: list[dict[str, Any]] = _read_raw(raw_path) if raw_path.exists() and args.resume else []
    done = {key_of(r) for r in runs}
    todo = [t for t in tasks if tuple(t) not in done]
    start = time.time()
    failed: list[str] = []
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futures = {pool.submit(run_one, *t): t for t in todo}
        for i, f in enumerate(as_completed(futures)):
            try:
                r = f.result()
            except Exception as exc:  # noqa: BLE001 - one run failing must not end the batch
                failed.append(f"{' '.join(map(str, futures[f][:3]))}: {type(exc).__name__}: {exc}")
                print(f"[{i + 1}/{len(futures)}] FAILED {failed[-1]}", flush=True)
                continue
            runs.append(r)
            runs = _save_runs(raw_path, runs, merge=args.resume, key=key_of)
            print(f"[{i + 1}/{len(futures)}] {label(r)}", flush=True)
    if args.resume:
        runs = _save_runs(raw_path, runs, merge=True, key=key_of)
    log = out / f"{stem}_commands.txt"
    crashed = f"; {len(failed)} failed: " + " | ".join(failed) if failed else ""
    with _locked(log):
        commands = log.read_text().splitlines() if log.exists() and args.resume else []
        commands.append(f"{_command()}   # {len(todo)} runs, {(time.time() - start) / 60:.1f} min{crashed}")
        log.write_text("\n".join(commands) + "\n")
    return runs, commands, len(todo)


def _key_function(key: tuple[str, ...] | Any) -> Any:
    """``key`` as a function of a run: field names become the tuple of those fields."""
    return key if callable(key) else (lambda run: tuple(run[k] for k in key))


def _locked(path: Path) -> Any:
    """An exclusive ``flock`` on ``<path>.lock``: batches sharing one file take turns writing it."""
    import fcntl

    lock = open(path.with_name(path.name + ".lock"), "w")  # noqa: SIM115 - closed (and unlocked) by the context
    fcntl.flock(lock, fcntl.LOCK_EX)
    return lock


def _save_runs(path: Path, runs: list[dict[str, Any]], merge: bool,
               key: tuple[str, ...] | Any = ("task", "method", "seed", "workers")) -> list[dict[str, Any]]:
    """Write ``runs`` (merged with what other ``--resume`` processes wrote, if ``merge``) under a lock.

    The lock (``flock`` on ``<path>.lock``) makes read-merge-write one step, so two batches
    appending to the same raw file neither lose each other's runs nor interleave writes.
    """
    with _locked(path):
        runs = _merge_runs(path, runs, key) if merge else runs
        _write_raw(path, runs)
    return runs


def _merge_runs(path: Path, runs: list[dict[str, Any]], key: tuple[str, ...] | Any) -> list[dict[str, Any]]:
    """``runs`` plus the runs another ``--resume`` process has written to ``path`` meanwhile (same ``key``: one run)."""
    key_of = _key_function(key)
    mine = {key_of(r) for r in runs}
    others = [r for r in (_read_raw(path) if path.exists() else []) if key_of(r) not in mine]
    return others + runs


def _read_raw(path: Path) -> Any:
    """A raw results file: gzip-compressed JSON when the name ends in ``.gz``, else plain JSON."""
    import gzip

    with gzip.open(path, "rt") if path.suffix == ".gz" else open(path) as fh:
        return json.load(fh)


def _write_raw(path: Path, data: Any) -> None:
    """Write ``data`` as ``_read_raw`` reads it, atomically (a temporary file, then a rename)."""
    import gzip

    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")  # one per process: writers never share it
    with gzip.open(tmp, "wt") if path.suffix == ".gz" else open(tmp, "w") as fh:
        json.dump(data, fh, separators=(",", ":"))
    tmp.replace(path)
