"""The logic of ``benchmarks/peer_cnv.py`` and ``benchmarks/pareto.py`` on hand-made graphs (seconds;
the real CNV-W2A2 build is not run here).

Independent facts: FPS = clock / (MH/PE x MW/SIMD x pixels) computed by hand; layers-only
figures = FINN+'s own per-node estimate functions; the overhead model = the constants
``compile/estimates.py`` documents (2 IODMAs x 1,500 LUT + 2 BRAM18, shell 2,500 LUT) applied
identically to two different graphs, a FIFO per stream costed by hand from its width, width
converters by FINN's own estimate, and the totals summed here from those; the finn-examples folding mapping = the conv order read
off a hand-made graph; the Pareto percentages by hand.
"""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def _bench(name: str):
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod
    finally:
        sys.path.remove(str(BENCH))


@pytest.fixture(scope="module")
def peer():
    return _bench("peer_cnv")


@pytest.fixture(scope="module")
def board():
    from hwsqueeze.compile.boards import load_board

    return load_board("pynq-z2")


def _mvau_chain(layers):
    """x (1,4,4,C UINT4) -> MVAU_hls ... for ``layers`` = [(MW, MH, PE, SIMD), ...] (INT4 weights)."""
    from onnx import TensorProto, helper
    from qonnx.core.datatype import DataType
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.util.basic import qonnx_make_model

    rng = np.random.default_rng(0)
    nodes, names = [], ["x"] + [f"a{i}" for i in range(len(layers))]
    for i, (mw, mh, pe, simd) in enumerate(layers):
        nodes.append(helper.make_node(
            "MVAU_hls", [names[i], f"W{i}", f"T{i}"], [names[i + 1]], name=f"MVAU_hls_{i}",
            domain="finn.custom_op.fpgadataflow.hls", backend="fpgadataflow", MW=mw, MH=mh, PE=pe, SIMD=simd,
            inputDataType="UINT4", weightDataType="INT4", outputDataType="UINT4", accDataType="INT32", ActVal=0,
            noActivation=0, binaryXnorMode=0, numInputVectors=[1, 4, 4], mem_mode="internal_decoupled"))
    vi = lambda n, c: helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, 4, 4, c])  # noqa: E731
    chans = [layers[0][0]] + [mh for _, mh, _, _ in layers]
    graph = helper.make_graph(nodes, "chain", [vi("x", chans[0])], [vi(names[-1], chans[-1])],
                              value_info=[vi(n, c) for n, c in zip(names[1:-1], chans[1:-1])])
    model = ModelWrapper(qonnx_make_model(graph))
    for n in names:
        model.set_tensor_datatype(n, DataType["UINT4"])
    for i, (mw, mh, _, _) in enumerate(layers):
        model.set_initializer(f"W{i}", rng.integers(-8, 8, (mw, mh)).astype(np.float32))
        model.set_tensor_datatype(f"W{i}", DataType["INT4"])
        model.set_initializer(f"T{i}", np.sort(rng.integers(-64, 64, (mh, 15)), axis=1).astype(np.float32))
        model.set_tensor_datatype(f"T{i}", DataType["INT32"])
    return model


ONE = [(16, 32, 4, 8)]  # 32/4 x 16/8 x 16 pixels = 256 cycles
TWO = [(16, 32, 4, 8), (32, 16, 1, 16)]  # second: 16/1 x 32/16 x 16 = 512 cycles; 16-bit -> 64-bit stream: a DWC


def test_fps_from_cycles_and_layers_are_finns_estimates(peer, board, finn_env):
    from qonnx.custom_op.registry import getCustomOp

    for layers, cycles, slowest in ((ONE, 256, "MVAU_hls_0"), (TWO, 512, "MVAU_hls_1")):
        model = _mvau_chain(layers)
        f = peer.figures(model, board)
        assert f["max_cycles"] == cycles and f["bottleneck"] == slowest
        assert f["fps"] == pytest.approx(100e6 / cycles)  # 390,625 and 195,312.5 FPS at 100 MHz
        ops = [getCustomOp(n) for n in model.graph.node]
        assert f["layers"] == {"lut": sum(int(o.lut_estimation(board.part)) for o in ops),
                               "bram18": sum(int(o.bram_estimation(board.part)) for o in ops),
                               "dsp": sum(int(o.dsp_estimation(board.part)) for o in ops)}
        assert f["weights"] == sum(mw * mh for mw, mh, _, _ in layers)
        assert f["weight_bits"] == 4 * f["weights"]


def _finn_dwc(layers, board) -> dict:
    """FINN's own estimate of the width converters its InsertDWC puts into the chain."""
    from finn.transformation.fpgadataflow.insert_dwc import InsertDWC
    from finn.transformation.fpgadataflow.specialize_layers import SpecializeLayers
    from qonnx.custom_op.registry import getCustomOp

    g = _mvau_chain(layers).transform(InsertDWC()).transform(SpecializeLayers(board.part))
    ops = [getCustomOp(n) for n in g.graph.node if n.op_type.startswith("StreamingDataWidthConverter")]
    assert all(int(op.lut_estimation(board.part)) > 0 for op in ops)  # no documented floor needed here
    return {"lut": sum(int(op.lut_estimation(board.part)) for op in ops),
            "bram18": sum(int(op.bram_estimation(board.part)) for op in ops), "dsp": 0}


