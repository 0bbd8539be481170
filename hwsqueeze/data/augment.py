"""Batched uint8 augmentation: random crop with zero padding, horizontal flip, and cutout.

The random draws (:func:`crop_flip_params`) are separate from applying them
(:func:`apply_crop_flip`), so several processes can draw the parameters of one global batch
from the same generator and each apply only its own slice, on its own device: together they
augment exactly as one process would.
"""
from __future__ import annotations

from typing import Optional, Tuple

import torch

__all__ = ["augment_batch", "crop_flip_params", "apply_crop_flip", "cutout_params", "apply_cutout"]


def crop_flip_params(n: int, pad: int = 4, flip: bool = True, generator: Optional[torch.Generator] = None
                     ) -> Tuple[Optional[torch.Tensor], Optional[torch.Tensor], Optional[torch.Tensor]]:
    """(dy, dx, flip mask) for ``n`` images, drawn in this order (None where unused)."""
    dy = dx = m = None
    if pad > 0:
        dy = torch.randint(0, 2 * pad + 1, (n,), generator=generator)
        dx = torch.randint(0, 2 * pad + 1, (n,), generator=generator)
    if flip:
        m = torch.rand(n, generator=generator) < 0.5
    return dy, dx, m


def apply_crop_flip(x: torch.Tensor, dy: Optional[torch.Tensor], dx: Optional[torch.Tensor],
                    m: Optional[torch.Tensor], pad: int = 4) -> torch.Tensor:
    """Crop/flip ``x`` (N, C, H, W) on its own device with parameters from :func:`crop_flip_params`."""
    n, c, h, w = x.shape
    dev = x.device
    if dy is not None:
        padded = torch.nn.functional.pad(x, (pad, pad, pad, pad))
        rows = dy.to(dev)[:, None] + torch.arange(h, device=dev)[None, :]  # (n, h)
        cols = dx.to(dev)[:, None] + torch.arange(w, device=dev)[None, :]  # (n, w)
        idx_n = torch.arange(n, device=dev)[:, None, None]
        x = padded.permute(0, 2, 3, 1)[idx_n, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)
    if m is not None:
        x = torch.where(m.to(dev)[:, None, None, None], x.flip(3), x)
    return x.contiguous()


def augment_batch(x: torch.Tensor, pad: int = 4, flip: bool = True, generator: torch.Generator = None) -> torch.Tensor:
    """x: uint8 or float (N, C, H, W). Returns a tensor of the same dtype and shape."""
    return apply_crop_flip(x, *crop_flip_params(x.shape[0], pad, flip, generator), pad=pad)


def cutout_params(n: int, size: int, h: int, w: int, generator: Optional[torch.Generator] = None
                  ) -> Tuple[torch.Tensor, torch.Tensor]:
    """(top, left) of a ``size`` x ``size`` square inside each of ``n`` h x w images (airbench's
    placement: the whole square lies in the image), drawn in this order."""
    top = torch.randint(0, h - size + 1, (n,), generator=generator)
    left = torch.randint(0, w - size + 1, (n,), generator=generator)
    return top, left


def apply_cutout(x: torch.Tensor, top: torch.Tensor, left: torch.Tensor, size: int,
                 fill: torch.Tensor) -> torch.Tensor:
    """``x`` (N, C, H, W) with each image's square from :func:`cutout_params` set to ``fill``
    (C values: the training set's mean colour, what a normalised input's 0 is)."""
    n, c, h, w = x.shape
    dev = x.device
    rows = torch.arange(h, device=dev)[None, :] - top.to(dev)[:, None]   # (n, h)
    cols = torch.arange(w, device=dev)[None, :] - left.to(dev)[:, None]  # (n, w)
    inside = ((rows >= 0) & (rows < size))[:, :, None] & ((cols >= 0) & (cols < size))[:, None, :]
    return torch.where(inside[:, None], fill.to(dev, x.dtype).view(1, c, 1, 1), x)
