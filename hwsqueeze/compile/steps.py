"""The build: an ordered list of named steps, FINN-builder style.

Each step takes the model left by the previous one and writes
``build/<board>/intermediate/NN_<step>.onnx`` (open it with netron), so a build resumes from
any step (``--from-step``) and every stage can be inspected. Outputs are checked against the
QONNX export on sample images after every graph-changing stage; a mismatch stops the build
with an error naming the stage.

Steps that need Xilinx tools (IP generation, FIFO sizing, stitched IP, bitstream) run only when
``vitis_hls`` and ``vivado`` are on PATH; otherwise the build stops after the deploy package
with a summary that says no bitstream was built and which tool is missing.
"""
from __future__ import annotations

import contextlib
import json
import os
import sys
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Union

import numpy as np

from ..errors import HwsqueezeError
from .boards import Board

__all__ = ["BuildConfig", "BuildResult", "STEPS", "step_names", "run_build"]

VERIFY_N = 8


@dataclass
class BuildConfig:
    board: Board
    out_dir: Path
    checkpoint: Optional[Path] = None  # None: the shipped default model (unless model_name)
    model_name: Optional[str] = None  # build an untrained registry model instead
    onnx: Optional[Path] = None  # or start from an existing QONNX export
    target_fps: Union[float, str] = "auto"
    margin: float = 0.85
    use_dsps: bool = True
    estimate_only: bool = False
    require_bitstream: bool = False
    from_step: Optional[str] = None
    verify_n: int = VERIFY_N
    log: Callable[[str], None] = print


@dataclass
class BuildResult:
    status: str  # "bitstream", "no-bitstream" or "estimate-only"
    out_dir: Path
    summary: dict
    message: str = ""


@dataclass
class _Ctx:
    cfg: BuildConfig
    env: object
    state: dict = field(default_factory=dict)

    @property
    def dir(self) -> Path:
        return self.cfg.out_dir

    def path(self, *parts: str) -> Path:
        return self.cfg.out_dir.joinpath(*parts)


# --------------------------------------------------------------------------- helpers
def _save(model, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    model.save(str(tmp))
    os.replace(tmp, path)


def _write_json(path: Path, obj) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=1, default=str))
    os.replace(tmp, path)


def _execute(model, images: np.ndarray) -> np.ndarray:
    """Run ``images`` (uint8 NHWC or NCHW as the graph wants) through ``model`` one by one."""
    from qonnx.core.onnx_exec import execute_onnx

    model = _generic_copy(model)
    iname, oname = model.graph.input[0].name, model.graph.output[0].name
    ishape = model.get_tensor_shape(iname)
    outs = []
    for img in images:
        x = img[None].astype(np.float32)
        if list(x.shape) != list(ishape):
            x = x.transpose(0, 3, 1, 2)  # NHWC -> NCHW for the not-yet-rewritten QONNX graph
        outs.append(execute_onnx(model, {iname: x})[oname].reshape(-1))
    return np.stack(outs)


# Checks. The QONNX export computes in float (conv -> BatchNorm -> round); from streamlining on,
# the graph is integer arithmetic against integer thresholds. A pre-activation that lands within
# one float32 ulp of a threshold can round the other way in the float model (measured: 1 of
# 65,536 conv1 activations in 1 of 4 sample images, level 1 vs 2 at an exact integer tie, which
# moved that image's logits by 0.58; an untrained ImageNet net, whose activations sit on ties
# far more often, shows a few flips per layer and 0.4 % logit differences on every image). So
# against the export an image agrees if it matches to float precision, or has the same top-1
# and differs by at most 2 % of its logit range; at least 3/4 of the images must agree (a wrong
# weight layout or scale breaks all of them). Every later stage must reproduce the streamlined
# model's outputs exactly, on every image.
_EXACT_TOL = 1e-5
_EXPORT_MIN_MATCH = 0.75
_EXPORT_NEAR = 0.02


