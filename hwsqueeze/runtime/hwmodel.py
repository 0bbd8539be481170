"""A plain integer model of FINN+'s HW layers, computing from the files code generation wrote.

This is what the emulated board "synthesises": every MVAU takes its weights from the layer's
``memblock.dat`` and its thresholds from ``thresh.h`` in their folded (PE x SIMD) hardware
layout, and computes the way the HLS kernel does — per output pixel, neuron fold by neuron fold,
PE lanes side by side, synapse folds accumulated in int64, then a comparison against each
threshold. It deliberately shares no compute with :mod:`hwsqueeze.reference` (which works on
the unfolded ``weights.npz`` with BLAS and threshold tables), so the HW-vs-SW tests compare two
independent implementations. Topology and layer attributes come from ``reference/graph.json``.
The project's fused Fire-expand layer computes from its ``params.h``/``thresh.h`` (:mod:`.hwfire`), FINN+'s
RTL thresholding layer from its per-stage threshold memories, by the RTL's binary search (:mod:`.hwthresh`).
Slow and simple by design; numpy only.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Dict, List, Tuple

import numpy as np

from ..deploy.files import inside
from ..deploy.ops import OPS
from ..errors import HwsqueezeError
from .hwcompute import folded_mvau
from .hwsources import read_memblock_words, read_mvau_folding, read_thresholds_header

__all__ = ["HwModel"]

Tensor = np.ndarray


def _mvau(node: dict, layer_dir: Path) -> Callable[[List[Tensor]], List[Tensor]]:
    a = node["attrs"]
    fold = read_mvau_folding(layer_dir)  # the folding synthesis would get, from the sources
    for key, val in fold.items():
        if int(a[key]) != val:
            raise HwsqueezeError(f"{node['name']}: generated sources say {key}={val}, graph.json {a[key]}")
    mw, mh, pe, simd = fold["MW"], fold["MH"], fold["PE"], fold["SIMD"]
    if mh % pe or mw % simd:
        raise HwsqueezeError(f"{node['name']}: PE {pe} / SIMD {simd} do not divide MH {mh} / MW {mw}")
    nf, sf = mh // pe, mw // simd
    if a.get("mem_mode", "internal_decoupled") != "internal_decoupled":
        raise HwsqueezeError(f"{node['name']}: mem_mode {a.get('mem_mode')} is not supported by the emulator")
    # weight memory word nf*SF + sf holds, for each PE lane, SIMD weights of row nf*PE + pe
    words = read_memblock_words(inside(layer_dir, "memblock.dat"), pe, simd, a["weightDataType"], nf * sf)
    w = words.reshape(nf, sf, pe, simd)
    thr = None
    if not a.get("noActivation", 0):
        thr, act_val = read_thresholds_header(inside(layer_dir, "thresh.h"))
        if thr.shape[:2] != (pe, nf):
            raise HwsqueezeError(f"{layer_dir / 'thresh.h'}: threshold memory {thr.shape[:2]}, expected PE {pe} x {nf}")
        if act_val != a.get("ActVal", 0):
            raise HwsqueezeError(f"{node['name']}: thresh.h has ActVal {act_val}, the graph {a.get('ActVal', 0)}")

    return lambda xs: [folded_mvau(xs[0], w, thr, act_val if thr is not None else 0)]


def _fmpadding(node: dict, _: Path):
    top, left, bottom, right = node["attrs"]["Padding"]

    def run(xs):
        x = xs[0]
        n, h, w, c = x.shape
        out = np.zeros((n, h + top + bottom, w + left + right, c), dtype=np.int64)
        out[:, top:top + h, left:left + w, :] = x
        return [out]

    return run


def _swg(node: dict, _: Path):
    """ConvolutionInputGenerator: for each output pixel the window's pixels in (ky, kx) order,
    each carrying all channels — the order the MVAU's weight columns (and Pool's window) expect.
    (A depthwise generator interleaves channels inside the stream; the values are the same.)"""
    a = node["attrs"]
    (kh, kw), (sh, sw), (oh, ow) = a["ConvKernelDim"], a["Stride"], a["OFMDim"]
    dh, dw = a.get("Dilation", [1, 1])

    def run(xs):
        x = xs[0]
        n, h, w, c = x.shape
        # flat pixel index of window tap (ky, kx) of output pixel (oy, ox), as (OH*OW, K*K): broadcast,
        # not a Python loop over OH*OW (graph.json's OFMDim is checked against the input, deploy/shapes.py)
        ys = (np.arange(oh)[:, None, None, None] * sh + np.arange(kh)[None, None, :, None] * dh)
        xs_ = (np.arange(ow)[None, :, None, None] * sw + np.arange(kw)[None, None, None, :] * dw)
        idx = (ys * w + xs_).reshape(oh * ow, kh * kw)
        flat = x.reshape(n, h * w, c)
        return [flat[:, idx, :].reshape(n, oh, ow, kh * kw * c)]

    return run


def _pool(node: dict, _: Path):
    a = node["attrs"]
    k2, ch, fn = int(np.prod(a["KernelSize"])), int(a["Channels"]), a["Function"]
    if fn not in ("MaxPool", "AccPool"):
        raise HwsqueezeError(f"{node['name']}: pool function {fn} is not supported by the emulator")

    def run(xs):
        x = xs[0].astype(np.int64)
        acc = x[..., 0:ch].copy()
        for k in range(1, k2):
            part = x[..., k * ch:(k + 1) * ch]
            acc = np.maximum(acc, part) if fn == "MaxPool" else acc + part
        return [acc]

    return run


def _streams(kind: str):
    def make(node: dict, _: Path):
        n_out = len(node["outputs"])

        def run(xs):
            if kind == "duplicate":
                return [xs[0]] * n_out
            if kind == "concat":
                return [np.concatenate([x.astype(np.int64) for x in xs], axis=-1)]
            if kind == "add":
                return [xs[0].astype(np.int64) + xs[1].astype(np.int64)]
            n, h, w, c = xs[0].shape  # "globalacc"
            return [xs[0].astype(np.int64).reshape(n, h * w, c).sum(axis=1).reshape(n, 1, 1, c)]

        return run

    return make


def _fire_expand(node: dict, layer_dir: Path):
    from .hwfire import fire_expand  # the project's fused layer, from its params.h / thresh.h

    return fire_expand(node, layer_dir)


def _thresholding(node: dict, layer_dir: Path):
    from .hwthresh import thresholding  # FINN+'s Thresholding_rtl, from its .dat memories

    return thresholding(node, layer_dir)


# every op of hwsqueeze/deploy/ops.py (tests/test_op_registry.py checks); those with `sources` read hw/<node>/
_LAYERS: Dict[str, Callable] = {
    "MVAU": _mvau, "FireExpand": _fire_expand, "Thresholding": _thresholding, "FMPadding": _fmpadding,
    "ConvolutionInputGenerator": _swg, "Pool": _pool,
    "DuplicateStreams": _streams("duplicate"), "StreamingConcat": _streams("concat"),
    "ElementwiseAdd": _streams("add"), "GlobalAccPool": _streams("globalacc"),
}


class HwModel:
    """The dataflow network of a deploy package, layer by layer: ``run(int images) -> int outputs``."""

    def __init__(self, graph: dict, hw_dir: Path) -> None:
        """``graph`` validated (deploy.graph.validate_graph: node names are plain file names); every
        file is read from ``hw_dir/<node name>`` and refused if a link leads it out of ``hw_dir``."""
        self.graph = graph
        self.layers: List[Tuple[dict, Callable]] = []
        for node in graph["nodes"]:
            if node["op"] not in _LAYERS:
                raise HwsqueezeError(f"{node['name']}: layer {node['op']} is not supported by the emulated board")
            layer_dir = inside(hw_dir, node["name"])
            if OPS[node["op"]].sources and not layer_dir.is_dir():
                raise HwsqueezeError(f"generated sources for {node['name']} missing: {layer_dir}")
            self.layers.append((node, _LAYERS[node["op"]](node, layer_dir)))

    def run(self, x: Tensor) -> Tensor:
        tensors = {self.graph["input"]: x.astype(np.int64)}
        for node, fn in self.layers:
            for name, val in zip(node["outputs"], fn([tensors[t] for t in node["inputs"]])):
                tensors[name] = val
        return tensors[self.graph["output"]]
