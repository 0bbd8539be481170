"""Training and evaluation loops (CPU-first: channels-last, bf16 autocast, OneCycle)."""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import numpy as np
import torch
from torch import nn

from ..data import Dataset, augment_batch, load_dataset
from ..errors import HwsqueezeError
from ..fsutil import write_json
from ..models import SqueezeNet, create, predict, resolve_spec
from .checkpoint import class_names, load_checkpoint, save_checkpoint
from .prune import Pruner
from .resume import check_resume
from .validate import check_options, check_writable

__all__ = ["TrainConfig", "train", "evaluate", "predict"]


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
    batch_size: int = 256
    lr: float = 0.2
    momentum: float = 0.9
    weight_decay: float = 5e-4
    label_smoothing: float = 0.1
    warmup: float = 0.15                  # fraction of steps spent rising to lr (OneCycle)
    bf16: bool = True                     # bf16 autocast for training steps (eval is fp32)
    sparsity: float = 0.0                 # magnitude-pruning target for inner convs
    prune_start: int = 0
    prune_end: int = 0                    # 0 -> 2/3 of the epochs
    seed: int = 0
    max_train: Optional[int] = None       # use only the first N training images (tests)
    max_test: Optional[int] = None
    threads: Optional[int] = None
    quant_spec: Dict[str, Any] = field(default_factory=dict)  # filled in: the resolved QuantSpec

    def build_model(self) -> SqueezeNet:
        spec = resolve_spec(self.quant, self.weight_bits, self.act_bits)
        self.quant_spec = spec.to_dict()
        return create(self.model, spec, width=self.width, bypass=self.bypass, dropout=self.dropout)


