"""The board runtime: packing byte for byte as FINN's driver, the IODMA register protocol, the
emulated board, timeouts and bad input."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from hwsqueeze.errors import HwsqueezeError

DTYPES = ["UINT8", "INT8", "INT3", "UINT5", "INT21", "INT24", "UINT1", "BIPOLAR", "UINT12", "INT17", "INT16"]
SHAPES = [(1, 32, 32, 3, 1), (2, 4, 7), (3, 1, 1, 10, 1), (1, 5, 16), (4, 1, 1, 2, 5)]


@pytest.mark.parametrize("dtype", DTYPES)
def test_packing_matches_finn_byte_for_byte(dtype):
    from finn.util.data_packing import finnpy_to_packed_bytearray, packed_bytearray_to_finnpy
    from qonnx.core.datatype import DataType

    from hwsqueeze.deploy.packing import pack, unpack

    dt = DataType[dtype]
    rng = np.random.default_rng(len(dtype))
    for shape in SHAPES:
        x = rng.choice([-1, 1], shape) if dtype == "BIPOLAR" else rng.integers(int(dt.min()), int(dt.max()) + 1, shape)
        ref = finnpy_to_packed_bytearray(x.astype(np.float32), dt, reverse_endian=True, reverse_inner=True)
        got = pack(x, dtype)
        assert got.dtype == np.uint8 and got.shape == ref.shape and np.array_equal(got, ref), (dtype, shape)
        back = packed_bytearray_to_finnpy(np.ascontiguousarray(ref), dt, shape, reverse_endian=True, reverse_inner=True)
        np.testing.assert_array_equal(unpack(ref, dtype, shape), back)


def test_deploy_io_packing_matches_finn(built_deploy):
    """With this build's own datatypes and folded/packed shapes (from FINN's get_driver_shapes)."""
    from finn.util.data_packing import finnpy_to_packed_bytearray, packed_bytearray_to_finnpy
    from qonnx.core.datatype import DataType

    from hwsqueeze.deploy.packing import pack, unpack

    meta = json.loads((built_deploy / "deploy.json").read_text())
    ins, outs = meta["input"], meta["output"]
    x = np.load(built_deploy / "samples" / "images.npy")[:3].reshape((3,) + tuple(ins["shape_folded"][1:]))
    ref = finnpy_to_packed_bytearray(x.astype(np.float32), DataType[ins["dtype"]], reverse_endian=True,
                                     reverse_inner=True)
    assert np.array_equal(pack(x, ins["dtype"]), ref) and list(ref.shape[1:]) == ins["shape_packed"][1:]
    odt = DataType[outs["dtype"]]
    y = np.random.default_rng(1).integers(int(odt.min()), int(odt.max()) + 1, (3,) + tuple(outs["shape_folded"][1:]))
    buf = finnpy_to_packed_bytearray(y.astype(np.float64), odt, reverse_endian=True, reverse_inner=True)
    assert list(buf.shape[1:]) == outs["shape_packed"][1:]
    np.testing.assert_array_equal(unpack(buf, outs["dtype"], y.shape),
                                  packed_bytearray_to_finnpy(buf, odt, y.shape, reverse_endian=True, reverse_inner=True))


@pytest.fixture
def acc(built_deploy):
    from hwsqueeze.runtime import Accelerator

    a = Accelerator.emulated(built_deploy)
    yield a
    a.close()


def _finn_driver_register_writes(FINNDMAOverlay, board, ibuf, obuf, batch: int):
    """The register writes of finn-plus-driver 1.6.1's own ``FINNDMAOverlay.execute_on_buffers``
    (platform zynq-iodma) against the emulated board's IODMAs."""
    import types

    fake = types.SimpleNamespace(platform="zynq-iodma", batch_size=batch, num_inputs=1, num_outputs=1,
                                 external_weights=[], idma=[board.idma0], odma=[board.odma0],
                                 ibuf_packed_device=[ibuf], obuf_packed_device=[obuf])
    fake.wait_until_finished = lambda: FINNDMAOverlay.wait_until_finished(fake)
    board.log.clear()
    FINNDMAOverlay.execute_on_buffers(fake, asynch=False, batch_size=batch)
    return list(board.log)


