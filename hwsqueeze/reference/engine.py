"""Bit-exact integer execution of a FINN HW-layer graph, in numpy only.

Each op reproduces the python ``execute_node`` of the FINN+ 1.6 custom op of the same name
(NHWC tensors, batch first), vectorised over the batch. Runs on a PYNQ board: Python 3.8+,
numpy 1.x or 2.x, no torch/onnx/qonnx/finn.

Exactness: matrix products run through BLAS in floating point, which is exact for integers as
long as every partial sum stays below 2**24 (float32) or 2**53 (float64). For each MVAU the
bound ``max|x| * max_j sum_i |W_ij|`` is computed when the graph is loaded and float32 is used
only where it is provably exact (float64 up to 2**52 otherwise). Thresholds: :mod:`.thresholds`.
"""
from __future__ import annotations

from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

from ..deploy import check_images, dtype_range
from ..deploy.graph import open_package, validate_graph
from ..errors import HwsqueezeError
from .thresholds import _ACC_LIMIT, _ThresholdTable

__all__ = ["Reference"]

_F32_EXACT = 2 ** 24


# --------------------------------------------------------------------------- ops
def _reach(w: np.ndarray, in_dtype: str) -> Tuple[np.ndarray, np.ndarray]:
    """Per output channel, the smallest and largest accumulator value x @ w can take."""
    lo, hi = dtype_range(in_dtype)
    w = w.astype(np.int64)
    return (np.minimum(w * lo, w * hi).sum(axis=0), np.maximum(w * lo, w * hi).sum(axis=0))


class _Node:
    def __init__(self, spec: dict, arrays: Dict[str, np.ndarray]) -> None:
        self.name, self.op, self.attrs = spec["name"], spec["op"], spec["attrs"]
        self.inputs, self.outputs = spec["inputs"], spec["outputs"]
        self.arrays = {key: arrays[ref] for key, ref in spec["arrays"].items()}  # presence: validate_graph


def _op_mvau(node: _Node, xs: List[np.ndarray], ctx: "Reference") -> List[np.ndarray]:
    a = node.attrs
    if a.get("binaryXnorMode", 0):
        raise HwsqueezeError(f"{node.name}: binary XNOR mode is not supported by the reference")
    w = node.arrays["weights"]
    lo, hi = dtype_range(a["inputDataType"])
    bound = max(abs(lo), abs(hi)) * float(np.abs(w).sum(axis=0).max(initial=0))
    if bound >= _ACC_LIMIT:
        raise HwsqueezeError(f"{node.name}: accumulator bound {bound:.3g} exceeds the exact range (2**52)")
    ftype = np.float32 if bound < _F32_EXACT else np.float64
    wf = ctx.cached(node.name + "/w", lambda: w.astype(ftype))
    # no rounding needed: every product and partial sum is an integer below the float's 2**24 / 2**53
    acc = np.matmul(xs[0].astype(ftype), wf)
    if a.get("noActivation", 0):
        return [acc.astype(np.int64)]
    table = ctx.cached(node.name + "/t", lambda: _ThresholdTable(node.arrays["thresholds"], a.get("ActVal", 0),
                                                                  int(a["MH"]), _reach(w, a["inputDataType"]), ftype))
    return [table(acc)]


