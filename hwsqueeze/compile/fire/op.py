"""``FireExpand``: the fused Fire-module expand layer as a FINN+ HW custom op (``hls/fire_expand.hpp``).

Inputs: ``[windows, W1, T1, W3, T3]``. ``windows`` is the 3x3 sliding-window stream of the squeeze
output (FINN's ConvolutionInputGenerator output, ``KK * C`` elements per output pixel in (ky, kx,
c) order); ``W1`` (C x CH1) / ``T1`` are the expand-1x1 MVAU's weights and thresholds, ``W3`` (KK*C x
CH3) / ``T3`` the expand-3x3 MVAU's, exactly as the two FINN MVAUs held them. Output: per pixel
``[1x1 (CH1) | 3x3 (CH3)]`` = what StreamingConcat produced.

Estimates follow FINN's style: each part is costed by FINN+'s own ``MVAU_hls`` model (LUT, BRAM18,
URAM, DSP) for its PE/SIMD/datatypes with ``mem_mode=internal_embedded`` (the kernel keeps its weights
in ``FixedPointWeights`` like an embedded MVAU), plus the fused kernel's own buffers (see
:meth:`FireExpand.lut_estimation`). Cycles are the kernel's schedule (``fire_expand_cycles`` in the
header, checked by its test bench).
"""
from __future__ import annotations

import math

import numpy as np
from onnx import helper
from qonnx.core.datatype import DataType
from qonnx.custom_op.general.multithreshold import multithreshold

from finn.custom_op.fpgadataflow.hwcustomop import HWCustomOp

__all__ = ["FireExpand", "fire_expand_cycles"]


