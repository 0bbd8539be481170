"""Exact minimisation of a sum of small cost tables by variable elimination (min-sum "bucket
elimination"), the solver behind the per-layer folding (``layerwise``).

A problem is a list of factors, each a cost array over a few named variables (a layer's candidates);
eliminating the variables one by one in ``order`` replaces the factors that touch a variable by their
minimum over it. The result is exact; the cost grows with the widest scope an elimination creates,
which topological order keeps at 2-3 layers on a chain of fork/joins.
"""
from __future__ import annotations

from typing import Dict, List, Sequence, Tuple

import numpy as np

__all__ = ["Factor", "solve"]

Factor = Tuple[Tuple[str, ...], np.ndarray]


def _align(f: Factor, scope: Sequence[str]) -> np.ndarray:
    """Factor ``f`` as an array broadcastable over ``scope`` (axes in ``scope`` order)."""
    vars_, arr = f
    perm = sorted(range(len(vars_)), key=lambda i: scope.index(vars_[i]))
    arr = np.transpose(arr, perm)
    shape = [1] * len(scope)
    for i in perm:
        shape[scope.index(vars_[i])] = arr.shape[perm.index(i)]
    return arr.reshape(shape)


def solve(order: Sequence[str], factors: List[Factor]) -> Tuple[float, Dict[str, int]]:
    """The minimum of a sum of factors (each a cost array over a few variables) and its argmin, by
    eliminating the variables in ``order`` (exact; the cost is exponential only in the widest scope
    an elimination creates)."""
    factors = list(factors)
    trace = []
    for x in order:
        mine = [f for f in factors if x in f[0]]
        factors = [f for f in factors if x not in f[0]]
        scope = [x] + sorted({v for s, _ in mine for v in s if v != x}, key=list(order).index)
        if len(scope) > 4:
            raise ValueError(f"elimination of {x} spans {len(scope)} variables")
        total = sum(_align(f, scope) for f in mine)
        trace.append((x, tuple(scope[1:]), np.argmin(total, axis=0)))
        factors.append((tuple(scope[1:]), np.min(total, axis=0)))
    best = float(sum(np.sum(a) for s, a in factors if not s))
    choice: Dict[str, int] = {}
    for x, rest, arg in reversed(trace):
        choice[x] = int(arg[tuple(choice[v] for v in rest)]) if rest else int(arg)
    return best, choice
