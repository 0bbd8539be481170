"""The deploy package's sample images: read here only (the build writes them in compile/assemble.py).

``samples/images.npy`` (uint8 NHWC), ``samples/labels.json`` (labels, whether they are real test
images or synthetic, where they came from) and ``samples/expected_outputs.npy`` (FINN+'s own
execution of the HW graph on them at build time). numpy only: it runs on the board.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Union

import numpy as np

from ..errors import HwsqueezeError
from .package import SAMPLE_EXPECTED, SAMPLE_IMAGES, SAMPLE_LABELS, read_json

__all__ = ["Samples", "read_samples"]


@dataclass(frozen=True)
class Samples:
    """The package's sample images, their labels and FINN+'s outputs for them."""

    images: np.ndarray  # uint8 NHWC
    labels: Optional[np.ndarray]  # None when the package records none
    synthetic: bool  # True: generated shapes, not photographs; labels are not the model's classes
    source: str  # where the images came from, in words
    classes: Optional[List[str]]
    expected: Optional[np.ndarray]  # FINN+'s outputs at build time (None in packages without them)

    def describe(self) -> str:
        """One phrase for reports: how many images and what they are."""
        kind = "synthetic images (generated shapes)" if self.synthetic else "real test images with true labels"
        return f"{len(self.images)} {kind}"


def _load(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise HwsqueezeError(f"{path} is corrupt ({str(e).splitlines()[0][:120]})") from None


def read_samples(root: Union[str, Path], n: Optional[int] = None) -> Samples:
    """The first ``n`` (default all) sample images of the deploy package at ``root``.

    A package without ``labels.json`` (made before it existed) reads as synthetic and unlabelled:
    nothing claims its images are real.
    """
    root = Path(root)
    path = root / SAMPLE_IMAGES
    if not path.is_file():
        raise HwsqueezeError(f"{path} is missing: the deploy package has no sample images (rebuild it)")
    images = _load(path)
    if images.dtype != np.uint8 or images.ndim != 4:
        raise HwsqueezeError(f"{path}: expected uint8 NHWC images, found {images.dtype} {images.shape}")
    info = read_json(root / SAMPLE_LABELS, "") if (root / SAMPLE_LABELS).is_file() else {}
    labels = np.asarray(info["labels"], dtype=np.int64) if isinstance(info.get("labels"), list) else None
    if labels is not None and len(labels) != len(images):
        raise HwsqueezeError(f"{root / SAMPLE_LABELS}: {len(labels)} labels for {len(images)} images")
    expected = _load(root / SAMPLE_EXPECTED) if (root / SAMPLE_EXPECTED).is_file() else None
    if expected is not None and len(expected) != len(images):
        raise HwsqueezeError(f"{root / SAMPLE_EXPECTED}: {len(expected)} outputs for {len(images)} images")
    k = len(images) if n is None else min(int(n), len(images))
    synthetic = bool(info.get("synthetic", True))
    return Samples(images=images[:k], labels=None if labels is None else labels[:k], synthetic=synthetic,
                   source=str(info.get("source", "unknown (no labels.json)")), classes=info.get("classes"),
                   expected=None if expected is None else expected[:k])
