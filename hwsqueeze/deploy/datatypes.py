"""FINN integer datatype names (``UINT8``, ``INT21``, ``BIPOLAR``, ...) as the package uses them.

The deploy package names every tensor's datatype the way qonnx's ``DataType`` does; this is the
one place that turns such a name into a value range and a bit width (numpy-free), and
:class:`DataType` is the stand-in for qonnx's object that finn-plus-driver's ``idt()``/``odt()``
return (the board has no qonnx).
"""
from __future__ import annotations

import re
from typing import Tuple

from ..errors import HwsqueezeError

__all__ = ["DataType", "dtype_range", "dtype_bits", "is_known_dtype"]

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


class _ByName(type):
    def __getitem__(cls, name: str) -> "DataType":  # qonnx's spelling: DataType["UINT8"]
        return cls(name)


class DataType(metaclass=_ByName):
    """A FINN integer datatype with the methods of qonnx's ``DataType`` that driver code uses.

    Like qonnx's, it prints as its name and equals its name, so ``acc.idt() == "UINT8"``,
    ``str(acc.idt())`` and a comparison with qonnx's own ``DataType["UINT8"]`` all hold.
    """

    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        dtype_range(name)  # one error line for a name the board side does not know
        self._name = "BINARY" if name == "UINT1" else name  # qonnx's canonical name

    @property
    def name(self) -> str:
        return self._name

    def bitwidth(self) -> int:
        """Bits per value (BIPOLAR: 1)."""
        return dtype_bits(self._name)[0]

    def min(self) -> int:
        return dtype_range(self._name)[0]

    def max(self) -> int:
        return dtype_range(self._name)[1]

    def signed(self) -> bool:
        """Whether it holds negative values (qonnx's definition: BIPOLAR is signed)."""
        return self.min() < 0

    def is_integer(self) -> bool:
        return True

    def allowed(self, value):
        """True where ``value`` (a number or numpy array) is an integer within range, as qonnx's."""
        import numpy as np  # only here: the rest of this module stays numpy-free

        v = np.asarray(value)
        ok = (np.round(v) == v) & (v >= self.min()) & (v <= self.max())
        if self._name == "BIPOLAR":
            ok = ok & (v != 0)
        return bool(ok) if ok.ndim == 0 else ok

    def get_canonical_name(self) -> str:
        return self._name

    def __str__(self) -> str:
        return self._name

    __repr__ = __str__

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            return other == self._name
        name = getattr(other, "name", None)  # qonnx's DataType, or ours
        return isinstance(name, str) and name == self._name

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return hash(self._name)
