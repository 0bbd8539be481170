"""One list of the HW ops a deploy package may hold (hwsqueeze/deploy/ops.py), and every side complete
against it: the reference computes each op, the emulated board models it, the package reader accepts
it, the build (to_reference) writes each of its FINN+ node types and ``hwsqueeze simulate`` has a
simulator for each; no side knows an op outside the list. Each op is also read and computed here on
a small hand-written graph (reference against the emulated board where the emulated board needs no
generated files; those it needs are in the tiny builds tests/hw runs on, checked last)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from hwsqueeze.deploy import shapes
from hwsqueeze.deploy.graph import GRAPH_FORMAT, validate_graph
from hwsqueeze.deploy.ops import NODE_TYPES, OPS
from hwsqueeze.errors import HwsqueezeError
from hwsqueeze.reference import engine
from hwsqueeze.runtime import hwmodel

SIDES = {"the reference (reference/engine.py _OPS)": engine._OPS,
         "the emulated board (runtime/hwmodel.py _LAYERS)": hwmodel._LAYERS,
         "the package reader (deploy/shapes.py SHAPES)": shapes.SHAPES}
C = 2  # channels of the hand-written graphs' input (4x4 pixels, UINT2)


def _thr(rng, rows: int, steps: int = 3) -> np.ndarray:
    return np.sort(rng.integers(-6, 7, (rows, steps)), axis=1)


# op -> the output shape of its example below, by hand, from the 4x4 input
OUT_SHAPES = {"MVAU": [1, 4, 4, 3], "FireExpand": [1, 4, 4, 5], "Thresholding": [1, 4, 4, C],
              "FMPadding": [1, 5, 5, C], "ConvolutionInputGenerator": [1, 2, 2, 4 * C], "Pool": [1, 4, 4, C],
              "DuplicateStreams": [1, 4, 4, C], "StreamingConcat": [1, 4, 4, 2 * C], "ElementwiseAdd": [1, 4, 4, C],
              "GlobalAccPool": [1, 1, 1, C]}


def _graph(op: str, rng):
    """(graph, arrays): a small graph whose last node is ``op`` (a DuplicateStreams in front where
    ``op`` reads two streams)."""
    node = {"name": f"{op}_0", "op": op, "op_type": f"{op}_{OPS[op].backends[0]}", "inputs": ["x"],
            "outputs": ["y"], "attrs": {}, "arrays": {}, "out_shape": OUT_SHAPES[op]}
    a, arrays, c = node["attrs"], {}, C
    if op in ("MVAU", "FireExpand", "Thresholding"):
        a.update(inputDataType="UINT2", ActVal=0)
    if op == "MVAU":
        a.update(MW=C, MH=3, PE=1, SIMD=1, weightDataType="INT2", noActivation=0, binaryXnorMode=0)
        arrays = {"weights": rng.integers(-2, 2, (C, 3)), "thresholds": _thr(rng, 3)}
    elif op == "FireExpand":
        c = 9 * C
        a.update(KernelDim=[3, 3], IFMChannels=C, CH1=2, CH3=3, PE1=1, SIMD1=1, PE3=1, SIMD3=1, OutPE=1)
        arrays = {"weights1": rng.integers(-2, 2, (C, 2)), "thresholds1": _thr(rng, 2),
                  "weights3": rng.integers(-2, 2, (9 * C, 3)), "thresholds3": _thr(rng, 3)}
    elif op == "Thresholding":
        a.update(NumChannels=C, numSteps=3, PE=1)
        arrays = {"thresholds": np.sort(rng.integers(0, 4, (C, 3)), axis=1)}
    elif op == "FMPadding":
        a.update(Padding=[1, 0, 0, 1])
    elif op == "ConvolutionInputGenerator":
        a.update(ConvKernelDim=[2, 2], Stride=[2, 2], OFMDim=[2, 2], Dilation=[1, 1])
    elif op == "Pool":
        c = 4 * C
        a.update(KernelSize=[2, 2], Channels=C, Function="MaxPool")
    elif op == "DuplicateStreams":
        node["outputs"] = ["y", "y_copy"]
    nodes = [node]
    if OPS[op].stream_inputs != 1:  # two streams of the input
        nodes.insert(0, {"name": "dup", "op": "DuplicateStreams", "inputs": ["x"], "outputs": ["x0", "x1"],
                         "attrs": {}, "arrays": {}})
        node["inputs"] = ["x0", "x1"]
    node["arrays"] = {k: f"{node['name']}/{k}" for k in arrays}
    graph = {"format": GRAPH_FORMAT, "input": "x", "output": "y", "input_dtype": "UINT2",
             "input_shape": [1, 4, 4, c], "output_dtype": "INT32", "output_shape": OUT_SHAPES[op], "nodes": nodes}
    return graph, {f"{node['name']}/{k}": v for k, v in arrays.items()}


@pytest.mark.parametrize("op", sorted(OPS))
def test_every_side_implements_the_op(op):
    missing = [side for side, table in SIDES.items() if op not in table]
    assert not missing, f"op {op} of hwsqueeze/deploy/ops.py has no implementation in {', '.join(missing)}"


def test_no_side_implements_an_op_outside_the_list():
    for side, table in SIDES.items():
        extra = sorted(set(table) - set(OPS))
        assert not extra, f"{side} implements {extra}, which hwsqueeze/deploy/ops.py does not list"


@pytest.mark.parametrize("op", sorted(OPS))
def test_a_graph_of_the_op_is_read_and_computed(op, tmp_path):
    """The reader accepts it, the reference computes it; where the emulated board computes from the
    graph alone (no generated files) it gives the same integers."""
    from hwsqueeze.reference import Reference
    from hwsqueeze.runtime.hwmodel import HwModel

    rng = np.random.default_rng(sorted(OPS).index(op))
    graph, arrays = _graph(op, rng)
    validate_graph("graph.json", graph, arrays)
    x = rng.integers(0, 4, (3, *graph["input_shape"][1:]))
    ref = Reference(graph, arrays).run(x)
    assert ref.shape == (3, *graph["output_shape"][1:])
    if not OPS[op].sources:
        np.testing.assert_array_equal(HwModel(graph, tmp_path).run(x), ref)


def test_the_reader_refuses_what_the_list_does_not_hold():
    graph, arrays = _graph("Pool", np.random.default_rng(0))
    for field, value, says in (("op", "AddStreams", "not supported by the board side"),
                               ("op_type", "Pool_rtl", "field 'op_type'"), ("op_type", ["x"], "field 'op_type'")):
        bad = {**graph, "nodes": [{**graph["nodes"][0], field: value}]}
        with pytest.raises(HwsqueezeError, match=says):
            validate_graph("graph.json", bad, arrays)


@pytest.fixture(scope="module")
def finn(tmp_path_factory):
    pytest.importorskip("finn")
    from hwsqueeze.compile.finn_env import activate

    activate(tmp_path_factory.mktemp("finn"))  # FINN+'s ops and the project's FireExpand registered


def _finn_node(node_type: str):
    """A one-node FINN+ graph of ``node_type``: stream inputs, the op's arrays as initializers."""
    from onnx import TensorProto, helper
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.util.basic import qonnx_make_model

    op = NODE_TYPES[node_type]
    streams = ["x"] if op.stream_inputs == 1 else ["x", "x1"]
    inputs = streams + [f"a{i}" for i in range(1, 1 + max((i for i, _ in op.arrays), default=0))]
    backend = node_type.rsplit("_", 1)[1]
    node = helper.make_node(node_type, inputs, ["y"], name=f"{node_type}_0", backend="fpgadataflow",
                            domain=f"finn.custom_op.fpgadataflow.{backend}")
    vi = lambda n: helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, 2])  # noqa: E731
    model = ModelWrapper(qonnx_make_model(helper.make_graph([node], "one", [vi(s) for s in streams], [vi("y")])))
    for name in inputs[len(streams):]:
        model.set_initializer(name, np.ones((2, 2), np.float32))
    return model, op


