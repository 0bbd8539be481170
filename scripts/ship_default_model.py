"""Package a finished training run as a shipped model (``hwsqueeze/train/shipped.py``).

Usage: python scripts/ship_default_model.py FLOAT QAT [NAME]
FLOAT, QAT: run directories (their final.pt and metrics.json) or published checkpoints (the
campaign's checkpoints/*.pt, whose per-epoch metrics travel inside). NAME: a name of
``SHIPPED`` (default: the default model). Writes hwsqueeze/default_model/NAME.pt (weights +
config + metrics + class names, no optimizer state) and NAME.json (teacher when the QAT run
distilled from one, float baseline and QAT results, wall times, weight storage).

       python scripts/ship_default_model.py --add-classes DATA
Stores DATA's class names (its class folders, sorted: the label order training used) in the
shipped checkpoint, for checkpoints trained before ``classes`` was recorded. Only that key is
added; every tensor is written back unchanged.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

from hwsqueeze.fsutil import write_json
from hwsqueeze.train import DEFAULT_CHECKPOINT, class_names, load_checkpoint, save_checkpoint
from hwsqueeze.train.shipped import DEFAULT, SHIPPED, checkpoint_path


def _final(src: Path) -> Path:
    """The checkpoint of a run directory or published checkpoint ``src``."""
    return src / "final.pt" if src.is_dir() else src


def _summary(src: Path) -> dict:
    if src.is_dir():
        m = json.loads((src / "metrics.json").read_text())
    else:  # a published checkpoint: the same records, kept in it
        ck = load_checkpoint(src)
        m = {"epochs": ck["metrics"], "config": ck["config"]}
    eps = m["epochs"]
    return {"epochs": len(eps), "test_top1": eps[-1]["test_top1"], "test_top5": eps[-1]["test_top5"],
            "best_test_top1": max(e["test_top1"] for e in eps if "test_top1" in e),
            "train_wall_s": round(sum(e["epoch_s"] for e in eps), 1),
            "images_per_s": round(sum(e["images_per_s"] for e in eps) / len(eps), 1),
            "config": m["config"]}


def main(float_run: str, qat_run: str, name: str = DEFAULT) -> None:
    if name not in SHIPPED:
        sys.exit(f"{name!r} is not a shipped model's name ({', '.join(SHIPPED)}; hwsqueeze/train/shipped.py)")
    fl, qr, dest = Path(float_run), Path(qat_run), checkpoint_path(name)
    ck = load_checkpoint(_final(qr))
    if f"{ck['config']['model']}-{ck['config']['quant']}" != name:
        sys.exit(f"{qr} is {ck['config']['model']} {ck['config']['quant']}, not {name}")
    shipped = {"model": ck["model"], "config": ck["config"], "epoch": ck["epoch"], "metrics": ck["metrics"],
               "masks": ck.get("masks", {}), "classes": class_names(ck)}
    if shipped["classes"] is None:  # a run from before training recorded them
        print("warning: no class names in the run; add them with --add-classes DATA", file=sys.stderr)
    save_checkpoint(dest, shipped)
    f, q = _summary(fl), _summary(qr)
    # the teachers' training time is part of the recipe's: the QAT stage's, and the float stage's when another
    teacher, float_teacher = q["config"].get("teacher"), f["config"].get("teacher")
    t = _summary(Path(teacher)) if teacher else None
    ft = _summary(Path(float_teacher)) if float_teacher and float_teacher != teacher else None
    from hwsqueeze.compress import weight_storage
    from hwsqueeze.train import model_from_checkpoint

    model, _ = model_from_checkpoint(dest)
    layers, bits, biases = {}, {}, 0
    for layer, mod in model.named_modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            biases += mod.num_features
        if isinstance(mod, torch.nn.Conv2d):
            qw = mod.quant_weight()
            layers[layer], bits[layer] = qw.int().detach().numpy(), int(qw.bit_width)
    storage = weight_storage(layers, biases, bits)["total"]
    out = {"model": ck["config"]["model"], "quant": ck["config"]["quant"], "dataset": "CIFAR-10 (JPEG copy)",
           **({"teacher": t} if t else {}), **({"float_teacher": ft} if ft else {}), "float_baseline": f, "qat": q,
           "total_train_wall_s": round(sum(s["train_wall_s"] for s in (f, q, t, ft) if s), 1),
           "weights": storage["weights"], "weight_bytes_dense": storage["dense_bytes"] - biases * 4.0,
           "bias_values": biases}
    write_json(dest.with_suffix(".json"), out)
    print(json.dumps({k: out[k] for k in ("model", "quant", "total_train_wall_s", "weight_bytes_dense")}
                     | {"float_top1": f["test_top1"], "qat_top1": q["test_top1"]}))


def add_classes(data: str) -> None:
    """Record ``data``'s class names in the shipped checkpoint (the training split's order)."""
    from hwsqueeze.data import load_dataset

    ck = load_checkpoint(DEFAULT_CHECKPOINT)
    ck["classes"] = load_dataset(data, "train").classes
    save_checkpoint(DEFAULT_CHECKPOINT, ck)
    print(json.dumps({"checkpoint": str(DEFAULT_CHECKPOINT), "classes": ck["classes"]}))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--add-classes":
        add_classes(sys.argv[2])
    elif len(sys.argv) in (3, 4):
        main(*sys.argv[1:])
    else:
        sys.exit(__doc__)
