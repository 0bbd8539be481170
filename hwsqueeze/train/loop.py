"""The training loop: one process or torchrun's several, on CPU, CUDA or MPS.

Channels-last, bf16 autocast where the device has it, OneCycle, optional pruning and
distillation. Resuming ``last.pt`` continues bit for bit (see :mod:`.exact`).
"""
from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import torch
from torch import nn

from ..errors import HwsqueezeError
from ..fsutil import write_json
from ..models import predict
from .amp import fp32_act_quantizers
from .checkpoint import class_names, load_checkpoint, save_checkpoint
from .config import TrainConfig
from .distill import kd_loss, load_teacher, teacher_logits
from .distributed import DistEnv, autocast_dtype, setup
from .evaluation import evaluate, evaluate_batches, topk_accuracy
from .exact import load_quant_state, quant_state, seed_epoch
from .fastquant import fuse_quantizers
from .inputs import open_data
from .progress import Progress, fmt_duration
from .prune import Pruner
from .resume import check_resume
from .syncbn import convert_sync_bn
from .validate import check_options, check_writable

__all__ = ["TrainConfig", "train", "evaluate", "predict", "topk_accuracy"]

_log = logging.getLogger("hwsqueeze.train")
Log = Optional[Callable[[str], None]]


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


def _optimizer(model: nn.Module, cfg: TrainConfig, steps_per_epoch: int):
    """SGD (or Adam) + OneCycle over ``model``'s parameters *as they are now*: Brevitas rebuilds its
    quantizers on ``load_state_dict`` (``REINIT_ON_STATE_DICT_LOAD``), so the learned activation
    scales are new Parameter objects after any load; an optimizer made before would never
    update them (and would step orphans). Always make it after the last load."""
    decay = [p for n, p in model.named_parameters() if p.ndim > 1 and "quant" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.ndim > 1 and "quant" not in n)]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    if cfg.optimizer == "adam":  # L2 in the gradient, as torch.optim.Adam (bnn_pynq's trainer) does
        opt = torch.optim.Adam(groups, lr=cfg.lr, betas=(cfg.momentum, 0.999))
    else:
        opt = torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, nesterov=True)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.epochs * steps_per_epoch,
                                                pct_start=cfg.warmup, div_factor=25.0, final_div_factor=250.0)
    return opt, sched


def _restore(ck: Dict[str, Any], last: Path, model, cfg: TrainConfig, steps: int, pruner, log: Log):
    """Load ``last.pt`` into ``model`` (weights, quantizer state) and a new optimizer/schedule."""
    try:
        model.load_state_dict(ck["model"])
        opt, sched = _optimizer(model, cfg, steps)
        opt.load_state_dict(ck["optimizer"])
        sched.load_state_dict(ck["scheduler"])
        pruner.load_state_dict(ck.get("masks", {}))
        if "quant_state" in ck:  # after load_state_dict, which ends statistics collection
            load_quant_state(model, ck["quant_state"])
        elif log and any("quant" in k for k in ck["model"]):
            log(f"note: {last} predates exact resume: quantizer statistics restart from their saved values")
        return opt, sched
    except (RuntimeError, ValueError, KeyError, TypeError) as e:
        first = (str(e).strip().splitlines() or [""])[0][:200]
        raise HwsqueezeError(f"{last}: cannot resume from it ({type(e).__name__}: {first}); "
                             "use --no-resume or another --out") from None


def train(cfg: TrainConfig, resume: bool = True, progress: bool = True,
          on_epoch: Optional[Callable[[Dict[str, Any]], None]] = None, log: Log = _log.info) -> Dict[str, Any]:
    """Train per ``cfg``; writes ``out/last.pt`` every epoch, ``out/final.pt`` at the end,
    ``out/metrics.json`` and ``out/learning_curve.png``. With ``resume`` an existing ``last.pt``
    of the same config continues. ``progress`` shows a per-step bar; ``log`` receives the run's
    lines (only the main process of a torchrun logs and writes)."""
    check_options(asdict(cfg))
    check_writable(cfg.out, "--out", is_dir=True)  # before any long work, not after epoch 1
    env = setup(cfg.device)
    try:
        return _train(cfg, env, resume, progress, on_epoch, log if env.is_main else None)
    finally:
        env.close()


