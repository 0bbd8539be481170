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
from .files import MAX_ARRAY_BYTES, inside, load_npy
from .package import DEPLOY_JSON, SAMPLE_EXPECTED, SAMPLE_IMAGES, SAMPLE_LABELS, read_json, read_meta

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


MAX_SAMPLES = 10_000  # images a package may ship (builds write 16)


def read_samples(root: Union[str, Path], n: Optional[int] = None) -> Samples:
    """The first ``n`` (default all) sample images of the deploy package at ``root``.

    A package without ``labels.json`` (made before it existed) reads as synthetic and unlabelled:
    nothing claims its images are real.
    """
    root = Path(root)
    # deploy.json says what the images and outputs must look like (absent only in hand-made test folders)
    meta = read_meta(root) if (root / DEPLOY_JSON).exists() else None
    if n is not None and not (isinstance(n, int) and n >= 1):
        raise HwsqueezeError(f"the number of sample images must be a positive integer, got {n!r}")
    path = root / SAMPLE_IMAGES
    images = load_npy(inside(root, SAMPLE_IMAGES), f"{path} is missing: the deploy package has no sample images "
                      "(rebuild it)", limit=MAX_SAMPLES * int(np.prod(meta.input.normal)) if meta else MAX_ARRAY_BYTES)
    want = meta.input.normal if meta else images.shape[1:4]
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != want or not len(images):
        raise HwsqueezeError(f"{path}: expected uint8 NHWC images of shape (N, {', '.join(map(str, want))}), found "
                             f"{images.dtype} {images.shape}")
    lpath, classes = inside(root, SAMPLE_LABELS), meta.num_outputs if meta else None
    info = read_json(lpath, "") if lpath.exists() else {}
    labels = info.get("labels")
    if labels is not None and (not isinstance(labels, list) or not all(
            isinstance(c, int) and not isinstance(c, bool) and 0 <= c < (classes or c + 1) for c in labels)):
        raise HwsqueezeError(f"{root / SAMPLE_LABELS}: field 'labels' must be null or a list of class indices"
                             + (f" in [0, {classes})" if classes else ""))
    if labels is not None and len(labels) != len(images):
        raise HwsqueezeError(f"{root / SAMPLE_LABELS}: {len(labels)} labels for {len(images)} images")
    names = info.get("classes")
    if names is not None and not (isinstance(names, list) and all(isinstance(c, str) for c in names)):
        raise HwsqueezeError(f"{root / SAMPLE_LABELS}: field 'classes' must be null or a list of names")
    epath = inside(root, SAMPLE_EXPECTED)
    expected = load_npy(epath, "", limit=MAX_SAMPLES * (classes or 1 << 16) * 8) if epath.exists() else None
    if expected is not None and (expected.dtype.kind not in "iu" or expected.ndim < 1 or len(expected) != len(images)
                                 or expected[0].size != (classes or expected[0].size)):
        raise HwsqueezeError(f"{root / SAMPLE_EXPECTED}: expected integer outputs of shape ({len(images)}, "
                             f"{classes or 'outputs'}), found {expected.dtype} {expected.shape}")
    k = len(images) if n is None else min(n, len(images))
    synthetic = info.get("synthetic", True) is not False  # only an explicit false claims real images
    return Samples(images=images[:k], labels=None if labels is None else np.asarray(labels[:k], dtype=np.int64),
                   synthetic=synthetic, source=str(info.get("source", "unknown (no labels.json)"))[:200],
                   classes=names, expected=None if expected is None else expected[:k])
