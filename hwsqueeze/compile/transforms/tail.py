"""The network tail: integer logits out of the accelerator, one known float scale on the side."""
from __future__ import annotations

import json
from typing import List, Tuple

import numpy as np
from onnx import TensorProto, helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.base import Transformation

__all__ = ["ExtractOutputScale", "output_info"]

_META = "hwsqueeze_output"


def _order_preserving(perm: List[int], shape: List[int]) -> bool:
    """True if a Transpose with ``perm`` keeps the memory order (only size-1 dims move)."""
    moved = [p for p in perm if shape[p] != 1]
    return moved == sorted(moved)


class ExtractOutputScale(Transformation):
    """Remove the float tail after the last integer tensor and record it as metadata.

    After streamlining, SqueezeNet ends ``GlobalAccPool -> Mul(1/HW) -> Transpose -> Reshape ->
    Mul(scale)``. The Muls are scalar, so argmax/top-k are unchanged by them; the Transpose and
    Reshape of a 1x1 map do not move data. All of them are removed, the integer accumulator
    becomes the graph output, and ``float logits = output * scale`` is stored in the model's
    metadata (``hwsqueeze_output``: scale and the names of the removed nodes), so nothing float
    runs in hardware and nothing but one multiply is left for the CPU.
    """

    def apply(self, model: ModelWrapper) -> Tuple[ModelWrapper, bool]:
        out = model.graph.output[0]
        removed, scale = [], 1.0
        tensor = out.name
        while True:
            node = model.find_producer(tensor)
            if node is None or node.domain.startswith("finn.custom_op.fpgadataflow"):
                break
            if node.op_type in ("Mul", "Div"):
                c = model.get_initializer(node.input[1])
                if c is None or np.asarray(c).size != 1:
                    break
                c = float(np.asarray(c).reshape(()))
                scale = scale * c if node.op_type == "Mul" else scale / c
            elif node.op_type == "Transpose":
                perm = list(helper.get_attribute_value(node.attribute[0]))
                if not _order_preserving(perm, model.get_tensor_shape(node.input[0])):
                    break
            elif node.op_type not in ("Reshape", "Flatten", "Squeeze"):
                break
            removed.append(node)
            tensor = node.input[0]
        if not removed:
            return model, False
        dt = model.get_tensor_datatype(tensor)
        if not dt.is_integer():
            raise ValueError(f"the tensor before the float tail ({tensor}) is {dt.name}, not an integer type")
        shape = model.get_tensor_shape(tensor)
        for node in removed:
            model.graph.node.remove(node)
        for vi in [v for v in model.graph.value_info if v.name == tensor]:
            model.graph.value_info.remove(vi)
        model.graph.output.remove(out)
        model.graph.output.append(helper.make_tensor_value_info(tensor, TensorProto.FLOAT, shape))
        model.set_tensor_datatype(tensor, dt)
        prev = json.loads(model.get_metadata_prop(_META) or '{"scale": 1.0, "cpu_ops": []}')
        info = {"scale": prev["scale"] * scale, "cpu_ops": [f"{n.op_type} {n.name}".strip() for n in reversed(removed)]
                + prev["cpu_ops"],
                "logits_shape": prev.get("logits_shape") or [d.dim_value for d in out.type.tensor_type.shape.dim]}
        model.set_metadata_prop(_META, json.dumps(info))
        return model, True


def output_info(model: ModelWrapper) -> dict:
    """``{"scale": float, "cpu_ops": [...], "logits_shape": [...]}`` recorded by ExtractOutputScale."""
    raw = model.get_metadata_prop(_META)
    return json.loads(raw) if raw else {"scale": 1.0, "cpu_ops": [], "logits_shape": None}
