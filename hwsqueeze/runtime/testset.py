"""Labelled test images on the board, for accuracy from the deploy package alone (numpy + Pillow).

A folder or a ``.tar``/``.tar.gz`` archive laid out as ``[<root>/]<split>/<class>/<image>`` (the
CIFAR-10 JPEG archive's layout: ``test/airplane/0000.jpg``) or, without split folders, as
``<class>/<image>``. Labels are the package's class indices, matched by folder name; ``n`` images
are drawn round-robin over the classes (:func:`balanced_indices`: the same images ``hwsqueeze
verify --data`` draws) and only those are decoded. Each image is centre-cropped to a square and
resized to the model's input, as ``classify`` does (a no-op for CIFAR-10's 32x32 images).
The host's training data loader (``hwsqueeze.data``) is not on the board; this is. Python 3.8.
"""
from __future__ import annotations

import io
import os
import stat
import tarfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

from ..errors import HwsqueezeError

__all__ = ["IMAGE_EXTS", "MAX_IMAGE_BYTES", "MAX_IMAGE_PIXELS", "TestImages", "balanced_indices", "decode_image",
           "load_test_images"]

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp")
MAX_IMAGE_BYTES = 16 << 20  # one image file (a CIFAR-10 JPEG is ~1 kB): larger is refused unread
MAX_IMAGE_PIXELS = 50_000_000  # an image's declared size, checked before it is decoded (a 50 MP photo)
_SPLITS = ("train", "test", "val")


@dataclass(frozen=True)
class TestImages:
    """``n`` labelled images drawn from a test set."""

    __test__ = False  # not a pytest test class, whatever its name

    images: np.ndarray  # uint8 NHWC, the model's input size
    labels: np.ndarray  # int64 class indices (into ``classes``)
    classes: List[str]  # the label names: the package's classes when it has them
    source: str  # where they came from
    available: int  # images of the split in the source; ``len(images)`` of them were drawn

    def coverage(self) -> str:
        """E.g. ``n = 1000 of 10000 test images, 10 of 10 classes``."""
        return (f"n = {len(self.labels)} of {self.available} test images, "
                f"{len(np.unique(self.labels))} of {len(self.classes)} classes")


