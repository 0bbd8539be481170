"""The accelerator on a PYNQ board (or the emulated board), modelled on PYNQ's ``Overlay``.

``Accelerator(deploy_dir)`` loads the bitstream with pynq and drives FINN+'s Zynq IODMA
protocol exactly as ``finn_plus_driver`` does (register map and order: :mod:`hwsqueeze.deploy.iodma`):
pack the folded input into a cacheable DMA buffer, flush it, program the output DMA then the
input DMA, poll the output DMA's ap_done — with a timeout — invalidate the output buffer and unpack. ``Accelerator.emulated()`` runs
the same code against :class:`~hwsqueeze.runtime.emulator.EmulatedBoard`. numpy only; pynq is
imported only when a real board is used.
"""
from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from ..deploy import check_images, pack, read_meta, unpack
from ..deploy.files import inside, regular_file
from ..deploy.graph import open_package
from ..deploy.iodma import ADDR_HI, ADDR_LO, AP_DONE, AP_IDLE, AP_START, BATCH, CTRL
from ..errors import HwsqueezeError
from .finn_compat import FinnDriverNames

__all__ = ["Accelerator", "board_available", "MAX_BATCH_BYTES"]

MAX_BATCH_BYTES = 256 << 20  # one benchmark batch of images in memory (the PYNQ-Z2 has 512 MiB in all)
_MAX_BITFILE_BYTES = 256 << 20  # the largest Zynq UltraScale+ bitstream is ~30 MiB


def board_available() -> bool:
    """True when pynq is installed and finds a device (i.e. we run on a PYNQ board)."""
    try:
        import pynq  # noqa: F401
        from pynq import Device

        return len(Device.devices) > 0
    except Exception:  # no pynq, or pynq without a device ("No Devices Found")
        return False


def _address(buf) -> int:
    addr = getattr(buf, "device_address", None)
    return int(addr if addr is not None else buf.physical_address)


