"""Every ```python block of README.md runs as written, as its own script.

Each block is saved to a fresh folder and run with ``python <file>`` from there, with
no main guard added (the quickstart must work as ``python quickstart.py``). A block that
writes a study file must leave no FAILED trial in it: a script whose trials all failed
still exits 0.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from hpo.storage import open_storage
from hpo.trial import TrialStatus

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
BLOCKS = re.findall(r"^```python\n(.*?)^```$", README.read_text(), flags=re.S | re.M)


def _block_id(index: int, code: str) -> str:
    first = next((line.strip() for line in code.splitlines() if line.strip()), "")
    return f"{index}-{first[:40]}"


def _script_name(index: int) -> str:
    return "quickstart.py" if index == 0 else f"readme_block_{index}.py"


def test_readme_has_python_blocks_and_the_quickstart_comes_first():
    assert len(BLOCKS) >= 5
    quickstart = BLOCKS[0]
    assert "@hpo.tune" in quickstart and "__main__" not in quickstart  # runs as a plain script
    assert "workers=2" in quickstart and "sqlite:///" in quickstart


@pytest.mark.timeout(400)
@pytest.mark.parametrize(
    ("index", "code"), list(enumerate(BLOCKS)), ids=[_block_id(i, c) for i, c in enumerate(BLOCKS)]
)
def test_readme_block_runs_as_written(index, code, tmp_path):
    script = tmp_path / _script_name(index)
    script.write_text(code)
    paths = [str(REPO), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}
    out = subprocess.run(
        [sys.executable, script.name], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=360
    )
    assert out.returncode == 0, f"README block {index} failed:\n{out.stdout[-3000:]}\n{out.stderr[-5000:]}"
    for db in sorted(tmp_path.glob("*.db")):
        store = open_storage(str(db), readonly=True)
        try:
            trials = store.trials()
        finally:
            store.close()
        assert trials, f"{db.name} holds no trial"
        failed = [(t.trial_id, t.reason) for t in trials if t.status is TrialStatus.FAILED]
        assert not failed, f"README block {index}: FAILED trials in {db.name}: {failed}"
