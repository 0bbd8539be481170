"""scripts/gpu_recipe.sh on CPU: the campaign's stages in chunks bounded by a time budget, state
carried through $OUT, each finished stage published where the next stage reads it."""
import os
import shutil
import subprocess
import sys

import torch

from helpers import ROOT

# the campaign's options, shrunk: later options win (argparse), so the stages train the tiny model
TINY = "--model squeezenet-tiny-cifar10 --epochs 2 --batch-size 20 --max-test 20 --threads 1"


def _call(tmp_path, budget_s: int, *stages: str, extra: str = TINY, rc: int = 0) -> subprocess.CompletedProcess:
    """One call as the device tool makes it: a fresh $OUT, the runs dir as the last call left it."""
    out = tmp_path / "OUT"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    env = {**os.environ, "OUT": str(out), "RUNS": str(tmp_path / "runs"), "CK": str(tmp_path / "ck"),
           "PY": sys.executable, "DEVICE": "cpu", "DATA": "generated:60", "BUDGET_S": str(budget_s),
           "FIRST_EPOCH_S": "1", "STARTUP_S": "0", "CHUNK": "1", "EXTRA": extra, "OMP_NUM_THREADS": "1"}
    r = subprocess.run(["bash", str(ROOT / "scripts" / "gpu_recipe.sh"), *stages], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == rc, r.stderr[-3000:]
    return r


def _fresh_machine(tmp_path) -> None:
    """The next call's machine has only what the last one returned in $OUT, brought back home:
    each stage's files into runs/STAGE, the published checkpoints into checkpoints/."""
    out, runs, ck = tmp_path / "OUT", tmp_path / "runs", tmp_path / "ck"
    shutil.rmtree(runs)
    runs.mkdir()
    for d in out.iterdir():
        if d.name == "published":
            ck.mkdir(exist_ok=True)
            for f in d.iterdir():
                shutil.copy(f, ck / f.name)
        else:
            shutil.copytree(d, runs / d.name)


def test_gpu_recipe_runs_the_campaign_stages_in_chunks_and_resumes_from_what_it_saved(tmp_path):
    """Calls of a 1 s budget train one epoch each (a call's first epoch always runs, or no call
    would progress), save it to $OUT and stop; each call starts from only what the last returned.
    The teacher stage's checkpoint is published where the float stage's --teacher reads it."""
    r = _call(tmp_path, 1, "teacher", "float")
    assert "gpu_recipe: teacher: " in r.stdout and "call again" in r.stdout
    assert "stopped after epoch 1 of 2 (--stop-after)" in r.stderr
    assert sorted(p.name for p in (tmp_path / "OUT" / "teacher").iterdir()) == ["last.pt", "metrics.json"]
    _fresh_machine(tmp_path)
    r = _call(tmp_path, 1, "teacher", "float")
    assert "gpu_recipe: float: " in r.stdout and "call again" in r.stdout
    out = tmp_path / "OUT"
    assert sorted(p.name for p in (out / "teacher").iterdir()) == ["final.pt", "last.pt", "metrics.json"]
    assert [p.name for p in (out / "published").iterdir()] == ["resnet-teacher-cifar10.pt"]
    assert not (out / "float").exists()
    done = torch.load(out / "teacher" / "final.pt", weights_only=True)
    assert done["epoch"] == 2 and [m["epoch"] for m in done["metrics"]] == [1, 2]
    assert done["config"]["label_smoothing"] == 0.1 and done["config"]["device"] == "cpu"  # the campaign's options
    _fresh_machine(tmp_path)
    r = _call(tmp_path, 600, "teacher", "float")
    assert "gpu_recipe: teacher: published already" in r.stdout
    assert "gpu_recipe: recipe done: teacher float" in r.stdout
    student = torch.load(tmp_path / "ck" / "squeezenet1_1-cifar10-float-kd.pt", weights_only=True)
    assert student["config"]["teacher"] == str(tmp_path / "ck" / "resnet-teacher-cifar10.pt")
    assert student["config"]["kd_weight"] == 0.9 and student["epoch"] == 2


def test_without_stages_it_runs_every_unpublished_stage(tmp_path):
    ck = tmp_path / "ck"
    ck.mkdir()
    for name in ("squeezenet1_1-cifar10-float-kd", "squeezenet1_1-cifar10-w4a4-kd", "cnv-w2a2-cifar10-kd",
                 "resnet-teacher-cifar10-cutout", "squeezenet1_1-cifar10-w3a3-kd",
                 "squeezenet1_1-cifar10-float-kd-cutout"):
        (ck / f"{name}.pt").write_bytes(b"published")  # never read: those stages are skipped
    r = _call(tmp_path, 600, extra=TINY.replace("--epochs 2", "--epochs 1"))
    assert "gpu_recipe: stages: teacher\n" in r.stdout and "recipe done: teacher" in r.stdout
    assert torch.load(ck / "resnet-teacher-cifar10.pt", weights_only=True)["epoch"] == 1


def test_an_unknown_stage_is_refused(tmp_path):
    r = _call(tmp_path, 600, "teacher", "nope", rc=2)
    assert r.stderr.count("\n") == 1 and "STAGE (one of:" in r.stderr
    assert not (tmp_path / "runs").exists() and list((tmp_path / "OUT").iterdir()) == []
