"""Helpers shared by tests (importable as `helpers`: pytest puts tests/ on sys.path)."""
from __future__ import annotations

import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def write_image_folder(root: Path, n_per_class: int = 4, size: int = 32, classes=("cat", "dog", "ship"),
                       ext: str = "png") -> Path:
    """An ImageFolder tree {train,test}/{class}/NNNN.ext with deterministic random images."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        for c in classes:
            d = root / split / c
            d.mkdir(parents=True, exist_ok=True)
            for i in range(n_per_class):
                Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(d / f"{i:04d}.{ext}")
    return root


def make_tar(src: Path, out: Path) -> Path:
    with tarfile.open(out, "w:gz") as tf:
        for split in ("train", "test"):
            tf.add(src / split, arcname=split)
    return out


def run_cli(*args: str, cwd: Path = ROOT, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run the installed CLI the way a user does."""
    exe = Path(sys.executable).parent / "hwsqueeze"
    return subprocess.run([str(exe), *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)
