"""Data files that ship with hwsqueeze: board files, board notebooks, the board-side HW tests.

In the source checkout they live at the top level (``boards/``, ``notebooks/``, ``tests/hw/``,
where a newcomer looks for them); a wheel carries them inside the package
(``hwsqueeze/boards`` ...; see pyproject.toml). This is the one place that knows both.
"""
from __future__ import annotations

from pathlib import Path

from .errors import HwsqueezeError

__all__ = ["resource_dir"]

_IN_CHECKOUT = {"boards": "boards", "notebooks": "notebooks", "board_tests": "tests/hw", "hls": "hls"}


def resource_dir(name: str) -> Path:
    """The folder of shipped data ``name`` (one of boards, notebooks, board_tests, hls)."""
    if name not in _IN_CHECKOUT:
        raise ValueError(f"unknown resource {name!r}")
    pkg = Path(__file__).resolve().parent
    for candidate in (pkg / name, pkg.parent / _IN_CHECKOUT[name]):
        if candidate.is_dir():
            return candidate
    raise HwsqueezeError(f"hwsqueeze's {name} folder is missing from this install (looked in {pkg / name}); "
                         "reinstall hwsqueeze")
