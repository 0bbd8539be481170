"""Dataset sources and the decode-once uint8 cache."""
from __future__ import annotations

import hashlib
import io
import os
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple

import numpy as np

from ..errors import HwsqueezeError
from ..fsutil import atomic_write
from .cifar import CIFAR10_CLASSES, load_cifar_batch

__all__ = ["CIFAR10_CLASSES", "Dataset", "load_dataset", "generate_dataset", "cache_dir", "check_dataset",
           "check_memory"]

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp")
MAX_IMAGE_BYTES = 16 << 20  # one image file (a 32x32 PNG is ~3 kB): larger is refused unread
MAX_IMAGE_PIXELS = 1 << 24  # checked from the header, before any pixel is decoded


@dataclass
class Dataset:
    """``images``: uint8 (N, H, W, 3); ``labels``: int64 (N,); ``classes``: label names."""

    images: np.ndarray
    labels: np.ndarray
    classes: List[str]
    source: str = ""

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def subset(self, n: Optional[int]) -> "Dataset":
        """The first ``n`` images of a class-balanced deterministic order (all when ``n`` is None)."""
        if n is not None and n < 1:
            raise HwsqueezeError(f"cannot take the first {n} images: N must be >= 1")
        if n is None or n >= len(self):
            return self
        order = np.lexsort((np.arange(len(self)), _interleave(self.labels)))
        idx = np.sort(order[:n])
        return Dataset(self.images[idx], self.labels[idx], self.classes, self.source)


def check_dataset(ds: Dataset, where: str) -> Dataset:
    """``ds`` itself if its arrays are what every consumer assumes; else one clear error."""
    im, lab = ds.images, ds.labels
    if im.dtype != np.uint8 or im.ndim != 4 or im.shape[3] != 3 or lab.ndim != 1 or len(lab) != len(im):
        raise HwsqueezeError(f"{where}: malformed dataset (images {im.dtype} {im.shape}, labels {lab.shape})")
    if len(lab) == 0:
        raise HwsqueezeError(f"{where}: no images")
    if lab.dtype.kind not in "iu" or lab.min() < 0 or lab.max() >= len(ds.classes):
        bad = lab[(lab < 0) | (lab >= len(ds.classes))][0] if lab.dtype.kind in "iu" else lab.dtype
        raise HwsqueezeError(f"{where}: label {bad} is out of range for {len(ds.classes)} classes "
                             f"(0..{len(ds.classes) - 1})")
    return ds


def _interleave(labels: np.ndarray) -> np.ndarray:
    """Rank of each sample within its class, so sorting by it round-robins over classes."""
    rank = np.zeros(len(labels), dtype=np.int64)
    for c in np.unique(labels):
        where = np.flatnonzero(labels == c)
        rank[where] = np.arange(len(where))
    return rank


