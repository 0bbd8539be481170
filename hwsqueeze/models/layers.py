"""Builds float or Brevitas layers from one description, so float and QAT models share names.

A float checkpoint therefore loads into the QAT model by name (only quantizer state is new).
"""
from __future__ import annotations

from torch import nn

from .quant import QuantSpec, make_quantizers

__all__ = ["LayerFactory"]


class LayerFactory:
    """Creates conv / norm / activation layers for one :class:`QuantSpec`.

    ``norm=True`` gives bias-free convs followed by BatchNorm (the hardware form: BN folds into
    FINN thresholds); ``norm=False`` gives the paper's convs with bias and no BN.
    """

    def __init__(self, spec: QuantSpec, norm: bool = True, first: str = "conv1", last: str = "conv10") -> None:
        self.spec, self.use_norm, self.first, self.last = spec, norm, first, last
        self._q = None if spec.is_float else make_quantizers()

    def input_quant(self) -> nn.Module:
        if self._q is None:
            return nn.Identity()
        from brevitas.nn import QuantIdentity
        return QuantIdentity(act_quant=self._q[0], return_quant_tensor=False)

    def conv(self, name: str, cin: int, cout: int, k: int, stride: int = 1, padding: int = 0,
             bias: bool = None) -> nn.Module:
        bias = (not self.use_norm) if bias is None else bias
        if self._q is None:
            return nn.Conv2d(cin, cout, k, stride, padding, bias=bias)
        from brevitas.nn import QuantConv2d
        default = self.spec.weight_bits
        quant = self._q[2]
        if name == self.first:
            default = self.spec.first_weight_bits
        elif name == self.last:
            default, quant = self.spec.last_weight_bits, self._q[3]
        bits = self.spec.weight(name, default)
        return QuantConv2d(cin, cout, k, stride, padding, bias=bias, weight_quant=quant, weight_bit_width=bits)

    def norm(self, ch: int) -> nn.Module:
        return nn.BatchNorm2d(ch) if self.use_norm else nn.Identity()

    def act(self, name: str) -> nn.Module:
        if self._q is None:
            return nn.ReLU(inplace=False)
        from brevitas.nn import QuantReLU
        return QuantReLU(act_quant=self._q[1], bit_width=self.spec.act(name), return_quant_tensor=False)
