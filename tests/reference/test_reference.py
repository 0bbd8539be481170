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


def _qonnx_outputs(path: Path, images: np.ndarray, full: bool = False):
    """qonnx's own ``execute_onnx`` of the graph at ``path``, one uint8 NHWC image at a time, the
    image as float32 (no hwsqueeze code between the file and qonnx but the copy that runs specialized
    _hls/_rtl nodes as their generic FINN ops, compile/verify.py's ``generic_copy``)."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx

    from hwsqueeze.compile.verify import generic_copy

    model = generic_copy(ModelWrapper(str(path)))
    iname, oname = model.graph.input[0].name, model.graph.output[0].name
    assert model.get_tensor_shape(iname) == [1, 32, 32, 3]  # NHWC from qonnx_to_finn on
    runs = [execute_onnx(model, {iname: img[None].astype(np.float32)}, return_full_exec_context=full)
            for img in images]
    return runs if full else np.stack([r[oname].reshape(-1) for r in runs]).astype(np.float64)


@pytest.fixture(scope="module")
def verify_set(built_deploy):
    """The build's 8 verification images, the QONNX export's logits for them (qonnx's execution
    of the Brevitas export, written by the build), qonnx's execution of the streamlined graph on
    them now, which images that graph reproduces exactly (the rest are threshold-boundary flips of
    the float export, compile/verify.py), the output scale and the float tolerance."""
    from types import SimpleNamespace

    from hwsqueeze.compile.finn_env import activate
    from hwsqueeze.compile.pipeline import intermediate_path

    build = built_deploy.parent
    activate(build)
    images = np.load(build / "verify" / "input.npy")
    export = np.load(build / "verify" / "expected_logits.npy")
    assert images.shape == (8, 32, 32, 3) and export.shape == (8, 10)
    tol = 1e-5 * np.abs(export).max()  # float32 rounding of qonnx's execution (compile/verify.py's EXACT_TOL)
    streamlined = _qonnx_outputs(intermediate_path(build, "streamline"), images)
    unflipped = np.abs(streamlined - export).max(1) <= tol
    assert unflipped.sum() >= 6  # the build's own rule: at least 3/4 of the images (compile/verify.py)
    scale = json.loads((built_deploy / "deploy.json").read_text())["output"]["scale"]
    return SimpleNamespace(images=images, export=export, streamlined=streamlined, unflipped=unflipped,
                           scale=scale, tol=tol)


def test_exact_against_finn_and_the_qonnx_export(built_deploy, ref, verify_set):
    """On the build's verification images: the reference's integer outputs equal FINN+'s
    execution of the final HW graph, integer for integer; times deploy.json's scale they equal
    qonnx's execution of the streamlined graph (float32 precision) on every image; and the QONNX
    export's logits on every image the streamlined graph itself reproduces exactly. The export
    computes in float, so an image may flip at a threshold boundary (compile/verify.py); such a
    flip is streamlining's, not the reference's, and the reference equals the streamlined graph
    there too. (The shipped model has no flip on these images: all 8 then agree with the export.)"""
    from hwsqueeze.compile.pipeline import intermediate_path

    v = verify_set
    ints = ref.run(v.images).reshape(len(v.images), -1)
    np.testing.assert_array_equal(ints, _qonnx_outputs(intermediate_path(built_deploy.parent, "hw_codegen"), v.images))
    np.testing.assert_allclose(ints * v.scale, v.streamlined, rtol=0, atol=v.tol)
    np.testing.assert_allclose((ints * v.scale)[v.unflipped], v.export[v.unflipped], rtol=0, atol=v.tol)


def test_onnxruntime_on_the_qcdq_export_agrees(built_deploy, ref, verify_set, tmp_path):
    """The QCDQ form of the build's QONNX export (benchmarks/reference_speed.py's peer) runs in ONNX
    Runtime with any batch and gives what qonnx's execution of the QONNX export gave at build time
    (float precision, every verification image: the same float model); so the reference's logits x
    scale on every image without a threshold-boundary flip (see ``verify_set``)."""
    import onnx
    import onnxruntime as ort

    from hwsqueeze.compile.pipeline import intermediate_path
    from hwsqueeze.export import qcdq_from_qonnx

    v = verify_set
    path = qcdq_from_qonnx(intermediate_path(built_deploy.parent, "export"), tmp_path / "qcdq.onnx")
    ops = {n.op_type for n in onnx.load(str(path)).graph.node}
    assert {"QuantizeLinear", "Clip", "DequantizeLinear"} <= ops and "Quant" not in ops
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    nchw = v.images.transpose(0, 3, 1, 2).astype(np.float32)
    got = sess.run(None, {name: nchw})[0]
    assert got.shape == (8, 10)
    np.testing.assert_allclose(got, v.export, rtol=0, atol=v.tol)
    np.testing.assert_array_equal(sess.run(None, {name: nchw[3:4]})[0], got[3:4])  # batch 1: the same row
    want = ref.run(v.images).reshape(len(v.images), -1) * v.scale
    np.testing.assert_allclose(got[v.unflipped], want[v.unflipped], rtol=0, atol=v.tol)


def test_trace_returns_every_tensor(built_deploy, ref):
    """trace=True returns every tensor of the HW graph, each equal to the tensor of the same name
    in FINN+'s own execution of that graph (qonnx's full execution context), on a random image."""
    from hwsqueeze.compile.finn_env import activate
    from hwsqueeze.compile.pipeline import intermediate_path

    activate(built_deploy.parent)
    image = np.random.default_rng(5).integers(0, 256, (1, 32, 32, 3), dtype=np.uint8)
    out, ctx = ref.run(image, trace=True)
    finn = _qonnx_outputs(intermediate_path(built_deploy.parent, "hw_codegen"), image, full=True)[0]
    streams = {t for node in ref.graph["nodes"] for t in node["inputs"] + node["outputs"]}
    assert set(ctx) == streams and len(ctx) > len(ref.nodes)  # every stream, the input included
    for name, value in ctx.items():
        assert value.shape == finn[name].shape and np.array_equal(value, finn[name]), name
    np.testing.assert_array_equal(out, finn[ref.graph["output"]].reshape(1, 10))


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
