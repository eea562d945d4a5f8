"""Peers that cannot share our environment, run in their own virtualenv (``make bench-peers``).

Syne Tune 0.13 (MOBSTER, Hyper-Tune), DEHB 0.1.2 and HEBO 0.3.6 pin ``numpy<1.27`` (HEBO
``<1.25``), which conflicts with our numpy 2. They live in ``.venv-peers`` (or the interpreter
named by ``$HPO_PEERS_PYTHON``) and are driven through a child process that speaks JSON:

* :func:`run_child` — one request in, one JSON result out (a whole run inside the child, for
  tasks the child can evaluate itself, e.g. the LCBench surrogate, which needs only numpy and
  onnxruntime);
* ``benchmarks.peers._pipe`` — an ask/tell conversation (JSON lines over stdin/stdout) for tasks
  that only our environment can evaluate.

Child modules under this package import nothing from ``hpo`` (it is not installed there).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

__all__ = ["ROOT", "peers_python", "peer_unavailable", "run_child"]

ROOT = Path(__file__).resolve().parent.parent.parent


def peers_python() -> Path:
    """The peers' interpreter: ``$HPO_PEERS_PYTHON``, else ``.venv-peers/bin/python`` in the repo."""
    env = os.environ.get("HPO_PEERS_PYTHON")
    return Path(env) if env else ROOT / ".venv-peers" / "bin" / "python"


def _install_error(python: Path) -> str:
    """``; `make bench-peers` failed: <pip's last ERROR line>`` when the peers' install failed, else ``""``.

    ``make bench-peers`` keeps that line in ``<venv>/install-error.txt`` (``python`` is ``<venv>/bin/python``).
    """
    try:
        line = (python.parent.parent / "install-error.txt").read_text(errors="replace").strip()
    except OSError:
        return ""
    return f"; `make bench-peers` failed: {line}" if line else ""


def peer_unavailable(module: str) -> str | None:
    """Why ``module`` cannot be imported in the peers' environment (None when it can).

    The reason is one line for a report's "Not run" list: the import's last error line, and pip's
    error line when ``make bench-peers`` could not install the peers.
    """
    python = peers_python()
    if not python.exists():
        return f"no peers environment at {python} (run `make bench-peers`)"
    proc = subprocess.run([str(python), "-c", f"import {module}"], capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        lines = (proc.stderr or proc.stdout).strip().splitlines()
        return f"`import {module}` failed in {python}: {lines[-1] if lines else proc.returncode}{_install_error(python)}"
    return None


def run_child(module: str, request: dict[str, Any], timeout: float = 3600) -> dict[str, Any]:
    """Run ``python -m <module>`` in the peers' environment with ``request`` as JSON on stdin.

    The child prints one JSON object as its last stdout line. Raises ``RuntimeError`` with the
    child's last stderr lines when it fails.
    """
    proc = subprocess.run(
        [str(peers_python()), "-m", module], input=json.dumps(request), capture_output=True, text=True,
        timeout=timeout, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = "\n".join(proc.stderr.strip().splitlines()[-5:])
        raise RuntimeError(f"{module} failed (exit {proc.returncode}): {tail}")
    return json.loads(lines[-1])
