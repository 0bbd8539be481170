"""`hwsqueeze train` and `hwsqueeze eval`."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Optional

import click

from ..errors import HwsqueezeError


@click.command()
@click.option("--data", required=True, help="Image-folder dir, .tar.gz of one, CIFAR-10 batches dir, or generated:N.")
@click.option("--out", required=True, help="Run directory (checkpoints, metrics).")
@click.option("--model", "model_name", default="squeezenet1_1-cifar10", show_default=True)
@click.option("--quant", default="w4a4", show_default=True, help="float, w8a8, w4a4, w3a3, w2a2.")
@click.option("--wbits", type=int, default=None, help="Override inner weight bit width.")
@click.option("--abits", type=int, default=None, help="Override activation bit width.")
@click.option("--width", type=float, default=1.0, show_default=True, help="Channel width multiplier.")
@click.option("--bypass/--no-bypass", default=False, help="The paper's simple bypass.")
@click.option("--init", default=None, help="Start from this checkpoint (float -> QAT).")
@click.option("--epochs", type=int, default=30, show_default=True)
@click.option("--batch-size", type=int, default=256, show_default=True)
@click.option("--lr", type=float, default=0.2, show_default=True, help="Peak OneCycle learning rate.")
@click.option("--weight-decay", type=float, default=5e-4, show_default=True)
@click.option("--optimizer", type=click.Choice(["sgd", "adam"]), default="sgd", show_default=True,
              help="Nesterov SGD, or Adam (the peer cnv-w2a2-cifar10's published recipe); OneCycle either way.")
@click.option("--label-smoothing", type=float, default=None,
              help="Hard-label smoothing [default: 0.1; 0 with --teacher].")
@click.option("--sparsity", type=float, default=0.0, show_default=True, help="Magnitude-pruning target (inner convs).")
@click.option("--bf16/--no-bf16", default=True, show_default=True, help="bf16 autocast for training steps.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--max-train", type=int, default=None, help="Use only N training images.")
@click.option("--max-test", type=int, default=None, help="Evaluate on N test images.")
@click.option("--dropout", type=float, default=None, help="Classifier dropout (default: the model's, 0.5).")
@click.option("--device", default="auto", show_default=True, help="auto (the best available), cpu, cuda, mps.")
@click.option("--loader", default="auto", show_default=True,
              help="cache (decoded uint8 set in memory), stream (image folders of any size), auto.")
@click.option("--workers", type=int, default=None, help="DataLoader workers per process (stream loader).")
@click.option("--threads", type=int, default=None, help="CPU threads per process (default: torch's; cores/N under torchrun).")
@click.option("--sync-bn", is_flag=True, help="BatchNorm statistics over all processes' batches (torchrun).")
@click.option("--compile", "compile_", is_flag=True, help="torch.compile the model for the training steps.")
@click.option("--stop-after", type=int, default=None, help="Train at most N epochs now (last.pt; run again to resume).")
@click.option("--teacher", default=None, help="Distil from this checkpoint (usually the --init float model).")
@click.option("--kd-temperature", type=float, default=4.0, show_default=True, help="Distillation temperature.")
@click.option("--kd-weight", type=float, default=0.5, show_default=True, help="Weight of the distillation loss.")
@click.option("--kd-flip", is_flag=True, help="Teacher logits averaged over each image and its mirror (2x teacher cost).")
@click.option("--cutout", type=int, default=0, show_default=True,
              help="Cutout: a square of this many pixels per training image set to the mean colour (0: off).")
@click.option("--eval-every", type=int, default=1, show_default=True,
              help="Evaluate the test set (and redraw the curve) every N epochs; always after the last.")
@click.option("--resume/--no-resume", default=True, show_default=True, help="Continue from OUT/last.pt if present.")
@click.option("--quiet", is_flag=True, help="No progress bar (a progress line a minute, one line per epoch).")
def train(data, out, model_name, quant, wbits, abits, width, bypass, init, epochs, batch_size, lr, weight_decay, optimizer,
          label_smoothing, sparsity, bf16, seed, max_train, max_test, dropout, device, loader, workers, threads, sync_bn,
          compile_, stop_after, teacher, kd_temperature, kd_weight, kd_flip, cutout, eval_every, resume, quiet) -> None:
    """Train a model: float pretraining (--quant float) or QAT (optionally --init FLOAT.pt).

    Several processes: `torchrun --nproc_per_node N .venv/bin/hwsqueeze train ...` (DDP;
    --batch-size is the global batch).
    """
    from ..train.validate import check_options, check_writable

    opts = dict(data=data, out=out, model=model_name, quant=quant, weight_bits=wbits, act_bits=abits,
                width=width, bypass=bypass, init=init, epochs=epochs, batch_size=batch_size, lr=lr,
                weight_decay=weight_decay, optimizer=optimizer, label_smoothing=label_smoothing, sparsity=sparsity, bf16=bf16,
                seed=seed, max_train=max_train, max_test=max_test, dropout=dropout, device=device, loader=loader,
                workers=workers, threads=threads, sync_bn=sync_bn, compile=compile_, stop_after=stop_after, teacher=teacher,
                kd_temperature=kd_temperature, kd_weight=kd_weight, kd_flip=kd_flip, cutout=cutout, eval_every=eval_every)
    check_options(opts)  # before torch is imported: a bad value costs no wait
    check_writable(out, "--out", is_dir=True)
    for path, option in ((init, "--init"), (teacher, "--teacher")):
        if path is not None:
            _existing_file(path, option)
    import logging

    from ..logs import to_console
    from ..train import TrainConfig, train as run

    to_console(logging.INFO, stream=sys.stderr)  # progress to stderr: stdout carries only the result JSON
    cfg = TrainConfig(**opts)
    try:
        summary = run(cfg, resume=resume, progress=not quiet and sys.stderr.isatty())
    except ValueError as e:
        raise HwsqueezeError(str(e)) from None
    if int(os.environ.get("RANK", "0")) == 0:
        click.echo(json.dumps({"out": out, "test_top1": summary["test_top1"], "epochs": len(summary["epochs"])}))


@click.command("eval")
@click.option("--data", required=True, help="Dataset path (see `train --data`).")
@click.option("--checkpoint", default=None,
              help="A checkpoint file or a shipped model's name (`hwsqueeze models`); default: the shipped default.")
@click.option("--split", type=click.Choice(["train", "test"]), default="test", show_default=True)
@click.option("--n", "limit", type=int, default=None, help="Only the first N images (class-balanced).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--plot", default=None, help="Write a confusion-matrix PNG.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, mps.")
def evaluate(data: str, checkpoint: Optional[str], split: str, limit: Optional[int], as_json: bool,
             plot: Optional[str], device: str) -> None:
    """Top-1 / top-5 accuracy of a checkpoint.

    Class names come from the checkpoint (what the model was trained on); a dataset whose class
    folders differ is evaluated by label index, with a warning.
    """
    from ..train.validate import check_writable

    if limit is not None and limit < 1:
        raise HwsqueezeError(f"--n {limit}: must be >= 1 (omit it for all images)")
    if checkpoint is not None:
        from ..train.shipped import checkpoint_path

        checkpoint = str(checkpoint_path(checkpoint))
        _existing_file(checkpoint, "--checkpoint")
    if plot:
        check_writable(plot, "--plot")
    from ..data import load_dataset
    from ..train import DEFAULT_CHECKPOINT, class_names, model_from_checkpoint
    from ..train.loop import evaluate as run_eval

    from ..train.distributed import resolve_device

    dev = resolve_device(device)
    model, ck = model_from_checkpoint(Path(checkpoint) if checkpoint else None)
    size = model.arch.input_size
    ds = load_dataset(data, split, size=size).subset(limit)
    if len(ds.classes) != model.arch.num_classes:
        raise HwsqueezeError(f"dataset has {len(ds.classes)} classes, model has {model.arch.num_classes}")
    names = class_names(ck)
    if names is not None and names != ds.classes:
        click.echo(f"warning: dataset classes {ds.classes} differ from the checkpoint's {names}; "
                   "compared by label index", err=True)
    res = run_eval(model.to(dev), ds, dev)
    out = {"top1": res["top1"], "top5": res["top5"], "n": res["n"], "split": split,
           "checkpoint": str(checkpoint or DEFAULT_CHECKPOINT), "model": ck["config"]["model"],
           "quant": ck["config"].get("quant"), "classes": names}
    if plot:
        from ..plots import confusion_matrix_png

        confusion_matrix_png(res["logits"].argmax(1), ds.labels, names or ds.classes, Path(plot),
                             title=f"{out['model']} {out['quant']} top-1 {out['top1']:.4f} (n={out['n']})")
        out["plot"] = plot
    if as_json:
        click.echo(json.dumps(out))
    else:
        click.echo(f"top-1 {out['top1']:.4f}  top-5 {out['top5']:.4f}  on {out['n']} {split} images ({out['checkpoint']})")


def _existing_file(path: str, option: str) -> None:
    """A checkpoint option names a file that exists (refused before torch is imported)."""
    p = Path(path)
    if p.is_dir():
        raise HwsqueezeError(f"{option} {path}: is a directory, expected a checkpoint file")
    if not p.is_file():
        raise HwsqueezeError(f"checkpoint not found: {path} ({option})")
