"""After Vivado: the routed timing summary and the hierarchical utilisation that FINN+'s ZynqBuild
leaves are copied into report/, read, and decide whether the bitstream is used.

``data/timing_*.rpt`` are written in the exact layout of Vivado 2022.2's ``report_timing_summary``
(header, Timer Settings, Design Timing Summary, verdict line, Clock Summary; compared with public
routed reports) and ``data/utilisation_*.xml`` in that of ``report_utilization -hierarchical
-format xml`` (the structure FINN documents in its post_synth_res); the numbers are invented and
the expected values below are read off those files by hand. The utilisation totals are also
checked against FINN+'s own ``post_synth_res`` parser of the same file."""
from __future__ import annotations

import json
import shutil
import types
from pathlib import Path

import pytest

from hwsqueeze.errors import TIMING_FAILED, HwsqueezeError

DATA = Path(__file__).with_name("data")


@pytest.mark.parametrize("name,expected", [
    ("timing_met.rpt", {"wns_ns": 1.207, "tns_ns": 0.0, "tns_failing_endpoints": 0, "whs_ns": 0.025, "ths_ns": 0.0,
                        "ths_failing_endpoints": 0, "wpws_ns": 3.75, "met": True}),
    ("timing_setup_fail.rpt", {"wns_ns": -0.412, "tns_ns": -23.781, "tns_failing_endpoints": 97, "whs_ns": 0.031,
                               "ths_ns": 0.0, "ths_failing_endpoints": 0, "wpws_ns": 3.75, "met": False}),
    ("timing_hold_fail.rpt", {"wns_ns": 0.518, "tns_ns": 0.0, "tns_failing_endpoints": 0, "whs_ns": -0.031,
                              "ths_ns": -0.093, "ths_failing_endpoints": 3, "wpws_ns": 3.75, "met": False}),
    ("timing_unconstrained.rpt", {"wns_ns": None, "tns_ns": None, "tns_failing_endpoints": None, "whs_ns": None,
                                  "ths_ns": None, "ths_failing_endpoints": None, "wpws_ns": None, "met": None}),
])
def test_timing_summary_figures(name, expected):
    from hwsqueeze.compile.vivado_reports import parse_timing_summary

    assert parse_timing_summary((DATA / name).read_text()) == expected


@pytest.mark.parametrize("name,message", [
    ("timing_setup_fail.rpt", "timing not met at 100 MHz: setup slack WNS -0.412 ns (TNS -23.781 ns, 97 failing"),
    ("timing_hold_fail.rpt", "timing not met at 100 MHz: hold slack WHS -0.031 ns (THS -0.093 ns, 3 failing"),
    ("timing_unconstrained.rpt", "WNS/WHS not available"),
])
def test_timing_check_fails_with_one_line(name, message):
    from hwsqueeze.compile.vivado_reports import check_timing, parse_timing_summary

    with pytest.raises(HwsqueezeError) as e:
        check_timing(parse_timing_summary((DATA / name).read_text()), 100.0, DATA / name)
    assert e.value.exit_code == TIMING_FAILED == 6 and message in str(e.value) and "\n" not in str(e.value)


def test_timing_check_passes_when_met():
    from hwsqueeze.compile.vivado_reports import check_timing, parse_timing_summary

    check_timing(parse_timing_summary((DATA / "timing_met.rpt").read_text()), 100.0, DATA / "timing_met.rpt")


def test_not_a_timing_report():
    from hwsqueeze.compile.vivado_reports import parse_timing_summary

    with pytest.raises(HwsqueezeError, match="no 'Design Timing Summary' table") as e:
        parse_timing_summary((DATA / "utilisation_7series.xml").read_text(), "x.rpt")
    assert e.value.exit_code == TIMING_FAILED


def _finn_top(path: Path) -> dict:
    """FINN+ 1.6.1's own parser of the same report (the (top) row; a graph without partitions)."""
    from finn.analysis.fpgadataflow.post_synth_res import post_synth_res
    from onnx import TensorProto, helper
    from qonnx.core.modelwrapper import ModelWrapper

    g = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    return post_synth_res(ModelWrapper(helper.make_model(g)), path)[0]["(top)"]


def test_utilisation_7series():
    from hwsqueeze.compile.vivado_reports import parse_utilisation

    got = parse_utilisation(DATA / "utilisation_7series.xml")
    assert got == {"lut": 41873, "lutram": 3106, "srl": 2755, "ff": 52319, "ramb36": 97, "ramb18": 31, "dsp": 188,
                   "bram18": 2 * 97 + 31}
    finn = _finn_top(DATA / "utilisation_7series.xml")
    assert {k: finn[k] for k in ("LUT", "SRL", "FF", "BRAM_36K", "BRAM_18K")} == \
        {"LUT": got["lut"], "SRL": got["srl"], "FF": got["ff"], "BRAM_36K": got["ramb36"], "BRAM_18K": got["ramb18"]}
    # A FINN+ 1.6.1 gap, kept visible: it looks for "DSP Blocks", but 7-series reports say "DSP48 Blocks"
    assert "DSP" not in finn


def test_utilisation_ultrascale_matches_finn():
    from hwsqueeze.compile.vivado_reports import parse_utilisation

    got = parse_utilisation(DATA / "utilisation_ultrascale.xml")
    assert got["dsp"] == 1464 and got["uram"] == 0 and got["bram18"] == 2 * 201 + 17
    finn = _finn_top(DATA / "utilisation_ultrascale.xml")
    assert (finn["LUT"], finn["FF"], finn["DSP"], finn["URAM"]) == (got["lut"], got["ff"], got["dsp"], got["uram"])


