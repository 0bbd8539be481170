"""Checks on training options and checkpoint contents: each bad value is refused where it
enters, with one line that names it (``--width 0``, ``config['width'] = 0``, a NaN tensor).

Standard library only apart from the lazily imported model registry, so the CLI can check its
options before torch is imported.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Dict, Iterable, Mapping, Optional, Tuple

from ..errors import HwsqueezeError

__all__ = ["OPTIONS", "check_options", "check_model_config", "check_state_dict", "MAX_WIDTH"]

MAX_WIDTH = 8.0  # channel multiplier: 8x SqueezeNet is already ~80 M weights


def _int(lo: int, hi: Optional[int] = None) -> Callable[[Any], bool]:
    return lambda v: type(v) is int and v >= lo and (hi is None or v <= hi)


def _num(lo: float, hi: float, lo_open: bool = False, hi_open: bool = False) -> Callable[[Any], bool]:
    def ok(v: Any) -> bool:
        if type(v) not in (int, float) or not math.isfinite(v):
            return False
        return (v > lo if lo_open else v >= lo) and (v < hi if hi_open else v <= hi)
    return ok


def _opt(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda v: v is None or check(v)


# TrainConfig field -> (CLI option, check, what is allowed)
OPTIONS: Dict[str, Tuple[str, Callable[[Any], bool], str]] = {
    "data": ("--data", lambda v: isinstance(v, str) and v != "", "a dataset path or generated:N"),
    "out": ("--out", lambda v: isinstance(v, str) and v != "", "a directory"),
    "model": ("--model", lambda v: isinstance(v, str), "a registered model name"),
    "quant": ("--quant", lambda v: isinstance(v, str), "a preset name"),
    "weight_bits": ("--wbits", _opt(_int(2, 32)), "2..32 (signed narrow-range weights: 1 bit holds only 0)"),
    "act_bits": ("--abits", _opt(_int(1, 32)), "1..32"),
    "width": ("--width", _num(0.0, MAX_WIDTH, lo_open=True), f"in (0, {MAX_WIDTH:g}]"),
    "bypass": ("--bypass", lambda v: type(v) is bool, "true or false"),
    "dropout": ("--dropout", _opt(_num(0.0, 1.0, hi_open=True)), "in [0, 1)"),
    "init": ("--init", lambda v: v is None or isinstance(v, str), "a checkpoint path"),
    "epochs": ("--epochs", _int(1, 100_000), "1..100000"),
    "batch_size": ("--batch-size", _int(1, 1 << 20), "1..1048576"),
    "lr": ("--lr", _num(0.0, 100.0, lo_open=True), "in (0, 100]"),
    "optimizer": ("--optimizer", lambda v: v in ("sgd", "adam"), "sgd or adam"),
    "momentum": ("--momentum", _num(0.0, 1.0, hi_open=True), "in [0, 1)"),
    "weight_decay": ("--weight-decay", _num(0.0, 1.0), "in [0, 1]"),
    "label_smoothing": ("--label-smoothing", _opt(_num(0.0, 1.0, hi_open=True)), "in [0, 1)"),
    "warmup": ("--warmup", _num(0.0, 1.0, lo_open=True, hi_open=True), "in (0, 1)"),
    "bf16": ("--bf16", lambda v: type(v) is bool, "true or false"),
    "sparsity": ("--sparsity", _num(0.0, 1.0, hi_open=True), "in [0, 1)"),
    "prune_start": ("--prune-start", _int(0), ">= 0"),
    "prune_end": ("--prune-end", _int(0), ">= 0"),
    "seed": ("--seed", _int(0, 2**31 - 1), "0..2147483647"),
    "max_train": ("--max-train", _opt(_int(1)), ">= 1"),
    "max_test": ("--max-test", _opt(_int(1)), ">= 1"),
    "threads": ("--threads", _opt(_int(1, 4096)), "1..4096"),
    "device": ("--device", lambda v: v in ("auto", "cpu", "cuda", "mps"), "auto, cpu, cuda or mps"),
    "loader": ("--loader", lambda v: v in ("auto", "cache", "stream"), "auto, cache or stream"),
    "workers": ("--workers", _opt(_int(0, 256)), "0..256"),
    "sync_bn": ("--sync-bn", lambda v: type(v) is bool, "true or false"),
    "compile": ("--compile", lambda v: type(v) is bool, "true or false"),
    "stop_after": ("--stop-after", _opt(_int(1)), ">= 1 (epochs in this invocation)"),
    "teacher": ("--teacher", lambda v: v is None or isinstance(v, str), "a checkpoint path"),
    "kd_temperature": ("--kd-temperature", _num(0.0, 100.0, lo_open=True), "in (0, 100]"),
    "kd_weight": ("--kd-weight", _num(0.0, 1.0), "in [0, 1]"),
    "kd_flip": ("--kd-flip", lambda v: type(v) is bool, "true or false"),
    "cutout": ("--cutout", _int(0, 4096), "0..4096 (pixels; 0: off)"),
    "eval_every": ("--eval-every", _int(1, 100_000), "1..100000 (epochs)"),
    "quant_spec": ("--quant", lambda v: isinstance(v, dict), "a dict"),
}
_MODEL_FIELDS = ("model", "quant", "weight_bits", "act_bits", "width", "bypass", "dropout")


def check_options(values: Mapping[str, Any], where: Optional[str] = None, fields: Iterable[str] = ()) -> None:
    """Refuse the first value of ``values`` (TrainConfig field -> value) outside its range.

    ``where`` None: the values are command-line options (named ``--opt``); else they come
    from the file ``where`` (named ``config['field']``). Unknown fields are ignored here.
    """
    for key in fields or values:
        if key not in values or key not in OPTIONS:
            continue
        opt, ok, allowed = OPTIONS[key]
        v = values[key]
        if not ok(v):
            name = f"{opt} {v!r}" if where is None else f"{where}: config[{key!r}] = {str(v)[:60]!r}"
            raise HwsqueezeError(f"{name}: must be {allowed}")


def check_model_config(cfg: Any, where: str) -> Dict[str, Any]:
    """``cfg`` (a checkpoint's ``config``) if it describes a buildable model; else one error."""
    if not isinstance(cfg, dict):
        raise HwsqueezeError(f"{where}: config is a {type(cfg).__name__}, expected a dict")
    if "model" not in cfg:
        raise HwsqueezeError(f"{where}: config has no 'model'")
    check_options(cfg, where, fields=_MODEL_FIELDS + tuple(k for k in cfg if k not in _MODEL_FIELDS))
    from ..models import PRESETS, QuantSpec, names

    if cfg["model"] not in names():
        raise HwsqueezeError(f"{where}: config['model'] = {cfg['model']!r} is not a registered model "
                             f"(known: {', '.join(names())})")
    spec = cfg.get("quant_spec")
    if spec:
        try:
            QuantSpec.from_dict(spec)
        except (TypeError, ValueError) as e:
            raise HwsqueezeError(f"{where}: config['quant_spec'] is invalid ({e})") from None
    elif cfg.get("quant", "w4a4").lower() not in PRESETS:
        raise HwsqueezeError(f"{where}: config['quant'] = {cfg['quant']!r} is not a preset "
                             f"(known: {', '.join(PRESETS)})")
    return cfg


def check_state_dict(state: Any, where: str) -> None:
    """Refuse a state dict that is not name -> tensor, or holds a NaN or infinite value (a NaN
    weight or quantizer scale makes every output NaN, which still "classifies" as class 0)."""
    import torch

    if not isinstance(state, dict) or not all(isinstance(k, str) for k in state):
        raise HwsqueezeError(f"{where}: 'model' is not a dict of named tensors")
    for name, t in state.items():
        if not isinstance(t, torch.Tensor):
            raise HwsqueezeError(f"{where}: model[{name!r}] is a {type(t).__name__}, not a tensor")
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            bad = t[~torch.isfinite(t)].flatten()[0].item()
            raise HwsqueezeError(f"{where}: model[{name!r}] holds {bad} (a damaged or diverged checkpoint)")


def check_writable(path: str, option: str, is_dir: bool = False) -> None:
    """Refuse, before any long work, an output path that cannot be written: ``option`` names it.

    Probes the nearest existing folder by creating (and removing) a hidden file there, which
    also holds for root and read-only mounts, where permission bits say nothing.
    """
    import os
    import tempfile
    from pathlib import Path

    p = Path(path)
    if p.exists() and p.is_dir() != is_dir:
        raise HwsqueezeError(f"{option} {path}: is {'a file' if is_dir else 'a directory'}, "
                             f"expected {'a directory' if is_dir else 'a file path'}")
    probe = p if is_dir and p.is_dir() else p.parent
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise HwsqueezeError(f"{option} {path}: {probe} is a file, not a directory")
    try:
        fd, tmp = tempfile.mkstemp(prefix=".hwsqueeze-probe", dir=probe)
        os.close(fd)
        os.unlink(tmp)
    except OSError as e:
        raise HwsqueezeError(f"{option} {path}: cannot write in {probe} ({e.strerror or e})") from None
