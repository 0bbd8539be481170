"""The emulated board's RTL thresholding layer (FINN+'s ``Thresholding_rtl``: finn-rtllib
``thresholding/hdl/thresholding_axi.sv`` around ``thresholding.sv``), computed from the files code
generation wrote for it: its parameters from the generated top ``<layer>.v`` (``parameter WI = 20``,
``WT``, ``N``, ``C``, ``PE``, ``SIGNED``, ``BIAS``, ``THRESHOLDS_PATH``, ...) and its thresholds from the
per-PE, per-stage memories ``<THRESHOLDS_PATH>threshs_<pe>_<stage>.dat`` the RTL loads with
``$readmemh`` (FINN+'s ``make_weight_file``, ``internal_embedded``).

What the RTL does, and so what this module does (no threshold table, no ``sum(x >= t)``):

* ``thresholding_axi.sv`` casts each WI-bit input to the WT-bit threshold type: sign- (SIGNED) or
  zero-extended when WT >= WI, saturated to the WT-bit range when narrower.
* ``thresholding.sv`` runs a binary search of M = clog2(N + 1) pipeline stages per PE lane. Stage
  ``s`` reads its memory (CF x 2^s words, CF = C / PE the channel fold) at ``(cf << s) | i``, where
  ``cf`` is a counter rotating over the input beats and ``i`` the ``s`` result bits decided so far,
  and appends the bit ``Scope && (T <= x)`` (a signed or unsigned WT-bit comparison). ``Scope``
  masks the thresholds FINN+ padded to 2^M - 1 with zeros (index >= N). After M stages the M bits
  are the count of thresholds <= x; the output is that count + BIAS in O_BITS bits.

So the memory of stage ``s`` must hold, at ``(cf << s) | i``, threshold ``(i << (M - s)) + 2^(M-s-1) - 1``
of channel ``cf * PE + pe`` — the layout FINN+ 1.6.1's ``make_weight_file`` writes for B = the output
datatype's bit width. Where B > M (e.g. 7 thresholds into UINT4) the RTL reads the files with another
layout than they were written in; this module computes what the RTL reads, so such a layer is not
bit-exact here either (the tiny and the shipped model's layers all have N = 2^B - 1, i.e. B = M).
numpy only, Python 3.8 compatible (runs on the board).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Callable, Dict, List, Sequence, Union

import numpy as np

from ..deploy import dtype_bits
from ..deploy.files import MAX_SOURCE_BYTES, check_name, inside, read_text
from ..errors import HwsqueezeError
from .hwsources import read_threshold_memory

__all__ = ["thresholding", "read_thresholding_params", "cast_input", "binary_search", "clog2"]

_PARAM = re.compile(r"parameter\s+([A-Z_]{1,32})\s*=\s*(-?\d{1,9}(?!\d)|\"[^\"\n]{0,300}\")")
_NEEDED = ("WI", "WT", "N", "C", "PE", "SIGNED", "FPARG", "BIAS", "SETS", "THRESHOLDS_PATH")


def clog2(n: int) -> int:
    """Verilog's ``$clog2``: ceil(log2(n)), 0 for n <= 1."""
    return max(0, int(n) - 1).bit_length()


def read_thresholding_params(path: Path) -> Dict[str, Union[int, str]]:
    """The parameters of a generated ``Thresholding_rtl`` top (``<layer>.v``): integers, and
    ``THRESHOLDS_PATH`` as the string between its quotes."""
    text = read_text(Path(path), MAX_SOURCE_BYTES, f"generated thresholding top missing: {path}")
    found: Dict[str, Union[int, str]] = {}
    for key, val in _PARAM.findall(text):
        found.setdefault(key, val[1:-1] if val.startswith('"') else int(val))
    missing = [k for k in _NEEDED if k not in found]
    if missing:
        raise HwsqueezeError(f"{path}: no generated thresholding parameter {missing[0]}")
    return found


def cast_input(x: np.ndarray, wi: int, wt: int, signed: bool) -> np.ndarray:
    """``thresholding_axi.sv``: the low WI bits of each stream element, as the WT-bit value the
    comparators see (extension keeps the value; narrowing saturates — for a signed input ``{sign,
    WT-1 x !sign}`` where the dropped bits are not all sign copies, i.e. the WT-bit minimum or maximum)."""
    raw = np.asarray(x, dtype=np.int64) & ((1 << wi) - 1)
    val = raw - ((raw >> (wi - 1)) << wi) if signed else raw
    if wt >= wi:
        return val
    lo, hi = (-(1 << (wt - 1)), (1 << (wt - 1)) - 1) if signed else (0, (1 << wt) - 1)
    return np.clip(val, lo, hi)


