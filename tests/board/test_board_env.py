"""Run in the board-like environment (scripts/test-board-env.sh: numpy<2 + pynq 4.0, no torch,
onnx, qonnx or finn): the deploy package's runtime picks the emulated board when pynq finds no
device, and the real-board path fails with clear errors instead of hanging or guessing."""
from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

DEPLOY = Path(os.environ.get("HWSQUEEZE_DEPLOY", "")) if os.environ.get("HWSQUEEZE_DEPLOY") else None
pytestmark = pytest.mark.skipif(DEPLOY is None, reason="HWSQUEEZE_DEPLOY not set (run scripts/test-board-env.sh)")
if DEPLOY is not None:
    sys.path.insert(0, str(DEPLOY))


def _with_placeholder_bitstream(tmp_path: Path, keep_hw: bool) -> Path:
    """A copy of the package that claims a bitstream (placeholder files: pynq never loads them here)."""
    d = tmp_path / "deploy"
    shutil.copytree(DEPLOY, d, ignore=shutil.ignore_patterns("notebooks", *(() if keep_hw else ("hw",))))
    meta = json.loads((d / "deploy.json").read_text())
    (d / "bitfile").mkdir()
    (d / "bitfile" / "hwsqueeze.bit").write_bytes(b"\x00" * 64)
    (d / "bitfile" / "hwsqueeze.hwh").write_text("<xml/>")
    meta.update(bitfile="bitfile/hwsqueeze.bit", hwh="bitfile/hwsqueeze.hwh")
    (d / "deploy.json").write_text(json.dumps(meta))
    return d


def _pynq():
    """pynq, required where the board-env script installed it (HWSQUEEZE_EXPECT_PYNQ=1)."""
    if os.environ.get("HWSQUEEZE_EXPECT_PYNQ") == "1":
        import pynq  # an ImportError here fails the test: the environment is broken

        return pynq
    return pytest.importorskip("pynq", reason="this board env has no pynq (Python 3.8 syntax/numpy-1 env)")


def test_environment_is_board_like():
    import numpy

    for heavy in ("torch", "onnx", "qonnx", "finn"):
        with pytest.raises(ImportError):
            __import__(heavy)
    assert os.environ.get("HWSQUEEZE_EXPECT_NUMPY1") != "1" or numpy.__version__.startswith("1.")


def test_open_falls_back_to_emulation_without_a_device():
    pynq = _pynq()
    from hwsqueeze.runtime import Accelerator, board_available

    assert not board_available()
    with Accelerator.open(DEPLOY) as acc:
        assert acc.target == "emulated"
        x = np.load(DEPLOY / "samples" / "images.npy")[:2]
        assert acc.run(x).shape == (2, 10)
    assert pynq.__version__


def test_real_board_path_reports_pynq_errors(tmp_path):
    _pynq()
    from hwsqueeze.errors import HwsqueezeError
    from hwsqueeze.runtime import Accelerator

    d = _with_placeholder_bitstream(tmp_path, keep_hw=False)
    with pytest.raises(HwsqueezeError, match="cannot load the overlay"):
        Accelerator(d)


def test_real_board_code_path_through_pynq(tmp_path, monkeypatch):
    """The board path of Accelerator (pynq.Overlay, pynq.allocate, pynq.MMIO register reads and
    writes) against a fake pynq Device whose registers are the emulated IODMAs. Only the Overlay
    constructor is replaced (there is no real .bit/.hwh here); MMIO and allocate are pynq's own."""
    pynq = _pynq()
    from pynq.pl_server.device import Device

    from hwsqueeze.reference import Reference
    from hwsqueeze.runtime import Accelerator
    from hwsqueeze.runtime.emulator import EmulatedBoard

    board = EmulatedBoard(DEPLOY)
    bases = {"idma0": 0x4000_0000, "odma0": 0x4001_0000}

    class FakeDevice(Device):
        def __init__(self) -> None:
            super().__init__("hwsqueeze-emulated")
            self.capabilities = {"REGISTER_RW": True}

        def _dma(self, address):
            for name, base in bases.items():
                if base <= address < base + 0x10000:
                    return getattr(board, name), address - base
            raise AssertionError(f"access outside the DMAs: 0x{address:x}")

        def read_registers(self, address, length):
            dma, off = self._dma(address)
            return b"".join(dma.read(off + 4 * i).to_bytes(4, "little") for i in range(length // 4))

        def write_registers(self, address, data):
            dma, off = self._dma(address)
            dma.write(off, int.from_bytes(bytes(data)[:4], "little"))

        def allocate(self, shape, dtype, **kwargs):  # pynq.allocate's keywords (cacheable=...) passed on
            return board.allocate(shape, dtype, **kwargs)

    dev = FakeDevice()
    # pynq.allocate() allocates on Device.active_device (backed by _active_device); removed after
    monkeypatch.setattr(Device, "_active_device", dev, raising=False)

    class FakeOverlay:
        def __init__(self, bitfile, *a, **k):
            assert bitfile.endswith("hwsqueeze.bit")
            self.ip_dict = {name: {"phys_addr": base} for name, base in bases.items()}
            for name, base in bases.items():
                setattr(self, name, pynq.MMIO(base, 0x10000, device=dev))

    monkeypatch.setattr(pynq, "Overlay", FakeOverlay)
    d = _with_placeholder_bitstream(tmp_path, keep_hw=True)
    x = np.load(DEPLOY / "samples" / "images.npy")[:5]
    with Accelerator(d) as acc:
        assert acc.target == "board"
        out = acc.run(x)
        assert acc._ibuf.cacheable and acc._obuf.cacheable  # asked for through pynq.allocate(cacheable=True)
    np.testing.assert_array_equal(out, Reference.from_deploy(DEPLOY).run(x))
    writes = [(dma, off) for dma, _, off, _ in board.log]
    assert writes[:4] == [("odma0", 0x10), ("odma0", 0x14), ("odma0", 0x1C), ("odma0", 0x00)]
