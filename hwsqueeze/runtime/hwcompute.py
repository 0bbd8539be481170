"""The emulated board's MVAU arithmetic, as the HLS kernel folds it (shared by the MVAU and the fused
Fire-expand layers of :mod:`.hwmodel` / :mod:`.hwfire`; not by the reference). numpy only."""
from __future__ import annotations

import numpy as np

__all__ = ["folded_mvau"]


def folded_mvau(x: np.ndarray, w: np.ndarray, thr, act_val: int) -> np.ndarray:
    """An HLS MVAU's computation on ``x`` (..., MW): weights ``w`` (NF, SF, PE, SIMD), thresholds
    ``thr`` (PE, NF, STEPS) or None; output channel ``nf*PE + pe``."""
    nf, sf, pe, simd = w.shape
    lead = x.shape[:-1]
    pixels = x.reshape(-1, sf, simd).astype(np.int64)
    acc = np.zeros((pixels.shape[0], nf, pe), dtype=np.int64)
    for f in range(nf):  # one neuron fold at a time, as the kernel's outer loop
        for s in range(sf):  # synapse folds accumulate into the PE lanes
            acc[:, f, :] += pixels[:, s, :] @ w[f, s].T
    if thr is None:
        return acc.reshape(lead + (nf * pe,))
    out = np.full(acc.shape, act_val, dtype=np.int64)
    for step in range(thr.shape[2]):  # ThresholdsActivation: count thresholds <= acc
        out += acc >= thr[:, :, step].T[None]
    return out.reshape(lead + (nf * pe,))
