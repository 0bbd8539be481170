"""scripts/gpu_recipe.sh on CPU: chunks bounded by its time budget, state carried through $OUT."""
import os
import shutil
import subprocess
import sys

import torch

from helpers import ROOT


def _call(tmp_path, runs, out, budget_s: int) -> subprocess.CompletedProcess:
    """One call as the device tool makes it: a fresh $OUT, the runs dir as the last call left it."""
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    env = {**os.environ, "OUT": str(out), "RUNS": str(runs), "PY": sys.executable, "DEVICE": "cpu",
           "DATA": "generated:60", "MODEL": "squeezenet-tiny-cifar10", "BUDGET_S": str(budget_s),
           "FIRST_EPOCH_S": "1", "STARTUP_S": "0", "FLOAT_EPOCHS": "2", "FLOAT_CHUNK": "1", "QAT_EPOCHS": "2",
           "QAT_CHUNK": "1", "EXTRA": "--batch-size 20 --max-test 20 --threads 1", "OMP_NUM_THREADS": "1"}
    r = subprocess.run(["bash", str(ROOT / "scripts" / "gpu_recipe.sh")], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    return r


def _fresh_machine(out, runs) -> None:
    """The next call's machine has only what the last one returned in $OUT (same runs path)."""
    shutil.rmtree(runs)
    shutil.copytree(out, runs)


def test_gpu_recipe_runs_in_chunks_and_resumes_from_what_it_saved(tmp_path):
    """Two calls of a 1 s budget: each trains one epoch (a call's first epoch always runs, or no
    call would progress), saves it to $OUT and stops; the second starts from only what the first returned and resumes
    the float stage from its last.pt to final.pt. (Two CLI runs: the QAT stage is the same loop
    with --init/--teacher; exact resume itself: test_exact_resume.py.)"""
    out, runs = tmp_path / "OUT", tmp_path / "runs"
    r = _call(tmp_path, runs, out, 1)
    assert "gpu_recipe: float: " in r.stdout and "call again" in r.stdout
    assert "stopped after epoch 1 of 2 (--stop-after)" in r.stderr
    assert sorted(p.name for p in (out / "float").iterdir()) == ["last.pt", "metrics.json"]
    _fresh_machine(out, runs)
    r = _call(tmp_path, runs, out, 1)
    assert "gpu_recipe: w4a4: " in r.stdout and "call again" in r.stdout
    assert sorted(p.name for p in (out / "float").iterdir()) == ["final.pt", "last.pt", "metrics.json"]
    assert not (out / "w4a4").exists()
    done = torch.load(out / "float" / "final.pt", weights_only=True)
    assert done["epoch"] == 2 and [m["epoch"] for m in done["metrics"]] == [1, 2]
    assert done["config"]["epochs"] == 2 and done["config"]["device"] == "cpu"
