"""Each layer's foldings for a cycle target, costed: the choices the per-layer optimizer (``layerwise``)
picks from, and the cost of the stream between two layers.

A layer's candidates: PE and SIMD by FINN's divisibility rules (``folding._DIVIDES``,
``MVAU_WWIDTH_MAX``) that meet the cycle target — for MVAUs only those within ``SPAN`` times the
fewest MACs per cycle — and for HLS MVAUs also LUT or DSP multipliers, weights in BRAM or LUTRAM,
thresholds in LUTRAM or BRAM; each costed by :func:`.estimates._layer` (FINN+'s models plus the
threshold comparators and storage), Pareto-pruned per pair of stream widths.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import lru_cache
from typing import Dict, List, Optional, Tuple

from qonnx.core.modelwrapper import ModelWrapper

__all__ = ["Candidate", "candidates", "stream_cost", "fold_space", "cycles_at", "stream_inputs", "SPAN"]

SPAN = 4  # MVAU foldings tried: up to this many times the fewest MACs per cycle that meet the target
_MVAU_KNOBS = (("resType", ("lut", "dsp")), ("ram_style", ("auto", "distributed")),
               ("ram_style_thresholds", ("auto", "block")))


@dataclass(frozen=True)
class Candidate:
    """One way to fold one layer: its attributes, cost and stream widths."""

    attrs: Tuple[Tuple[str, object], ...]
    lut: int
    bram18: int
    dsp: int
    cycles: int
    in_widths: Tuple[int, ...]  # per stream input, in node input order
    out_widths: Tuple[int, ...]


def stream_inputs(model: ModelWrapper, node) -> List[int]:
    return [i for i, t in enumerate(node.input) if model.get_initializer(t) is None]


def fold_space(op, node) -> List[Dict[str, object]]:
    """Every PE/SIMD assignment FINN's rules allow for ``node`` (``folding._DIVIDES``)."""
    from .dsps import _divisors
    from .folding import _DIVIDES, MVAU_WWIDTH_MAX

    kind = node.op_type.rsplit("_", 1)[0]
    axes = []
    for attr, dim_attr in _DIVIDES.get(kind, ()):
        dims = op.get_nodeattr(dim_attr)
        dims = dims if isinstance(dims, (list, tuple)) else [dims]
        common = [d for d in _divisors(int(dims[0])) if all(int(x) % d == 0 for x in dims)]
        if kind == "MVAU" and attr == "SIMD":
            common = [d for d in common if d * op.get_input_datatype(1).bitwidth() <= MVAU_WWIDTH_MAX]
        axes.append([(attr, d) for d in common])
    return [dict(c) for c in itertools.product(*axes)] if axes else [{}]


