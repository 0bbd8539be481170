"""The FireExpand_hls custom op: FINN-style estimates against FINN+'s own MVAU models and hand-computed
numbers; FINN+'s cppsim of the generated kernel against FINN+'s Python execution of the unfused layers."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

from fuse.fire_graphs import fire_graph

PART = "xc7z020clg400-1"


def _fused(**kw):
    from hwsqueeze.compile.transforms.fuse_fire import FuseFireExpand

    return FuseFireExpand(rebalance_1x1=False).apply(fire_graph(**kw))[0]


def test_estimates_are_finns_mvau_models_plus_the_buffers(finn_env):
    from qonnx.custom_op.registry import getCustomOp

    model = fire_graph()  # C=8, CH1=CH3=8, 1x1 PE2 SIMD4, 3x3 PE2 SIMD8, concat SIMD 2, 6x6 pixels
    mv = {n.name: getCustomOp(n) for n in model.graph.node if n.op_type == "MVAU_hls"}
    fused = getCustomOp(next(n for n in _fused().graph.node if n.op_type == "FireExpand_hls"))
    mvau_lut = sum(op.lut_estimation(PART) for op in mv.values())  # FINN's own, embedded weights
    # centre tap: 8 ch x 4 bit captured (32) + read mux 4 x 4 bit x ceil(2/4) (16);
    # output ping-pong buffer: 2 x 16 ch / 2 per word = 16 words of 8 bits -> 8 x ceil(16/64) = 8
    assert fused.lut_estimation(PART) == mvau_lut + 32 + 16 + 8
    assert fused.bram_estimation(PART) == sum(op.bram_estimation(PART) for op in mv.values())
    assert fused.dsp_estimation(PART) == sum(op.dsp_estimation(PART) for op in mv.values()) == 0
    # cycles by hand: 3x3 = (8/2) x (72/8) = 36 per pixel; centre done after ceil(40/8) = 5 words,
    # then 1x1 (8/2) x (8/4) = 8 -> 13; output 16/2 = 8; 36 pixels x 36 + 8 drain
    assert fused.get_exp_cycles() == 36 * 36 + 8
    for op in mv.values():  # the unfused MVAUs' own cycle models: the slowest is the same 36/pixel
        assert op.get_exp_cycles() <= 36 * 36


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("g++") is None, reason="g++ not installed")
def test_cppsim_equals_finns_unfused_execution(finn_env, tmp_path, monkeypatch):
    """FINN+'s cppsim machinery (code generation, its g++ line, execute_node) on the fused node,
    against FINN+'s Python execution of DuplicateStreams/MVAUs/SWG/StreamingConcat. One folding
    (a g++ compile is ~1 min): input words of 24 channels straddle the 8-channel centre tap."""
    kw = dict(pe1=2, simd1=2, pe3=4, simd3=24, cat_simd=4)
    from qonnx.core.onnx_exec import execute_onnx

    from hwsqueeze.compile.verify import generic_copy
    from hwsqueeze.simulate import cppsim
    from hwsqueeze.simulate.env import prepare

    monkeypatch.setenv("HWSQUEEZE_SIM_CACHE", str(tmp_path / "sim"))
    sim = prepare(tmp_path)
    fused = _fused(**kw)
    name = next(n.name for n in fused.graph.node if n.op_type == "FireExpand_hls")
    res = cppsim.compile_layers(fused, [name], sim)[name]
    assert res.folder is not None, res.error
    unfused = generic_copy(fire_graph(**kw))
    rng = np.random.default_rng(2)
    for _ in range(2):
        x = rng.integers(0, 16, (1, 6, 6, 8)).astype(np.float32)
        ctx = execute_onnx(unfused, {"x": x}, return_full_exec_context=True)
        out = cppsim.run_layer(fused, name, ctx)["y"]
        np.testing.assert_array_equal(out, ctx["y"])
