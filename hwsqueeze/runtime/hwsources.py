"""Weights and thresholds read back out of the files FINN+'s code generation wrote for synthesis.

The emulated board computes with these (not with ``reference/weights.npz``), so emulation also
checks that codegen put the right numbers in the right places. Layouts (FINN+ 1.6,
``MVAU.get_hw_compatible_weight_tensor`` / ``make_weight_file`` / thresholds headers):

* ``memblock.dat`` (MVAU, ``internal_decoupled``): one hex line per weight-memory word
  (WMEM = NF x SF lines, neuron fold major). A word holds PE x SIMD weights, most significant
  first, PE order reversed and SIMD order reversed; row ``r`` of the weight matrix belongs to PE
  ``r % PE``.
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

from ..deploy import dtype_bits
from ..errors import HwsqueezeError

__all__ = ["read_memblock_words", "read_memblock", "read_thresholds_header", "parse_thresholds", "unfold_thresholds",
           "read_mvau_folding"]


def read_memblock_words(path: Path, pe: int, simd: int, wdtype: str, wmem: int) -> np.ndarray:
    """The weight memory of a decoupled-mode ``memblock.dat`` as (WMEM, PE, SIMD) integers."""
    bits, signed = dtype_bits(wdtype)
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        raise HwsqueezeError(f"generated weight file missing: {path}") from None
    lines = [ln.strip() for ln in text.split() if ln.strip()]
    if len(lines) != wmem:
        raise HwsqueezeError(f"{path}: {len(lines)} memory words, expected {wmem} (PE {pe} SIMD {simd})")
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
    return vals.reshape(wmem, pe, simd)[:, ::-1, ::-1]  # undo the PE and SIMD reversal


def read_memblock(path: Path, mw: int, mh: int, pe: int, simd: int, wdtype: str) -> np.ndarray:
    """The (MW, MH) weight matrix stored in a decoupled-mode ``memblock.dat`` (unfolded)."""
    words = read_memblock_words(path, pe, simd, wdtype, (mw * mh) // (pe * simd))
    per_pe = words.transpose(1, 0, 2).reshape(pe, mh // pe, mw)  # (PE, rows per PE, MW)
    wt = np.empty((mh, mw), dtype=np.int64)
    for p in range(pe):
        wt[p::pe] = per_pe[p]
    return wt.T


_THRESH = re.compile(r"ThresholdsActivation<\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*,.*?,\s*(-?\d+)\s*,\s*comp::", re.S)


def read_thresholds_header(path: Path) -> Tuple[np.ndarray, int]:
    """(thresholds (PE, TMEM, STEPS) as in the header, ActVal) from an HLS ``thresh.h``."""
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        raise HwsqueezeError(f"generated threshold file missing: {path}") from None
    return parse_thresholds(text, str(path))


def parse_thresholds(text: str, where: str) -> Tuple[np.ndarray, int]:
    """The first ``ThresholdsActivation`` declaration in ``text`` (see :func:`read_thresholds_header`)."""
    m = _THRESH.search(text)
    if not m:
        raise HwsqueezeError(f"{where}: no ThresholdsActivation declaration")
    tmem, pe, steps, act_val = (int(g) for g in m.groups())
    body = text[text.index("=", m.end()):]
    vals = np.array([int(float(v)) for v in re.findall(r"-?\d+(?:\.\d+)?", body)], dtype=np.int64)
    if vals.size != pe * tmem * steps:
        raise HwsqueezeError(f"{where}: {vals.size} thresholds for PE {pe} x TMEM {tmem} x {steps} steps")
    return vals.reshape(pe, tmem, steps), act_val


def unfold_thresholds(thr: np.ndarray) -> np.ndarray:
    """(PE, TMEM, STEPS) -> (channels, STEPS) in channel order (channel c at [c % PE][c // PE])."""
    pe, tmem, steps = thr.shape
    out = np.empty((pe * tmem, steps), dtype=np.int64)
    for p in range(pe):
        out[p::pe] = thr[p]
    return out


_HLS_DEFINE = re.compile(r"#define\s+(MW|MH|SIMD|PE)1\s+(\d+)")
_RTL_PARAM = re.compile(r"parameter\s+(MW|MH|SIMD|PE)\s*=\s*(\d+)")


def read_mvau_folding(layer_dir: Path) -> Dict[str, int]:
    """MW, MH, SIMD, PE as the generated sources define them (``top_<layer>.cpp`` of an HLS MVAU:
    ``#define PE1 2``; ``<layer>_wrapper.v`` of an RTL MVAU: ``parameter PE = 1``)."""
    d = Path(layer_dir)
    for pattern, regex in (("top_*.cpp", _HLS_DEFINE), ("*_wrapper.v", _RTL_PARAM)):
        for f in sorted(d.glob(pattern)):
            found = {k: int(v) for k, v in regex.findall(f.read_text())}
            if len(found) == 4:
                return found
    raise HwsqueezeError(f"{d}: no generated MVAU source defining MW, MH, SIMD and PE")
