"""SqueezeNet family: Fire modules, float and Brevitas-quantized models, and the registry."""
from .infer import predict
from .quant import PRESETS, QuantSpec
from .registry import ARCHS, create, names, resolve_spec
from .squeezenet import Arch, SqueezeNet

__all__ = ["ARCHS", "Arch", "PRESETS", "QuantSpec", "SqueezeNet", "create", "names", "predict",
           "resolve_spec"]
