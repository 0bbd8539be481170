"""Per-layer folding: for a cycle target, every layer's PE/SIMD, multipliers and memories chosen together
so that the whole design has the fewest LUTs within the board's DSP and BRAM18 budget.

FINN's ``SetFolding`` gives each layer the smallest parallelism that meets the target, one layer at a
time; it never trades one layer's choice against its neighbours' (a width converter between them) or
against the budget (DSPs, BRAM). Here each layer gets a set of candidates — PE and SIMD by FINN's
divisibility rules (and ``MVAU_WWIDTH_MAX``), meeting the cycle target; for MVAUs also LUT or DSP
multipliers, weights in BRAM or LUTRAM, thresholds in LUTRAM or BRAM — each costed by the same
per-layer models as :func:`.estimates.estimate` (FINN+'s, plus comparators). A stream between two
layers costs its FIFOs and, when the widths differ, a width converter (FINN+'s models). The design
with the least ``LUT + l_dsp x DSP + l_bram x BRAM18`` is found exactly by min-sum variable
elimination over the layer graph (a chain of Fire fork/joins: no factor spans more than 3 layers);
the prices (Lagrangian relaxation: a grid of ``l_bram``, for each the lowest ``l_dsp`` whose DSPs
fit, by bisection) and a greedy repair that spends what the prices left unused then give the fewest
LUTs whose DSPs and BRAM18 fit. That part is a heuristic: a duality gap can leave a cheaper fitting
design unfound (the tests bound it against exhaustive search on a Fire module). Each chosen design is then estimated in full (:func:`.estimates.estimate`: FINN's own
InsertDWC/InsertFIFO on a copy), and that estimate decides whether it fits.

``layerwise_fold_cycles(model, board, cycles)`` folds for one target; ``layerwise_auto_fold``
searches the targets (every cycle count a layer can have) for the fastest design that fits.
"""
from __future__ import annotations

import contextlib
import copy
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper

from ..errors import NO_FIT, HwsqueezeError
from .boards import MARGIN, Board
from .foldspace import Candidate, candidates, cycles_at, fold_space, stream_cost, stream_inputs
from .minsum import Factor, solve

__all__ = ["layerwise_fold_cycles", "layerwise_auto_fold", "PRICES_BRAM"]

# Lagrangian prices tried (LUTs one BRAM18 is worth; 0 = free, the last = forbidden); a DSP's is bisected.
PRICES_BRAM = (0, 4, 16, 32, 64, 128, 256, 1e5)
PRICES_DSP_MAX = 1e4  # a DSP price above any LUT saving: no DSP is worth it
DSP_BISECTIONS = 12
BRAM_RESERVE = 12  # BRAM18 outside layers and shallow FIFOs: 2 IODMAs (4), the Fire fork/join FIFOs (8 on ours)


@dataclass
class _Problem:
    names: List[str]  # layers in topological order
    cands: Dict[str, List[Candidate]]
    edges: List[Tuple[str, int, str, int]]  # producer, its output index, consumer, its stream-input index
    part: str

    def __post_init__(self) -> None:
        def arr(n: str, key: str) -> np.ndarray:
            return np.array([getattr(c, key) for c in self.cands[n]], float)
        self._node = {n: (arr(n, "lut"), arr(n, "bram18"), arr(n, "dsp")) for n in self.names}
        self._edge = []  # per edge: (LUT, BRAM18) matrices over (producer candidate, consumer candidate)
        for p, po, c, ci in self.edges:
            costs = [[stream_cost(a.out_widths[po], b.in_widths[ci], self.part) for b in self.cands[c]]
                     for a in self.cands[p]]
            m = np.array(costs, float).reshape(len(self.cands[p]), len(self.cands[c]), 2)
            self._edge.append((m[..., 0], m[..., 1]))

    def factors(self, l_dsp: float, l_bram: float) -> List[Factor]:
        fs: List[Factor] = [((n,), lut + l_dsp * dsp + l_bram * bram) for n, (lut, bram, dsp) in self._node.items()]
        fs += [((p, c), lut + l_bram * bram) for (p, _, c, _), (lut, bram) in zip(self.edges, self._edge)]
        return fs

    def totals(self, choice: Dict[str, int]) -> Dict[str, int]:
        t = {"lut": 0.0, "bram18": 0.0, "dsp": 0.0}
        for n, (lut, bram, dsp) in self._node.items():
            t["lut"] += lut[choice[n]]
            t["bram18"] += bram[choice[n]]
            t["dsp"] += dsp[choice[n]]
        for (p, _, c, _), (lut, bram) in zip(self.edges, self._edge):
            t["lut"] += lut[choice[p], choice[c]]
            t["bram18"] += bram[choice[p], choice[c]]
        return {k: int(round(v)) for k, v in t.items()}

    def improve(self, choice: Dict[str, int], cap: Dict[str, float]) -> Dict[str, int]:
        """Greedy single-layer changes that save LUTs while DSPs and BRAM18 stay within ``cap`` (what
        the price grid's relaxation can leave on the table, e.g. DSPs it priced out)."""
        choice = dict(choice)
        touching = {n: [i for i, (p, _, c, _) in enumerate(self.edges) if n in (p, c)] for n in self.names}
        t = self.totals(choice)
        while True:
            best: Tuple[float, Optional[str], int] = (-0.5, None, 0)
            for n in self.names:
                lut, bram, dsp = self._node[n]
                dl, db, dd = lut - lut[choice[n]], bram - bram[choice[n]], dsp - dsp[choice[n]]
                for i in touching[n]:
                    p, _, c, _ = self.edges[i]
                    el, eb = self._edge[i]
                    row_l, row_b = (el[:, choice[c]], eb[:, choice[c]]) if n == p else (el[choice[p]], eb[choice[p]])
                    dl, db = dl + row_l - row_l[choice[n]], db + row_b - row_b[choice[n]]
                ok = (t["dsp"] + dd <= cap["dsp"]) & (t["bram18"] + db <= cap["bram18"])
                if ok.any():
                    k = int(np.argmin(np.where(ok, dl, np.inf)))
                    if dl[k] < best[0]:
                        best = (float(dl[k]), n, k)
            if best[1] is None:
                return choice
            choice[best[1]] = best[2]
            t = self.totals(choice)


