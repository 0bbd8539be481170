"""Top-k accuracy of a model on a dataset or a stream of batches, on any device (fp32)."""
from __future__ import annotations

from typing import Any, Dict, Iterable, Tuple

import numpy as np
import torch
from torch import nn

from ..data import Dataset
from ..errors import HwsqueezeError

__all__ = ["topk_accuracy", "evaluate", "evaluate_batches"]


def topk_accuracy(logits: np.ndarray, labels: np.ndarray, k: int) -> float:
    """Fraction of rows whose label is among the ``k`` largest logits (ties: lower index first)."""
    k = min(k, logits.shape[1])
    top = np.argsort(-logits, axis=1, kind="stable")[:, :k]
    return float((top == labels[:, None]).any(axis=1).mean())


@torch.no_grad()
def evaluate_batches(model: nn.Module, batches: Iterable[Tuple[torch.Tensor, np.ndarray]],
                     device: torch.device = torch.device("cpu")) -> Dict[str, Any]:
    """``top1``, ``top5``, ``n`` and ``logits`` over (uint8 NCHW images, labels) batches."""
    model.eval()
    logits, labels = [], []
    for x, y in batches:
        x = x.to(device).float().contiguous(memory_format=torch.channels_last)
        logits.append(model(x).float().cpu().numpy())
        labels.append(np.asarray(y))
    if not logits:
        raise HwsqueezeError("no images to evaluate")
    lg, lb = np.concatenate(logits), np.concatenate(labels)
    return {"top1": topk_accuracy(lg, lb, 1), "top5": topk_accuracy(lg, lb, 5), "n": len(lb), "logits": lg}


def evaluate(model: nn.Module, ds: Dataset, device: torch.device = torch.device("cpu"),
             batch: int = 500) -> Dict[str, Any]:
    """``top1``, ``top5``, ``n`` and the ``logits`` of ``model`` on ``ds``."""
    if len(ds) == 0:
        raise HwsqueezeError("no images to evaluate")
    return evaluate_batches(model, ((torch.from_numpy(ds.images[i:i + batch]).permute(0, 3, 1, 2),
                                     ds.labels[i:i + batch]) for i in range(0, len(ds), batch)), device)
