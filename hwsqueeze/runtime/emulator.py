"""A register-level emulated PYNQ board for a deploy package.

It offers what :class:`~hwsqueeze.runtime.accelerator.Accelerator` uses on a real board: an
``allocate()`` returning DDR buffers with a physical address, ``flush()``/``invalidate()``, and
the two FINN IODMAs (``idma0``, ``odma0``) as register files with ``read``/``write``. When the
input DMA is started while the output DMA is armed, the "hardware" reads the packed input bytes
from emulated DDR at the programmed address, unpacks them as the stream would, computes with
the bit-exact reference whose weights and thresholds come from the **generated hardware
sources** (``deploy/hw``), packs the result into DDR at the output address and raises ap_done.

Registers (FINN Zynq IODMA, AXI-lite): 0x00 control/status (bit0 ap_start, bit1 ap_done,
bit2 ap_idle), 0x10/0x14 buffer address low/high, 0x1C batch (number of frames).
Fault knobs, for testing the tests: ``fault="flip_weight_bit"`` flips one bit of one weight in
the emulated hardware; ``hang=True`` makes the DMAs never finish.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional, Tuple, Union

import numpy as np

from ..errors import HwsqueezeError
from ..reference import Reference, load_graph
from ..reference.hwsources import load_hw_arrays
from .packing import pack, unpack

__all__ = ["EmulatedBoard", "EmulatedBuffer", "flip_weight_bit"]

_DDR_BASE = 0x1000_0000


class EmulatedBuffer(np.ndarray):
    """A numpy array living at a 'physical address' of the emulated DDR (like pynq's buffers)."""

    physical_address: int
    device_address: int

    def flush(self) -> None:  # caches are coherent in the emulation
        self._board.flushes += 1

    def invalidate(self) -> None:
        self._board.invalidates += 1

    def freebuffer(self) -> None:
        self._board._free(self)

    close = freebuffer


class _IODMA:
    """Register file of one FINN IODMA."""

    def __init__(self, board: "EmulatedBoard", name: str) -> None:
        self.board, self.name = board, name
        self.regs: Dict[int, int] = {0x00: 0x4}  # idle

    def write(self, offset: int, value: int) -> None:
        self.board.log.append((self.name, "w", offset, int(value)))
        if offset == 0x00:
            if value & 0x1:
                self.regs[0x00] = 0x1  # started: not idle, not done
                self.board._started(self)
            return
        self.regs[offset] = int(value) & 0xFFFFFFFF

    def read(self, offset: int) -> int:
        return self.regs.get(offset, 0)

    @property
    def address(self) -> int:
        return self.regs.get(0x10, 0) | (self.regs.get(0x14, 0) << 32)


def flip_weight_bit(graph: dict, arrays: Dict[str, np.ndarray]) -> Tuple[str, int, int]:
    """Flip the second-highest bit of the largest-magnitude weight of the first layer (it sees
    raw pixels, so every non-black image is affected; flipping below the sign bit keeps the value
    in its datatype's range). Returns (array key, flat index, bit)."""
    from ..reference.engine import dtype_range

    first = [n for n in graph["nodes"] if "weights" in n.get("arrays", {})][0]
    key = first["arrays"]["weights"]
    lo, hi = dtype_range(first["attrs"]["weightDataType"])
    bit = max(0, int(hi - lo).bit_length() - 2)
    flat = arrays[key].astype(np.int64).reshape(-1)
    i = int(np.argmax(np.abs(flat)))
    flat[i] ^= 1 << bit
    arrays[key] = flat.reshape(arrays[key].shape)
    return key, i, bit


class EmulatedBoard:
    """The emulated overlay of one deploy package (see the module docstring)."""

    def __init__(self, deploy_dir: Union[str, Path], fault: Optional[str] = None, hang: bool = False) -> None:
        from .accelerator import load_meta

        d = Path(deploy_dir)
        self.meta = load_meta(d)
        graph, _ = load_graph(d / Path(self.meta["reference"]["graph"]).parent)
        arrays = load_hw_arrays(d / self.meta.get("hw_sources", "hw"), graph)  # what synthesis would get
        self.fault = None
        if fault == "flip_weight_bit":
            self.fault = flip_weight_bit(graph, arrays)
        elif fault:
            raise HwsqueezeError(f"unknown fault {fault!r} (known: flip_weight_bit)")
        self.compute = Reference(graph, arrays, self.meta["output"]["shape_normal"])
        self.hang = hang
        self.log: List[tuple] = []
        self.flushes = self.invalidates = 0
        self._mem: Dict[int, EmulatedBuffer] = {}
        self._next = _DDR_BASE
        io = self.meta["input"]["dma"], self.meta["output"]["dma"]
        self.ip_dict = {io[0]: {"type": "xilinx.com:hls:idma:1.0"}, io[1]: {"type": "xilinx.com:hls:odma:1.0"}}
        self._dmas = {name: _IODMA(self, name) for name in io}

    def __getattr__(self, name: str):
        dmas = self.__dict__.get("_dmas", {})
        if name in dmas:
            return dmas[name]
        raise AttributeError(name)

    # ------------------------------------------------------------ emulated DDR
    def allocate(self, shape, dtype=np.uint8) -> EmulatedBuffer:
        buf = np.zeros(shape, dtype=dtype).view(EmulatedBuffer)
        buf._board = self
        buf.physical_address = buf.device_address = self._next
        self._mem[self._next] = buf
        self._next += (buf.nbytes + 0xFFF) & ~0xFFF  # page aligned, like CMA
        return buf

    def _free(self, buf: EmulatedBuffer) -> None:
        self._mem.pop(buf.physical_address, None)

    def _bytes_at(self, address: int, nbytes: int) -> np.ndarray:
        for base, buf in self._mem.items():
            if base <= address and address + nbytes <= base + buf.nbytes:
                return buf.reshape(-1).view(np.uint8)[address - base: address - base + nbytes]
        raise HwsqueezeError(f"emulated DMA access to unmapped DDR range 0x{address:x}+{nbytes}")

    # ------------------------------------------------------------ the dataflow "hardware"
    def _started(self, dma: _IODMA) -> None:
        idma, odma = (self._dmas[self.meta[k]["dma"]] for k in ("input", "output"))
        if dma is odma or odma.regs[0x00] != 0x1:
            return  # the output DMA waits for data; computing starts when input arrives
        if self.hang:
            return
        n = idma.regs.get(0x1C, 0)
        if n != odma.regs.get(0x1C, 0) or n <= 0:
            raise HwsqueezeError(f"emulated DMAs programmed with different/empty batches ({n}, {odma.regs.get(0x1C)})")
        ins, outs = self.meta["input"], self.meta["output"]
        in_row, out_row = int(np.prod(ins["shape_packed"][1:])), int(np.prod(outs["shape_packed"][1:]))
        raw = self._bytes_at(idma.address, n * in_row).reshape((n,) + tuple(ins["shape_packed"][1:]))
        x = unpack(raw, ins["dtype"], (n,) + tuple(ins["shape_folded"][1:]))
        x = x.reshape((n,) + tuple(ins["shape_normal"][1:]))
        y = self.compute.run(x.astype(np.int64))
        y = y.reshape((n,) + tuple(outs["shape_folded"][1:]))
        self._bytes_at(odma.address, n * out_row)[:] = pack(y, outs["dtype"]).reshape(-1)
        idma.regs[0x00] = 0x6  # done + idle
        odma.regs[0x00] = 0x6
