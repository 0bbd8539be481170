"""Pack/unpack FINN integer tensors to/from DMA byte buffers, numpy only.

Byte-for-byte what FINN+'s PYNQ driver does (``finn_plus_driver`` ``pack_input`` /
``unpack_output``: ``finnpy_to_packed_bytearray(..., reverse_endian=True, reverse_inner=True)``
on the folded shape): each innermost vector is one little-endian word in which value ``i``
occupies bits ``[i*b, (i+1)*b)`` as a ``b``-bit two's complement pattern, zero-padded up to
whole bytes. tests/runtime checks this against FINN's own functions.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..errors import HwsqueezeError
from .datatypes import dtype_bits, dtype_range

__all__ = ["pack", "unpack", "packed_width"]


def packed_width(n: int, dtype: str) -> int:
    """Bytes per innermost vector of ``n`` values."""
    return -(-n * dtype_bits(dtype)[0] // 8)


def pack(x: np.ndarray, dtype: str) -> np.ndarray:
    """(..., n) integers of FINN ``dtype`` -> (..., packed_width(n)) uint8."""
    b = dtype_bits(dtype)[0]
    lo, hi = dtype_range(dtype)
    x = np.asarray(x)
    if x.size and (x.min() < lo or x.max() > hi):
        raise HwsqueezeError(f"values outside {dtype} [{lo}, {hi}]: [{x.min()}, {x.max()}]")
    if dtype == "BIPOLAR":
        x = (x + 1) // 2
    n = x.shape[-1]
    nbytes = packed_width(n, dtype)
    if b == 8 and n * b == nbytes * 8:  # whole bytes: a view, no bit work
        return np.ascontiguousarray(x.astype(np.int64).astype(np.uint8))
    u = (x.astype(np.int64) & ((1 << b) - 1)).astype(np.uint64)
    bits = ((u[..., None] >> np.arange(b, dtype=np.uint64)) & np.uint64(1)).astype(np.uint8)
    bits = bits.reshape(x.shape[:-1] + (n * b,))
    pad = nbytes * 8 - n * b
    if pad:
        bits = np.concatenate([bits, np.zeros(x.shape[:-1] + (pad,), np.uint8)], axis=-1)
    return np.packbits(bits, axis=-1, bitorder="little")


def unpack(buf: np.ndarray, dtype: str, folded_shape: Sequence[int]) -> np.ndarray:
    """(..., packed bytes) uint8 -> int64 array of ``folded_shape`` (padding dropped)."""
    b, signed = dtype_bits(dtype)
    n = int(folded_shape[-1])
    buf = np.asarray(buf, dtype=np.uint8)
    if buf.shape[-1] != packed_width(n, dtype):
        raise HwsqueezeError(f"packed rows of {buf.shape[-1]} bytes, expected {packed_width(n, dtype)} for {n} x {dtype}")
    bits = np.unpackbits(buf, axis=-1, bitorder="little")[..., : n * b]
    bits = bits.reshape(buf.shape[:-1] + (n, b)).astype(np.int64)
    vals = bits @ (np.int64(1) << np.arange(b, dtype=np.int64))
    if signed:
        vals = np.where(vals >= (1 << (b - 1)), vals - (1 << b), vals)
    if dtype == "BIPOLAR":
        vals = 2 * vals - 1
    return vals.reshape(tuple(int(s) for s in folded_shape))