def _to_nchw(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(images).permute(0, 3, 1, 2)


def topk_accuracy(logits: np.ndarray, labels: np.ndarray, k: int) -> float:
    """Fraction of rows whose label is among the ``k`` largest logits (ties: lower index first)."""
    k = min(k, logits.shape[1])
    top = np.argsort(-logits, axis=1, kind="stable")[:, :k]
    return float((top == labels[:, None]).any(axis=1).mean())


def evaluate(model: nn.Module, ds: Dataset) -> Dict[str, Any]:
    """``top1``, ``top5``, ``n`` and the ``logits`` of ``model`` on ``ds``."""
    if len(ds) == 0:
        raise HwsqueezeError("no images to evaluate")
    logits = predict(model, ds.images)
    return {"top1": topk_accuracy(logits, ds.labels, 1), "top5": topk_accuracy(logits, ds.labels, 5),
            "n": len(ds), "logits": logits}


def _load_init(model: nn.Module, path: str) -> None:
    """Start from another checkpoint (typically float -> QAT): same layer names; only quantizer
    state may be missing."""
    ck = load_checkpoint(Path(path))
    name = ck["config"].get("model")
    try:
        missing, unexpected = model.load_state_dict(ck["model"], strict=False)
    except RuntimeError as e:  # shape mismatches are errors even when not strict
        raise HwsqueezeError(f"{path} ({name}) does not fit model: {str(e).splitlines()[1].strip()}") from None
    bad = [k for k in missing if "quant" not in k] + list(unexpected)
    if bad:
        raise HwsqueezeError(f"{path} ({name}) does not fit model: missing/unexpected {bad[:3]}")


def train(cfg: TrainConfig, resume: bool = True, progress: bool = True,
          on_epoch: Optional[Callable[[Dict[str, Any]], None]] = None,
          log: Optional[Callable[[str], None]] = print) -> Dict[str, Any]:
    """Train per ``cfg``; writes ``out/last.pt`` every epoch, ``out/final.pt`` at the end and
    ``out/metrics.json``. With ``resume`` an existing ``last.pt`` of the same config continues.
    ``progress`` shows a per-step bar; ``log`` receives one line per epoch."""
    out = Path(cfg.out)
    check_options(asdict(cfg))
    check_writable(cfg.out, "--out", is_dir=True)  # before any long work, not after epoch 1
    try:
        model = cfg.build_model()
    except ValueError as e:
        raise HwsqueezeError(str(e)) from None
    last = out / "last.pt"
    resume_ck = load_checkpoint(last) if resume and last.is_file() else None
    start_epoch = check_resume(resume_ck, asdict(cfg), last, log) if resume_ck is not None else 0
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    train_ds = load_dataset(cfg.data, "train").subset(cfg.max_train)
    test_ds = load_dataset(cfg.data, "test").subset(cfg.max_test)
    if model.arch.input_size != train_ds.images.shape[1]:
        raise HwsqueezeError(f"{cfg.model} takes {model.arch.input_size}px images, dataset has "
                             f"{train_ds.images.shape[1]}px")
    if model.arch.num_classes != len(train_ds.classes):
        raise HwsqueezeError(f"{cfg.model} has {model.arch.num_classes} classes, dataset has {len(train_ds.classes)}")
    if test_ds.classes != train_ds.classes:
        raise HwsqueezeError(f"{cfg.data}: test classes {test_ds.classes} differ from train classes {train_ds.classes}")
    model = model.to(memory_format=torch.channels_last)
    decay = [p for n, p in model.named_parameters() if p.ndim > 1 and "quant" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.ndim > 1 and "quant" not in n)]
    opt = torch.optim.SGD([{"params": decay, "weight_decay": cfg.weight_decay},
                           {"params": no_decay, "weight_decay": 0.0}],
                          lr=cfg.lr, momentum=cfg.momentum, nesterov=True)
    steps_per_epoch = max(1, len(train_ds) // cfg.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.epochs * steps_per_epoch,
                                                pct_start=cfg.warmup, div_factor=25.0, final_div_factor=250.0)
    pruner = Pruner(model, cfg.sparsity, start=cfg.prune_start,
                    end=cfg.prune_end or max(1, (2 * cfg.epochs) // 3))
    metrics: List[Dict[str, Any]] = []
    if resume_ck is not None:
        ck = resume_ck
        if class_names(ck) not in (None, train_ds.classes):
            raise HwsqueezeError(f"{last} was trained on classes {class_names(ck)}, {cfg.data} has "
                                 f"{train_ds.classes}; use another --out or --no-resume")
        try:
            model.load_state_dict(ck["model"])
            opt.load_state_dict(ck["optimizer"])
            sched.load_state_dict(ck["scheduler"])
            pruner.load_state_dict(ck.get("masks", {}))
        except (RuntimeError, ValueError, KeyError, TypeError) as e:
            first = (str(e).strip().splitlines() or [""])[0][:200]
            raise HwsqueezeError(f"{last}: cannot resume from it ({type(e).__name__}: {first}); "
                                 "use --no-resume or another --out") from None
        metrics = list(ck.get("metrics", []))
    elif cfg.init:
        _load_init(model, cfg.init)

    x_all = _to_nchw(train_ds.images)
    y_all = torch.from_numpy(train_ds.labels)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
    t_run = time.time()
    for epoch in range(start_epoch, cfg.epochs):
        model.train()
        # one generator per epoch: a resumed run sees exactly the batches an unbroken run would
        gen = torch.Generator().manual_seed(cfg.seed * 100003 + epoch)
        perm = torch.randperm(len(train_ds), generator=gen)
        seen = correct = 0
        loss_sum = 0.0
        t0 = time.time()
        bar = _progress(steps_per_epoch, f"epoch {epoch + 1}/{cfg.epochs}", progress)
        for step in range(steps_per_epoch):
            if pruner.active:
                pruner.update(epoch + step / steps_per_epoch)
            idx = perm[step * cfg.batch_size:(step + 1) * cfg.batch_size]
            x = augment_batch(x_all[idx], generator=gen).float().contiguous(memory_format=torch.channels_last)
            y = y_all[idx]
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg.bf16):
                logits = model(x)
            loss = loss_fn(logits.float(), y)
            if not math.isfinite(loss.item()):
                raise HwsqueezeError(f"loss became {loss.item()} at epoch {epoch + 1} step {step}; lower --lr")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            pruner.apply()
            seen += len(y)
            correct += int((logits.argmax(1) == y).sum())
            loss_sum += loss.item() * len(y)
            bar.update(1, loss=loss_sum / seen, acc=correct / seen, ips=seen / (time.time() - t0))
        bar.close()
        train_time = time.time() - t0
        ev = evaluate(model, test_ds)
        rec = {"epoch": epoch + 1, "train_loss": loss_sum / seen, "train_acc": correct / seen,
               "test_top1": ev["top1"], "test_top5": ev["top5"], "images_per_s": seen / train_time,
               "epoch_s": time.time() - t0, "lr": sched.get_last_lr()[0]}
        if pruner.active:
            rep = pruner.report()
            rec["sparsity"] = sum(float(pruner.convs[n].weight.numel()) * s for n, s in rep.items()) / \
                sum(float(m.weight.numel()) for m in pruner.convs.values())
        metrics.append(rec)
        if log:
            log(f"epoch {epoch + 1}: loss {rec['train_loss']:.3f} train {rec['train_acc']:.4f} "
                f"test top1 {rec['test_top1']:.4f} ({rec['images_per_s']:.0f} img/s, {rec['epoch_s']:.0f} s)")
        save_checkpoint(last, _state(model, opt, sched, pruner, cfg, epoch + 1, metrics, train_ds.classes))
        write_json(out / "metrics.json", {"config": asdict(cfg), "epochs": metrics})
        if on_epoch:
            on_epoch(rec)
    final = {"config": asdict(cfg), "model": model.state_dict(), "epoch": cfg.epochs, "metrics": metrics,
             "masks": pruner.state_dict(), "classes": list(train_ds.classes)}
    save_checkpoint(out / "final.pt", final)
    summary = {"config": asdict(cfg), "epochs": metrics, "wall_s_this_run": time.time() - t_run,
               "test_top1": metrics[-1]["test_top1"] if metrics else None}
    write_json(out / "metrics.json", summary)
    return summary


def _state(model, opt, sched, pruner, cfg, epoch, metrics, classes) -> Dict[str, Any]:
    """Everything ``last.pt`` needs to resume; ``classes`` names the outputs (index = label)."""
    return {"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
            "masks": pruner.state_dict(), "epoch": epoch, "config": asdict(cfg), "metrics": metrics,
            "classes": list(classes)}


class _NoBar:
    def update(self, n=1, **kw):
        pass

    def close(self):
        pass


class _TqdmBar:
    def __init__(self, total: int, desc: str) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=total, desc=desc, leave=False, mininterval=1.0, dynamic_ncols=True)

    def update(self, n=1, **kw):
        self.bar.set_postfix({k: f"{v:.3f}" if k != "ips" else f"{v:.0f}" for k, v in kw.items()}, refresh=False)
        self.bar.update(n)

    def close(self):
        self.bar.close()


def _progress(total: int, desc: str, enabled: bool):
    return _TqdmBar(total, desc) if enabled else _NoBar()
