"""Latency of one frame through a folded dataflow graph: FINN's no-overlap sum and a pipelined model.

``critical_path_cycles`` is FINN's ``dataflow_performance`` figure (layer cycles summed along the
slowest path, as if no layer started before its producer finished). ``pipelined_cycles`` is what a
user measures on an idle accelerator: layers overlap pixel by pixel.
"""
from __future__ import annotations

from typing import Dict, List

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper

__all__ = ["critical_path_cycles", "pipelined_cycles"]


def critical_path_cycles(model: ModelWrapper, layers: list) -> int:
    """Cycles along the slowest input-to-output path, summing layers (FINN's pessimistic latency)."""
    cycles = {e.name: e.cycles for e in layers}
    done: Dict[str, int] = {}
    for node in model.graph.node:  # topologically sorted
        preds = model.find_direct_predecessors(node) or []
        done[node.name] = cycles[node.name] + max((done[p.name] for p in preds), default=0)
    return max(done.values())


def _pixels(shape) -> int:
    """Pixels of an NHWC stream (1 for a vector)."""
    return int(np.prod(shape[1:-1])) if len(shape) > 2 else 1


def _needs(op, node, index: int, n_out: int, n_in: int) -> np.ndarray:
    """For each output pixel of ``op`` (raster order), the last pixel of input ``index`` it needs."""
    j = np.arange(n_out)
    kind = node.op_type.rsplit("_", 1)[0]
    if kind == "ConvolutionInputGenerator":  # a window needs its bottom-right input pixel
        (ih, iw), (oh, ow) = op.get_nodeattr("IFMDim"), op.get_nodeattr("OFMDim")
        (kh, kw), (sh, sw) = op.get_nodeattr("ConvKernelDim"), op.get_nodeattr("Stride")
        dh, dw = op.get_nodeattr("Dilation") if "Dilation" in op.get_nodeattr_types() else (1, 1)
        y, x = j // ow * sh + (kh - 1) * dh, j % ow * sw + (kw - 1) * dw
        return np.minimum(y, ih - 1) * iw + np.minimum(x, iw - 1)
    if kind == "FMPadding":  # a pad pixel needs only the real pixels before it in raster order
        (ih, iw), (top, left, bottom, right) = op.get_nodeattr("ImgDim"), op.get_nodeattr("Padding")
        oh, ow = ih + top + bottom, iw + left + right
        real = np.zeros((oh, ow), bool)
        real[top:top + ih, left:left + iw] = True
        return np.cumsum(real.ravel()) - 1  # -1: needs no input yet
    if n_in == n_out:
        return j
    return np.ceil((j + 1) * n_in / n_out).astype(int) - 1  # e.g. a global pool: its one output needs all


def pipelined_cycles(model: ModelWrapper, layers: list) -> int:
    """Cycles from the first input pixel to the last output pixel with the layers overlapping.

    A pixel-level model: each layer produces its output pixels in raster order, one every
    ``cycles / output pixels``; an output pixel starts when the input pixels it needs are out of
    their producers (a 3x3 window its bottom-right pixel, a padding pixel the real pixels before
    it, a global pool all of them) and the previous output pixel is done. The input arrives one
    stream word per cycle. FIFOs are assumed deep enough that no layer stalls its producer (the
    Fire fork/join FIFOs are sized for that), so this is the latency of one frame into an idle
    pipeline; FINN's ``latency_sum_ms`` assumes no overlap at all.
    """
    from qonnx.custom_op.registry import getCustomOp

    cycles = {e.name: e.cycles for e in layers}
    done: Dict[str, np.ndarray] = {}  # tensor -> finish cycle of each of its pixels
    for t in model.graph.input:
        consumer = model.find_consumer(t.name)
        words = int(np.prod(getCustomOp(consumer).get_folded_input_shape(0)[1:-1])) if consumer else 1
        n = _pixels(model.get_tensor_shape(t.name))
        done[t.name] = (np.arange(n) + 1) * max(1, words // max(1, n))
    for node in model.graph.node:  # topologically sorted
        op = getCustomOp(node)
        n_out = _pixels(op.get_normal_output_shape(0))
        step = cycles[node.name] / max(1, n_out)
        ready = np.zeros(n_out)
        for i, t in enumerate(node.input):
            if t not in done:  # weights / thresholds
                continue
            need = _needs(op, node, i, n_out, len(done[t]))
            ready = np.maximum(ready, np.where(need >= 0, done[t][np.clip(need, 0, None)], 0.0))
        # finish_j = max(ready_j, finish_{j-1}) + step  ==  step (j + 1) + max_{i <= j} (ready_i - step i)
        j = np.arange(n_out)
        finish = step * (j + 1) + np.maximum.accumulate(ready - step * j)
        for t in node.output:
            done[t] = finish
    return int(np.ceil(max(done[t.name][-1] for t in model.graph.output)))
