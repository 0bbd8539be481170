"""FINN's own PYNQ driver (finn-plus-driver 1.6.1) on our deploy package: its CLI reads
``driver/settings.json`` (written by FINN+'s MakePYNQDriver at build time), builds its
``FINNDMAOverlay`` and runs images through our emulated board — its own packing, its own
cacheable buffers with flush/invalidate, its own register writes — and gets what our runtime and
FINN+'s Python execution of the HW graph get. Only ``pynq`` is a stand-in: its ``Overlay`` is the
emulated board, its ``allocate`` the emulated DDR."""
from __future__ import annotations

import json
import sys
import types

import numpy as np
import pytest


@pytest.fixture
def finn_on_emulated(built_deploy, monkeypatch):
    """finn-plus-driver importable on a host, with pynq's Overlay/allocate bound to an emulated
    board of ``built_deploy``; returns (board, FINN's get_driver_class, FINN's click command)."""
    from hwsqueeze.runtime.emulator import EmulatedBoard

    board = EmulatedBoard(built_deploy)

    class Overlay:  # what FINNDMAOverlay's base class provides on a board: ip_dict, IPs as attributes
        def __init__(self, bitfile_name, download=True, device=None):
            self.ip_dict, self.device = board.ip_dict, device
            for name in board.ip_dict:
                setattr(self, name, getattr(board, name))

    pynq = types.ModuleType("pynq")
    pynq.Overlay, pynq.allocate, pynq.Bitstream = Overlay, board.allocate, object  # Bitstream: imported, unused
    ps = types.ModuleType("pynq.ps")
    ps.Clocks = type("Clocks", (), {"fclk0_mhz": 0.0})
    monkeypatch.setitem(sys.modules, "pynq", pynq)
    monkeypatch.setitem(sys.modules, "pynq.ps", ps)
    for name in [m for m in sys.modules if m.startswith("finn_plus_driver")]:
        monkeypatch.delitem(sys.modules, name)
    from finn_plus_driver import get_driver_class
    from finn_plus_driver.cli import driver_cli

    return board, get_driver_class, driver_cli


def _finn_driver(deploy, get_driver_class, batch_size: int):
    """The overlay exactly as finn-plus-driver's CLI makes it from settings.json (cli.driver_cli)."""
    from hwsqueeze.deploy.package import BITFILE, FINN_SETTINGS

    info = json.loads((deploy / FINN_SETTINGS).read_text())["driver_information"]
    info.setdefault("runtime_weight_dir", str(deploy / "driver" / "runtime_weights"))
    info.setdefault("mlo_weight_dir", str(deploy / "driver" / "mlo_weights"))
    return get_driver_class(info["driver_type"])(str(deploy / BITFILE), **{**info, "batch_size": batch_size})


def test_finn_driver_view_matches_deploy_json(built_deploy, finn_on_emulated):
    """FINN's driver parses settings.json into the datatypes and shapes deploy.json states, and its
    own packing of an input is byte for byte ours."""
    from qonnx.core.datatype import DataType

    from hwsqueeze.deploy import pack, read_meta

    board, get_driver_class, _ = finn_on_emulated
    meta = read_meta(built_deploy)
    drv = _finn_driver(built_deploy, get_driver_class, batch_size=3)
    assert drv.platform == meta.platform and drv.idma == [board.idma0] and drv.odma == [board.odma0]
    assert drv.idt() == DataType[meta.input.dtype] and drv.odt() == DataType[meta.output.dtype]
    for mine, theirs in ((meta.input, "i"), (meta.output, "o")):
        assert getattr(drv, f"{theirs}shape_folded")() == (3,) + mine.folded
        assert getattr(drv, f"{theirs}shape_packed")() == (3,) + mine.packed
        assert np.prod(getattr(drv, f"{theirs}shape_normal")()) == 3 * np.prod(mine.normal)
    assert all(b.cacheable for b in drv.ibuf_packed_device + drv.obuf_packed_device)  # FINN's zynq choice
    x = np.load(built_deploy / "samples" / "images.npy")[:3]
    folded = drv.fold_input(x)
    np.testing.assert_array_equal(drv.pack_input(folded), pack(folded, meta.input.dtype))


def test_finn_driver_runs_the_emulated_board(built_deploy, finn_on_emulated):
    """Images through FINN's execute() on the emulated board = our Accelerator = FINN+'s execution."""
    from hwsqueeze.runtime import Accelerator

    _, get_driver_class, _ = finn_on_emulated
    x = np.load(built_deploy / "samples" / "images.npy")[:4]
    expected = np.load(built_deploy / "samples" / "expected_outputs.npy")[:4].reshape(4, -1)
    finn_out = _finn_driver(built_deploy, get_driver_class, batch_size=4).execute(x)
    with Accelerator.emulated(built_deploy) as acc:
        ours = acc.run(x)
    np.testing.assert_array_equal(np.asarray(finn_out).reshape(4, -1), expected)
    np.testing.assert_array_equal(ours.reshape(4, -1), expected)


