"""Devices and several processes: ``--device`` and torchrun's DistributedDataParallel.

``torchrun --nproc_per_node N hwsqueeze train ...`` (and torchrun's ``--nnodes``/``--rdzv-*``
flags across machines) sets ``RANK``/``WORLD_SIZE``/``LOCAL_RANK``; :func:`setup` then joins the
process group (NCCL on GPUs, gloo on CPU) and each process uses its ``LOCAL_RANK``'s GPU.
``--batch-size`` stays the *global* batch (each process takes 1/N of it), so the learning rate
needs no rescaling and a run means the same thing on 1 or N processes.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import timedelta
from typing import List, Optional

import torch
from torch import nn

from ..errors import BAD_INPUT, MISSING_TOOL, HwsqueezeError

__all__ = ["DistEnv", "resolve_device", "setup", "autocast_dtype"]

DEVICES = ("auto", "cpu", "cuda", "mps")
_log = logging.getLogger("hwsqueeze.train")


def _mps() -> bool:
    return bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """The device ``--device name`` means for process ``local_rank``; one error line if absent."""
    if name not in DEVICES:
        raise HwsqueezeError(f"--device {name!r}: must be one of {', '.join(DEVICES)}", BAD_INPUT)
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "mps" if _mps() else "cpu"
    if name == "cuda":
        if not torch.cuda.is_available():
            build = f"CUDA {torch.version.cuda} build" if torch.version.cuda else "CPU-only build"
            raise HwsqueezeError(f"--device cuda: no CUDA GPU is visible to torch {torch.__version__} ({build}); "
                                 "use --device cpu (or auto)", MISSING_TOOL)
        if local_rank >= torch.cuda.device_count():
            raise HwsqueezeError(f"--device cuda: process LOCAL_RANK {local_rank} but only "
                                 f"{torch.cuda.device_count()} GPU(s) visible; use --nproc_per_node <= that",
                                 MISSING_TOOL)
        return torch.device("cuda", local_rank)
    if name == "mps" and not _mps():
        raise HwsqueezeError("--device mps: Apple's Metal backend is not available here; use --device cpu (or auto)",
                             MISSING_TOOL)
    return torch.device(name)


def autocast_dtype(device: torch.device) -> Optional[torch.dtype]:
    """bf16 where the device runs it natively (CPU, Ampere+ GPUs, MPS); None: train in fp32.
    (fp16 would need loss scaling; older GPUs train in fp32 instead.)"""
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else None
    return torch.bfloat16 if device.type in ("cpu", "mps") else None


@dataclass
class DistEnv:
    """This process's place in the run: ``rank`` of ``world``, its device and backend."""

    device: torch.device
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    local_world: int = 1
    backend: Optional[str] = None

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.world > 1:
            torch.distributed.barrier()

    def all_sum(self, values: List[float]) -> List[float]:
        """Sum of ``values`` over all processes (float64, on the collective's device)."""
        if self.world == 1:
            return list(values)
        dev = self.device if self.backend == "nccl" else torch.device("cpu")
        t = torch.tensor(values, dtype=torch.float64, device=dev)
        torch.distributed.all_reduce(t)
        return t.tolist()

    def wrap(self, model: nn.Module) -> nn.Module:
        """DistributedDataParallel around ``model`` when there are several processes."""
        if self.world == 1:
            return model
        ids = [self.device.index] if self.device.type == "cuda" else None
        return nn.parallel.DistributedDataParallel(model, device_ids=ids, broadcast_buffers=True)

    def close(self) -> None:
        if self.world > 1 and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


def setup(device: str) -> DistEnv:
    """This process's :class:`DistEnv`; joins torchrun's process group when ``WORLD_SIZE`` > 1."""
    try:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        local_world = int(os.environ.get("LOCAL_WORLD_SIZE", str(world)))
    except ValueError as e:
        raise HwsqueezeError(f"torchrun environment: {e}") from None
    dev = resolve_device(device, local_rank)
    if world == 1:
        return DistEnv(dev)
    backend = "nccl" if dev.type == "cuda" else "gloo"
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    if not torch.distributed.is_initialized():
        torch.distributed.init_process_group(backend, timeout=timedelta(minutes=30))
    return DistEnv(dev, rank, world, local_rank, local_world, backend)