def _op_fire_expand(node: _Node, xs, ctx) -> List[np.ndarray]:
    """The project's fused Fire expand: [MVAU(window centre tap, weights1) | MVAU(window, weights3)]."""
    a = node.attrs
    kk, c = int(a["KernelDim"][0]) * int(a["KernelDim"][1]), int(a["IFMChannels"])
    outs = []
    for which, x in ((1, xs[0][..., (kk // 2) * c:(kk // 2 + 1) * c]), (3, xs[0])):
        part = _Node({"name": f"{node.name}/{which}", "op": "MVAU", "inputs": [], "outputs": [], "arrays": {},
                      "attrs": {"inputDataType": a["inputDataType"], "ActVal": a.get("ActVal", 0),
                                "MH": a[f"CH{which}"]}}, {})
        part.arrays = {"weights": node.arrays[f"weights{which}"], "thresholds": node.arrays[f"thresholds{which}"]}
        outs.append(_op_mvau(part, [x], ctx)[0])
    return [np.concatenate(outs, axis=-1)]


def _op_thresholding(node: _Node, xs, ctx) -> List[np.ndarray]:
    a = node.attrs
    table = ctx.cached(node.name + "/t", lambda: _ThresholdTable(node.arrays["thresholds"], a.get("ActVal", 0),
                                                                  int(a["NumChannels"])))
    return [table(np.asarray(xs[0]).astype(np.float64))]


def _op_fmpadding(node: _Node, xs, ctx) -> List[np.ndarray]:
    t, l, b, r = node.attrs["Padding"]
    return [np.pad(xs[0], ((0, 0), (t, b), (l, r), (0, 0)), mode="constant")]


def _op_swg(node: _Node, xs, ctx) -> List[np.ndarray]:
    """Sliding window (im2col) without padding: output channels ordered (ky, kx, c)."""
    a = node.attrs
    kh, kw = a["ConvKernelDim"]
    sh, sw = a["Stride"]
    dh, dw = a.get("Dilation", [1, 1])
    oh, ow = a["OFMDim"]
    x = xs[0]
    n, c = x.shape[0], x.shape[3]
    cols = np.empty((n, oh, ow, kh, kw, c), dtype=x.dtype)
    for ky in range(kh):
        for kx in range(kw):
            y0, x0 = ky * dh, kx * dw
            cols[:, :, :, ky, kx, :] = x[:, y0:y0 + sh * (oh - 1) + 1:sh, x0:x0 + sw * (ow - 1) + 1:sw, :]
    return [cols.reshape(n, oh, ow, kh * kw * c)]


def _op_pool(node: _Node, xs, ctx) -> List[np.ndarray]:
    a = node.attrs
    k2 = int(np.prod(a["KernelSize"]))
    x = xs[0]
    v = x.reshape(x.shape[:-1] + (k2, a["Channels"]))
    fn = a["Function"]
    if fn == "MaxPool":
        return [v.max(axis=-2)]
    if fn == "AccPool":
        return [v.sum(axis=-2)]
    raise HwsqueezeError(f"{node.name}: pool function {fn} is not supported by the reference")


def _op_duplicate(node: _Node, xs, ctx) -> List[np.ndarray]:
    return [xs[0]] * len(node.outputs)


def _op_concat(node: _Node, xs, ctx) -> List[np.ndarray]:
    return [np.concatenate(xs, axis=-1)]


def _op_globalaccpool(node: _Node, xs, ctx) -> List[np.ndarray]:
    return [xs[0].astype(np.int64).sum(axis=(1, 2), keepdims=True)]


def _op_add(node: _Node, xs, ctx) -> List[np.ndarray]:
    return [xs[0].astype(np.int64) + xs[1].astype(np.int64)]


# every op of hwsqueeze/deploy/ops.py (tests/test_op_registry.py checks)
_OPS: Dict[str, Callable] = {
    "MVAU": _op_mvau, "FireExpand": _op_fire_expand, "Thresholding": _op_thresholding, "FMPadding": _op_fmpadding,
    "ConvolutionInputGenerator": _op_swg, "Pool": _op_pool, "DuplicateStreams": _op_duplicate,
    "StreamingConcat": _op_concat, "GlobalAccPool": _op_globalaccpool, "ElementwiseAdd": _op_add,
}


class Reference:
    """The HW-layer graph as an integer numpy engine: ``run(uint8 NHWC images) -> int64 outputs``."""

    def __init__(self, graph: dict, arrays: Dict[str, np.ndarray], output_shape: Optional[List[int]] = None) -> None:
        validate_graph("graph", graph, arrays)
        self.graph = graph
        self.nodes = [_Node(s, arrays) for s in graph["nodes"]]
        for n in self.nodes:
            if n.op not in _OPS:
                raise HwsqueezeError(f"{n.name}: op {n.op} has no implementation in the reference engine")
        self.input_shape = [int(s) for s in graph["input_shape"]]
        self.input_dtype = graph["input_dtype"]
        self.output_shape = [int(s) for s in (output_shape or graph["output_shape"])]
        self._cache: Dict[str, np.ndarray] = {}

    @classmethod
    def from_deploy(cls, deploy_dir) -> "Reference":
        """The reference of a deploy package (deploy.json's ``reference`` entry)."""
        meta, graph, arrays = open_package(deploy_dir)
        return cls(graph, arrays, list(meta.output.shape_normal))

    def cached(self, key: str, make: Callable[[], object]):
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def check_images(self, images) -> np.ndarray:
        """Validate a batch: (N, H, W, C) integers in the input datatype's range."""
        return check_images(images, tuple(self.input_shape[1:]), self.input_dtype)

    def run(self, images, trace: bool = False, chunk: int = 32):
        """Integer outputs (N, *output shape[1:]) for ``images``; with ``trace`` also every tensor.

        Images go through in chunks of ``chunk`` and only the outputs are kept, so memory stays
        bounded whatever N (every intermediate of one image is ~1 MB for the shipped model; the
        PYNQ-Z2 has 512 MB). 32 measured fastest (CPU time, 8 to 100 tried): larger chunks' temporaries
        fall out of the caches and come fresh from the OS (page faults), smaller ones make small
        GEMMs. ``trace`` keeps everything and is meant for a few images.
        """
        x = self.check_images(images)
        if not (isinstance(chunk, int) and chunk > 0):
            raise HwsqueezeError(f"chunk must be a positive integer, got {chunk!r}")
        if trace:
            return self._run_all(x)
        out = np.empty((x.shape[0],) + tuple(self.output_shape[1:]), dtype=np.int64)
        for i in range(0, x.shape[0], chunk):
            out[i:i + chunk] = self._run_all(x[i:i + chunk])[0]
        return out

    def _run_all(self, x: np.ndarray):
        tensors: Dict[str, np.ndarray] = {self.graph["input"]: x}
        for node in self.nodes:
            outs = _OPS[node.op](node, [tensors[t] for t in node.inputs], self)  # order checked by validate_graph
            for name, val in zip(node.outputs, outs):
                tensors[name] = val
        out = tensors[self.graph["output"]]
        return out.reshape((x.shape[0],) + tuple(self.output_shape[1:])).astype(np.int64), tensors
