"""finn-plus-driver's names on our Accelerator, for FINN users' scripts and habits.

``FINNDMAOverlay`` (finn-plus-driver 1.6.1) offers ``execute(input)``, ``throughput_test()``,
``idt()``/``odt()`` and ``ishape_normal()`` ... ``oshape_packed()`` (batch dimension = the
driver's ``batch_size``). These mirror them on top of :class:`~hwsqueeze.runtime.Accelerator`,
with the same result keys, so a FINN notebook cell runs unchanged. numpy only.
"""
from __future__ import annotations

import time
from typing import Dict, Tuple

import numpy as np

__all__ = ["FinnDriverNames"]


class FinnDriverNames:
    """Mixin: needs ``meta`` (DeployMeta), ``max_batch``, ``run(images, times)`` and ``target``."""

    @property
    def batch_size(self) -> int:
        """Images per DMA transfer (FINN's driver: the buffers' batch size)."""
        return self.max_batch

    def _shape(self, spec_shape: Tuple[int, ...]) -> Tuple[int, ...]:
        return (self.batch_size,) + tuple(spec_shape[1:])

    def idt(self, ind: int = 0) -> str:
        """Input datatype name (FINN: a qonnx DataType; here its name, e.g. 'UINT8')."""
        return self.meta.input.dtype

    def odt(self, ind: int = 0) -> str:
        return self.meta.output.dtype

    def ishape_normal(self, ind: int = 0) -> Tuple[int, ...]:
        return self._shape(self.meta.input.shape_normal)

    def oshape_normal(self, ind: int = 0) -> Tuple[int, ...]:
        return self._shape(self.meta.output.shape_normal)

    def ishape_folded(self, ind: int = 0) -> Tuple[int, ...]:
        return self._shape(self.meta.input.shape_folded)

    def oshape_folded(self, ind: int = 0) -> Tuple[int, ...]:
        return self._shape(self.meta.output.shape_folded)

    def ishape_packed(self, ind: int = 0) -> Tuple[int, ...]:
        return self._shape(self.meta.input.shape_packed)

    def oshape_packed(self, ind: int = 0) -> Tuple[int, ...]:
        return self._shape(self.meta.output.shape_packed)

    def execute(self, input_npy: np.ndarray) -> np.ndarray:
        """FINN's ``execute``: normal-shaped input in, normal-shaped integer output out."""
        return self.run(input_npy)

    def throughput_test(self) -> Dict[str, float]:
        """FINN's ``throughput_test`` keys, measured on one batch of ``batch_size`` random images."""
        x = np.random.default_rng(0).integers(0, 256, self.ishape_normal(), dtype=np.uint8)
        self.run(x)  # allocate the buffers first, as FINN's driver does at construction
        times: Dict[str, float] = {}
        self.run(x, times=times)
        runtime = times["compute"]
        n = self.batch_size
        return {"runtime[ms]": 1e3 * runtime, "throughput[images/s]": n / runtime,
                "DRAM_in_bandwidth[MB/s]": int(np.prod(self.ishape_packed())) * 1e-6 / runtime,
                "DRAM_out_bandwidth[MB/s]": int(np.prod(self.oshape_packed())) * 1e-6 / runtime,
                "fclk[mhz]": self._fclk_mhz(), "batch_size": n,
                "fold_input[ms]": 0.0, "pack_input[ms]": 1e3 * times["pack"],
                "copy_input_data_to_device[ms]": 1e3 * times["transfer_in"],
                "copy_output_data_from_device[ms]": 1e3 * times["transfer_out"],
                "unpack_output[ms]": 1e3 * times["unpack"], "unfold_output[ms]": 0.0}

    def _fclk_mhz(self) -> float:
        if self.target == "board":
            try:
                from pynq.ps import Clocks

                return float(Clocks.fclk0_mhz)
            except Exception:  # not a Zynq PS (or pynq without it): the design clock
                pass
        return float(self.meta.clock_mhz)
