"""Fused Fire expand (hls/fire_expand.hpp, ``--fuse-fire``) against FINN+'s unfused fork/join, side by side
on the same folded HW graph, board and estimators: FINN+'s estimate functions for the unfused layers,
FireExpand's (FINN's MVAU models per part + its buffers) for the fused ones, the project's FIFO model
(estimates.py) for both; optionally the fused kernel's cycle count measured by running its C++ test
bench for each module's shape and folding (``--cpp-cycles``; FINN's cppsim of the unfused layers
counts no cycles). Usage:
    python benchmarks/fire_fusion.py [--build build/pynq-z2] [--cpp-cycles] [--markdown]
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _group(model, fused_node):
    """The unfused layers a FireExpand replaced: DuplicateStreams, 2 MVAUs, StreamingConcat."""
    from hwsqueeze.compile.transforms.fuse_fire import match_fire

    out = fused_node.output[0]
    for n in model.graph.node:
        m = match_fire(model, n)
        if m is not None and m[5].output[0] == out:
            return [m[0], m[1], m[4], m[5]]
    raise RuntimeError(f"no unfused group for {fused_node.name}")


def _cpp_cycles(op, work: Path) -> int:
    """Loop iterations of FireExpand_Batch counted by its C++ test bench at ``op``'s shape and folding."""
    import tarfile

    import numpy as np

    from hwsqueeze.simulate.env import ap_types_dir, vendored_tarball

    lib = work / "finn-hlslib"
    if not lib.is_dir():
        with tarfile.open(vendored_tarball()) as tf:
            tf.extractall(work, filter="data")
    g = op.get_nodeattr
    reps = int(np.prod(g("numInputVectors")))
    defs = dict(FE_C=g("IFMChannels"), FE_KK=9, FE_CH1=g("CH1"), FE_SIMD1=g("SIMD1"), FE_PE1=g("PE1"),
                FE_CH3=g("CH3"), FE_SIMD3=g("SIMD3"), FE_PE3=g("PE3"), FE_OPE=g("OutPE"), FE_REPS=reps)
    exe = work / "tb"
    ap = ap_types_dir()
    subprocess.run(["g++", "-std=c++17", "-O2", f"-I{ROOT / 'hls/include'}", f"-I{ap.parent}", f"-I{ap}", f"-I{lib}",
                    f"-I{ROOT / 'hls'}", *[f"-D{k}={v}" for k, v in defs.items()],
                    str(ROOT / "hls/tb/fire_expand_tb.cpp"), "-o", str(exe)], check=True)
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout
    return int(out.rsplit(",", 1)[1].split()[0])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=str(ROOT / "build" / "pynq-z2"))
    ap.add_argument("--cpp-cycles", action="store_true")
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    build = Path(args.build)
    from hwsqueeze.compile.finn_env import activate

    activate(Path(tempfile.mkdtemp(prefix="hwsq-fuse-")))
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.custom_op.registry import getCustomOp

    from hwsqueeze.compile.boards import load_board
    from hwsqueeze.compile.estimates import estimate, fifo_bits
    from hwsqueeze.compile.transforms.fuse_fire import FuseFireExpand
    from hwsqueeze.compile.pipeline import intermediate_path

    board = load_board(build.name if (ROOT / "boards" / f"{build.name}.yaml").is_file() else "pynq-z2")
    unfused = ModelWrapper(str(intermediate_path(build, "estimates")))
    fused = unfused.transform(FuseFireExpand())
    eu, ef = estimate(unfused, board), estimate(fused, board)
    lu, lf = {e.name: e for e in eu.layers}, {e.name: e for e in ef.layers}
    fu, ff = fifo_bits(unfused, board.part), fifo_bits(fused, board.part)
    rows = []
    work = Path(tempfile.mkdtemp(prefix="hwsq-fire-tb-"))
    for node in (n for n in fused.graph.node if n.op_type == "FireExpand_hls"):
        group = _group(unfused, node)
        tensors = {t for n in group for t in list(n.input) + list(n.output)} - {
            t for t in group[0].input} - {t for n in group for t in n.input[1:]}
        ubits = sum(b for t, b in fu.items() if t in tensors)
        fbits = ff.get(node.output[0], 0)
        op = getCustomOp(node)
        u = [lu[n.name] for n in group]
        f = lf[node.name]
        rows.append((node.name, " + ".join(n.name for n in group), max(e.cycles for e in u), f.cycles,
                     _cpp_cycles(op, work) if args.cpp_cycles else None, sum(e.lut for e in u), f.lut,
                     sum(e.bram18 for e in u), f.bram18, sum(e.dsp for e in u), f.dsp, ubits, fbits,
                     f"1x1 PE{op.get_nodeattr('PE1')}/SIMD{op.get_nodeattr('SIMD1')}, "
                     f"3x3 PE{op.get_nodeattr('PE3')}/SIMD{op.get_nodeattr('SIMD3')}, out {op.get_nodeattr('OutPE')}"))
    head = ("module", "replaced", "cycles unfused (slowest)", "cycles fused", "cycles fused (C++ bench)",
            "LUT unfused", "LUT fused", "BRAM18 unfused", "BRAM18 fused", "DSP unfused", "DSP fused",
            "FIFO bits unfused", "FIFO bits fused", "fused folding")
    if args.markdown:
        print("| " + " | ".join(h for i, h in enumerate(head) if i != 1) + " |")
        print("|" + "---|" * (len(head) - 1))
        for r in rows:
            print("| " + " | ".join("-" if v is None else f"{v:,}" if isinstance(v, int) else str(v)
                                    for i, v in enumerate(r) if i != 1) + " |")
    else:
        for r in rows:
            print(dict(zip(head, r)))
    print(f"\nwhole design ({board.name}, {board.clock_mhz:g} MHz, same folding; "
          "layers + FIFOs + DWCs + DMAs + shell):")
    print("| | FPS | cycles/frame (slowest layer) | LUT | BRAM18 | DSP | FIFO bits | FIFO LUT | FIFO BRAM18 |")
    print("|---|---|---|---|---|---|---|---|---|")
    for label, e, fs in (("unfused (FINN+)", eu, fu), ("fused (--fuse-fire)", ef, ff)):
        bits = sum(fs.values())
        print(f"| {label} | {e.fps:,.0f} | {max(x.cycles for x in e.layers):,} | {e.totals['lut']:,} | "
              f"{e.totals['bram18']} | {e.totals['dsp']} | {bits:,} | {e.overhead['fifos']['lut']:,} | "
              f"{e.overhead['fifos']['bram18']} |")


if __name__ == "__main__":
    sys.exit(main())