def balanced_indices(labels: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """``n`` indices drawn round-robin over the classes (each class's order shuffled with
    ``seed``), so any n covers as many classes as possible; sorted for sequential reads."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    per_class = [rng.permutation(np.flatnonzero(labels == c)) for c in np.unique(labels)]
    picked: List[int] = []
    for rank in range(max((len(p) for p in per_class), default=0)):
        picked.extend(int(p[rank]) for p in per_class if rank < len(p))
        if len(picked) >= n:
            break
    return np.sort(np.asarray(picked[:n], dtype=np.int64))


def decode_image(data: bytes, name: str, size: int) -> np.ndarray:
    """An image file's bytes -> uint8 (size, size, 3) RGB: centre square crop, bilinear resize.
    Its declared pixel count is checked before anything is decoded (decompression bombs)."""
    try:
        from PIL import Image
    except ImportError:
        raise HwsqueezeError("reading image files needs Pillow (PYNQ images have it)") from None
    if len(data) > MAX_IMAGE_BYTES:
        raise HwsqueezeError(f"{name}: {len(data)} bytes, more than the {MAX_IMAGE_BYTES >> 20} MiB limit for an image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
            if im.width * im.height > MAX_IMAGE_PIXELS:  # the header's claim, before decoding allocates it
                raise HwsqueezeError(f"{name}: {im.width}x{im.height} pixels, more than the limit of "
                                     f"{MAX_IMAGE_PIXELS:,}")
            im = im.convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombWarning, Image.DecompressionBombError) as e:
        why = str(e).splitlines()[0][:120] if str(e) else type(e).__name__
        raise HwsqueezeError(f"{name}: not a readable image ({why})") from None
    side = min(im.size)
    if im.size != (side, side):
        im = im.crop(((im.width - side) // 2, (im.height - side) // 2, (im.width + side) // 2,
                      (im.height + side) // 2))
    if side != size:
        im = im.resize((size, size), Image.BILINEAR)
    return np.asarray(im, dtype=np.uint8)


def _is_image(name: str) -> bool:
    return name.lower().endswith(IMAGE_EXTS)


def _list(path: Path) -> List[str]:
    """Relative names ('test/cat/0001.jpg') of the image files in a folder or tar archive."""
    if path.is_dir():
        return sorted(str(p.relative_to(path)).replace(os.sep, "/") for p in path.rglob("*")
                      if _is_image(p.name) and p.is_file())
    try:
        with tarfile.open(path, "r:*") as tf:
            return sorted(m.name for m in tf if m.isfile() and _is_image(m.name))
    except (tarfile.TarError, EOFError, OSError) as e:
        raise HwsqueezeError(f"{path}: not an image folder or a readable tar archive ({e})") from None


def _read(path: Path, wanted: Sequence[str]) -> Iterator[Tuple[str, bytes]]:
    """(name, bytes) of the ``wanted`` image files, in the source's order; each read bounded."""
    want = set(wanted)
    if path.is_dir():
        for name in sorted(want):
            p = path / name
            st = os.stat(p)
            if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_IMAGE_BYTES:
                raise HwsqueezeError(f"{p}: not a regular image file of at most {MAX_IMAGE_BYTES >> 20} MiB")
            with open(p, "rb") as f:
                yield name, f.read(MAX_IMAGE_BYTES + 1)
        return
    try:
        with tarfile.open(path, "r:*") as tf:  # one pass: seeking back in a .gz would decompress again
            for m in tf:
                if m.name in want and m.isfile():
                    if m.size > MAX_IMAGE_BYTES:
                        raise HwsqueezeError(f"{path}:{m.name}: {m.size} bytes, more than the "
                                             f"{MAX_IMAGE_BYTES >> 20} MiB limit for an image")
                    f = tf.extractfile(m)
                    if f is not None:
                        yield m.name, f.read()
    except (tarfile.TarError, EOFError, OSError) as e:
        raise HwsqueezeError(f"{path}: not a readable tar archive ({e})") from None


def load_test_images(path: Union[str, Path], size: int, classes: Optional[Sequence[str]] = None,
                     n: Optional[int] = None, split: str = "test") -> TestImages:
    """``n`` (default all) images of ``split`` from the folder or archive ``path``, drawn across its
    classes, as the model's ``size`` x ``size`` input; labelled with ``classes``' indices (the
    package's class names: every class folder must be one of them), else the sorted folder names."""
    p = Path(path)
    if not p.exists():
        raise HwsqueezeError(f"test images not found: {path}")
    if n is not None and (isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1):
        raise HwsqueezeError(f"the number of test images must be a positive integer or None (all), got {n!r}")
    names = [name.split("/") for name in _list(p)]
    in_split = [parts for parts in names if len(parts) >= 3 and parts[-3] == split]
    if not in_split and any(len(parts) >= 3 and parts[-3] in _SPLITS for parts in names):
        raise HwsqueezeError(f"{path}: no '{split}/<class>/' folder (it has "
                             f"{sorted({parts[-3] for parts in names if len(parts) >= 3})})")
    files = in_split or [parts for parts in names if len(parts) >= 2]
    if not files:
        raise HwsqueezeError(f"{path}: no images under '{split}/<class>/' or '<class>/' "
                             f"({', '.join(IMAGE_EXTS)})")
    folders = sorted({parts[-2] for parts in files})
    names_of = list(classes) if classes else folders
    unknown = [c for c in folders if c not in names_of]
    if unknown:
        raise HwsqueezeError(f"{path}: class folder {unknown[0]!r} is not one of the model's classes "
                             f"({', '.join(names_of[:10])}{' ...' if len(names_of) > 10 else ''})")
    index: Dict[str, int] = {c: i for i, c in enumerate(names_of)}
    files.sort(key=lambda parts: (index[parts[-2]], "/".join(parts)))
    labels = np.array([index[parts[-2]] for parts in files], dtype=np.int64)
    idx = balanced_indices(labels, len(files) if n is None else int(n))
    chosen = ["/".join(files[i]) for i in idx]
    data = dict(_read(p, chosen))
    images = np.stack([decode_image(data[name], f"{path}:{name}", size) for name in chosen])
    return TestImages(images=images, labels=labels[idx], classes=names_of, source=str(path), available=len(files))
