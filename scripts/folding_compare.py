"""The per-layer folding optimizer beside FINN's SetFolding at fixed frame rates, on one build's HW graph.

    python scripts/folding_compare.py BUILD_DIR [--fps 1526 2034 2713 3052] [--board pynq-z2] [--markdown]

(A frame rate stands for the largest cycle count that reaches it: 1,526 FPS = 65,536 cycles at 100 MHz.)

BUILD_DIR is any hwsqueeze build that ran ``specialize_layers`` (e.g. ``hwsqueeze build --estimate-only``).
For each frame rate (cycles = clock / FPS), both searches fold that graph and the full estimate
(``compile/estimates.py``: layers with comparators, width converters, FIFOs, DMAs, shell) is printed:
``setfolding`` = FINN's SetFolding + the DSP and LUTRAM levers (``folding.fold_cycles``),
``layerwise`` = ``layerwise.layerwise_fold_cycles``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("build", type=Path)
    ap.add_argument("--fps", type=float, nargs="+", default=[1526, 2034, 2713, 3052])
    ap.add_argument("--board", default="pynq-z2")
    ap.add_argument("--markdown", action="store_true", help="one markdown table")
    args = ap.parse_args()
    from qonnx.core.modelwrapper import ModelWrapper

    from hwsqueeze.compile.boards import load_board
    from hwsqueeze.compile.finn_env import activate
    from hwsqueeze.compile.folding import fold_cycles
    from hwsqueeze.compile.layerwise import layerwise_fold_cycles
    from hwsqueeze.compile.pipeline import intermediate_path

    board = load_board(args.board)
    activate(args.build)
    graph = intermediate_path(args.build, "specialize_layers")
    if not graph.is_file():
        raise SystemExit(f"error: {graph} not found (build with --stop-step specialize_layers or --estimate-only)")
    model = ModelWrapper(str(graph))
    rows = []
    for fps in args.fps:
        cycles = int(board.clock_mhz * 1e6 / (fps - 0.5))  # "1,526" is 1,525.9: 65,536 cycles
        for name, fn in (("setfolding", fold_cycles), ("layerwise", layerwise_fold_cycles)):
            e = fn(model, board, cycles).estimate
            rows.append((fps, name, e))
            t = e.totals
            print(f"{fps:6,.0f} FPS target, {name:10s}: est. {e.fps:7,.0f} FPS, LUT {t['lut']:6,} "
                  f"(comparators {sum(x.comparator_lut for x in e.layers):5,}), BRAM18 {t['bram18']:3}, "
                  f"DSP {t['dsp']:3}, latency {e.latency_ms:.2f} ms -> {'fits' if e.fits else 'does not fit'}",
                  file=sys.stderr, flush=True)
    if args.markdown:
        print("| target FPS | search | est. FPS | LUT | of which comparators | BRAM18 | DSP | latency | fits |")
        print("|---|---|---|---|---|---|---|---|---|")
        for fps, name, e in rows:
            t = e.totals
            print(f"| {fps:,.0f} | {name} | {e.fps:,.0f} | {t['lut']:,} | {sum(x.comparator_lut for x in e.layers):,} "
                  f"| {t['bram18']} | {t['dsp']} | {e.latency_ms:.2f} ms | {'yes' if e.fits else 'no'} |")


if __name__ == "__main__":
    main()