def _generic_copy(model):
    """A copy with every specialized ``X_hls``/``X_rtl`` node turned back into its generic FINN op.

    FINN+ 1.6 executes specialized nodes only in cppsim/rtlsim (Vitis/Vivado); the generic ops
    run in Python with the same attributes (folding, minimized datatypes), which is what we check.
    """
    import copy

    from qonnx.core.modelwrapper import ModelWrapper

    m = ModelWrapper(copy.deepcopy(model.model))
    for node in m.graph.node:
        if node.domain in ("finn.custom_op.fpgadataflow.hls", "finn.custom_op.fpgadataflow.rtl"):
            node.domain = "finn.custom_op.fpgadataflow"
            node.op_type = node.op_type.rsplit("_", 1)[0]
    return m


def _check(ctx: _Ctx, stage: str, model, scale: float = 1.0) -> dict:
    """Compare ``model`` on the sample images with the previous reference; raise naming ``stage``."""
    images = np.load(ctx.path("verify", "input.npy"))
    integer_ref = ctx.path("verify", "streamlined_logits.npy")
    vs_export = stage in ("qonnx_to_finn", "streamline") or not integer_ref.is_file()
    ref = np.load(ctx.path("verify", "expected_logits.npy") if vs_export else integer_ref)
    against = "the QONNX export" if vs_export else "the streamlined model"
    got = _execute(model, images) * scale
    tol = _EXACT_TOL * max(1.0, float(np.abs(ref).max()))
    diff = np.abs(got - ref).max(1)
    matching = diff <= tol
    if vs_export:
        near = (diff <= _EXPORT_NEAR * np.ptp(ref, axis=1)) & (got.argmax(1) == ref.argmax(1))
        matching = matching | near
    need = int(np.ceil(_EXPORT_MIN_MATCH * len(images))) if vs_export else len(images)
    rec = {"stage": stage, "against": against, "n": int(len(images)), "matching": int(matching.sum()),
           "required": need, "max_abs_diff": float(np.abs(got - ref).max()), "tolerance": tol,
           "top1_equal": bool(np.array_equal(got.argmax(1), ref.argmax(1)))}
    ctx.state.setdefault("checks", {})[stage] = rec
    if matching.sum() < need:
        first = int(np.argmin(matching))
        raise HwsqueezeError(f"verification failed after step '{stage}': {int(matching.sum())}/{len(images)} sample "
                             f"images match {against} (need {need}); image {first} differs by up to "
                             f"{np.abs(got - ref)[first].max():.3g}")
    if stage == "streamline":
        np.save(integer_ref, got)
    odd = len(images) - int(matching.sum())
    exact = int((diff <= tol).sum())
    ctx.cfg.log(f"  check {stage}: {exact}/{len(images)} images match {against} exactly"
                + (f", {int(matching.sum()) - exact} within threshold-boundary rounding" if int(matching.sum()) > exact else "")
                + (f", {odd} differ (allowed: threshold-boundary flips)" if odd else ""))
    return rec


def _load_source_model(cfg: BuildConfig):
    from ..models import create
    from ..train import DEFAULT_CHECKPOINT, model_from_checkpoint

    if cfg.model_name:
        import torch

        torch.manual_seed(0)
        try:
            model = create(cfg.model_name, "w4a4")
        except ValueError as e:
            raise HwsqueezeError(str(e)) from None
        if cfg.checkpoint:
            raise HwsqueezeError("give either --model (untrained) or --checkpoint, not both")
        return model.eval(), {"model": cfg.model_name, "quant": "w4a4", "trained": False}
    path = cfg.checkpoint or DEFAULT_CHECKPOINT
    if not Path(path).is_file():
        raise HwsqueezeError(f"checkpoint not found: {path}")
    model, ck = model_from_checkpoint(Path(path))
    c = ck.get("config", {})
    hist = ck.get("metrics") or []
    last = hist[-1] if isinstance(hist, list) and hist else (hist if isinstance(hist, dict) else {})
    return model.eval(), {"model": c.get("model"), "quant": c.get("quant"), "trained": True,
                          "checkpoint": str(path), "test_top1": last.get("test_top1")}


