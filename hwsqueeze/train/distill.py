"""Knowledge distillation for QAT (``--teacher CKPT``): the float model teaches its quantized copy.

loss = (1 - w) * CE(student, labels) + w * T^2 * KL(softmax(teacher / T) || softmax(student / T))

(Hinton et al. 2015; the T^2 keeps the soft term's gradient scale independent of T.) The teacher
is any float checkpoint of the same classes: the ``--init`` float model, or a stronger net such
as ``resnet-teacher-cifar10``. It runs in eval mode without gradients on the student's own
augmented batch, under the training step's autocast (bf16 on CPU: its logits only shape soft
targets, and it is most of the cost of a distilled float epoch), optionally averaged with its
logits for the mirrored batch (``--kd-flip``).
"""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import HwsqueezeError
from .checkpoint import class_names, model_from_checkpoint

__all__ = ["kd_loss", "load_teacher", "teacher_logits"]


def kd_loss(student: torch.Tensor, teacher: torch.Tensor, hard: torch.Tensor, temperature: float,
            weight: float) -> torch.Tensor:
    """Mix of the hard-label loss ``hard`` and the soft-target KL divergence at ``temperature``."""
    t = temperature
    soft = F.kl_div(F.log_softmax(student.float() / t, dim=1), F.log_softmax(teacher.float() / t, dim=1),
                    reduction="batchmean", log_target=True) * (t * t)
    return (1.0 - weight) * hard + weight * soft


def load_teacher(path: str, device: torch.device, num_classes: int, classes: Optional[List[str]]) -> nn.Module:
    """The teacher of ``path`` on ``device``, frozen; refused if its outputs are other classes."""
    model, ck = model_from_checkpoint(Path(path))
    if model.arch.num_classes != num_classes:
        raise HwsqueezeError(f"--teacher {path}: has {model.arch.num_classes} classes, the data has {num_classes}")
    names = class_names(ck)
    if names is not None and classes is not None and names != list(classes):
        raise HwsqueezeError(f"--teacher {path}: was trained on classes {names[:4]}..., the data has "
                             f"{list(classes)[:4]}...")
    for p in model.parameters():
        p.requires_grad_(False)
    return model.to(device).to(memory_format=torch.channels_last).eval()


@torch.no_grad()
def teacher_logits(teacher: nn.Module, x: torch.Tensor, amp: Optional[torch.dtype], flip: bool) -> torch.Tensor:
    """fp32 logits of the frozen ``teacher`` for batch ``x`` (autocast to ``amp`` when given),
    averaged with those of the horizontally mirrored batch when ``flip``."""
    with torch.autocast(x.device.type, dtype=amp or torch.bfloat16, enabled=amp is not None):
        out = teacher(x).float()
        if flip:
            out = 0.5 * (out + teacher(x.flip(3)).float())
    return out