def test_finn_cli_throughput_test(built_deploy, finn_on_emulated, monkeypatch):
    """The command a user runs on the board (docs/runtime.md), through finn-plus-driver's own click CLI."""
    from click.testing import CliRunner

    from hwsqueeze.deploy.package import BITFILE, FINN_SETTINGS

    board, _, driver_cli = finn_on_emulated
    monkeypatch.chdir(built_deploy)
    res = CliRunner().invoke(driver_cli, ["-b", BITFILE, "-s", FINN_SETTINGS, "-f", "throughput_test",
                                          "-ck", "batch_size=2", "Int"])
    assert res.exit_code == 0, res.output + repr(res.exception)
    assert "'throughput[images/s]'" in res.output and "'batch_size': 2" in res.output
    assert board.odma0.read(0x00) & 0x2 and board.flushes >= 1 and board.invalidates >= 1


SHAPES = ("ishape_normal", "oshape_normal", "ishape_folded", "oshape_folded", "ishape_packed", "oshape_packed")


@pytest.mark.parametrize("batch", [1, 3])
def test_our_finn_surface_is_finns(built_deploy, finn_on_emulated, batch):
    """Our Accelerator and FINN's FINNDMAOverlay, both built on the same package and both on an
    emulated board: same batch_size, shapes, datatypes, execute() output (values, shape, dtype),
    FINN's step functions, and throughput_test keys (ours adds "target") and byte counts."""
    from qonnx.core.datatype import DataType

    from hwsqueeze.errors import HwsqueezeError
    from hwsqueeze.runtime import Accelerator

    _, get_driver_class, _ = finn_on_emulated
    drv = _finn_driver(built_deploy, get_driver_class, batch_size=batch)
    x = np.load(built_deploy / "samples" / "images.npy")[:batch]
    with Accelerator.emulated(built_deploy, batch_size=batch) as acc:
        assert acc.batch_size == drv.batch_size == batch
        assert all(getattr(acc, s)() == getattr(drv, s)() for s in SHAPES), [(getattr(acc, s)(), getattr(drv, s)())
                                                                            for s in SHAPES]
        for ours, theirs in ((acc.idt(), drv.idt()), (acc.odt(), drv.odt())):
            assert ours == theirs and theirs == ours and ours == DataType[theirs.name] and str(ours) == str(theirs)
            assert [ours.bitwidth(), ours.signed(), ours.min(), ours.max()] == \
                [theirs.bitwidth(), theirs.signed(), theirs.min(), theirs.max()]
        out, want = acc.execute(x), drv.execute(x)
        assert out.shape == want.shape and out.dtype == want.dtype
        np.testing.assert_array_equal(out, want)
        folded = drv.fold_input(x)
        np.testing.assert_array_equal(acc.fold_input(x), folded)
        np.testing.assert_array_equal(acc.pack_input(folded), drv.pack_input(folded))
        obuf = np.empty(acc.oshape_packed(), np.uint8)
        acc.copy_output_data_from_device(obuf)
        for mine, finns in ((acc.unpack_output(obuf), drv.unpack_output(obuf)),
                            (acc.unfold_output(drv.unpack_output(obuf)), drv.unfold_output(drv.unpack_output(obuf)))):
            assert mine.dtype == finns.dtype and mine.shape == finns.shape
            np.testing.assert_array_equal(mine, finns)
        res, theirs = acc.throughput_test(), drv.throughput_test()
        assert list(res) == list(theirs) + ["target"] and res["target"] == "emulated"
        assert res["batch_size"] == theirs["batch_size"] == batch
        assert all(res[k] > 0 for k in res if k.endswith("[ms]")), res  # measured, not hard-coded
        for k in ("DRAM_in_bandwidth[MB/s]", "DRAM_out_bandwidth[MB/s]"):  # the same bytes moved per run
            assert res[k] * res["runtime[ms]"] == pytest.approx(theirs[k] * theirs["runtime[ms]"])
        assert res["fclk[mhz]"] is None  # no FPGA clock to report (FINN's says the 100.0 it set itself)
        with pytest.raises(HwsqueezeError, match=r"ishape_normal\(\) = \(%d, 32, 32, 3\)" % batch):
            acc.execute(np.load(built_deploy / "samples" / "images.npy")[:batch + 1])  # FINN asserts, too
