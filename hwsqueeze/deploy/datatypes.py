"""FINN integer datatype names (``UINT8``, ``INT21``, ``BIPOLAR``, ...) as the package uses them.

The deploy package names every tensor's datatype the way qonnx's ``DataType`` does; this is the
one place that turns such a name into a value range and a bit width (numpy-free).
"""
from __future__ import annotations

import re
from typing import Tuple

from ..errors import HwsqueezeError

__all__ = ["dtype_range", "dtype_bits", "is_known_dtype"]

_INT = re.compile(r"(U?)INT(\d+)")


def is_known_dtype(name: object) -> bool:
    """True for the integer datatype names the board side understands."""
    if not isinstance(name, str):
        return False
    if name in ("BIPOLAR", "BINARY"):
        return True
    m = _INT.fullmatch(name)
    return bool(m) and 1 <= int(m.group(2)) <= 64


def dtype_range(name: str) -> Tuple[int, int]:
    """(min, max) of a FINN integer datatype, e.g. ``UINT4`` -> (0, 15), ``BIPOLAR`` -> (-1, 1)."""
    if not is_known_dtype(name):
        raise HwsqueezeError(f"unsupported datatype {name!r} (integer types UINTn/INTn/BINARY/BIPOLAR only)")
    if name == "BIPOLAR":
        return -1, 1
    if name == "BINARY":
        return 0, 1
    m = _INT.fullmatch(name)
    bits = int(m.group(2))
    return (0, 2 ** bits - 1) if m.group(1) == "U" else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)


def dtype_bits(name: str) -> Tuple[int, bool]:
    """(bits per value in a stream or memory word, signed) — BIPOLAR is one bit (0 = -1)."""
    lo, hi = dtype_range(name)
    if name == "BIPOLAR":
        return 1, False
    return int(hi - lo).bit_length(), lo < 0