# --------------------------------------------------------------------------- steps
def _import_onnx(ctx: _Ctx, src: Path, out: Path):
    """Use a QONNX file exported elsewhere (checked loadable, NCHW image input)."""
    import onnx
    from qonnx.core.modelwrapper import ModelWrapper

    try:
        m = ModelWrapper(onnx.load(str(src)))
        onnx.checker.check_model(m.model)
        shape = m.get_tensor_shape(m.graph.input[0].name)
    except Exception as e:  # protobuf raises several types for a corrupt file
        raise HwsqueezeError(f"{src} is not a valid ONNX model ({type(e).__name__}: {str(e).splitlines()[0][:120] if str(e) else ''})") from None
    if shape is None or len(shape) != 4 or shape[1] != 3 or shape[2] != shape[3]:
        raise HwsqueezeError(f"{src}: expected one NCHW image input (1, 3, S, S), got {shape}")
    shutil.copy(src, out)
    ctx.state["source"] = {"onnx": str(src), "model": Path(src).stem, "quant": None, "trained": None}
    return int(shape[2])


def step_export(ctx: _Ctx, _model):
    """Brevitas -> QONNX, checked against Brevitas; saves the verification images and logits."""
    from ..export import export_qonnx, qonnx_logits, sample_images

    out = ctx.path("intermediate", "00_export.onnx")
    ctx.path("verify").mkdir(exist_ok=True)
    if ctx.cfg.onnx is not None:
        size = _import_onnx(ctx, Path(ctx.cfg.onnx), out)
        images = sample_images(ctx.cfg.verify_n, size, seed=1)
        np.save(ctx.path("verify", "input.npy"), images)
        np.save(ctx.path("verify", "expected_logits.npy"), qonnx_logits(out, images).astype(np.float64))
        from qonnx.core.modelwrapper import ModelWrapper

        return ModelWrapper(str(out))
    model, info = _load_source_model(ctx.cfg)
    ctx.state["source"] = info
    size = model.arch.input_size
    images = sample_images(ctx.cfg.verify_n, size, seed=1)
    check = export_qonnx(model, out, check_images=images)
    ctx.state["checks"] = {"export": {"stage": "export", **check.to_dict()}}
    np.save(ctx.path("verify", "input.npy"), images)
    np.save(ctx.path("verify", "expected_logits.npy"), qonnx_logits(out, images).astype(np.float64))
    from qonnx.core.modelwrapper import ModelWrapper

    return ModelWrapper(str(out))


def step_qonnx_to_finn(ctx: _Ctx, model):
    """uint8 NHWC input, GlobalAveragePool head, exact ceil-mode pools, then FINN's form."""
    from finn.transformation.qonnx.convert_qonnx_to_finn import ConvertQONNXtoFINN
    from qonnx.transformation.infer_datatypes import InferDataTypes
    from qonnx.transformation.infer_shapes import InferShapes
    from qonnx.util.cleanup import cleanup_model

    from .transforms.input import MakeInputNHWC, RemoveUint8InputQuant
    from .transforms.pooling import MaxPoolCeilToPad, ReduceMeanToGlobalAveragePool

    model = cleanup_model(model)
    model, removed = RemoveUint8InputQuant().apply(model)
    if not removed:
        raise HwsqueezeError("the model's input is not an identity uint8 quantizer; hwsqueeze builds need "
                             "uint8 pixel input (scale 1) so no float thresholding lands in hardware")
    model = model.transform(MakeInputNHWC()).transform(ReduceMeanToGlobalAveragePool()).transform(InferShapes())
    model = cleanup_model(model)
    model = model.transform(ConvertQONNXtoFINN())
    model = _tidy(model).transform(InferDataTypes())
    model = model.transform(MaxPoolCeilToPad())
    model = _tidy(model)
    _check(ctx, "qonnx_to_finn", model)
    return model


def _tidy(model):
    from qonnx.transformation.fold_constants import FoldConstants
    from qonnx.transformation.general import (
        GiveReadableTensorNames,
        GiveUniqueNodeNames,
        RemoveStaticGraphInputs,
        RemoveUnusedTensors,
    )
    from qonnx.transformation.infer_datatypes import InferDataTypes
    from qonnx.transformation.infer_shapes import InferShapes

    for t in (InferShapes(), FoldConstants(), GiveUniqueNodeNames(), GiveReadableTensorNames(), InferDataTypes(),
              RemoveStaticGraphInputs(), RemoveUnusedTensors()):
        model = model.transform(t)
    return model


