"""The peer a PYNQ-Z2 user would pick, trainable here: Brevitas' own CNV-W2A2 (finn-examples' cnv-w2a2).

The network is ``brevitas_examples.bnn_pynq``'s ``CNV`` exactly (2-bit weights and activations,
8-bit Q1.7 input, TensorNorm output), so a checkpoint trained here loads into Brevitas' model
and exports as finn-examples' does. This wrapper only lets it take **uint8 pixels** like our
models (Brevitas' training feeds ``ToTensor()``'s 0..1, which its ``forward`` maps to -1..1) and
carries the published recipe's weight clipping to [-1, 1] after every optimizer step.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .counting import Counted

__all__ = ["PeerArch", "CNVPeer"]


@dataclass(frozen=True)
class PeerArch:
    """What the training loop needs to know of a peer model."""

    input_size: int = 32
    num_classes: int = 10
    weight_bits: int = 2
    act_bits: int = 2


class CNVPeer(Counted):
    """Brevitas' CNV taking uint8 (or 0..255 float) NCHW pixels."""

    def __init__(self, arch: PeerArch) -> None:
        super().__init__()
        from brevitas_examples.bnn_pynq.models.CNV import CNV

        self.arch = arch
        self.cnv = CNV(num_classes=arch.num_classes, weight_bit_width=arch.weight_bits,
                       act_bit_width=arch.act_bits, in_bit_width=8, in_ch=3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cnv(x.float() / 255.0)

    @torch.no_grad()
    def after_step(self) -> None:
        """bnn_pynq's trainer clips every weight to [-1, 1] after each step (the quantizer's
        constant scale is 1, so weights outside it would only saturate)."""
        self.cnv.clip_weights(-1.0, 1.0)
