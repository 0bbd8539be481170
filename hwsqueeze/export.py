"""Brevitas -> QONNX export, and its check against Brevitas.

The exported graph is the faithful QONNX form of the trained model (input Quant node with
scale 1 on uint8 pixels, ReduceMean head); the compile steps turn it into FINN's form.
"""
from __future__ import annotations

import contextlib
import io
import logging
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, List, Optional

import numpy as np

from .errors import HwsqueezeError
from .fsutil import atomic_write

if TYPE_CHECKING:
    from .models import SqueezeNet

__all__ = ["ExportCheck", "export_qonnx", "check_export", "qonnx_logits", "qcdq_from_qonnx", "sample_images"]


@dataclass
class ExportCheck:
    """QONNX vs Brevitas on ``n`` images: largest logit difference, largest logit, same top-1."""

    n: int
    max_abs_diff: float
    max_abs_logit: float
    top1_equal: bool

    @property
    def ok(self) -> bool:
        # float rounding level: relative to the logit magnitude, a few float32 ulps
        return self.top1_equal and self.max_abs_diff <= 1e-5 * max(1.0, self.max_abs_logit)

    def to_dict(self) -> dict:
        return {"n": self.n, "max_abs_diff": self.max_abs_diff, "max_abs_logit": self.max_abs_logit,
                "top1_equal": self.top1_equal, "ok": self.ok}


def sample_images(n: int, size: int, seed: int = 0) -> np.ndarray:
    """Deterministic uint8 NHWC check images (generated, so no dataset is needed)."""
    from .data import generate_dataset

    return generate_dataset(n, size, seed=seed).images


def export_qonnx(model: "SqueezeNet", out: Path, check_images: Optional[np.ndarray] = None, check_n: int = 4) -> ExportCheck:
    """Export ``model`` (a quantized SqueezeNet in eval mode) to QONNX at ``out`` and check it.

    Intermediate files live in a temporary directory and ``out`` is written (atomically) only
    after the check passes; a mismatch raises :class:`HwsqueezeError` and leaves no ``out`` and
    no temporary file.
    """
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # brevitas warns about an optional CUDA kernel package
        from brevitas.export import export_qonnx as brevitas_export
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.util.cleanup import cleanup_model

    from .models import SqueezeNet

    if not isinstance(model, SqueezeNet):  # a teacher or the peer: trained and scored here, never compiled
        raise HwsqueezeError(f"export and build take the SqueezeNet models; this checkpoint is a "
                             f"{type(model).__name__} (for --teacher, eval and comparison only)")
    if model.spec.is_float:
        raise HwsqueezeError("export needs a quantized model (this checkpoint is float; train with --quant w4a4)")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    size = model.arch.input_size
    model.eval()
    # torch.onnx may write the weights to a sidecar "<name>.data" file: export into a private
    # temporary directory, so every intermediate file goes away with it, whatever happens
    with tempfile.TemporaryDirectory(prefix="hwsqueeze-export-") as work:
        raw, clean = Path(work) / "raw.onnx", Path(work) / "model.onnx"
        # torch.onnx narrates every phase on stdout and warns about torchvision; keep CLI output clean
        onnx_log = logging.getLogger("torch.onnx")
        level = onnx_log.level
        onnx_log.setLevel(logging.ERROR)
        try:
            with torch.no_grad(), contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                brevitas_export(model, torch.zeros(1, 3, size, size), export_path=str(raw))
        finally:
            onnx_log.setLevel(level)
        m = cleanup_model(ModelWrapper(str(raw)))  # loads any sidecar data into the graph
        m.set_metadata_prop("hwsqueeze_model", model.arch.__class__.__name__)
        m.save(str(clean))
        images = check_images if check_images is not None else sample_images(check_n, size)
        result = check_export(model, clean, images)
        if not result.ok:
            raise HwsqueezeError(f"export check failed: QONNX vs Brevitas max |diff| {result.max_abs_diff:.3g} "
                                 f"(logits up to {result.max_abs_logit:.3g}), top-1 equal: {result.top1_equal}")
        atomic_write(out, lambda tmp: shutil.copyfile(clean, tmp))
    return result


def qonnx_logits(onnx_path: Path, images: np.ndarray) -> np.ndarray:
    """Run a QONNX model image by image with qonnx's reference executor."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx

    m = ModelWrapper(str(onnx_path))
    iname, oname = m.graph.input[0].name, m.graph.output[0].name
    outs: List[np.ndarray] = []
    for img in images:
        x = img.transpose(2, 0, 1)[None].astype(np.float32)
        outs.append(np.asarray(execute_onnx(m, {iname: x})[oname]).reshape(1, -1))
    return np.concatenate(outs)


def check_export(model: "SqueezeNet", onnx_path: Path, images: np.ndarray) -> ExportCheck:
    """Compare QONNX execution with Brevitas on ``images`` (uint8 NHWC)."""
    from .models import predict

    ref = predict(model, images)
    got = qonnx_logits(onnx_path, images)
    return ExportCheck(n=len(images), max_abs_diff=float(np.abs(ref - got).max()),
                       max_abs_logit=float(np.abs(ref).max()),
                       top1_equal=bool((ref.argmax(1) == got.argmax(1)).all()))


def qcdq_from_qonnx(qonnx_path: Path, out: Path) -> Path:
    """The QONNX export at ``qonnx_path`` in QCDQ form (QuantizeLinear -> Clip -> DequantizeLinear,
    standard ONNX that ONNX Runtime runs) at ``out``, with a free batch dimension: the same model
    for a CPU deployment, and the peer of ``benchmarks/reference_speed.py``."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.qonnx_to_qcdq import QuantToQCDQ

    m = ModelWrapper(str(qonnx_path)).transform(QuantToQCDQ())
    left = sorted({n.op_type for n in m.graph.node if n.domain not in ("", "ai.onnx")})
    if left:
        raise HwsqueezeError(f"{qonnx_path}: QCDQ conversion left non-standard ops {left}")
    for node in m.graph.node:  # the export's head flattens to (1, classes): let the batch through
        if node.op_type == "Reshape" and m.get_initializer(node.input[1]) is not None:
            shape = m.get_initializer(node.input[1]).copy()
            shape[0] = -1
            m.set_initializer(node.input[1], shape)
    for v in list(m.graph.input) + list(m.graph.output):
        v.type.tensor_type.shape.dim[0].dim_param = "batch"
    del m.graph.value_info[:]  # shapes inferred for batch 1
    out = Path(out)
    atomic_write(out, lambda tmp: m.save(str(tmp)))
    return out