def step_streamline(ctx: _Ctx, model):
    """Fork/concat-aware streamlining: scales and BatchNorm folded into integer thresholds."""
    from .transforms.forks import StreamlineForksAndJoins

    model, _ = StreamlineForksAndJoins().apply(model)
    model = _tidy(model)
    _check(ctx, "streamline", model)
    return model


def step_lower_to_nhwc(ctx: _Ctx, model):
    """Convs -> Im2Col + MatMul in NHWC; transposes pushed through forks/joins until they cancel."""
    from qonnx.transformation.infer_data_layouts import InferDataLayouts
    from qonnx.transformation.lower_convs_to_matmul import LowerConvsToMatMul

    from .transforms.forks import MoveTransposesThroughForksAndJoins

    model = model.transform(LowerConvsToMatMul())
    model, _ = MoveTransposesThroughForksAndJoins().apply(model)
    model = _tidy(model).transform(InferDataLayouts())
    _check(ctx, "lower_to_nhwc", model)
    return model


def step_convert_to_hw(ctx: _Ctx, model):
    """Map every layer to a FINN HW layer; the float tail becomes one recorded output scale."""
    import importlib

    from qonnx.transformation.general import GiveUniqueNodeNames
    from qonnx.transformation.infer_data_layouts import InferDataLayouts
    from qonnx.transformation.infer_datatypes import InferDataTypes
    from qonnx.transformation.infer_shapes import InferShapes

    from .transforms.tail import ExtractOutputScale, output_info

    base = "finn.transformation.fpgadataflow.convert_to_hw."

    def infer(mod: str, name: str):
        return getattr(importlib.import_module(base + mod), name)()

    # The pooling tail first, so its float scale Muls are removed before anything could map them
    # to a float ElementwiseMul in hardware.
    model = model.transform(infer("global_acc_pool", "InferGlobalAccPoolLayer"))
    model = model.transform(ExtractOutputScale())
    passes = [("quantized_matrix_vector_activation", "InferQuantizedMatrixVectorActivation"),
              ("thresholding", "InferThresholdingLayer"), ("fm_padding", "InferFMPadding"),
              ("pool", "InferPool"), ("conv_inp_gen", "InferConvInpGen"), ("concat", "InferConcatLayer"),
              ("elementwise_binary_operation", "InferElementwiseBinaryOperation"),  # simple-bypass adds
              ("duplicate_streams", "InferDuplicateStreamsLayer")]
    for mod, name in passes:
        model = model.transform(infer(mod, name))
    from finn.transformation.streamline.absorb import AbsorbConsecutiveTransposes

    model = model.transform(AbsorbConsecutiveTransposes()).transform(ExtractOutputScale())
    for t in (GiveUniqueNodeNames(), InferDataLayouts(), InferDataTypes(), InferShapes()):
        model = model.transform(t)
    model = _minimize(model)  # before specialization: it decides on the widths (as FINN+ does)
    info = output_info(model)
    ctx.state["output"] = info
    _check(ctx, "convert_to_hw", model, scale=info["scale"])
    return model


def step_dataflow_partition(ctx: _Ctx, model):
    """Check that the whole network is one dataflow partition (nothing but HW layers left)."""
    cpu = [f"{n.op_type} {n.name}" for n in model.graph.node if not n.domain.startswith("finn.custom_op.fpgadataflow")]
    if cpu:
        raise HwsqueezeError(f"step 'dataflow_partition': layers not mapped to hardware: {', '.join(cpu[:6])}"
                             f"{' ...' if len(cpu) > 6 else ''}")
    ctx.state["cpu_ops"] = ctx.state.get("output", {}).get("cpu_ops", [])
    ctx.cfg.log(f"  one dataflow partition, {len(model.graph.node)} HW layers; on the CPU: "
                f"{', '.join(ctx.state['cpu_ops']) or 'nothing'} (folded into one output scale)")
    return model


