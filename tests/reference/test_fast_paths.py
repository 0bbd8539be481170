"""The reference's fast paths against the plain int64 computation: float32 or float64 GEMM chosen
from the accumulator bound (no rounding), thresholds as ``floor(acc * inv + off)`` where proven
exact, else a table (indices through int32), at the worst-case magnitudes where each path is still
chosen; and the affine thresholds checked exhaustively. Needs no build."""
from __future__ import annotations

import numpy as np
import pytest

from hwsqueeze.deploy import dtype_range
from hwsqueeze.reference import thresholds
from hwsqueeze.reference.engine import _Node, _op_mvau
from hwsqueeze.reference.thresholds import _ThresholdTable


class _Ctx:
    def __init__(self) -> None:
        self.made: dict = {}

    def cached(self, key, make):
        self.made[key] = make()
        return self.made[key]


def _plain(x: np.ndarray, w: np.ndarray, thr: np.ndarray, act_val: int) -> np.ndarray:
    """MVAU + MultiThreshold by definition, in int64."""
    acc = x.astype(np.int64) @ w.astype(np.int64)
    return (acc[..., None] >= thr[None]).sum(-1) + act_val


def _inputs(rng, in_dtype: str, k: int, n: int) -> np.ndarray:
    """Rows at the input range's ends (the largest accumulators), rows near them (large
    accumulators with varied low bits: where a too-narrow float would round) and random rows."""
    lo, hi = dtype_range(in_dtype)
    rows = [np.full(k, lo), np.full(k, hi), rng.choice([lo, hi], k)]
    for i in range(n):
        row = np.full(k, (lo, hi)[i % 2])
        flip = rng.random(k) < rng.uniform(0, 0.1)
        row[flip] = rng.integers(lo, hi + 1, int(flip.sum()))
        rows += [row, rng.integers(lo, hi + 1, k)]
    return np.array(rows, dtype=np.int64)


# (input type, weights: rows k, their magnitude, threshold span per channel, GEMM type expected);
# three channels: one at the full bound (-wmag everywhere), one of odd weights near wmag (odd
# partial sums beyond 2**24 are where float32 would round), one random
CASES = [
    # 128 * 127 * 1024 = 16,646,144 < 2**24: float32 GEMM, the largest it takes
    ("INT8", 1024, 127, 2 ** 20, "float32"),
    # 128 * 128 * 1024 = 2**24: float64 GEMM
    ("INT8", 1024, 128, 2 ** 20, "float64"),
    # bound 128 * 127 * 1100 > 2**24, and 4096 rows: accumulators of ~2**26, where float32 rounds
    ("INT8", 1100, 127, 2 ** 20, "float64"),
    ("INT8", 4096, 127, 2 ** 20, "float64"),
    # a table of 3 x 5,000,001 entries, near the 2**24 where comparisons take over: the largest indices
    ("INT8", 1024, 127, 5_000_000, "float32"),
    # the shipped model's first layer: UINT8 pixels, INT8 weights, 27 taps; a hidden layer
    ("UINT8", 27, 128, 200_000, "float32"),
    ("UINT4", 576, 8, 2_000, "float32"),
]


def _finn_like(rng, start: float, span: int, steps: int) -> np.ndarray:
    """Thresholds as FINN derives them from a scale and a bias: ceil(start + step * (k + 0.5))."""
    step = span / steps * rng.uniform(0.8, 1.0)
    return np.ceil(start + step * (np.arange(steps) + 0.5)).astype(np.int64)


