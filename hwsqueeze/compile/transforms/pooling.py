"""Pooling passes: exact ceil-mode max pooling and the global-average-pool tail."""
from __future__ import annotations

from typing import Tuple

import numpy as np
from onnx import helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.base import Transformation

__all__ = ["MaxPoolCeilToPad", "ReduceMeanToGlobalAveragePool"]


def _ceil_extra(size: int, k: int, s: int, pad: int) -> int:
    """Extra bottom/right padding that makes floor mode produce ceil mode's output size."""
    floor_out = (size + 2 * pad - k) // s + 1
    ceil_out = -(-(size + 2 * pad - k) // s) + 1
    if (ceil_out - 1) * s >= size + pad:  # PyTorch/ONNX drop a window starting in the padding
        ceil_out -= 1
    return max(0, (ceil_out - 1) * s + k - (size + 2 * pad)) if ceil_out > floor_out else 0


class MaxPoolCeilToPad(Transformation):
    """``MaxPool(ceil_mode=1)`` -> floor-mode ``MaxPool`` with extra bottom/right ``pads``.

    FINN's InferPool silently ignores ``ceil_mode`` (wrong output shape). Explicit end padding
    gives the same windows: ONNX pads a max pool with -inf, and FINN's hardware pads with the
    input datatype's minimum, so the padded values never win and the result is exact for any
    input (torchvision's SqueezeNet pools use ceil mode).
    """

    def apply(self, model: ModelWrapper) -> Tuple[ModelWrapper, bool]:
        changed = False
        for node in model.graph.node:
            if node.op_type != "MaxPool":
                continue
            attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
            if not attrs.get("ceil_mode", 0):
                continue
            k, st = list(attrs["kernel_shape"]), list(attrs.get("strides", [1, 1]))
            pads = list(attrs.get("pads", [0, 0, 0, 0]))
            shape = model.get_tensor_shape(node.input[0])  # NCHW
            extra = [_ceil_extra(shape[2 + i], k[i], st[i], pads[i]) for i in range(2)]
            new_pads = [pads[0], pads[1], pads[2] + extra[0], pads[3] + extra[1]]
            keep = [a for a in node.attribute if a.name not in ("ceil_mode", "pads")]
            del node.attribute[:]
            node.attribute.extend(keep)
            node.attribute.append(helper.make_attribute("pads", new_pads))
            changed = True
        return model, changed


class ReduceMeanToGlobalAveragePool(Transformation):
    """``ReduceMean`` over H and W with keepdims (AdaptiveAvgPool2d(1)) -> ``GlobalAveragePool``.

    FINN maps GlobalAveragePool to GlobalAccPool (+ a 1/(H*W) Mul) but has no ReduceMean rule.
    """

    def apply(self, model: ModelWrapper) -> Tuple[ModelWrapper, bool]:
        changed = False
        for node in model.graph.node:
            if node.op_type != "ReduceMean":
                continue
            attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
            axes = attrs.get("axes")
            if axes is None and len(node.input) > 1:
                axes = model.get_initializer(node.input[1])
            rank = len(model.get_tensor_shape(node.input[0]))
            if axes is None or rank != 4 or sorted(int(a) % 4 for a in np.atleast_1d(axes)) != [2, 3]:
                continue
            if not attrs.get("keepdims", 1):
                continue
            node.op_type = "GlobalAveragePool"
            del node.input[1:]
            del node.attribute[:]
            changed = True
        return model, changed
