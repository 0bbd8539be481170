"""Exact weight-storage accounting (Deep Compression compatibility, Han et al. 2016).

Counts bits from actual weight tensors: float32, dense low-bit, and a sparse encoding
estimate. The sparse encoding is Deep Compression's relative-index format: every stored
entry is (value, gap to the previous stored entry) with ``index_bits``-bit gaps; a gap
longer than 2^index_bits - 1 costs a filler zero entry. Huffman coding is approximated by the
empirical entropy of the stored values and gaps (a lower bound a Huffman coder gets within
1 bit/symbol of).
"""
from __future__ import annotations

from typing import Dict, List, Optional

import numpy as np

__all__ = ["weight_storage", "sparse_entries", "entropy_bits"]


def sparse_entries(mask: np.ndarray, index_bits: int = 4) -> "tuple[int, np.ndarray]":
    """(number of stored entries incl. fillers, gaps array) for a flat boolean nonzero mask."""
    pos = np.flatnonzero(mask.ravel())
    if pos.size == 0:
        return 0, np.zeros(0, np.int64)
    gaps = np.diff(np.concatenate([[-1], pos])) - 1  # zeros skipped before each nonzero
    span = (1 << index_bits) - 1
    fillers = int(np.sum(gaps // (span + 1)))
    return int(pos.size) + fillers, np.minimum(gaps, span)


def entropy_bits(symbols: np.ndarray) -> float:
    """Total Shannon information (bits) of a symbol sequence under its empirical distribution."""
    if symbols.size == 0:
        return 0.0
    _, counts = np.unique(symbols, return_counts=True)
    p = counts / counts.sum()
    return float(-(counts * np.log2(p)).sum())


def weight_storage(layers: Dict[str, np.ndarray], biases: int, wbits: Dict[str, int],
                   sparsity: Optional[float] = None, index_bits: int = 4, seed: int = 0) -> Dict[str, object]:
    """Storage of the given conv weights.

    ``layers``: name -> weight array: integers (quantized weights) or floats (quantized here to
    ``wbits`` symmetric levels); zeros count as pruned;
    ``biases``: number of bias values (stored as 32-bit in every format, as in the paper);
    ``wbits``: name -> bit width; ``sparsity``: if given, prune each layer (except where a
    layer is already sparser) to this fraction of zeros by magnitude before counting.
    """
    rng = np.random.default_rng(seed)
    rows: List[Dict[str, object]] = []
    tot = {"weights": 0, "nonzero": 0, "float32_bytes": 0.0, "dense_bytes": 0.0, "sparse_bytes": 0.0,
           "sparse_huffman_bytes": 0.0}
    for name, w in layers.items():
        w = np.asarray(w, dtype=np.float64).ravel()
        if sparsity:
            k = int(round(sparsity * w.size))
            if k > int((w == 0).sum()):
                # magnitude pruning; ties broken randomly so counts are exact and reproducible
                order = np.lexsort((rng.random(w.size), np.abs(w)))
                w = w.copy()
                w[order[:k]] = 0.0
        b = wbits[name]
        if not np.all(w == np.round(w)):
            # float weights: symmetric uniform b-bit quantization (narrow range), as QAT exports
            qmax = max(1, (1 << (b - 1)) - 1)
            w = np.round(w / (np.abs(w).max() / qmax if np.abs(w).max() > 0 else 1.0))
        nz = w != 0
        entries, gaps = sparse_entries(nz, index_bits)
        vals = w[nz]
        sparse_bits = entries * (b + index_bits)
        huff_bits = entropy_bits(vals) + entropy_bits(gaps)
        row = {"layer": name, "weights": int(w.size), "nonzero": int(nz.sum()), "bits": b,
               "float32_bytes": w.size * 4.0, "dense_bytes": w.size * b / 8.0,
               "sparse_bytes": sparse_bits / 8.0, "sparse_huffman_bytes": min(huff_bits, sparse_bits) / 8.0}
        rows.append(row)
        for k in tot:
            tot[k] += row[k]
    for k in ("float32_bytes", "dense_bytes", "sparse_bytes", "sparse_huffman_bytes"):
        tot[k] += biases * 4.0
    tot["biases"] = biases
    return {"layers": rows, "total": tot, "index_bits": index_bits,
            "encoding": f"relative-index sparse (value + {index_bits}-bit gap, filler zeros for long gaps), "
                        "biases fp32; 'huffman' = empirical entropy of values and gaps"}
