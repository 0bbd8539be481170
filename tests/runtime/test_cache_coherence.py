"""DMA buffers and the Zynq's caches: the ARM caches are not coherent with the fabric's DMAs, so a
cacheable buffer needs flush() before the device reads it and invalidate() after the device wrote
it (pynq's PynqBuffer API; finn-plus-driver allocates cacheable buffers on zynq-iodma). The
emulated board models this, so a runtime that forgets either call gets wrong results here too."""
from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def board(built_deploy):
    from hwsqueeze.runtime.emulator import EmulatedBoard

    return EmulatedBoard(built_deploy)


def test_cacheable_buffer_needs_flush_and_invalidate(board):
    """Hand-written bytes through the emulated DDR, as the DMA engines see it."""
    buf = board.allocate((2, 4), np.uint8, cacheable=True)
    assert buf.cacheable and buf.physical_address == buf.device_address
    buf[:] = [[1, 2, 3, 4], [5, 6, 7, 8]]
    ddr = board._bytes_at(buf.physical_address, 8)
    assert ddr.tolist() == [0] * 8  # still in the CPU cache: the device reads zeros
    buf[1:].flush()  # a view flushes its whole allocation, like pynq
    assert ddr.tolist() == [1, 2, 3, 4, 5, 6, 7, 8]
    ddr[:] = np.arange(10, 18)  # the device writes DDR
    assert buf.reshape(-1).tolist() == [1, 2, 3, 4, 5, 6, 7, 8]  # the CPU still reads its cache
    buf.invalidate()
    assert buf.reshape(-1).tolist() == list(range(10, 18))
    buf[0, 0] = 99
    buf.invalidate()  # unflushed CPU writes are dropped by an invalidate
    assert buf[0, 0] == 10 and (board.flushes, board.invalidates) == (1, 2)


def test_non_cacheable_buffer_is_ddr(board):
    buf = board.allocate((4,), np.uint8)  # pynq's default: not cacheable
    buf[:] = [9, 8, 7, 6]
    ddr = board._bytes_at(buf.physical_address, 4)
    assert not buf.cacheable and ddr.tolist() == [9, 8, 7, 6]
    ddr[0] = 1
    assert buf[0] == 1


def test_accelerator_flushes_and_invalidates_cacheable_buffers(built_deploy):
    """Our runtime allocates cacheable buffers (as FINN's driver does on Zynq) and still gets FINN+'s
    outputs: it flushes the input before starting the DMAs and invalidates the output after."""
    from hwsqueeze.runtime import Accelerator

    x = np.load(built_deploy / "samples" / "images.npy")[:3]
    expected = np.load(built_deploy / "samples" / "expected_outputs.npy")[:3].reshape(3, -1)
    with Accelerator.emulated(built_deploy) as acc:
        np.testing.assert_array_equal(acc.run(x).reshape(3, -1), expected)
        assert acc._ibuf.cacheable and acc._obuf.cacheable
        np.testing.assert_array_equal(acc.run(x[::-1]).reshape(3, -1), expected[::-1])  # no stale lines


@pytest.mark.parametrize("forget", ["flush", "invalidate"])
def test_forgetting_either_call_is_caught(built_deploy, monkeypatch, forget):
    """The emulation is strict enough to matter: the same runtime with one of the calls turned into a
    no-op returns wrong outputs (input never reaches the device / output never reaches the CPU)."""
    from hwsqueeze.runtime import Accelerator
    from hwsqueeze.runtime.emulator import EmulatedBuffer

    monkeypatch.setattr(EmulatedBuffer, forget, lambda self: None)
    x = np.load(built_deploy / "samples" / "images.npy")[:3]
    expected = np.load(built_deploy / "samples" / "expected_outputs.npy")[:3].reshape(3, -1)
    with Accelerator.emulated(built_deploy) as acc:
        assert (acc.run(x).reshape(3, -1) != expected).any(axis=1).all()
