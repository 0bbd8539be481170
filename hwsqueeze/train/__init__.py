"""Training: loops, pruning, checkpoints."""
from .checkpoint import DEFAULT_CHECKPOINT, load_checkpoint, model_from_checkpoint, save_checkpoint
from .loop import TrainConfig, evaluate, predict, train

__all__ = ["DEFAULT_CHECKPOINT", "TrainConfig", "evaluate", "load_checkpoint", "model_from_checkpoint",
           "predict", "save_checkpoint", "train"]