# the streams FINN's InsertFIFO puts a FIFO on, widths by hand (bits, padded to bytes): ONE: in 8 SIMD x 4,
# out 4 PE x 4; TWO: the same in, MVAU 0's out, the converter's out (MVAU 1's 16 SIMD x 4), out 1 PE x 4 -> 8
FIFO_WIDTHS = {"ONE": [32, 16], "TWO": [32, 16, 64, 8]}


def test_overhead_model_is_the_same_on_both_sides(peer, board, finn_env):
    one, two = peer.figures(_mvau_chain(ONE), board), peer.figures(_mvau_chain(TWO), board)
    for f, name, layers in ((one, "ONE", ONE), (two, "TWO", TWO)):
        o = f["overhead"]
        # the documented constants, whichever graph: 2 IODMAs (1,500 LUT + 2 BRAM18 each) and the shell
        assert o["dmas"] == {"lut": 3000, "bram18": 4, "dsp": 0}
        assert o["shell"] == {"lut": 2500, "bram18": 0, "dsp": 0}
        # a 32-deep SRL FIFO per stream at FINN+'s model's W + 5*cw - 7 LUT, cw = clog2(33) + 1 = 7
        # (tests/compile/test_fifos.py): ONE 60 + 44 = 104 LUT, TWO 60 + 44 + 92 + 36 = 232
        fifos = {"lut": sum(w + 28 for w in FIFO_WIDTHS[name]), "bram18": 0, "dsp": 0}
        dwc = _finn_dwc(layers, board)
        assert o["fifos"] == fifos and o["width_converters"] == dwc
        fixed = {"lut": 3000 + 2500, "bram18": 4, "dsp": 0}  # the DMAs and the shell
        for k in ("lut", "bram18", "dsp"):  # total = our layers + the overheads, each computed here
            assert f["total"][k] == f["layers_ours"][k] + fifos[k] + dwc[k] + fixed[k], (name, k)
        # our layers = FINN's + what it leaves out of thresholded MVAUs (comparators and threshold storage)
        assert f["layers_ours"]["lut"] - f["layers"]["lut"] >= f["comparator_lut"] > 0  # 15 thresholds a channel
        assert f["layers_ours"]["dsp"] == f["layers"]["dsp"]
    assert one["overhead"]["width_converters"]["lut"] == 0  # widths match: FINN inserts no converter
    assert two["overhead"]["width_converters"]["lut"] > 0  # 16-bit -> 64-bit stream: one converter
    j = peer.to_json(_with_meta(one, 0.85, "measured"), _with_meta(two, 0.8903, "published ..."),
                     _with_meta(one, 0.8903, "published ..."))
    assert j["hwsqueeze"]["overhead"] == one["overhead"] and j["cnv_w2a2"]["overhead"] == two["overhead"]


def _with_meta(f: dict, top1: float, source: str) -> dict:
    return {**f, "top1": top1, "top1_source": source, "label": "x", "build": "b"}


def test_json_and_table_schema(peer, board, finn_env):
    f = peer.figures(_mvau_chain(ONE), board)
    ours, cnv = _with_meta(f, 0.8585, "measured (...)"), _with_meta(f, peer.PEER_TOP1, peer.PEER_TOP1_SOURCE)
    j = json.loads(json.dumps(peer.to_json(ours, cnv, cnv)))
    assert set(j) == {"hwsqueeze", "cnv_w2a2"}
    for side in (j["hwsqueeze"], j["cnv_w2a2"], j["cnv_w2a2"]["at_hwsqueeze_fps"]):
        assert {"top1", "fps", "lut", "bram18", "dsp"} <= set(side)
        assert isinstance(side["lut"], int) and isinstance(side["fps"], float)
        assert side["lut"] == f["total"]["lut"] and side["layers_only"] == f["layers"]
    assert j["cnv_w2a2"]["top1"] == 0.8903 and j["cnv_w2a2"]["top1_source"].startswith("published")
    lines = peer.markdown([("CNV", cnv), ("ours", ours)]).splitlines()
    assert len(lines) == 4 and all(line.count("|") == 13 for line in lines)
    assert "| 89.03 % (published) | 390,625 | " in lines[2] and "85.85 % (measured)" in lines[3]
    assert f" {f['latency_ms']:.2f} / {f['latency_sum_ms']:.2f} ms |" in lines[3]


