"""Fuse each Fire module's expand fork/join into one ``FireExpand_hls`` layer (``hls/fire_expand.hpp``).

Pattern (FINN+'s HW graph of a Fire module, after specialization and folding)::

    x -> DuplicateStreams_hls -> MVAU_hls (1x1, MW = C) ------------------------------> StreamingConcat_hls
                              -> FMPadding -> ConvolutionInputGenerator (KxK, stride 1) -> MVAU_hls (3x3) -^

becomes ``x -> FMPadding -> ConvolutionInputGenerator -> FireExpand_hls``: the 1x1 expand reads the
window's centre tap, which *is* the pixel the 1x1 MVAU read (padding K//2 each side, stride 1,
dilation 1 are required). Weights/thresholds, PE/SIMD of each part and datatypes are taken from the
two MVAUs, the output word width from the concat. When the 1x1 part, which can only start once the
centre tap has streamed in, would make a pixel slower than the slowest of the replaced layers, its
SIMD1/PE1 are raised to the smallest parallelism that keeps the pixel rate (``rebalance``).
Modules that do not match exactly (concat order [3x3, 1x1], RTL MVAUs, other activations) are left alone.
"""
from __future__ import annotations

from typing import List, Optional, Tuple

from onnx import helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.base import Transformation

__all__ = ["FuseFireExpand", "match_fire"]


def _attr(model, node, name):
    from qonnx.custom_op.registry import getCustomOp

    return getCustomOp(node).get_nodeattr(name)


def _single_consumer(model: ModelWrapper, tensor: str):
    cons = model.find_consumers(tensor) or []
    return cons[0] if len(cons) == 1 else None


