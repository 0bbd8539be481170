"""Front-end steps: the trained model to a streamlined, NHWC, integer-threshold ONNX graph."""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Tuple

import numpy as np

from ...errors import HwsqueezeError

__all__ = ["step_export", "step_qonnx_to_finn", "step_streamline", "step_lower_to_nhwc", "tidy"]


def tidy(model):
    """qonnx's ``cleanup_model`` after a rewrite (shapes, constants, dead tensors, names), then the
    datatypes, which it leaves alone."""
    from qonnx.transformation.infer_datatypes import InferDataTypes
    from qonnx.util.cleanup import cleanup_model

    return cleanup_model(model).transform(InferDataTypes())


def _load_source_model(ctx) -> Tuple[object, dict]:
    """(Brevitas model in eval mode, description) for the configured checkpoint or registry model."""
    from ...train.checkpoint import class_names, model_from_checkpoint
    from ...train.shipped import checkpoint_path

    cfg = ctx.cfg
    if cfg.model_name:
        import torch

        from ...models import create

        torch.manual_seed(0)
        try:
            model = create(cfg.model_name, "w4a4")
        except ValueError as e:
            raise HwsqueezeError(str(e)) from None
        return model.eval(), {"model": cfg.model_name, "quant": "w4a4", "trained": False, "classes": None}
    path = checkpoint_path(cfg.checkpoint)
    model, ck = model_from_checkpoint(path)
    c = ck.get("config", {})
    hist = ck.get("metrics") or []
    last = hist[-1] if isinstance(hist, list) and hist else (hist if isinstance(hist, dict) else {})
    return model.eval(), {"model": c.get("model"), "quant": c.get("quant"), "trained": True,
                          "checkpoint": str(path), "test_top1": last.get("test_top1"),
                          "classes": class_names(ck), "data": c.get("data")}


def _import_onnx(src: Path, out: Path) -> int:
    """Use a QONNX file exported elsewhere (checked loadable, NCHW image input); returns its size."""
    import onnx
    from qonnx.core.modelwrapper import ModelWrapper

    try:
        m = ModelWrapper(onnx.load(str(src)))
        onnx.checker.check_model(m.model)
        shape = m.get_tensor_shape(m.graph.input[0].name)
    except Exception as e:  # protobuf raises several types for a corrupt file
        first = str(e).splitlines()[0][:120] if str(e) else ""
        raise HwsqueezeError(f"{src} is not a valid ONNX model ({type(e).__name__}: {first})") from None
    if shape is None or len(shape) != 4 or shape[1] != 3 or shape[2] != shape[3]:
        raise HwsqueezeError(f"{src}: expected one NCHW image input (1, 3, S, S), got {shape}")
    shutil.copy(src, out)
    return int(shape[2])


def step_export(ctx, _model):
    """Brevitas -> QONNX, checked against Brevitas; saves the verification images and logits."""
    from qonnx.core.modelwrapper import ModelWrapper

    from ...export import export_qonnx, qonnx_logits, sample_images

    out = ctx.intermediate("export")
    ctx.path("verify").mkdir(exist_ok=True)
    if ctx.cfg.onnx is not None:
        size = _import_onnx(Path(ctx.cfg.onnx), out)
        ctx.state.source = {"onnx": str(ctx.cfg.onnx), "model": Path(ctx.cfg.onnx).stem, "quant": None,
                            "trained": None, "classes": None}
        images = sample_images(ctx.cfg.verify_n, size, seed=1)
    else:
        model, info = _load_source_model(ctx)
        ctx.state.source = info
        images = sample_images(ctx.cfg.verify_n, model.arch.input_size, seed=1)
        check = export_qonnx(model, out, check_images=images)
        ctx.state.checks["export"] = {"stage": "export", **check.to_dict()}
    np.save(ctx.path("verify", "input.npy"), images)
    np.save(ctx.path("verify", "expected_logits.npy"), qonnx_logits(out, images).astype(np.float64))
    return ModelWrapper(str(out))


def step_qonnx_to_finn(ctx, model):
    """uint8 NHWC input, GlobalAveragePool head, exact ceil-mode pools, then FINN's form."""
    from finn.transformation.qonnx.convert_qonnx_to_finn import ConvertQONNXtoFINN
    from qonnx.transformation.infer_datatypes import InferDataTypes
    from qonnx.transformation.infer_shapes import InferShapes
    from qonnx.util.cleanup import cleanup_model

    from ..transforms.input import MakeInputNHWC, RemoveUint8InputQuant
    from ..transforms.pooling import MaxPoolCeilToPad, ReduceMeanToGlobalAveragePool

    model = cleanup_model(model)
    n = len(model.graph.node)
    model = model.transform(RemoveUint8InputQuant())
    if len(model.graph.node) == n:
        raise HwsqueezeError("the model's input is not an identity uint8 quantizer; hwsqueeze builds need "
                             "uint8 pixel input (scale 1) so no float thresholding lands in hardware")
    model = model.transform(MakeInputNHWC()).transform(ReduceMeanToGlobalAveragePool()).transform(InferShapes())
    model = cleanup_model(model)
    model = model.transform(ConvertQONNXtoFINN())
    model = tidy(model).transform(InferDataTypes())
    model = model.transform(MaxPoolCeilToPad())
    return tidy(model)


def step_streamline(ctx, model):
    """Fork/concat-aware streamlining: scales and BatchNorm folded into integer thresholds."""
    from ..transforms.forks import StreamlineForksAndJoins

    return tidy(model.transform(StreamlineForksAndJoins()))


def step_lower_to_nhwc(ctx, model):
    """Convs -> Im2Col + MatMul in NHWC; transposes pushed through forks/joins until they cancel."""
    from qonnx.transformation.infer_data_layouts import InferDataLayouts
    from qonnx.transformation.lower_convs_to_matmul import LowerConvsToMatMul

    from ..transforms.forks import MoveTransposesThroughForksAndJoins

    model = model.transform(LowerConvsToMatMul()).transform(MoveTransposesThroughForksAndJoins())
    return tidy(model).transform(InferDataLayouts())
