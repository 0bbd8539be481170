"""``driver/settings.json``: FINN+'s own driver settings (``MakePYNQDriver``), read here only.

It is what finn-plus-driver's ``FINNDMAOverlay`` is built from, so it owns FINN's view of the
accelerator's ports: datatypes and the normal/folded/packed shapes (the output's normal shape is
FINN's ``(1, 1, 1, 10)``, where ``deploy.json`` keeps the logits' ``(1, 10)``). The build takes
``deploy.json``'s streams from it (compile/driver.py); the runtime's FINN-named methods read it
(runtime/finn_compat.py). numpy-free, Python 3.8: it ships to the board.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Tuple, Union

from ..errors import HwsqueezeError
from .datatypes import is_known_dtype
from .files import inside
from .package import FINN_SETTINGS, _Fields, read_json

__all__ = ["FinnPort", "FinnSettings", "parse_finn_settings", "read_finn_settings"]


@dataclass(frozen=True)
class FinnPort:
    """One port as finn-plus-driver sees it; shapes batch-first with batch 1."""

    dma: str
    dtype: str  # a FINN datatype name, e.g. "UINT8" (settings.json writes "DataType['UINT8']")
    shape_normal: Tuple[int, ...]
    shape_folded: Tuple[int, ...]
    shape_packed: Tuple[int, ...]


@dataclass(frozen=True)
class FinnSettings:
    """What ``driver/settings.json``'s ``driver_information`` says about the accelerator."""

    driver_type: str
    platform: str
    fclk_mhz: float
    input: FinnPort
    output: FinnPort


def _dtype_name(f: _Fields, key: str) -> str:
    text = f.string(key)
    name = text[len("DataType['"):-len("']")] if text.startswith("DataType['") and text.endswith("']") else text
    if not is_known_dtype(name):
        raise f.fail(key, "must be a FINN integer datatype such as DataType['UINT8']", text)
    return name


def _port(f: _Fields, k: str) -> FinnPort:
    """Port ``k`` ("i" or "o"): FINN writes a count and one list entry per port; we support one."""
    io = "driver_information.io_shape_dict."
    count_key = io + ("num_inputs" if k == "i" else "num_outputs")
    if f.get(count_key) != 1:
        raise f.fail(count_key, "must be 1 (the deploy package supports one input and one output)", f.get(count_key))
    first = {}
    for name in ("dt", "dma_names", "shape_normal", "shape_folded", "shape_packed"):
        v = f.get(io + k + name)
        if not isinstance(v, list) or len(v) != 1:
            raise f.fail(io + k + name, "must be a list of one entry (one port)", v)
        first[k + name] = v[0]
    one = _Fields(f.path, {"driver_information": {"io_shape_dict": first}})  # errors name the same fields
    return FinnPort(dma=one.string(io + k + "dma_names"), dtype=_dtype_name(one, io + k + "dt"),
                    shape_normal=one.shape(io + k + "shape_normal"), shape_folded=one.shape(io + k + "shape_folded"),
                    shape_packed=one.shape(io + k + "shape_packed"))


def parse_finn_settings(obj: dict, where: Union[str, Path]) -> FinnSettings:
    """The settings in ``obj`` (settings.json's content), validated; errors name ``where`` and the field."""
    f = _Fields(Path(where), obj)
    info = "driver_information."
    return FinnSettings(driver_type=f.string(info + "driver_type"), platform=f.string(info + "platform"),
                        fclk_mhz=f.number(info + "fclk_mhz"), input=_port(f, "i"), output=_port(f, "o"))


def read_finn_settings(root: Union[str, Path]) -> FinnSettings:
    """``driver/settings.json`` of the deploy package at ``root`` (one-line error when missing or malformed)."""
    path = Path(root) / FINN_SETTINGS
    obj = read_json(inside(root, FINN_SETTINGS), f"{path} is missing: FINN's driver view of the accelerator "
                    "needs it (rebuild the package)")
    if not isinstance(obj.get("driver_information"), dict):
        raise HwsqueezeError(f"{path}: field 'driver_information' is missing (not FINN's settings.json?)")
    return parse_finn_settings(obj, path)
