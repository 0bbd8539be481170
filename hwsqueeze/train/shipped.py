"""The trained models shipped in the wheel (``hwsqueeze/default_model/``), by name.

The ``--checkpoint`` option of ``build``, ``eval``, ``export`` and ``size``
accepts a shipped model's name in place of a path: ``hwsqueeze build --checkpoint
squeezenet1_1-cifar10-w3a3``. Each is ``<name>.pt`` (weights, config, per-epoch metrics, class
names) beside ``<name>.json`` (its recipe's figures, written by ``scripts/ship_default_model.py``).
Standard library only: the CLI resolves names before torch is imported.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, Optional, Union

__all__ = ["SHIPPED", "DEFAULT", "SHIPPED_DIR", "checkpoint_path", "shipped_summary"]

SHIPPED_DIR = Path(__file__).resolve().parent.parent / "default_model"
# name -> what it is for (tests/train/test_shipped.py: exactly these files are in SHIPPED_DIR)
SHIPPED: Dict[str, str] = {
    "squeezenet1_1-cifar10-w4a4": "the default: W4A4, the most accurate",
    "squeezenet1_1-cifar10-w3a3": "the fast model: W3A3, for the highest frame rate (build it with "
                                  "--standalone-thresholds)",
}
DEFAULT = "squeezenet1_1-cifar10-w4a4"


def checkpoint_path(value: Union[str, Path, None] = None) -> Path:
    """The checkpoint file ``value`` names: None -> the default model; a shipped model's name
    (no ``.pt``) -> its file in the wheel; anything else -> that path (``./NAME`` for a file that
    happens to carry a shipped model's name)."""
    if value is None:
        return SHIPPED_DIR / f"{DEFAULT}.pt"
    if isinstance(value, str) and value in SHIPPED:
        return SHIPPED_DIR / f"{value}.pt"
    return Path(value)


def shipped_summary(name: str) -> Optional[dict]:
    """``<name>.json``'s figures (quant, test top-1, weight bytes), or None when it is missing."""
    f = SHIPPED_DIR / f"{name}.json"
    try:
        m = json.loads(f.read_text())
        return {"quant": m["quant"], "test_top1": m["qat"]["test_top1"], "weight_bytes": m["weight_bytes_dense"]}
    except (OSError, ValueError, KeyError, TypeError):
        return None
