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
    x = np.load(built_deploy / "samples" / "images.npy")[:4]
    with Accelerator.emulated(built_deploy) as good, Accelerator.emulated(work) as bad:
        assert (good.run(x) != bad.run(x)).any(axis=1).all()


def test_classify_and_benchmark(acc):
    x = np.load(acc.deploy_dir / "samples" / "images.npy")[:3]
    idx, scores = acc.classify(x, k=5)
    logits = acc.run(x)
    assert idx.shape == (3, 5) and np.array_equal(idx[:, 0], logits.argmax(1))
    np.testing.assert_allclose(scores[:, 0], logits.max(1) * acc.scale)
    rows = acc.benchmark(batch_sizes=(1, 4), repeats=2)
    assert [r["batch"] for r in rows] == [1, 4] and all(r["fps"] > 0 for r in rows)
    assert set(rows[0]["split_ms"]) == {"pack", "transfer_in", "compute", "transfer_out", "unpack"}


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
