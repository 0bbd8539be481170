"""Dataflow steps: the integer graph to folded FINN+ HW layers, estimates and generated sources."""
from __future__ import annotations

import importlib
import shutil
from pathlib import Path

from ...errors import NO_FIT, HwsqueezeError

__all__ = ["to_hw", "step_convert_to_hw", "step_dataflow_partition", "step_specialize_layers", "step_folding",
           "step_minimize_bit_width", "step_estimates", "step_hw_codegen", "minimize"]

_CONVERT = "finn.transformation.fpgadataflow.convert_to_hw."
# FINN+'s Infer* passes, in the order that maps SqueezeNet's layers (module, class)
_INFER = [("quantized_matrix_vector_activation", "InferQuantizedMatrixVectorActivation"),
          ("thresholding", "InferThresholdingLayer"), ("fm_padding", "InferFMPadding"), ("pool", "InferPool"),
          ("conv_inp_gen", "InferConvInpGen"), ("concat", "InferConcatLayer"),
          ("elementwise_binary_operation", "InferElementwiseBinaryOperation"),  # simple-bypass adds
          ("duplicate_streams", "InferDuplicateStreamsLayer")]


def _infer(module: str, name: str):
    return getattr(importlib.import_module(_CONVERT + module), name)()


def minimize(model):
    """FINN+'s bit-width minimization: weight and accumulator widths from the actual values, then
    thresholds rounded/clipped to integers (exact: inputs are integers, ``x >= t <=> x >= ceil(t)``)
    so hardware compares integers, never floats."""
    from finn.transformation.fpgadataflow.minimize_accumulator_width import MinimizeAccumulatorWidth
    from finn.transformation.fpgadataflow.minimize_weight_bit_width import MinimizeWeightBitWidth
    from finn.transformation.streamline.round_thresholds import RoundAndClipThresholds
    from qonnx.transformation.infer_datatypes import InferDataTypes

    for t in (MinimizeWeightBitWidth(), MinimizeAccumulatorWidth(), InferDataTypes(), RoundAndClipThresholds(),
              InferDataTypes(), MinimizeWeightBitWidth(), InferDataTypes()):
        model = model.transform(t)
    return model


def to_hw(model, standalone_thresholds: bool = False):
    """Map every layer to a FINN HW layer; the float tail becomes one recorded output scale.

    ``standalone_thresholds``: thresholds become their own layers (inferred before the MVAUs, so
    no MVAU absorbs them), and every MVAU asks for FINN+'s DSP-packed RTL MVU (``dsps``; FINN+
    picks it by itself only for weights and inputs of 4 bits or more)."""
    from finn.transformation.streamline.absorb import AbsorbConsecutiveTransposes
    from qonnx.transformation.general import GiveUniqueNodeNames
    from qonnx.transformation.infer_data_layouts import InferDataLayouts
    from qonnx.transformation.infer_datatypes import InferDataTypes
    from qonnx.transformation.infer_shapes import InferShapes

    from ..transforms.tail import ExtractOutputScale

    # The pooling tail first, so its float scale Muls are removed before anything could map them
    # to a float ElementwiseMul in hardware.
    model = model.transform(_infer("global_acc_pool", "InferGlobalAccPoolLayer")).transform(ExtractOutputScale())
    order = [_INFER[1], _INFER[0], *_INFER[2:]] if standalone_thresholds else _INFER
    for module, name in order:
        model = model.transform(_infer(module, name))
    model = model.transform(AbsorbConsecutiveTransposes()).transform(ExtractOutputScale())
    if standalone_thresholds:
        from qonnx.custom_op.registry import getCustomOp

        for node in model.graph.node:
            if node.op_type == "MVAU":
                getCustomOp(node).set_nodeattr("preferred_impl_style", "rtl")
    for t in (GiveUniqueNodeNames(), InferDataLayouts(), InferDataTypes(), InferShapes()):
        model = model.transform(t)
    return minimize(model)  # before specialization: it decides on the widths (as FINN+ does)


def step_convert_to_hw(ctx, model):
    """Map every layer to a FINN HW layer; the float tail becomes one recorded output scale."""
    from ..transforms.tail import output_info

    model = to_hw(model, ctx.cfg.standalone_thresholds)
    ctx.state.output = output_info(model)
    return model


def step_dataflow_partition(ctx, model):
    """Check that the whole network is one dataflow partition (nothing but HW layers left)."""
    cpu = [f"{n.op_type} {n.name}" for n in model.graph.node if not n.domain.startswith("finn.custom_op.fpgadataflow")]
    if cpu:
        raise HwsqueezeError(f"step 'dataflow_partition': layers not mapped to hardware: {', '.join(cpu[:6])}"
                             f"{' ...' if len(cpu) > 6 else ''}")
    ctx.log(f"  one dataflow partition, {len(model.graph.node)} HW layers; on the CPU: "
            f"{', '.join(ctx.state.cpu_ops) or 'nothing'} (folded into one output scale)")
    return model


