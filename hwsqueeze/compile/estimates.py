"""Resource and throughput estimates for a folded HW-layer graph, including what FINN leaves out.

Per layer: FINN+'s own analytical models (``lut_estimation``, ``bram_estimation``,
``dsp_estimation``, ``get_exp_cycles``) on the folded graph. On top, the parts a bitstream also
needs, each estimated as stated here (none of them can be measured without Vivado):

* **width converters**: FINN's ``InsertDWC`` is run on a copy of the graph and the inserted
  StreamingDataWidthConverter nodes are estimated with FINN's own models.
* **FIFOs**: FINN's ``InsertFIFO`` (``create_shallow_fifos``, as both of FINN's sizing paths call
  it) on the copy with width converters, after :class:`~.transforms.fifos.SetForkJoinFIFODepths`
  has set each Fire module's fork/join FIFO by its rule; every FIFO at least ``SHALLOW_DEPTH``
  (32: one SRL32 stage, a budget for what simulation-based sizing adds), each costed by FINN+'s
  own ``StreamingFIFO`` model. Why that model: it is fitted to Vivado runs of the very
  ``fifo.sv`` FINN instantiates (2026.1, xczu7ev/Versal, widths 1..256, depths 2..262145, LUTs
  "within a few percent"); its data-path term (one SRLC32E per bit per 32 words) is exact on
  7-series too (UG474: a SLICEM LUT is a 32-bit shift register), only its control constants are
  fitted on UltraScale+ LUT6 fabric. Our earlier model (1 LUT per bit per 32 words + 16, on the
  76 graph tensors) gave 1,554 LUT on the shipped 2,034 FPS design where FINN's model gives 2,768
  on the same 76 streams at depth 32 and 5,816 on the 102 FIFOs FINN really inserts (width-converter streams,
  4-bit streams padded to 8 bits, 5 LUT per counter bit).
* **layers FINN has no LUT model for** (it returns 0 for FMPadding, DuplicateStreams,
  StreamingConcat, Pool, GlobalAccPool): 40 LUTs of control plus 2 LUTs per bit of stream
  width in and out (registers and muxes on the data path) — a floor, not a fit to synthesis.
* **RTL MVUs** (``MVAU_rtl``, DSP-packed): FINN+ counts ``ceil(PE/4) * SIMD`` DSPs; the RTL
  packs ``lanes`` channels per DSP (``dsps.rtl_lanes``: 2 for 8-bit weights), so the larger of the
  two is used. FINN+ gives them 0 LUTs, but ``mvu.sv`` recovers each lane's high bits and sums the
  SIMD lanes in LUT adders: ``rtl_mvu_luts`` is a model fitted to Yosys' synthesis (xc7) of the RTL
  FINN+ generates (``scripts/synth_rtl_mvu.py``; about 80 LUTs per DSP at SIMD 18), a proxy for
  Vivado's count, which could not be run here.
* **threshold comparators of HLS MVAUs** (and of a fused FireExpand's two parts): each PE compares
  its accumulator with its channel's 2^B - 1 thresholds every cycle and counts the hits. FINN+
  counts these LUTs (and the threshold storage) only with ``ram_style_thresholds ==
  "distributed"``, although they are LUTs whatever holds the thresholds. Here every MVAU with
  thresholds gets ``comparator_luts`` (a fit to Yosys' xc7 synthesis of that logic,
  ``scripts/synth_comparators.py``; ``CMP_LUT``) and its threshold storage (``threshold_storage``:
  one LUTRAM64 per bit per 64 channels per threshold, as the HLS partitions the array; BRAM18 with
  ``block``; nothing when a PE serves one channel and HLS folds the thresholds into constants).
  FINN's own threshold terms are replaced, not added to.
* **RTL thresholding layers** (``--standalone-thresholds``): FINN+ counts only their threshold
  LUTRAM; a floor for ``thresholding.sv``'s comparators is added (one LUT per input bit per
  binary-search stage per PE, plus 40 of control), not fitted (Yosys' frontend does not take that file).
* **DMAs and shell** (two IODMAs, AXI interconnect, processor reset, Zynq PS wrapper):
  constants below, typical of FINN PYNQ builds on Zynq; assumed, not measured here.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional, Tuple

from qonnx.core.modelwrapper import ModelWrapper

from .boards import MARGIN, Board
from .latency import critical_path_cycles, pipelined_cycles
from .layer_costs import (CMP_LUT, RTL_MVU_LUT, binary_search_comparators, comparator_luts, rtl_mvu_luts,
                          threshold_costs, threshold_parts, thresholding_luts)

__all__ = ["LayerEstimate", "Estimate", "estimate", "rtl_mvu_luts", "thresholding_luts", "RTL_MVU_LUT", "fifo_costs",
           "comparator_luts", "threshold_costs", "CMP_LUT",
           "fifo_bits", "pipelined_cycles", "SHELL_OVERHEAD", "IODMA_OVERHEAD", "SHALLOW_DEPTH"]

# Assumed costs (see module docstring): per IODMA and for the rest of the Zynq shell.
IODMA_OVERHEAD = {"lut": 1500, "bram18": 2, "dsp": 0}
SHELL_OVERHEAD = {"lut": 2500, "bram18": 0, "dsp": 0}
SHALLOW_DEPTH = 32  # budget for every ordinary FIFO: one SRL32 stage (module docstring)
_KEYS = ("lut", "bram18", "dsp")


@dataclass
class LayerEstimate:
    name: str
    op: str
    folding: Dict[str, object]
    cycles: int
    lut: int  # everything, comparator_lut included
    bram18: int
    dsp: int
    comparator_lut: int = 0  # threshold comparators (part of ``lut``; FINN+ counts 0 unless distributed)


@dataclass
class Estimate:
    fps: float
    latency_ms: float  # layers overlapping pixel by pixel (``pipelined_cycles``): what a user would measure
    clock_mhz: float
    totals: Dict[str, int]
    budget: Dict[str, int]
    margin: float
    fits: bool
    layers: List[LayerEstimate]
    overhead: Dict[str, Dict[str, int]]
    bottleneck: str
    limits: List[str] = field(default_factory=list)
    latency_sum_ms: float = 0.0  # FINN's figure: layer cycles summed along the critical path (no overlap)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["layers"] = [asdict(layer) for layer in self.layers]
        return d


_FOLD_ATTRS = ("PE", "SIMD", "resType", "mem_mode", "ram_style", "parallel_window",
               "PE1", "SIMD1", "PE3", "SIMD3", "OutPE", "resType1", "resType3")  # the last: FireExpand


def _floor(op) -> int:
    """LUTs of a layer FINN has no LUT model for: a data-path floor (see module docstring)."""
    return 40 + 2 * (int(op.get_instream_width()) + int(op.get_outstream_width()))


def _layer(node, part: str, model: Optional[ModelWrapper] = None) -> LayerEstimate:
    from qonnx.custom_op.registry import getCustomOp

    op = getCustomOp(node)
    if model is not None:  # an RTL MVU's DSPs by mvu.sv's own packing (FINN+ assumes 4 lanes)
        from .dsps import layer_dsps

        dsp = layer_dsps(model, node, part)
    else:
        dsp = int(op.dsp_estimation(part))
    types = op.get_nodeattr_types()
    folding = {k: op.get_nodeattr(k) for k in _FOLD_ATTRS if k in types}
    lut = (rtl_mvu_luts(model, node, part) if node.op_type == "MVAU_rtl" else thresholding_luts(node, part)
           if node.op_type == "Thresholding_rtl" else int(op.lut_estimation(part)))
    if lut == 0:  # no FINN model for this layer type
        lut = _floor(op)
    bram = int(op.bram_estimation(part))
    comparators = binary_search_comparators(op) if node.op_type == "Thresholding_rtl" else 0
    for part_op in threshold_parts(node):  # FINN's threshold terms replaced by ours
        t = threshold_costs(part_op)
        comparators += t["comparator_lut"]
        lut += t["comparator_lut"] + t["mem_lut"] - t["finn_lut"]
        bram += t["mem_bram18"]
    return LayerEstimate(name=node.name, op=node.op_type, folding=folding, cycles=int(op.get_exp_cycles()),
                         lut=lut, bram18=bram, dsp=dsp, comparator_lut=comparators)


def fifo_costs(model: ModelWrapper, part: str, shallow: int = SHALLOW_DEPTH) -> List[Tuple[int, int, Dict[str, int]]]:
    """(depth, padded width, cost) of every FIFO FINN's ``InsertFIFO`` creates in ``model`` (with
    its width converters already inserted), each at least ``shallow`` deep, costed by FINN+'s
    own StreamingFIFO model (module docstring)."""
    from finn.transformation.fpgadataflow.insert_fifo import InsertFIFO
    from finn.transformation.fpgadataflow.specialize_layers import SpecializeLayers
    from qonnx.custom_op.registry import getCustomOp

    with_fifos = model.transform(InsertFIFO(create_shallow_fifos=True)).transform(SpecializeLayers(part))
    out = []
    for node in with_fifos.graph.node:
        if node.op_type.startswith("StreamingFIFO"):
            op = getCustomOp(node)
            op.set_nodeattr("depth", max(int(op.get_nodeattr("depth")), shallow))
            cost = {"lut": int(op.lut_estimation(part)), "bram18": int(op.bram_estimation(part)), "dsp": 0}
            out.append((int(op.get_nodeattr("depth")), int(op.get_instream_width_padded()), cost))
    return out


def fifo_bits(model: ModelWrapper, part: str, shallow: int = SHALLOW_DEPTH) -> Dict[str, int]:
    """Stream tensor of ``model`` -> bits (padded width x depth) of the FIFOs FINN's ``InsertFIFO``
    puts on it once width converters are in (Fire fork/join depths by rule, the others at least
    ``shallow``); a FIFO next to a width converter counts for the stream the converter sits on.
    For comparing FIFO storage between two graphs (benchmarks/fire_fusion.py)."""
    from finn.transformation.fpgadataflow.insert_dwc import InsertDWC
    from finn.transformation.fpgadataflow.insert_fifo import InsertFIFO
    from finn.transformation.fpgadataflow.specialize_layers import SpecializeLayers
    from qonnx.custom_op.registry import getCustomOp

    from .transforms.fifos import SetForkJoinFIFODepths

    names = {t for n in model.graph.node for t in list(n.input) + list(n.output)}
    g = model.transform(SetForkJoinFIFODepths()).transform(InsertDWC()).transform(SpecializeLayers(part))
    g = g.transform(InsertFIFO(create_shallow_fifos=True)).transform(SpecializeLayers(part))

    def original(t: str) -> str:
        while t not in names:  # back through the converters (and FIFOs) FINN inserted
            prod = g.find_producer(t)
            if prod is None:
                break
            t = prod.input[0]
        return t

    out: Dict[str, int] = {}
    for node in g.graph.node:
        if node.op_type.startswith("StreamingFIFO"):
            op = getCustomOp(node)
            t = node.input[0] if node.input[0] in names else original(node.output[0] if node.output[0] in names
                                                                     else node.input[0])
            bits = int(op.get_instream_width_padded()) * max(int(op.get_nodeattr("depth")), shallow)
            out[t] = out.get(t, 0) + bits
    return out


def _overheads(model: ModelWrapper, part: str) -> Dict[str, Dict[str, int]]:
    from finn.transformation.fpgadataflow.insert_dwc import InsertDWC
    from finn.transformation.fpgadataflow.specialize_layers import SpecializeLayers

    from .transforms.fifos import SetForkJoinFIFODepths

    dwc = {k: 0 for k in _KEYS}
    # The Fire fork/join depths go on before InsertDWC, as in the fifo_depths step.
    with_dwc = model.transform(SetForkJoinFIFODepths()).transform(InsertDWC()).transform(SpecializeLayers(part))
    for node in with_dwc.graph.node:
        if node.op_type.startswith("StreamingDataWidthConverter"):
            e = _layer(node, part)
            for k in _KEYS:
                dwc[k] += getattr(e, k)
    fifo = {k: 0 for k in _KEYS}
    for depth, width, cost in fifo_costs(with_dwc, part):
        for k in _KEYS:
            fifo[k] += cost[k]
    dma = {k: 2 * IODMA_OVERHEAD[k] for k in _KEYS}
    return {"width_converters": dwc, "fifos": fifo, "dmas": dma, "shell": dict(SHELL_OVERHEAD)}


def estimate(model: ModelWrapper, board: Board, margin: float = MARGIN) -> Estimate:
    """Estimates for the folded HW graph ``model`` (the dataflow partition) on ``board``.

    ``fits`` means every total (layers + overheads) is within ``margin`` of the board's LUT and
    BRAM18 and within the DSP count; ``budget`` is the board's full resources.
    """
    layers = [_layer(n, board.part, model) for n in model.graph.node]
    overhead = _overheads(model, board.part)
    totals = {k: sum(getattr(layer, k) for layer in layers) + sum(o[k] for o in overhead.values()) for k in _KEYS}
    budget = {k: int(board.resources[k]) for k in _KEYS}
    slowest = max(layers, key=lambda e: e.cycles)
    clk_hz = board.clock_mhz * 1e6
    fps = clk_hz / max(1, slowest.cycles)
    latency_ms = pipelined_cycles(model, layers) / clk_hz * 1e3
    latency_sum_ms = critical_path_cycles(model, layers) / clk_hz * 1e3
    limits = []
    for k in ("lut", "bram18"):
        if totals[k] > margin * budget[k]:
            limits.append(f"{k} {totals[k]} > {margin:.0%} of {budget[k]}")
    if totals["dsp"] > budget["dsp"]:
        limits.append(f"dsp {totals['dsp']} > {budget['dsp']}")
    return Estimate(fps=round(fps, 1), latency_ms=round(latency_ms, 3), clock_mhz=board.clock_mhz, totals=totals,
                    budget=budget, margin=margin, fits=not limits, layers=layers, overhead=overhead,
                    bottleneck=f"{slowest.name} ({slowest.cycles} cycles)", limits=limits,
                    latency_sum_ms=round(latency_sum_ms, 3))
