"""The one place where FINN's Python tensors and its hardware streams order data differently.

A depthwise sliding-window generator (``ConvolutionInputGenerator``, ``depthwise=1``, the one in
front of every MaxPool) streams each output pixel's window as [channel fold][kernel position][SIMD]
so that the pooling layer can reduce K *consecutive* words. FINN's Python model of the same node
emits the im2col order [kernel position][channel]. Inside the hardware chain (and in our network
run) both sides use the stream order; FINN's own depthwise SWG tests reorder the Python result the
same way before comparing (``transpose(0, 1, 2, 4, 3, 5)``). Layer by layer we therefore convert
the Python tensor at exactly these two boundaries: the SWG's expected output and the Pool's input.
"""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

__all__ = ["python_to_stream_order", "dw_params"]


def python_to_stream_order(x: np.ndarray, k2: int, ch: int, simd: int) -> np.ndarray:
    """[..., k2 * ch] im2col order -> [..., ch // simd, k2, simd] flattened (the stream order)."""
    lead = x.shape[:-1]
    y = x.reshape(*lead, k2, ch // simd, simd)
    y = np.swapaxes(y, -3, -2)
    return np.ascontiguousarray(y).reshape(x.shape)


def dw_params(inst) -> Optional[Tuple[str, int, int, int]]:
    """("input"|"output", k2, channels, simd) when ``inst`` sits on a depthwise boundary."""
    op = inst.onnx_node.op_type
    if op.startswith("ConvolutionInputGenerator") and inst.get_nodeattr("depthwise") == 1:
        k = inst.get_nodeattr("ConvKernelDim")
        return "output", int(np.prod(k)), inst.get_nodeattr("IFMChannels"), inst.get_nodeattr("SIMD")
    if op.startswith("Pool"):
        return "input", int(np.prod(inst.get_nodeattr("KernelSize"))), inst.get_nodeattr("Channels"), \
            inst.get_nodeattr("PE")
    return None
