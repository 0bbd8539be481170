"""Streaming image folders (ImageNet scale): decoded per batch in DataLoader workers.

The uint8 cache (``sources.py``) decodes a whole split into memory once, right for CIFAR-size
sets; 1.28 M ImageNet images would need ~190 GB. Here only the file list is held (one numpy
byte-string array: ~50 MB for ImageNet, and no per-item Python objects, whose reference counts
would copy every forked worker's pages), and each worker opens, decodes and crops its images
when the batch is asked for, so memory does not grow with the dataset.

Augmentation is Inception-style random-resized-crop + horizontal flip, drawn from a generator
seeded by (seed, epoch, image index): the images a batch gets do not depend on the number of
workers or processes, nor on whether the run was resumed. Evaluation resizes the short side to
``size / 0.875`` and takes the centre crop (images already ``size`` x ``size`` are used as is).
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Iterable, Iterator, List, Optional, Tuple, TypeVar

import numpy as np
import torch

from ..errors import HwsqueezeError

__all__ = ["ImageFolderStream", "count_images", "random_resized_box", "stream_loader", "one_line_errors"]

EXTS = (".jpg", ".jpeg", ".png", ".bmp")
T = TypeVar("T")


def _list(split_dir: Path) -> Tuple[List[str], np.ndarray, np.ndarray]:
    if not split_dir.is_dir():
        raise HwsqueezeError(f"{split_dir}: not found (a streamed image folder needs {split_dir.name}/<class>/*.jpg)")
    classes = sorted(e.name for e in os.scandir(split_dir) if e.is_dir())
    paths: List[bytes] = []
    counts = []
    for c in classes:
        names = sorted(e.name for e in os.scandir(split_dir / c) if e.is_file() and e.name.lower().endswith(EXTS))
        paths.extend(os.fsencode(os.path.join(c, n)) for n in names)
        counts.append(len(names))
    if not paths:
        raise HwsqueezeError(f"{split_dir}: no images under <class>/ (expected <class>/*.jpg|png)")
    labels = np.repeat(np.arange(len(classes), dtype=np.int64), counts)
    return classes, np.array(paths, dtype=np.bytes_), labels


def count_images(root: Path, split: str = "train") -> int:
    """Number of images in ``root/split/<class>/`` (a directory listing, nothing opened)."""
    return len(_list(Path(root) / split)[1])


def random_resized_box(w: int, h: int, rng: np.random.Generator, min_scale: float = 0.08,
                       ratio: Tuple[float, float] = (3 / 4, 4 / 3)) -> Tuple[int, int, int, int]:
    """(left, top, right, bottom) of a crop covering ``min_scale``..1 of the area with an aspect
    ratio in ``ratio`` (log-uniform), as torchvision's RandomResizedCrop; centre crop after
    10 misses."""
    area = w * h
    lr = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(10):
        target = area * rng.uniform(min_scale, 1.0)
        ar = math.exp(rng.uniform(*lr))
        cw, ch = int(round(math.sqrt(target * ar))), int(round(math.sqrt(target / ar)))
        if 0 < cw <= w and 0 < ch <= h:
            x0, y0 = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
            return x0, y0, x0 + cw, y0 + ch
    r = w / h
    cw, ch = (w, int(round(w / ratio[0]))) if r < ratio[0] else (int(round(h * ratio[1])), h) if r > ratio[1] else (w, h)
    cw, ch = min(cw, w), min(ch, h)
    x0, y0 = (w - cw) // 2, (h - ch) // 2
    return x0, y0, x0 + cw, y0 + ch


class ImageFolderStream(torch.utils.data.Dataset):
    """``root/split/<class>/*.jpg|png`` as (uint8 HWC tensor of ``size``, label) items."""

    def __init__(self, root: str, split: str, size: int, train: bool, seed: int = 0, min_scale: float = 0.08,
                 max_bytes: int = 64 << 20) -> None:
        self.dir = os.fsencode(str(Path(root) / split))
        self.classes, self.paths, self.labels = _list(Path(root) / split)
        self.size, self.train, self.seed, self.min_scale, self.max_bytes = size, train, seed, min_scale, max_bytes
        self.epoch = 0
        self.source = f"{root} ({split}, streamed)"

    def __len__(self) -> int:
        return len(self.paths)

    def set_epoch(self, epoch: int) -> None:
        """Set before each epoch's iterator is made (workers are started per epoch and copy it)."""
        self.epoch = epoch

    def __getitem__(self, i: int) -> Tuple[torch.Tensor, int]:
        from PIL import Image

        path = os.path.join(self.dir, self.paths[i])
        name = os.fsdecode(path)
        if os.path.getsize(path) > self.max_bytes:
            raise HwsqueezeError(f"{name}: over {self.max_bytes >> 20} MiB, not an image we decode")
        try:
            with Image.open(path) as im:
                img = self._transform(im, np.random.default_rng([self.seed, self.epoch, int(i)]))
        except HwsqueezeError:
            raise
        except Exception as e:  # PIL raises many types for bad files
            why = (str(e).replace(f" {path!r}", "").replace(f" {name!r}", "").strip().splitlines() or [""])[0]
            raise HwsqueezeError(f"cannot decode image {name}: {why or type(e).__name__}") from None
        return torch.from_numpy(np.asarray(img, dtype=np.uint8).copy()), int(self.labels[i])

    def _transform(self, im, rng: np.random.Generator):
        from PIL import Image

        s = self.size
        if self.train:
            w, h = im.size
            box = random_resized_box(w, h, rng, self.min_scale)
            im.draft("RGB", (-(-s * w // (box[2] - box[0])), -(-s * h // (box[3] - box[1]))))  # crop stays >= s
            fx, fy = im.size[0] / w, im.size[1] / h  # JPEG draft mode may have decoded at 1/2..1/8
            box = (box[0] * fx, box[1] * fy, box[2] * fx, box[3] * fy)
            out = im.convert("RGB").resize((s, s), Image.BILINEAR, box=box)
            return out.transpose(Image.FLIP_LEFT_RIGHT) if rng.random() < 0.5 else out
        if im.size == (s, s):
            return im.convert("RGB")
        short = max(s, int(round(s / 0.875)))
        w, h = im.size
        nw, nh = (short, max(short, round(h * short / w))) if w <= h else (max(short, round(w * short / h)), short)
        im.draft("RGB", (nw, nh))
        out = im.convert("RGB").resize((nw, nh), Image.BILINEAR)
        x0, y0 = (nw - s) // 2, (nh - s) // 2
        return out.crop((x0, y0, x0 + s, y0 + s))


def stream_loader(ds: ImageFolderStream, batch_sampler: Optional[torch.utils.data.Sampler], workers: int,
                  pin: bool, batch_size: int = 256) -> torch.utils.data.DataLoader:
    """A DataLoader over ``ds``: ``batch_sampler`` for training, sequential ``batch_size`` for eval."""
    kw = dict(num_workers=workers, pin_memory=pin, generator=torch.Generator().manual_seed(0))
    if workers > 0:
        kw.update(prefetch_factor=2, persistent_workers=False)
    if batch_sampler is not None:
        return torch.utils.data.DataLoader(ds, batch_sampler=batch_sampler, **kw)
    return torch.utils.data.DataLoader(ds, batch_size=batch_size, shuffle=False, **kw)


def one_line_errors(batches: Iterable[T]) -> Iterator[T]:
    """``batches`` of a DataLoader, with a worker's :class:`HwsqueezeError` as its own one line.

    A DataLoader re-raises a worker's exception in the main process with the worker's whole
    traceback as the message ("Caught HwsqueezeError in DataLoader worker process 0. Original
    Traceback ..."); the user needs only its last line, the error itself (e.g. which file)."""
    try:
        yield from batches
    except HwsqueezeError as e:
        text = str(e)
        if "Original Traceback" in text:  # the last line is "<module>.HwsqueezeError: <message>"
            last = [ln for ln in text.splitlines() if ln.strip()][-1]
            text = last.split("HwsqueezeError: ", 1)[-1].strip()
        raise HwsqueezeError(text, e.exit_code) from None
