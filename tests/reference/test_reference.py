"""The numpy reference engine: bit-exact against FINN's execution of the same HW graph, close to
the QONNX export, weights read back exactly from the generated sources, board-side hygiene."""
from __future__ import annotations

import ast
import re
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hwsqueeze.errors import HwsqueezeError

ROOT = Path(__file__).resolve().parents[2]
BOARD_SIDE = [p for sub in ("deploy", "reference", "runtime") for p in sorted((ROOT / "hwsqueeze" / sub).glob("*.py"))] \
    + [ROOT / "hwsqueeze" / f for f in ("__init__.py", "errors.py", "fsutil.py")]


@pytest.fixture(scope="module")
def ref(built_deploy):
    from hwsqueeze.reference import Reference

    return Reference.from_deploy(built_deploy)


def test_bit_exact_vs_finn_python_execution(built_deploy, ref):
    from qonnx.core.modelwrapper import ModelWrapper

    from hwsqueeze.compile.finn_env import activate
    from hwsqueeze.compile.verify import execute
    from hwsqueeze.compile.pipeline import intermediate_path

    build = built_deploy.parent
    activate(build)
    hw = ModelWrapper(str(intermediate_path(build, "hw_codegen")))
    images = np.random.default_rng(3).integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    finn = execute(hw, images)
    np.testing.assert_array_equal(ref.run(images).reshape(3, -1), finn)


def test_close_to_qonnx_export(built_deploy, ref):
    """Logits x scale equal the QONNX export to float precision, except for the rare threshold
    boundary flips the build also allows (see compile/verify.py)."""
    verify = built_deploy.parent / "verify"
    images, expected = np.load(verify / "input.npy"), np.load(verify / "expected_logits.npy")
    scale = json.loads((built_deploy / "deploy.json").read_text())["output"]["scale"]
    got = ref.run(images).reshape(len(images), -1) * scale
    exact = np.abs(got - expected).max(1) <= 1e-5 * np.abs(expected).max()
    assert exact.mean() >= 0.75 and (got.argmax(1) == expected.argmax(1)).mean() >= 0.75


def test_onnxruntime_on_the_qcdq_export_agrees(built_deploy, ref, tmp_path):
    """The QCDQ form of the build's QONNX export (benchmarks/reference_speed.py's peer) runs in ONNX
    Runtime with any batch and gives the reference's logits x scale (to float precision, up to the
    rare threshold-boundary flips) on the sample images."""
    import onnx
    import onnxruntime as ort

    from hwsqueeze.compile.pipeline import intermediate_path
    from hwsqueeze.export import qcdq_from_qonnx

    path = qcdq_from_qonnx(intermediate_path(built_deploy.parent, "export"), tmp_path / "qcdq.onnx")
    ops = {n.op_type for n in onnx.load(str(path)).graph.node}
    assert {"QuantizeLinear", "Clip", "DequantizeLinear"} <= ops and "Quant" not in ops
    images = np.load(built_deploy / "samples" / "images.npy")
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = sess.run(None, {sess.get_inputs()[0].name: images.transpose(0, 3, 1, 2).astype(np.float32)})[0]
    scale = json.loads((built_deploy / "deploy.json").read_text())["output"]["scale"]
    want = ref.run(images).reshape(len(images), -1) * scale
    exact = np.abs(got - want).max(1) <= 1e-5 * np.abs(want).max()
    assert got.shape == want.shape and exact.mean() >= 0.75 and (got.argmax(1) == want.argmax(1)).mean() >= 0.9


def test_trace_returns_every_tensor(ref):
    out, ctx = ref.run(np.zeros((1, 32, 32, 3), np.uint8), trace=True)
    assert len(ctx) >= len(ref.nodes) and out.shape == (1, 10)


def test_hw_sources_hold_the_graph_arrays(built_deploy, tmp_path):
    """Weights and thresholds read back from the generated memblock.dat / thresh.h (folded layout)
    equal the ONNX initializers exported to weights.npz, for every layer."""
    from hwsqueeze.deploy import read_graph
    from hwsqueeze.runtime.hwsources import read_memblock, read_mvau_folding, read_thresholds_header, unfold_thresholds

    graph, arrays = read_graph(built_deploy)
    checked = 0
    for node in graph["nodes"]:
        d, refs = built_deploy / "hw" / node["name"], node["arrays"]
        if "weights" in refs:
            f = read_mvau_folding(d)
            assert f == {k: node["attrs"][k] for k in ("MW", "MH", "SIMD", "PE")}, node["name"]
            w = read_memblock(d / "memblock.dat", f["MW"], f["MH"], f["PE"], f["SIMD"], node["attrs"]["weightDataType"])
            np.testing.assert_array_equal(w, arrays[refs["weights"]], err_msg=node["name"])
            checked += 1
        if "thresholds" in refs:
            thr, act = read_thresholds_header(d / "thresh.h")
            np.testing.assert_array_equal(unfold_thresholds(thr), arrays[refs["thresholds"]], err_msg=node["name"])
            assert act == node["attrs"].get("ActVal", 0)
    assert checked == sum(n["op"] == "MVAU" for n in graph["nodes"]) > 0
    # one changed hex digit in one memory word is seen
    node = next(n for n in graph["nodes"] if "weights" in n["arrays"])
    work = tmp_path / "memblock.dat"
    lines = (built_deploy / "hw" / node["name"] / "memblock.dat").read_text().split()
    lines[0] = format(int(lines[0], 16) ^ 1, "0%dx" % len(lines[0]))
    work.write_text("\n".join(lines) + "\n")
    a = node["attrs"]
    changed = read_memblock(work, a["MW"], a["MH"], a["PE"], a["SIMD"], a["weightDataType"])
    assert (changed != arrays[node["arrays"]["weights"]]).sum() == 1


