"""Training batches of one epoch, for one process of ``world``.

Every process draws the same global permutation (a generator seeded by seed and epoch), cuts it
into global batches of ``--batch-size`` images, and takes its own contiguous slice of each. So
N processes train on exactly the batches, and the augmentation, that one process with the same
global batch would: a distributed run differs from a single one only by floating-point
reduction order (and BatchNorm statistics, unless ``--sync-bn``). torch's DistributedSampler
shards the epoch instead (each rank its own permutation of a 1/N share), which matches a single
run only statistically; this sampler is its drop-in for that reason.
"""
from __future__ import annotations

from typing import Iterator, List, Optional, Tuple

import torch

from .augment import apply_crop_flip, apply_cutout, crop_flip_params, cutout_params

__all__ = ["shard", "epoch_generator", "GlobalBatchSampler", "cached_epoch"]


def shard(n: int, rank: int, world: int) -> Tuple[int, int]:
    """[lo, hi) of process ``rank`` in a batch of ``n`` (equal parts; the first ranks get the rest)."""
    base, extra = divmod(n, world)
    lo = rank * base + min(rank, extra)
    return lo, lo + base + (rank < extra)


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """The generator of an epoch's order and augmentation (as before distributed training)."""
    return torch.Generator().manual_seed(seed * 100003 + epoch)


class GlobalBatchSampler(torch.utils.data.Sampler):
    """Index lists of this process's slice of each global batch (a DataLoader ``batch_sampler``)."""

    def __init__(self, n: int, global_batch: int, seed: int, rank: int = 0, world: int = 1) -> None:
        self.n, self.batch, self.seed, self.rank, self.world = n, global_batch, seed, rank, world
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return max(1, self.n // self.batch)

    def __iter__(self) -> Iterator[List[int]]:
        perm = torch.randperm(self.n, generator=epoch_generator(self.seed, self.epoch))
        for step in range(len(self)):
            idx = perm[step * self.batch:(step + 1) * self.batch]
            lo, hi = shard(len(idx), self.rank, self.world)
            yield idx[lo:hi].tolist()


def cached_epoch(x_all: torch.Tensor, y_all: torch.Tensor, global_batch: int, seed: int, epoch: int,
                 rank: int = 0, world: int = 1, pad: int = 4, cutout: int = 0,
                 fill: Optional[torch.Tensor] = None) -> Iterator[Tuple[torch.Tensor, torch.Tensor]]:
    """(uint8 NCHW images, labels) of this process, augmented on the images' device.

    The crop/flip (and, with ``cutout`` > 0, cutout squares filled with ``fill``) parameters of
    the whole global batch are drawn (same stream on every process, same order as one process
    drew them) and each process applies its slice. Cutout draws from a generator of its own, so
    adding it changes nothing else: every image is the one a run without it gets, but the square.
    """
    n = len(y_all)
    gen = epoch_generator(seed, epoch)
    perm = torch.randperm(n, generator=gen)
    cut_gen = torch.Generator().manual_seed((1 << 60) + gen.initial_seed()) if cutout else None  # its own stream
    for step in range(max(1, n // global_batch)):
        idx = perm[step * global_batch:(step + 1) * global_batch]
        dy, dx, m = crop_flip_params(len(idx), pad, True, gen)
        lo, hi = shard(len(idx), rank, world)
        mine = idx[lo:hi].to(x_all.device)
        x = apply_crop_flip(x_all[mine], dy[lo:hi], dx[lo:hi], m[lo:hi], pad)
        if cutout:
            top, left = cutout_params(len(idx), cutout, x_all.shape[2], x_all.shape[3], cut_gen)
            x = apply_cutout(x, top[lo:hi], left[lo:hi], cutout, fill)
        yield x, y_all[mine]
