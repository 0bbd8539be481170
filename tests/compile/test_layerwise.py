"""The per-layer folding optimizer (``compile/layerwise``) against exhaustive search and FINN's SetFolding.

The exhaustive searches enumerate every combination of the same candidates and stream costs on a
slice of a real HW graph (the tiny Fire network's first Fire module: a fork/join), so they check the
solver, not the cost model; the cost model's parts are FINN+'s own functions (``stream_cost``) or
checked in test_estimates.py.
"""
from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from helpers import run_cli

PART = "xc7z020clg400-1"


@pytest.fixture(scope="module")
def hw_graph(tmp_path_factory):
    """The tiny Fire network's specialized HW graph (before folding)."""
    from qonnx.core.modelwrapper import ModelWrapper

    out = tmp_path_factory.mktemp("lw") / "b"
    res = run_cli("build", "--model", "squeezenet-tiny-cifar10", "--stop-step", "specialize_layers", "--out", str(out))
    assert res.returncode == 0, res.stdout + res.stderr
    (path,) = (out / "intermediate").glob("*_specialize_layers.onnx")
    return ModelWrapper(str(path))


@pytest.fixture(scope="module")
def board():
    from hwsqueeze.compile.boards import load_board

    return load_board("pynq-z2")


def test_solve_is_exact_on_random_fork_joins():
    """Min-sum elimination = brute force, on random costs over a chain with two fork/joins."""
    from hwsqueeze.compile.minsum import solve

    rng = np.random.default_rng(1)
    names = list("abcdefgh")
    edges = [("a", "b"), ("b", "c"), ("b", "d"), ("d", "e"), ("c", "f"), ("e", "f"), ("f", "g"), ("f", "h")]
    for _ in range(5):
        dom = {n: int(rng.integers(2, 4)) for n in names}
        fs = [((n,), rng.random(dom[n])) for n in names] + [((u, v), rng.random((dom[u], dom[v]))) for u, v in edges]

        def cost(assign):
            return sum(a[tuple(assign[v] for v in s)] for s, a in fs)
        best, choice = solve(names, fs)
        brute = min(cost(dict(zip(names, x))) for x in itertools.product(*[range(dom[n]) for n in names]))
        assert best == pytest.approx(brute) and cost(choice) == pytest.approx(brute)


def _fire_slice(hw_graph, board, cycles: int, per_node: int):
    """The optimizer's problem on the first Fire module (squeeze .. concat), each layer's candidates
    cut to its ``per_node`` cheapest-LUT ones plus its cheapest-DSP and cheapest-BRAM one."""
    from hwsqueeze.compile import layerwise as lw

    prob = lw._problem(hw_graph, board.part, cycles)
    names = prob.names
    first = next(i for i, n in enumerate(names) if n.startswith("DuplicateStreams"))
    last = next(i for i, n in enumerate(names) if n.startswith("StreamingConcat"))
    keep = names[first - 1:last + 1]
    cands = {}
    for n in keep:
        cs = prob.cands[n]
        pick = sorted(cs, key=lambda c: c.lut)[:per_node] + [min(cs, key=lambda c: (c.dsp, c.lut)),
                                                             min(cs, key=lambda c: (c.bram18, c.lut))]
        cands[n] = list(dict.fromkeys(pick))
    edges = [e for e in prob.edges if e[0] in keep and e[2] in keep]
    return lw._Problem(keep, cands, edges, board.part)


def _brute(prob, cap=None, prices=(0.0, 0.0)):
    best = None
    for combo in itertools.product(*[range(len(prob.cands[n])) for n in prob.names]):
        choice = dict(zip(prob.names, combo))
        t = prob.totals(choice)
        if cap and (t["dsp"] > cap["dsp"] or t["bram18"] > cap["bram18"]):
            continue
        v = t["lut"] + prices[0] * t["dsp"] + prices[1] * t["bram18"]
        best = v if best is None else min(best, v)
    return best


