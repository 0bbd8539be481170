"""Where an MVAU's multipliers go: LUTs, DSPs one MAC each (FINN's HLS MVAU), or DSPs several MACs each
(FINN's RTL MVU, ``finn-rtllib/mvu/mvu.sv``).

The RTL MVU packs ``lanes`` output channels (PE) into one DSP48: ``mvu.sv`` computes
``NUM_LANES = 1 + (A_WIDTH - !NARROW_WEIGHTS - WEIGHT_WIDTH) / (WEIGHT_WIDTH + ACTIVATION_WIDTH - 1)``
with ``A_WIDTH`` = 25 on DSP48E1 (27 on DSP48E2 and DSP58): 4 lanes for W4A4, 5 for W3A3, 2 for
8-bit weights with 8-bit inputs. A layer uses ``ceil(PE / lanes) * SIMD`` DSPs, so it should have a
PE that is a multiple of its lanes; FINN's ``SetFolding`` raises SIMD first and leaves PE = 1 (one
MAC per DSP). ``pack_rtl`` refolds each RTL MVAU for the fewest DSPs at the same cycle target;
``use_dsps`` then spends the rest of the DSP budget on HLS MVAUs (FINN+ maps an MVAU to the RTL MVU
only when its thresholds are a separate layer: the last layer here, or every layer of a
``standalone thresholds`` graph, ``steps.dataflow.to_hw``). If the RTL layers alone need more DSPs
than the budget, the ones that save the fewest LUTs per DSP become HLS MVAUs with LUT multipliers.
"""
from __future__ import annotations

import math
from typing import List, Tuple

from qonnx.core.modelwrapper import ModelWrapper

from .boards import Board

__all__ = ["rtl_lanes", "layer_lanes", "rtl_dsps", "layer_dsps", "pack_rtl", "use_dsps"]

_A_WIDTH = {"DSP48E1": 25, "DSP48E2": 27, "DSP58": 27}


def rtl_lanes(op, part: str) -> int:
    """Output channels one DSP computes in FINN's RTL MVU (``mvu.sv`` NUM_LANES, module docstring)."""
    import numpy as np
    from finn.util.basic import get_dsp_block

    w, a = op.get_input_datatype(1).bitwidth(), op.get_input_datatype(0).bitwidth()
    a_width = _A_WIDTH.get(get_dsp_block(part), 25)
    if a_width == w:
        return 1
    weights = op.onnx_model.get_initializer(op.onnx_node.input[1]) if hasattr(op, "onnx_model") else None
    narrow = weights is None or int(np.min(weights)) != op.get_input_datatype(1).min()
    return 1 + (a_width - (0 if narrow else 1) - w) // (w + a - 1)


def rtl_dsps(op, lanes: int) -> int:
    """DSPs of an RTL MVU at its folding: ``ceil(PE / lanes) * SIMD``."""
    return math.ceil(int(op.get_nodeattr("PE")) / lanes) * int(op.get_nodeattr("SIMD"))


