"""Steps that need Xilinx tools: HLS synthesis, FIFO sizing, stitched IP and the bitstream.

Each runs FINN+'s own transformation when ``vitis_hls`` and ``vivado`` are on PATH; otherwise it
raises :class:`MissingTools`, which the runner turns into the one-line "no bitstream" result.
Never a fake bitstream.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import List

__all__ = ["MissingTools", "step_hw_ipgen", "step_fifo_depths", "step_bitfile"]


class MissingTools(Exception):
    """A step needs Xilinx tools that are not on PATH."""

    def __init__(self, tools: List[str]) -> None:
        super().__init__(", ".join(tools))
        self.tools = tools


def _needs_tools(ctx) -> None:
    missing = ctx.env.missing_tools()
    if missing:
        raise MissingTools(missing)


def _finn_cfg(ctx):
    from finn.builder.build_dataflow_config import DataflowBuildConfig

    b = ctx.cfg.board
    return DataflowBuildConfig(output_dir=str(ctx.path("finn_output")), synth_clk_period_ns=b.clk_ns,
                               fpga_part=b.part, board=b.finn_board, generate_outputs=[])


def step_hw_ipgen(ctx, model):
    """Vitis HLS synthesis of every HLS layer (needs vitis_hls)."""
    _needs_tools(ctx)
    from finn.transformation.fpgadataflow.hlssynth_ip import HLSSynthIP

    return model.transform(HLSSynthIP())


def step_fifo_depths(ctx, model):
    """FIFO sizing by simulation (XSI), else the Fire fork/join rule; then FIFO insertion (needs vivado)."""
    _needs_tools(ctx)
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
    """Stitched IP, Zynq shell and bitstream via FINN's ZynqBuild; bit + hwh into deploy/ (needs vivado)."""
    _needs_tools(ctx)
    from finn.transformation.fpgadataflow.make_zynq_proj import ZynqBuild

    from ...deploy import set_bitfile
    from ...deploy.package import BITFILE, HWH

    b = ctx.cfg.board
    model = model.transform(ZynqBuild(platform=b.finn_board, period_ns=b.clk_ns))
    deploy = ctx.path("deploy")
    (deploy / BITFILE).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(Path(model.get_metadata_prop("bitfile")), deploy / BITFILE)
    shutil.copy(Path(model.get_metadata_prop("hw_handoff")), deploy / HWH)
    set_bitfile(deploy)
    return model