def test_optimizer_matches_exhaustive_search_on_a_fire_module(hw_graph, board):
    """At any prices the solver finds the exhaustive optimum of the same costs; under a DSP budget
    the price search (a Lagrangian heuristic, then greedy repair) finds a fitting design within 5 %
    of the exhaustive constrained optimum."""
    from hwsqueeze.compile import layerwise as lw
    from hwsqueeze.compile.minsum import solve

    prob = _fire_slice(hw_graph, board, cycles=12288, per_node=3)
    sizes = [len(prob.cands[n]) for n in prob.names]
    assert len(prob.names) >= 6 and int(np.prod(sizes)) >= 1000  # a fork/join with real choices
    for prices in [(0.0, 0.0), (30.0, 10.0), (200.0, 0.0)]:
        _, choice = solve(prob.names, prob.factors(*prices))
        t = prob.totals(choice)
        assert t["lut"] + prices[0] * t["dsp"] + prices[1] * t["bram18"] == pytest.approx(_brute(prob, prices=prices))
    free = prob.totals(solve(prob.names, prob.factors(0.0, 0.0))[1])
    assert free["dsp"] > 0  # DSPs save LUTs here, so a budget below that binds
    for dsp_cap in (free["dsp"] // 2, free["dsp"] // 4):
        cap = {"dsp": dsp_cap, "bram18": 1e9, "lut": 1e9}
        found = [t for t, _ in lw._designs(prob, cap) if t["dsp"] <= dsp_cap]
        assert found, dsp_cap
        best = min(t["lut"] for t in found)
        exact = _brute(prob, cap)
        assert exact <= best <= 1.05 * exact, (dsp_cap, best, exact)


def test_layerwise_needs_no_more_luts_than_setfolding(hw_graph, board):
    """At the same cycle target the per-layer design's full estimate (FINN's InsertDWC/InsertFIFO on
    the graph) has no more LUTs than SetFolding's with the DSP lever, and meets the target."""
    from hwsqueeze.compile.folding import fold_cycles
    from hwsqueeze.compile.layerwise import layerwise_fold_cycles

    for cycles in (32768, 12288):
        ours = layerwise_fold_cycles(hw_graph, board, cycles)
        finn = fold_cycles(hw_graph, board, cycles)
        assert max(e.cycles for e in ours.estimate.layers) <= cycles
        assert ours.estimate.fits and ours.estimate.totals["dsp"] <= board.resources["dsp"]
        assert ours.estimate.totals["lut"] <= finn.estimate.totals["lut"], cycles


def test_candidates_follow_finns_divisibility_rules(hw_graph, board):
    from qonnx.custom_op.registry import getCustomOp

    from hwsqueeze.compile.folding import MVAU_WWIDTH_MAX
    from hwsqueeze.compile.foldspace import candidates

    for node in hw_graph.graph.node:
        op = getCustomOp(node)
        for c in candidates(hw_graph, node, PART, 8192):
            a = dict(c.attrs)
            assert c.cycles <= 8192
            if node.op_type.startswith("MVAU"):
                assert op.get_nodeattr("MH") % a["PE"] == 0 and op.get_nodeattr("MW") % a["SIMD"] == 0
                assert a["SIMD"] * op.get_input_datatype(1).bitwidth() <= MVAU_WWIDTH_MAX


def test_build_uses_layerwise_and_keeps_setfolding_as_an_option(tmp_path: Path):
    import json

    outs = {}
    for search in ("layerwise", "setfolding"):
        out = tmp_path / search
        res = run_cli("build", "--model", "squeezenet-tiny-cifar10", "--estimate-only", "--target-fps", "3000",
                      "--folding-search", search, "--out", str(out))
        assert res.returncode == 0, res.stdout + res.stderr
        outs[search] = json.loads((out / "estimates.json").read_text())
        assert json.loads((out / "build_config.json").read_text())["folding_search"] == search
    assert outs["layerwise"]["totals"]["lut"] < outs["setfolding"]["totals"]["lut"]
    bad = run_cli("build", "--model", "squeezenet-tiny-cifar10", "--folding-search", "greedy", "--out",
                  str(tmp_path / "bad"))
    assert bad.returncode == 2 and "greedy" in bad.stdout + bad.stderr