@pytest.mark.parametrize("kind", ["finn", "random"])
@pytest.mark.parametrize("in_dtype,k,wmag,span,gemm", CASES)
def test_mvau_fast_paths_equal_int64(in_dtype, k, wmag, span, gemm, kind):
    rng = np.random.default_rng(k + wmag + span)
    channels, steps, act_val = 3, 15, -1
    odd = rng.choice(np.arange(wmag - 9 + wmag % 2, wmag + 1, 2), k)  # varied, so roundings would not cancel
    w = np.stack([np.full(k, -wmag), odd, rng.integers(-wmag, wmag + 1, k)], axis=1)
    x = _inputs(rng, in_dtype, k, 40)
    acc = x @ w
    # random: thresholds on accumulators that occur (equality counts), one past them, and outside
    # the reachable range (clipped by the engine), within ``span`` of each other per channel;
    # finn: evenly spaced as FINN makes them, the first on an accumulator that occurs
    thr = np.empty((channels, steps), dtype=np.int64)
    for c in range(channels):
        centre = int(np.median(acc[:, c]))
        seen = acc[:, c][np.abs(acc[:, c] - centre) < span // 2]
        if kind == "finn":
            thr[c] = _finn_like(rng, float(seen.min()) - 1e-3 - span / steps / 2, span, steps)
            continue
        picks = list(rng.choice(seen, 6)) + list(rng.choice(seen, 3) + 1)
        picks += list(rng.integers(centre - span // 2, centre + span // 2, steps - len(picks) - 2))
        picks += [centre - span // 2, centre - span // 2 + span - 1]
        thr[c] = np.sort(picks)
    node = _Node({"name": "mvau", "op": "MVAU", "inputs": ["x"], "outputs": ["y"],
                  "arrays": {"weights": "w", "thresholds": "t"},
                  "attrs": {"inputDataType": in_dtype, "MH": channels, "ActVal": act_val}},
                 {"w": w, "t": thr})
    ctx = _Ctx()
    lo, hi = dtype_range(in_dtype)
    got = _op_mvau(node, [x.astype(thresholds._small_int(lo, hi))], ctx)[0]
    assert ctx.made["mvau/w"].dtype == np.dtype(gemm)
    table = ctx.made["mvau/t"]
    if kind == "random":  # no scale and bias fit these: the table (not the comparison fallback)
        assert table.affine is None and table.table is not None
    elif in_dtype != "INT8":  # the shipped model's magnitudes: the affine way
        assert table.affine is not None
    np.testing.assert_array_equal(got.astype(np.int64), _plain(x, w, thr, act_val))
    # the accumulator itself (noActivation) at the same magnitudes
    node.attrs["noActivation"] = 1
    np.testing.assert_array_equal(_op_mvau(node, [x.astype(thresholds._small_int(lo, hi))], _Ctx())[0], acc)


def _sweep(table: _ThresholdTable, thr: np.ndarray, lo: np.ndarray, hi: np.ndarray, acc_type) -> None:
    """Every accumulator value of [lo_c, hi_c] in every channel c at once: equal to the comparisons."""
    acc = np.minimum(lo[None] + np.arange(int((hi - lo).max()) + 1)[:, None], hi[None])
    want = (acc[..., None] >= thr[None]).sum(-1) + table.act_val
    np.testing.assert_array_equal(table(acc.astype(acc_type)).astype(np.int64), want)


@pytest.mark.parametrize("acc_type", [np.float32, np.float64])
@pytest.mark.parametrize("with_reach", [False, True])
def test_affine_thresholds_exhaustively(acc_type, with_reach):
    """FINN-like thresholds at several spacings and offsets take the affine way, and equal the
    comparisons for every accumulator value (without a reach: also 50 beyond each end, where the
    output is constant); a layer with a step of two (equal thresholds) or with random thresholds
    takes the table, also exact."""
    rng = np.random.default_rng(7)
    channels, steps = 96, 15
    spans = rng.choice([20, 300, 5000, 30000], channels)
    starts = rng.uniform(-4 * spans, 4 * spans)
    thr = np.array([_finn_like(rng, start, span, steps) for start, span in zip(starts, spans)])
    reach = None
    lo, hi = thr[:, 0] - 50, thr[:, -1] + 50
    if with_reach:  # thresholds beyond it stay (the engine clips them), as in a real layer
        lo = thr[:, 0] + rng.integers(-spans // 4, spans // 4 + 1)
        hi = lo + spans + rng.integers(0, spans // 4 + 1)
        reach = (lo, hi)
    table = _ThresholdTable(thr, -3, channels, reach, acc_type)
    assert table.affine is not None
    _sweep(table, thr, lo, hi, acc_type)
    for odd_one in ("equal", "random"):
        bad = thr.copy()
        if odd_one == "equal":
            bad[5, 6] = bad[5, 5]
        else:
            bad[9] = np.sort(rng.integers(bad[9, 0], bad[9, -1], steps))
        table = _ThresholdTable(bad, -3, channels, reach, acc_type)
        assert table.affine is None and table.table is not None
        _sweep(table, bad, lo, hi, acc_type)
