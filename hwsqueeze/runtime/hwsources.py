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
* ``<layer>_threshs_<pe>_<stage>.dat`` (Thresholding_rtl, ``internal_embedded``; read by finn-rtllib's
  ``thresholding.sv`` with ``$readmemh``): the threshold memory of one PE lane for one binary-search
  stage, one hex word per line, WT bits each (two's complement where signed); see :mod:`.hwthresh`.

numpy only (runs on the board).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, Tuple

import numpy as np

from ..deploy import dtype_bits
from ..deploy.files import MAX_SOURCE_BYTES, read_text, sources
from ..errors import HwsqueezeError

__all__ = ["read_memblock_words", "read_memblock", "read_thresholds_header", "parse_thresholds", "unfold_thresholds",
           "read_mvau_folding", "read_threshold_memory"]


def read_memblock_words(path: Path, pe: int, simd: int, wdtype: str, wmem: int) -> np.ndarray:
    """The weight memory of a decoupled-mode ``memblock.dat`` as (WMEM, PE, SIMD) integers."""
    bits, signed = dtype_bits(wdtype)
    text = read_text(Path(path), MAX_SOURCE_BYTES, f"generated weight file missing: {path}")
    lines = [ln.strip() for ln in text.split() if ln.strip()]
    if len(lines) != wmem:
        raise HwsqueezeError(f"{path}: {len(lines)} memory words, expected {wmem} (PE {pe} SIMD {simd})")
    width = max(len(ln) for ln in lines)
    width += width % 2
    if width > -(-pe * simd * bits // 4) + 2:  # refused before unpacking: 8 bytes of bits per hex digit
        raise HwsqueezeError(f"{path}: memory words of {width} hex digits, wider than PE {pe} x SIMD {simd} x "
                             f"{bits} bits")
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


_HEX_WORD = re.compile(r"[0-9a-fA-F]+")


def read_threshold_memory(path: Path, depth: int, bits: int) -> np.ndarray:
    """A ``$readmemh`` threshold memory file of ``depth`` words of ``bits`` bits, as non-negative
    integers (the raw bit patterns; the RTL decides signedness). Exactly ``depth`` plain hex words,
    each at most ``bits`` wide, or one error line naming the file."""
    if not 1 <= bits <= 62:  # int64 words; FINN's thresholds are far narrower
        raise HwsqueezeError(f"{path}: {bits}-bit thresholds are not supported by the emulator (at most 62)")
    text = read_text(Path(path), MAX_SOURCE_BYTES, f"generated threshold memory missing: {path}")
    words = text.split()
    if len(words) != depth:
        raise HwsqueezeError(f"{path}: {len(words)} threshold words, expected {depth}")
    digits = -(-bits // 4)
    for i, w in enumerate(words):  # checked before int(): no '0x', '_', sign or 64 MiB word is parsed
        if len(w) > digits or not _HEX_WORD.fullmatch(w):
            raise HwsqueezeError(f"{path}: word {i} {w[:24]!r} is not a hex number of at most {bits} bits")
    vals = np.array([int(w, 16) for w in words], dtype=np.int64)
    if depth and int(vals.max()) >> bits:
        i = int(np.argmax(vals >> bits != 0))
        raise HwsqueezeError(f"{path}: word {i} {words[i]!r} is wider than the {bits}-bit thresholds")
    return vals


def read_memblock(path: Path, mw: int, mh: int, pe: int, simd: int, wdtype: str) -> np.ndarray:
    """The (MW, MH) weight matrix stored in a decoupled-mode ``memblock.dat`` (unfolded)."""
    words = read_memblock_words(path, pe, simd, wdtype, (mw * mh) // (pe * simd))
    per_pe = words.transpose(1, 0, 2).reshape(pe, mh // pe, mw)  # (PE, rows per PE, MW)
    wt = np.empty((mh, mw), dtype=np.int64)
    for p in range(pe):
        wt[p::pe] = per_pe[p]
    return wt.T


# at most 9 digits per figure: a 5,000-digit one would make int() raise, a 40-digit one overflow int64
# the types between STEPS and ActVal span at most 400 characters: an unbounded lazy match would make
# a file of many unterminated declarations quadratic (minutes for a few MiB)
_THRESH = re.compile(r"ThresholdsActivation<\s*(\d{1,9})\s*,\s*(\d{1,9})\s*,\s*(\d{1,9})\s*,[^;{}]{0,400}?,"
                     r"\s*(-?\d{1,9})\s*,\s*comp::")
_VALUE_LIMIT = 1 << 62  # thresholds beyond act like +-infinity; the reference clips at 2**52


def read_thresholds_header(path: Path) -> Tuple[np.ndarray, int]:
    """(thresholds (PE, TMEM, STEPS) as in the header, ActVal) from an HLS ``thresh.h``."""
    text = read_text(Path(path), MAX_SOURCE_BYTES, f"generated threshold file missing: {path}")
    return parse_thresholds(text, str(path))


def parse_thresholds(text: str, where: str) -> Tuple[np.ndarray, int]:
    """The first ``ThresholdsActivation`` declaration in ``text`` (see :func:`read_thresholds_header`)."""
    m = _THRESH.search(text)
    if not m:
        raise HwsqueezeError(f"{where}: no ThresholdsActivation declaration")
    tmem, pe, steps, act_val = (int(g) for g in m.groups())
    eq = text.find("=", m.end())
    if eq < 0:
        raise HwsqueezeError(f"{where}: the ThresholdsActivation declaration has no values")
    tokens = re.findall(r"-?\d+(?:\.\d+)?", text[eq:])
    if len(tokens) != pe * tmem * steps:
        raise HwsqueezeError(f"{where}: {len(tokens)} thresholds for PE {pe} x TMEM {tmem} x {steps} steps")
    bad = next((t for t in tokens if len(t) > 24), None)
    vals = [int(float(t)) if "." in t else int(t) for t in tokens] if bad is None else []
    if bad is not None or any(abs(v) > _VALUE_LIMIT for v in vals):
        shown = bad or next(t for t, v in zip(tokens, vals) if abs(v) > _VALUE_LIMIT)
        raise HwsqueezeError(f"{where}: threshold {shown[:30]} is outside [-2**62, 2**62]")
    return np.array(vals, dtype=np.int64).reshape(pe, tmem, steps), act_val


def unfold_thresholds(thr: np.ndarray) -> np.ndarray:
    """(PE, TMEM, STEPS) -> (channels, STEPS) in channel order (channel c at [c % PE][c // PE])."""
    pe, tmem, steps = thr.shape
    out = np.empty((pe * tmem, steps), dtype=np.int64)
    for p in range(pe):
        out[p::pe] = thr[p]
    return out


_HLS_DEFINE = re.compile(r"#define\s+(MW|MH|SIMD|PE)1\s+(\d{1,9})(?!\d)")
_RTL_PARAM = re.compile(r"parameter\s+(MW|MH|SIMD|PE)\s*=\s*(\d{1,9})(?!\d)")


def read_mvau_folding(layer_dir: Path) -> Dict[str, int]:
    """MW, MH, SIMD, PE as the generated sources define them (``top_<layer>.cpp`` of an HLS MVAU:
    ``#define PE1 2``; ``<layer>_wrapper.v`` of an RTL MVAU: ``parameter PE = 1``)."""
    d = Path(layer_dir)
    for pattern, regex in (("top_*.cpp", _HLS_DEFINE), ("*_wrapper.v", _RTL_PARAM)):
        for f in sources(d, d, pattern):
            found = {k: int(v) for k, v in regex.findall(read_text(f, MAX_SOURCE_BYTES, f"{f} vanished"))}
            if len(found) == 4:
                return found
    raise HwsqueezeError(f"{d}: no generated MVAU source defining MW, MH, SIMD and PE")
