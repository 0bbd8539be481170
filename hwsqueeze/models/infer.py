"""Inference on uint8 images: what evaluation, export checks and benchmarks all run."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

__all__ = ["predict"]


@torch.no_grad()
def predict(model: nn.Module, images: np.ndarray, batch_size: int = 500) -> np.ndarray:
    """Logits (float32, N x classes) for uint8 NHWC ``images``, in fp32 eval mode."""
    model.eval()
    outs = []
    for i in range(0, len(images), batch_size):
        x = torch.from_numpy(images[i:i + batch_size]).permute(0, 3, 1, 2)
        outs.append(model(x.float().contiguous(memory_format=torch.channels_last)).float().numpy())
    return np.concatenate(outs) if outs else np.zeros((0, 0), np.float32)
