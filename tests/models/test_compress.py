"""hwsqueeze.compress against hand-computed storage and a second (greedy) relative-index encoder."""
import numpy as np
import pytest

from hwsqueeze.compress import entropy_bits, sparse_entries, weight_storage


def greedy_encode(mask, index_bits):
    """Deep Compression's relative index written out entry by entry (Han et al. 2016, Fig. 2):
    each entry skips at most 2^bits - 1 zeros; a longer run gets a filler zero entry. Zeros after
    the last value need no entry (the decoder knows the layer size)."""
    span = (1 << index_bits) - 1
    entries, run = [], 0
    for nz in mask:
        if nz:
            entries.append(("value", run))
            run = 0
        elif run == span:  # one more zero would overflow the gap field: store it as a filler
            entries.append(("filler", run))
            run = 0
        else:
            run += 1
    while entries and entries[-1][0] == "filler":
        entries.pop()
    return entries


def test_relative_index_by_hand():
    # nonzeros at 0, 20, 39 with 3-bit gaps (at most 7 zeros per entry):
    # 0 | fillers at 8 and 16, value at 20 | fillers at 28 and 36, value at 39 -> 7 entries
    mask = np.zeros(40, bool)
    mask[[0, 20, 39]] = True
    n, gaps = sparse_entries(mask, index_bits=3)
    assert n == 7
    assert gaps.tolist() == [0, 7, 7]  # the gap stored with each value, capped at the field width
    assert sparse_entries(np.zeros(5, bool))[0] == 0


@pytest.mark.parametrize("index_bits", [1, 2, 3, 4])
def test_entry_count_matches_a_greedy_encoder(index_bits):
    rng = np.random.default_rng(index_bits)
    for density in (0.02, 0.1, 0.5, 0.95):
        mask = rng.random(500) < density
        assert sparse_entries(mask, index_bits)[0] == len(greedy_encode(mask, index_bits))


def test_entropy_by_hand():
    assert entropy_bits(np.array([0, 0, 1, 1])) == pytest.approx(4.0)   # 4 symbols x 1 bit
    assert entropy_bits(np.array([1, 2, 3, 4])) == pytest.approx(8.0)   # 4 symbols x 2 bits
    assert entropy_bits(np.array([5, 5, 5])) == 0.0
    # p = 1/2, 1/4, 1/4: 2x1 + 1x2 + 1x2 bits
    assert entropy_bits(np.array([7, 7, 8, 9])) == pytest.approx(6.0)


def test_integer_layer_storage_by_hand():
    # one layer [3, 0, 0, -2] at 4 bits, 2 biases (always 32-bit)
    tot = weight_storage({"c": np.array([3, 0, 0, -2])}, biases=2, wbits={"c": 4}, index_bits=4)["total"]
    assert (tot["weights"], tot["nonzero"]) == (4, 2)
    assert tot["float32_bytes"] == 4 * 4 + 2 * 4
    assert tot["dense_bytes"] == 4 * 4 / 8 + 2 * 4
    assert tot["sparse_bytes"] == 2 * (4 + 4) / 8 + 2 * 4    # two entries of value + gap
    # values {3, -2}: 2 bits; gaps {0, 2}: 2 bits
    assert tot["sparse_huffman_bytes"] == 4 / 8 + 2 * 4


def test_float_weights_quantize_to_symmetric_levels():
    # 4 bits narrow range: levels -7..7 with scale max|w| / 7 -> [0.5, -1, 0.25, 0.01] -> [4, -7, 2, 0]
    # (3.5 rounds to even 4, 1.75 to 2, 0.07 to 0): one weight becomes a zero
    row = weight_storage({"c": np.array([0.5, -1.0, 0.25, 0.01])}, 0, {"c": 4})["layers"][0]
    assert row["nonzero"] == 3


def test_magnitude_pruning_to_a_target():
    # pruning half by magnitude zeroes 1..4 and keeps 8, 7, 6, 5 at positions 0, 2, 4, 6
    w = np.array([8, 1, 7, 2, 6, 3, 5, 4])
    tot = weight_storage({"c": w}, 0, {"c": 4}, sparsity=0.5, index_bits=4)["total"]
    assert tot["nonzero"] == 4
    assert tot["sparse_bytes"] == 4 * (4 + 4) / 8            # gaps 0, 1, 1, 1: no filler
    # values: 4 distinct -> 8 bits; gaps: p(0) = 1/4, p(1) = 3/4 -> 2 + 3 log2(4/3) bits
    assert tot["sparse_huffman_bytes"] == pytest.approx((8 + 2 + 3 * np.log2(4 / 3)) / 8)
    # a layer already sparser than the target is left alone
    sparse = np.array([0, 0, 0, 5, 0, 0, 0, 0])
    assert weight_storage({"c": sparse}, 0, {"c": 4}, sparsity=0.5)["total"]["nonzero"] == 1