def _train(cfg: TrainConfig, env: DistEnv, resume: bool, progress: bool, on_epoch, log: Log) -> Dict[str, Any]:
    out = Path(cfg.out)
    torch.manual_seed(cfg.seed)  # the initial weights (a torchrun's ranks start from rank 0's anyway)
    try:
        model = cfg.build_model()
    except ValueError as e:
        raise HwsqueezeError(str(e)) from None
    last = out / "last.pt"
    resume_ck = load_checkpoint(last) if resume and last.is_file() else None
    start_epoch = check_resume(resume_ck, asdict(cfg), last, log, env.world) if resume_ck is not None else 0
    if cfg.batch_size % env.world:
        raise HwsqueezeError(f"--batch-size {cfg.batch_size}: the global batch must split evenly over "
                             f"{env.world} processes")
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    elif env.world > 1 and env.device.type == "cpu":  # the processes of one machine share its cores
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // env.local_world))
    data = open_data(cfg, model.arch.input_size, env)
    classes = data.check(model.arch.input_size, model.arch.num_classes, cfg.model, cfg.data)
    model = model.to(env.device).to(memory_format=torch.channels_last)
    if cfg.sync_bn and env.world > 1:
        model = convert_sync_bn(model, env.device)
    pruner = Pruner(model, cfg.sparsity, start=cfg.prune_start, end=cfg.prune_end or max(1, (2 * cfg.epochs) // 3))
    metrics: List[Dict[str, Any]] = []
    if resume_ck is not None:
        if class_names(resume_ck) not in (None, classes):
            raise HwsqueezeError(f"{last} was trained on classes {class_names(resume_ck)}, {cfg.data} has "
                                 f"{classes}; use another --out or --no-resume")
        opt, sched = _restore(resume_ck, last, model, cfg, data.steps, pruner, log)
        metrics = list(resume_ck.get("metrics", []))
    else:
        if cfg.init:
            _load_init(model, cfg.init)
        opt, sched = _optimizer(model, cfg, data.steps)  # after loading: see _optimizer
    teacher = load_teacher(cfg.teacher, env.device, len(classes), classes) if cfg.teacher else None
    amp = autocast_dtype(env.device) if cfg.bf16 else None
    if amp is not None:
        fp32_act_quantizers(model, env.device.type)  # quantizers exact under autocast (see .amp)
    fuse_quantizers(model)  # same numbers, fewer ops (see .fastquant); after every load_state_dict
    after_step = getattr(model, "after_step", None)
    net = env.wrap(model)
    fwd = torch.compile(net) if cfg.compile else net
    if log:
        log(f"training on {env.device} x {env.world} process(es)"
            f"{f' ({env.backend})' if env.backend else ''}: global batch {cfg.batch_size} = {env.world} x "
            f"{cfg.batch_size // env.world}, peak lr {cfg.lr:g} for the global batch (not rescaled), "
            f"{data.kind} loader, {data.n} images, {data.steps} steps/epoch, "
            f"{str(amp).replace('torch.', '') if amp else 'fp32'}"
            f"{', SyncBatchNorm' if cfg.sync_bn and env.world > 1 else ''}"
            f"{f', distilling from {cfg.teacher} (T={cfg.kd_temperature:g}, w={cfg.kd_weight:g}' if teacher else ''}"
            f"{', mirror-averaged' if teacher and cfg.kd_flip else ''}{')' if teacher else ''}"
            f", label smoothing {cfg.label_smoothing:g}")
    loss_fn = nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
    prog = Progress(data.steps, cfg.epochs, start_epoch, progress, log, world=env.world)
    t_run = time.time()
    end = cfg.epochs if cfg.stop_after is None else min(cfg.epochs, start_epoch + cfg.stop_after)
    for epoch in range(start_epoch, end):
        seed_epoch(cfg.seed, epoch, env.rank)  # dropout etc.: the same draws after a resume
        net.train()
        prog.start_epoch(epoch)
        for step, (x, y) in enumerate(data.epoch(epoch)):
            if pruner.active:
                pruner.update(epoch + step / data.steps)
            with torch.autocast(env.device.type, dtype=amp or torch.bfloat16, enabled=amp is not None):
                logits = fwd(x)
            loss = loss_fn(logits.float(), y)
            if teacher is not None:
                loss = kd_loss(logits, teacher_logits(teacher, x, amp, cfg.kd_flip), loss, cfg.kd_temperature,
                               cfg.kd_weight)
            value = loss.item()
            if not math.isfinite(value):
                raise HwsqueezeError(f"loss became {value} at epoch {epoch + 1} step {step}; lower --lr")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            pruner.apply()
            if after_step is not None:
                after_step()  # a model's own rule, e.g. the peer's weight clipping
            prog.step(len(y), value * len(y), int((logits.argmax(1) == y).sum()))
        train_time = prog.end_epoch()
        seen, correct, loss_sum = env.all_sum([prog.seen, prog.correct, prog.loss_sum])
        rec = {"epoch": epoch + 1, "train_loss": loss_sum / seen, "train_acc": correct / seen,
               "images_per_s": seen / train_time, "images_per_s_per_process": prog.seen / train_time,
               "processes": env.world, "lr": sched.get_last_lr()[0]}
        if pruner.active:
            rep = pruner.report()
            rec["sparsity"] = sum(float(pruner.convs[n].weight.numel()) * s for n, s in rep.items()) / \
                sum(float(m.weight.numel()) for m in pruner.convs.values())
        if env.is_main:
            test = (epoch + 1) % cfg.eval_every == 0 or epoch + 1 == cfg.epochs
            _end_epoch(cfg, env, model, net, opt, sched, pruner, data, rec, metrics, classes, prog, log, test)
        env.barrier()
        if on_epoch:
            on_epoch(rec)
    summary = {"config": asdict(cfg), "epochs": metrics, "wall_s_this_run": time.time() - t_run,
               "test_top1": next((m["test_top1"] for m in reversed(metrics) if "test_top1" in m), None), "finished": end == cfg.epochs}
    if end < cfg.epochs:  # --stop-after: last.pt holds the run; the next invocation resumes it
        if log:
            log(f"stopped after epoch {end} of {cfg.epochs} (--stop-after): run it again to continue from {last}")
        return summary
    if env.is_main:
        save_checkpoint(out / "final.pt", {"config": asdict(cfg), "model": model.state_dict(), "epoch": cfg.epochs,
                                           "metrics": metrics, "masks": pruner.state_dict(), "classes": classes})
        write_json(out / "metrics.json", summary)
    env.barrier()
    return summary


def _end_epoch(cfg, env, model, net, opt, sched, pruner, data, rec, metrics, classes, prog, log, test: bool) -> None:
    """Main process: evaluate (when ``test``), log, write last.pt, metrics.json and (after an
    evaluation) the learning curve."""
    if test:
        ev = evaluate_batches(model, data.test_batches(), env.device)
        rec.update(test_top1=ev["top1"], test_top5=ev["top5"])
    rec["epoch_s"] = time.time() - prog.t0
    metrics.append(rec)
    if log:
        top1 = f"test top1 {rec['test_top1']:.4f} " if test else ""
        log(f"epoch {rec['epoch']}: loss {rec['train_loss']:.3f} train {rec['train_acc']:.4f} {top1}"
            f"({rec['images_per_s']:.0f} img/s, {rec['epoch_s']:.0f} s, ETA {fmt_duration(prog.eta())})")
    out = Path(cfg.out)
    save_checkpoint(out / "last.pt", {
        "model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
        "masks": pruner.state_dict(), "quant_state": quant_state(model), "epoch": rec["epoch"], "processes": env.world,
        "config": asdict(cfg), "metrics": metrics, "classes": classes})
    write_json(out / "metrics.json", {"config": asdict(cfg), "epochs": metrics})
    if test:  # a plot costs seconds: only when it has a new point
        from ..plots import learning_curve_png

        learning_curve_png(metrics, out / "learning_curve.png", title=f"{cfg.model} {cfg.quant}")
