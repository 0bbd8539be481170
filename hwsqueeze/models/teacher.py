"""A float CIFAR teacher for distillation: a small VGG/ResNet-style net in the spirit of airbench.

Its shape follows the published airbench94 network (Keller Jordan, 2024): a stem, then three
stages of ``conv3x3 -> 2x2 max pool -> BN -> GELU -> conv3x3 -> BN -> GELU`` at widths
64/256/256, a global max pool and a bias-free linear classifier. ``residual`` adds a third
conv per stage on an identity shortcut (airbench96's deeper stage). The code is ours; it takes
**uint8 pixels** like the SqueezeNet student (normalised inside), so one batch feeds both.

It is never quantized or deployed: it only supplies soft targets (``hwsqueeze train --teacher``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

import torch
from torch import nn

from .counting import Counted
from .squeezenet import channel_scaler

__all__ = ["TeacherArch", "TeacherNet"]

# Per-channel mean / std of CIFAR-10's training pixels (0..255).
_MEAN = (125.3, 123.0, 113.9)
_STD = (63.0, 62.1, 66.7)


@dataclass(frozen=True)
class TeacherArch:
    """Topology of a teacher net (float only)."""

    input_size: int
    num_classes: int
    stem_channels: int
    widths: Tuple[int, ...]
    residual: bool = False

    def __post_init__(self) -> None:
        pos = lambda v: type(v) is int and v >= 1  # noqa: E731
        for f in ("input_size", "num_classes", "stem_channels"):
            if not pos(getattr(self, f)):
                raise ValueError(f"model config {f} = {getattr(self, f)!r} is invalid (must be an integer >= 1)")
        if not self.widths or not all(pos(w) for w in self.widths):
            raise ValueError(f"model config widths = {self.widths!r} is invalid (channel counts >= 1)")

    def scaled(self, width: float) -> "TeacherArch":
        """Every stage width times ``width`` (rounded to a multiple of 8)."""
        r = channel_scaler(width)
        if width == 1.0:
            return self
        return TeacherArch(self.input_size, self.num_classes, r(self.stem_channels),
                           tuple(r(w) for w in self.widths), self.residual)


def _conv_bn_act(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.GELU())


class _Stage(nn.Module):
    """conv -> pool -> BN -> GELU -> conv -> BN -> GELU (-> + conv -> BN -> GELU with ``residual``)."""

    def __init__(self, cin: int, cout: int, residual: bool) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
        self.pool = nn.MaxPool2d(2)
        self.bn1 = nn.BatchNorm2d(cout)
        self.act = nn.GELU()
        self.block2 = _conv_bn_act(cout, cout)
        self.block3 = _conv_bn_act(cout, cout) if residual else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self.bn1(self.pool(self.conv1(x))))
        x = self.block2(x)
        return x + self.block3(x) if self.block3 is not None else x


class TeacherNet(Counted):
    """Float teacher taking uint8 (or 0..255 float) NCHW pixels; returns logits."""

    def __init__(self, arch: TeacherArch) -> None:
        super().__init__()
        self.arch = arch
        self.register_buffer("mean", torch.tensor(_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("inv_std", 1.0 / torch.tensor(_STD).view(1, 3, 1, 1), persistent=False)
        self.stem = _conv_bn_act(3, arch.stem_channels)
        stages, ch = [], arch.stem_channels
        for w in arch.widths:
            stages.append(_Stage(ch, w, arch.residual))
            ch = w
        self.stages = nn.Sequential(*stages)
        self.pool = nn.AdaptiveMaxPool2d(1)
        self.fc = nn.Linear(ch, arch.num_classes, bias=False)
        # airbench's fixed 1/9 on the logits: the global max of BN+GELU features is large, and
        # without it the classifier's first steps diverge (measured: 12 % vs 54 % after 75 steps)
        self.logit_scale = 1.0 / 9.0
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
        nn.init.normal_(self.fc.weight, 0.0, 0.01)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x.float() - self.mean) * self.inv_std
        x = self.stages(self.stem(x))
        return self.fc(torch.flatten(self.pool(x), 1)) * self.logit_scale
