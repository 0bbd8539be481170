"""Board registry: one declarative YAML file per board in ``boards/``, validated field by field.

``--board`` takes a board name (``pynq-z2``), FINN's name for it (``Pynq-Z2``, ``ZCU104``,
``KV260_SOM``) or the path of a YAML file describing a custom board. Every malformed file is
refused with one line naming the file, the field and the value.
"""
from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List

from ..errors import HwsqueezeError

__all__ = ["Board", "boards_dir", "list_boards", "load_board", "MARGIN", "SHELL_FLOWS"]

_FIELDS = ("name", "description", "part", "finn_board", "shell_flow", "clock_mhz", "resources")
_RESOURCES = ("lut", "ff", "bram18", "dsp", "lutram")
_OPTIONAL_RESOURCES = ("uram",)
# The fraction of each of a board's resources a design may use (the rest: routing slack, the
# shell's variation between Vivado runs); `hwsqueeze build --margin` overrides it.
MARGIN = 0.85
SHELL_FLOWS = ("vivado_zynq",)  # FINN's Zynq shell with IODMAs: the platform the runtime drives
_CLOCK_MHZ = (10.0, 800.0)


@dataclass(frozen=True)
class Board:
    name: str
    description: str
    part: str
    finn_board: str
    shell_flow: str
    clock_mhz: float
    resources: Dict[str, int]

    @property
    def clk_ns(self) -> float:
        return 1000.0 / self.clock_mhz


def boards_dir() -> Path:
    """``$HWSQUEEZE_BOARDS`` or the shipped ``boards/`` folder (checkout or installed package)."""
    from ..resources import resource_dir

    env = os.environ.get("HWSQUEEZE_BOARDS")
    return Path(env) if env else resource_dir("boards")


def _finn_parts() -> Dict[str, str]:
    """FINN's own board -> part map for Zynq boards (what its ZynqBuild synthesises for)."""
    from finn.util.basic import pynq_part_map

    return dict(pynq_part_map)


def _fail(path: Path, key: str, what: str, value: Any = None) -> HwsqueezeError:
    got = "" if value is None else f", got {value!r}"
    return HwsqueezeError(f"board file {path}: field '{key}' {what}{got}"[:400])


def _validate(path: Path, raw: Any) -> Board:
    if not isinstance(raw, dict):
        raise HwsqueezeError(f"board file {path}: expected a mapping of fields ({', '.join(_FIELDS)})")
    unknown = sorted(set(map(str, raw)) - set(_FIELDS))
    if unknown:
        raise _fail(path, unknown[0], f"is not a board field (known: {', '.join(_FIELDS)})")
    for key in _FIELDS:
        if key not in raw:
            raise _fail(path, key, "is missing")
    for key in ("name", "description", "part", "finn_board", "shell_flow"):
        if not isinstance(raw[key], str) or not raw[key].strip():
            raise _fail(path, key, "must be a non-empty string", raw[key])
    if not re.fullmatch(r"[a-z0-9][a-z0-9_.-]*", raw["name"]):
        raise _fail(path, "name", "must be lower-case letters, digits, '-', '_' or '.'", raw["name"])
    if raw["shell_flow"] not in SHELL_FLOWS:
        raise _fail(path, "shell_flow", f"must be one of {', '.join(SHELL_FLOWS)} (FINN's Zynq IODMA shell)",
                    raw["shell_flow"])
    clock = raw["clock_mhz"]
    if isinstance(clock, bool) or not isinstance(clock, (int, float)) or not math.isfinite(clock) \
            or not _CLOCK_MHZ[0] <= clock <= _CLOCK_MHZ[1]:
        raise _fail(path, "clock_mhz", f"must be a number of MHz in [{_CLOCK_MHZ[0]:g}, {_CLOCK_MHZ[1]:g}]", clock)
    res = raw["resources"]
    if not isinstance(res, dict):
        raise _fail(path, "resources", "must be a mapping (lut, ff, bram18, dsp, lutram)", res)
    for key in sorted(set(map(str, res)) - set(_RESOURCES + _OPTIONAL_RESOURCES)):
        raise _fail(path, f"resources.{key}", f"is not a resource (known: {', '.join(_RESOURCES + _OPTIONAL_RESOURCES)})")
    for key in _RESOURCES + _OPTIONAL_RESOURCES:
        if key not in res and key in _OPTIONAL_RESOURCES:
            continue
        v = res.get(key)
        if isinstance(v, bool) or not isinstance(v, int) or v < 0 or (key == "lut" and v == 0):
            raise _fail(path, f"resources.{key}", "must be a non-negative integer" if key != "lut" else
                        "must be a positive integer", v)
    parts = _finn_parts()
    if raw["finn_board"] not in parts:
        raise _fail(path, "finn_board", f"is not a Zynq board FINN+ knows ({', '.join(sorted(parts))})",
                    raw["finn_board"])
    if parts[raw["finn_board"]] != raw["part"]:
        raise _fail(path, "part", f"does not match FINN's part for {raw['finn_board']} "
                                  f"({parts[raw['finn_board']]})", raw["part"])
    return Board(name=raw["name"], description=raw["description"], part=raw["part"], finn_board=raw["finn_board"],
                 shell_flow=raw["shell_flow"], clock_mhz=float(clock), resources={k: int(v) for k, v in res.items()})


def _parse(path: Path) -> Board:
    import yaml

    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError) as e:
        raise HwsqueezeError(f"board file {path} is unreadable ({e})") from None
    except yaml.YAMLError as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise HwsqueezeError(f"board file {path} is not valid YAML ({first})") from None
    return _validate(path, raw)


def list_boards() -> List[Board]:
    return [_parse(p) for p in sorted(boards_dir().glob("*.yaml"))]


def load_board(name: str) -> Board:
    """The board called ``name`` (ours or FINN's name, case-insensitive), or a YAML file's board."""
    if name.endswith((".yaml", ".yml")) or os.sep in name:
        path = Path(name)
        if not path.is_file():
            raise HwsqueezeError(f"board file not found: {path}")
        return _parse(path)
    path = boards_dir() / f"{name}.yaml"
    if path.is_file():
        return _parse(path)
    boards = list_boards()
    for b in boards:  # aliases: FINN's board names, any case
        if name.lower() in (b.name.lower(), b.finn_board.lower()):
            return b
    known = ", ".join(f"{b.name} ({b.finn_board})" for b in boards) or "none found"
    raise HwsqueezeError(f"unknown board '{name}' (known: {known}; or give a board .yaml file)")