@pytest.mark.parametrize("node_type", sorted(NODE_TYPES))
def test_the_build_writes_the_node_type(node_type, finn):
    """FINN+ (or the project, for FireExpand) has the op, and to_reference writes it with its arrays."""
    from qonnx.custom_op.registry import getCustomOp

    from hwsqueeze.compile.to_reference import reference_graph

    model, op = _finn_node(node_type)
    getCustomOp(model.graph.node[0])  # raises for a node type nobody registered
    graph, arrays = reference_graph(model)
    (node,) = graph["nodes"]
    assert node["op"] == op.name and node["inputs"] == [i.name for i in model.graph.input]
    assert sorted(node["arrays"]) == sorted(name for _, name in op.arrays) and len(arrays) == len(op.arrays)


@pytest.mark.parametrize("node_type", sorted(NODE_TYPES))
def test_simulate_has_a_simulator_for_the_node_type(node_type, finn):
    """`hwsqueeze simulate` runs an HLS node in cppsim (FINN+'s HLSBackend code generation), an RTL node
    in Verilator (RTLBackend's file list)."""
    from finn.custom_op.fpgadataflow.hlsbackend import HLSBackend
    from finn.custom_op.fpgadataflow.rtlbackend import RTLBackend
    from qonnx.custom_op.registry import getCustomOp

    from hwsqueeze.deploy.ops import SIMULATORS
    from hwsqueeze.simulate.run import backend

    model, _ = _finn_node(node_type)
    b = backend(model.graph.node[0])
    want = {"cppsim": HLSBackend, "verilator": RTLBackend}[SIMULATORS[b]]
    assert isinstance(getCustomOp(model.graph.node[0]), want)


@pytest.mark.parametrize("node_type", ["VVAU_hls", "StreamingFIFO_rtl", "Thresholding_hls"])
def test_a_node_type_outside_the_list_is_refused_by_the_build_and_simulate(node_type, finn):
    """FINN+ has these; a package never holds them (ops.py says why): refused in one line naming the node."""
    from hwsqueeze.compile.to_reference import reference_graph
    from hwsqueeze.simulate.run import backend

    model, _ = _finn_node("Pool_hls")
    model.graph.node[0].op_type = node_type
    for call in (lambda: reference_graph(model), lambda: backend(model.graph.node[0])):
        with pytest.raises(HwsqueezeError, match=f"Pool_hls_0.*{node_type}.*not a HW layer a deploy package"):
            call()


@pytest.mark.slow
def test_every_op_the_emulated_board_reads_files_for_is_in_a_tiny_build(tiny_default_build, tiny_fused_build,
                                                                         standalone_build):
    """tests/hw runs on these builds: each op whose emulated model reads the generated files (which no
    hand-written graph here has) meets it there, and each build holds only node types of the list."""
    seen = set()
    for build in (tiny_default_build, tiny_fused_build, standalone_build):
        nodes = json.loads((build / "deploy" / "reference" / "graph.json").read_text())["nodes"]
        assert {n["op_type"] for n in nodes} <= set(NODE_TYPES)
        seen |= {n["op"] for n in nodes}
    assert {name for name, op in OPS.items() if op.sources} <= seen
