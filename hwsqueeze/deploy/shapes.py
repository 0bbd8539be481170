"""What each node of ``reference/graph.json`` may say, and that its shapes and arrays agree.

Part of :func:`~hwsqueeze.deploy.graph.validate_graph`: every attribute the board side computes
with is checked for type and range, every tensor's shape is derived from the graph input through
the nodes' attributes and compared with the node's recorded ``out_shape``, every array's shape,
dtype and values with what its node implies. So the reference and the emulated board only ever
index, allocate and loop over figures checked here, each bounded (``MAX_DIM``, ``MAX_TENSOR_VALUES``),
and a malformed graph is one line naming the file, node and field. Which ops (and FINN+ node types)
a graph may hold, with how many inputs and outputs, is :mod:`.ops`. numpy only, Python 3.8.
"""
from __future__ import annotations

import json
from typing import Callable, Dict, List, Sequence

import numpy as np

from ..errors import HwsqueezeError
from .datatypes import dtype_range, is_known_dtype
from .ops import NODE_TYPES, OPS

__all__ = ["MAX_DIM", "MAX_TENSOR_VALUES", "MAX_STEPS", "MAX_POOL_WINDOW", "SHAPES", "check_node_shapes"]

MAX_DIM = 1 << 16  # any one dimension or attribute (ImageNet SqueezeNet's largest is 1000 channels)
MAX_TENSOR_VALUES = 1 << 24  # values of one tensor per image (the 224x224 model's largest is ~0.4 M)
MAX_STEPS = 1 << 16  # thresholds per channel (a 16-bit activation has 65,535)
MAX_POOL_WINDOW = 1 << 12  # pixels in one Pool window (FINN's are 2x2 or 3x3; the emulator loops over them)
_ACT_VAL = 1 << 16


def _shown(v: object, n: int) -> str:
    """A value from the file for an error line: JSON (control characters escaped), at most ``n`` chars."""
    return json.dumps(v)[:n]


class _Node:
    """One node's fields with one-line errors naming the file, node and field."""

    def __init__(self, path: str, node: dict) -> None:
        self.path, self.node, self.a = path, node, node["attrs"]

    def fail(self, what: str) -> HwsqueezeError:
        return HwsqueezeError(f"{self.path}: node {self.node['name']}: {what}")

    def ints(self, key: str, n: int, lo: int = 1, default=None) -> List[int]:
        v = self.a.get(key, default)
        if isinstance(v, int) and n == 1:
            v = [v]
        if (not isinstance(v, list) or len(v) != n
                or not all(isinstance(x, int) and not isinstance(x, bool) and lo <= x <= MAX_DIM for x in v)):
            raise self.fail(f"field 'attrs.{key}' must be {n} integer(s) in [{lo}, {MAX_DIM}], got {_shown(v, 60)}")
        return v

    def int(self, key: str, lo: int = 1, default=None) -> int:
        return self.ints(key, 1, lo, default)[0]

    def dtype(self, key: str) -> str:
        v = self.a.get(key)
        if not is_known_dtype(v):
            raise self.fail(f"field 'attrs.{key}' must be an integer datatype such as UINT4, got {_shown(v, 40)}")
        return v

    def act_val(self) -> int:
        v = self.a.get("ActVal", 0)
        if not isinstance(v, int) or isinstance(v, bool) or abs(v) > _ACT_VAL:
            raise self.fail(f"field 'attrs.ActVal' must be an integer in [-{_ACT_VAL}, {_ACT_VAL}], got {_shown(v, 40)}")
        return v

    def flag(self, key: str) -> bool:
        v = self.a.get(key, 0)
        if v not in (0, 1) or isinstance(v, float):
            raise self.fail(f"field 'attrs.{key}' must be 0 or 1, got {_shown(v, 40)}")
        return bool(v)

    def array(self, arrays: Dict[str, np.ndarray], key: str, shape: Sequence[object], dtype: str = "") -> np.ndarray:
        """Array ``key`` of this node: integers (or integral floats), ``shape`` (None: any size up to
        the limits; a tuple: one of), within ``dtype``'s range when given."""
        ref = self.node["arrays"].get(key)
        if ref is None:
            raise self.fail(f"has no array {key!r}")
        x = arrays[ref]
        if x.ndim != len(shape) or not all(s is None or (d in s if isinstance(s, tuple) else d == s)
                                           for d, s in zip(x.shape, shape)):
            raise self.fail(f"array {key!r} has shape {x.shape}, expected {tuple(shape)}")
        if x.dtype.kind == "f" and x.size and not (np.isfinite(x).all() and (x == np.rint(x)).all()):
            raise self.fail(f"array {key!r} holds non-integer values")
        if x.dtype.kind not in "biuf":
            raise self.fail(f"array {key!r} has dtype {x.dtype}, expected integers")
        if dtype and x.size:
            lo, hi = dtype_range(dtype)
            if x.min() < lo or x.max() > hi:
                raise self.fail(f"array {key!r} holds values in [{x.min()}, {x.max()}], outside {dtype}")
        return x

    def thresholds(self, arrays, key: str, channels: int) -> None:
        self.array(arrays, key, ((1, channels), None))
        if not 1 <= arrays[self.node["arrays"][key]].shape[1] <= MAX_STEPS:
            raise self.fail(f"array {key!r} must have 1 to {MAX_STEPS} thresholds per channel")


