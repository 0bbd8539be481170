"""Results of a simulation run and ``build/<board>/simulation.json``.

Schema (one entry for every HW layer of the built graph that was asked for)::

    {"layers": [{"name", "op_type", "backend": "hls"|"rtl", "simulator": "cppsim"|"verilator",
                 "images": N, "bit_exact": bool, "note"}],
     "network": {"simulator", "images", "bit_exact", ...},
     "env": {...}, "timing_s": {...}}
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np

__all__ = ["LayerResult", "NetworkResult", "Report"]


def _compare(got: Dict[str, np.ndarray], want: Dict[str, np.ndarray]) -> tuple[bool, int, float]:
    """(equal, number of differing elements, max |diff|) over all named tensors."""
    diff, worst = 0, 0.0
    for k, w in want.items():
        g = np.asarray(got[k], dtype=np.float64).reshape(np.shape(w))
        d = np.abs(g - np.asarray(w, dtype=np.float64))
        diff += int((d != 0).sum())
        worst = max(worst, float(d.max()) if d.size else 0.0)
    return diff == 0, diff, worst


@dataclass
class LayerResult:
    name: str
    op_type: str
    backend: str
    simulator: str
    images: int = 0
    mismatched_images: int = 0
    max_abs_diff: float = 0.0
    error: str = ""
    note: str = ""

    def record(self, got: Dict[str, np.ndarray], want: Dict[str, np.ndarray]) -> None:
        ok, _n, worst = _compare(got, want)
        self.images += 1
        self.mismatched_images += 0 if ok else 1
        self.max_abs_diff = max(self.max_abs_diff, worst)

    @property
    def bit_exact(self) -> bool:
        return not self.error and self.images > 0 and self.mismatched_images == 0

    def to_json(self) -> Dict[str, Any]:
        note = self.error or (f"{self.mismatched_images}/{self.images} images differ, max |diff| "
                              f"{self.max_abs_diff:g}" if self.mismatched_images else "")
        if self.note:
            note = f"{note}; {self.note}" if note else self.note
        return {"name": self.name, "op_type": self.op_type, "backend": self.backend, "simulator": self.simulator,
                "images": self.images, "bit_exact": self.bit_exact, "note": note}


@dataclass
class NetworkResult(LayerResult):
    def __init__(self, simulator: str) -> None:
        super().__init__("network", "", "", simulator)
        self.seconds_per_image = 0.0

    def to_json(self) -> Dict[str, Any]:
        d = {"simulator": self.simulator, "images": self.images, "bit_exact": self.bit_exact,
             "seconds_per_image": round(self.seconds_per_image, 3),
             "against": "FINN+ Python execution of the HW graph (build-verified against the streamlined model)"}
        if self.error or self.mismatched_images:
            d["note"] = self.error or f"{self.mismatched_images}/{self.images} images differ"
        return d


@dataclass
class Report:
    board: str
    env: Any
    layers: List[LayerResult] = field(default_factory=list)
    network: Optional[NetworkResult] = None
    compile_s: float = 0.0
    layers_s: float = 0.0
    compiled_cached: int = 0
    fault: str = ""
    images_source: str = ""

    @property
    def ok(self) -> bool:
        return all(r.bit_exact for r in self.layers) and (self.network is None or self.network.bit_exact)

    def summary(self) -> Dict[str, Any]:
        by = {}
        for r in self.layers:
            s = by.setdefault(r.simulator, [0, 0])
            s[0] += r.bit_exact
            s[1] += 1
        return {k: f"{v[0]}/{v[1]} bit-exact" for k, v in by.items()}

    def to_json(self) -> Dict[str, Any]:
        e = self.env
        return {
            "layers": [r.to_json() for r in self.layers],
            "network": self.network.to_json() if self.network else None,
            "ok": self.ok,
            "images_source": self.images_source,
            "summary": self.summary(),
            "env": {"xilinx_hls": str(e.xilinx_hls), "vitis_standins": e.standins, "finn_hlslib": e.hlslib_origin,
                    "finn_hlslib_patches": e.patches, "cache": str(e.cache)},
            "timing_s": {"build_simulators": round(self.compile_s, 1), "layers": round(self.layers_s, 1),
                         "cached_simulators": self.compiled_cached},
        }

    def write(self, path: Path) -> Path:
        path = Path(path)
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=1) + "\n")
        tmp.replace(path)
        return path
