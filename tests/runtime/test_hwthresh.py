"""The emulated board's RTL thresholding layer (runtime/hwthresh.py): thresholding.sv's binary search
against a plain ``sum(x >= t)``, first on threshold memories laid out here by hand (the layout FINN+'s
``make_weight_file`` documents), then on the files FINN+'s own code generation writes."""
from __future__ import annotations

import numpy as np
import pytest

from hwsqueeze.errors import HwsqueezeError
from hwsqueeze.runtime.hwthresh import binary_search, cast_input, thresholding


def _range(bits: int, signed: bool):
    return (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)


def _thresholds(rng, rows: int, n: int, wi: int, wt: int, signed: bool) -> np.ndarray:
    """Sorted (ties included) thresholds as FINN+ leaves them for the RTL layer: clipped to the input
    range [min, max + 1] (RoundAndClipThresholds), and, where WT < WI, with min - 1 representable in
    WT bits (Thresholding_rtl.minimize_weight_bit_width) so saturating the input changes no count."""
    ilo, ihi = _range(wi, signed)
    tlo, thi = _range(wt, signed)
    lo, hi = max(ilo, tlo + (1 if signed and wt < wi else 0)), min(ihi + 1, thi)
    t = rng.integers(lo, hi + 1, (rows, n))
    t[:, : n // 3] = rng.integers(lo, hi + 1, (rows, 1))  # runs of equal thresholds
    t[0, 0], t[-1, -1] = lo, hi
    return np.sort(t, axis=1)


def _inputs(rng, thr: np.ndarray, channels: int, wi: int, signed: bool) -> np.ndarray:
    """(rows, channels): each channel's thresholds, one below and one above each, the input type's
    min and max, zero, and random values."""
    lo, hi = _range(wi, signed)
    cols = []
    for c in range(channels):
        t = thr[c % len(thr)]
        v = np.concatenate([t, t - 1, t + 1, [lo, hi, 0, lo + 1, hi - 1], rng.integers(lo, hi + 1, 40)])
        cols.append(np.clip(v, lo, hi))
    return np.stack(cols, axis=1).astype(np.int64)


def _memories(thr: np.ndarray, pe: int, b: int, wt: int):
    """The per-stage memories (PE, CF << s) as thresholding.sv reads them: entry (ch << s) + i of lane
    pe is threshold (i << (B - s)) + 2^(B-s-1) - 1 of channel ch*PE + pe, thresholds padded to
    2^B - 1 with zeros; raw WT-bit words (two's complement)."""
    padded = np.zeros((len(thr), (1 << b) - 1), dtype=np.int64)
    padded[:, : thr.shape[1]] = thr
    cf = len(thr) // pe
    mems = []
    for s in range(b):
        mem = np.zeros((pe, cf << s), dtype=np.int64)
        for lane in range(pe):
            for ch in range(cf):
                for i in range(1 << s):
                    mem[lane, (ch << s) + i] = padded[ch * pe + lane, (i << (b - s)) + (1 << (b - s - 1)) - 1]
        mems.append(mem & ((1 << wt) - 1))
    return mems


# (PE, channels, N thresholds, WI, WT, signed)
CASES = [(1, 16, 15, 20, 10, True),  # the tiny model's layers: INT20 in, INT10 thresholds (saturation)
         (4, 8, 15, 8, 9, False),  # unsigned, thresholds up to max + 1 (wider than the input)
         (2, 6, 7, 6, 6, True),
         (4, 12, 10, 9, 7, True),  # 10 of 15 thresholds: 5 padded zeros Scope must mask
         (2, 4, 5, 3, 4, False),  # padded, unsigned: zeros would count for every input
         (3, 3, 1, 4, 4, False),  # one threshold: one stage
         (1, 5, 2, 5, 5, True)]


@pytest.mark.parametrize("pe,channels,n,wi,wt,signed", CASES)
def test_binary_search_counts_the_thresholds_not_above_x(pe, channels, n, wi, wt, signed):
    rng = np.random.default_rng(pe * 100 + n)
    thr = _thresholds(rng, channels, n, wi, wt, signed)
    x = _inputs(rng, thr, channels, wi, signed)
    want = (x[..., None] >= thr[None]).sum(axis=-1)
    b = max(1, int(n).bit_length())  # clog2(N + 1) stages
    beats = x.reshape(-1, pe)
    fold = np.arange(len(beats)) % (channels // pe)
    got = binary_search(cast_input(beats, wi, wt, signed), fold, _memories(thr, pe, b, wt), n, wt, signed)
    np.testing.assert_array_equal(got.reshape(x.shape), want)


def test_input_cast_extends_and_saturates_as_thresholding_axi():
    """WI-bit stream elements (low WI bits) to WT bits: extension keeps the value, narrowing
    saturates at the WT-bit range (signed and unsigned)."""
    x = np.array([-128, -65, -64, -1, 0, 63, 64, 127])
    np.testing.assert_array_equal(cast_input(x, 8, 12, True), x)
    np.testing.assert_array_equal(cast_input(x, 8, 7, True), [-64, -64, -64, -1, 0, 63, 63, 63])
    np.testing.assert_array_equal(cast_input(x & 0xFF, 8, 7, False), [127, 127, 127, 127, 0, 63, 64, 127])
    np.testing.assert_array_equal(cast_input(np.array([0x1FF]), 8, 8, True), [-1])  # only WI bits travel


def _finn_layer(tmp_path, thr, channels, pe, n, idt, tdt, odt, bias):
    """FINN+'s own code generation of a Thresholding_rtl layer (generated top and .dat memories)."""
    pytest.importorskip("finn")
    from onnx import TensorProto, helper
    from qonnx.core.datatype import DataType
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.custom_op.registry import getCustomOp

    from hwsqueeze.compile.finn_env import activate

    activate(tmp_path / "finn")
    name = "Thresholding_rtl_3"
    attrs = {"NumChannels": channels, "PE": pe, "numSteps": n, "inputDataType": idt, "weightDataType": tdt,
             "outputDataType": odt, "ActVal": bias}
    node = helper.make_node("Thresholding_rtl", ["inp", "thr"], ["outp"], domain="finn.custom_op.fpgadataflow.rtl",
                            backend="fpgadataflow", name=name, numInputVectors=[1, 2, 2], **attrs)
    io = [helper.make_tensor_value_info(t, TensorProto.FLOAT, [1, 2, 2, channels]) for t in ("inp", "outp")]
    model = ModelWrapper(helper.make_model(helper.make_graph([node], "g", io[:1], io[1:])))
    model.set_initializer("thr", thr.astype(np.float32))
    model.set_tensor_datatype("thr", DataType[tdt])
    model.set_tensor_datatype("inp", DataType[idt])
    layer = tmp_path / "hw" / name
    layer.mkdir(parents=True)
    op = getCustomOp(model.graph.node[0])
    op.set_nodeattr("code_gen_dir_ipgen", str(layer))
    op.generate_hdl(model, "xc7z020clg400-1", 10.0)
    return {"name": name, "op": "Thresholding", "op_type": "Thresholding_rtl", "attrs": attrs}, layer


# (PE, channels, shared thresholds, N, input, thresholds, output, ActVal)
FINN_CASES = [(1, 16, False, 15, "INT20", "INT10", "UINT4", 0),
              (4, 8, False, 15, "INT8", "INT8", "UINT4", 0),
              (2, 6, False, 15, "UINT8", "UINT9", "UINT4", 0),
              (4, 8, True, 15, "INT6", "INT6", "UINT4", 0),  # one threshold set for all channels: C = PE
              (2, 4, False, 15, "INT6", "INT7", "INT4", -8),  # signed output
              (3, 6, False, 3, "INT5", "INT5", "UINT2", 0)]


@pytest.mark.parametrize("pe,channels,shared,n,idt,tdt,odt,bias", FINN_CASES)
def test_layer_from_finn_generated_files(tmp_path, pe, channels, shared, n, idt, tdt, odt, bias):
    from hwsqueeze.deploy import dtype_bits

    wi, signed = dtype_bits(idt)
    wt = dtype_bits(tdt)[0]
    rng = np.random.default_rng(channels * 10 + pe)
    thr = _thresholds(rng, 1 if shared else channels, n, wi, wt, signed)
    node, layer = _finn_layer(tmp_path, thr, channels, pe, n, idt, tdt, odt, bias)
    x = _inputs(rng, thr, channels, wi, signed)
    want = (x[..., None] >= thr[np.arange(channels) % len(thr)][None]).sum(axis=-1) + bias
    (got,) = thresholding(node, layer)([x])
    np.testing.assert_array_equal(got, want)


def test_a_changed_memory_word_changes_the_output(tmp_path):
    """The layer reads the files: channel 0's first-stage threshold (the binary search's middle one)
    raised past the inputs there changes what channel 0 outputs."""
    thr = np.tile(np.arange(-7, 8), (4, 1))
    node, layer = _finn_layer(tmp_path, thr, 4, 2, 15, "INT5", "INT5", "UINT4", 0)
    x = np.tile(np.arange(-16, 16)[:, None], (1, 4))
    before = thresholding(node, layer)([x])[0]
    mem = layer / "Thresholding_rtl_3_threshs_0_0.dat"
    words = mem.read_text().split()
    mem.write_text("\n".join(["0f"] + words[1:]) + "\n")
    after = thresholding(node, layer)([x])[0]
    assert (after[:, 0] != before[:, 0]).any() and (after[:, 1:] == before[:, 1:]).all()


def test_thresholding_hls_is_refused_in_one_line(tmp_path):
    node = {"name": "Thresholding_hls_0", "op": "Thresholding", "op_type": "Thresholding_hls", "attrs": {}}
    with pytest.raises(HwsqueezeError, match="'Thresholding_hls' is not supported by the emulated board"):
        thresholding(node, tmp_path)