def _problem(model: ModelWrapper, part: str, cycles: int, cache: Optional[dict] = None,
             use_dsps: bool = True) -> _Problem:
    names = [n.name for n in model.graph.node]
    cands = {}
    for n in model.graph.node:
        cands[n.name] = candidates(model, n, part, cycles, cache, use_dsps)
        if not cands[n.name]:
            raise HwsqueezeError(f"{n.name} cannot meet {cycles:,} cycles per frame at any folding", exit_code=NO_FIT)
    edges = []
    for n in model.graph.node:
        for ci, i in enumerate(stream_inputs(model, n)):
            prod = model.find_producer(n.input[i])
            if prod is not None:
                edges.append((prod.name, list(prod.output).index(n.input[i]), n.name, ci))
    return _Problem(names, cands, edges, part)


def _designs(prob: _Problem, cap: Dict[str, float]) -> List[Tuple[Dict[str, int], Dict[str, int]]]:
    """(totals, choice) of candidate designs: for each BRAM18 price, the least-cost design at the lowest
    DSP price whose DSPs fit ``cap`` (bisection: a higher price never adds DSPs), greedily improved."""
    seen, out = set(), []

    def add(choice: Dict[str, int]) -> None:
        key = tuple(choice[n] for n in prob.names)
        if key not in seen:
            seen.add(key)
            out.append((prob.totals(choice), choice))

    for l_bram in PRICES_BRAM:
        lo, hi = 0.0, PRICES_DSP_MAX
        _, free = solve(prob.names, prob.factors(lo, l_bram))
        if prob.totals(free)["dsp"] <= cap["dsp"]:
            fit = free
        else:
            _, fit = solve(prob.names, prob.factors(hi, l_bram))
            for _ in range(DSP_BISECTIONS):
                mid = (lo + hi) / 2
                _, choice = solve(prob.names, prob.factors(mid, l_bram))
                if prob.totals(choice)["dsp"] <= cap["dsp"]:
                    hi, fit = mid, choice
                else:
                    lo = mid
        add(fit)
        if prob.totals(fit)["bram18"] <= cap["bram18"]:
            add(prob.improve(fit, cap))
    return out


def _apply(model: ModelWrapper, prob: _Problem, choice: Dict[str, int]) -> ModelWrapper:
    from qonnx.custom_op.registry import getCustomOp

    m = ModelWrapper(copy.deepcopy(model.model))
    for node in m.graph.node:
        op = getCustomOp(node)
        for k, v in prob.cands[node.name][choice[node.name]].attrs:
            op.set_nodeattr(k, v)
    return m


def layerwise_fold_cycles(model: ModelWrapper, board: Board, cycles: int, margin: float = MARGIN,
                          fuse: bool = False, fps: Optional[float] = None, tries: int = 3,
                          cache: Optional[dict] = None, use_dsps: bool = True):
    """A copy of ``model`` folded layer by layer for ``cycles`` per frame (module docstring), estimated.

    Of the designs the price grid finds, those whose modelled DSPs and BRAM18 fit are estimated in full,
    fewest modelled LUTs first (at most ``tries``); the first that fits is returned, else the one
    with the fewest LUTs."""
    with _attribute_tables_kept():
        return _fold_cycles(model, board, cycles, margin, fuse, fps, tries, cache, use_dsps)


