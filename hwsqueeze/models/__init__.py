"""SqueezeNet family (Fire modules, float and Brevitas-quantized models), the float teachers,
the trainable peer (CNV-W2A2), and the registry of all of them."""
from .infer import predict
from .peer import CNVPeer, PeerArch
from .quant import PRESETS, QuantSpec
from .registry import ARCHS, PEERS, TEACHERS, create, names, resolve_spec
from .squeezenet import Arch, SqueezeNet
from .teacher import TeacherArch, TeacherNet

__all__ = ["ARCHS", "Arch", "CNVPeer", "PEERS", "PRESETS", "PeerArch", "QuantSpec", "SqueezeNet", "TEACHERS",
           "TeacherArch", "TeacherNet", "create", "names", "predict", "resolve_spec"]