def test_register_protocol_is_finns(built_deploy, finn_driver):
    """Our Accelerator writes the same registers, values and order as FINN's own PYNQ driver."""
    from hwsqueeze.runtime import Accelerator
    from hwsqueeze.runtime.emulator import EmulatedBoard

    x = np.load(built_deploy / "samples" / "images.npy")[:2]
    with Accelerator.emulated(built_deploy) as ours:
        ours.run(x)
        ib, ob = ours._ibuf.physical_address, ours._obuf.physical_address
        label = {ib & 0xFFFFFFFF: "in-lo", ob & 0xFFFFFFFF: "out-lo"}
        mine = [(d, off, label.get(v, v) if off == 0x10 else v) for d, _, off, v in ours._board.log]
        assert ours._board.flushes == 1 and ours._board.invalidates == 1
    board = EmulatedBoard(built_deploy)
    ibuf, obuf = board.allocate((2,) + tuple(ours.meta.input.packed)), board.allocate((2,) + tuple(ours.meta.output.packed))
    label = {ibuf.device_address & 0xFFFFFFFF: "in-lo", obuf.device_address & 0xFFFFFFFF: "out-lo"}
    theirs = [(d, off, label.get(v, v) if off == 0x10 else v)
              for d, _, off, v in _finn_driver_register_writes(finn_driver, board, ibuf, obuf, 2)]
    assert mine == theirs
    assert board.odma0.read(0x00) & 0x2  # and the emulated board finished the run FINN's driver started


def test_emulated_equals_reference_and_chunks(built_deploy):
    from hwsqueeze.reference import Reference
    from hwsqueeze.runtime import Accelerator

    x = np.random.default_rng(2).integers(0, 256, (7, 32, 32, 3), dtype=np.uint8)
    with Accelerator.emulated(built_deploy, max_batch=3) as a:
        out = a.run(x)
        assert a._board.log.count(("idma0", "w", 0x00, 1)) == 3  # 3 + 3 + 1 frames
    np.testing.assert_array_equal(out, Reference.from_deploy(built_deploy).run(x))


def test_injected_weight_fault_changes_outputs(built_deploy, tmp_path):
    """A flipped bit in a copy's generated weight file changes the emulated board's outputs only."""
    from hwsqueeze.runtime import Accelerator
    from hwsqueeze.runtime.emulator import inject_weight_fault

    work = tmp_path / "d"
    shutil.copytree(built_deploy, work, ignore=shutil.ignore_patterns("notebooks"))
    what = inject_weight_fault(work)
    assert "MVAU" in what and "memblock.dat" in what
    x = np.load(built_deploy / "samples" / "images.npy")
    with Accelerator.emulated(built_deploy) as good, Accelerator.emulated(work) as bad:
        differ = (good.run(x) != bad.run(x)).any(axis=1)
    # how many images one bit reaches depends on the trained weights (12 of the default model's 16
    # sample images); a fault that changes no output would pass every verification
    assert differ.any(), differ


def test_classify_is_the_top_k_of_finns_outputs(acc):
    """classify's classes and scores are the top k of FINN+'s own outputs for the package's sample
    images (samples/expected_outputs.npy, FINN's execution of the HW graph at build time), ranked
    here by hand (largest first, ties to the lower class), times the scale deploy.json records."""
    d = acc.deploy_dir
    x = np.load(d / "samples" / "images.npy")[:3]
    finn = np.load(d / "samples" / "expected_outputs.npy")[:3].reshape(3, -1)
    scale = json.loads((d / "deploy.json").read_text())["output"]["scale"]
    idx, scores = acc.classify(x, k=5)
    want = np.array([sorted(range(len(row)), key=lambda c: (-row[c], c))[:5] for row in finn.tolist()])
    np.testing.assert_array_equal(idx, want)
    np.testing.assert_array_equal(scores, np.array([[row[c] * scale for c in top] for row, top in zip(finn.tolist(), want)]))


def _paced_hardware(acc, monkeypatch, paces, sleep=None):
    """The emulated board's hardware replaced by one that records each run's frame count and
    takes ``paces[i]`` ms a frame on run i: on a clock the test owns (returned; it stands still
    otherwise) or, with ``sleep``, in real time. It outputs zeros: benchmark only times."""
    import types

    from hwsqueeze.runtime import accelerator

    clock, frames, paces = [0.0], [], iter(paces)
    if sleep is None:
        monkeypatch.setattr(accelerator, "time", types.SimpleNamespace(perf_counter=lambda: clock[0]))

    def run(x):
        frames.append(len(x))
        seconds = next(paces) * len(x) * 1e-3
        if sleep is None:
            clock[0] += seconds
        else:
            sleep(seconds)
        return np.zeros((len(x), int(np.prod(acc.out_shape))), np.int64)

    monkeypatch.setattr(acc._board.hardware, "run", run)
    return frames