# ---------------------------------------------------------------- the bitfile step after ZynqBuild

def _package(root: Path) -> Path:
    """A minimal deploy package (hand-written deploy.json) for the step to install a bitstream into."""
    from hwsqueeze.deploy import StreamSpec, DeployMeta, write_meta
    from hwsqueeze.deploy.bitstream import write_readme

    d = root / "deploy"
    d.mkdir(parents=True)
    meta = DeployMeta(board="pynq-z2", part="xc7z020clg400-1", clock_mhz=100.0, model="m", quant="w4a4",
                      input=StreamSpec("idma0", "UINT8", (1, 4, 4, 3), (1, 4, 4, 3, 1), (1, 4, 4, 3, 1)),
                      output=StreamSpec("odma0", "INT8", (1, 10), (1, 1, 10), (1, 1, 10)))
    write_meta(d, meta)
    write_readme(d, meta)
    return d


@pytest.fixture
def after_zynqbuild(tmp_path, monkeypatch):
    """Runs ``step_bitfile`` with a stand-in ZynqBuild that leaves what the real one leaves (a
    project folder with the routed timing summary, synth_report.xml, resizer.bit/.hwh) and sets
    the same metadata properties; returns run(timing_report) -> (ctx, error or None)."""
    from finn.transformation.fpgadataflow import make_zynq_proj
    from onnx import TensorProto, helper
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.base import Transformation

    from hwsqueeze.compile.config import BuildState
    from hwsqueeze.compile.steps.vivado import step_bitfile

    def run(timing: str):
        proj = tmp_path / "vivado_zynq_proj"
        (proj / "finn_zynq_link.runs" / "impl_1").mkdir(parents=True)
        shutil.copy(DATA / timing, proj / "finn_zynq_link.runs" / "impl_1" / "top_wrapper_timing_summary_routed.rpt")
        shutil.copy(DATA / "utilisation_7series.xml", proj / "synth_report.xml")
        (proj / "resizer.bit").write_bytes(b"bitstream")
        (proj / "resizer.hwh").write_text("<hwh/>")

        class ZynqBuild(Transformation):
            def __init__(self, platform, period_ns, *a, **k):
                super().__init__()
                assert (platform, period_ns) == ("Pynq-Z2", 10.0)

            def apply(self, model):
                for k, v in (("vivado_pynq_proj", proj), ("bitfile", proj / "resizer.bit"),
                             ("hw_handoff", proj / "resizer.hwh"), ("vivado_synth_rpt", proj / "synth_report.xml")):
                    model.set_metadata_prop(k, str(v))
                return model, False

        monkeypatch.setattr(make_zynq_proj, "ZynqBuild", ZynqBuild)
        g = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
        board = types.SimpleNamespace(finn_board="Pynq-Z2", clk_ns=10.0, clock_mhz=100.0)
        out = tmp_path / "build"
        _package(out)
        logged = []
        ctx = types.SimpleNamespace(cfg=types.SimpleNamespace(out_dir=out, board=board), log=logged.append,
                                    env=types.SimpleNamespace(missing_tools=lambda: []),
                                    state=BuildState(estimate={"totals": {"lut": 43800, "bram18": 209, "dsp": 185}}),
                                    path=lambda *p: out.joinpath(*p))
        try:
            step_bitfile(ctx, ModelWrapper(helper.make_model(g)))
        except HwsqueezeError as e:
            return ctx, e
        return ctx, None

    return run


def test_timing_met_installs_the_bitstream_and_measured_resources(after_zynqbuild):
    ctx, err = after_zynqbuild("timing_met.rpt")
    out = ctx.cfg.out_dir
    assert err is None
    assert (out / "report" / "post_route_timing.rpt").read_text() == (DATA / "timing_met.rpt").read_text()
    assert (out / "report" / "post_synth_report.xml").read_bytes() == (DATA / "utilisation_7series.xml").read_bytes()
    res = json.loads((out / "report" / "resources.json").read_text())
    assert res["source"].startswith("vivado post-route") and (res["lut"], res["bram18"], res["dsp"]) == (41873, 225, 188)
    assert res["estimate"] == {"lut": 43800, "bram18": 209, "dsp": 185}  # kept beside, labelled
    assert ctx.state.resources == res and ctx.state.timing["wns_ns"] == 1.207
    meta = json.loads((out / "deploy" / "deploy.json").read_text())
    assert meta["bitfile"] == "bitfile/hwsqueeze.bit" and (out / "deploy" / "bitfile" / "hwsqueeze.bit").read_bytes() == b"bitstream"
    assert "**This package holds a bitstream**" in (out / "deploy" / "README.md").read_text()


@pytest.mark.parametrize("timing", ["timing_setup_fail.rpt", "timing_hold_fail.rpt"])
def test_timing_failure_fails_the_step_and_keeps_the_bitstream_out(after_zynqbuild, timing):
    ctx, err = after_zynqbuild(timing)
    out = ctx.cfg.out_dir
    assert err is not None and err.exit_code == TIMING_FAILED and "timing not met" in str(err)
    assert str(out / "report" / "post_route_timing.rpt") in str(err)
    assert (out / "report" / "post_route_timing.rpt").read_text() == (DATA / timing).read_text()
    assert json.loads((out / "report" / "resources.json").read_text())["lut"] == 41873  # measured all the same
    assert json.loads((out / "deploy" / "deploy.json").read_text())["bitfile"] is None
    assert not (out / "deploy" / "bitfile").exists()
    assert "**No bitstream in this package**" in (out / "deploy" / "README.md").read_text()
