"""Batched uint8 augmentation: random crop with zero padding and horizontal flip."""
from __future__ import annotations

import torch

__all__ = ["augment_batch"]


def augment_batch(x: torch.Tensor, pad: int = 4, flip: bool = True, generator: torch.Generator = None) -> torch.Tensor:
    """x: uint8 or float (N, C, H, W). Returns a tensor of the same dtype and shape."""
    n, c, h, w = x.shape
    if pad > 0:
        padded = torch.nn.functional.pad(x, (pad, pad, pad, pad))
        dy = torch.randint(0, 2 * pad + 1, (n,), generator=generator)
        dx = torch.randint(0, 2 * pad + 1, (n,), generator=generator)
        rows = (dy[:, None] + torch.arange(h)[None, :])  # (n, h)
        cols = (dx[:, None] + torch.arange(w)[None, :])  # (n, w)
        idx_n = torch.arange(n)[:, None, None]
        x = padded.permute(0, 2, 3, 1)[idx_n, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)
    if flip:
        m = torch.rand(n, generator=generator) < 0.5
        x = torch.where(m[:, None, None, None], x.flip(3), x)
    return x.contiguous()
