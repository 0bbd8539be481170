"""The register map of FINN+'s Zynq IODMA (``idma0``/``odma0``, AXI-lite), as the driver uses it.

Sequence (finn-plus-driver 1.6.1 ``FINNDMAOverlay.execute_on_buffers``, platform zynq-iodma):
check the output DMA is idle (CTRL & AP_IDLE), then for the output DMA and after it the input
DMA write the buffer address (ADDR_LO/ADDR_HI), the number of frames (BATCH) and AP_START to
CTRL; the run is over when the output DMA's CTRL shows AP_DONE.
"""
from __future__ import annotations

__all__ = ["CTRL", "ADDR_LO", "ADDR_HI", "BATCH", "AP_START", "AP_DONE", "AP_IDLE", "PLATFORM"]

PLATFORM = "zynq-iodma"

CTRL = 0x00  # control/status: bit 0 ap_start, bit 1 ap_done, bit 2 ap_idle
ADDR_LO = 0x10  # DDR address of the packed buffer, low 32 bits
ADDR_HI = 0x14  # ... high 32 bits
BATCH = 0x1C  # number of frames

AP_START = 0x1
AP_DONE = 0x2
AP_IDLE = 0x4
