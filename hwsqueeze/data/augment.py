"""Batched uint8 augmentation: random crop with zero padding and horizontal flip.

The random draws (:func:`crop_flip_params`) are separate from applying them
(:func:`apply_crop_flip`), so several processes can draw the parameters of one global batch
from the same generator and each apply only its own slice, on its own device: together they
augment exactly as one process would.
"""
from __future__ import annotations

from typing import Optional, Tuple

import torch

__all__ = ["augment_batch", "crop_flip_params", "apply_crop_flip"]


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