def step_specialize_layers(ctx: _Ctx, model):
    """Pick HLS or RTL implementations for each HW layer (FINN+'s defaults for the part)."""
    from finn.transformation.fpgadataflow.specialize_layers import SpecializeLayers
    from qonnx.transformation.general import GiveUniqueNodeNames

    return model.transform(SpecializeLayers(ctx.cfg.board.part)).transform(GiveUniqueNodeNames())


def step_folding(ctx: _Ctx, model):
    """PE/SIMD per layer for --target-fps (a number, or 'auto' = fastest that fits)."""
    from .folding import auto_fold, fold, max_fps, no_fit_message

    cfg = ctx.cfg
    if cfg.target_fps == "auto":
        res = auto_fold(model, cfg.board, cfg.margin, cfg.use_dsps, progress=lambda s: cfg.log("  " + s))
    else:
        fps = float(cfg.target_fps)
        ceiling = max_fps(model, cfg.board)
        if fps > ceiling * 1.0001:
            raise HwsqueezeError(f"target {fps:,.0f} FPS is impossible: fully unfolded, this model reaches "
                                 f"{ceiling:,.0f} FPS at {cfg.board.clock_mhz:g} MHz", exit_code=3)
        res = fold(model, cfg.board, fps, cfg.margin, cfg.use_dsps)
        if not res.estimate.fits and not cfg.estimate_only:
            raise HwsqueezeError(f"target {fps:,.0f} FPS: " + no_fit_message(res.estimate, cfg.board), exit_code=3)
    ctx.state["folding"] = {"target_fps": round(res.target_fps, 1), "dsp_layers": res.dsp_layers,
                            "lutram_layers": res.lutram_layers}
    folding = {e.name: e.folding for e in res.estimate.layers}
    _write_json(ctx.path("folding_config.json"), {"Defaults": {}, **folding})
    return res.model


def _minimize(model):
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


def step_minimize_bit_width(ctx: _Ctx, model):
    """Shrink weight/accumulator widths to the trained values, integer thresholds; check the HW graph."""
    model = _minimize(model)
    _check(ctx, "minimize_bit_width", model, scale=ctx.state["output"]["scale"])
    return model


def step_estimates(ctx: _Ctx, model):
    """estimates.json / estimates.md / estimates.png for the folded design."""
    from .estimates import estimate
    from .report import write_reports

    est = estimate(model, ctx.cfg.board, ctx.cfg.margin)
    write_reports(est, ctx.cfg.board, ctx.dir, extra={"folding": ctx.state.get("folding"),
                                                       "source": ctx.state.get("source")})
    ctx.state["estimate"] = {k: getattr(est, k) for k in ("fps", "latency_ms", "fits", "totals", "bottleneck")}
    t = est.totals
    ctx.cfg.log(f"  estimate: {est.fps:,.0f} FPS at {est.clock_mhz:g} MHz, latency {est.latency_ms:.2f} ms, "
                f"LUT {t['lut']:,}/{est.budget['lut']:,}, BRAM18 {t['bram18']}/{est.budget['bram18']}, "
                f"DSP {t['dsp']}/{est.budget['dsp']} -> {'fits' if est.fits else 'DOES NOT FIT: ' + '; '.join(est.limits)}")
    return model


def step_hw_codegen(ctx: _Ctx, model):
    """Generate the HLS C++ / RTL sources of every layer (Vivado-free) into hw/."""
    from finn.transformation.fpgadataflow.prepare_ip import PrepareIP

    model = model.transform(PrepareIP(ctx.cfg.board.part, ctx.cfg.board.clk_ns))
    from qonnx.custom_op.registry import getCustomOp

    hw = ctx.path("hw")
    if hw.exists():
        shutil.rmtree(hw)
    for node in model.graph.node:
        src = Path(getCustomOp(node).get_nodeattr("code_gen_dir_ipgen"))
        shutil.copytree(src, hw / node.name, ignore=shutil.ignore_patterns("*.npy"))
    ctx.cfg.log(f"  sources for {len(model.graph.node)} layers in {hw}")
    return model