def fire_expand_cycles(c: int, kk: int, ch1: int, simd1: int, pe1: int, ch3: int, simd3: int, pe3: int,
                       ope: int, reps: int) -> int:
    """Cycles of ``FireExpand_Batch`` (the header's ``fire_expand_cycles``): per pixel the slowest of
    the 3x3 part, the 1x1 part (which starts once the centre tap has streamed in) and the output."""
    t3 = (ch3 // pe3) * (kk * c // simd3)
    centre_done = -(-((kk // 2 + 1) * c) // simd3)
    t1 = (ch1 // pe1) * (c // simd1)
    emit = (ch1 + ch3) // ope
    return reps * max(t3, centre_done + t1, emit) + emit


class FireExpand(HWCustomOp):
    """Expand 1x1 (from the window's centre tap) and expand 3x3 (whole window) of a Fire module, with
    thresholds, concatenated: one layer instead of DuplicateStreams + 2 MVAUs + StreamingConcat."""

    def get_nodeattr_types(self):
        attrs = {
            "IFMChannels": ("i", True, 0),  # C, squeeze output channels
            "KernelDim": ("ints", False, [3, 3]),
            "CH1": ("i", True, 0), "CH3": ("i", True, 0),
            "PE1": ("i", False, 1), "SIMD1": ("i", False, 1),
            "PE3": ("i", False, 1), "SIMD3": ("i", False, 1),  # SIMD3 = channels per input word
            "OutPE": ("i", False, 1),  # channels per output word
            "numInputVectors": ("ints", False, [1]),  # output pixels, e.g. [1, H, W]
            "inputDataType": ("s", True, ""),
            "weightDataType1": ("s", True, ""), "weightDataType3": ("s", True, ""),
            "accDataType1": ("s", False, "INT32"), "accDataType3": ("s", False, "INT32"),
            "outputDataType": ("s", True, ""),
            "ActVal": ("i", False, 0),
            "resType1": ("s", False, "lut", {"auto", "lut", "dsp"}),
            "resType3": ("s", False, "lut", {"auto", "lut", "dsp"}),
            "ram_style": ("s", False, "auto", {"auto", "block", "distributed"}),
        }
        attrs.update(super().get_nodeattr_types())
        return attrs

    # ---- geometry
    def _kk(self) -> int:
        k = self.get_nodeattr("KernelDim")
        return int(k[0]) * int(k[1])

    def _vecs(self) -> list:
        return [int(v) for v in self.get_nodeattr("numInputVectors")]

    def centre_slice(self) -> slice:
        """Window elements of the centre tap (what the 1x1 expand reads)."""
        c = self.get_nodeattr("IFMChannels")
        return slice((self._kk() // 2) * c, (self._kk() // 2 + 1) * c)

    def get_normal_input_shape(self, ind=0):
        if ind == 0:
            return tuple(self._vecs() + [self._kk() * self.get_nodeattr("IFMChannels")])
        c, kk = self.get_nodeattr("IFMChannels"), self._kk()
        return {1: (c, self.get_nodeattr("CH1")), 3: (kk * c, self.get_nodeattr("CH3"))}.get(ind, ())

    def get_folded_input_shape(self, ind=0):
        simd3 = self.get_nodeattr("SIMD3")
        return tuple(self._vecs() + [self._kk() * self.get_nodeattr("IFMChannels") // simd3, simd3])

    def get_normal_output_shape(self, ind=0):
        return tuple(self._vecs() + [self.get_nodeattr("CH1") + self.get_nodeattr("CH3")])

    def get_folded_output_shape(self, ind=0):
        ope = self.get_nodeattr("OutPE")
        return tuple(self._vecs() + [(self.get_nodeattr("CH1") + self.get_nodeattr("CH3")) // ope, ope])

    # ---- datatypes and stream widths
    def get_input_datatype(self, ind=0):
        key = {1: "weightDataType1", 3: "weightDataType3"}.get(ind, "inputDataType")
        return DataType[self.get_nodeattr(key)]

    def get_output_datatype(self, ind=0):
        return DataType[self.get_nodeattr("outputDataType")]

    def get_instream_width(self, ind=0):
        # weights and thresholds are embedded in the kernel: only the window stream is a port
        return self.get_input_datatype(0).bitwidth() * self.get_nodeattr("SIMD3") if ind == 0 else 0

    def get_outstream_width(self, ind=0):
        return self.get_output_datatype().bitwidth() * self.get_nodeattr("OutPE")

    def infer_node_datatype(self, model):
        self.set_nodeattr("inputDataType", model.get_tensor_datatype(self.onnx_node.input[0]).name)
        model.set_tensor_datatype(self.onnx_node.output[0], self.get_output_datatype())

    def verify_node(self):
        """One line per folding the kernel cannot take (its static_asserts), else []."""
        g = self.get_nodeattr
        c, ch1, ch3 = g("IFMChannels"), g("CH1"), g("CH3")
        checks = (("SIMD3", self._kk() * c), ("SIMD1", c), ("PE1", ch1), ("PE3", ch3), ("OutPE", ch1), ("OutPE", ch3))
        return [f"{fold}={g(fold)} does not divide {dim}" for fold, dim in checks if dim % g(fold)]

    # ---- execution (FINN's Python execution of the HW graph)
    def execute_node(self, context, graph):
        node = self.onnx_node
        x = np.asarray(context[node.input[0]], dtype=np.float64).reshape(-1, self.get_normal_input_shape()[-1])
        act = self.get_nodeattr("ActVal")
        parts = []
        for xs, w, t in ((x[:, self.centre_slice()], node.input[1], node.input[2]), (x, node.input[3], node.input[4])):
            acc = xs @ np.asarray(context[w], dtype=np.float64)
            parts.append(multithreshold(acc, np.asarray(context[t], dtype=np.float64), 1, act))
        out = np.concatenate(parts, axis=-1).astype(np.float32)
        context[node.output[0]] = out.reshape(context[node.output[0]].shape)

    # ---- FINN-style estimates
    def get_exp_cycles(self):
        g = self.get_nodeattr
        return fire_expand_cycles(g("IFMChannels"), self._kk(), g("CH1"), g("SIMD1"), g("PE1"), g("CH3"), g("SIMD3"),
                                  g("PE3"), g("OutPE"), int(np.prod(self._vecs())))

    def part(self, which: int):
        """FINN+'s ``MVAU_hls`` for the 1x1 (``which=1``) or 3x3 (``3``) part, with this node's folding
        and datatypes and the part's weight/threshold inputs: used for FINN's estimates and for the
        finn-hlslib weight / threshold headers (code generation)."""
        from qonnx.custom_op.registry import getCustomOp

        node, g = self.onnx_node, self.get_nodeattr
        c, kk = g("IFMChannels"), self._kk()
        w, t = (node.input[1], node.input[2]) if which == 1 else (node.input[3], node.input[4])
        mvau = helper.make_node(
            "MVAU_hls", [node.input[0], w, t], [f"{node.output[0]}_part{which}"], name=f"{node.name}_part{which}",
            domain="finn.custom_op.fpgadataflow.hls", backend="fpgadataflow",
            MW=c if which == 1 else kk * c, MH=g(f"CH{which}"), PE=g(f"PE{which}"), SIMD=g(f"SIMD{which}"),
            inputDataType=g("inputDataType"), weightDataType=g(f"weightDataType{which}"),
            outputDataType=g("outputDataType"), accDataType=g(f"accDataType{which}"), ActVal=g("ActVal"),
            numInputVectors=self._vecs(), mem_mode="internal_embedded", resType=g(f"resType{which}"),
            ram_style=g("ram_style"), noActivation=0, binaryXnorMode=0)
        return getCustomOp(mvau)

    def lut_estimation(self, fpgapart=None):
        """FINN+'s MVAU LUT model for each part, plus what the fusion adds: the centre-tap register's
        capture and read multiplexers (one LUT per captured bit, one LUT6 per 4:1 read-mux bit) and
        the ping-pong output buffer in LUTRAM (FINN's ``width * ceil(depth / 64)`` rule)."""
        g = self.get_nodeattr
        a, b, c = self.get_input_datatype(0).bitwidth(), self.get_output_datatype().bitwidth(), g("IFMChannels")
        centre = c * a + (g("SIMD1") * a * math.ceil(c // g("SIMD1") / 4) if c > g("SIMD1") else 0)
        words = 2 * (g("CH1") + g("CH3")) // g("OutPE")
        obuf = g("OutPE") * b * math.ceil(words / 64)
        return int(self.part(1).lut_estimation(fpgapart) + self.part(3).lut_estimation(fpgapart) + centre + obuf)

    def bram_estimation(self, fpgapart=None):
        return int(self.part(1).bram_estimation(fpgapart) + self.part(3).bram_estimation(fpgapart))

    def uram_estimation(self, fpgapart=None):
        return int(self.part(1).uram_estimation(fpgapart) + self.part(3).uram_estimation(fpgapart))

    def dsp_estimation(self, fpgapart=None):
        return int(self.part(1).dsp_estimation(fpgapart) + self.part(3).dsp_estimation(fpgapart))

    def get_op_and_param_counts(self):
        r1, r3 = self.part(1).get_op_and_param_counts(), self.part(3).get_op_and_param_counts()
        return {k: r1.get(k, 0) + r3.get(k, 0) for k in set(r1) | set(r3)}
