import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_hpo_is_light():
    code = (
        "import sys, json, hpo; hpo.Budget; hpo.report; hpo.TrialStatus; "
        "import hpo.search_spaces; "
        "print(json.dumps([m for m in ('torch', 'ray', 'optuna', 'botorch', 'numpy') if m in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_wheel_has_only_the_hpo_top_level_package(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(".venv", ".git", "build", "*.egg-info", "*.db*", "__pycache__"))
    out = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(tmp_path / "dist"), str(src)],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    (wheel,) = (tmp_path / "dist").glob("hyperbandit-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert top == {"hpo"}
    for pkg in ("hpo/search_spaces/__init__.py", "hpo/schedulers/fifo.py", "hpo/integrations/__init__.py"):
        assert pkg in names
    # every source module of the project is in the wheel (a package missing from
    # pyproject's list would be importable in the editable install only)
    sources = [p.relative_to(ROOT).as_posix() for p in (ROOT / "hpo").rglob("*.py") if "__pycache__" not in p.parts]
    mapped = {"search_spaces": "hpo/search_spaces", "schedulers": "hpo/schedulers", "integrations": "hpo/integrations"}
    for folder, target in mapped.items():
        sources += [f"{target}/{p.relative_to(ROOT / folder).as_posix()}" for p in (ROOT / folder).rglob("*.py")]
    # the trained LC-PFN weights ship too (LCPFN.load() must work offline from the wheel)
    sources += [p.relative_to(ROOT).as_posix() for p in (ROOT / "hpo/surrogates/lcpfn/weights").glob("*/lcpfn.*")]
    missing = sorted(set(sources) - set(names))
    assert missing == []
    assert not any(n.startswith(("tests/", "benchmarks/")) for n in names)


def test_no_bare_imports_of_mapped_folders():
    out = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--select", "TID251", str(ROOT)], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout
