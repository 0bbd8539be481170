"""Compile stage: QONNX -> FINN+ dataflow accelerator (steps.py lists the build steps)."""
