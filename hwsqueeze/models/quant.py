"""Bit-width presets and Brevitas quantizers.

The quantizers are chosen so that the exported QONNX graph maps onto FINN+ hardware exactly:
pixels enter as an 8-bit unsigned integer with scale 1 (so the accelerator input is UINT8),
weights are signed narrow-range integers with per-output-channel scales (absorbed into the
thresholds), and activations are unsigned per-tensor integers (one scale per tensor, which
is what a concat of two Fire expand branches needs).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Dict, Optional

__all__ = ["QuantSpec", "PRESETS"]


@dataclass(frozen=True)
class QuantSpec:
    """Bit widths for one model. ``weight_bits=None`` means float (pretraining) mode.

    ``overrides`` maps a layer name (``conv1``, ``fire3.squeeze``, ``fire3.expand``,
    ``conv10``) to ``{"w": bits, "a": bits}``; ``a`` is the width of that layer's output
    activation.
    """

    weight_bits: Optional[int] = 4
    act_bits: Optional[int] = 4
    first_weight_bits: Optional[int] = 8
    last_weight_bits: Optional[int] = 8
    input_bits: int = 8
    overrides: Dict[str, Dict[str, int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        def bits(name: str, v, lo: int, none_ok: bool = True) -> None:
            if (v is None and none_ok) or (type(v) is int and lo <= v <= 32):
                return
            raise ValueError(f"{name} = {v!r}: bit widths must be integers in {lo}..32"
                             + (" (signed narrow-range weights: 1 bit holds only 0)" if lo == 2 else ""))

        for name in ("weight_bits", "first_weight_bits", "last_weight_bits"):
            bits(name, getattr(self, name), 2)
        bits("act_bits", self.act_bits, 1)
        bits("input_bits", self.input_bits, 1, none_ok=False)
        if not isinstance(self.overrides, dict):
            raise ValueError(f"overrides = {self.overrides!r}: expected a dict of layer -> {{'w': bits, 'a': bits}}")
        for layer, o in self.overrides.items():
            if not isinstance(o, dict) or set(o) - {"w", "a"}:
                raise ValueError(f"overrides[{layer!r}] = {o!r}: expected {{'w': bits, 'a': bits}}")
            bits(f"overrides[{layer!r}]['w']", o.get("w"), 2)
            bits(f"overrides[{layer!r}]['a']", o.get("a"), 1)

    @property
    def is_float(self) -> bool:
        return self.weight_bits is None

    def weight(self, layer: str, default: Optional[int]) -> Optional[int]:
        return self.overrides.get(layer, {}).get("w", default)

    def act(self, layer: str) -> Optional[int]:
        return self.overrides.get(layer, {}).get("a", self.act_bits)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "QuantSpec":
        return cls(**d)

    def tag(self) -> str:
        if self.is_float:
            return "float"
        return f"W{self.weight_bits}A{self.act_bits}"


PRESETS: Dict[str, QuantSpec] = {
    "float": QuantSpec(weight_bits=None, act_bits=None, first_weight_bits=None, last_weight_bits=None),
    "w8a8": QuantSpec(8, 8),
    "w4a4": QuantSpec(4, 4),
    "w3a3": QuantSpec(3, 3),
    "w2a2": QuantSpec(2, 2),
}


def make_quantizers():
    """Import Brevitas lazily (no import-time side effects, and the board side never needs it)."""
    from brevitas.core.scaling import ScalingImplType
    from brevitas.quant import Int8WeightPerChannelFloat, Int8WeightPerTensorFloat, Uint8ActPerTensorFloat

    class PixelQuant(Uint8ActPerTensorFloat):
        """uint8 pixels with scale exactly 1: the identity on 0..255, exported as UINT8 input."""

        scaling_impl_type = ScalingImplType.CONST
        min_val = 0.0
        max_val = 255.0
        bit_width = 8

    class ActQuant(Uint8ActPerTensorFloat):
        """Unsigned per-tensor activation with a learned scale (initialised from statistics)."""

        collect_stats_steps = 50  # fewer slow percentile steps; QAT usually starts from a float model

    class WeightQuant(Int8WeightPerChannelFloat):
        """Signed narrow-range weights, one scale per output channel."""

    class LastWeightQuant(Int8WeightPerTensorFloat):
        """One scale for the classifier so logits are integers times one known scale."""

    return PixelQuant, ActQuant, WeightQuant, LastWeightQuant