def _mvau(n: _Node, xs, arrays) -> List[int]:
    mw, mh, pe, simd = (n.int(k) for k in ("MW", "MH", "PE", "SIMD"))
    if mh % pe or mw % simd:
        raise n.fail(f"PE {pe} / SIMD {simd} do not divide MH {mh} / MW {mw}")
    n.dtype("inputDataType")
    n.act_val()
    if n.flag("binaryXnorMode"):
        raise n.fail("binary XNOR mode is not supported by the board side")
    n.array(arrays, "weights", (mw, mh), n.dtype("weightDataType"))
    if not n.flag("noActivation"):
        n.thresholds(arrays, "thresholds", mh)
    if xs[0][-1] != mw:
        raise n.fail(f"input has {xs[0][-1]} channels, attrs.MW is {mw}")
    return xs[0][:-1] + [mh]


def _fire_expand(n: _Node, xs, arrays) -> List[int]:
    kh, kw = n.ints("KernelDim", 2)
    c, ch1, ch3 = n.int("IFMChannels"), n.int("CH1"), n.int("CH3")
    for which, mw, mh in ((1, c, ch1), (3, kh * kw * c, ch3)):
        pe, simd = n.int(f"PE{which}"), n.int(f"SIMD{which}")
        if mh % pe or mw % simd:
            raise n.fail(f"PE{which} {pe} / SIMD{which} {simd} do not divide {mh} / {mw}")
        n.array(arrays, f"weights{which}", (mw, mh))
        n.thresholds(arrays, f"thresholds{which}", mh)
    n.int("OutPE")
    n.dtype("inputDataType")
    n.act_val()
    if xs[0][-1] != kh * kw * c:
        raise n.fail(f"input has {xs[0][-1]} channels, the {kh}x{kw} window of attrs.IFMChannels {c}")
    return xs[0][:-1] + [ch1 + ch3]


def _thresholding(n: _Node, xs, arrays) -> List[int]:
    ch = n.int("NumChannels")
    n.act_val()
    n.thresholds(arrays, "thresholds", ch)
    if xs[0][-1] != ch:
        raise n.fail(f"input has {xs[0][-1]} channels, attrs.NumChannels is {ch}")
    return xs[0]


def _four_d(n: _Node, x: List[int]) -> List[int]:
    if len(x) != 4:
        raise n.fail(f"input shape {x} is not (N, H, W, C)")
    return x


def _fmpadding(n: _Node, xs, arrays) -> List[int]:
    t, left, b, r = n.ints("Padding", 4, lo=0)
    b0, h, w, c = _four_d(n, xs[0])
    return [b0, h + t + b, w + left + r, c]


def _swg(n: _Node, xs, arrays) -> List[int]:
    b0, h, w, c = _four_d(n, xs[0])
    (kh, kw), (sh, sw), (oh, ow) = n.ints("ConvKernelDim", 2), n.ints("Stride", 2), n.ints("OFMDim", 2)
    dh, dw = n.ints("Dilation", 2, default=[1, 1])
    if (oh - 1) * sh + (kh - 1) * dh + 1 > h or (ow - 1) * sw + (kw - 1) * dw + 1 > w:
        raise n.fail(f"attrs.OFMDim {[oh, ow]} does not fit a {h}x{w} input with kernel {[kh, kw]}, stride {[sh, sw]}")
    return [b0, oh, ow, kh * kw * c]


