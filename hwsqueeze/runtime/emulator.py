"""A register-level emulated PYNQ board for a deploy package.

It offers what :class:`~hwsqueeze.runtime.accelerator.Accelerator` uses on a real board: an
``allocate()`` returning DDR buffers with a physical address, ``flush()``/``invalidate()`` with
the Zynq's non-coherent caches modelled for cacheable buffers (:class:`EmulatedBuffer`), and
the two FINN IODMAs as register files with ``read``/``write`` (map: :mod:`hwsqueeze.deploy.iodma`).
When the input DMA is started while the output DMA is armed, the "hardware" reads the packed
input words from emulated DDR, splits them into values bit by bit as the stream would, runs
:class:`~hwsqueeze.runtime.hwmodel.HwModel` — the layers computed from the generated per-layer
files (``deploy/hw``), independently of the reference engine — writes the output words into DDR
and raises ap_done. Stream (un)packing here is plain Python integer arithmetic, independent of
:mod:`hwsqueeze.deploy.packing`, so a packing bug cannot cancel out in HW-vs-SW tests.

Test knobs: ``hang=True`` makes the DMAs never finish; :func:`inject_weight_fault` flips one bit
in a package's generated weight file (use it on a copy).
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Sequence, Union

import numpy as np

from ..deploy import dtype_bits
from ..deploy.files import MAX_SOURCE_BYTES, inside, read_text
from ..deploy.graph import open_package
from ..deploy.iodma import ADDR_HI, ADDR_LO, AP_DONE, AP_IDLE, AP_START, BATCH, CTRL
from ..deploy.package import HW_DIR
from ..errors import HwsqueezeError
from .hwmodel import HwModel
from .hwsources import read_memblock_words

__all__ = ["EmulatedBoard", "EmulatedBuffer", "inject_weight_fault"]

_DDR_BASE = 0x1000_0000


class EmulatedBuffer(np.ndarray):
    """A numpy array living at a 'physical address' of the emulated DDR (like pynq's buffers).

    The array is the CPU's view. A ``cacheable`` buffer has its own DDR copy, as on a Zynq whose
    ARM caches are not coherent with the fabric's DMA: the device reads DDR, so CPU writes reach
    it only after :meth:`flush`, and device writes reach the CPU only after :meth:`invalidate`
    (which also drops CPU writes that were not flushed). A non-cacheable buffer is its DDR.
    """

    physical_address: int
    device_address: int

    def __array_finalize__(self, obj) -> None:  # slices and views share the allocation
        if obj is not None:
            for k in ("_board", "_home", "physical_address", "device_address"):
                if hasattr(obj, k):
                    setattr(self, k, getattr(obj, k))

    @property
    def cacheable(self) -> bool:
        return self._home._ddr is not None

    def _cpu_bytes(self) -> np.ndarray:
        return np.asarray(self._home).reshape(-1).view(np.uint8)

    def flush(self) -> None:
        """CPU writes -> DDR (the whole allocation, as pynq does)."""
        self._board.flushes += 1
        if self._home._ddr is not None:
            self._home._ddr[:] = self._cpu_bytes()

    def invalidate(self) -> None:
        """DDR -> what the CPU reads (the whole allocation)."""
        self._board.invalidates += 1
        if self._home._ddr is not None:
            self._cpu_bytes()[:] = self._home._ddr

    def freebuffer(self) -> None:
        self._board._free(self._home)

    close = freebuffer


class _IODMA:
    """Register file of one FINN IODMA."""

    def __init__(self, board: "EmulatedBoard", name: str) -> None:
        self.board, self.name = board, name
        self.regs: Dict[int, int] = {CTRL: AP_IDLE}

    def write(self, offset: int, value: int) -> None:
        self.board.log.append((self.name, "w", offset, int(value)))
        if offset == CTRL:
            if value & AP_START:
                self.regs[CTRL] = AP_START  # started: not idle, not done
                self.board._started(self)
            return
        self.regs[offset] = int(value) & 0xFFFFFFFF

    def read(self, offset: int) -> int:
        return self.regs.get(offset, 0)

    @property
    def address(self) -> int:
        return self.regs.get(ADDR_LO, 0) | (self.regs.get(ADDR_HI, 0) << 32)


def _words_to_values(raw: np.ndarray, n_values: int, dtype: str) -> np.ndarray:
    """Each row of bytes is one little-endian stream word; value i sits in bits [i*b, (i+1)*b)."""
    bits, signed = dtype_bits(dtype)
    mask = (1 << bits) - 1
    out = np.empty((raw.shape[0], n_values), dtype=np.int64)
    for r, row in enumerate(raw):
        word = int.from_bytes(bytes(row), "little")
        for i in range(n_values):
            v = (word >> (i * bits)) & mask
            if dtype == "BIPOLAR":
                v = 2 * v - 1
            elif signed and v >> (bits - 1):
                v -= 1 << bits
            out[r, i] = v
    return out


def _values_to_words(values: np.ndarray, nbytes: int, dtype: str) -> np.ndarray:
    bits = dtype_bits(dtype)[0]
    mask = (1 << bits) - 1
    out = np.zeros((values.shape[0], nbytes), dtype=np.uint8)
    for r, row in enumerate(values):
        word = 0
        for i, v in enumerate(row.tolist()):
            word |= ((((v + 1) // 2) if dtype == "BIPOLAR" else v) & mask) << (i * bits)
        out[r] = np.frombuffer(word.to_bytes(nbytes, "little"), dtype=np.uint8)
    return out


class EmulatedBoard:
    """The emulated overlay of one deploy package (see the module docstring)."""

    def __init__(self, deploy_dir: Union[str, Path], hang: bool = False) -> None:
        d = Path(deploy_dir)
        self.meta, graph, _ = open_package(d)  # topology and attributes only; numbers come from hw/
        self.hardware = HwModel(graph, inside(d, HW_DIR))
        self.hang = hang
        self.log: List[tuple] = []
        self.flushes = self.invalidates = 0
        self._mem: Dict[int, EmulatedBuffer] = {}
        self._next = _DDR_BASE
        io = self.meta.input.dma, self.meta.output.dma
        self.ip_dict = {io[0]: {"type": "xilinx.com:hls:idma:1.0"}, io[1]: {"type": "xilinx.com:hls:odma:1.0"}}
        self._dmas = {name: _IODMA(self, name) for name in io}

    def __getattr__(self, name: str):
        dmas = self.__dict__.get("_dmas", {})
        if name in dmas:
            return dmas[name]
        raise AttributeError(name)

    # ------------------------------------------------------------ emulated DDR
    def allocate(self, shape, dtype=np.uint8, cacheable: bool = False, target=None, **kwargs) -> EmulatedBuffer:
        """pynq's ``allocate(shape, dtype, target=None, cacheable=...)``: non-cacheable by default, as
        in pynq; see :class:`EmulatedBuffer` for what caching means here."""
        buf = np.zeros(shape, dtype=dtype).view(EmulatedBuffer)
        buf._board, buf._home = self, buf
        buf._ddr = np.zeros(buf.nbytes, np.uint8) if cacheable else None
        buf.physical_address = buf.device_address = self._next
        self._mem[self._next] = buf
        self._next += (buf.nbytes + 0xFFF) & ~0xFFF  # page aligned, like CMA
        return buf

    def _free(self, buf: EmulatedBuffer) -> None:
        self._mem.pop(buf.physical_address, None)

    def _bytes_at(self, address: int, nbytes: int) -> np.ndarray:
        for base, buf in self._mem.items():
            if base <= address and address + nbytes <= base + buf.nbytes:
                ddr = buf._ddr if buf._ddr is not None else buf._cpu_bytes()  # what the DMA sees
                return ddr[address - base: address - base + nbytes]
        raise HwsqueezeError(f"emulated DMA access to unmapped DDR range 0x{address:x}+{nbytes}")

    # ------------------------------------------------------------ the dataflow "hardware"
    def _started(self, dma: _IODMA) -> None:
        ins, outs = self.meta.input, self.meta.output
        idma, odma = self._dmas[ins.dma], self._dmas[outs.dma]
        if dma is odma or odma.regs[CTRL] != AP_START:
            return  # the output DMA waits for data; computing starts when input arrives
        if self.hang:
            return
        n = idma.regs.get(BATCH, 0)
        if n != odma.regs.get(BATCH, 0) or n <= 0:
            raise HwsqueezeError(f"emulated DMAs programmed with different/empty batches ({n}, {odma.regs.get(BATCH)})")
        in_word, out_word = ins.packed[-1], outs.packed[-1]
        raw = self._bytes_at(idma.address, n * int(np.prod(ins.packed))).reshape(-1, in_word)
        x = _words_to_values(raw, ins.folded[-1], ins.dtype).reshape((n,) + ins.normal)
        y = self.hardware.run(x).reshape(-1, outs.folded[-1])
        self._bytes_at(odma.address, n * int(np.prod(outs.packed)))[:] = \
            _values_to_words(y, out_word, outs.dtype).reshape(-1)
        idma.regs[CTRL] = AP_DONE | AP_IDLE
        odma.regs[CTRL] = AP_DONE | AP_IDLE


def _field_offset(pe: int, simd: int, bits: int, p: int, s: int) -> int:
    """Bit offset (from the word's LSB) of PE lane ``p``, SIMD lane ``s`` in a memblock word:
    fields are stored most significant first with PE and SIMD order reversed."""
    field_from_msb = (pe - 1 - p) * simd + (simd - 1 - s)
    return (pe * simd - 1 - field_from_msb) * bits


def inject_weight_fault(deploy_dir: Union[str, Path]) -> str:
    """Flip one bit of one weight in the first MVAU's generated ``memblock.dat``, in place.

    The largest-magnitude weight of the first layer (it sees raw pixels); its sign bit, which moves
    it by half its datatype's span and keeps it in range (w > 0 becomes w - 2^(b-1) < 0, w < 0
    becomes w + 2^(b-1) > 0). How many images it reaches depends on the trained weights: 12 of the
    shipped model's 16 sample images (the bit below the sign: 6). Returns a description. Only ever
    call this on a copy of a package.
    """
    d = Path(deploy_dir)
    _, graph, _ = open_package(d)
    node = next((n for n in graph["nodes"] if n["op"] == "MVAU"), None)
    if node is None:
        raise HwsqueezeError(f"{d}: no MVAU layer to inject a weight fault into")
    a = node["attrs"]
    pe, simd, mw, mh = int(a["PE"]), int(a["SIMD"]), int(a["MW"]), int(a["MH"])
    path = inside(d, HW_DIR, node["name"], "memblock.dat")  # the name is a plain one (validate_graph)
    bits = dtype_bits(a["weightDataType"])[0]
    words = read_memblock_words(path, pe, simd, a["weightDataType"], mw * mh // (pe * simd))
    nf, sf = mh // pe, mw // simd
    # the largest weight of the layer's (output channel x input) matrix, first in that matrix's order:
    # the same weight whatever the folding (the memory words are (NF, SF, PE, SIMD))
    matrix = np.abs(words.reshape(nf, sf, pe, simd).transpose(0, 2, 1, 3).reshape(mh, mw))
    row, col = np.unravel_index(int(np.argmax(matrix)), matrix.shape)
    (n, p), (f, s) = divmod(int(row), pe), divmod(int(col), simd)
    w = n * sf + f
    bit = _field_offset(pe, simd, bits, int(p), int(s)) + bits - 1
    lines: Sequence[str] = [ln.strip() for ln in read_text(path, MAX_SOURCE_BYTES, "").split() if ln.strip()]
    lines = list(lines)
    lines[w] = format(int(lines[w], 16) ^ (1 << bit), "0%dx" % len(lines[w]))
    path.write_text("\n".join(lines) + "\n")
    return f"{node['name']}: memory word {w}, PE {p}, SIMD {s}, bit {bits - 1} (sign) flipped in {path.name}"
