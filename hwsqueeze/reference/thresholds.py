"""FINN's MultiThreshold for the reference's integer accumulators (board side: numpy only).

Thresholds are applied as ``floor(acc * inv + off)`` where that is proven exact when the graph is
loaded, on the machine that runs it (:func:`_affine_fit`), else by a table lookup.
"""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

from ..errors import HwsqueezeError

_ACC_LIMIT = 2 ** 52  # float64 is exact to 2**53; one bit of headroom for table indices


def _small_int(lo: int, hi: int):
    """The narrowest numpy integer type holding [lo, hi] (activations stay compact: less traffic)."""
    for dt in (np.uint8, np.int8, np.uint16, np.int16, np.int32, np.int64):
        if np.iinfo(dt).min <= lo and hi <= np.iinfo(dt).max:
            return dt
    raise HwsqueezeError(f"range [{lo}, {hi}] does not fit int64")


def _affine_fit(thr: np.ndarray, act_val: int, r0: np.ndarray, r1: np.ndarray,
                ftype) -> Optional[Tuple[np.ndarray, np.ndarray]]:
    """Per channel ``(inv, off)`` in ``ftype`` with ``clip(floor(acc * inv + off), ActVal, ActVal +
    steps) == #{t in thr[c] : t <= acc} + ActVal`` for every integer ``acc`` in ``[r0_c, r1_c]``,
    computed in ``ftype`` as :meth:`_ThresholdTable.__call__` does; None where one channel has none.

    FINN's thresholds come from a scale and a bias (batch norm, quantizer step), so they lie
    close to ``(k - off) / inv``. Why checking a few points proves it for every ``acc``: float
    multiplication by ``inv >= 0``, the addition, floor and clip are each monotone (IEEE rounding
    is), so the computed output is monotone in ``acc``; the true output is a step function. Equal
    at both sides of every step and at the domain's ends, two monotone functions are equal on
    the whole domain (between two steps both are pinned to the same value).
    """
    steps = thr.shape[1]
    # the points to check: the domain's ends and both sides of every threshold inside it
    pts = np.clip(np.concatenate([r0[:, None], r1[:, None], thr - 1, thr], axis=1), r0[:, None], r1[:, None])
    if not np.array_equal(pts.astype(ftype).astype(np.int64), pts):
        return None  # accumulators not exact in ftype: not this way
    count = (pts[..., None] >= thr[:, None, :]).sum(axis=-1)
    # fit in float64, around each channel's r0 (small numbers): find inv with the widest interval
    # for off; the constraints y(p) >= count (where count > 0) and y(p) < count + 1 (where
    # count < steps), with y = inv * p + off, make the interval's width concave in inv
    rel = (pts - r0[:, None]).astype(np.float64)
    lower, upper = count > 0, count < steps

    def interval(inv: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        y = inv[:, None] * rel
        lo = np.where(lower, count - y, -np.inf).max(axis=1)
        hi = np.where(upper, count + 1 - y, np.inf).min(axis=1)
        lo = np.where(np.isinf(lo), hi - 1, lo)  # one side unconstrained: an interval of width 1
        return lo, np.where(np.isinf(hi), lo + 1, hi)

    a, b = np.zeros(len(thr)), np.full(len(thr), 2.0)  # slopes: a count per accumulator step at most
    for _ in range(100):  # ternary search of the concave width
        m1, m2 = a + (b - a) / 3, b - (b - a) / 3
        w1, w2 = (np.subtract(*interval(m)[::-1]) for m in (m1, m2))
        a, b = np.where(w1 < w2, m1, a), np.where(w1 < w2, b, m2)
    inv = (a + b) / 2
    lo, hi = interval(inv)
    off = (lo + hi) / 2 - inv * r0 + act_val
    inv_f, off_f = inv.astype(ftype), off.astype(ftype)
    # the proof: the points, computed exactly as at run time
    y = np.multiply(pts.astype(ftype), inv_f[:, None])
    y += off_f[:, None]
    np.floor(y, out=y)
    np.maximum(y, act_val, out=y)
    np.minimum(y, act_val + steps, out=y)
    return (inv_f, off_f) if np.array_equal(y, count + act_val) else None


class _ThresholdTable:
    """FINN MultiThreshold on the last axis, ``out = #{t in thr[c] : t <= acc} + ActVal``, for
    integer ``acc``. Thresholds outside the accumulator values a channel can reach (given its
    weights and the input range, when known) are moved to the edge of that range, which changes
    no reachable output. Three ways, the first that is exact for every channel:

    * **affine**: ``clip(floor(acc * inv_c + off_c))`` in the accumulator's float type, proven
      exact when built (:func:`_affine_fit`): FINN's thresholds come from a scale and a bias. No
      lookup: ~2.5x faster than the table;
    * **table**: one lookup, ``table[c, clip(acc, lo_c, hi_c) - lo_c]``, built with searchsorted;
    * **comparisons**, if the table would be huge (> 2**24 entries).

    (Tried and measured slower in CPU time: buckets of 2**k accumulator values with one comparison
    each, which shrink the first layer's 14 MB table to 12 KB, +25 %: more passes over the data.)
    """

    _MAX_ENTRIES = 1 << 24

    def __init__(self, thr: np.ndarray, act_val: int, channels: int,
                 reach: Optional[Tuple[np.ndarray, np.ndarray]] = None, acc_type=np.float64) -> None:
        # Accumulators are kept within +-2**52 (MVAUs refuse larger bounds), so thresholds beyond
        # that act like +-2**52: clip them there, which keeps every index computed below (in the
        # accumulator's float type, with thr - 1 and the row shifts) exactly representable.
        thr = np.clip(np.sort(np.asarray(thr, dtype=np.int64), axis=1), -_ACC_LIMIT, _ACC_LIMIT)
        if thr.shape[0] == 1 and channels > 1:
            thr = np.repeat(thr, channels, axis=0)
        if reach is not None:  # thresholds beyond what acc can reach: never / always passed
            thr = np.clip(thr, reach[0][:, None], reach[1][:, None] + 1)
        self.thr, self.steps, self.act_val = thr, thr.shape[1], int(act_val)
        self.out_type = _small_int(self.act_val, self.act_val + self.steps)
        self.lo = thr[:, 0] - 1  # below: count 0; from thr[:, -1] on: count = steps
        self.hi = thr[:, -1]
        self.width = int((self.hi - self.lo).max()) + 1
        self.table = None
        # the accumulators to be exact for: what the channel can reach, else every one (below lo
        # and above hi the output is constant)
        domain = (self.lo, self.hi) if reach is None else (np.asarray(reach[0]), np.asarray(reach[1]))
        self.affine = _affine_fit(thr, self.act_val, domain[0], domain[1], np.dtype(acc_type))
        if self.affine is None and thr.shape[0] * self.width <= self._MAX_ENTRIES:
            table = np.full((thr.shape[0], self.width), self.steps + self.act_val, dtype=np.int64)
            for c, row in enumerate(thr):
                values = np.arange(self.lo[c], self.hi[c] + 1, dtype=np.int64)
                table[c, :len(values)] = np.searchsorted(row, values, side="right") + self.act_val
            self.table = table.astype(self.out_type).ravel()
            self.shift = np.arange(thr.shape[0], dtype=np.int64) * self.width - self.lo

    def __call__(self, acc: np.ndarray) -> np.ndarray:
        if self.affine is not None and acc.dtype == self.affine[0].dtype:
            y = np.multiply(acc, self.affine[0])  # exactly the operations _affine_fit checked
            y += self.affine[1]
            np.floor(y, out=y)
            np.maximum(y, self.act_val, out=y)
            np.minimum(y, self.act_val + self.steps, out=y)
            return y.astype(self.out_type)
        if self.table is None:
            out = (acc[..., None] >= self.thr).sum(axis=-1) + self.act_val
            return out.astype(self.out_type)
        # clip and shift in the accumulator's float type (exact: every value is an integer below
        # 2**24 resp. 2**53, indices below 2**24), then intp indices, which take() uses without
        # converting; through int32 because numpy converts float -> int32 ~3x faster than -> int64
        idx = np.maximum(acc, self.lo.astype(acc.dtype))  # a new array: the caller's acc stays intact
        np.minimum(idx, self.hi.astype(acc.dtype), out=idx)
        idx += self.shift.astype(idx.dtype)
        return self.table.take(idx.astype(np.int32).astype(np.intp, copy=False))  # intp = int32 on ARM: no copy
