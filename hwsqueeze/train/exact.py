"""What a checkpoint must carry beyond ``state_dict`` for a resumed run to be bit-identical.

Two things break exact resume otherwise:

- Brevitas' ``ParameterFromRuntimeStatsScaling`` (the activation quantizers' learned scales)
  keeps a Python ``counter`` of statistics steps, and its ``state_dict`` stores the running
  statistics *in place of* the scale parameter. Loading one therefore ends statistics
  collection at once (``counter`` jumps past ``collect_stats_steps``) and overwrites the
  untouched parameter with the statistics: a run interrupted during the first
  ``collect_stats_steps`` steps continues with other scales, and one interrupted later
  multiplies the statistics in twice when collection would have ended. :func:`quant_state`
  saves ``counter``, ``buffer`` and the raw ``value``; :func:`load_quant_state` puts them back
  after ``load_state_dict``.
- The global RNG streams (dropout; torch, numpy and Python) and DataLoader worker seeds:
  :func:`seed_epoch` reseeds them all from (seed, epoch, rank) at the start of every epoch, so
  an epoch draws the same numbers whether the run was resumed or not, with no RNG state to
  save (and each process of a distributed run draws its own).

The data order and augmentation come from a generator seeded per epoch (``data/batches.py``)
and the OneCycle schedule, optimizer and pruning masks from their own ``state_dict``.
"""
from __future__ import annotations

import random
from typing import Dict

import numpy as np
import torch
from torch import nn

__all__ = ["quant_state", "load_quant_state", "seed_epoch", "epoch_seed"]


def _stats_scalings(model: nn.Module):
    from brevitas.core.scaling.standalone import ParameterFromRuntimeStatsScaling

    return [(n, m) for n, m in model.named_modules() if isinstance(m, ParameterFromRuntimeStatsScaling)]


def quant_state(model: nn.Module) -> Dict[str, Dict[str, torch.Tensor]]:
    """Per statistics-initialised scale: its step ``counter``, running ``buffer`` and raw ``value``."""
    return {n: {"counter": torch.tensor(int(m.counter)), "buffer": m.buffer.detach().cpu().clone(),
                "value": m.value.detach().cpu().clone()} for n, m in _stats_scalings(model)}


@torch.no_grad()
def load_quant_state(model: nn.Module, state: Dict[str, Dict[str, torch.Tensor]]) -> None:
    """Restore :func:`quant_state` (after ``model.load_state_dict``, which clobbers it)."""
    mods = dict(_stats_scalings(model))
    if set(mods) != set(state):
        raise ValueError(f"quantizer state names differ: {sorted(set(mods) ^ set(state))[:3]}")
    for n, m in mods.items():
        m.counter = int(state[n]["counter"])
        m.buffer.copy_(state[n]["buffer"])
        m.value.copy_(state[n]["value"])


def epoch_seed(seed: int, epoch: int, rank: int = 0) -> int:
    """A 31-bit seed for (run seed, epoch, process), well mixed by numpy's SeedSequence."""
    return int(np.random.SeedSequence([seed, epoch, rank]).generate_state(1)[0] & 0x7FFFFFFF)


def seed_epoch(seed: int, epoch: int, rank: int = 0) -> int:
    """Reseed torch (CPU and every GPU), numpy and ``random`` for ``epoch`` on process ``rank``."""
    s = epoch_seed(seed, epoch, rank)
    torch.manual_seed(s)
    np.random.seed(s)
    random.seed(s)
    return s
