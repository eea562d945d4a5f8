"""Parent side of the ask/tell conversation with a peer running in ``.venv-peers``.

The child (``python -m benchmarks.peers.bo_child``) proposes configs; only this process can
evaluate them (the problems need torch/BoTorch from our environment). One JSON object per
line, each way::

    parent -> child   {"method": ..., "seed": ..., "space": <space.to_dict()>, "evals": ...}
    child  -> parent  {"ask": {name: value, ...}}
    parent -> child   {"tell": value}                     (repeated ``evals`` times)
    child  -> parent  {"done": true, "ask_seconds": [...]}

The space travels in its JSON form (:meth:`hpo.search_spaces.SearchSpace.to_dict`). Peers
without conditional spaces search the flat union of all branches' parameters;
:func:`active_config` drops the inactive ones before the problem sees the config.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import subprocess
import tempfile
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from benchmarks.peers import ROOT, peers_python

__all__ = ["CHILD", "SINGLE_THREAD", "active_config", "ask_tell", "peer_bo_run"]

CHILD = "benchmarks.peers.bo_child"
#: The suite's runs are single-threaded (ours: ``torch.set_num_threads(1)``); so are the peers'.
SINGLE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


def active_config(space_dict: Mapping[str, Any], config: Mapping[str, Any]) -> dict[str, Any]:
    """``config`` restricted to the parameters active under its own branch choices.

    Args:
        space_dict: A space in its JSON form (``SearchSpace.to_dict()``).
        config: Values for (at least) every active parameter, e.g. the flat union of branches.
    """
    out: dict[str, Any] = {}
    for name, spec in space_dict.items():
        out[name] = config[name]
        if spec["type"] == "choice":
            out.update(active_config(spec["options"][config[name]], config))
    return out


def _tail(path: str, lines: int = 8) -> str:
    with open(path, errors="replace") as fh:
        return "\n".join(fh.read().strip().splitlines()[-lines:])


def ask_tell(
    argv: Sequence[str], request: Mapping[str, Any], evaluate: Callable[[dict[str, Any]], float],
    timeout: float = 900, env: Mapping[str, str] | None = None,
) -> tuple[list[float], list[float]]:
    """Drive a child ask/tell process until it says it is done.

    Args:
        argv: The child's command line (e.g. ``[python, "-m", CHILD]``).
        request: The first message (method, seed, space, evals).
        evaluate: Maps an asked config to the value to tell back.
        timeout: Seconds to wait for any one message from the child.
        env: Extra environment variables for the child.

    Returns:
        The told values, in order, and the child's seconds per ask.

    Raises:
        RuntimeError: The child exited, sent something other than the protocol, or was
            silent for ``timeout`` seconds; the message carries the tail of its stderr.
    """
    values: list[float] = []
    with tempfile.NamedTemporaryFile("w+", prefix="bo_child-", suffix=".err", delete=False) as err:
        err_path = err.name
    try:
        with open(err_path, "w") as err_fh, subprocess.Popen(
            list(argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err_fh, text=True, cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        ) as proc:
            assert proc.stdin is not None and proc.stdout is not None  # noqa: S101 - both are PIPE

            def fail(why: str) -> RuntimeError:
                # A write the child never read may still sit in the buffer; drop it here, or
                # Popen.__exit__ would raise BrokenPipeError over this error when it closes stdin.
                with contextlib.suppress(OSError):
                    proc.stdin.close()  # type: ignore[union-attr]
                proc.kill()
                proc.wait()
                return RuntimeError(f"{' '.join(map(str, argv))}: {why} (exit {proc.returncode}); stderr:\n{_tail(err_path)}")

            def send(message: Mapping[str, Any]) -> None:
                try:
                    proc.stdin.write(json.dumps(message) + "\n")  # type: ignore[union-attr]
                    proc.stdin.flush()  # type: ignore[union-attr]
                except BrokenPipeError:
                    # Usually the child has exited; the EOF on its stdout has not been read yet.
                    raise fail("the child ended before it was done (it closed its input)") from None

            send(request)
            while True:
                ready, _, _ = select.select([proc.stdout], [], [], timeout)
                line = proc.stdout.readline() if ready else None
                if line is None:
                    raise fail(f"no message within {timeout:g} s")
                if not line:
                    raise fail("the child ended before it was done")
                try:
                    message = json.loads(line)
                except json.JSONDecodeError:
                    raise fail(f"not a JSON line: {line.strip()[:200]!r}") from None
                if "ask" in message:
                    value = float(evaluate(message["ask"]))
                    values.append(value)
                    send({"tell": value})
                elif message.get("done"):
                    proc.stdin.close()
                    proc.wait(timeout=60)
                    return values, [float(t) for t in message["ask_seconds"]]
                else:
                    raise fail(f"unexpected message {line.strip()[:200]!r}")
    finally:
        os.unlink(err_path)


def peer_bo_run(problem: Any, method: str, seed: int, evals: int) -> tuple[list[float], list[float]]:
    """One run of a ``.venv-peers`` optimizer (``hebo``, ``synetune-bo``) on a BO-suite problem.

    Returns:
        The value of each evaluation and the child's seconds per ask.
    """
    space_dict = problem.space.to_dict()
    request = {"method": method, "seed": seed, "space": space_dict, "evals": evals}
    return ask_tell([str(peers_python()), "-m", CHILD], request,
                    lambda config: problem.evaluate(active_config(space_dict, config)), env=SINGLE_THREAD)
