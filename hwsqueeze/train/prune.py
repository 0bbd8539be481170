"""Magnitude pruning with a per-layer sparsity schedule (Deep Compression's first stage).

Masks live beside the weights and are re-applied after every optimizer step, so pruned
weights stay exactly zero through QAT (and export as zero integer weights).
"""
from __future__ import annotations

from typing import Dict, Optional

import torch
from torch import nn

__all__ = ["Pruner"]


class Pruner:
    """Ramp each layer's sparsity from 0 to its target between ``start`` and ``end`` epochs
    with the cubic schedule of Zhu & Gupta (2017). ``targets`` maps conv names to sparsity;
    ``default`` applies to every other conv except the first and the classifier.
    """

    def __init__(self, model: nn.Module, default: float = 0.0, targets: Optional[Dict[str, float]] = None,
                 start: int = 0, end: int = 1, skip=("conv1", "conv10")) -> None:
        self.convs = {n: m for n, m in model.named_modules() if isinstance(m, nn.Conv2d)}
        self.targets = {n: (targets or {}).get(n, 0.0 if n in skip else default) for n in self.convs}
        bad = [n for n in (targets or {}) if n not in self.convs]
        if bad:
            raise ValueError(f"unknown layers in sparsity targets: {bad}")
        self.start, self.end = start, max(end, start + 1)
        self.masks: Dict[str, torch.Tensor] = {}

    @property
    def active(self) -> bool:
        return any(t > 0 for t in self.targets.values())

    def sparsity_at(self, name: str, epoch: float) -> float:
        t = min(max((epoch - self.start) / (self.end - self.start), 0.0), 1.0)
        return self.targets[name] * (1.0 - (1.0 - t) ** 3)

    @torch.no_grad()
    def update(self, epoch: float) -> None:
        """Recompute masks for ``epoch`` (magnitude threshold per layer) and apply them."""
        for n, m in self.convs.items():
            s = self.sparsity_at(n, epoch)
            if s <= 0:
                continue
            w = m.weight.detach().abs().flatten()
            k = int(round(s * w.numel()))
            if k < 1:
                continue
            thr = w.kthvalue(k).values
            self.masks[n] = (m.weight.detach().abs() > thr).to(m.weight.dtype)
        self.apply()

    @torch.no_grad()
    def apply(self) -> None:
        for n, mask in self.masks.items():
            self.convs[n].weight.mul_(mask)

    def state_dict(self) -> Dict[str, torch.Tensor]:
        return {n: m.bool() for n, m in self.masks.items()}

    def load_state_dict(self, state: Dict[str, torch.Tensor]) -> None:
        self.masks = {n: m.to(self.convs[n].weight.dtype) for n, m in state.items()}

    def report(self) -> Dict[str, float]:
        return {n: float((m.weight == 0).float().mean()) for n, m in self.convs.items()}