def test_benchmark_figures_by_hand(acc, monkeypatch):
    """On a clock the test owns, where only the board's computing takes time (ms per frame, one
    warm-up then 3 timed runs per batch size): each row is the median run, computed by hand, and
    benchmark ran the batches it reports (frames counted at the hardware)."""
    frames = _paced_hardware(acc, monkeypatch, [10, 3, 1, 2, 10, 5, 7, 6])
    rows = acc.benchmark(batch_sizes=(1, 4), repeats=3)
    assert frames == [1] * 4 + [4] * 4
    zero = {"pack": 0.0, "transfer_in": 0.0, "transfer_out": 0.0, "unpack": 0.0}
    for row, batch, median_ms in zip(rows, (1, 4), (2 * 1, 6 * 4)):  # medians of 3,1,2 and 5,7,6 ms a frame
        assert row["batch"] == batch and row["target"] == "emulated"
        assert row["latency_ms"] == pytest.approx(median_ms, rel=1e-9)
        assert row["fps"] == pytest.approx(batch / (median_ms * 1e-3), rel=1e-9)  # 500 and 166.7 images/s
        assert row["split_ms"] == pytest.approx({**zero, "compute": median_ms}, rel=1e-9, abs=1e-9)
    assert len(rows) == 2


def test_benchmark_figures_fit_the_wall_clock(acc, monkeypatch):
    """In real time, the board taking 20 ms a frame (one warm-up then 3 timed runs per batch
    size): every run lasts at least its frames' time, at least 2 of the 3 runs last the median
    or longer, so the wall time this test measures around benchmark bounds the figures; fps is
    the batch over the latency, the time split lies within the latency."""
    import time

    frames = _paced_hardware(acc, monkeypatch, [20] * 8, sleep=time.sleep)
    t0 = time.perf_counter()
    rows = acc.benchmark(batch_sizes=(1, 4), repeats=3)
    wall_ms = 1e3 * (time.perf_counter() - t0)
    assert frames == [1] * 4 + [4] * 4
    for row, batch in zip(rows, (1, 4)):
        assert row["latency_ms"] >= 20 * batch and row["split_ms"]["compute"] >= 20 * batch
        assert row["fps"] == pytest.approx(1e3 * batch / row["latency_ms"], rel=1e-9) and row["fps"] <= 50
        assert sum(row["split_ms"].values()) <= row["latency_ms"]
    # warm-ups (1 and 4 frames at 20 ms) + at least 2 runs of each median
    assert wall_ms >= 20 * (1 + 4) + sum(2 * row["latency_ms"] for row in rows)


def test_dma_that_never_finishes_times_out(built_deploy):
    from hwsqueeze.runtime import Accelerator

    with Accelerator.emulated(built_deploy, hang=True, timeout_s=0.2) as a:
        with pytest.raises(HwsqueezeError, match="did not finish within 0.2 s"):
            a.run(np.zeros((1, 32, 32, 3), np.uint8))


@pytest.mark.parametrize("images,msg", [
    (np.zeros((1, 28, 28, 3), np.uint8), "images must have shape"),
    (np.zeros((1, 32, 32, 3), np.float64), "integer pixels"),
    (np.full((1, 32, 32, 3), -1, np.int32), r"\[0, 255\]"),
    (np.zeros((0, 32, 32, 3), np.uint8), "empty batch"),
])
def test_bad_images(acc, images, msg):
    with pytest.raises(HwsqueezeError, match=msg):
        acc.run(images)


def test_bad_deploy_packages(built_deploy, tmp_path):
    from hwsqueeze.runtime import Accelerator

    with pytest.raises(HwsqueezeError, match="not a deploy package"):
        Accelerator.emulated(tmp_path)
    d = tmp_path / "d"
    shutil.copytree(built_deploy, d, ignore=shutil.ignore_patterns("notebooks"))
    with pytest.raises(HwsqueezeError, match="no bitstream in this deploy package"):
        Accelerator(d)  # a real board, but the package was built without Vivado
    shutil.rmtree(d / "hw" / next(p.name for p in (d / "hw").iterdir() if p.name.startswith("MVAU")))
    with pytest.raises(HwsqueezeError, match="MVAU"):
        Accelerator.emulated(d)
    (d / "deploy.json").write_text("{ not json")
    with pytest.raises(HwsqueezeError, match="corrupt"):
        Accelerator.emulated(d)


def test_overlay_without_the_dmas(built_deploy):
    from hwsqueeze.runtime import Accelerator
    from hwsqueeze.runtime.emulator import EmulatedBoard

    board = EmulatedBoard(built_deploy)
    board.ip_dict = {"axi_dma_0": {}, "zynq_ultra_ps_e_0": {}}  # an overlay from some other design
    with pytest.raises(HwsqueezeError, match="no input DMA 'idma0'.*axi_dma_0"):
        Accelerator(built_deploy, _board=board)
