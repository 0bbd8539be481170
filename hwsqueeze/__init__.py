"""hwsqueeze: quantized SqueezeNet on small FPGAs (Brevitas -> QONNX -> FINN+ -> PYNQ)."""
__version__ = "0.1.0"
