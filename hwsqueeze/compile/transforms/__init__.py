"""One qonnx-style graph pass per module: ``apply(model) -> (model, changed)``."""
