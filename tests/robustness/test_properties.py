"""Property-based checks of the board-side integer code against plain Python/numpy definitions."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hwsqueeze.deploy.packing import pack, packed_width, unpack
from hwsqueeze.reference import thresholds
from hwsqueeze.reference.engine import _Node, _op_mvau, _ThresholdTable

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DTYPES = ["BIPOLAR"] + [f"{s}INT{b}" for s in ("U", "") for b in range(1, 33)]


def _range(dtype):
    if dtype == "BIPOLAR":
        return -1, 1, 1, False
    bits, signed = int(dtype.split("INT")[1]), not dtype.startswith("U")
    return (-(1 << (bits - 1)), (1 << (bits - 1)) - 1, bits, True) if signed else (0, (1 << bits) - 1, bits, False)


@st.composite
def packed_case(draw):
    dtype = draw(st.sampled_from(DTYPES))
    lo, hi, _, _ = _range(dtype)
    lead = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    n = draw(st.integers(1, 9))
    vals = st.sampled_from([-1, 1]) if dtype == "BIPOLAR" else st.one_of(st.sampled_from([lo, hi]), st.integers(lo, hi))
    flat = draw(st.lists(vals, min_size=int(np.prod(lead + (n,))), max_size=int(np.prod(lead + (n,)))))
    return dtype, np.array(flat, dtype=np.int64).reshape(lead + (n,))


def _pack_by_hand(x, dtype):
    """Value i of each innermost vector at bits [i*b, (i+1)*b) of one little-endian word."""
    _, _, b, _ = _range(dtype)
    rows = []
    for vec in x.reshape(-1, x.shape[-1]).tolist():
        word = 0
        for i, v in enumerate(vec):
            v = (v + 1) // 2 if dtype == "BIPOLAR" else v
            word |= (v & ((1 << b) - 1)) << (i * b)
        rows.append(list(word.to_bytes(-(-len(vec) * b // 8), "little")))
    return np.array(rows, dtype=np.uint8).reshape(x.shape[:-1] + (-1,))


@SETTINGS
@given(packed_case())
def test_pack_matches_bit_by_bit_definition_and_roundtrips(case):
    dtype, x = case
    got = pack(x, dtype)
    assert got.shape[-1] == packed_width(x.shape[-1], dtype)
    assert np.array_equal(got, _pack_by_hand(x, dtype))
    assert np.array_equal(unpack(got, dtype, x.shape), x)


@st.composite
def threshold_case(draw):
    channels = draw(st.integers(1, 4))
    steps = draw(st.integers(1, 6))
    span = draw(st.sampled_from([20, 1000, 1 << 20, 1 << 40]))  # 1 << 40: the comparison fallback
    rows = 1 if draw(st.booleans()) else channels
    thr = np.array(draw(st.lists(st.integers(-span, span), min_size=rows * steps, max_size=rows * steps)),
                   dtype=np.int64).reshape(rows, steps)
    act_val = draw(st.integers(-2, 2))
    use_reach = draw(st.booleans())
    reach = None
    r = min(span, 1 << 23)
    if use_reach:  # what the accumulator can reach; thresholds outside it are unreachable
        lo = np.array(draw(st.lists(st.integers(-r, 0), min_size=channels, max_size=channels)), np.int64)
        hi = lo + np.array(draw(st.lists(st.integers(0, r), min_size=channels, max_size=channels)), np.int64)
        reach = (lo, hi)
    n = draw(st.integers(1, 5))
    if reach is None:
        acc = draw(st.lists(st.integers(-2 * span, 2 * span), min_size=n * channels, max_size=n * channels))
    else:
        acc = [draw(st.integers(int(reach[0][c]), int(reach[1][c]))) for _ in range(n) for c in range(channels)]
    ftype = np.float32 if (use_reach and r < (1 << 23)) else np.float64
    return thr, act_val, channels, reach, np.array(acc, dtype=np.int64).reshape(n, channels), ftype


@SETTINGS
@given(threshold_case())
def test_threshold_table_matches_plain_comparisons(case):
    thr, act_val, channels, reach, acc, ftype = case
    table = _ThresholdTable(thr, act_val, channels, reach)
    full = np.repeat(thr, channels, axis=0) if thr.shape[0] == 1 else thr
    want = (acc[..., None] >= full).sum(-1) + act_val
    got = table(acc.astype(ftype))
    assert np.array_equal(got.astype(np.int64), want)


class _Ctx:
    def cached(self, key, make):
        return make()


@st.composite
def mvau_case(draw):
    in_dtype = draw(st.sampled_from(["UINT8", "INT8", "UINT4", "INT4", "UINT2"]))
    lo, hi, _, _ = _range(in_dtype)
    k, mh = draw(st.integers(1, 48)), draw(st.integers(1, 6))
    target = draw(st.sampled_from([0.5, 0.9, 0.999, 1.001, 1.5, 4.0])) * 2 ** 24  # around float32's bound
    wmax = max(1, int(target / (max(abs(lo), abs(hi)) * k)))
    w = draw(st.lists(st.one_of(st.sampled_from([-wmax, wmax]), st.integers(-wmax, wmax)),
                      min_size=k * mh, max_size=k * mh))
    n = draw(st.integers(1, 4))
    x = draw(st.lists(st.one_of(st.sampled_from([lo, hi]), st.integers(lo, hi)), min_size=n * k, max_size=n * k))
    return in_dtype, np.array(w, np.int64).reshape(k, mh), np.array(x, np.int64).reshape(n, k)


@SETTINGS
@given(mvau_case())
def test_mvau_float_path_is_exact_integer_matmul(case):
    in_dtype, w, x = case
    spec = {"name": "mvau", "op": "MVAU", "inputs": ["x"], "outputs": ["y"], "arrays": {"weights": "w"},
            "attrs": {"inputDataType": in_dtype, "MH": w.shape[1], "noActivation": 1}}
    node = _Node(spec, {"w": w.astype(np.float64) if w.dtype != np.int64 else w})
    got = _op_mvau(node, [x.astype(thresholds._small_int(int(x.min()), int(x.max())))], _Ctx())[0]
    assert np.array_equal(got, x @ w)


def test_threshold_table_with_thresholds_beyond_float64_exactness():
    """Found by this suite: thresholds beyond 2**53 (no reach clipping: the Thresholding op) used to
    round lo/hi/shift in float64 and map an ordinary accumulator to the wrong entry (gave 0)."""
    thr = np.array([[-2**60, -2**60 + 2]], dtype=np.int64)  # both always passed by acc = 0
    got = _ThresholdTable(thr, 0, 1)(np.array([[0.0]]))  # what _op_thresholding passes (float64)
    assert int(got[0, 0]) == 2  # plain comparisons: (0 >= thr).sum() == 2; the table gives 0
