"""Resource and throughput estimates for a folded HW-layer graph, including what FINN leaves out.

Per layer: FINN+'s own analytical models (``lut_estimation``, ``bram_estimation``,
``dsp_estimation``, ``get_exp_cycles``) on the folded graph. On top, the parts a bitstream also
needs, each estimated as stated here (none of them can be measured without Vivado):

* **width converters**: FINN's ``InsertDWC`` is run on a copy of the graph and the inserted
  StreamingDataWidthConverter nodes are estimated with FINN's own models.
* **FIFOs**: one shallow FIFO per stream (depth 32, SRL-based: one LUT per bit + 16 control
  LUTs), plus one *fork/join balancing FIFO* per Fire module on the 1x1 expand branch: it must
  hold every pixel the 1x1 branch produces while the 3x3 branch's sliding window fills
  ((K-1) padded rows + K pixels), else DuplicateStreams deadlocks. Deep FIFOs use BRAM18
  (512 x 36 each), shorter ones SRL LUTs. FINN's ``set_fifo_depths`` (needs Vivado) sizes them
  for real in a bitstream build.
* **layers FINN has no LUT model for** (it returns 0 for FMPadding, DuplicateStreams,
  StreamingConcat, Pool, GlobalAccPool): 40 LUTs of control plus 2 LUTs per bit of stream
  width in and out (registers and muxes on the data path) — a floor, not a fit to synthesis.
* **DMAs and shell** (two IODMAs, AXI interconnect, processor reset, Zynq PS wrapper):
  constants below, typical of FINN PYNQ builds on Zynq; assumed, not measured here.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Tuple

from qonnx.core.modelwrapper import ModelWrapper

from .boards import Board

__all__ = ["LayerEstimate", "Estimate", "estimate", "fifo_shapes", "SHELL_OVERHEAD", "IODMA_OVERHEAD"]

# Assumed costs (see module docstring): per IODMA and for the rest of the Zynq shell.
IODMA_OVERHEAD = {"lut": 1500, "bram18": 2, "dsp": 0}
SHELL_OVERHEAD = {"lut": 2500, "bram18": 0, "dsp": 0}
_SHALLOW_DEPTH = 32
_KEYS = ("lut", "bram18", "dsp")


@dataclass
class LayerEstimate:
    name: str
    op: str
    folding: Dict[str, object]
    cycles: int
    lut: int
    bram18: int
    dsp: int


@dataclass
class Estimate:
    fps: float
    latency_ms: float
    clock_mhz: float
    totals: Dict[str, int]
    budget: Dict[str, int]
    margin: float
    fits: bool
    layers: List[LayerEstimate]
    overhead: Dict[str, Dict[str, int]]
    bottleneck: str
    limits: List[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["layers"] = [asdict(layer) for layer in self.layers]
        return d


_FOLD_ATTRS = ("PE", "SIMD", "resType", "mem_mode", "ram_style", "parallel_window",
               "PE1", "SIMD1", "PE3", "SIMD3", "OutPE", "resType1", "resType3")  # the last: FireExpand


def _layer(node, part: str) -> LayerEstimate:
    from qonnx.custom_op.registry import getCustomOp

    op = getCustomOp(node)
    types = op.get_nodeattr_types()
    folding = {k: op.get_nodeattr(k) for k in _FOLD_ATTRS if k in types}
    lut = int(op.lut_estimation(part))
    if lut == 0:  # no FINN model for this layer type: a data-path floor (see module docstring)
        lut = 40 + 2 * (int(op.get_instream_width()) + int(op.get_outstream_width()))
    return LayerEstimate(name=node.name, op=node.op_type, folding=folding, cycles=int(op.get_exp_cycles()),
                         lut=lut, bram18=int(op.bram_estimation(part)), dsp=int(op.dsp_estimation(part)))


def _stream_bits(model: ModelWrapper, tensor: str) -> int:
    from qonnx.custom_op.registry import getCustomOp

    prod = model.find_producer(tensor)
    if prod is not None:
        return int(getCustomOp(prod).get_outstream_width())
    return int(getCustomOp(model.find_consumer(tensor)).get_instream_width())


# BRAM18 aspect ratios (width, depth) of a 7-series / UltraScale RAMB18.
_BRAM18_MODES = ((1, 16384), (2, 8192), (4, 4096), (9, 2048), (18, 1024), (36, 512))


def _fifo_cost(width: int, depth: int) -> Dict[str, int]:
    if depth > 256:
        bram = min(math.ceil(width / w) * math.ceil(depth / d) for w, d in _BRAM18_MODES)
        return {"lut": 16, "bram18": bram, "dsp": 0}
    return {"lut": width * math.ceil(depth / 32) + 16, "bram18": 0, "dsp": 0}


def _balancing_depth(model: ModelWrapper, concat) -> Dict[str, int]:
    """Words the non-window branch of a Fire concat must buffer while the 3x3 window fills."""
    from qonnx.custom_op.registry import getCustomOp

    out: Dict[str, int] = {}
    windows = {}
    for t in concat.input:
        node, hops = model.find_producer(t), 0
        while node is not None and hops < 4 and not node.op_type.startswith("ConvolutionInputGenerator"):
            node, hops = model.find_producer(node.input[0]), hops + 1
        windows[t] = node if node is not None and node.op_type.startswith("ConvolutionInputGenerator") else None
    window = next((w for w in windows.values() if w is not None), None)
    if window is None:
        return out
    swg = getCustomOp(window)
    k = int(swg.get_nodeattr("ConvKernelDim")[0])
    w = int(swg.get_nodeattr("IFMDim")[1])
    pixels = (k - 1) * w + k + 4  # + a few words of slack for pipeline latency
    for t, win in windows.items():
        if win is None:
            prod = getCustomOp(model.find_producer(t))
            words_per_pixel = int(prod.get_folded_output_shape()[-2]) if len(prod.get_folded_output_shape()) > 2 else 1
            out[t] = pixels * max(1, words_per_pixel)
    return out


def fifo_shapes(model: ModelWrapper) -> Dict[str, Tuple[int, int]]:
    """Stream tensor -> (bits, depth) of the FIFO this estimate puts on it (see module docstring)."""
    deep: Dict[str, int] = {}
    for node in model.graph.node:
        if node.op_type.startswith("StreamingConcat"):
            deep.update(_balancing_depth(model, node))
    streams = {t for n in model.graph.node for t in n.input if model.get_initializer(t) is None}
    streams |= {t for n in model.graph.node for t in n.output}
    return {t: (_stream_bits(model, t), deep.get(t, _SHALLOW_DEPTH)) for t in sorted(streams)}


def _overheads(model: ModelWrapper, part: str) -> Dict[str, Dict[str, int]]:
    from finn.transformation.fpgadataflow.insert_dwc import InsertDWC
    from finn.transformation.fpgadataflow.specialize_layers import SpecializeLayers

    dwc = {k: 0 for k in _KEYS}
    with_dwc = model.transform(InsertDWC()).transform(SpecializeLayers(part))
    for node in with_dwc.graph.node:
        if node.op_type.startswith("StreamingDataWidthConverter"):
            e = _layer(node, part)
            for k in _KEYS:
                dwc[k] += getattr(e, k)
    fifo = {k: 0 for k in _KEYS}
    for width, depth in fifo_shapes(model).values():
        c = _fifo_cost(width, depth)
        for k in _KEYS:
            fifo[k] += c[k]
    dma = {k: 2 * IODMA_OVERHEAD[k] for k in _KEYS}
    return {"width_converters": dwc, "fifos": fifo, "dmas": dma, "shell": dict(SHELL_OVERHEAD)}


def _critical_path(model: ModelWrapper, layers: List[LayerEstimate]) -> int:
    """Cycles along the slowest input-to-output path, summing layers (FINN's pessimistic latency)."""
    cycles = {e.name: e.cycles for e in layers}
    done: Dict[str, int] = {}
    for node in model.graph.node:  # topologically sorted
        preds = model.find_direct_predecessors(node) or []
        done[node.name] = cycles[node.name] + max((done[p.name] for p in preds), default=0)
    return max(done.values())


def estimate(model: ModelWrapper, board: Board, margin: float = 0.85) -> Estimate:
    """Estimates for the folded HW graph ``model`` (the dataflow partition) on ``board``.

    ``fits`` means every total (layers + overheads) is within ``margin`` of the board's LUT and
    BRAM18 and within the DSP count; ``budget`` is the board's full resources.
    """
    layers = [_layer(n, board.part) for n in model.graph.node]
    overhead = _overheads(model, board.part)
    totals = {k: sum(getattr(layer, k) for layer in layers) + sum(o[k] for o in overhead.values()) for k in _KEYS}
    budget = {k: int(board.resources[k]) for k in _KEYS}
    slowest = max(layers, key=lambda e: e.cycles)
    clk_hz = board.clock_mhz * 1e6
    fps = clk_hz / max(1, slowest.cycles)
    latency_ms = _critical_path(model, layers) / clk_hz * 1e3
    limits = []
    for k in ("lut", "bram18"):
        if totals[k] > margin * budget[k]:
            limits.append(f"{k} {totals[k]} > {margin:.0%} of {budget[k]}")
    if totals["dsp"] > budget["dsp"]:
        limits.append(f"dsp {totals['dsp']} > {budget['dsp']}")
    return Estimate(fps=round(fps, 1), latency_ms=round(latency_ms, 3), clock_mhz=board.clock_mhz, totals=totals,
                    budget=budget, margin=margin, fits=not limits, layers=layers, overhead=overhead,
                    bottleneck=f"{slowest.name} ({slowest.cycles} cycles)", limits=limits)