def match_fire(model: ModelWrapper, dup) -> Optional[Tuple]:
    """``(dup, mvau1, pad, swg, mvau3, concat)`` when ``dup`` starts a fusable Fire expand, else None."""
    if dup.op_type != "DuplicateStreams_hls" or len(dup.output) != 2:
        return None
    heads = [_single_consumer(model, t) for t in dup.output]
    if any(h is None for h in heads):
        return None
    mv1 = next((h for h in heads if h.op_type == "MVAU_hls"), None)
    pad = next((h for h in heads if h.op_type.startswith("FMPadding")), None)
    if mv1 is None or pad is None:
        return None
    swg = _single_consumer(model, pad.output[0])
    if swg is None or not swg.op_type.startswith("ConvolutionInputGenerator"):
        return None
    mv3 = _single_consumer(model, swg.output[0])
    cat = _single_consumer(model, mv1.output[0])
    if mv3 is None or mv3.op_type != "MVAU_hls" or cat is None or cat.op_type != "StreamingConcat_hls":
        return None
    if list(cat.input) != [mv1.output[0], mv3.output[0]]:  # the kernel writes [1x1 | 3x3]
        return None
    k = [int(v) for v in _attr(model, swg, "ConvKernelDim")]
    c = int(_attr(model, dup, "NumChannels"))
    ok = (k[0] == k[1] and k[0] % 2 == 1 and list(_attr(model, swg, "Stride")) == [1, 1]
          and list(_attr(model, swg, "Dilation")) == [1, 1] and not _attr(model, swg, "depthwise")
          and list(_attr(model, pad, "Padding")) == [k[0] // 2] * 4
          and _attr(model, mv1, "MW") == c and _attr(model, mv3, "MW") == k[0] * k[1] * c
          and list(_attr(model, mv1, "numInputVectors")) == list(_attr(model, mv3, "numInputVectors"))
          and all(_attr(model, m, "noActivation") == 0 and _attr(model, m, "binaryXnorMode") == 0 for m in (mv1, mv3))
          and _attr(model, mv1, "outputDataType") == _attr(model, mv3, "outputDataType")
          and _attr(model, mv1, "ActVal") == _attr(model, mv3, "ActVal")
          and _attr(model, mv1, "inputDataType") == _attr(model, mv3, "inputDataType"))
    return (dup, mv1, pad, swg, mv3, cat) if ok else None


def _divisors(n: int) -> List[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def rebalance(c: int, kk: int, ch1: int, simd1: int, pe1: int, t_max: int, centre_done: int) -> Tuple[int, int]:
    """Smallest (PE1 * SIMD1, then SIMD1 first) 1x1 folding with ``centre_done + T1 <= t_max`` (the
    slowest replaced layer's cycles per pixel); the given folding when it already fits, the fastest
    when none does."""
    if centre_done + (ch1 // pe1) * (c // simd1) <= t_max:
        return simd1, pe1
    options = [(p * s, -s, s, p) for s in _divisors(c) for p in _divisors(ch1)
               if centre_done + (ch1 // p) * (c // s) <= t_max and p * s >= pe1 * simd1]
    if not options:
        return c, ch1
    _, _, s, p = min(options)
    return s, p


class FuseFireExpand(Transformation):
    """Replace every matching Fire expand fork/join by one ``FireExpand_hls`` node (see module doc)."""

    def __init__(self, rebalance_1x1: bool = True):
        super().__init__()
        self.rebalance_1x1 = rebalance_1x1

    def apply(self, model: ModelWrapper) -> Tuple[ModelWrapper, bool]:
        from qonnx.custom_op.registry import getCustomOp

        from ..fire import register

        register()
        matches = [m for m in (match_fire(model, n) for n in list(model.graph.node)) if m is not None]
        used = {n.name for n in model.graph.node if n.op_type == "FireExpand_hls"}
        for dup, mv1, pad, swg, mv3, cat in matches:
            o1, o3, oc = getCustomOp(mv1), getCustomOp(mv3), getCustomOp(cat)
            c, k = int(o1.get_nodeattr("MW")), [int(v) for v in getCustomOp(swg).get_nodeattr("ConvKernelDim")]
            kk, ch1, ch3 = k[0] * k[1], int(o1.get_nodeattr("MH")), int(o3.get_nodeattr("MH"))
            simd1, pe1 = int(o1.get_nodeattr("SIMD")), int(o1.get_nodeattr("PE"))
            simd3, pe3, ope = int(o3.get_nodeattr("SIMD")), int(o3.get_nodeattr("PE")), int(oc.get_nodeattr("SIMD"))
            if self.rebalance_1x1:
                reps = max(1, int(o1.get_nodeattr("numInputVectors")[-1]) * int(o1.get_nodeattr("numInputVectors")[-2]))
                t_max = max(o1.get_exp_cycles(), o3.get_exp_cycles(), oc.get_exp_cycles(),
                            getCustomOp(dup).get_exp_cycles()) // reps
                simd1, pe1 = rebalance(c, kk, ch1, simd1, pe1, t_max, -(-((kk // 2 + 1) * c) // simd3))
            i = 0
            while f"FireExpand_hls_{i}" in used:
                i += 1
            name = f"FireExpand_hls_{i}"
            used.add(name)
            fused = helper.make_node(
                "FireExpand_hls", [swg.output[0], mv1.input[1], mv1.input[2], mv3.input[1], mv3.input[2]],
                [cat.output[0]], name=name, domain="finn.custom_op.fpgadataflow.hls", backend="fpgadataflow",
                IFMChannels=c, KernelDim=k, CH1=ch1, CH3=ch3, PE1=pe1, SIMD1=simd1, PE3=pe3, SIMD3=simd3, OutPE=ope,
                numInputVectors=list(o3.get_nodeattr("numInputVectors")),
                inputDataType=o3.get_nodeattr("inputDataType"),
                weightDataType1=o1.get_nodeattr("weightDataType"), weightDataType3=o3.get_nodeattr("weightDataType"),
                accDataType1=o1.get_nodeattr("accDataType"), accDataType3=o3.get_nodeattr("accDataType"),
                outputDataType=o3.get_nodeattr("outputDataType"), ActVal=o3.get_nodeattr("ActVal"),
                resType1=o1.get_nodeattr("resType"), resType3=o3.get_nodeattr("resType"),
                ram_style=o3.get_nodeattr("ram_style"))
            pad.input[0] = dup.input[0]  # the window generator now reads the squeeze output directly
            pos = list(model.graph.node).index(mv3)
            model.graph.node.insert(pos, fused)
            for n in (dup, mv1, mv3, cat):
                model.graph.node.remove(n)
        if matches:
            from qonnx.transformation.general import RemoveUnusedTensors, SortGraph

            model = model.transform(SortGraph()).transform(RemoveUnusedTensors())
        return model, bool(matches)