def step_deploy(ctx: _Ctx, model):
    """Assemble deploy/: reference graph, generated weight files, runtime, notebooks, tests."""
    from ..deploy import write_deploy

    out = write_deploy(model, ctx.dir, ctx.cfg.board, ctx.state)
    ctx.cfg.log(f"  deploy package: {out}")
    return model


def _needs_tools(ctx: _Ctx) -> None:
    missing = ctx.env.missing_tools()
    if missing:
        raise _MissingTools(missing)


class _MissingTools(Exception):
    def __init__(self, tools: List[str]) -> None:
        super().__init__(", ".join(tools))
        self.tools = tools


def step_hw_ipgen(ctx: _Ctx, model):
    """Vitis HLS synthesis of every HLS layer (needs vitis_hls)."""
    _needs_tools(ctx)
    from finn.transformation.fpgadataflow.hlssynth_ip import HLSSynthIP

    return model.transform(HLSSynthIP())


def step_fifo_depths(ctx: _Ctx, model):
    """FIFO sizing by simulation, then FIFO insertion (needs vivado)."""
    _needs_tools(ctx)
    from finn.builder.build_dataflow_steps import step_set_fifo_depths

    return step_set_fifo_depths(model, _finn_cfg(ctx))


def step_bitfile(ctx: _Ctx, model):
    """Stitched IP, Zynq shell and bitstream via FINN's ZynqBuild; bit + hwh into deploy/ (needs vivado)."""
    _needs_tools(ctx)
    from finn.transformation.fpgadataflow.make_zynq_proj import ZynqBuild

    model = model.transform(ZynqBuild(platform=ctx.cfg.board.finn_board, period_ns=ctx.cfg.board.clk_ns))
    bit, hwh = Path(model.get_metadata_prop("bitfile")), Path(model.get_metadata_prop("hw_handoff"))
    dst = ctx.path("deploy", "bitfile")
    dst.mkdir(parents=True, exist_ok=True)
    shutil.copy(bit, dst / "hwsqueeze.bit")
    shutil.copy(hwh, dst / "hwsqueeze.hwh")
    from ..deploy import set_bitfile

    set_bitfile(ctx.path("deploy"), "bitfile/hwsqueeze.bit", "bitfile/hwsqueeze.hwh")
    return model


def _finn_cfg(ctx: _Ctx):
    from finn.builder.build_dataflow_config import DataflowBuildConfig

    return DataflowBuildConfig(output_dir=str(ctx.path("finn_output")), synth_clk_period_ns=ctx.cfg.board.clk_ns,
                               fpga_part=ctx.cfg.board.part, board=ctx.cfg.board.finn_board, generate_outputs=[])


# name, function, needs Xilinx tools
STEPS = [
    ("export", step_export, False),
    ("qonnx_to_finn", step_qonnx_to_finn, False),
    ("streamline", step_streamline, False),
    ("lower_to_nhwc", step_lower_to_nhwc, False),
    ("convert_to_hw", step_convert_to_hw, False),
    ("dataflow_partition", step_dataflow_partition, False),
    ("specialize_layers", step_specialize_layers, False),
    ("folding", step_folding, False),
    ("minimize_bit_width", step_minimize_bit_width, False),
    ("estimates", step_estimates, False),
    ("hw_codegen", step_hw_codegen, False),
    ("deploy", step_deploy, False),
    ("hw_ipgen", step_hw_ipgen, True),
    ("fifo_depths", step_fifo_depths, True),
    ("bitfile", step_bitfile, True),
]
_ESTIMATE_LAST = "estimates"


def step_names() -> List[str]:
    return [s[0] for s in STEPS]


def _intermediate(ctx: _Ctx, i: int) -> Path:
    return ctx.path("intermediate", f"{i:02d}_{STEPS[i][0]}.onnx")


