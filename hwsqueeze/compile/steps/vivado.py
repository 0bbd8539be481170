"""Steps that need Xilinx tools: HLS synthesis, FIFO sizing, stitched IP and the bitstream.

Each runs FINN+'s own transformation. Their rows in ``pipeline.STEPS`` say ``needs_tools``: the
runner raises :class:`MissingTools` before such a step when ``vitis_hls`` or ``vivado`` is not on
PATH, and turns it into the one-line "no bitstream" result.
Never a fake bitstream. After ZynqBuild, Vivado's own reports are read (:mod:`..vivado_reports`):
a design that misses timing fails the build and its bitstream is not put into the package.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import List

__all__ = ["MissingTools", "step_hw_ipgen", "step_fifo_depths", "step_bitfile", "record_vivado_results",
           "install_bitstream"]


class MissingTools(Exception):
    """A step needs Xilinx tools that are not on PATH."""

    def __init__(self, tools: List[str]) -> None:
        super().__init__(", ".join(tools))
        self.tools = tools


def _finn_cfg(ctx):
    from finn.builder.build_dataflow_config import DataflowBuildConfig

    b = ctx.cfg.board
    return DataflowBuildConfig(output_dir=str(ctx.path("finn_output")), synth_clk_period_ns=b.clk_ns,
                               fpga_part=b.part, board=b.finn_board, generate_outputs=[])


def step_hw_ipgen(ctx, model):
    """Vitis HLS synthesis of every HLS layer (needs vitis_hls)."""
    from finn.transformation.fpgadataflow.hlssynth_ip import HLSSynthIP

    return model.transform(HLSSynthIP())


def step_fifo_depths(ctx, model):
    """FIFO sizing by simulation (XSI), else the Fire fork/join rule; then FIFO insertion (needs vivado)."""
    from ..finn_env import ensure_xsi
    from ..transforms.fifos import SetForkJoinFIFODepths

    no_sim = ensure_xsi()  # before importing FINN's builder: it imports XSI's SimEngine at import time
    from finn.builder.build_dataflow_config import AutoFIFOSizingMethod
    from finn.builder.build_dataflow_steps import step_set_fifo_depths

    # The rule's depths first: FINN's simulation replaces them when it runs; without it,
    # force_minimal_fifos keeps them (InsertFIFO makes each FIFO as deep as the larger of its
    # producer's outFIFODepths and its consumer's inFIFODepths) and the Fire modules cannot
    # deadlock (see transforms/fifos.py).
    model = model.transform(SetForkJoinFIFODepths())
    cfg = _finn_cfg(ctx)
    if no_sim:
        cfg.auto_fifo_strategy = AutoFIFOSizingMethod.FORCE_MINIMAL_FIFOS
        ctx.log(f"  FIFO sizing: {no_sim}: Fire fork/join FIFOs by rule, the others at minimal depth "
                "(not sized by simulation)")
    return step_set_fifo_depths(model, cfg)


def step_bitfile(ctx, model):
    """Stitched IP, Zynq shell and bitstream via FINN's ZynqBuild; timing checked; bit + hwh into deploy/ (needs vivado)."""
    from finn.transformation.fpgadataflow.make_zynq_proj import ZynqBuild

    b = ctx.cfg.board
    model = model.transform(ZynqBuild(platform=b.finn_board, period_ns=b.clk_ns))
    record_vivado_results(ctx, model)  # fails here, before the package gets the bitstream, if timing is not met
    install_bitstream(ctx.path("deploy"), Path(model.get_metadata_prop("bitfile")),
                      Path(model.get_metadata_prop("hw_handoff")))
    return model


def record_vivado_results(ctx, model) -> None:
    """Vivado's timing summary and utilisation (left by ZynqBuild) into report/, the build state and
    report/resources.json (measured, replacing the estimate); then the timing check."""
    from ..report import write_resources
    from ..vivado_reports import TIMING_RPT, UTIL_XML, check_timing, copy_reports, parse_timing_summary, parse_utilisation

    out = ctx.cfg.out_dir
    files = copy_reports(model, out)
    ctx.state.timing = {**parse_timing_summary(files[TIMING_RPT].read_text(errors="replace"), str(files[TIMING_RPT])),
                        "clock_mhz": ctx.cfg.board.clock_mhz, "report": TIMING_RPT}
    used = parse_utilisation(files[UTIL_XML])
    ctx.state.measured = {"source": f"vivado post-route utilisation ({UTIL_XML})", **used,
                          "estimate": (ctx.state.estimate or {}).get("totals")}
    write_resources(out, ctx.state.resources)
    t = ctx.state.timing
    ctx.log(f"  vivado: WNS {t.get('wns_ns')} ns, WHS {t.get('whs_ns')} ns at {ctx.cfg.board.clock_mhz:g} MHz; "
            f"LUT {used['lut']:,}, FF {used.get('ff', 0):,}, BRAM18 {used['bram18']}, DSP {used.get('dsp', 0)} "
            f"(measured; report/resources.json)")
    check_timing(t, ctx.cfg.board.clock_mhz, out / TIMING_RPT)


def install_bitstream(deploy: Path, bit: Path, hwh: Path) -> None:
    """Copy the bitstream and its hardware handoff into the deploy package and record them."""
    from ...deploy import set_bitfile
    from ...deploy.package import BITFILE, HWH

    (deploy / BITFILE).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(bit, deploy / BITFILE)
    shutil.copy(hwh, deploy / HWH)
    set_bitfile(deploy)