class Accelerator(FinnDriverNames):
    """``run(uint8 NHWC images) -> integer logits``; ``classify``; ``benchmark``; and
    finn-plus-driver's driver surface (``batch_size``, ``idt``, ``ishape_normal`` ...,
    ``execute``, ``throughput_test``: :mod:`.finn_compat`)."""

    def __init__(self, deploy_dir: Union[str, Path], *, batch_size: int = 1, max_batch: int = 256,
                 timeout_s: float = 10.0, _board=None) -> None:
        """``batch_size``: images per FINN-style ``execute``/``throughput_test`` (FINN's default 1);
        ``max_batch``: images per DMA transfer in ``run`` (any number of images, in chunks)."""
        self.deploy_dir = Path(deploy_dir)
        self.meta = open_package(self.deploy_dir)[0]  # the whole package validated, graph included
        if isinstance(max_batch, bool) or not (isinstance(max_batch, int) and max_batch > 0):
            raise HwsqueezeError(f"max_batch must be a positive integer, got {max_batch!r}")
        if not (isinstance(timeout_s, (int, float)) and 0 < timeout_s < float("inf")):
            raise HwsqueezeError(f"timeout_s must be a positive finite number of seconds, got {timeout_s!r}")
        ins, outs = self.meta.input, self.meta.output
        # the DMA buffers hold max_batch images: bounded in bytes whatever the package's port sizes
        per_image = int(np.prod(ins.packed)) + int(np.prod(outs.packed))
        self._max_images = max(1, MAX_BATCH_BYTES // per_image)
        self.timeout_s, self.max_batch = float(timeout_s), min(int(max_batch), self._max_images)
        self.batch_size = batch_size  # checked by the property (finn_compat)
        self.in_shape, self.out_shape = ins.normal, outs.normal
        self.scale = outs.scale
        if _board is None:
            self.target = "board"
            self._board, self._allocate = self._load_overlay()
        else:
            self.target = "emulated"
            self._board, self._allocate = _board, _board.allocate
        for key, name in (("input", ins.dma), ("output", outs.dma)):
            if name not in getattr(self._board, "ip_dict", {}):
                found = ", ".join(sorted(getattr(self._board, "ip_dict", {}))) or "none"
                raise HwsqueezeError(f"the overlay has no {key} DMA '{name}' (IP blocks found: {found}); "
                                     "is the bitstream from this deploy package?")
        self._idma, self._odma = getattr(self._board, ins.dma, None), getattr(self._board, outs.dma, None)
        for name, dma in ((ins.dma, self._idma), (outs.dma, self._odma)):
            if not (callable(getattr(dma, "read", None)) and callable(getattr(dma, "write", None))):
                raise HwsqueezeError(f"the overlay's '{name}' is not a DMA with registers; is the bitstream from "
                                     "this deploy package?")
        self._ibuf = self._obuf = None
        self._deadline = 0.0
        self.why = "real board (pynq overlay)" if self.target == "board" else "EMULATED board (asked for)"

    # ------------------------------------------------------------------ construction
    @classmethod
    def emulated(cls, deploy_dir: Union[str, Path], hang: bool = False, **kw) -> "Accelerator":
        """The same accelerator against the register-level emulated board."""
        from .emulator import EmulatedBoard

        return cls(deploy_dir, _board=EmulatedBoard(deploy_dir, hang=hang), **kw)

    @classmethod
    def open(cls, deploy_dir: Union[str, Path], emulated: Optional[bool] = None, **kw) -> "Accelerator":
        """The real board when pynq finds one and the package has a bitstream, else emulated;
        ``acc.why`` says which and why (and a board without a bitstream also warns)."""
        why = None
        if emulated is None:
            on_board, has_bit = board_available(), bool(read_meta(deploy_dir).bitfile)
            emulated = not (on_board and has_bit)
            if on_board and not has_bit:  # never fall back silently on a real board
                why = ("this deploy package has NO BITSTREAM (built without Vivado): running on the EMULATED "
                       "board, not the FPGA")
                warnings.warn(why, RuntimeWarning, stacklevel=2)
            elif not on_board:
                why = "no PYNQ board found (pynq missing or no device): EMULATED board"
        acc = cls.emulated(deploy_dir, **kw) if emulated else cls(deploy_dir, **kw)
        if why:
            acc.why = why
        return acc

    def _load_overlay(self):
        bit = self.meta.bitfile
        if not bit:
            raise HwsqueezeError("no bitstream in this deploy package (it was built without Vivado); "
                                 "build with vitis_hls + vivado on PATH, or use Accelerator.emulated()")
        for rel in (bit, self.meta.hwh):
            if rel:  # inside the package, a regular file of sane size: pynq reads whatever it is given
                regular_file(inside(self.deploy_dir, rel), _MAX_BITFILE_BYTES, f"{self.deploy_dir / rel} is missing")
        try:
            import pynq
        except ImportError:
            raise HwsqueezeError("pynq is not installed: a real board needs a PYNQ image "
                                 "(use Accelerator.emulated() on a host)") from None
        sibling = str(Path(bit).with_suffix(".hwh"))  # pynq reads the .hwh named after the .bit, whatever hwh says
        if (self.deploy_dir / sibling).exists() or (self.deploy_dir / sibling).is_symlink():
            regular_file(inside(self.deploy_dir, sibling), _MAX_BITFILE_BYTES, f"{self.deploy_dir / sibling} is missing")
        try:
            overlay = pynq.Overlay(str(inside(self.deploy_dir, bit)))
        except Exception as e:
            raise HwsqueezeError(f"cannot load the overlay {bit}: {type(e).__name__}: {e}") from None
        return overlay, pynq.allocate

    # ------------------------------------------------------------------ running
    def _check(self, images) -> np.ndarray:
        return check_images(images, self.in_shape, self.meta.input.dtype)

    def _buffers(self, n: int) -> None:
        if self._ibuf is not None and self._ibuf.shape[0] >= n:
            return
        self._free()
        cap = max(n, 1)
        # Cacheable, as finn-plus-driver allocates on zynq-iodma: the CPU packs and unpacks at cache
        # speed; the Zynq's caches are not coherent with the DMAs, so _copy_in flushes the input
        # before the device reads it and _copy_out invalidates the output after the device wrote it.
        self._ibuf = self._allocate(shape=(cap,) + self.meta.input.packed, dtype=np.uint8, cacheable=True)
        self._obuf = self._allocate(shape=(cap,) + self.meta.output.packed, dtype=np.uint8, cacheable=True)

    def _copy_in(self, packed: np.ndarray) -> None:
        """Packed input into the DMA buffer, then flushed: without the flush the IODMA reads stale DDR."""
        n = packed.shape[0]
        self._buffers(n)
        self._ibuf[:n] = packed
        self._ibuf.flush()

    def _start(self, n: int) -> None:
        """Program and start both IODMAs for ``n`` images (output first, as FINN's driver)."""
        odma_name = self.meta.output.dma
        if self._ibuf is None or self._ibuf.shape[0] < n:
            raise HwsqueezeError(f"the DMA buffers hold {0 if self._ibuf is None else self._ibuf.shape[0]} images, "
                                 f"not {n}: copy the input to the device first")
        if not self._odma.read(CTRL) & AP_IDLE:
            raise HwsqueezeError(f"output DMA {odma_name} is not idle (a previous run hung?)")
        for dma, buf in ((self._odma, self._obuf), (self._idma, self._ibuf)):
            addr = _address(buf)
            dma.write(ADDR_LO, addr & 0xFFFFFFFF)
            dma.write(ADDR_HI, (addr >> 32) & 0xFFFFFFFF)
            dma.write(BATCH, n)
            dma.write(CTRL, AP_START)
        self._deadline = time.perf_counter() + self.timeout_s

    def _wait(self) -> None:
        """Poll the output DMA's ap_done until the deadline set by :meth:`_start`."""
        while not self._odma.read(CTRL) & AP_DONE:
            if time.perf_counter() > self._deadline:
                raise HwsqueezeError(f"output DMA {self.meta.output.dma} did not finish within "
                                     f"{self.timeout_s:g} s (status 0x{self._odma.read(CTRL):x}); "
                                     "the accelerator is stuck: reload the overlay")

    def _copy_out(self, out: np.ndarray) -> None:
        """The first ``len(out)`` packed outputs into ``out``, after invalidating the CPU's cache
        lines: without it we read old output, not what the DMA wrote."""
        self._obuf.invalidate()
        np.copyto(out, self._obuf[:out.shape[0]])

    def _execute(self, packed: np.ndarray, times: Optional[Dict[str, float]] = None) -> np.ndarray:
        """One batch through the DMAs: the FINN Zynq IODMA protocol on packed buffers."""
        n = packed.shape[0]
        t0 = time.perf_counter()
        self._copy_in(packed)
        t1 = time.perf_counter()
        self._start(n)
        self._wait()
        t2 = time.perf_counter()
        out = np.empty((n,) + self.meta.output.packed, np.uint8)
        self._copy_out(out)
        t3 = time.perf_counter()
        if times is not None:
            for k, v in (("transfer_in", t1 - t0), ("compute", t2 - t1), ("transfer_out", t3 - t2)):
                times[k] = times.get(k, 0.0) + v
        return out

    def run(self, images, times: Optional[Dict[str, float]] = None) -> np.ndarray:
        """Integer outputs ``(N, *output shape)`` for uint8 NHWC ``images`` (any N: chunked)."""
        x = self._check(images)
        ins, outs = self.meta.input, self.meta.output
        results = []
        for i in range(0, x.shape[0], self.max_batch):
            chunk = x[i:i + self.max_batch]
            n = chunk.shape[0]
            t0 = time.perf_counter()
            packed = pack(chunk.reshape((n,) + ins.folded), ins.dtype)
            t1 = time.perf_counter()
            raw = self._execute(packed, times)
            t2 = time.perf_counter()
            y = unpack(raw, outs.dtype, (n,) + outs.folded)
            results.append(y.reshape((n,) + self.out_shape))
            if times is not None:
                times["pack"] = times.get("pack", 0.0) + t1 - t0
                times["unpack"] = times.get("unpack", 0.0) + time.perf_counter() - t2
        return np.concatenate(results)

    def classify(self, images, k: int = 5) -> Tuple[np.ndarray, np.ndarray]:
        """Top-``k`` class indices (N, k), best first, and their logits (integer x output scale)."""
        out = self.run(images).reshape(-1, int(np.prod(self.out_shape)))
        k = max(1, min(int(k), out.shape[1]))
        idx = np.argsort(-out, axis=1, kind="stable")[:, :k]
        return idx, np.take_along_axis(out, idx, axis=1) * self.scale

    def benchmark(self, batch_sizes: Sequence[int] = (1, 8, 64, 256), repeats: int = 5,
                  seed: int = 0) -> List[dict]:
        """Images/s and latency per batch size, with the time split (ms per batch):
        pack, transfer_in (copy + cache flush), compute (DMA start to ap_done), transfer_out
        (invalidate + copy), unpack. Median over ``repeats`` after one warm-up run."""
        per_image = int(np.prod(self.in_shape))
        for b in batch_sizes:  # all checked before any work: a bad last one wastes no time
            if isinstance(b, bool) or not isinstance(b, (int, np.integer)) or not 1 <= b <= MAX_BATCH_BYTES // per_image:
                raise HwsqueezeError(f"batch size must be an integer from 1 to {MAX_BATCH_BYTES // per_image} "
                                     f"(a {MAX_BATCH_BYTES >> 20} MiB batch of images), got {b!r}")
        rng = np.random.default_rng(seed)
        rows = []
        for b in batch_sizes:
            images = rng.integers(0, 256, (int(b),) + self.in_shape, dtype=np.uint8)
            self.run(images)  # warm-up: buffer allocation
            totals, splits = [], []
            for _ in range(max(1, repeats)):
                times: Dict[str, float] = {}
                t = time.perf_counter()
                self.run(images, times=times)
                totals.append(time.perf_counter() - t)
                splits.append(times)
            i = int(np.argsort(totals)[len(totals) // 2])
            rows.append({"batch": int(b), "fps": b / totals[i], "latency_ms": 1e3 * totals[i],
                         "split_ms": {k: 1e3 * splits[i].get(k, 0.0) for k in
                                      ("pack", "transfer_in", "compute", "transfer_out", "unpack")},
                         "target": self.target})
        return rows

    # ------------------------------------------------------------------ lifetime
    def _free(self) -> None:
        for buf in (self._ibuf, self._obuf):
            if buf is not None and hasattr(buf, "freebuffer"):
                buf.freebuffer()
        self._ibuf = self._obuf = None

    def close(self) -> None:
        """Free the DMA buffers."""
        self._free()

    def __enter__(self) -> "Accelerator":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
