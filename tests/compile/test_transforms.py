"""Each custom graph pass alone, on small hand-made graphs, checked by executing before/after."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_onnx
from qonnx.transformation.infer_shapes import InferShapes
from qonnx.util.basic import qonnx_make_model


def _model(nodes, inputs, outputs, inits=None, dtypes=None) -> ModelWrapper:
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs],
                          [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in outputs])
    m = ModelWrapper(qonnx_make_model(g, producer_name="test", opset_imports=[helper.make_opsetid("", 18)]))
    for name, val in (inits or {}).items():
        m.set_initializer(name, np.asarray(val))
    for name, dt in (dtypes or {}).items():
        m.set_tensor_datatype(name, DataType[dt])
    return m.transform(InferShapes())


def _run(m: ModelWrapper, x: np.ndarray) -> np.ndarray:
    return execute_onnx(m, {m.graph.input[0].name: x.astype(np.float32)})[m.graph.output[0].name]


def _again_is_noop(transform, m: ModelWrapper, x=None) -> None:
    """A second application of ``transform`` reports no change, leaves the graph byte-identical
    and computes the same outputs on ``x`` (the pass is at its fixed point after one application).
    ``x=None``: an empty graph (nothing to execute)."""
    before = m.model.SerializeToString()
    ref = None if x is None else _run(m, x)
    m2, changed = transform.apply(m)
    assert not changed, type(transform).__name__
    assert m2.model.SerializeToString() == before
    if x is not None:
        np.testing.assert_array_equal(_run(m2, x), ref)


def _quant_input(scale: float, bits: float = 8.0, signed: int = 0) -> ModelWrapper:
    q = helper.make_node("Quant", ["x", "s", "z", "b"], ["q"], domain="qonnx.custom_op.general",
                         signed=signed, narrow=0, rounding_mode="ROUND")
    r = helper.make_node("Relu", ["q"], ["y"])
    return _model([q, r], [("x", [1, 3, 4, 4])], [("y", [1, 3, 4, 4])],
                  {"s": np.float32(scale), "z": np.float32(0), "b": np.float32(bits)})


def test_remove_uint8_input_quant():
    from hwsqueeze.compile.transforms.input import RemoveUint8InputQuant

    m, changed = RemoveUint8InputQuant().apply(_quant_input(1.0))
    assert changed and [n.op_type for n in m.graph.node] == ["Relu"]
    assert m.get_tensor_datatype("x") == DataType["UINT8"]
    x = np.random.default_rng(0).integers(0, 256, (1, 3, 4, 4))
    np.testing.assert_array_equal(_run(m, x), x)
    _again_is_noop(RemoveUint8InputQuant(), m, x)


def test_remove_uint8_input_quant_leaves_graph_alone_when_it_reports_no_change():
    """The Quant's output is also a graph output: the pass must refuse (changed=False) and then
    the graph must be exactly as before — not half-rewired (Relu fed from the raw input)."""
    from hwsqueeze.compile.transforms.input import RemoveUint8InputQuant

    q = helper.make_node("Quant", ["x", "s", "z", "b"], ["q"], domain="qonnx.custom_op.general",
                         signed=0, narrow=0, rounding_mode="ROUND")
    r = helper.make_node("Relu", ["q"], ["y"])
    m = _model([q, r], [("x", [1, 3, 4, 4])], [("q", [1, 3, 4, 4]), ("y", [1, 3, 4, 4])],
               {"s": np.float32(1.0), "z": np.float32(0), "b": np.float32(8)})
    before = m.model.SerializeToString()
    m2, changed = RemoveUint8InputQuant().apply(m)
    assert not changed
    assert m2.model.SerializeToString() == before, [list(n.input) for n in m2.graph.node]


@pytest.mark.parametrize("scale,bits,signed", [(0.5, 8, 0), (1.0, 4, 0), (1.0, 8, 1)])
def test_remove_uint8_input_quant_keeps_other_quantizers(scale, bits, signed):
    from hwsqueeze.compile.transforms.input import RemoveUint8InputQuant

    m0 = _quant_input(scale, bits, signed)
    before = m0.model.SerializeToString()
    m, changed = RemoveUint8InputQuant().apply(m0)
    assert not changed and m.model.SerializeToString() == before


def test_make_input_nhwc():
    from hwsqueeze.compile.transforms.input import MakeInputNHWC

    w = np.random.default_rng(1).normal(size=(2, 3, 1, 1)).astype(np.float32)
    conv = helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[1, 1])
    m = _model([conv], [("x", [1, 3, 4, 5])], [("y", [1, 2, 4, 5])], {"w": w}, {"x": "UINT8"})
    x = np.random.default_rng(2).integers(0, 256, (1, 3, 4, 5)).astype(np.float32)
    ref = _run(m, x)
    m2, changed = MakeInputNHWC().apply(m)
    assert changed and m2.get_tensor_shape("x") == [1, 4, 5, 3] and m2.get_tensor_datatype("x") == DataType["UINT8"]
    np.testing.assert_allclose(_run(m2, x.transpose(0, 2, 3, 1)), ref, rtol=1e-6)
    _again_is_noop(MakeInputNHWC(), m2, x.transpose(0, 2, 3, 1))


@pytest.mark.parametrize("size,k,s", [(7, 3, 2), (8, 3, 2), (55, 3, 2), (6, 2, 2), (9, 2, 2)])
def test_maxpool_ceil_to_pad_is_exact(size, k, s):
    from hwsqueeze.compile.transforms.pooling import MaxPoolCeilToPad

    pool = helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[k, k], strides=[s, s], ceil_mode=1)
    out = -(-(size - k) // s) + 1
    if (out - 1) * s >= size:
        out -= 1
    m = _model([pool], [("x", [1, 2, size, size])], [("y", [1, 2, out, out])], dtypes={"x": "INT4"})
    x = np.random.default_rng(size).integers(-8, 8, (1, 2, size, size)).astype(np.float32)
    ref = _run(m, x)
    m2, changed = MaxPoolCeilToPad().apply(m)
    attrs = {a.name: helper.get_attribute_value(a) for a in m2.graph.node[0].attribute}
    assert changed and attrs.get("ceil_mode", 0) == 0
    m2 = m2.transform(InferShapes())
    np.testing.assert_array_equal(_run(m2, x), ref)
    _again_is_noop(MaxPoolCeilToPad(), m2, x)


def test_maxpool_floor_mode_untouched():
    from hwsqueeze.compile.transforms.pooling import MaxPoolCeilToPad

    pool = helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[2, 2], strides=[2, 2])
    m = _model([pool], [("x", [1, 2, 8, 8])], [("y", [1, 2, 4, 4])])
    _again_is_noop(MaxPoolCeilToPad(), m, np.random.default_rng(9).normal(size=(1, 2, 8, 8)))


def test_reduce_mean_to_global_average_pool():
    from hwsqueeze.compile.transforms.pooling import ReduceMeanToGlobalAveragePool

    rm = helper.make_node("ReduceMean", ["x", "axes"], ["y"], keepdims=1)
    m = _model([rm], [("x", [1, 3, 4, 4])], [("y", [1, 3, 1, 1])], {"axes": np.array([2, 3], dtype=np.int64)})
    x = np.random.default_rng(3).normal(size=(1, 3, 4, 4))
    ref = _run(m, x)
    m2, changed = ReduceMeanToGlobalAveragePool().apply(m)
    assert changed and m2.graph.node[0].op_type == "GlobalAveragePool"
    np.testing.assert_allclose(_run(m2, x), ref, rtol=1e-6)
    _again_is_noop(ReduceMeanToGlobalAveragePool(), m2, x)
    rm1 = helper.make_node("ReduceMean", ["x", "axes"], ["y"], keepdims=1)
    other = _model([rm1], [("x", [1, 3, 4, 4])], [("y", [1, 1, 4, 4])], {"axes": np.array([1], dtype=np.int64)})
    _again_is_noop(ReduceMeanToGlobalAveragePool(), other, x)


def _tail(perm=(0, 3, 1, 2), shape=(1, 1, 1, 4), dt="INT8"):
    nodes = [helper.make_node("Mul", ["x", "c1"], ["a"]),
             helper.make_node("Transpose", ["a"], ["b"], perm=list(perm)),
             helper.make_node("Reshape", ["b", "shp"], ["c"]),
             helper.make_node("Mul", ["c", "c2"], ["y"])]
    out = int(np.prod(shape))
    return _model(nodes, [("x", list(shape))], [("y", [1, out])],
                  {"c1": np.float32(0.5), "c2": np.float32(3.0), "shp": np.array([1, out], dtype=np.int64)},
                  {"x": dt})


def test_extract_output_scale():
    from hwsqueeze.compile.transforms.tail import ExtractOutputScale, output_info

    m = _tail()
    x = np.random.default_rng(4).integers(-128, 128, (1, 1, 1, 4))
    ref = _run(m, x)
    m2, changed = ExtractOutputScale().apply(m)
    info = output_info(m2)
    assert changed and len(m2.graph.node) == 0 and m2.graph.output[0].name == "x"
    assert info["scale"] == pytest.approx(1.5) and len(info["cpu_ops"]) == 4 and info["logits_shape"] == [1, 4]
    np.testing.assert_allclose(x.reshape(1, -1) * info["scale"], ref, rtol=1e-6)
    _again_is_noop(ExtractOutputScale(), m2)  # the graph is now empty: output = input
    assert output_info(m2) == info


def test_extract_output_scale_stops_at_data_moving_transpose():
    """A Transpose that moves data is not part of the removable tail; what precedes it is float."""
    from hwsqueeze.compile.transforms.tail import ExtractOutputScale

    with pytest.raises(ValueError, match=r"\(b\) is FLOAT32"):
        ExtractOutputScale().apply(_tail(perm=(0, 2, 1, 3), shape=(1, 2, 3, 1)))


def test_extract_output_scale_refuses_float_output():
    from hwsqueeze.compile.transforms.tail import ExtractOutputScale

    with pytest.raises(ValueError, match="not an integer type"):
        ExtractOutputScale().apply(_tail(dt="FLOAT32"))


def test_streamline_forks_and_joins_moves_scales_past_fork_and_concat():
    """x -> Mul(scale) -> {MatMul a || MatMul b} -> Concat -> MultiThreshold: the Mul must end up
    past the join (FINN's default Streamline leaves it before the fork)."""
    from hwsqueeze.compile.transforms.forks import StreamlineForksAndJoins

    rng = np.random.default_rng(5)
    wa, wb = (rng.integers(-8, 8, (8, 4)).astype(np.float32) for _ in range(2))
    thr = np.sort(rng.normal(0, 20, (1, 15)), axis=1).astype(np.float32)
    nodes = [helper.make_node("Mul", ["x", "s"], ["xs"]),
             helper.make_node("MatMul", ["xs", "wa"], ["a"]), helper.make_node("MatMul", ["xs", "wb"], ["b"]),
             helper.make_node("Concat", ["a", "b"], ["c"], axis=-1),
             helper.make_node("MultiThreshold", ["c", "t"], ["y"], domain="qonnx.custom_op.general",
                              out_dtype="UINT4")]
    m = _model(nodes, [("x", [1, 8])], [("y", [1, 8])], {"s": np.float32(0.75), "wa": wa, "wb": wb, "t": thr},
               {"x": "UINT4", "wa": "INT4", "wb": "INT4"})
    x = rng.integers(0, 16, (1, 8))
    ref = _run(m, x)
    m2 = m.transform(StreamlineForksAndJoins())
    np.testing.assert_array_equal(_run(m2, x), ref)
    first = m2.find_consumer(m2.graph.input[0].name)
    assert first.op_type == "MatMul", [n.op_type for n in m2.graph.node]
    assert "Mul" not in [n.op_type for n in m2.graph.node]
    _again_is_noop(StreamlineForksAndJoins(), m2, x)


def _lowered_fire(rng) -> ModelWrapper:
    """A Fire module as ``LowerConvsToMatMul`` leaves it (1x1 convs): every MatMul wrapped in an
    NCHW->NHWC Transpose before and an NHWC->NCHW one after, a fork after the squeeze, an NCHW
    Concat (axis 1) joining the two expands, then one more conv. 8 Transposes."""
    to_nhwc, to_nchw = [0, 2, 3, 1], [0, 3, 1, 2]
    nodes, inits = [], {}

    def conv(src: str, name: str, cin: int, cout: int) -> str:
        inits[f"w_{name}"] = rng.integers(-4, 5, (cin, cout)).astype(np.float32)
        nodes.extend([helper.make_node("Transpose", [src], [f"{name}_in"], perm=to_nhwc),
                      helper.make_node("MatMul", [f"{name}_in", f"w_{name}"], [f"{name}_mm"]),
                      helper.make_node("Transpose", [f"{name}_mm"], [f"{name}_out"], perm=to_nchw)])
        return f"{name}_out"

    s = conv("x", "squeeze", 4, 3)
    e1, e3 = conv(s, "e1", 3, 2), conv(s, "e3", 3, 5)
    nodes.append(helper.make_node("Concat", [e1, e3], ["cat"], axis=1))
    last = conv("cat", "final", 7, 6)
    nodes.append(helper.make_node("Identity", [last], ["y"]))
    return _model(nodes, [("x", [1, 4, 5, 5])], [("y", [1, 6, 5, 5])], inits)


def test_move_transposes_through_forks_and_joins():
    """The Transposes inside the Fire module cancel through the fork and the Concat; only the
    one after the graph input and the one before the output remain (8 -> 2), same outputs."""
    from hwsqueeze.compile.transforms.forks import MoveTransposesThroughForksAndJoins

    rng = np.random.default_rng(7)
    m = _lowered_fire(rng)
    x = rng.integers(0, 16, (1, 4, 5, 5))
    ref = _run(m, x)
    count = lambda mm: [n.op_type for n in mm.graph.node].count("Transpose")  # noqa: E731
    assert count(m) == 8
    m2 = m.transform(MoveTransposesThroughForksAndJoins())
    np.testing.assert_array_equal(_run(m2, x), ref)
    assert count(m2) == 2, [n.op_type for n in m2.graph.node]
    cat = next(n for n in m2.graph.node if n.op_type == "Concat")
    assert helper.get_attribute_value(cat.attribute[0]) == 3  # the join now concatenates NHWC channels
    _again_is_noop(MoveTransposesThroughForksAndJoins(), m2, x)
