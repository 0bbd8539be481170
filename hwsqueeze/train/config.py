"""The training configuration: every option of a run, stored in each of its checkpoints."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Optional

from ..models import SqueezeNet, create, resolve_spec

__all__ = ["TrainConfig", "label_smoothing_default"]


def label_smoothing_default(teacher: Optional[str]) -> float:
    """``--label-smoothing`` when not given: 0.1 on labels alone; 0 when distilling, where the
    teacher's soft targets already regularise (smoothing the hard term too only blurs them)."""
    return 0.0 if teacher else 0.1


@dataclass
class TrainConfig:
    """Everything that defines a training run; stored in every checkpoint."""

    data: str
    out: str
    model: str = "squeezenet1_1-cifar10"
    quant: str = "w4a4"
    weight_bits: Optional[int] = None
    act_bits: Optional[int] = None
    width: float = 1.0
    bypass: bool = False
    dropout: Optional[float] = None
    init: Optional[str] = None            # float (or other) checkpoint to start QAT from
    epochs: int = 30
    batch_size: int = 256                 # the global batch: split over the processes of a torchrun
    lr: float = 0.2
    momentum: float = 0.9                 # SGD momentum; Adam's beta1 (both cycled by OneCycle)
    optimizer: str = "sgd"                # sgd (Nesterov) | adam (the peer's published recipe)
    weight_decay: float = 5e-4
    label_smoothing: Optional[float] = None  # None: label_smoothing_default(teacher)
    warmup: float = 0.15                  # fraction of steps spent rising to lr (OneCycle)
    bf16: bool = True                     # bf16 autocast for training steps (eval is fp32)
    sparsity: float = 0.0                 # magnitude-pruning target for inner convs
    prune_start: int = 0
    prune_end: int = 0                    # 0 -> 2/3 of the epochs
    seed: int = 0
    max_train: Optional[int] = None       # use only the first N training images (tests)
    max_test: Optional[int] = None
    threads: Optional[int] = None
    device: str = "auto"                  # auto | cpu | cuda | mps
    loader: str = "auto"                  # auto | cache | stream
    workers: Optional[int] = None         # DataLoader workers per process (stream)
    sync_bn: bool = False                 # BatchNorm statistics over the global batch (several processes)
    compile: bool = False                 # torch.compile the training step's model
    stop_after: Optional[int] = None      # train at most N epochs in this invocation (chunks; resume continues)
    teacher: Optional[str] = None         # knowledge distillation from this checkpoint
    kd_temperature: float = 4.0
    kd_weight: float = 0.5
    kd_flip: bool = False                 # teacher logits averaged over the batch and its mirror image
    cutout: int = 0                       # a square of this side per training image set to the mean colour (0: off)
    eval_every: int = 1                   # test-set evaluation (and plot) every N epochs, and at the last
    quant_spec: Dict[str, Any] = field(default_factory=dict)  # filled in: the resolved QuantSpec

    def __post_init__(self) -> None:
        if self.label_smoothing is None:
            self.label_smoothing = label_smoothing_default(self.teacher)

    def build_model(self) -> SqueezeNet:
        spec = resolve_spec(self.quant, self.weight_bits, self.act_bits)
        self.quant_spec = spec.to_dict()
        return create(self.model, spec, width=self.width, bypass=self.bypass, dropout=self.dropout)
