"""Training: loops, pruning, checkpoints.

Everything is imported on first use: checkpoint users (``export``, ``size``, the compile flow)
must not pull in the training loop (see ``tests/export/test_export_cli.py``), and the CLI checks
its options with :mod:`hwsqueeze.train.validate` before torch is imported at all.
"""
from typing import Any

__all__ = ["DEFAULT_CHECKPOINT", "TrainConfig", "class_names", "evaluate", "load_checkpoint",
           "model_from_checkpoint", "predict", "save_checkpoint", "train"]

_WHERE = {**{n: "loop" for n in ("TrainConfig", "evaluate", "predict", "train")},
          **{n: "checkpoint" for n in ("DEFAULT_CHECKPOINT", "class_names", "load_checkpoint",
                                       "model_from_checkpoint", "save_checkpoint")}}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
