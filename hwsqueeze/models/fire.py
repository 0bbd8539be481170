"""Fire module (Iandola et al. 2016): 1x1 squeeze conv feeding parallel 1x1 and 3x3 expand convs."""
from __future__ import annotations

import torch
from torch import nn

from .layers import LayerFactory

__all__ = ["Fire"]


class Fire(nn.Module):
    """squeeze (1x1) -> {expand1x1 || expand3x3} -> concat.

    Hardware rule: the two expand branches share ONE activation quantizer (``expand_act``),
    so both halves of the concat carry the same scale and FINN can move that scale past the
    join. With ``bypass=True`` (the paper's simple bypass, only when in == out channels) the
    input is added before the shared activation, ResNet style.
    """

    def __init__(self, name: str, f: LayerFactory, in_ch: int, squeeze: int, e1: int, e3: int,
                 bypass: bool = False) -> None:
        super().__init__()
        if bypass and in_ch != e1 + e3:
            raise ValueError(f"{name}: simple bypass needs in_ch == e1 + e3 ({in_ch} != {e1 + e3})")
        self.in_ch, self.out_ch, self.bypass = in_ch, e1 + e3, bypass
        self.squeeze = f.conv(f"{name}.squeeze", in_ch, squeeze, 1)
        self.squeeze_bn = f.norm(squeeze)
        self.squeeze_act = f.act(f"{name}.squeeze")
        self.expand1x1 = f.conv(f"{name}.expand", squeeze, e1, 1)
        self.expand1x1_bn = f.norm(e1)
        self.expand3x3 = f.conv(f"{name}.expand", squeeze, e3, 3, padding=1)
        self.expand3x3_bn = f.norm(e3)
        self.expand_act = f.act(f"{name}.expand")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.squeeze_act(self.squeeze_bn(self.squeeze(x)))
        a = self.expand1x1_bn(self.expand1x1(s))
        b = self.expand3x3_bn(self.expand3x3(s))
        if self.bypass:
            return self.expand_act(torch.cat([a, b], 1) + x)
        return torch.cat([self.expand_act(a), self.expand_act(b)], 1)

    def macs(self, h: int, w: int) -> int:
        sq = self.squeeze.out_channels
        return h * w * (self.in_ch * sq + sq * self.expand1x1.out_channels + 9 * sq * self.expand3x3.out_channels)