def test_threshold_table_matches_comparisons():
    from hwsqueeze.reference.engine import _ThresholdTable, _reach

    rng = np.random.default_rng(0)
    w = rng.integers(-8, 8, (20, 6))
    reach = _reach(w, "UINT4")
    thr = np.sort(rng.integers(-200, 200, (6, 15)), axis=1)
    thr[0, -3:] = 10 ** 6  # unreachable thresholds, as RoundAndClipThresholds leaves them
    acc = rng.integers(0, 16, (50, 20)) @ w
    table = _ThresholdTable(thr, act_val=-2, channels=6, reach=reach)
    want = (acc[..., None] >= thr[None]).sum(-1) - 2
    np.testing.assert_array_equal(table(acc.astype(np.float32)), want)


@pytest.mark.parametrize("images,msg", [
    (np.zeros((2, 32, 32), np.uint8), "images must have shape"),
    (np.zeros((2, 32, 32, 3), np.float32), "must be integer pixels"),
    (np.full((1, 32, 32, 3), 300, np.int16), "image values must be in [0, 255] (UINT8)"),
    (np.zeros((0, 32, 32, 3), np.uint8), "empty batch"),
])
def test_bad_images(ref, images, msg):
    with pytest.raises(HwsqueezeError, match=re.escape(msg)):
        ref.run(images)


def test_bad_reference_files(built_deploy, tmp_path):
    from hwsqueeze.reference import Reference

    d = tmp_path / "deploy"
    shutil.copytree(built_deploy, d, ignore=shutil.ignore_patterns("hw", "notebooks"))
    (d / "reference" / "weights.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(HwsqueezeError, match="corrupt"):
        Reference.from_deploy(d)
    (d / "reference" / "graph.json").unlink()
    with pytest.raises(HwsqueezeError, match="reference graph missing"):
        Reference.from_deploy(d)
    with pytest.raises(HwsqueezeError, match="not a deploy package"):
        Reference.from_deploy(tmp_path / "nowhere")


def test_unknown_op_and_broken_graphs_are_refused(built_deploy):
    import copy

    from hwsqueeze.deploy import read_graph
    from hwsqueeze.reference import Reference

    graph, arrays = read_graph(built_deploy)
    g = copy.deepcopy(graph)
    g["nodes"][0]["op"] = "Softmax"
    with pytest.raises(HwsqueezeError, match="not supported"):
        Reference(g, arrays)
    g = copy.deepcopy(graph)
    del g["nodes"][3]  # a node whose output later nodes read
    with pytest.raises(HwsqueezeError, match="which no earlier node produces"):
        Reference(g, arrays)
    g = copy.deepcopy(graph)
    g["nodes"][0]["arrays"]["weights"] = "nope/weights"
    with pytest.raises(HwsqueezeError, match="missing from reference/weights.npz"):
        Reference(g, arrays)


@pytest.mark.parametrize("path", BOARD_SIDE, ids=lambda p: p.name)
def test_board_side_is_python38_syntax(path):
    ast.parse(path.read_text(), filename=str(path), feature_version=(3, 8))


def test_board_side_imports_without_torch_onnx_qonnx_finn(built_deploy):
    """Import and run the deploy package's own copy with the host's heavy packages blocked."""
    code = f"""
import sys, importlib.abc
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split('.')[0] in ('torch', 'onnx', 'qonnx', 'finn', 'brevitas', 'onnxruntime', 'click'):
            raise ImportError('blocked on the board: ' + name)
sys.meta_path.insert(0, Block())
sys.path.insert(0, {str(built_deploy)!r})
import numpy as np
from hwsqueeze.runtime import Accelerator
from hwsqueeze.reference import Reference
import hwsqueeze
assert hwsqueeze.__file__.startswith({str(built_deploy)!r}), hwsqueeze.__file__
acc = Accelerator.emulated({str(built_deploy)!r})
x = np.load({str(built_deploy / 'samples' / 'images.npy')!r})[:2]
assert (acc.run(x) == Reference.from_deploy({str(built_deploy)!r}).run(x)).all()
print('ok')
"""
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/")
    assert res.returncode == 0 and "ok" in res.stdout, res.stderr
