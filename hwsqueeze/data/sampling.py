"""Class-balanced subsets: any n images drawn round-robin over the classes."""
from __future__ import annotations

import numpy as np

__all__ = ["balanced_indices"]


def balanced_indices(labels: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """``n`` indices drawn round-robin over the classes (each class's order shuffled with
    ``seed``), so any n covers as many classes as possible; sorted for sequential reads."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    per_class = [rng.permutation(np.flatnonzero(labels == c)) for c in np.unique(labels)]
    picked = []
    for rank in range(max((len(p) for p in per_class), default=0)):
        picked.extend(int(p[rank]) for p in per_class if rank < len(p))
        if len(picked) >= n:
            break
    return np.sort(np.asarray(picked[:n], dtype=np.int64))