def step_specialize_layers(ctx, model):
    """Pick HLS or RTL implementations for each HW layer (FINN+'s defaults for the part)."""
    from finn.transformation.fpgadataflow.specialize_layers import SpecializeLayers
    from qonnx.transformation.general import GiveUniqueNodeNames

    return model.transform(SpecializeLayers(ctx.cfg.board.part)).transform(GiveUniqueNodeNames())


def step_folding(ctx, model):
    """PE/SIMD per layer for --target-fps (a number, or 'auto' = fastest that fits)."""
    from ...fsutil import write_json
    from ..folding import apply_folding_config, auto_fold, fold, max_fps, no_fit_message
    from ..layerwise import layerwise_auto_fold, layerwise_fold_cycles

    cfg = ctx.cfg
    if cfg.folding_config is not None:
        res = apply_folding_config(model, cfg.board, cfg.folding_config, cfg.margin, cfg.fuse_fire)
        ctx.log(f"  folding from {cfg.folding_config}: {res.estimate.fps:,.0f} FPS")
        if not res.estimate.fits and not cfg.estimate_only:
            raise HwsqueezeError(f"folding config {cfg.folding_config}: " + no_fit_message(res.estimate, cfg.board),
                                 exit_code=NO_FIT)
    elif cfg.target_fps == "auto":
        search = layerwise_auto_fold if cfg.folding_search == "layerwise" else auto_fold
        res = search(model, cfg.board, cfg.margin, cfg.use_dsps, progress=lambda s: ctx.log("  " + s),
                     fuse=cfg.fuse_fire)
    else:
        fps = float(cfg.target_fps)
        ceiling = max_fps(model, cfg.board, cfg.fuse_fire)
        if fps > ceiling * 1.0001:
            raise HwsqueezeError(f"target {fps:,.0f} FPS is impossible: fully unfolded, this model reaches "
                                 f"{ceiling:,.0f} FPS at {cfg.board.clock_mhz:g} MHz", exit_code=NO_FIT)
        if cfg.folding_search == "layerwise":
            res = layerwise_fold_cycles(model, cfg.board, max(1, int(cfg.board.clock_mhz * 1e6 / fps)), cfg.margin,
                                        cfg.fuse_fire, fps=fps, use_dsps=cfg.use_dsps)
        else:
            res = fold(model, cfg.board, fps, cfg.margin, cfg.use_dsps, cfg.fuse_fire)
        if not res.estimate.fits and not cfg.estimate_only:
            raise HwsqueezeError(f"target {fps:,.0f} FPS: " + no_fit_message(res.estimate, cfg.board), exit_code=NO_FIT)
    ctx.state.folding = {"target_fps": round(res.target_fps, 1), "dsp_layers": res.dsp_layers,
                         "lutram_layers": res.lutram_layers}
    write_json(ctx.path("folding_config.json"), {"Defaults": {}, **{e.name: e.folding for e in res.estimate.layers}})
    return res.model


def step_minimize_bit_width(ctx, model):
    """Shrink weight/accumulator widths to the trained values, integer thresholds; check the HW graph."""
    return minimize(model)


def step_estimates(ctx, model):
    """estimates.json / .md / .png, and FINN's report/estimate_*.json, for the folded design."""
    from ..estimates import estimate
    from ..report import write_finn_reports, write_reports, write_resources

    est = estimate(model, ctx.cfg.board, ctx.cfg.margin)
    write_reports(est, ctx.cfg.board, ctx.cfg.out_dir, extra={"folding": ctx.state.folding,
                                                              "source": ctx.state.source})
    write_finn_reports(model, ctx.cfg.board, ctx.cfg.out_dir)
    ctx.state.estimate = {k: getattr(est, k) for k in ("fps", "latency_ms", "latency_sum_ms", "fits", "totals",
                                                       "bottleneck")}
    write_resources(ctx.cfg.out_dir, ctx.state.resources)
    t = est.totals
    ctx.log(f"  estimate: {est.fps:,.0f} FPS at {est.clock_mhz:g} MHz, latency {est.latency_ms:.2f} ms, "
            f"LUT {t['lut']:,}/{est.budget['lut']:,}, BRAM18 {t['bram18']}/{est.budget['bram18']}, "
            f"DSP {t['dsp']}/{est.budget['dsp']} -> {'fits' if est.fits else 'DOES NOT FIT: ' + '; '.join(est.limits)}")
    return model


def step_hw_codegen(ctx, model):
    """Generate the HLS C++ / RTL sources of every layer (Vivado-free) into hw/."""
    from finn.transformation.fpgadataflow.prepare_ip import PrepareIP
    from qonnx.custom_op.registry import getCustomOp

    from ...fsutil import atomic_dir

    model = model.transform(PrepareIP(ctx.cfg.board.part, ctx.cfg.board.clk_ns))
    with atomic_dir(ctx.path("hw")) as hw:
        for node in model.graph.node:
            src = Path(getCustomOp(node).get_nodeattr("code_gen_dir_ipgen"))
            shutil.copytree(src, hw / node.name, ignore=shutil.ignore_patterns("*.npy"))
    ctx.log(f"  sources for {len(model.graph.node)} layers in {ctx.path('hw')}")
    return model