def candidates(model: ModelWrapper, node, part: str, cycles: int, cache: Optional[dict] = None,
               use_dsps: bool = True) -> List[Candidate]:
    """The foldings of ``node`` that meet ``cycles``, costed (Pareto-pruned per pair of stream widths);
    ``cache`` keeps the costs for the next target."""
    from qonnx.custom_op.registry import getCustomOp

    from .estimates import _layer

    op = getCustomOp(node)
    types = op.get_nodeattr_types()
    kind = node.op_type.rsplit("_", 1)[0]
    saved = {k: op.get_nodeattr(k) for k in list(types) if k in
             ("PE", "SIMD", "resType", "ram_style", "ram_style_thresholds", "parallel_window")}
    folds = fold_space(op, node)
    if kind == "MVAU":  # only foldings near the least parallel one that meets the target
        ok = [f for f in folds if cycles_at(op, f) <= cycles]
        least = min((int(f["PE"]) * int(f["SIMD"]) for f in ok), default=0)
        folds = [f for f in ok if int(f["PE"]) * int(f["SIMD"]) <= SPAN * least]
    knobs = [(k, v if use_dsps or k != "resType" else ("lut",)) for k, v in _MVAU_KNOBS if k in types] \
        if node.op_type == "MVAU_hls" else []
    if "parallel_window" in types:  # a parallel window needs SIMD = channels; the plain one always works
        knobs.append(("parallel_window", (0,)))
    if node.op_type == "MVAU_hls" and op.get_nodeattr("noActivation"):
        knobs = [(k, v) for k, v in knobs if k != "ram_style_thresholds"]
    out: List[Candidate] = []
    try:
        for f in folds:
            for values in itertools.product(*[v for _, v in knobs]):
                attrs = {**f, **dict(zip([k for k, _ in knobs], values))}
                key = (node.name, tuple(sorted(attrs.items())))
                if cache is None or key not in cache:
                    for k, v in attrs.items():
                        op.set_nodeattr(k, v)
                    c = int(op.get_exp_cycles())
                    e = _layer(node, part, model) if c <= cycles else None
                    ins = tuple(int(op.get_instream_width(i)) for i in stream_inputs(model, node))
                    outs = tuple(int(op.get_outstream_width(o)) for o in range(len(node.output)))
                    cand = Candidate(key[1], e.lut, e.bram18, e.dsp, c, ins, outs) if e else None
                    if cache is not None and cand is not None:
                        cache[key] = cand
                else:
                    cand = cache[key]
                if cand is not None and cand.cycles <= cycles:
                    out.append(cand)
    finally:
        for k, v in saved.items():
            op.set_nodeattr(k, v)
    return _pareto(out)


def cycles_at(op, attrs: Dict[str, object]) -> int:
    old = {k: op.get_nodeattr(k) for k in attrs}
    for k, v in attrs.items():
        op.set_nodeattr(k, v)
    try:
        return int(op.get_exp_cycles())
    finally:
        for k, v in old.items():
            op.set_nodeattr(k, v)


def _pareto(cands: List[Candidate]) -> List[Candidate]:
    """Drop candidates another with the same stream widths beats or ties on LUT, BRAM18 and DSP."""
    keep: List[Candidate] = []
    for c in sorted(cands, key=lambda c: (c.lut, c.bram18, c.dsp)):
        if not any((d.in_widths, d.out_widths) == (c.in_widths, c.out_widths) and d.lut <= c.lut
                   and d.bram18 <= c.bram18 and d.dsp <= c.dsp for d in keep):
            keep.append(c)
    return keep


@lru_cache(maxsize=None)
def stream_cost(w_out: int, w_in: int, part: str) -> Tuple[int, int]:
    """(LUT, BRAM18) of the stream between a layer writing ``w_out`` bits and one reading ``w_in``: what
    FINN's InsertDWC / InsertFIFO put there (a shallow FIFO; with different widths a width converter
    and a FIFO each side), by FINN+'s own models."""
    import onnx.helper as oh
    from qonnx.custom_op.registry import getCustomOp

    from .estimates import SHALLOW_DEPTH

    def fifo(w: int) -> Tuple[int, int]:
        n = oh.make_node("StreamingFIFO_rtl", ["i"], ["o"], domain="finn.custom_op.fpgadataflow.rtl",
                         backend="fpgadataflow", depth=SHALLOW_DEPTH, folded_shape=[1, w], normal_shape=[1, w],
                         dataType="BINARY")
        op = getCustomOp(n)
        return int(op.lut_estimation(part)), int(op.bram_estimation(part))

    if w_out == w_in:
        return fifo(w_out)
    n = oh.make_node("StreamingDataWidthConverter_hls", ["i"], ["o"], domain="finn.custom_op.fpgadataflow.hls",
                     backend="fpgadataflow", inShape=[1, w_out], outShape=[1, w_in], inWidth=w_out, outWidth=w_in,
                     dataType="BINARY")
    (a, b), (c, d) = fifo(w_out), fifo(w_in)
    return a + c + int(getCustomOp(n).lut_estimation(part)), b + d
