"""finn-plus-driver's driver surface on our Accelerator, for FINN users' notebooks and scripts.

``FINNDMAOverlay`` (finn-plus-driver 1.6.1, ``overlays/dma.py``) is built from the package's
``driver/settings.json``; so is this: ``idt()``/``odt()`` return a qonnx-like
:class:`~hwsqueeze.deploy.datatypes.DataType`, the six shape accessors give settings.json's shapes
with the batch dimension = ``batch_size`` (default 1, settable, as FINN's), ``execute`` takes
exactly ``ishape_normal()`` and returns FINN's float32 ``oshape_normal()`` (e.g. ``(1, 1, 1, 10)``),
and ``throughput_test`` measures FINN's keys the way FINN does, plus ``"target"`` ("board" or
"emulated"). The steps (``fold_input`` ... ``unfold_output``) are FINN's names for the
Accelerator's own DMA code, so both surfaces drive the hardware the same way. numpy only.
"""
from __future__ import annotations

import time
from typing import Dict, List, Optional, Tuple, Union

import numpy as np

from ..deploy import pack, unpack
from ..deploy.datatypes import DataType
from ..deploy.finn_settings import FinnPort, FinnSettings, read_finn_settings
from ..errors import HwsqueezeError

__all__ = ["FinnDriverNames"]


