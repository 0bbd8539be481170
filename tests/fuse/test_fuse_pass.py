"""FuseFireExpand alone, on hand-made Fire HW graphs: the pattern is replaced by one FireExpand_hls
node, FINN+'s own Python execution of the unfused layers (DuplicateStreams, MVAUs, FMPadding, SWG,
StreamingConcat) equals the fused node's on random images, and what must not be fused is not."""
from __future__ import annotations

import numpy as np
import pytest
from fuse.fire_graphs import fire_graph


def _run(model, x):
    from qonnx.core.onnx_exec import execute_onnx

    from hwsqueeze.compile.verify import generic_copy

    m = generic_copy(model)
    return execute_onnx(m, {"x": x})["y"]


@pytest.mark.parametrize("kw", [dict(), dict(pe1=1, simd1=1, simd3=72, cat_simd=1), dict(c=4, ch1=12, ch3=4, pe3=4)])
def test_fused_graph_equals_finns_unfused_execution(finn_env, kw):
    from hwsqueeze.compile.transforms.fuse_fire import FuseFireExpand

    model = fire_graph(**kw)
    fused, changed = FuseFireExpand().apply(fire_graph(**kw))
    assert changed
    assert [n.op_type for n in fused.graph.node] == ["FMPadding_rtl", "ConvolutionInputGenerator_rtl",
                                                     "FireExpand_hls"]
    _, again = FuseFireExpand().apply(fused)
    assert not again  # a fixed point
    rng = np.random.default_rng(1)
    for _ in range(3):
        x = rng.integers(0, 16, (1, 6, 6, kw.get("c", 8))).astype(np.float32)
        want = _run(model, x)
        assert (want > 0).any() and (want < 15).any()
        np.testing.assert_array_equal(_run(fused, x), want)


def test_concat_in_the_other_order_is_left_alone(finn_env):
    from hwsqueeze.compile.transforms.fuse_fire import FuseFireExpand

    model, changed = FuseFireExpand().apply(fire_graph(concat_order=(3, 1)))
    assert not changed and "FireExpand_hls" not in {n.op_type for n in model.graph.node}


def test_rebalance_keeps_the_pixel_rate():
    """Hand-computed: C=16, 3x3 SIMD 48 -> the centre tap is complete after ceil(80/48) = 2 words;
    1x1 PE 1 SIMD 8 over 64 channels takes 128 cycles, 130 > 128 = the slowest replaced layer,
    so the 1x1 part needs the next parallelism up: SIMD 16 (64 cycles, 66 <= 128)."""
    from hwsqueeze.compile.transforms.fuse_fire import rebalance

    assert rebalance(16, 9, 64, 8, 1, 128, 2) == (16, 1)
    assert rebalance(16, 9, 64, 8, 1, 192, 2) == (8, 1)  # 130 <= 192: unchanged
    assert rebalance(16, 9, 64, 8, 1, 2, 2) == (16, 64)  # impossible: fastest
