"""LUTs of an MVAU's threshold comparators measured by synthesis for 7-series (the fit in ``estimates``).

An HLS MVAU with thresholds (finn-hlslib ``ThresholdsActivation``) compares each PE's accumulator
with its channel's 2^B - 1 thresholds every cycle and counts the hits: the B-bit output. These are
LUTs whatever memory holds the thresholds, yet FINN+'s MVAU model counts them only with
``ram_style_thresholds == "distributed"``. HLS C++ cannot be synthesized here (no Vitis HLS), so this
tool synthesizes the same logic written as Verilog — one PE: a signed accumulator against T
thresholds, the hit count registered — with Yosys' ``synth_xilinx -family xc7`` (YoWASP), for:

* ``variable`` thresholds (a PE serving several channels reads them from memory each cycle: the
  usual case, PE < channels), and
* ``constant`` thresholds (PE = channels: HLS folds the single entry into the comparators).

    python scripts/synth_comparators.py [--json]

It prints each measurement beside ``estimates.comparator_luts``' model and FINN's formula
(1.1 x (2^B - 1) x acc bits per PE). Yosys is not Vivado: a measured proxy, not Vivado's count.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from synth_rtl_mvu import synth  # noqa: E402  (the same Yosys flow and LUT counting)

_VERILOG = """
module cmp_bank #(parameter W = {w}, T = {t}, OB = {ob}) (
  input clk, input signed [W-1:0] acc, {thr_port} output reg [OB-1:0] y);
  {thr_const}
  integer i; reg [OB-1:0] s;
  always @(posedge clk) begin
    s = 0;
    for (i = 0; i < T; i = i + 1) s = s + ($signed(thr[i*W +: W]) <= acc);
    y <= s;
  end
endmodule
"""


def bank(w: int, t: int, constant: bool, workdir: Path) -> int:
    """Yosys LUTs of one PE's comparator bank: ``t`` thresholds of ``w`` bits against a ``w``-bit accumulator."""
    import numpy as np

    ob = max(1, (t).bit_length())
    if constant:  # sorted thresholds, as FINN's are, spread over the accumulator's range (seeded)
        vals = np.sort(np.random.default_rng(w * 100 + t).integers(-(2 ** (w - 1)), 2 ** (w - 1), t))
        words = "".join(f"{int(v) & ((1 << w) - 1):0{w}b}" for v in vals[::-1])
        port, const = "", f"wire [T*W-1:0] thr = {t * w}'b{words};"
    else:
        port, const = "input [T*W-1:0] thr,", ""
    src = workdir / "src_in"
    src.mkdir(parents=True, exist_ok=True)
    f = src / "cmp_bank.v"
    f.write_text(_VERILOG.format(w=w, t=t, ob=ob, thr_port=port, thr_const=const))
    return synth([f], "cmp_bank", workdir / "run")["lut"]


def main() -> None:
    from hwsqueeze.compile.estimates import comparator_luts

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print the measurements as JSON")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for constant in (False, True):
            for t in (1, 3, 7, 15):
                for w in (8, 12, 16, 20, 24):
                    lut = bank(w, t, constant, Path(tmp) / f"{w}_{t}_{constant}")
                    rows.append({"acc_bits": w, "thresholds": t, "constant": constant, "yosys_lut": lut,
                                 "model": comparator_luts(1, t, w, constant), "finn": round(1.1 * t * w)})
                    r = rows[-1]
                    print(f"{'constant' if constant else 'variable'} T={t:2d} acc {w:2d} bits: yosys {lut:4d} LUT | "
                          f"model {r['model']:4d} | FINN's formula {r['finn']:4d}", flush=True)
    if args.json:
        print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
