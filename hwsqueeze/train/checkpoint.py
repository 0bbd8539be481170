"""Checkpoints: plain dicts of tensors and JSON-able values, written atomically, loaded safely."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional, Union

import torch

from ..errors import HwsqueezeError
from ..fsutil import atomic_write
from ..models import QuantSpec, SqueezeNet, create
from .shipped import checkpoint_path
from .validate import check_model_config, check_state_dict

__all__ = ["save_checkpoint", "load_checkpoint", "model_from_checkpoint", "class_names", "DEFAULT_CHECKPOINT"]

DEFAULT_CHECKPOINT = checkpoint_path(None)


def save_checkpoint(path: Path, state: Dict[str, Any]) -> None:
    """Write ``state`` atomically, so a crash never leaves a half-written checkpoint."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda tmp: torch.save(state, tmp))


def load_checkpoint(path: Union[str, Path, None] = None) -> Dict[str, Any]:
    """Load with ``weights_only=True`` (no arbitrary code from pickles). None -> the shipped
    default; a shipped model's name -> its file (:func:`.shipped.checkpoint_path`)."""
    path = checkpoint_path(path)
    if not path.is_file():
        raise HwsqueezeError(f"checkpoint not found: {path}")
    if path.stat().st_size == 0:
        raise HwsqueezeError(f"{path}: not a readable checkpoint (the file is empty)")
    try:
        ck = torch.load(path, map_location="cpu", weights_only=True)
    except MemoryError:
        raise
    except Exception as e:  # zip, pickle and torch errors; some have an empty message
        first = (str(e).strip().splitlines() or [""])[0][:200]
        raise HwsqueezeError(f"{path}: not a readable checkpoint ({type(e).__name__}: {first})") from None
    if not isinstance(ck, dict) or "model" not in ck or "config" not in ck:
        raise HwsqueezeError(f"{path}: not an hwsqueeze checkpoint (missing 'model' or 'config')")
    check_model_config(ck["config"], str(path))
    check_state_dict(ck["model"], str(path))
    return ck


def class_names(ck: Dict[str, Any]) -> Optional[List[str]]:
    """The class names the checkpoint was trained with (index = output), or None when unknown.

    Training stores the dataset's names as ``ck["classes"]``; the output count alone does not
    say which dataset (or which label order) a model learned, so nothing is guessed from it.
    """
    names = ck.get("classes")
    if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
        return None
    return list(names)


def build_model(cfg: Dict[str, Any]) -> SqueezeNet:
    """The model a checkpoint's config describes (weights not loaded)."""
    try:
        spec = QuantSpec.from_dict(cfg["quant_spec"]) if cfg.get("quant_spec") else cfg.get("quant", "w4a4")
        return create(cfg["model"], spec, width=cfg.get("width", 1.0), bypass=cfg.get("bypass", False),
                      dropout=cfg.get("dropout"))
    except (ValueError, TypeError, KeyError) as e:  # a config that check_model_config let through
        raise HwsqueezeError(f"checkpoint config does not build a model: {e}") from None


def model_from_checkpoint(path: Union[str, Path, None] = None) -> "tuple[SqueezeNet, Dict[str, Any]]":
    """(model in eval mode with weights loaded, checkpoint dict)."""
    ck = load_checkpoint(path)
    model = build_model(ck["config"])
    try:
        model.load_state_dict(ck["model"])
    except RuntimeError as e:
        raise HwsqueezeError(f"{checkpoint_path(path)}: weights do not match model "
                             f"{ck['config'].get('model')} ({str(e).splitlines()[0]})") from None
    model.eval()
    return model, ck
