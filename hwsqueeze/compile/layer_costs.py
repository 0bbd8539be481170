"""What FINN+'s per-layer LUT models leave out, as models of our own (see ``estimates``' docstring):
the RTL MVU's lane adders (``rtl_mvu_luts``, fitted to Yosys), an HLS MVAU's threshold comparators
and storage (``threshold_costs``, comparators fitted to Yosys), the RTL thresholding layer's
binary-search comparators (``thresholding_luts``, a floor).
"""
from __future__ import annotations

from typing import Dict, Optional

from qonnx.core.modelwrapper import ModelWrapper

__all__ = ["RTL_MVU_LUT", "rtl_mvu_luts", "CMP_LUT", "comparator_luts", "threshold_costs", "threshold_parts",
           "thresholding_luts", "binary_search_comparators"]


# RTL MVU LUTs: constant + per DSP + per PE x SIMD + per PE x accumulator bit, least-squares fit to
# Yosys ``synth_xilinx -family xc7`` of 58 FINN+ 1.6.1 MVAU_rtl layers (``scripts/synth_rtl_mvu.py
# --sweep``: W4A4 4 lanes, W8A8 and W8A4 2 lanes, PE 2-16, SIMD 1-27): rms error 12 %, within 13 % on
# every layer above 1,000 LUT, the sweep's total within 0.2 %.
RTL_MVU_LUT = (77.6, 26.5, 11.3, 2.67)


def rtl_mvu_luts(model: Optional[ModelWrapper], node, part: str) -> int:
    """LUTs of an RTL MVU (``MVAU_rtl``) at its folding: the lane adders and SIMD reduction trees
    ``mvu.sv`` builds around its DSPs (``RTL_MVU_LUT``; FINN+ itself counts 0)."""
    from qonnx.custom_op.registry import getCustomOp

    from .dsps import layer_lanes, rtl_dsps, rtl_lanes

    op = getCustomOp(node)
    lanes = layer_lanes(model, node, part) if model is not None else rtl_lanes(op, part)
    pe, simd = int(op.get_nodeattr("PE")), int(op.get_nodeattr("SIMD"))
    c, per_dsp, per_mac, per_acc_bit = RTL_MVU_LUT
    return round(c + per_dsp * rtl_dsps(op, lanes) + per_mac * pe * simd
                 + per_acc_bit * pe * op.get_output_datatype().bitwidth())


# Threshold comparators per PE (accumulator vs T thresholds of W bits, hits counted into the output):
# least-squares fit a*T*W + b*T + c to Yosys ``synth_xilinx -family xc7`` of that logic
# (``scripts/synth_comparators.py``, T 1-15, W 8-24): thresholds read from memory (a PE serving
# several channels) rms 6 %, within 19 %; constants folded in by HLS (one channel per PE) rms 20 %.
# FINN's formula, 1.1 x T x W, is 1.5-1.7x the first and 2-9x the second.
CMP_LUT = {"variable": (0.65, 1.81, -2.1), "constant": (0.46, -1.99, 0.07)}


def comparator_luts(pe: int, thresholds: int, acc_bits: int, constant: bool = False) -> int:
    """LUTs of ``pe`` comparator banks, each one accumulator of ``acc_bits`` against ``thresholds``
    thresholds (``constant``: folded into the logic), by the ``CMP_LUT`` fit."""
    a, b, c = CMP_LUT["constant" if constant else "variable"]
    return max(0, round(pe * (a * thresholds * acc_bits + b * thresholds + c)))


def _acc_bits(op) -> int:
    """The accumulator width FINN+'s MVAU LUT model uses (its accDataType, or the bound of
    arXiv:2301.13376 when that is wider): the comparators are this wide."""
    import math

    idt, W, A = op.get_input_datatype(0), op.get_input_datatype(1).bitwidth(), op.get_input_datatype(0).bitwidth()
    alpha = math.log(op.get_nodeattr("MW"), 2) + W + A - 1 - int(idt.signed())
    return int(min(op.get_accumulator_datatype().bitwidth(), math.ceil(alpha + math.log(1 + 2 ** -alpha, 2) + 1)))


def threshold_costs(op) -> Dict[str, int]:
    """An HLS MVAU's thresholds (``op``: FINN+'s ``MVAU_hls``, ``noActivation`` 0): ``comparator_lut``,
    storage ``mem_lut`` / ``mem_bram18`` (module docstring), and ``finn_lut``, what FINN+'s own LUT
    model already counts for them (non-zero only with ``ram_style_thresholds == "distributed"``)."""
    import math

    if op.get_nodeattr("noActivation"):
        return {"comparator_lut": 0, "mem_lut": 0, "mem_bram18": 0, "finn_lut": 0}
    pe, steps, width = int(op.get_nodeattr("PE")), 2 ** op.get_output_datatype().bitwidth() - 1, _acc_bits(op)
    folds = int(op.get_nodeattr("MH")) // pe  # channels per PE: depth of each threshold memory
    style = op.get_nodeattr("ram_style_thresholds")
    finn = 0
    if style == "distributed":  # FINN+'s thr + comp terms (scaled by its c1 = 1.1, like the rest)
        finn = int(op.lut_estimation("")) - _with(op, "ram_style_thresholds", "block", lambda: int(op.lut_estimation("")))
    constant = folds == 1
    # FINN+'s own storage term for distributed thresholds (c1 x PE x steps x bits x ceil(depth / 64)),
    # for "auto" too: PE x steps arrays of ``folds`` words are LUTRAM-sized, not BRAM-sized
    mem_lut = 0 if constant or style == "block" else round(1.1 * pe * steps * width * math.ceil(folds / 64))
    mem_bram = pe * steps if style == "block" and not constant else 0  # the array is partitioned per PE and step
    return {"comparator_lut": comparator_luts(pe, steps, width, constant), "mem_lut": mem_lut,
            "mem_bram18": mem_bram, "finn_lut": finn}


def _with(op, attr: str, value, fn):
    """``fn()`` with ``op``'s ``attr`` set to ``value`` for the call."""
    old = op.get_nodeattr(attr)
    op.set_nodeattr(attr, value)
    try:
        return fn()
    finally:
        op.set_nodeattr(attr, old)


def threshold_parts(node) -> list:
    """The HLS MVAUs whose thresholds ``node`` holds (a FireExpand holds two)."""
    from qonnx.custom_op.registry import getCustomOp

    if node.op_type == "MVAU_hls":
        return [getCustomOp(node)]
    if node.op_type == "FireExpand_hls":
        op = getCustomOp(node)
        return [op.part(1), op.part(3)]
    return []


def thresholding_luts(node, part: str) -> int:
    """LUTs of an RTL thresholding layer: FINN+'s count (its threshold LUTRAM only) plus a floor for the
    comparators of ``thresholding.sv``'s binary search (module docstring)."""
    from qonnx.custom_op.registry import getCustomOp

    op = getCustomOp(node)
    return int(op.lut_estimation(part)) + 40 + binary_search_comparators(op)


def binary_search_comparators(op) -> int:
    """``thresholding.sv``'s comparators: one LUT per input bit per binary-search stage per PE (a floor)."""
    import math

    stages = math.ceil(math.log2(op.get_nodeattr("numSteps") + 1))
    return int(op.get_nodeattr("PE")) * stages * op.get_input_datatype(0).bitwidth()