def _pool(n: _Node, xs, arrays) -> List[int]:
    k = n.a.get("KernelSize")
    k2 = int(np.prod(n.ints("KernelSize", len(k) if isinstance(k, list) and 1 <= len(k) <= 2 else 2)))
    ch = n.int("Channels")
    if k2 > MAX_POOL_WINDOW:
        raise n.fail(f"field 'attrs.KernelSize' makes a window of {k2} pixels, more than the limit of {MAX_POOL_WINDOW}")
    if n.a.get("Function") not in ("MaxPool", "AccPool"):
        raise n.fail(f"field 'attrs.Function' must be MaxPool or AccPool, got {_shown(n.a.get('Function'), 40)}")
    if xs[0][-1] != k2 * ch:
        raise n.fail(f"input has {xs[0][-1]} channels, expected KernelSize x Channels = {k2 * ch}")
    return xs[0][:-1] + [ch]


def _concat(n: _Node, xs, arrays) -> List[int]:
    if any(x[:-1] != xs[0][:-1] for x in xs):
        raise n.fail(f"inputs of shapes {xs} differ in more than their channels")
    return xs[0][:-1] + [sum(x[-1] for x in xs)]


def _add(n: _Node, xs, arrays) -> List[int]:
    if xs[0] != xs[1]:
        raise n.fail(f"inputs of different shapes {xs[0]} and {xs[1]}")
    return xs[0]


def _globalacc(n: _Node, xs, arrays) -> List[int]:
    return [_four_d(n, xs[0])[0], 1, 1, xs[0][3]]


# op of .ops -> its output shape from the input shapes (and what it checks on the way)
SHAPES: Dict[str, Callable] = {
    "MVAU": _mvau, "FireExpand": _fire_expand, "Thresholding": _thresholding, "FMPadding": _fmpadding,
    "ConvolutionInputGenerator": _swg, "Pool": _pool, "DuplicateStreams": lambda n, xs, a: xs[0],
    "StreamingConcat": _concat, "ElementwiseAdd": _add, "GlobalAccPool": _globalacc,
}


def _shape(path: str, what: str, v: object) -> List[int]:
    if (not isinstance(v, list) or not 1 <= len(v) <= 8
            or not all(isinstance(s, int) and not isinstance(s, bool) and 0 < s <= MAX_DIM for s in v)):
        raise HwsqueezeError(f"{path}: {what} must be a list of 1 to 8 integers in [1, {MAX_DIM}], got {_shown(v, 60)}")
    if int(np.prod(v, dtype=object)) > MAX_TENSOR_VALUES:
        raise HwsqueezeError(f"{path}: {what} {v} holds more than {MAX_TENSOR_VALUES} values per image (the limit)")
    return list(v)


def check_node_shapes(path: str, graph: dict, arrays: Dict[str, np.ndarray]) -> None:
    """Derive every tensor's shape from ``input_shape`` through the nodes (whose structure and
    order ``validate_graph`` has checked) and compare it with what the graph records."""
    shapes: Dict[str, List[int]] = {graph["input"]: _shape(path, "field 'input_shape'", graph["input_shape"])}
    out_shape = _shape(path, "field 'output_shape'", graph["output_shape"])
    for spec in graph["nodes"]:
        n = _Node(path, spec)
        op = OPS.get(spec["op"])
        if op is None or op.name not in SHAPES:
            raise n.fail(f"op {_shown(spec['op'], 40)} is not supported by the board side (known: {', '.join(OPS)})")
        if "op_type" in spec and not (isinstance(spec["op_type"], str) and NODE_TYPES.get(spec["op_type"]) is op):
            raise n.fail(f"field 'op_type' {_shown(spec['op_type'], 40)} is not a {op.name} a package can hold "
                         f"({', '.join(f'{op.name}_{b}' for b in op.backends)})")
        n_in = op.stream_inputs
        if (len(spec["inputs"]) != n_in) if n_in else not spec["inputs"]:
            raise n.fail(f"has {len(spec['inputs'])} inputs, a {op.name} has {n_in or 'one or more'}")
        if len(spec["outputs"]) != 1 and not op.fork or not spec["outputs"]:
            raise n.fail(f"has {len(spec['outputs'])} outputs")
        got = _shape(path, f"node {spec['name']}: the shape of its output",
                     SHAPES[op.name](n, [shapes[t] for t in spec["inputs"]], arrays))
        if "out_shape" in spec and spec["out_shape"] != got:
            raise n.fail(f"field 'out_shape' is {_shown(spec['out_shape'], 60)}, its inputs and attributes give {got}")
        shapes.update({t: got for t in spec["outputs"]})
    final = shapes[graph["output"]]
    if int(np.prod(final)) != int(np.prod(out_shape)):
        raise HwsqueezeError(f"{path}: field 'output_shape' {out_shape} does not match the last node's {final}")

