"""``FireExpand_hls``: the HLS backend of :class:`~.op.FireExpand` (FINN+'s ``HLSBackend`` machinery:
cppsim with g++, ``top_<name>.cpp`` + ``hls_syn_<name>.tcl`` for vitis_hls, like FINN's own HLS layers).

The generated top function calls ``FireExpand_Batch`` of ``hls/fire_expand.hpp``, which code generation
copies next to the generated sources (a quoted include resolves there for g++ and vitis_hls alike, and
the deploy package's ``hw/`` folder then holds everything the layer needs). Weights and thresholds are
written by FINN+'s own ``MVAU_hls.generate_params`` for each part (finn-hlslib's ``FixedPointWeights`` /
``ThresholdsActivation`` layout), renamed ``weights1``/``threshs1`` and ``weights3``/``threshs3``.
"""
from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

import numpy as np
from finn.custom_op.fpgadataflow.hlsbackend import HLSBackend

from .op import FireExpand

__all__ = ["FireExpand_hls", "kernel_header"]

_RES = {"auto": "ap_resource_dflt()", "lut": "ap_resource_lut()", "dsp": "ap_resource_dsp()"}


def kernel_header() -> Path:
    """``hls/fire_expand.hpp`` (checkout or installed wheel)."""
    from ...resources import resource_dir

    return resource_dir("hls") / "fire_expand.hpp"


class FireExpand_hls(FireExpand, HLSBackend):  # noqa: N801 (FINN's naming: <Op>_hls)
    """Fused Fire expand in HLS (``FireExpand_Batch``)."""

    def get_nodeattr_types(self):
        attrs = {}
        attrs.update(FireExpand.get_nodeattr_types(self))
        attrs.update(HLSBackend.get_nodeattr_types(self))
        return attrs

    def execute_node(self, context, graph):
        if self.get_nodeattr("exec_mode") in ("cppsim", "rtlsim"):
            HLSBackend.execute_node(self, context, graph)
        else:
            FireExpand.execute_node(self, context, graph)

    def get_ap_int_max_w(self):
        g = self.get_nodeattr
        a = self.get_input_datatype(0).bitwidth()
        weights = max(g("SIMD1") * self.get_input_datatype(1).bitwidth(),
                      g("SIMD3") * self.get_input_datatype(3).bitwidth())
        return max(self.get_instream_width(), self.get_outstream_width(), g("IFMChannels") * a, weights)

    # ---- parameters: FINN's MVAU writer per part, renamed
    def generate_params(self, model, path):
        path = Path(path)
        shutil.copy(kernel_header(), path / "fire_expand.hpp")
        params, thresh = [], []
        for which in (1, 3):
            with tempfile.TemporaryDirectory() as tmp:
                self.part(which).generate_params(model, tmp)
                w = (Path(tmp) / "params.h").read_text()
                t = (Path(tmp) / "thresh.h").read_text()
            params.append(re.sub(r"> weights =", f"> weights{which} =", w, count=1))
            thresh.append(re.sub(r"> threshs\b", f"> threshs{which}", t, count=1))
        (path / "params.h").write_text("\n".join(params) + "\n")
        (path / "thresh.h").write_text("\n".join(thresh) + "\n")

    # ---- code generation (HLSBackend's template slots)
    def global_includes(self):
        self.code_gen_dict["$GLOBALS$"] = ['#include "weights.hpp"', '#include "activations.hpp"',
                                           '#include "fire_expand.hpp"', '#include "thresh.h"']

    def defines(self, var):
        self.code_gen_dict["$DEFINES$"] = [f"#define numReps {int(np.prod(self._vecs()))}"]

    def read_npy_data(self):
        d = self.get_nodeattr("code_gen_dir_cppsim")
        elem = self.get_input_datatype(0).get_hls_datatype_str()
        # as FINN's MVAU: element i of a word at bits [i*A, (i+1)*A) (no inner reversal)
        self.code_gen_dict["$READNPYDATA$"] = [
            f'npy2apintstream<ap_uint<{self.get_instream_width()}>, {elem}, float>("{d}/input_0.npy", in0_V, false);']

    def strm_decl(self):
        self.code_gen_dict["$STREAMDECLARATIONS$"] = [
            f'hls::stream<ap_uint<{self.get_instream_width()}>> in0_V ("in0_V");',
            f'hls::stream<ap_uint<{self.get_outstream_width()}>> out0_V ("out0_V");']

    def docompute(self):
        g = self.get_nodeattr
        a = self.get_input_datatype(0).bitwidth()
        b = self.get_output_datatype().bitwidth()
        self.code_gen_dict["$DOCOMPUTE$"] = [
            f"FireExpand_Batch<{g('IFMChannels')}, {self._kk()}, {g('CH1')}, {g('SIMD1')}, {g('PE1')}, {g('CH3')}, "
            f"{g('SIMD3')}, {g('PE3')}, {g('OutPE')}, Slice<ap_uint<{a}>>, Slice<ap_uint<{b}>>, Identity>"
            f"(in0_V, out0_V, weights1, threshs1, weights3, threshs3, numReps, {_RES[g('resType1')]}, "
            f"{_RES[g('resType3')]});"]

    def dataoutstrm(self):
        d = self.get_nodeattr("code_gen_dir_cppsim")
        elem = self.get_output_datatype().get_hls_datatype_str()
        shape = "{" + ", ".join(str(int(s)) for s in self.get_folded_output_shape()) + "}"
        self.code_gen_dict["$DATAOUTSTREAM$"] = [
            f'apintstream2npy<ap_uint<{self.get_outstream_width()}>, {elem}, float>(out0_V, {shape}, '
            f'"{d}/output_0.npy", false);']

    def save_as_npy(self):
        self.code_gen_dict["$SAVEASCNPY$"] = []

    def blackboxfunction(self):
        self.code_gen_dict["$BLACKBOXFUNCTION$"] = [
            f"void {self.onnx_node.name}(hls::stream<ap_uint<{self.get_instream_width()}>> &in0_V, "
            f"hls::stream<ap_uint<{self.get_outstream_width()}>> &out0_V)"]

    def pragmas(self):
        p = ["#pragma HLS INTERFACE axis port=in0_V", "#pragma HLS INTERFACE axis port=out0_V",
             "#pragma HLS INTERFACE ap_ctrl_none port=return", '#include "params.h"']
        for which in (1, 3):  # as FINN's MVAU: weights split over PEs, thresholds over PEs and steps
            p.append(f"#pragma HLS ARRAY_PARTITION variable=weights{which}.m_weights complete dim=1")
            p.append(f"#pragma HLS ARRAY_PARTITION variable=threshs{which}.m_thresholds complete dim=1")
            p.append(f"#pragma HLS ARRAY_PARTITION variable=threshs{which}.m_thresholds complete dim=3")
        self.code_gen_dict["$PRAGMAS$"] = p