def test_finn_examples_folding_maps_conv_window_generators_by_role(peer):
    from onnx import TensorProto, helper
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.util.basic import qonnx_make_model

    # FINN+ 1.6.1's CNV order: conv SWG, MVAU, pool SWG, Pool, conv SWG, MVAU (names as FINN numbers them)
    chain = [("ConvolutionInputGenerator_rtl", "ConvolutionInputGenerator_rtl_0"), ("MVAU_hls", "MVAU_hls_0"),
             ("ConvolutionInputGenerator_rtl", "ConvolutionInputGenerator_rtl_1"), ("Pool_hls", "Pool_hls_0"),
             ("ConvolutionInputGenerator_rtl", "ConvolutionInputGenerator_rtl_2"), ("MVAU_hls", "MVAU_hls_1")]
    nodes = [helper.make_node(op, [f"t{i}"], [f"t{i + 1}"], name=name) for i, (op, name) in enumerate(chain)]
    vi = helper.make_tensor_value_info
    g = helper.make_graph(nodes, "g", [vi("t0", TensorProto.FLOAT, [1])], [vi("t6", TensorProto.FLOAT, [1])])
    model = ModelWrapper(qonnx_make_model(g))
    cfg = {"Defaults": {}, "ConvolutionInputGenerator_rtl_0": {"SIMD": 3}, "ConvolutionInputGenerator_rtl_1": {"SIMD": 16},
           "MVAU_hls_1": {"PE": 8}}
    mapped = peer.map_folding(model, cfg)
    # the second CONV's generator is _2 here (the pool's generator took _1): it gets the config's _1
    assert mapped == {"Defaults": {}, "ConvolutionInputGenerator_rtl_0": {"SIMD": 3},
                      "ConvolutionInputGenerator_rtl_2": {"SIMD": 16}, "MVAU_hls_1": {"PE": 8}}
    with pytest.raises(SystemExit, match="MVAU_hls_7"):
        peer.map_folding(model, {"MVAU_hls_7": {"PE": 1}})
    with pytest.raises(SystemExit, match="only 2 conv"):
        peer.map_folding(model, {"ConvolutionInputGenerator_rtl_2": {"SIMD": 1}})


def test_pareto_rows_table_and_plot(tmp_path):
    par = _bench("pareto")
    budget = {"lut": 53200, "bram18": 280, "dsp": 220}
    r1 = par.row("ours @ 1,500", "hwsqueeze", 0.8585, "measured", 1525.88, {"lut": 39900, "bram18": 238, "dsp": 185},
                 budget, True, 1500)
    r2 = par.row("CNV", "cnv_w2a2", 0.8903, "published", 868.05, {"lut": 26600, "bram18": 140, "dsp": 0}, budget, True,
                 top1_label="published")
    r3 = par.row("ours @ 3,000", "hwsqueeze", None, "not measured: no data", 3051.8,
                 {"lut": 50540, "bram18": 210, "dsp": 200}, budget, False, 3000)
    assert (r1["lut_pct"], r1["bram_pct"], r2["lut_pct"], r2["bram_pct"]) == (75.0, 85.0, 50.0, 50.0)
    assert r1["fps"] == 1525.9 and r3["lut_pct"] == 95.0
    lines = par.markdown([r1, r2, r3]).splitlines()
    assert lines[2] == "| ours @ 1,500 | 85.85 % | 1,526 | 75.0 | 85.0 | 185 | yes |"
    assert lines[3] == "| CNV | 89.03 % (published) | 868 | 50.0 | 50.0 | 0 | yes |"
    assert lines[4] == "| ours @ 3,000 | not measured | 3,052 | 95.0 | 75.0 | 200 | no |"
    png = tmp_path / "p.png"
    par.plot([r1, r2, r3], png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_pareto_cnv_rows_score_the_peer_trained_on_the_same_copy(peer, tmp_path):
    """The CNV-W2A2 rows' top-1 is the campaign's checkpoint's (the same data as ours), the published
    figure (official test set) only without it, labelled as such."""
    par = _bench("pareto")
    top, note, label = par.cnv_top1()
    assert (top, note, label) == (peer.trained_here()["top1"], peer.trained_here()["top1_source"], "trained here")
    assert top != peer.PEER_TOP1
    assert par.cnv_top1(tmp_path / "absent.pt") == (0.8903, peer.PEER_TOP1_SOURCE, "published, official test set")


def test_trained_peer_row_reads_the_campaigns_checkpoint(peer, tmp_path):
    """The "trained here" row: the last test evaluation a CNV-W2A2 checkpoint records (this one: one
    epoch on generated images), and no row before the campaign has published one."""
    from helpers import run_cli

    assert peer.trained_here(tmp_path / "absent.pt") is None
    r = run_cli("train", "--data", "generated:200", "--model", "cnv-w2a2-cifar10", "--quant", "w2a2", "--epochs", "1",
                "--batch-size", "50", "--max-test", "50", "--no-bf16", "--quiet", "--out", str(tmp_path / "run"))
    assert r.returncode == 0, r.stderr[-2000:]
    ck = tmp_path / "run" / "final.pt"
    from hwsqueeze.train import load_checkpoint

    recorded = [m for m in load_checkpoint(ck)["metrics"] if "test_top1" in m][-1]
    got = peer.trained_here(ck)
    assert got["top1"] == recorded["test_top1"] and got["checkpoint"] == str(ck)
    assert got["top1_source"].startswith("measured") and "epoch 1" in got["top1_source"]
