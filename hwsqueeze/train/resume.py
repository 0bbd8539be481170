"""What resuming a run does when its options changed: one line that says old -> new.

A resumed run must be the run an unbroken one would have been (same batches, same OneCycle
schedule), so options that shape training are refused when they differ; evaluation-only ones
continue with the new value, said in one note.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

from ..errors import HwsqueezeError
from .validate import OPTIONS

__all__ = ["check_resume", "EVAL_ONLY"]

# may change on resume (the new value is used): they do not change what is trained
EVAL_ONLY = ("max_test", "threads", "device", "workers", "compile", "eval_every")  # device: same math, other rounding
_SAME_RUN = ("out", "quant_spec", "init", "stop_after")  # out: same last.pt; stop_after: chunks of one run


def _changes(old: Dict[str, Any], new: Dict[str, Any], keys) -> List[str]:
    return [f"{OPTIONS.get(k, (k,))[0]} {old[k]!r} -> {new[k]!r}" for k in keys if k in old and old[k] != new.get(k)]


def _defaults() -> Dict[str, Any]:
    """TrainConfig's defaults: what a run whose checkpoint predates an option was trained with."""
    import dataclasses

    from .config import TrainConfig

    return {f.name: f.default for f in dataclasses.fields(TrainConfig) if f.default is not dataclasses.MISSING}


def check_resume(ck: Dict[str, Any], new: Dict[str, Any], last: Path,
                 log: Optional[Callable[[str], None]] = None, processes: int = 1) -> int:
    """The epoch to continue from, after checking that ``last.pt`` (``ck``) was started with
    the options of ``new`` (a TrainConfig as a dict, quant_spec resolved), continued by
    ``processes`` processes (any number: see the note logged when it changes)."""
    old = {**_defaults(), **ck["config"]}
    refused = _changes(old, new, [k for k in new if k not in EVAL_ONLY + _SAME_RUN])
    if not refused and old.get("quant_spec") and old["quant_spec"] != new.get("quant_spec"):
        refused = [f"quant_spec {old['quant_spec']} -> {new.get('quant_spec')}"]
    if refused:
        raise HwsqueezeError(f"{last} was started with other options: {', '.join(refused)}; resume continues a "
                             "run only with its own options: repeat them, or start over with --no-resume "
                             "(or another --out)")
    epoch = ck.get("epoch")
    if type(epoch) is not int or not 0 <= epoch <= new["epochs"] or not {"optimizer", "scheduler"} <= set(ck):
        raise HwsqueezeError(f"{last}: not a resumable checkpoint (epoch {epoch!r}, "
                             f"optimizer/scheduler {'present' if 'optimizer' in ck else 'missing'}); "
                             "use --no-resume or another --out")
    changed = _changes(old, new, EVAL_ONLY)
    if changed and log:
        log(f"note: resuming {last} at epoch {epoch} with {', '.join(changed)} (evaluation only: "
            "continuing with the new value)")
    before = ck.get("processes")
    if log and type(before) is int and before != processes:
        # batches are cut from the global batch by (seed, epoch) alone (data/batches.py), and no
        # state in last.pt is per process: only BatchNorm's statistics (without --sync-bn) see
        # each process's share of a batch, as in any run of that many processes
        log(f"note: resuming {last} (written by {before} process(es)) with {processes}: the global batch is "
            f"still {new['batch_size']}, so every epoch gets the same batches and augmentation")
    if new.get("init") and log:
        log(f"note: --init {new['init']} is ignored: resuming {last} at epoch {epoch}")
    return epoch
