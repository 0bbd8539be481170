"""finn-plus-driver (FINN+'s own PYNQ driver) as an independent reference for the runtime tests."""
from __future__ import annotations

import sys
import types

import pytest


@pytest.fixture
def finn_driver(monkeypatch):
    """finn-plus-driver 1.6.1's ``FINNDMAOverlay`` class, importable on a host: pynq (which it
    imports at module level, but the methods we call never use) is replaced by a stub."""
    pynq = types.ModuleType("pynq")
    pynq.Overlay, pynq.Bitstream, pynq.allocate = object, object, None
    ps = types.ModuleType("pynq.ps")
    ps.Clocks = object
    monkeypatch.setitem(sys.modules, "pynq", pynq)
    monkeypatch.setitem(sys.modules, "pynq.ps", ps)
    for name in [m for m in sys.modules if m.startswith("finn_plus_driver")]:
        monkeypatch.delitem(sys.modules, name)
    from finn_plus_driver.overlays.dma import FINNDMAOverlay

    return FINNDMAOverlay
