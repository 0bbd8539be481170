"""Graph-input passes: uint8 pixels straight into hardware, in NHWC order."""
from __future__ import annotations

from typing import Tuple

import numpy as np
from onnx import TensorProto, helper
from qonnx.core import data_layout as DataLayout
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.base import Transformation

__all__ = ["RemoveUint8InputQuant", "MakeInputNHWC"]


class RemoveUint8InputQuant(Transformation):
    """Drop the identity ``Quant`` on the graph input and annotate the input as UINT8.

    The model's input quantizer is uint8 with scale 1 and zero point 0, i.e. the identity on
    pixel values 0..255. Left in place, FINN would turn it into a 255-step MultiThreshold on a
    FLOAT32 input *in hardware*; removed, the accelerator's input datatype is plain UINT8.
    Any other input quantizer is left alone.
    """

    def apply(self, model: ModelWrapper) -> Tuple[ModelWrapper, bool]:
        inp = model.graph.input[0].name
        q = model.find_consumer(inp)
        if q is None or q.op_type != "Quant":
            return model, False
        scale, zpt, bits = (model.get_initializer(t) for t in q.input[1:4])
        attrs = {a.name: a.i for a in q.attribute if a.type == a.INT}
        if any(v is None for v in (scale, zpt, bits)):
            return model, False
        identity = (np.all(scale == 1) and np.all(zpt == 0) and float(bits) == 8
                    and attrs.get("signed", 1) == 0 and attrs.get("narrow", 0) == 0)
        if not identity:
            return model, False
        if q.output[0] in [o.name for o in model.graph.output]:
            return model, False  # degenerate graph: nothing to feed; decided before any rewiring
        for cons in model.find_consumers(q.output[0]) or []:
            for i, t in enumerate(cons.input):
                if t == q.output[0]:
                    cons.input[i] = inp
        model.graph.node.remove(q)
        model.set_tensor_datatype(inp, DataType["UINT8"])
        return model, True


class MakeInputNHWC(Transformation):
    """Make the graph input NHWC (how images are stored) with a Transpose to NCHW after it.

    After convolutions are lowered, FINN puts an NCHW->NHWC Transpose in front of the first
    layer; it cancels against this one, so no Transpose is left to run on the CPU.
    """

    def apply(self, model: ModelWrapper) -> Tuple[ModelWrapper, bool]:
        vi = model.graph.input[0]
        shape = model.get_tensor_shape(vi.name)
        if len(shape) != 4 or model.get_metadata_prop("hwsqueeze_input_layout") == "NHWC":
            return model, False
        n, c, h, w = shape
        dt = model.get_tensor_datatype(vi.name)
        nchw = model.make_new_valueinfo_name()
        for node in model.graph.node:
            for i, t in enumerate(node.input):
                if t == vi.name:
                    node.input[i] = nchw
        model.graph.node.insert(0, helper.make_node("Transpose", [vi.name], [nchw], perm=[0, 3, 1, 2]))
        new_vi = helper.make_tensor_value_info(vi.name, TensorProto.FLOAT, [n, h, w, c])
        model.graph.input.remove(vi)
        model.graph.input.insert(0, new_vi)
        model.set_tensor_shape(nchw, [n, c, h, w])
        model.set_tensor_datatype(vi.name, dt)
        model.set_tensor_datatype(nchw, dt)
        # Without these annotations qonnx assumes a 4D input is NCHW, derives "NWCH" after the
        # Transpose and MultiThreshold later thresholds along the wrong axis.
        model.set_tensor_layout(vi.name, DataLayout.NHWC)
        model.set_tensor_layout(nchw, DataLayout.NCHW)
        model.set_metadata_prop("hwsqueeze_input_layout", "NHWC")
        return model, True