class FinnDriverNames:
    """Mixin for :class:`~hwsqueeze.runtime.Accelerator`: needs its ``deploy_dir``, ``meta``,
    ``target``, ``_max_images`` and DMA steps ``_buffers``, ``_copy_in``, ``_start``, ``_wait``,
    ``_copy_out``."""

    _finn: Optional[FinnSettings] = None
    _batch_size = 1

    # ------------------------------------------------------------------ what settings.json says
    @property
    def finn_settings(self) -> FinnSettings:
        """``driver/settings.json``, read once and checked against ``deploy.json``'s streams."""
        if self._finn is None:
            s = read_finn_settings(self.deploy_dir)
            for side, theirs, ours in (("input", s.input, self.meta.input), ("output", s.output, self.meta.output)):
                if (theirs.dma, theirs.dtype, theirs.shape_folded, theirs.shape_packed) != \
                        (ours.dma, ours.dtype, ours.shape_folded, ours.shape_packed):
                    raise HwsqueezeError(f"{self.deploy_dir}: driver/settings.json's {side} ({theirs.dtype} "
                                         f"{list(theirs.shape_folded)} via {theirs.dma}) is not deploy.json's "
                                         f"({ours.dtype} {list(ours.shape_folded)} via {ours.dma}); rebuild the package")
            self._finn = s
        return self._finn

    def _port(self, side: str, ind: int) -> FinnPort:
        if ind != 0:
            raise HwsqueezeError(f"this accelerator has one input and one output: ind must be 0, got {ind!r}")
        return self.finn_settings.input if side == "i" else self.finn_settings.output

    @property
    def batch_size(self) -> int:
        """Images per ``execute``/``throughput_test``: the batch dimension of every FINN shape."""
        return self._batch_size

    @batch_size.setter
    def batch_size(self, value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 1 <= value <= self._max_images:
            raise HwsqueezeError(f"batch_size must be an integer from 1 to {self._max_images} (what the DMA buffers "
                                 f"may hold), got {value!r}")
        self._batch_size = int(value)

    @property
    def num_inputs(self) -> int:
        return 1

    @property
    def num_outputs(self) -> int:
        return 1

    def idt(self, ind: int = 0) -> DataType:
        """Input datatype, e.g. ``UINT8`` (``.bitwidth()``, ``.min()``, ... as qonnx's)."""
        return DataType(self._port("i", ind).dtype)

    def odt(self, ind: int = 0) -> DataType:
        """Output datatype, e.g. ``INT21``."""
        return DataType(self._port("o", ind).dtype)

    def _batched(self, side: str, kind: str, ind: int) -> Tuple[int, ...]:
        return (self.batch_size,) + getattr(self._port(side, ind), "shape_" + kind)[1:]

    def ishape_normal(self, ind: int = 0) -> Tuple[int, ...]:
        return self._batched("i", "normal", ind)

    def oshape_normal(self, ind: int = 0) -> Tuple[int, ...]:
        return self._batched("o", "normal", ind)

    def ishape_folded(self, ind: int = 0) -> Tuple[int, ...]:
        return self._batched("i", "folded", ind)

    def oshape_folded(self, ind: int = 0) -> Tuple[int, ...]:
        return self._batched("o", "folded", ind)

    def ishape_packed(self, ind: int = 0) -> Tuple[int, ...]:
        return self._batched("i", "packed", ind)

    def oshape_packed(self, ind: int = 0) -> Tuple[int, ...]:
        return self._batched("o", "packed", ind)

    # ------------------------------------------------------------------ FINN's steps
    def fold_input(self, ibuf_normal: np.ndarray, ind: int = 0) -> np.ndarray:
        """``ishape_normal()`` -> ``ishape_folded()``; any other shape is refused, as by FINN's driver."""
        x = np.asarray(ibuf_normal)
        want = self.ishape_normal(ind)
        if x.shape != want:
            hint = (f"set batch_size = {x.shape[0]} first, or " if len(x.shape) == len(want) and x.shape[1:] == want[1:]
                    else "")
            raise HwsqueezeError(f"execute takes input of shape ishape_normal() = {want} (batch_size "
                                 f"{self.batch_size}), got {x.shape}: {hint}use run() for any number of images")
        return x.reshape(self.ishape_folded(ind))

    def pack_input(self, ibuf_folded: np.ndarray, ind: int = 0) -> np.ndarray:
        """Folded values -> DMA bytes (FINN's packing, byte for byte); whole numbers in any numeric
        dtype are accepted, as FINN's float32 containers."""
        dt = self.idt(ind)
        x = np.asarray(ibuf_folded)
        if x.dtype.kind == "f" and x.size and not (np.isfinite(x).all() and (np.round(x) == x).all()):
            raise HwsqueezeError(f"input values must be whole numbers of {dt}, got fractional or non-finite floats")
        if x.dtype.kind not in "iuf":
            raise HwsqueezeError(f"input values must be numbers of {dt}, got dtype {x.dtype}")
        return pack(x.astype(np.int64) if x.dtype.kind == "f" else x, dt.name)

    def copy_input_data_to_device(self, data: np.ndarray, ind: int = 0) -> None:
        """Packed input (``ishape_packed()``) into the DMA buffer, flushed from the CPU cache."""
        if tuple(np.shape(data)) != self.ishape_packed(ind):
            raise HwsqueezeError(f"packed input must have shape ishape_packed() = {self.ishape_packed(ind)}, "
                                 f"got {tuple(np.shape(data))}")
        self._copy_in(np.asarray(data, dtype=np.uint8))

    def execute_on_buffers(self, asynch: bool = False, batch_size: Optional[int] = None) -> None:
        """Start the DMAs on what the buffers hold (``batch_size`` images, at most the driver's);
        ``asynch=True`` returns at once: then call :meth:`wait_until_finished`."""
        n = self.batch_size if batch_size is None else batch_size
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= self.batch_size:
            raise HwsqueezeError(f"execute_on_buffers: batch_size must be from 1 to the driver's {self.batch_size}, "
                                 f"got {n!r}")
        self._buffers(self.batch_size)
        self._start(int(n))
        if not asynch:
            self.wait_until_finished()

    def wait_until_finished(self) -> None:
        """Block until the output DMA is done (or the Accelerator's ``timeout_s`` passes: one error line)."""
        self._wait()

    def copy_output_data_from_device(self, data: np.ndarray, ind: int = 0) -> None:
        """The packed output (``oshape_packed()``) into ``data``, after invalidating the CPU cache."""
        self._port("o", ind)
        if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.shape != self.oshape_packed(ind):
            raise HwsqueezeError(f"the output buffer must be a uint8 array of shape oshape_packed() = "
                                 f"{self.oshape_packed(ind)}")
        self._buffers(self.batch_size)
        self._copy_out(data)

    def unpack_output(self, obuf_packed: np.ndarray, ind: int = 0) -> np.ndarray:
        """DMA bytes -> ``oshape_folded()`` values in FINN's float32 container."""
        return unpack(obuf_packed, self.odt(ind).name, self.oshape_folded(ind)).astype(np.float32)

    def unfold_output(self, obuf_folded: np.ndarray, ind: int = 0) -> np.ndarray:
        """``oshape_folded()`` -> ``oshape_normal()``."""
        return np.asarray(obuf_folded).reshape(self.oshape_normal(ind))

    def execute(self, input_npy: Union[np.ndarray, List[np.ndarray]]) -> np.ndarray:
        """FINN's ``execute``: exactly ``ishape_normal()`` in, ``oshape_normal()`` float32 out
        (``run()`` takes any number of images and returns integers)."""
        if isinstance(input_npy, list):  # FINN: a list holds one array per accelerator input
            if len(input_npy) != self.num_inputs:
                raise HwsqueezeError(f"execute got a list of {len(input_npy)} inputs; the accelerator has one "
                                     "(pass the array itself)")
            input_npy = input_npy[0]
        self.copy_input_data_to_device(self.pack_input(self.fold_input(input_npy)))
        self.execute_on_buffers()
        obuf = np.empty(self.oshape_packed(), np.uint8)
        self.copy_output_data_from_device(obuf)
        return self.unfold_output(self.unpack_output(obuf))

    def throughput_test(self) -> Dict[str, object]:
        """FINN's ``throughput_test``, step by step as FINN measures it (one run of each, on
        ``batch_size`` images), plus ``"target"``. ``fclk[mhz]`` is None on the emulated board:
        it has no FPGA clock, and its times are the host CPU's."""
        self._buffers(self.batch_size)
        res: Dict[str, object] = {}
        t = time.perf_counter()
        self.execute_on_buffers()  # what the buffers hold, as FINN
        runtime = time.perf_counter() - t
        n = self.batch_size
        res["runtime[ms]"] = 1e3 * runtime
        res["throughput[images/s]"] = n / runtime
        res["DRAM_in_bandwidth[MB/s]"] = int(np.prod(self.ishape_packed())) * 1e-6 / runtime
        res["DRAM_out_bandwidth[MB/s]"] = int(np.prod(self.oshape_packed())) * 1e-6 / runtime
        res["fclk[mhz]"] = self._fclk_mhz()
        res["batch_size"] = n
        dt = self.idt()
        rng = np.random.default_rng()
        x = (2 * rng.integers(0, 2, self.ishape_normal()) - 1 if dt.name == "BIPOLAR"
             else rng.integers(dt.min(), dt.max() + 1, self.ishape_normal()))
        x = x.astype(np.result_type(np.min_scalar_type(dt.min()), np.min_scalar_type(dt.max())))

        def timed(key: str, step, arg):
            t0 = time.perf_counter()
            out = step(arg)
            res[key] = 1e3 * (time.perf_counter() - t0)
            return out

        obuf = np.empty(self.oshape_packed(), np.uint8)
        packed = timed("pack_input[ms]", self.pack_input, timed("fold_input[ms]", self.fold_input, x))
        timed("copy_input_data_to_device[ms]", self.copy_input_data_to_device, packed)
        timed("copy_output_data_from_device[ms]", self.copy_output_data_from_device, obuf)
        timed("unfold_output[ms]", self.unfold_output, timed("unpack_output[ms]", self.unpack_output, obuf))
        res["target"] = self.target
        return res

    def _fclk_mhz(self) -> Optional[float]:
        if self.target != "board":
            return None  # the emulated board has no FPGA clock
        try:
            from pynq.ps import Clocks

            return float(Clocks.fclk0_mhz)
        except Exception:  # not a Zynq PS (or pynq without it): the design clock
            return float(self.meta.clock_mhz)
