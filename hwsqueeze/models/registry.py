"""Named models: ``create("squeezenet1_1-cifar10", quant="w4a4")``."""
from __future__ import annotations

from typing import Dict, List, Optional, Union

from .quant import PRESETS, QuantSpec
from .squeezenet import Arch, SqueezeNet
from .peer import CNVPeer, PeerArch
from .teacher import TeacherArch, TeacherNet

__all__ = ["ARCHS", "PEERS", "TEACHERS", "create", "names", "resolve_spec"]

_V10 = ((16, 64, 64), (16, 64, 64), (32, 128, 128), "pool", (32, 128, 128), (48, 192, 192),
        (48, 192, 192), (64, 256, 256), "pool", (64, 256, 256))
_V11 = ((16, 64, 64), (16, 64, 64), "pool", (32, 128, 128), (32, 128, 128), "pool",
        (48, 192, 192), (48, 192, 192), (64, 256, 256), (64, 256, 256))

ARCHS: Dict[str, Arch] = {
    # Exactly the paper / DeepScale definitions (224x224, 1000 classes, 3x3/2 ceil-mode pools).
    "squeezenet1_0-imagenet": Arch(224, 1000, 96, 7, 2, 0, ("pool",) + _V10),
    "squeezenet1_1-imagenet": Arch(224, 1000, 64, 3, 2, 0, ("pool",) + _V11),
    # CIFAR-10 (32x32): a 3x3/1 stem instead of 7x7/2 or 3x3/2 (a 32 px image has no
    # resolution to spare), and exact 2x2/2 pools (FINN maps them to StreamingMaxPool with
    # no padding/ceil-mode subtleties). Downsampling stays late relative to the input size.
    "squeezenet1_0-cifar10": Arch(32, 10, 96, 3, 1, 1, ("pool",) + _V10, 2, 2, False, 0.0),
    "squeezenet1_1-cifar10": Arch(32, 10, 64, 3, 1, 1, ("pool",) + _V11, 2, 2, False, 0.0),
    # A two-Fire network for fast end-to-end tests of the compile flow.
    "squeezenet-tiny-cifar10": Arch(32, 10, 16, 3, 1, 1, ("pool", (8, 16, 16), "pool", (8, 16, 16), "pool"),
                                    2, 2, False, 0.0),
}
# Float-only teachers for distillation (never quantized or deployed): airbench94's stage widths,
# and a wider one with a residual third conv per stage (see teacher.py).
TEACHERS: Dict[str, TeacherArch] = {
    "resnet-teacher-cifar10": TeacherArch(32, 10, 64, (64, 256, 256), residual=True),
    "resnet-teacher-wide-cifar10": TeacherArch(32, 10, 64, (128, 384, 384), residual=True),
}
# Peers trained here on the same data (float: never; their bit widths are part of the name).
PEERS: Dict[str, PeerArch] = {
    "cnv-w2a2-cifar10": PeerArch(32, 10, 2, 2),  # finn-examples' cnv-w2a2 (Brevitas' cnv_2w2a)
}
# The paper's simple bypass: around fire3, fire5, fire7, fire9 (where in == out channels).
_BYPASS = (3, 5, 7, 9)


def names() -> List[str]:
    """Every registered model: the SqueezeNets, the float teachers, the peers."""
    return sorted(ARCHS) + sorted(TEACHERS) + sorted(PEERS)


def resolve_spec(quant: Union[str, QuantSpec, None] = "w4a4", weight_bits: Optional[int] = None,
                 act_bits: Optional[int] = None) -> QuantSpec:
    """A QuantSpec from a preset name (``float``, ``w4a4``, ...) with optional overrides."""
    if isinstance(quant, QuantSpec):
        spec = quant
    else:
        key = (quant or "float").lower()
        if key not in PRESETS:
            raise ValueError(f"unknown quantization preset {quant!r}; known: {', '.join(PRESETS)}")
        spec = PRESETS[key]
    if weight_bits is not None or act_bits is not None:
        if spec.is_float:
            spec = PRESETS["w4a4"]
        d = spec.to_dict()
        if weight_bits is not None:
            d["weight_bits"] = weight_bits
        if act_bits is not None:
            d["act_bits"] = act_bits
        spec = QuantSpec.from_dict(d)
    return spec


def create(name: str, quant: Union[str, QuantSpec, None] = "w4a4", *, weight_bits: Optional[int] = None,
           act_bits: Optional[int] = None, norm: bool = True, bypass: bool = False, width: float = 1.0,
           dropout: Optional[float] = None) -> Union[SqueezeNet, TeacherNet, CNVPeer]:
    """Build a registered model.

    ``quant``: a preset (``float``, ``w8a8``, ``w4a4``, ``w3a3``, ``w2a2``) or a QuantSpec;
    ``norm=False`` gives the paper's float form (conv biases, no BatchNorm);
    ``bypass`` adds the paper's simple bypass; ``width`` scales all channel counts.
    """
    if name in TEACHERS:
        if not resolve_spec(quant, weight_bits, act_bits).is_float or bypass:  # (always BatchNorm: norm ignored)
            raise ValueError(f"{name} is a float teacher: only --quant float, no --bypass")
        return TeacherNet(TEACHERS[name].scaled(width))
    if name in PEERS:
        arch, spec = PEERS[name], resolve_spec(quant, weight_bits, act_bits)
        if (spec.weight_bits, spec.act_bits) != (arch.weight_bits, arch.act_bits) or bypass or width != 1.0:
            raise ValueError(f"{name} is the peer as published: only --quant w{arch.weight_bits}a{arch.act_bits}, "
                             "no --bypass or --width")
        return CNVPeer(arch)
    if name not in ARCHS:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(names())}")
    arch = ARCHS[name].scaled(width)
    if bypass:
        n_fires = sum(1 for b in arch.body if b != "pool")  # Fire numbering starts at fire2
        arch = Arch(**{**arch.__dict__, "bypass_fires": tuple(f for f in _BYPASS if f - 2 < n_fires)})
    if dropout is not None:
        arch = Arch(**{**arch.__dict__, "dropout": dropout})
    return SqueezeNet(arch, resolve_spec(quant, weight_bits, act_bits), norm=norm)
