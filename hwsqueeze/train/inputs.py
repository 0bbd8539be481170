"""Where training images come from: the decoded uint8 cache or a streamed image folder.

``--loader cache`` (small sets: CIFAR-10, generated data) keeps the decoded split as one uint8
tensor, on the GPU when it fits, and augments there (crop with padding, flip, ``--cutout``);
``--loader stream`` decodes image folders of any size in DataLoader workers with
random-resized-crop and flip (:mod:`hwsqueeze.data.stream`). ``auto`` streams an image-folder
directory whose decoded training split would exceed :data:`CACHE_LIMIT`.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator, List, Tuple

import numpy as np
import torch

from ..data import load_dataset
from ..data.batches import GlobalBatchSampler, cached_epoch
from ..data.stream import ImageFolderStream, count_images, one_line_errors, stream_loader
from ..errors import HwsqueezeError
from .distributed import DistEnv

__all__ = ["TrainData", "CACHE_LIMIT", "choose_loader", "open_data"]

CACHE_LIMIT = 4 << 30  # decoded bytes of a training split above which `auto` streams
LOADERS = ("auto", "cache", "stream")


def choose_loader(loader: str, data: str, size: int) -> str:
    """``cache`` or ``stream`` for ``--loader``; streaming needs an image-folder directory."""
    p = Path(data)
    folder = not data.startswith("generated:") and p.is_dir() and not (p / "batches.meta").is_file()
    if loader == "stream" and not folder:
        raise HwsqueezeError(f"--loader stream: {data} is not an image-folder directory "
                             "(train/<class>/*.jpg); archives, CIFAR batches and generated data use the cache")
    if loader != "auto":
        return loader
    return "stream" if folder and count_images(p, "train") * size * size * 3 > CACHE_LIMIT else "cache"


class TrainData:
    """One epoch's (float NCHW channels-last images, labels) on the device, and the test split."""

    def __init__(self, kind: str, data: str, size: int, batch: int, seed: int, env: DistEnv, workers: int,
                 max_train=None, max_test=None, cutout: int = 0) -> None:
        self.kind, self.env, self.batch, self.seed, self.cutout = kind, env, batch, seed, cutout
        if cutout and kind != "cache":
            raise HwsqueezeError(f"--cutout {cutout}: only with the cache loader (--loader cache)")
        if kind == "cache":
            train = load_dataset(data, "train", size=size).subset(max_train)  # the model's input size
            self.test = load_dataset(data, "test", size=size).subset(max_test)
            self.classes, self.test_classes, self.n = train.classes, self.test.classes, len(train)
            self.size = train.images.shape[1]
            dev = env.device if _fits(env.device, train.images.nbytes) else torch.device("cpu")
            self.x = torch.from_numpy(train.images).permute(0, 3, 1, 2).to(dev)
            self.y = torch.from_numpy(train.labels).to(dev)
            if cutout > self.size:
                raise HwsqueezeError(f"--cutout {cutout}: larger than the {self.size}px training images")
            # the mean colour: what 0 is to a normalised input, so a cut square carries no signal
            mean = train.images.reshape(-1, train.images.shape[-1]).mean(axis=0, dtype=np.float64)
            self.fill = torch.from_numpy(np.round(mean).astype(np.uint8))
        else:
            if max_train or max_test:
                raise HwsqueezeError("--max-train/--max-test: not with --loader stream (make a smaller folder)")
            self.train_ds = ImageFolderStream(data, "train", size, train=True, seed=seed)
            self.test_ds = ImageFolderStream(data, "test", size, train=False, seed=seed)
            self.classes, self.test_classes, self.n = self.train_ds.classes, self.test_ds.classes, len(self.train_ds)
            self.size = size
            self.sampler = GlobalBatchSampler(self.n, batch, seed, env.rank, env.world)
            self.workers = workers
        self.steps = max(1, self.n // batch)

    def epoch(self, epoch: int) -> Iterator[Tuple[torch.Tensor, torch.Tensor]]:
        dev = self.env.device
        if self.kind == "cache":
            it = cached_epoch(self.x, self.y, self.batch, self.seed, epoch, self.env.rank, self.env.world,
                              cutout=self.cutout, fill=self.fill)
        else:
            self.sampler.set_epoch(epoch)
            self.train_ds.set_epoch(epoch)
            it = ((x.permute(0, 3, 1, 2), y) for x, y in
                  one_line_errors(stream_loader(self.train_ds, self.sampler, self.workers, dev.type == "cuda")))
        for x, y in it:
            x = x.to(dev, non_blocking=True).float().contiguous(memory_format=torch.channels_last)
            yield x, y.to(dev, non_blocking=True)

    def test_batches(self, batch: int = 500) -> Iterator[Tuple[torch.Tensor, np.ndarray]]:
        """(uint8 NCHW images on CPU, labels) of the test split, in order."""
        if self.kind == "cache":
            for i in range(0, len(self.test), batch):
                yield (torch.from_numpy(self.test.images[i:i + batch]).permute(0, 3, 1, 2),
                       self.test.labels[i:i + batch])
        else:
            for x, y in one_line_errors(stream_loader(self.test_ds, None, self.workers, False, batch)):
                yield x.permute(0, 3, 1, 2), y.numpy()

    def check(self, input_size: int, num_classes: int, model: str, data: str) -> List[str]:
        """Refuse data the model cannot take; the class names (index = label)."""
        if input_size != self.size:
            raise HwsqueezeError(f"{model} takes {input_size}px images, dataset has {self.size}px")
        if num_classes != len(self.classes):
            raise HwsqueezeError(f"{model} has {num_classes} classes, dataset has {len(self.classes)}")
        if self.test_classes != self.classes:
            raise HwsqueezeError(f"{data}: test classes {self.test_classes} differ from train classes {self.classes}")
        return list(self.classes)


def _fits(device: torch.device, nbytes: int) -> bool:
    """Keep the decoded set on a GPU when it takes under a quarter of its free memory."""
    if device.type != "cuda":
        return device.type == "cpu" or nbytes < (1 << 30)
    free, _ = torch.cuda.mem_get_info(device)
    return nbytes < free // 4


def open_data(cfg, input_size: int, env: DistEnv) -> TrainData:
    """The :class:`TrainData` of ``cfg`` (a TrainConfig) for a model taking ``input_size`` px."""
    kind = choose_loader(cfg.loader, cfg.data, input_size)
    workers = cfg.workers if cfg.workers is not None else min(8, max(1, (os.cpu_count() or 2) // env.local_world - 1))
    return TrainData(kind, cfg.data, input_size, cfg.batch_size, cfg.seed, env, workers, cfg.max_train, cfg.max_test,
                     cfg.cutout)
