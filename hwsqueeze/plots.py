"""Matplotlib figures (Agg backend, imported lazily)."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

__all__ = ["confusion_matrix_png", "estimates_png", "learning_curve_png"]


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(plt, fig, path: Path, dpi: int) -> None:
    """Write ``fig`` as a PNG at ``path`` atomically (fsutil's temporary sibling, then rename) and close it."""
    from .fsutil import atomic_write

    try:
        atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=dpi, format="png"))
    finally:
        plt.close(fig)


def confusion_matrix_png(pred: np.ndarray, labels: np.ndarray, classes: Sequence[str], path: Path, title: str = "") -> None:
    """Row-normalised confusion matrix with counts, written atomically."""
    plt = _plt()
    k = len(classes)
    cm = np.zeros((k, k), dtype=np.int64)
    np.add.at(cm, (labels, pred), 1)
    norm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(1.0 + 0.6 * k, 0.8 + 0.6 * k))
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    for i in range(k):
        for j in range(k):
            ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=7,
                    color="white" if norm[i, j] > 0.5 else "black")
    ax.set_xticks(range(k), classes, rotation=45, ha="right")
    ax.set_yticks(range(k), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    _save(plt, fig, path, dpi=110)


def estimates_png(layers: Sequence[dict], totals: dict, budget: dict, margin: float, path: Path, title: str = "") -> None:
    """Per-layer cycles (throughput limit) and resources, with the board budget, written atomically."""
    plt = _plt()
    names = [d["name"] for d in layers]
    x = np.arange(len(names))
    fig, axes = plt.subplots(4, 1, figsize=(max(8.0, 0.22 * len(names)), 11), sharex=True)
    axes[0].bar(x, [d["cycles"] for d in layers], color="tab:purple")
    axes[0].set_ylabel("cycles / frame")
    axes[0].set_title(title)
    for ax, key, color in zip(axes[1:], ("lut", "bram18", "dsp"), ("tab:blue", "tab:orange", "tab:green")):
        ax.bar(x, [d[key] for d in layers], color=color)
        ax.set_ylabel(key.upper())
        ax.text(1.0, 1.02, f"total {totals[key]:,} of {budget[key]:,} ({totals[key] / max(1, budget[key]):.0%}, "
                f"margin {margin:.0%})", transform=ax.transAxes, ha="right", fontsize=8)
    axes[-1].set_xticks(x)
    axes[-1].set_xticklabels(names, rotation=90, fontsize=6)
    fig.tight_layout()
    _save(plt, fig, path, dpi=110)


def learning_curve_png(epochs: Sequence[dict], path: Path, title: str = "") -> None:
    """Training loss and train/test top-1 per epoch (``metrics.json``'s records), written atomically."""
    plt = _plt()
    x = [e["epoch"] for e in epochs]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(9, 3.4))
    ax_loss.plot(x, [e["train_loss"] for e in epochs], "o-", color="tab:red")
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("training loss")
    ax_acc.plot(x, [e["train_acc"] for e in epochs], "o-", label="train (augmented)")
    ax_acc.plot(x, [e.get("test_top1", float("nan")) for e in epochs], "s-", label="test top-1")
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("accuracy")
    ax_acc.legend(fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    _save(plt, fig, path, dpi=100)
