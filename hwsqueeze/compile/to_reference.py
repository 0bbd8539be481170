"""The final FINN HW-layer graph as the package's reference graph (format: hwsqueeze/deploy/graph.py).

Host side only (qonnx); :func:`hwsqueeze.deploy.write_graph` writes it, the reference engine and
the emulated board read it. A node type outside the package's list of HW ops (``deploy/ops.py``)
is refused here, naming the node, rather than written into a package no board-side reader accepts.
"""
from __future__ import annotations

from typing import Dict, Tuple

import numpy as np
from onnx import helper

from ..deploy import GRAPH_FORMAT
from ..deploy.ops import op_of_node_type
from ..errors import HwsqueezeError

__all__ = ["reference_graph"]

_SKIP_ATTRS = {"code_gen_dir_ipgen", "code_gen_dir_cppsim", "ipgen_path", "ip_path", "ip_vlnv", "gen_top_module",
               "executable_path", "rtlsim_so", "cycles_estimate", "res_estimate", "res_hls", "res_synth",
               "backend", "exec_mode", "cpp_interface", "hls_style", "inFIFODepths", "outFIFODepths",
               "partition_id", "device_id", "slr", "mem_port", "rtlsim_trace", "runtime_writeable_weights"}


def _as_int_array(a: np.ndarray, what: str) -> np.ndarray:
    r = np.round(a)
    if not np.array_equal(r, a):
        raise HwsqueezeError(f"{what} is not integer-valued; the reference engine needs an integer HW graph")
    lo, hi = r.min(initial=0), r.max(initial=0)
    for dt in (np.int8, np.int16, np.int32, np.int64):
        if np.iinfo(dt).min <= lo and hi <= np.iinfo(dt).max:
            return r.astype(dt)
    raise HwsqueezeError(f"{what} does not fit int64")


def reference_graph(model) -> Tuple[dict, Dict[str, np.ndarray]]:
    """(graph dict, integer arrays) of the HW-layer graph ``model``."""
    nodes, arrays = [], {}
    for node in model.graph.node:
        if not node.domain.startswith("finn.custom_op.fpgadataflow"):
            raise HwsqueezeError(f"node {node.name} ({node.op_type}) is not a HW layer; export the dataflow partition")
        op = op_of_node_type(node.op_type, f"node {node.name}")
        attrs = {}
        for a in node.attribute:
            if a.name in _SKIP_ATTRS:
                continue
            v = helper.get_attribute_value(a)
            attrs[a.name] = v.decode() if isinstance(v, bytes) else (list(v) if not isinstance(v, (int, float)) else v)
            if isinstance(attrs[a.name], list):
                attrs[a.name] = [x.decode() if isinstance(x, bytes) else x for x in attrs[a.name]]
        refs = {}
        for idx, name in op.arrays:
            if idx < len(node.input) and node.input[idx]:
                init = model.get_initializer(node.input[idx])
                if init is None:
                    raise HwsqueezeError(f"{node.name}: {name} are not constant (runtime-writeable weights?)")
                key = f"{node.name}/{name}"
                arrays[key] = _as_int_array(np.asarray(init), key)
                refs[name] = key
        stream_inputs = [t for t in node.input if model.get_initializer(t) is None]
        nodes.append({"name": node.name, "op": op.name, "op_type": node.op_type, "inputs": stream_inputs,
                      "outputs": list(node.output), "attrs": attrs, "arrays": refs,
                      "out_dtype": model.get_tensor_datatype(node.output[0]).name,
                      "out_shape": [int(s) for s in model.get_tensor_shape(node.output[0])]})
    gin, gout = model.graph.input[0].name, model.graph.output[0].name
    graph = {"format": GRAPH_FORMAT, "input": gin, "output": gout,
             "input_dtype": model.get_tensor_datatype(gin).name,
             "input_shape": [int(s) for s in model.get_tensor_shape(gin)],
             "output_dtype": model.get_tensor_datatype(gout).name,
             "output_shape": [int(s) for s in model.get_tensor_shape(gout)], "nodes": nodes}
    return graph, arrays
