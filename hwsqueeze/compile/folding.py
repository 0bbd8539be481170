"""Folding (PE/SIMD per layer) for a target FPS, and the search for the fastest design that fits.

``fold(model, board, fps)`` uses FINN+'s ``SetFolding`` (smallest parallelism per layer that
meets the cycle target), then spends the board's DSPs where they save the most LUTs (``dsps``: RTL
MVUs refolded to pack several MACs per DSP, HLS MVAUs switched from LUT to DSP multipliers in order
of LUTs saved per DSP) while the DSP total stays within budget. ``auto_fold`` scans a geometric
grid of FPS targets, then walks every distinct design above the best, for the highest FPS whose
estimate — including FIFOs, width converters, DMAs and the shell, see ``estimates`` — fits the
margin. ``apply_folding_config`` takes a hand-written FINN folding
config instead (the format the build writes to ``folding_config.json``).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Callable, List, Optional, Tuple

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper

from ..errors import NO_FIT, HwsqueezeError
from .boards import MARGIN, Board
from . import dsps
from .estimates import Estimate, estimate

__all__ = ["FoldResult", "fold", "fold_cycles", "auto_fold", "next_designs", "apply_folding_config", "max_fps",
           "no_fit_message", "MVAU_WWIDTH_MAX"]

# FINN's default (36) caps SIMD x weight bits per PE at one BRAM word; wider weight streams are
# fine for our 4-bit layers (they split over several BRAMs) and are needed above ~1,000 FPS.
MVAU_WWIDTH_MAX = 1024


@dataclass
class FoldResult:
    model: ModelWrapper
    estimate: Estimate
    target_fps: float
    dsp_layers: List[str]
    lutram_layers: List[str]
    folded_cycles: int = 0  # slowest layer of FINN's folding, before any fusion (``next_designs``)


def _mvau_nodes(model: ModelWrapper):
    return [n for n in model.graph.node if n.op_type == "MVAU_hls"]


def _use_lutram(model: ModelWrapper, board: Board, est: Estimate, margin: float) -> List[str]:
    """Move decoupled MVAU weight memories from BRAM to LUTRAM, most BRAM saved per LUT first,
    until BRAM18 is within the margin or the LUT budget would be exceeded."""
    from qonnx.custom_op.registry import getCustomOp

    part = board.part
    bram, lut = est.totals["bram18"], est.totals["lut"]
    bram_target, lut_budget = margin * board.resources["bram18"], margin * board.resources["lut"]
    cands = []
    for n in model.graph.node:
        if not n.op_type.startswith("MVAU"):
            continue
        op = getCustomOp(n)
        if op.get_nodeattr("mem_mode") != "internal_decoupled" or op.get_nodeattr("ram_style") == "distributed":
            continue
        b0, l0 = op.bram_estimation(part), op.lut_estimation(part)
        style = op.get_nodeattr("ram_style")
        op.set_nodeattr("ram_style", "distributed")
        b1, l1 = op.bram_estimation(part), op.lut_estimation(part)
        op.set_nodeattr("ram_style", style)
        if b0 > b1:
            cands.append(((b0 - b1) / max(1, l1 - l0), b0 - b1, l1 - l0, n))
    moved = []
    for _, saved, cost, n in sorted(cands, key=lambda c: -c[0]):
        if bram <= bram_target:
            break
        if lut + cost <= lut_budget:
            getCustomOp(n).set_nodeattr("ram_style", "distributed")
            bram, lut = bram - saved, lut + cost
            moved.append(n.name)
    return moved


def _fuse(model: ModelWrapper, fuse: bool) -> ModelWrapper:
    """Fire expand fork/joins -> FireExpand_hls (after folding: the fused layer takes the two MVAUs'
    PE/SIMD and multiplier resources, see ``transforms/fuse_fire``)."""
    if not fuse:
        return model
    from .transforms.fuse_fire import FuseFireExpand

    return model.transform(FuseFireExpand())


def fold(model: ModelWrapper, board: Board, fps: float, margin: float = MARGIN, use_dsps: bool = True,
         fuse: bool = False) -> FoldResult:
    """Fold a copy of ``model`` for ``fps`` on ``board`` (``fuse``: with fused Fire expands) and estimate it."""
    return fold_cycles(model, board, max(1, int(board.clock_mhz * 1e6 / fps)), margin, use_dsps, fuse, fps)


def fold_cycles(model: ModelWrapper, board: Board, cycles: int, margin: float = MARGIN, use_dsps: bool = True,
                fuse: bool = False, fps: Optional[float] = None) -> FoldResult:
    """``fold`` for a target of ``cycles`` per frame (every layer at most that many cycles)."""
    from finn.transformation.fpgadataflow.set_folding import SetFolding
    from qonnx.custom_op.registry import getCustomOp

    m = ModelWrapper(copy.deepcopy(model.model))
    m = m.transform(SetFolding(target_cycles_per_frame=int(cycles), mvau_wwidth_max=MVAU_WWIDTH_MAX,
                               two_pass_relaxation=True))
    dsp_layers = dsps.use_dsps(m, board, int(board.resources["dsp"] * margin)) if use_dsps else []
    folded = max((int(getCustomOp(n).get_exp_cycles()) for n in m.graph.node), default=0)
    m = _fuse(m, fuse)
    est = estimate(m, board, margin)
    lutram_layers = _use_lutram(m, board, est, margin) if not est.fits else []
    if lutram_layers:
        est = estimate(m, board, margin)
    return FoldResult(model=m, estimate=est, target_fps=fps or board.clock_mhz * 1e6 / cycles,
                      dsp_layers=dsp_layers, lutram_layers=lutram_layers, folded_cycles=folded)


# FINN HW op -> (parallelism attribute, the dimension(s) it must divide)
_DIVIDES = {
    "MVAU": (("PE", "MH"), ("SIMD", "MW")), "VVAU": (("PE", "Channels"),),
    "ConvolutionInputGenerator": (("SIMD", "IFMChannels"),), "FMPadding": (("SIMD", "NumChannels"),),
    "Pool": (("PE", "Channels"),), "DuplicateStreams": (("PE", "NumChannels"),),
    "GlobalAccPool": (("PE", "NumChannels"),), "Thresholding": (("PE", "NumChannels"),),
    "StreamingConcat": (("SIMD", "ChannelsPerStream"),), "ElementwiseAdd": (("PE", "NumChannels"),),
}


def apply_folding_config(model: ModelWrapper, board: Board, path, margin: float = MARGIN,
                         fuse: bool = False) -> FoldResult:
    """A copy of ``model`` folded by a FINN folding config (``{"Defaults": {...}, "<layer>":
    {"PE": .., "SIMD": .., ...}}``, FINN's ``ApplyConfig``), checked and estimated."""
    import json
    from pathlib import Path

    from qonnx.custom_op.registry import getCustomOp
    from finn.transformation.general import ApplyConfig

    try:
        cfg = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise HwsqueezeError(f"folding config not found: {path}") from None
    except (ValueError, UnicodeDecodeError, OSError) as e:
        raise HwsqueezeError(f"folding config {path} is not valid JSON ({str(e).splitlines()[0][:100]})") from None
    if not isinstance(cfg, dict) or not all(isinstance(v, dict) for v in cfg.values()):
        raise HwsqueezeError(f"folding config {path}: expected {{\"<layer name>\": {{\"PE\": .., ...}}}}")
    m = ModelWrapper(copy.deepcopy(model.model))
    nodes = {n.name: n for n in m.graph.node}
    # the fused layers exist only after fusion: their entries are applied then (and checked below)
    fused_cfg = {k: cfg.pop(k) for k in list(cfg) if fuse and k.startswith("FireExpand_hls_") and k not in nodes}
    unknown = [k for k in cfg if k != "Defaults" and k not in nodes]
    if unknown:
        raise HwsqueezeError(f"folding config {path}: no layer named {unknown[0]!r} in this design "
                             f"(layers: {', '.join(list(nodes)[:6])} ...; see the build's folding_config.json)")
    for name, attrs in cfg.items():
        if name == "Defaults":
            continue
        op = getCustomOp(nodes[name])
        for key, value in attrs.items():
            if key not in op.get_nodeattr_types():
                raise HwsqueezeError(f"folding config {path}: {name} has no attribute {key!r}")
            if key in ("PE", "SIMD") and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise HwsqueezeError(f"folding config {path}: {name}.{key} must be a positive integer, got {value!r}")
    m = m.transform(ApplyConfig(copy.deepcopy(cfg)))
    m = _fuse(m, fuse)
    nodes = {n.name: n for n in m.graph.node}
    for name, attrs in fused_cfg.items():
        if name not in nodes:
            raise HwsqueezeError(f"folding config {path}: no layer named {name!r} in this design")
        op = getCustomOp(nodes[name])
        for key, value in attrs.items():
            if key not in op.get_nodeattr_types():
                raise HwsqueezeError(f"folding config {path}: {name} has no attribute {key!r}")
            op.set_nodeattr(key, value)
        bad = op.verify_node()
        if bad:
            raise HwsqueezeError(f"folding config {path}: {name}: {bad[0]}")
    for node in m.graph.node:  # each parallelism must divide the dimension it splits
        op, kind = getCustomOp(node), node.op_type.rsplit("_", 1)[0]
        for fold_attr, dim_attr in _DIVIDES.get(kind, ()):
            fold_v, dims = op.get_nodeattr(fold_attr), op.get_nodeattr(dim_attr)
            for dim in (dims if isinstance(dims, (list, tuple)) else [dims]):
                if int(dim) % int(fold_v):
                    raise HwsqueezeError(f"folding config {path}: {node.name}.{fold_attr}={fold_v} does not divide "
                                         f"{dim_attr}={dim}")
    est = estimate(m, board, margin)
    dsp = [n.name for n in _mvau_nodes(m) if getCustomOp(n).get_nodeattr("resType") == "dsp"]
    lutram = [n.name for n in _mvau_nodes(m) if getCustomOp(n).get_nodeattr("ram_style") == "distributed"]
    return FoldResult(model=m, estimate=est, target_fps=est.fps, dsp_layers=dsp, lutram_layers=lutram)


def max_fps(model: ModelWrapper, board: Board, fuse: bool = False) -> float:
    """FPS with every layer fully unfolded (the ceiling of what folding can reach)."""
    return fold(model, board, board.clock_mhz * 1e6, use_dsps=False, fuse=fuse).estimate.fps


def auto_fold(model: ModelWrapper, board: Board, margin: float = MARGIN, use_dsps: bool = True,
              progress: Optional[Callable[[str], None]] = None, fuse: bool = False) -> FoldResult:
    """The highest-FPS folding whose estimate fits ``board`` within ``margin``.

    Resources are not monotonic in the target (FINN picks divisors, and BRAM packing jumps), so
    this scans a geometric grid of targets up to the fully-unfolded ceiling, then tries every
    distinct design above the best fitting one while they stay near the budget (``next_designs``).
    """
    say = progress or (lambda s: None)
    floor = fold(model, board, 1.0, margin, use_dsps, fuse)
    if not floor.estimate.fits:
        raise HwsqueezeError(no_fit_message(floor.estimate, board), exit_code=NO_FIT)
    ceiling = max_fps(model, board, fuse)
    grid = list(np.geomspace(max(1.0, floor.estimate.fps), ceiling, 20))
    best = floor
    for fps in grid:
        res = fold(model, board, float(fps), margin, use_dsps, fuse)
        say(_line(res))
        if res.estimate.fits and res.estimate.fps > best.estimate.fps:
            best = res
    for res in next_designs(model, board, best, margin, use_dsps, fuse):  # every design above the best
        say(_line(res))
        if res.estimate.fits and res.estimate.fps > best.estimate.fps:
            best = res
    return best


MAX_STEPS = 40  # designs walked above the best grid point (a bound on build time, not a tuning)
NEAR = 0.05  # the walk goes on while a design is within 5 % of the LUT/BRAM18 budget


def _cycles(res: FoldResult) -> int:
    """The slowest layer of FINN's folding (a fused layer's drain adds cycles FINN's step never sees)."""
    return res.folded_cycles or max(layer.cycles for layer in res.estimate.layers)


def _near(res: FoldResult, board: Board, margin: float) -> bool:
    t = res.estimate.totals
    return all(t[k] <= (1 + NEAR) * margin * board.resources[k] for k in ("lut", "bram18"))


def next_designs(model: ModelWrapper, board: Board, start: FoldResult, margin: float = MARGIN,
                 use_dsps: bool = True, fuse: bool = False):
    """The distinct foldings faster than ``start``, slowest first, while they stay near the budget.

    FINN's ``SetFolding`` picks, per layer, the smallest divisor parallelism that meets the target,
    so the design is a step function of the target: the same design for every target from its
    slowest layer's cycles up to the next step. The next faster design is therefore the one for one
    cycle less than the current slowest layer. A grid of FPS targets misses steps: 3,052 FPS is
    exactly 32,768 cycles at 100 MHz, a target of 3,060 FPS asks for 32,679 and doubles every layer
    whose cycle counts are powers of two. Resources are not monotonic in the step (the DSP and
    LUTRAM levers re-balance each design), so the walk continues past designs that miss the
    budget by less than ``NEAR`` and stops at the first that misses it by more (or at ``MAX_STEPS``).
    """
    cycles = _cycles(start)
    for _ in range(MAX_STEPS):
        res = fold_cycles(model, board, cycles - 1, margin, use_dsps, fuse)
        new = _cycles(res)
        if new >= cycles:  # fully unfolded: no faster design
            return
        cycles = new
        yield res
        if not _near(res, board, margin):
            return


def _line(res: FoldResult) -> str:
    e = res.estimate
    return (f"target {res.target_fps:,.0f} FPS -> est. {e.fps:,.0f} FPS, LUT {e.totals['lut']:,}, "
            f"BRAM18 {e.totals['bram18']}, DSP {e.totals['dsp']}: {'fits' if e.fits else 'does not fit'}")


def no_fit_message(est: Estimate, board: Board) -> str:
    rows = sorted(est.layers, key=lambda e: -(e.lut / max(1, board.resources["lut"])
                                             + e.bram18 / max(1, board.resources["bram18"])))[:8]
    table = "; ".join(f"{e.name} LUT {e.lut} BRAM18 {e.bram18} DSP {e.dsp}" for e in rows)
    return (f"the model does not fit {board.name} even fully folded ({', '.join(est.limits)}); "
            f"largest layers: {table}")