def _divisors(n: int) -> List[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def layer_lanes(model: ModelWrapper, node, part: str) -> int:
    """``rtl_lanes`` of an MVAU node of ``model`` (its weights decide the narrow-range case)."""
    from qonnx.custom_op.registry import getCustomOp

    op = getCustomOp(node)
    op.onnx_model = model  # for the narrow-range check on the weights
    return rtl_lanes(op, part)


def layer_dsps(model: ModelWrapper, node, part: str) -> int:
    """DSPs of one layer: FINN+'s ``dsp_estimation``; for an RTL MVU the larger of that (which assumes
    4 lanes at every width) and the RTL's own packing (``rtl_dsps``: 2 lanes for 8-bit weights)."""
    from qonnx.custom_op.registry import getCustomOp

    op = getCustomOp(node)
    dsp = int(op.dsp_estimation(part))
    if node.op_type == "MVAU_rtl":
        dsp = max(dsp, rtl_dsps(op, layer_lanes(model, node, part)))
    return dsp


def pack_rtl(model: ModelWrapper, part: str) -> int:
    """Refold every RTL MVAU for the fewest DSPs without exceeding its current cycles (ties: fewest
    MACs, then fewest PEs); returns the RTL MVAUs' DSP total."""
    from qonnx.custom_op.registry import getCustomOp

    total = 0
    for node in model.graph.node:
        if node.op_type != "MVAU_rtl":
            continue
        op, lanes = getCustomOp(node), layer_lanes(model, node, part)
        limit = int(op.get_exp_cycles())
        pe0, simd0 = int(op.get_nodeattr("PE")), int(op.get_nodeattr("SIMD"))
        best: Tuple[Tuple[int, int, int], int, int] = ((rtl_dsps(op, lanes), pe0 * simd0, pe0), pe0, simd0)
        for pe in _divisors(int(op.get_nodeattr("MH"))):
            for simd in _divisors(int(op.get_nodeattr("MW"))):
                op.set_nodeattr("PE", pe)
                op.set_nodeattr("SIMD", simd)
                if op.get_exp_cycles() <= limit:
                    key = (rtl_dsps(op, lanes), pe * simd, pe)
                    if key < best[0]:
                        best = (key, pe, simd)
        op.set_nodeattr("PE", best[1])
        op.set_nodeattr("SIMD", best[2])
        total += best[0][0]
    return total


def _to_hls_lut(node) -> None:
    """An RTL MVAU (thresholds already separate) as FINN's HLS MVAU with LUT multipliers."""
    from qonnx.custom_op.registry import getCustomOp

    node.op_type, node.domain = "MVAU_hls", "finn.custom_op.fpgadataflow.hls"
    getCustomOp(node).set_nodeattr("resType", "lut")


def use_dsps(model: ModelWrapper, board: Board, dsp_budget: int) -> List[str]:
    """Pack the RTL MVAUs (``pack_rtl``), then move HLS MVAU multipliers to DSPs, best LUT saving per
    DSP first, within ``dsp_budget``; returns the HLS layers moved to DSPs."""
    from qonnx.custom_op.registry import getCustomOp

    part = board.part
    pack_rtl(model, part)
    rtl = [n for n in model.graph.node if n.op_type == "MVAU_rtl"]

    used = sum(layer_dsps(model, n, part) for n in model.graph.node)
    if used > dsp_budget and rtl:  # too many RTL layers: the least LUT saved per DSP go to LUTs
        def saving(n) -> float:  # LUTs its multipliers would cost as an HLS MVAU, per DSP it uses
            d, res_type = layer_dsps(model, n, part), getCustomOp(n).get_nodeattr("resType")
            _to_hls_lut(n)
            lut = getCustomOp(n).lut_estimation(part)
            n.op_type, n.domain = "MVAU_rtl", "finn.custom_op.fpgadataflow.rtl"
            getCustomOp(n).set_nodeattr("resType", res_type)  # the RTL MVU refuses "lut"
            return lut / max(1, d)

        for n in sorted(rtl, key=saving):
            if used <= dsp_budget:
                break
            used -= layer_dsps(model, n, part)
            _to_hls_lut(n)
    gains: List[Tuple[float, int, object]] = []
    for n in model.graph.node:
        if n.op_type != "MVAU_hls":
            continue
        op = getCustomOp(n)
        op.set_nodeattr("resType", "lut")
        lut0, dsp0 = op.lut_estimation(part), op.dsp_estimation(part)
        op.set_nodeattr("resType", "dsp")
        lut1, dsp1 = op.lut_estimation(part), op.dsp_estimation(part)
        op.set_nodeattr("resType", "lut")
        if dsp1 > dsp0 and lut0 > lut1:
            gains.append(((lut0 - lut1) / (dsp1 - dsp0), dsp1 - dsp0, n))
    chosen = []  # HLS layers moved to DSPs (RTL MVUs always use them)
    for _, extra, n in sorted(gains, key=lambda g: -g[0]):
        if used + extra <= dsp_budget:
            getCustomOp(n).set_nodeattr("resType", "dsp")
            used += extra
            chosen.append(n.name)
    return chosen
