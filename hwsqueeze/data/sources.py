"""Dataset sources and the decode-once uint8 cache."""
from __future__ import annotations

import hashlib
import io
import os
import pickle
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple

import numpy as np

from ..errors import HwsqueezeError
from ..fsutil import atomic_write

__all__ = ["CIFAR10_CLASSES", "Dataset", "load_dataset", "generate_dataset", "cache_dir"]

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp")
# CIFAR-10 label order (index = label), as in the official batches.meta
CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


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
        if n is None or n >= len(self):
            return self
        order = np.lexsort((np.arange(len(self)), _interleave(self.labels)))
        idx = np.sort(order[:n])
        return Dataset(self.images[idx], self.labels[idx], self.classes, self.source)


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


def _decode(data: bytes, name: str) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            return np.asarray(im.convert("RGB"), dtype=np.uint8)
    except Exception as e:  # PIL raises many types for bad files
        raise HwsqueezeError(f"cannot decode image {name}: {e}") from None


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
    shape = None
    for label, cls in enumerate(classes):
        for rel, data in sorted(per_class[cls]):
            img = _decode(data, f"{where}:{rel}")
            if shape is None:
                shape = img.shape
                if size is not None and shape[:2] != (size, size):
                    raise HwsqueezeError(f"{where}:{rel} is {shape[1]}x{shape[0]}, expected {size}x{size}")
            elif img.shape != shape:
                raise HwsqueezeError(f"{where}:{rel} is {img.shape[1]}x{img.shape[0]}, expected {shape[1]}x{shape[0]}"
                                     " (all images must have one size)")
            images.append(img)
            labels.append(label)
    return Dataset(np.stack(images), np.asarray(labels, dtype=np.int64), classes, where)


def _iter_dir(root: Path) -> Iterable[Tuple[str, bytes]]:
    for p in sorted(root.rglob("*")):
        if p.is_file() and p.suffix.lower() in IMAGE_EXTS:
            yield str(p.relative_to(root)), p.read_bytes()


def _iter_tar(path: Path) -> Iterable[Tuple[str, bytes]]:
    try:
        with tarfile.open(path, "r:*") as tf:
            for m in tf:
                if m.isfile() and m.name.lower().endswith(IMAGE_EXTS):
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
        try:
            with open(p, "rb") as f:
                # The official CIFAR-10 python release is a pickle; it is only read from a
                # dataset directory the user names, never from deploy packages or downloads.
                d = pickle.load(f, encoding="bytes")
            images.append(np.asarray(d[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
            labels.append(np.asarray(d[b"labels"], dtype=np.int64))
        except Exception as e:
            raise HwsqueezeError(f"{p}: not a CIFAR-10 python batch ({e})") from None
    return Dataset(np.concatenate(images), np.concatenate(labels), list(CIFAR10_CLASSES), str(root))


def _cache_key(path: Path, split: str, size: Optional[int]) -> str:
    st = path.stat()
    h = hashlib.sha1(f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{split}|{size}|v1".encode()).hexdigest()
    return h[:16]


def _load_cache(p: Path) -> Optional[Dataset]:
    try:
        with np.load(p, allow_pickle=False) as z:
            return Dataset(z["images"], z["labels"], [str(c) for c in z["classes"]], str(z["source"]))
    except Exception:
        return None  # a corrupt cache is rebuilt, not trusted


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
        if ds is not None:
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
    if cache:
        _save_cache(cached, ds)
    return ds


def generate_dataset(n: int, size: int = 32, num_classes: int = 10, seed: int = 0) -> Dataset:
    """A learnable synthetic dataset: each class is a coloured shape on a noisy background.

    Small, deterministic and ours to ship; used by tests and as sample images.
    """
    if n <= 0:
        raise HwsqueezeError("generated dataset needs N > 0")
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
