"""The emulated board's fused Fire-expand layer (``hls/fire_expand.hpp``), computed from the files code
generation wrote for it: folding from the ``FireExpand_Batch<...>`` call in ``top_<layer>.cpp``,
weights from ``params.h`` (finn-hlslib ``FixedPointWeights<SIMD, ap_int<W>, PE, TILES> weights1/3``:
``m_weights[pe][nf*SF + sf]``, element ``i`` of a word at bits ``[i*W, (i+1)*W)``, as the kernel's
``Slice`` reads it) and thresholds from ``thresh.h`` (``threshs1``/``threshs3``). The 1x1 part reads the
window's centre tap, the 3x3 part the whole window; output ``[1x1 | 3x3]``. numpy only.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Callable, List

import numpy as np

from ..deploy.files import MAX_SOURCE_BYTES, inside, read_text, sources
from ..errors import HwsqueezeError
from .hwcompute import folded_mvau
from .hwsources import parse_thresholds

__all__ = ["fire_expand", "read_fixed_point_weights"]

_N = r"(\d{1,9})"  # at most 9 digits: bounded figures (longer ones would not match, and are refused)
_CALL = re.compile(r"FireExpand_Batch<\s*" + r"\s*,\s*".join([_N] * 9) + r"(?!\d)")
_DECL = re.compile(r"FixedPointWeights<\s*" + _N + r"\s*,\s*ap_int<(\d{1,2})>\s*,\s*" + _N + r"\s*,\s*" + _N
                   + r"\s*>\s*(weights[13])\s*=")
_FOLD = ("IFMChannels", "KK", "CH1", "SIMD1", "PE1", "CH3", "SIMD3", "PE3", "OutPE")


def _read(path: Path) -> str:
    return read_text(Path(path), MAX_SOURCE_BYTES, f"generated source missing: {path}")


def read_fixed_point_weights(text: str, name: str, where: str, expect=None) -> np.ndarray:
    """``name`` (``weights1``/``weights3``) of a params.h as (PE, TILES, SIMD) signed integers;
    ``expect``: the (PE, TILES, SIMD) the graph says, refused before any work if the file differs."""
    decls = list(_DECL.finditer(text))
    m = next((d for d in decls if d.group(5) == name), None)
    if m is None:
        raise HwsqueezeError(f"{where}: no FixedPointWeights declaration of {name}")
    simd, bits, pe, tiles = (int(m.group(i)) for i in range(1, 5))
    if expect is not None and (pe, tiles, simd) != tuple(expect) or not 1 <= bits <= 64:
        raise HwsqueezeError(f"{where}: {name} is declared PE {pe} x {tiles} tiles x SIMD {simd} of {bits} bits, "
                             f"expected {tuple(expect) if expect else 'at most 64 bits'}")
    end = min([d.start() for d in decls if d.start() > m.start()] + [len(text)])
    digits = re.findall(r'"0x([0-9a-fA-F]+)"', text[m.end():end])
    if any(len(h) > -(-simd * bits // 4) + 1 for h in digits):  # before int(): shifting a huge word per SIMD lane hangs
        raise HwsqueezeError(f"{where}: a {name} word is wider than SIMD {simd} x {bits} bits")
    words = [int(h, 16) for h in digits]
    if len(words) != pe * tiles:
        raise HwsqueezeError(f"{where}: {name} has {len(words)} words, expected PE {pe} x {tiles} tiles")
    out = np.empty((pe * tiles, simd), dtype=np.int64)
    for k, word in enumerate(words):  # Python integers: words can be wider than 64 bits
        for i in range(simd):
            v = (word >> (i * bits)) & ((1 << bits) - 1)
            out[k, i] = v - (1 << bits) if v >> (bits - 1) else v
    return out.reshape(pe, tiles, simd)


def fire_expand(node: dict, layer_dir: Path) -> Callable[[List[np.ndarray]], List[np.ndarray]]:
    a, d = node["attrs"], Path(layer_dir)
    tops = sources(d, d, "top_*.cpp")
    m = _CALL.search(_read(tops[0])) if tops else None
    if m is None:
        raise HwsqueezeError(f"{d}: no generated FireExpand_Batch call")
    fold = dict(zip(_FOLD, (int(g) for g in m.groups())))
    kk = int(a["KernelDim"][0]) * int(a["KernelDim"][1])
    for key, val in fold.items():
        want = kk if key == "KK" else int(a[key])
        if want != val:
            raise HwsqueezeError(f"{node['name']}: generated sources say {key}={val}, graph.json {want}")
    c = fold["IFMChannels"]
    params, thresh = _read(inside(d, "params.h")), _read(inside(d, "thresh.h"))
    chunks = thresh.split("static ThresholdsActivation")[1:]
    parts = []
    for which, mw in ((1, c), (3, kk * c)):
        pe, simd, mh = fold[f"PE{which}"], fold[f"SIMD{which}"], fold[f"CH{which}"]
        nf, sf = mh // pe, mw // simd
        w = read_fixed_point_weights(params, f"weights{which}", str(d / "params.h"), (pe, nf * sf, simd))
        if w.shape != (pe, nf * sf, simd):
            raise HwsqueezeError(f"{d / 'params.h'}: weights{which} is {w.shape}, expected {(pe, nf * sf, simd)}")
        w = w.reshape(pe, nf, sf, simd).transpose(1, 2, 0, 3)  # (NF, SF, PE, SIMD)
        chunk = next((ch for ch in chunks if re.search(rf"threshs{which}\b", ch)), None)
        if chunk is None:
            raise HwsqueezeError(f"{d / 'thresh.h'}: no threshs{which}")
        thr, act_val = parse_thresholds("ThresholdsActivation" + chunk, f"{d / 'thresh.h'} threshs{which}")
        if thr.shape[:2] != (pe, nf):
            raise HwsqueezeError(f"{d / 'thresh.h'}: threshs{which} memory {thr.shape[:2]}, expected {(pe, nf)}")
        parts.append((w, thr, act_val))
    centre = slice((kk // 2) * c, (kk // 2 + 1) * c)

    def run(xs):
        x = xs[0]
        return [np.concatenate([folded_mvau(x[..., centre], *parts[0]), folded_mvau(x, *parts[1])], axis=-1)]

    return run