def binary_search(v: np.ndarray, fold: np.ndarray, mems: Sequence[np.ndarray], n: int, wt: int,
                  signed: bool) -> np.ndarray:
    """``thresholding.sv``'s search: ``v`` (beats, PE) inputs already cast to WT bits, ``fold`` (beats,)
    the channel-fold counter of each beat, ``mems[s]`` (PE, CF << s) the raw WT-bit words of stage ``s``
    (M = clog2(N + 1) stages). Returns the M-bit result per lane: how many thresholds are <= v."""
    m = clog2(n + 1)
    if len(mems) != m:
        raise HwsqueezeError(f"{m} binary-search stages for {n} thresholds, {len(mems)} memories given")
    lanes = np.arange(v.shape[1])[None, :]
    cf = np.asarray(fold, dtype=np.int64)[:, None]
    ptr = np.zeros(v.shape, dtype=np.int64)  # the result bits decided so far, most significant first
    for s, mem in enumerate(mems):
        t = mem[lanes, (cf << s) | ptr]
        if signed:
            t = t - ((t >> (wt - 1)) << wt)  # $signed(Thresh)
        scope_reduce = ((1 << (m - s - 1)) + (1 << m) - 1 - n) >> (m - s)
        in_scope = ptr < (1 << s) - scope_reduce  # threshold (ptr << (m-s)) + 2^(m-s-1) - 1 exists (< N)
        ptr = (ptr << 1) | (in_scope & (t <= v))
    return ptr


def _o_bits(n: int, bias: int) -> int:
    """``thresholding.sv``'s output width."""
    if bias >= 0:
        return clog2(n + bias + 1)
    return 1 + clog2(-bias if -bias >= n + bias + 1 else n + bias + 1)


def thresholding(node: dict, layer_dir: Path) -> Callable[[List[np.ndarray]], List[np.ndarray]]:
    a, d, name = node["attrs"], Path(layer_dir), node["name"]
    kind = node.get("op_type", "Thresholding_rtl")
    if kind != "Thresholding_rtl":  # the HLS kernel's sources (thresh.h, top_*.cpp) are another story
        raise HwsqueezeError(f"{name}: layer {str(kind)[:40]!r} is not supported by the emulated board (its RTL "
                             "Thresholding_rtl is)")
    top = inside(d, f"{name}.v")
    p = read_thresholding_params(top)
    wi, wt, n, c, pe, signed, bias = (int(p[k]) for k in ("WI", "WT", "N", "C", "PE", "SIGNED", "BIAS"))
    if int(p["FPARG"]) or int(p["SETS"]) != 1:
        raise HwsqueezeError(f"{name}: floating-point inputs or several threshold sets (FPARG {p['FPARG']}, SETS "
                             f"{p['SETS']}) are not supported by the emulator")
    in_bits, in_signed = dtype_bits(a["inputDataType"])
    channels = int(a["NumChannels"])
    graph = {"WI": in_bits, "WT": dtype_bits(a["weightDataType"])[0], "N": int(a["numSteps"]), "PE": int(a["PE"]),
             "SIGNED": int(in_signed), "BIAS": int(a.get("ActVal", 0))}
    for key, val in graph.items():
        if int(p[key]) != val:
            raise HwsqueezeError(f"{name}: generated sources say {key}={p[key]}, graph.json {val}")
    if not (1 <= wi <= 62 and 1 <= wt <= 62 and 1 <= n < 1 << 24 and pe >= 1):
        raise HwsqueezeError(f"{top}: WI {wi}, WT {wt}, N {n}, PE {pe} are outside what the emulator supports")
    if c % pe or channels % pe or c not in (channels, pe):  # C = PE: one threshold set shared by every channel
        raise HwsqueezeError(f"{top}: C {c} with PE {pe} does not fit NumChannels {channels}")
    prefix = str(p["THRESHOLDS_PATH"])
    prefix = prefix[2:] if prefix.startswith("./") else prefix
    if not prefix:
        raise HwsqueezeError(f"{top}: THRESHOLDS_PATH is empty: the threshold memories have no initial contents")
    cf, m = c // pe, clog2(n + 1)
    mems = []
    for s in range(m):
        files = [inside(d, check_name(f"{prefix}threshs_{lane}_{s}.dat", f"{top}: THRESHOLDS_PATH"))
                 for lane in range(pe)]
        mems.append(np.stack([read_threshold_memory(f, cf << s, wt) for f in files]))
    o_bits = _o_bits(n, bias)

    def run(xs):
        x = xs[0]
        beats = x.reshape(-1, pe)  # the stream: channels of a pixel in order, PE per beat
        fold = np.arange(len(beats)) % cf  # CnlCnt: rotates once per accepted beat
        out = (binary_search(cast_input(beats, wi, wt, bool(signed)), fold, mems, n, wt, bool(signed)) + bias) \
            & ((1 << o_bits) - 1)
        if bias < 0:  # a signed output stream
            out = out - ((out >> (o_bits - 1)) << o_bits)
        return [out.reshape(x.shape)]

    return run
