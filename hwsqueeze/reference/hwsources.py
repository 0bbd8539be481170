"""Read weights and thresholds back out of the files FINN+'s code generation wrote for synthesis.

The emulated board computes with these (not with ``reference/weights.npz``), so emulation also
checks that codegen put the right numbers in the right places. Layouts undone here (FINN+ 1.6,
``MVAU.get_hw_compatible_weight_tensor`` / ``make_weight_file`` / thresholds headers):

* ``memblock.dat`` (MVAU, ``internal_decoupled``): one hex line per weight-memory word
  (WMEM lines). A word holds PE x SIMD weights, most significant first, PE order reversed and
  SIMD order reversed; output channel ``r`` belongs to PE ``r % PE``.
* ``thresh.h`` (MVAU_hls with activation): ``ThresholdsActivation<TMEM, PE, STEPS, T, OUT, ActVal,
  ...> threshs = {{{...}}}`` with values in (PE, TMEM, STEPS) order; channel ``c`` is at
  ``[c % PE][c // PE]``.

numpy only (runs on the board).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, Tuple

import numpy as np

from ..errors import HwsqueezeError
from .engine import dtype_range

__all__ = ["load_hw_arrays", "read_memblock", "read_thresholds_header"]


def _bits(name: str) -> Tuple[int, bool]:
    lo, hi = dtype_range(name)
    return int(hi - lo).bit_length(), lo < 0


def read_memblock(path: Path, mw: int, mh: int, pe: int, simd: int, wdtype: str) -> np.ndarray:
    """The (MW, MH) weight matrix stored in a decoupled-mode ``memblock.dat``."""
    bits, signed = _bits(wdtype)
    wmem = (mw * mh) // (pe * simd)
    lines = [ln.strip() for ln in Path(path).read_text().split() if ln.strip()]
    if len(lines) != wmem:
        raise HwsqueezeError(f"{path}: {len(lines)} memory words, expected {wmem} (MW {mw} MH {mh} PE {pe} SIMD {simd})")
    width = max(len(ln) for ln in lines)
    width += width % 2
    try:
        raw = bytes.fromhex("".join(ln.rjust(width, "0") for ln in lines))
    except ValueError:
        raise HwsqueezeError(f"{path}: not a hex memory file") from None
    allbits = np.unpackbits(np.frombuffer(raw, dtype=np.uint8).reshape(wmem, width // 2), axis=1)
    used = pe * simd * bits
    if allbits.shape[1] < used or allbits[:, : allbits.shape[1] - used].any():
        raise HwsqueezeError(f"{path}: memory words are not {used} bits of weights")
    fields = allbits[:, allbits.shape[1] - used:].reshape(wmem, pe * simd, bits).astype(np.int64)
    vals = fields @ (1 << np.arange(bits - 1, -1, -1, dtype=np.int64))
    if signed:
        vals = np.where(vals >= 1 << (bits - 1), vals - (1 << bits), vals)
    words = vals.reshape(wmem, pe, simd)[:, ::-1, ::-1]  # undo the PE and SIMD reversal
    per_pe = words.transpose(1, 0, 2).reshape(pe, mh // pe, mw)  # (PE, rows per PE, MW)
    wt = np.empty((mh, mw), dtype=np.int64)
    for p in range(pe):
        wt[p::pe] = per_pe[p]
    return wt.T


_THRESH = re.compile(r"ThresholdsActivation<\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*,.*?,\s*(-?\d+)\s*,\s*comp::", re.S)


def read_thresholds_header(path: Path, channels: int) -> Tuple[np.ndarray, int]:
    """(thresholds (channels, steps), ActVal) from an HLS ``thresh.h``."""
    text = Path(path).read_text()
    m = _THRESH.search(text)
    if not m:
        raise HwsqueezeError(f"{path}: no ThresholdsActivation declaration")
    tmem, pe, steps, act_val = (int(g) for g in m.groups())
    body = text[text.index("=", m.end()):]
    vals = np.array([int(float(v)) for v in re.findall(r"-?\d+(?:\.\d+)?", body)], dtype=np.int64)
    if vals.size != pe * tmem * steps or pe * tmem != channels:
        raise HwsqueezeError(f"{path}: {vals.size} thresholds for PE {pe} x TMEM {tmem} x {steps} steps, "
                             f"{channels} channels")
    t = vals.reshape(pe, tmem, steps)
    out = np.empty((channels, steps), dtype=np.int64)
    for p in range(pe):
        out[p::pe] = t[p]
    return out, act_val


def load_hw_arrays(hw_dir, graph: dict) -> Dict[str, np.ndarray]:
    """Every array the reference graph needs, rebuilt from ``hw_dir/<node>/`` codegen files."""
    hw_dir = Path(hw_dir)
    out: Dict[str, np.ndarray] = {}
    for node in graph["nodes"]:
        refs = node.get("arrays", {})
        if not refs:
            continue
        a, d = node["attrs"], hw_dir / node["name"]
        if not d.is_dir():
            raise HwsqueezeError(f"generated sources for {node['name']} missing: {d}")
        if node["op"] != "MVAU":
            raise HwsqueezeError(f"{node['name']}: reading {node['op']} parameters from HW sources is not supported")
        if a.get("mem_mode", "internal_decoupled") != "internal_decoupled":
            raise HwsqueezeError(f"{node['name']}: mem_mode {a.get('mem_mode')} is not supported by the emulator")
        if "weights" in refs:
            out[refs["weights"]] = read_memblock(d / "memblock.dat", a["MW"], a["MH"], a["PE"], a["SIMD"],
                                                 a["weightDataType"])
        if "thresholds" in refs:
            thr, act_val = read_thresholds_header(d / "thresh.h", a["MH"])
            if act_val != a.get("ActVal", 0):
                raise HwsqueezeError(f"{node['name']}: thresh.h has ActVal {act_val}, the graph {a.get('ActVal', 0)}")
            out[refs["thresholds"]] = thr
    return out