def cache_dir() -> Path:
    base = os.environ.get("HWSQUEEZE_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "hwsqueeze")
    return Path(base)


def _decode(data: bytes, name: str, expect: Optional[Tuple[int, int]]) -> np.ndarray:
    """RGB pixels of one image; its size (``expect`` = (w, h) when known) is checked from the
    header before anything is decompressed."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            w, h = im.size
            if expect is None and w * h > MAX_IMAGE_PIXELS:
                raise HwsqueezeError(f"{name} is {w}x{h}: images over {MAX_IMAGE_PIXELS:,} pixels are refused")
            if expect is not None and (w, h) != expect:
                raise HwsqueezeError(f"{name} is {w}x{h}, expected {expect[0]}x{expect[1]}")
            return np.asarray(im.convert("RGB"), dtype=np.uint8)
    except HwsqueezeError:
        raise
    except Exception as e:  # PIL raises many types for bad files (and DecompressionBombError)
        raise HwsqueezeError(f"cannot decode image {name}: {e}") from None


def _check_file_size(n: int, name: str) -> None:
    if n > MAX_IMAGE_BYTES:
        raise HwsqueezeError(f"{name} is {n / 1e6:.1f} MB: image files over {MAX_IMAGE_BYTES >> 20} MiB are refused")


def _collect(entries: Iterable[Tuple[str, bytes]], split: str, size: Optional[int], where: str) -> Dataset:
    """entries: (relative path 'split/class/file', bytes) in any order."""
    per_class: Dict[str, List[Tuple[str, bytes]]] = {}
    for rel, data in entries:
        parts = rel.strip("/").split("/")
        if len(parts) < 3 or parts[-3] != split or not parts[-1].lower().endswith(IMAGE_EXTS):
            continue
        per_class.setdefault(parts[-2], []).append((rel, data))
    if not per_class:
        raise HwsqueezeError(f"{where}: no images under '{split}/<class>/' (expected {split}/<class>/*.jpg|png)")
    classes = sorted(per_class)
    images, labels = [], []
    expect = (size, size) if size is not None else None
    for label, cls in enumerate(classes):
        for rel, data in sorted(per_class[cls]):
            img = _decode(data, f"{where}:{rel}", expect)
            expect = (img.shape[1], img.shape[0])  # all images must have one size
            images.append(img)
            labels.append(label)
    return Dataset(np.stack(images), np.asarray(labels, dtype=np.int64), classes, where)


def _iter_dir(root: Path) -> Iterable[Tuple[str, bytes]]:
    for p in sorted(root.rglob("*")):
        if p.is_file() and p.suffix.lower() in IMAGE_EXTS:
            _check_file_size(p.stat().st_size, f"{root}:{p.relative_to(root)}")
            yield str(p.relative_to(root)), p.read_bytes()


def _iter_tar(path: Path) -> Iterable[Tuple[str, bytes]]:
    try:
        with tarfile.open(path, "r:*") as tf:
            for m in tf:
                if m.isfile() and m.name.lower().endswith(IMAGE_EXTS):
                    _check_file_size(m.size, f"{path}:{m.name}")
                    f = tf.extractfile(m)
                    if f is not None:
                        yield m.name, f.read()
    except (tarfile.TarError, EOFError, OSError) as e:
        raise HwsqueezeError(f"{path}: not a readable tar archive ({e})") from None


def _is_tar(p: Path) -> bool:
    try:
        return tarfile.is_tarfile(p)
    except (OSError, EOFError) as e:  # e.g. a truncated .gz
        raise HwsqueezeError(f"{p}: not a readable tar archive ({e})") from None


def _cifar_batches(root: Path, split: str) -> Dataset:
    files = ["test_batch"] if split == "test" else [f"data_batch_{i}" for i in range(1, 6)]
    images, labels = [], []
    for name in files:
        p = root / name
        if not p.is_file():
            raise HwsqueezeError(f"{root}: missing CIFAR-10 batch file {name}")
        x, y = load_cifar_batch(p)  # no code runs from the file (see data/cifar.py)
        images.append(x)
        labels.append(y)
    return Dataset(np.concatenate(images), np.concatenate(labels), list(CIFAR10_CLASSES), str(root))


def _cache_key(path: Path, split: str, size: Optional[int]) -> str:
    """Changes whenever any file of the dataset changes: every file's path, size and mtime_ns
    (a directory's own mtime misses an image replaced inside a class folder)."""
    h = hashlib.sha1(f"{path.resolve()}|{split}|{size}|v2".encode())
    files = sorted(path.rglob("*")) if path.is_dir() else [path]
    for f in files:
        st = f.stat()
        if f.is_file():
            h.update(f"\0{f.relative_to(path) if f != path else ''}|{st.st_size}|{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def _load_cache(p: Path) -> Optional[Dataset]:
    try:
        with np.load(p, allow_pickle=False) as z:
            return Dataset(z["images"], z["labels"], [str(c) for c in z["classes"]], str(z["source"]))
    except Exception:
        return None  # a corrupt cache is rebuilt, not trusted


def _valid(ds: Dataset) -> bool:
    try:
        check_dataset(ds, "cache")
        return True
    except HwsqueezeError:
        return False  # rebuilt from the source


def _save_cache(p: Path, ds: Dataset) -> None:
    p.parent.mkdir(parents=True, exist_ok=True)

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:  # a file object: np.savez would append ".npz" to a bare name
            np.savez(f, images=ds.images, labels=ds.labels, classes=np.asarray(ds.classes),
                     source=np.asarray(ds.source))

    atomic_write(p, write)


def load_dataset(path: str, split: str = "train", size: Optional[int] = 32, cache: bool = True) -> Dataset:
    """Load ``split`` from an image-folder directory, a ``.tar.gz`` of one, a CIFAR-10 python
    batches directory, or ``generated:N`` (a small synthetic set, see :func:`generate_dataset`).

    ``size``: required square image size (None accepts any one size).
    """
    if split not in ("train", "test"):
        raise HwsqueezeError(f"unknown split {split!r}; use 'train' or 'test'")
    if path.startswith("generated:"):
        try:
            n = int(path.split(":", 1)[1])
        except ValueError:
            raise HwsqueezeError(f"bad dataset spec {path!r}; use generated:N") from None
        return generate_dataset(n, size or 32, seed=0 if split == "train" else 1)
    p = Path(path)
    if not p.exists():
        raise HwsqueezeError(f"dataset not found: {path}")
    cached = cache_dir() / f"{p.name}-{split}-{_cache_key(p, split, size)}.npz"
    if cache and cached.is_file():
        ds = _load_cache(cached)
        if ds is not None and _valid(ds):
            return ds
    if p.is_dir() and (p / "batches.meta").is_file():
        ds = _cifar_batches(p, split)
    elif p.is_dir():
        ds = _collect(_iter_dir(p), split, size, str(p))
    elif p.is_file() and _is_tar(p):
        ds = _collect(_iter_tar(p), split, size, str(p))
    else:
        raise HwsqueezeError(f"{path}: not a dataset (expected an image-folder directory, a .tar.gz of one, "
                             "or a CIFAR-10 python batches directory)")
    if size is not None and ds.images.shape[1:3] != (size, size):
        raise HwsqueezeError(f"{path}: images are {ds.images.shape[2]}x{ds.images.shape[1]}, expected {size}x{size}")
    check_dataset(ds, path)
    if cache:
        _save_cache(cached, ds)
    return ds


def check_memory(nbytes: int, what: str) -> None:
    """Refuse, before allocating, a request for more than half of this machine's memory."""
    try:
        total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # not on every platform
        return
    if nbytes > total // 2:
        raise HwsqueezeError(f"{what} needs {nbytes / 2**30:,.1f} GiB of memory (this machine has "
                             f"{total / 2**30:,.1f} GiB); use fewer images")


def generate_dataset(n: int, size: int = 32, num_classes: int = 10, seed: int = 0) -> Dataset:
    """A learnable synthetic dataset: each class is a coloured shape on a noisy background.

    Small, deterministic and ours to ship; used by tests and as sample images.
    """
    if n <= 0:
        raise HwsqueezeError(f"generated:{n}: N must be >= 1")
    check_memory(n * (size * size * 3 + 16), f"generated:{n}")
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / (size - 1)
    labels = np.arange(n, dtype=np.int64) % num_classes
    rng.shuffle(labels)
    images = np.empty((n, size, size, 3), dtype=np.uint8)
    # The class -> colour map is fixed (not per seed), so train and test sets agree.
    palette = np.random.default_rng(12345).integers(40, 255, size=(num_classes, 3))
    for i, c in enumerate(labels):
        cx, cy = rng.uniform(0.3, 0.7, 2)
        r = rng.uniform(0.15, 0.3)
        kind = c % 3
        if kind == 0:
            mask = (xx - cx) ** 2 + (yy - cy) ** 2 < r * r
        elif kind == 1:
            mask = (abs(xx - cx) < r) & (abs(yy - cy) < r)
        else:
            mask = abs(xx - cx) + abs(yy - cy) < r
        bg = rng.integers(0, 60, size=(size, size, 3))
        img = np.where(mask[..., None], palette[c], bg) + rng.integers(-20, 20, size=(size, size, 3))
        images[i] = np.clip(img, 0, 255)
    names = [f"class{c}" for c in range(num_classes)]
    return Dataset(images, labels, names, f"generated:{n}")
