"""Verification of the build's graphs, in one place: every stage against an earlier truth.

The QONNX export computes in float (conv -> BatchNorm -> round); from streamlining on, the graph
is integer arithmetic against integer thresholds. A pre-activation that lands within one float32
ulp of a threshold can round the other way in the float model (measured: 1 of 65,536 conv1
activations in 1 of 4 sample images, level 1 vs 2 at an exact integer tie, which moved that
image's logits by 0.58; an untrained ImageNet net, whose activations sit on ties far more often,
shows a few flips per layer and 0.4 % logit differences on every image). So against the export an
image agrees if it matches to float precision, or has the same top-1 and differs by at most 2 % of
its logit range, and at least 3/4 of the images must agree (a wrong weight layout or scale breaks
all of them). Every later stage must reproduce the streamlined model's outputs exactly (to float32
precision of FINN's Python execution), on every image.
"""
from __future__ import annotations

import copy
from dataclasses import asdict, dataclass
from typing import Dict

import numpy as np

from ..errors import VERIFY_FAILED, HwsqueezeError

__all__ = ["execute", "generic_copy", "compare", "StageCheck", "EXPORT_STAGES"]

EXACT_TOL = 1e-5  # relative to the largest logit: float32 rounding of FINN's Python execution
EXPORT_MIN_MATCH = 0.75
EXPORT_NEAR = 0.02
EXPORT_STAGES = ("qonnx_to_finn", "streamline")  # compared with the QONNX export; later ones with streamline


def generic_copy(model):
    """A copy with every specialized ``X_hls``/``X_rtl`` node turned back into its generic FINN op.

    FINN+ 1.6 executes specialized nodes only in cppsim/rtlsim (Vitis/Vivado); the generic ops
    run in Python with the same attributes (folding, minimized datatypes), which is what we check.
    """
    from qonnx.core.modelwrapper import ModelWrapper

    m = ModelWrapper(copy.deepcopy(model.model))
    for node in m.graph.node:
        if node.domain in ("finn.custom_op.fpgadataflow.hls", "finn.custom_op.fpgadataflow.rtl"):
            node.domain = "finn.custom_op.fpgadataflow"
            node.op_type = node.op_type.rsplit("_", 1)[0]
    return m


def execute(model, images: np.ndarray) -> np.ndarray:
    """FINN+/qonnx's own Python execution of ``model`` on uint8 ``images``, one image at a time;
    returns (N, outputs) float64. NHWC images are transposed for a graph that still wants NCHW."""
    from qonnx.core.onnx_exec import execute_onnx

    model = generic_copy(model)
    iname, oname = model.graph.input[0].name, model.graph.output[0].name
    ishape = model.get_tensor_shape(iname)
    outs = []
    for img in images:
        x = img[None].astype(np.float32)
        if list(x.shape) != list(ishape):
            x = x.transpose(0, 3, 1, 2)  # NHWC -> NCHW for the not-yet-rewritten QONNX graph
        outs.append(execute_onnx(model, {iname: x})[oname].reshape(-1))
    return np.stack(outs).astype(np.float64)


@dataclass
class StageCheck:
    """The verification record of one stage (kept in build_state.json)."""

    stage: str
    against: str
    n: int
    exact: int
    matching: int
    required: int
    max_abs_diff: float
    tolerance: float
    top1_equal: bool

    def to_dict(self) -> Dict[str, object]:
        return asdict(self)

    def summary(self) -> str:
        near = self.matching - self.exact
        odd = self.n - self.matching
        return (f"  check {self.stage}: {self.exact}/{self.n} images match {self.against} exactly"
                + (f", {near} within threshold-boundary rounding" if near else "")
                + (f", {odd} differ (allowed: threshold-boundary flips)" if odd else ""))


def compare(stage: str, got: np.ndarray, ref: np.ndarray, vs_export: bool) -> StageCheck:
    """Check ``got`` against ``ref`` (both (N, outputs)) under the stage's rule; raise naming it."""
    against = "the QONNX export" if vs_export else "the streamlined model"
    tol = EXACT_TOL * max(1.0, float(np.abs(ref).max()))
    diff = np.abs(got - ref).max(axis=1)
    exact = diff <= tol
    matching = exact
    n = len(ref)
    if vs_export:
        near = (diff <= EXPORT_NEAR * np.ptp(ref, axis=1)) & (got.argmax(1) == ref.argmax(1))
        matching = exact | near
        need = int(np.ceil(EXPORT_MIN_MATCH * n))
    else:
        need = n
    rec = StageCheck(stage=stage, against=against, n=n, exact=int(exact.sum()), matching=int(matching.sum()),
                     required=need, max_abs_diff=float(diff.max()), tolerance=tol,
                     top1_equal=bool(np.array_equal(got.argmax(1), ref.argmax(1))))
    if rec.matching < need:
        first = int(np.argmin(matching))
        raise HwsqueezeError(f"verification failed after step '{stage}': {rec.matching}/{n} sample images match "
                             f"{against} (need {need}); image {first} differs by up to {diff[first]:.3g}",
                             exit_code=VERIFY_FAILED)
    return rec
