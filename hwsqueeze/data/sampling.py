"""Class-balanced subsets: any n images drawn round-robin over the classes.

The draw lives on the board side (:mod:`hwsqueeze.runtime.testset`), so the board's notebook and
``hwsqueeze verify --data`` pick the same images.
"""
from __future__ import annotations

from ..runtime.testset import balanced_indices

__all__ = ["balanced_indices"]