def run_build(cfg: BuildConfig) -> BuildResult:
    """Run the build steps in order (from ``cfg.from_step`` if given) and write build.json."""
    from .finn_env import activate, versions

    names = step_names()
    start = 0
    if cfg.from_step:
        if cfg.from_step not in names:
            raise HwsqueezeError(f"unknown step '{cfg.from_step}' (steps: {', '.join(names)})")
        start = names.index(cfg.from_step)
    cfg.out_dir = Path(cfg.out_dir).resolve()
    cfg.out_dir.mkdir(parents=True, exist_ok=True)
    summary_path = cfg.out_dir / "build.json"
    state_path = cfg.out_dir / "build_state.json"
    if summary_path.exists():
        summary_path.unlink()  # a build in progress or failed must not look complete
    env = activate(cfg.out_dir)
    # FINN+ prints a lot (folding search, datatype changes); it goes to build.log, and only our
    # own progress lines reach the console.
    console, user_log = sys.stdout, cfg.log

    def log(msg: str) -> None:
        with contextlib.redirect_stdout(console):
            user_log(msg)
        with open(cfg.out_dir / "build.log", "a") as f:
            f.write(msg + "\n")

    cfg.log = log
    ctx = _Ctx(cfg=cfg, env=env)
    (cfg.out_dir / "intermediate").mkdir(exist_ok=True)
    model = None
    if start > 0:
        if not state_path.is_file():
            raise HwsqueezeError(f"cannot resume from '{cfg.from_step}': no earlier build in {cfg.out_dir}")
        ctx.state = json.loads(state_path.read_text())
        prev = _intermediate(ctx, start - 1)
        if not prev.is_file():
            raise HwsqueezeError(f"cannot resume from '{cfg.from_step}': {prev.name} is missing")
        from qonnx.core.modelwrapper import ModelWrapper

        model = ModelWrapper(str(prev))
    ctx.state.update({"board": cfg.board.name, "tools": env.tools, "versions": versions()})
    ctx.state.setdefault("timings_s", {})
    stop_reason = ""
    status = "no-bitstream"
    for i in range(start, len(STEPS)):
        name, fn, needs_tools = STEPS[i]
        if cfg.estimate_only and i > names.index(_ESTIMATE_LAST):
            status = "estimate-only"
            break
        cfg.log(f"[{i:02d}] {name}: {(fn.__doc__ or '').strip().splitlines()[0]}")
        t0 = time.time()
        try:
            with open(cfg.out_dir / "build.log", "a", buffering=1) as flog, contextlib.redirect_stdout(flog), \
                    contextlib.redirect_stderr(flog):
                print(f"==== [{i:02d}] {name} {time.strftime('%Y-%m-%d %H:%M:%S')}")
                model = fn(ctx, model)
        except _MissingTools as e:
            stop_reason = (f"no bitstream was built: step '{name}' needs {' and '.join(e.tools)}, "
                           f"which {'is' if len(e.tools) == 1 else 'are'} not on PATH. Every Vivado-free stage "
                           f"is complete; install Vivado/Vitis 2022.2+ and rerun with --from-step {name}.")
            break
        except HwsqueezeError:
            _write_json(state_path, ctx.state)
            raise
        except Exception as e:  # a FINN/qonnx failure: name the step, keep the traceback in the log
            _write_json(state_path, ctx.state)
            raise HwsqueezeError(f"step '{name}' failed: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}") from e
        ctx.state["timings_s"][name] = round(time.time() - t0, 2)
        if name != "export":
            _save(model, _intermediate(ctx, i))
        _write_json(state_path, ctx.state)
    else:
        status = "bitstream"
    summary = {"status": status, "board": cfg.board.name, "message": stop_reason, **ctx.state}
    if status == "estimate-only":
        stop_reason = "estimate-only build: stopped after the estimates (no code generation, no deploy package)"
        summary["message"] = stop_reason
    if status == "no-bitstream" and cfg.require_bitstream:
        summary["status"] = "failed"
        _write_json(state_path, ctx.state)
        raise HwsqueezeError(stop_reason + " (--require-bitstream)", exit_code=4)
    _write_json(summary_path, summary)
    return BuildResult(status=status, out_dir=cfg.out_dir, summary=summary, message=stop_reason)
