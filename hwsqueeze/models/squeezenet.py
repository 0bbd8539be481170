"""SqueezeNet v1.0 / v1.1 (ImageNet, as in the paper and DeepScale's release) and CIFAR-10 variants."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple, Union

import torch
from torch import nn

from .fire import Fire
from .layers import LayerFactory
from .quant import QuantSpec

__all__ = ["Arch", "SqueezeNet", "channel_scaler"]

# A body entry is either "pool" or (squeeze, expand1x1, expand3x3) for one Fire module.
BodyItem = Union[str, Tuple[int, int, int]]


def channel_scaler(width: float):
    """``c -> c x width`` rounded to a multiple of 8 (folding-friendly), at least 8; refuses a
    width that is not a positive finite number."""
    if not isinstance(width, (int, float)) or not 0.0 < width < float("inf"):
        raise ValueError(f"width {width!r} must be a positive number")
    return lambda c: max(8, int(round(c * width / 8.0)) * 8)


@dataclass(frozen=True)
class Arch:
    """Topology of one SqueezeNet variant (everything except bit widths)."""

    input_size: int
    num_classes: int
    stem_channels: int
    stem_kernel: int
    stem_stride: int
    stem_padding: int
    body: Tuple[BodyItem, ...]
    pool_kernel: int = 3
    pool_stride: int = 2
    pool_ceil: bool = True
    dropout: float = 0.5
    # Fire modules (1-based as in the paper: fire2 is the first) that get the simple bypass.
    bypass_fires: Tuple[int, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        """Refuse a topology no layer can be built from, naming the field (e.g. a 0 kernel)."""
        def need(ok: bool, field_: str, value) -> None:
            if not ok:
                raise ValueError(f"model config {field_} = {value!r} is invalid")

        pos = lambda v: type(v) is int and v >= 1  # noqa: E731
        for f in ("input_size", "num_classes", "stem_channels", "stem_kernel", "stem_stride", "pool_kernel",
                  "pool_stride"):
            need(pos(getattr(self, f)), f + " (must be an integer >= 1)", getattr(self, f))
        need(type(self.stem_padding) is int and 0 <= self.stem_padding < self.stem_kernel,
             "stem_padding (must be in 0..stem_kernel-1)", self.stem_padding)
        need(isinstance(self.dropout, (int, float)) and 0.0 <= self.dropout < 1.0, "dropout (must be in [0, 1))",
             self.dropout)
        need(isinstance(self.body, (tuple, list)), "body (must be a list)", self.body)
        for i, b in enumerate(self.body):
            need(b == "pool" or (isinstance(b, (tuple, list)) and len(b) == 3 and all(pos(c) for c in b)),
                 f"body[{i}] (must be 'pool' or 3 channel counts >= 1)", b)

    def scaled(self, width: float) -> "Arch":
        """Scale every channel count by ``width`` (rounded to a multiple of 8 for folding)."""
        r = channel_scaler(width)
        if width == 1.0:
            return self
        body = tuple(b if b == "pool" else (r(b[0]), r(b[1]), r(b[2])) for b in self.body)
        return Arch(**{**self.__dict__, "stem_channels": r(self.stem_channels), "body": body})


class SqueezeNet(nn.Module):
    """SqueezeNet that takes **uint8 pixels** (0..255, NCHW) and returns logits.

    In quantized mode the first layer is an exact uint8 quantizer (scale 1), so the exported
    QONNX input is UINT8 with no float preprocessing; mean/std normalisation is not needed
    because the first BatchNorm absorbs it. The classifier is a 1x1 conv with one weight
    scale, followed by global average pooling, so logits are integers times one scale.
    """

    def __init__(self, arch: Arch, spec: QuantSpec, norm: bool = True) -> None:
        super().__init__()
        self.arch, self.spec, self.norm = arch, spec, norm
        f = LayerFactory(spec, norm=norm)
        self.input_quant = f.input_quant()
        self.conv1 = f.conv("conv1", 3, arch.stem_channels, arch.stem_kernel, arch.stem_stride, arch.stem_padding)
        self.conv1_bn = f.norm(arch.stem_channels)
        self.conv1_act = f.act("conv1")
        layers: List[nn.Module] = []
        ch, idx = arch.stem_channels, 2
        for item in arch.body:
            if item == "pool":
                layers.append(nn.MaxPool2d(arch.pool_kernel, arch.pool_stride, ceil_mode=arch.pool_ceil))
            else:
                sq, e1, e3 = item
                layers.append(Fire(f"fire{idx}", f, ch, sq, e1, e3, bypass=idx in arch.bypass_fires))
                ch, idx = e1 + e3, idx + 1
        self.features = nn.Sequential(*layers)
        self.dropout = nn.Dropout(arch.dropout) if arch.dropout > 0 else nn.Identity()
        # The paper's conv10 has a bias and a ReLU; the hardware form has neither, so the
        # logits stay "integer accumulator x one scale" (see output_scale()).
        self.conv10 = f.conv("conv10", ch, arch.num_classes, 1, bias=not norm)
        self.conv10_act = nn.Identity() if norm else nn.ReLU()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self._init_weights()

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_uniform_(m.weight, nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        nn.init.normal_(self.conv10.weight, 0.0, 0.01)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype == torch.uint8:
            x = x.float()
        x = self.input_quant(x)
        x = self.conv1_act(self.conv1_bn(self.conv1(x)))
        x = self.features(x)
        x = self.conv10_act(self.conv10(self.dropout(x)))
        return torch.flatten(self.pool(x), 1)

    # ----------------------------------------------------------------- accounting
    def fires(self) -> List[Fire]:
        return [m for m in self.features if isinstance(m, Fire)]

    def paper_param_count(self) -> int:
        """Weights + biases of the deployable network (BatchNorm folded to one bias per channel)."""
        n = 0
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                n += m.weight.numel() + (m.bias.numel() if m.bias is not None else 0)
            elif isinstance(m, nn.BatchNorm2d):
                n += m.num_features
        return n

    def weight_count(self) -> int:
        return sum(m.weight.numel() for m in self.modules() if isinstance(m, nn.Conv2d))

    def layer_shapes(self) -> List[Tuple[str, nn.Conv2d, int, int]]:
        """(name, conv, out_h, out_w) for every conv, from a shape-tracing forward pass."""
        out: List[Tuple[str, nn.Conv2d, int, int]] = []
        names = {m: n for n, m in self.named_modules()}
        hooks = [m.register_forward_hook(lambda mod, i, o: out.append((names[mod], mod, o.shape[2], o.shape[3])))
                 for m in self.modules() if isinstance(m, nn.Conv2d)]
        try:
            was = self.training
            self.eval()
            with torch.no_grad():
                self(torch.zeros(1, 3, self.arch.input_size, self.arch.input_size))
            self.train(was)
        finally:
            for h in hooks:
                h.remove()
        return out

    def macs(self) -> int:
        """Multiply-accumulates per image (convolutions only)."""
        return sum(h * w * c.weight[0].numel() * c.out_channels for _, c, h, w in self.layer_shapes())
