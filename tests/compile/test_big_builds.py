"""``--estimate-only`` CLI builds of the ImageNet SqueezeNet 1.1 and a simple-bypass variant,
checked against facts the build did not produce: FINN's ``dataflow_performance`` on the saved
HW graph, the MAC count of the PyTorch model (Conv2d shapes), and the ImageNet shapes.

Slow: the ImageNet build runs the sample-image checks at 224x224 (2 images, not 8: ~1-2 min)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import run_cli

pytestmark = pytest.mark.slow


def _torch_macs(model, size: int) -> int:
    """MACs of every Conv2d in the PyTorch model, from hooks on a forward pass (independent of FINN)."""
    import torch

    macs = []

    def hook(mod, _inp, out):
        k = mod.kernel_size[0] * mod.kernel_size[1]
        macs.append(int(out.numel()) * mod.in_channels // mod.groups * k)

    hs = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    with torch.no_grad():
        model.eval()(torch.zeros(1, 3, size, size))
    for h in hs:
        h.remove()
    return sum(macs)


def _check_hw_graph(out: Path, macs: int, shape_in, n_out: int) -> dict:
    from finn.analysis.fpgadataflow.dataflow_performance import dataflow_performance
    from finn.transformation.fpgadataflow.annotate_cycles import AnnotateCycles
    from qonnx.core.datatype import DataType
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.custom_op.registry import getCustomOp

    from hwsqueeze.compile.finn_env import activate

    activate(out)
    (path,) = (out / "intermediate").glob("*_minimize_bit_width.onnx")
    model = ModelWrapper(str(path))
    iname, oname = model.graph.input[0].name, model.graph.output[0].name
    assert model.get_tensor_shape(iname) == shape_in and model.get_tensor_datatype(iname) == DataType["UINT8"]
    assert int(__import__("numpy").prod(model.get_tensor_shape(oname))) == n_out
    est = json.loads((out / "estimates.json").read_text())
    perf = model.transform(AnnotateCycles()).analysis(dataflow_performance)
    assert est["fps"] == pytest.approx(est["clock_mhz"] * 1e6 / perf["max_cycles"], abs=0.06)
    assert est["latency_sum_ms"] == pytest.approx(perf["critical_path_cycles"] / (est["clock_mhz"] * 1e3), abs=1e-3)
    assert perf["max_cycles"] / (est["clock_mhz"] * 1e3) <= est["latency_ms"] < est["latency_sum_ms"]  # pipelined
    hw_macs = 0
    for node in model.graph.node:
        if node.op_type.startswith("MVAU"):
            op = getCustomOp(node)
            hw_macs += op.get_exp_cycles() * op.get_nodeattr("PE") * op.get_nodeattr("SIMD")
    assert hw_macs == macs  # every multiply of the network is in an MVAU, none twice, none lost
    summary = json.loads((out / "build.json").read_text())
    assert summary["status"] == "estimate-only" and summary["output"]["logits_shape"] == [1, n_out]
    return {"model": model, "est": est, "perf": perf}


def test_imagenet_estimate(tmp_path: Path):
    from hwsqueeze.models import create

    out = tmp_path / "b"
    res = run_cli("build", "--model", "squeezenet1_1-imagenet", "--estimate-only", "--target-fps", "100",
                  "--verify-images", "2", "--out", str(out), timeout=900)
    assert res.returncode == 0, res.stdout + res.stderr
    macs = _torch_macs(create("squeezenet1_1-imagenet", "w4a4"), 224)
    assert 300e6 < macs < 400e6  # SqueezeNet 1.1: ~350 M MACs at 224x224 (the paper's 2.4x fewer than 1.0)
    r = _check_hw_graph(out, macs, [1, 224, 224, 3], 1000)
    assert r["est"]["fps"] >= 100
    checks = json.loads((out / "build_state.json").read_text())["checks"]
    assert checks and all(c["n"] == 2 for c in checks.values())  # --verify-images: 2 images at every stage


# Finding (measured): the bypass build stops at 'dataflow_partition' with Transposes left on the
# CPU. After lowering, each bypass join is Concat -> Transpose -> Mul -> Add <- Mul <- Transpose:
# the two inputs of the residual Add carry different float scales, so streamlining cannot fold
# them into thresholds, and the Transposes stay stuck behind the Muls (adding FINN's
# MoveTransposePastJoinAdd was tried: no change). Needs one shared quantizer across the bypass
# (as the Fire expand pair has) in the model.
@pytest.mark.xfail(strict=True, reason="Transposes are not moved past the bypass Add joins")
def test_bypass_estimate(tmp_path: Path):
    """The paper's simple bypass (registry ``create(..., bypass=True)``, reachable from the build
    CLI only as an exported QONNX): the adds become HW layers and the estimate is FINN's."""
    import torch

    from hwsqueeze.export import export_qonnx
    from hwsqueeze.models import create

    torch.manual_seed(0)
    model = create("squeezenet1_1-cifar10", "w4a4", bypass=True).eval()
    onnx_path = tmp_path / "bypass.onnx"
    export_qonnx(model, onnx_path)
    out = tmp_path / "b"
    res = run_cli("build", "--onnx", str(onnx_path), "--estimate-only", "--target-fps", "500", "--verify-images", "2",
                  "--out", str(out))
    assert res.returncode == 0, res.stdout + res.stderr
    r = _check_hw_graph(out, _torch_macs(model, 32), [1, 32, 32, 3], 10)
    adds = [n for n in r["model"].graph.node if n.op_type.startswith("ElementwiseAdd")]
    assert len(adds) == len(model.arch.bypass_fires) == 4
    assert r["est"]["fps"] >= 500
