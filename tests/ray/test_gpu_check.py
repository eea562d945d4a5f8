"""benchmarks/gpu_check.py: refuses plainly without a GPU, and passes on a real one (issue 22, part 6)."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")

from benchmarks import gpu_check  # noqa: E402


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU: the real check runs instead")
def test_without_a_gpu_it_says_so_and_checks_nothing(tmp_path, capsys):
    out = tmp_path / "gpu.json"
    assert gpu_check.main(["--out", str(out)]) == 2
    assert "no CUDA GPU" in capsys.readouterr().err and not out.exists()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a real CUDA GPU")
def test_on_a_real_gpu_every_step_passes(tmp_path):
    import ray

    out = tmp_path / "gpu.json"
    if ray.is_initialized():
        ray.shutdown()  # the check starts its own local Ray, which sees the real GPU
    assert gpu_check.main(["--out", str(out), "--workdir", str(tmp_path)]) == 0
    results = json.loads(out.read_text())
    assert all(results[k]["ok"] for k in ("ray_sees_gpu", "two_trials_share_one_gpu", "asha_resumes_from_a_cuda_checkpoint"))


def test_the_plumbing_run_passes_every_step_on_the_cpu(tmp_path):
    """The script's own steps (two trials at 0.5 GPU each overlap, ASHA resumes from checkpoints) on the CPU."""
    import os

    import ray

    if ray.is_initialized():
        ray.shutdown()
    out = tmp_path / "gpu.json"
    try:
        assert gpu_check.main(["--plumbing", "--out", str(out), "--workdir", str(tmp_path)]) == 0
    finally:
        os.environ.pop("HPO_GPU_CHECK_PLUMBING", None)
    results = json.loads(out.read_text())
    assert results["plumbing"] and results["two_trials_share_one_gpu"]["overlap_s"] > 0
    assert results["asha_resumes_from_a_cuda_checkpoint"]["resumed_from"][0] > 0
