"""Training: loops, pruning, checkpoints.

The training loop is imported on first use only: checkpoint users (``export``, ``size``, the
compile flow) must not pull it in (see ``tests/export/test_export_cli.py``).
"""
from typing import Any

from .checkpoint import DEFAULT_CHECKPOINT, class_names, load_checkpoint, model_from_checkpoint, save_checkpoint

__all__ = ["DEFAULT_CHECKPOINT", "TrainConfig", "class_names", "evaluate", "load_checkpoint",
           "model_from_checkpoint", "predict", "save_checkpoint", "train"]

_LOOP = ("TrainConfig", "evaluate", "predict", "train")


def __getattr__(name: str) -> Any:
    if name in _LOOP:
        from . import loop

        return getattr(loop, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
