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
    """``MaxPool(ceil_mode=1)`` -> zero ``Pad`` at bottom/right + floor-mode ``MaxPool``.

    FINN's InferPool silently ignores ``ceil_mode`` (wrong output shape). Padding with zeros
    is exact only when the pooled values are >= 0 (they come from unsigned activations), so
    the pass requires an annotated unsigned input datatype and refuses otherwise.
    """

    def apply(self, model: ModelWrapper) -> Tuple[ModelWrapper, bool]:
        changed = False
        for idx, node in enumerate(list(model.graph.node)):
            if node.op_type != "MaxPool":
                continue
            attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
            if not attrs.get("ceil_mode", 0):
                continue
            dt = model.get_tensor_datatype(node.input[0])
            if dt.min() < 0:
                raise ValueError(f"{node.name}: ceil_mode max pool on signed input {dt.name} cannot be "
                                 "padded exactly with zeros")
            k, s = attrs["kernel_shape"], attrs.get("strides", [1, 1])
            pads = list(attrs.get("pads", [0, 0, 0, 0]))
            shape = model.get_tensor_shape(node.input[0])  # NCHW
            extra = [_ceil_extra(shape[2 + i], k[i], s[i], pads[i]) for i in range(2)]
            padded = model.make_new_valueinfo_name()
            pad_init = model.make_new_valueinfo_name()
            onnx_pads = [0, 0, pads[0], pads[1], 0, 0, pads[2] + extra[0], pads[3] + extra[1]]
            model.set_initializer(pad_init, np.asarray(onnx_pads, dtype=np.int64))
            pad = helper.make_node("Pad", [node.input[0], pad_init], [padded], mode="constant")
            model.graph.node.insert(list(model.graph.node).index(node), pad)
            node.input[0] = padded
            for a in node.attribute:
                if a.name == "ceil_mode":
                    a.i = 0
                elif a.name == "pads":
                    del a.ints[:]
                    a.ints.extend([0, 0, 0, 0])
            n, c, h, w = shape
            model.set_tensor_shape(padded, [n, c, h + onnx_pads[2] + onnx_pads[6], w + onnx_pads[3] + onnx_pads[7]])
            model.set_tensor_datatype(padded, dt)
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
