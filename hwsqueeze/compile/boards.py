"""Board registry: one declarative YAML file per board in ``boards/`` at the repository root."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List

from ..errors import HwsqueezeError

__all__ = ["Board", "boards_dir", "list_boards", "load_board"]

_REQUIRED = ("name", "description", "part", "finn_board", "shell_flow", "clock_mhz", "resources")
_RESOURCES = ("lut", "ff", "bram18", "dsp", "lutram")


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


def _parse(path: Path) -> Board:
    import yaml

    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as e:
        raise HwsqueezeError(f"board file {path} is unreadable: {e}") from None
    missing = [k for k in _REQUIRED if not isinstance(raw, dict) or k not in raw]
    if missing:
        raise HwsqueezeError(f"board file {path} lacks {', '.join(missing)}")
    res = raw["resources"]
    bad = [k for k in _RESOURCES if not isinstance(res.get(k), int) or res[k] < 0]
    if bad:
        raise HwsqueezeError(f"board file {path}: resources need non-negative integers for {', '.join(bad)}")
    return Board(**{k: raw[k] for k in _REQUIRED})


def list_boards() -> List[Board]:
    return [_parse(p) for p in sorted(boards_dir().glob("*.yaml"))]


def load_board(name: str) -> Board:
    """The board called ``name``; an unknown name is an error that lists the known ones."""
    path = boards_dir() / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(b.name for b in list_boards()) or "none found"
        raise HwsqueezeError(f"unknown board '{name}' (known: {known})")
    return _parse(path)
