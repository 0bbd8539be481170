"""`hwsqueeze export` end to end: the file it writes, what it leaves behind, what it imports."""
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

import hwsqueeze.export as export_mod
from hwsqueeze.errors import HwsqueezeError
from hwsqueeze.models import create
from hwsqueeze.train.checkpoint import save_checkpoint

ROOT = Path(__file__).resolve().parents[2]

# Runs the real CLI entry point with the training loop made unimportable.
BLOCK_LOOP = """
import sys
from importlib.abc import MetaPathFinder

class BlockLoop(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "hwsqueeze.train.loop":
            raise ImportError("export must not import the training loop")
        return None

sys.meta_path.insert(0, BlockLoop())
sys.argv = ["hwsqueeze", *sys.argv[1:]]
from hwsqueeze.cli import run
try:
    run()
finally:
    assert "hwsqueeze.train.loop" not in sys.modules
"""


@pytest.fixture(scope="module")
def tiny_model():
    """An untrained W4A4 tiny SqueezeNet with activation scales set from one batch of statistics."""
    torch.manual_seed(0)
    m = create("squeezenet-tiny-cifar10", "w4a4")
    m.train()
    with torch.no_grad():
        m(torch.randint(0, 256, (16, 3, 32, 32)).float())
    return m.eval()


@pytest.fixture(scope="module")
def tiny_checkpoint(tiny_model, tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("ck") / "tiny.pt"
    save_checkpoint(p, {"model": tiny_model.state_dict(),
                        "config": {"model": "squeezenet-tiny-cifar10", "quant": "w4a4"}})
    return p


def _dims(value_info) -> list:
    return [d.dim_value for d in value_info.type.tensor_type.shape.dim]


@pytest.mark.slow
def test_export_cli_writes_a_model_that_matches_brevitas_without_the_training_loop(
        tiny_model, tiny_checkpoint, tmp_path, monkeypatch):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "m.onnx"
    r = subprocess.run([sys.executable, "-c", BLOCK_LOOP, "export", "--checkpoint", str(tiny_checkpoint),
                        "--out", str(out), "--json"], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["check"]["ok"] is True
    # only the model: no ".m.tmp<pid>.onnx.data" sidecar or other temporary file next to it
    assert sorted(p.name for p in out_dir.iterdir()) == ["m.onnx"]

    m = onnx.load(str(out))  # self-contained: loads without any external data file
    assert _dims(m.graph.input[0]) == [1, 3, 32, 32] and _dims(m.graph.output[0]) == [1, 10]
    # qonnx's own executor against a plain torch forward of the same weights
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx

    w = ModelWrapper(str(out))
    images = np.random.default_rng(3).integers(0, 256, (3, 3, 32, 32)).astype(np.float32)
    got = np.concatenate([execute_onnx(w, {w.graph.input[0].name: x[None]})[w.graph.output[0].name]
                          for x in images]).reshape(3, 10)
    with torch.no_grad():
        ref = tiny_model(torch.from_numpy(images)).numpy()
    assert np.abs(got - ref).max() <= 1e-5 * max(1.0, np.abs(ref).max())


def test_failed_export_leaves_no_file(tiny_model, tmp_path, monkeypatch):
    sys_tmp = tmp_path / "systmp"
    sys_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(sys_tmp))
    bad = export_mod.ExportCheck(n=1, max_abs_diff=1.0, max_abs_logit=1.0, top1_equal=False)
    monkeypatch.setattr(export_mod, "check_export", lambda *a, **k: bad)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    with pytest.raises(HwsqueezeError, match="export check failed"):
        export_mod.export_qonnx(tiny_model, out_dir / "m.onnx", check_n=1)
    assert list(out_dir.iterdir()) == [] and list(sys_tmp.iterdir()) == []
