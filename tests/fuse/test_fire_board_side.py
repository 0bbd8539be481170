"""The fused layer on the board side: the deploy graph carries it (NODE_ARRAYS), the reference engine
and the emulated board (which reads the generated params.h / thresh.h / top cpp) both equal FINN+'s
Python execution of the *unfused* Fire layers; a flipped weight in params.h is caught."""
from __future__ import annotations

import re

import numpy as np
import pytest

from fuse.fire_graphs import fire_graph

KW = dict(pe1=2, simd1=2, pe3=4, simd3=24, cat_simd=4)


@pytest.fixture(scope="module")
def fused_package(finn_env, tmp_path_factory):
    from qonnx.custom_op.registry import getCustomOp

    from hwsqueeze.compile.to_reference import reference_graph
    from hwsqueeze.compile.transforms.fuse_fire import FuseFireExpand

    fused = FuseFireExpand().apply(fire_graph(**KW))[0]
    hw = tmp_path_factory.mktemp("hw")
    node = next(n for n in fused.graph.node if n.op_type == "FireExpand_hls")
    op = getCustomOp(node)
    (hw / node.name).mkdir()
    op.set_nodeattr("code_gen_dir_ipgen", str(hw / node.name))
    op.code_generation_ipgen(fused, "xc7z020clg400-1", 10.0)  # what hw_codegen writes for synthesis
    graph, arrays = reference_graph(fused)
    return graph, arrays, hw, node.name


def _truth(x):
    from qonnx.core.onnx_exec import execute_onnx

    from hwsqueeze.compile.verify import generic_copy

    m = generic_copy(fire_graph(**KW))
    return np.stack([execute_onnx(m, {"x": img[None].astype(np.float32)})["y"][0] for img in x])


def test_graph_carries_both_parts(fused_package):
    graph, arrays, _, name = fused_package
    node = next(n for n in graph["nodes"] if n["name"] == name)
    assert node["op"] == "FireExpand" and node["inputs"] == ["win"]
    assert arrays[node["arrays"]["weights1"]].shape == (8, 8) and arrays[node["arrays"]["weights3"]].shape == (72, 8)
    from hwsqueeze.deploy.graph import validate_graph
    from hwsqueeze.errors import HwsqueezeError

    bad = {**graph, "nodes": [dict(n, arrays={k: v for k, v in n["arrays"].items() if k != "thresholds3"})
                              if n["name"] == name else n for n in graph["nodes"]]}
    with pytest.raises(HwsqueezeError, match="thresholds3"):
        validate_graph("graph.json", bad, arrays)


def test_reference_and_emulated_board_equal_finns_unfused_execution(fused_package):
    from hwsqueeze.reference.engine import Reference
    from hwsqueeze.runtime.hwmodel import HwModel

    graph, arrays, hw, _ = fused_package
    x = np.random.default_rng(3).integers(0, 16, (3, 6, 6, 8))
    want = _truth(x)
    assert (want > 0).any() and (want < 15).any()
    np.testing.assert_array_equal(Reference(graph, arrays).run(x), want)
    np.testing.assert_array_equal(HwModel(graph, hw).run(x.astype(np.int64)), want)


def test_emulated_board_reads_the_generated_weights(fused_package, tmp_path):
    """Meta-test: one weight word of weights3 in params.h changed -> the emulated board differs."""
    import shutil

    from hwsqueeze.runtime.hwmodel import HwModel

    graph, _, hw, name = fused_package
    shutil.copytree(hw, tmp_path / "hw")
    params = tmp_path / "hw" / name / "params.h"
    text = params.read_text()
    start = text.index("weights3")
    m = re.compile(r'"0x([0-9a-f]+)"').search(text, start)
    word = int(m.group(1), 16) ^ 0x7  # three bits of the first element
    params.write_text(text[:m.start(1)] + format(word, "x").rjust(len(m.group(1)), "0") + text[m.end(1):])
    x = np.random.default_rng(3).integers(0, 16, (3, 6, 6, 8))
    assert not np.array_equal(HwModel(graph, tmp_path / "hw").run(x.astype(np.int64)), _truth(x))