def _fold_cycles(model, board, cycles, margin, fuse, fps, tries, cache, use_dsps):
    from .estimates import estimate
    from .folding import FoldResult, _fuse

    from .estimates import IODMA_OVERHEAD, SHELL_OVERHEAD

    prob = _problem(model, board.part, cycles, cache, use_dsps)
    budget = {k: int(board.resources[k]) for k in ("lut", "bram18", "dsp")}
    # what the layer-and-stream model leaves out: the DMAs and shell, the Fire fork/join FIFOs' BRAM
    cap = {"dsp": budget["dsp"], "bram18": margin * budget["bram18"] - BRAM_RESERVE,
           "lut": margin * budget["lut"] - 2 * IODMA_OVERHEAD["lut"] - SHELL_OVERHEAD["lut"]}
    designs = sorted(_designs(prob, cap), key=lambda d: (d[0]["dsp"] > cap["dsp"], d[0]["bram18"] > cap["bram18"],
                                                         d[0]["lut"] > cap["lut"], d[0]["lut"]))
    fitting = [d for d in designs if d[0]["dsp"] <= cap["dsp"] and d[0]["bram18"] <= cap["bram18"]
               and d[0]["lut"] <= cap["lut"]]
    best = None
    for totals, choice in (fitting or designs)[:tries if fitting else 1]:  # a miss by the model: report one
        m = _fuse(_apply(model, prob, choice), fuse)
        est = estimate(m, board, margin)
        res = FoldResult(model=m, estimate=est, target_fps=fps or board.clock_mhz * 1e6 / cycles,
                         dsp_layers=_attr_layers(m, "resType", "dsp"),
                         lutram_layers=_attr_layers(m, "ram_style", "distributed"), folded_cycles=int(cycles))
        if best is None or (est.fits, -est.totals["lut"]) > (best.estimate.fits, -best.estimate.totals["lut"]):
            best = res
        if est.fits:
            break
    return best


def _attr_layers(model: ModelWrapper, attr: str, value: str) -> List[str]:
    from qonnx.custom_op.registry import getCustomOp

    return [n.name for n in model.graph.node if n.op_type.startswith("MVAU")
            and attr in getCustomOp(n).get_nodeattr_types() and getCustomOp(n).get_nodeattr(attr) == value]


def _targets(model: ModelWrapper) -> List[int]:
    """Every cycle count a layer's folding can give (the bottleneck is one of them) that every layer
    can meet, descending."""
    from qonnx.custom_op.registry import getCustomOp

    values, floor = set(), 0
    for node in model.graph.node:
        op = getCustomOp(node)
        mine = {cycles_at(op, f) for f in fold_space(op, node)}
        values |= mine
        floor = max(floor, min(mine))  # no design is faster than its slowest fully-unfolded layer
    return sorted((v for v in values if v >= floor), reverse=True)


@contextlib.contextmanager
def _attribute_tables_kept():
    """qonnx's ``get_nodeattr`` rebuilds the op's whole attribute-type table on every call, ~35 % of
    the search's time (hundreds of thousands of calls); the tables depend on the op class alone, so
    for the search each (class, name) is looked up once (defaults copied, never shared)."""
    from qonnx.custom_op.base import CustomOp

    orig, memo = CustomOp.get_nodeattr_def, {}

    def get_def(self, name):
        key = (type(self), name)
        if key not in memo:
            memo[key] = orig(self, name)
        dtype, req, default, allowed = memo[key]
        return dtype, req, copy.copy(default), allowed
    CustomOp.get_nodeattr_def = get_def
    try:
        yield
    finally:
        CustomOp.get_nodeattr_def = orig


def layerwise_auto_fold(model: ModelWrapper, board: Board, margin: float = MARGIN, use_dsps: bool = True,
                        progress: Optional[Callable[[str], None]] = None, fuse: bool = False):
    """The fastest layer-by-layer folding that fits ``board``: a bisection over the cycle targets
    (fewer cycles never makes a design smaller: every candidate for a target also meets a slower one)."""
    with _attribute_tables_kept():
        return _auto_fold(model, board, margin, use_dsps, progress, fuse)


def _auto_fold(model, board, margin, use_dsps, progress, fuse):
    from .folding import _line, fold, no_fit_message

    say = progress or (lambda s: None)
    best = fold(model, board, 1.0, margin, use_dsps, fuse)  # SetFolding fully folded: the slowest design
    if not best.estimate.fits:
        raise HwsqueezeError(no_fit_message(best.estimate, board), exit_code=NO_FIT)
    floor = _targets(model)
    lo, hi = 0, len(floor) - 1  # floor[lo]: slowest, assumed to fit
    cache: dict = {}
    while lo < hi:
        mid = (lo + hi + 1) // 2
        res = layerwise_fold_cycles(model, board, floor[mid], margin, fuse, cache=cache, use_dsps=use_dsps)
        say("layerwise: " + _line(res))
        if res.estimate.fits:
            lo = mid
            best = res if res.estimate.fps >= best.estimate.fps else best
        else:
            hi = mid - 1
    return best
