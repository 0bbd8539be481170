"""The ONLY module that touches FINN+'s process-wide state and its Vivado-absence quirks.

FINN+ 1.6.1 assumes it was started by its own ``finn`` CLI with Vivado sourced. To use its
transformations as a library on any machine we:

* point ``FINN_BUILD_DIR`` (FINN's tmp/codegen dir) and ``FINN_SETTINGS`` into the build
  directory, so nothing leaks into ``/tmp`` or ``~/.finn``;
* call ``initialize_dummy_settings()`` (FINN raises "Could not find global settings" otherwise);
* when ``XILINX_VIVADO`` is unset and ``vivado`` is on PATH: derive it from there (the install
  root, parent of ``bin/``);
* when Vivado is absent only: set ``XILINX_VIVADO`` to a placeholder path, because
  ``finn.builder.build_dataflow_steps`` does ``from finn.xsi import SimEngine`` at import time and
  ``finn.xsi`` refuses to load without it; and bind a stub ``SimEngine`` that raises a clear error
  if anything actually tries RTL simulation;
* set ``FINN_CUSTOM_HLS`` / ``FINN_RTLLIB`` (read by FINN's generated TCL) to the wheel's folders;
* import ``finn.custom_op.fpgadataflow.hls`` and ``.rtl`` so every HW op (including the base
  ``Reshape``, which is only registered by the rtl package) is known to qonnx, and register the
  project's own ``FireExpand``/``FireExpand_hls`` (``compile/fire``) next to them.

Nothing happens at import time; call :func:`activate` first.
"""
from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Optional

from ..errors import HwsqueezeError

__all__ = ["FinnEnv", "activate", "vivado_tools", "vivado_root", "versions"]

_PLACEHOLDER_VIVADO = "/nonexistent/Xilinx/Vivado/2024.2"  # version-shaped: finn parses it


@dataclass
class FinnEnv:
    """What :func:`activate` did, recorded in the build output."""

    build_dir: Path
    tools: Dict[str, Optional[str]]
    vivado_stubbed: bool
    env: Dict[str, str] = field(default_factory=dict)

    @property
    def has_vivado(self) -> bool:
        return bool(self.tools.get("vivado")) and bool(self.tools.get("vitis_hls"))

    def missing_tools(self) -> list:
        return [t for t in ("vitis_hls", "vivado") if not self.tools.get(t)]


def vivado_tools() -> Dict[str, Optional[str]]:
    """Absolute paths of the Xilinx tools the bitstream stages need (None when not on PATH)."""
    return {t: shutil.which(t) for t in ("vitis_hls", "vivado")}


def vivado_root(vivado: str) -> str:
    """Vivado's install root (what ``settings64.sh`` exports as XILINX_VIVADO): the parent of the
    ``bin/`` folder holding the real ``vivado`` (links resolved, e.g. /usr/local/bin/vivado)."""
    return str(Path(vivado).resolve().parent.parent)


class _NoSimEngine:
    """Stands in for finn.xsi.SimEngine without Vivado; only RTL simulation would call it."""

    def __init__(self, *a, **k) -> None:
        raise HwsqueezeError("RTL simulation needs Vivado's XSI (vivado not on PATH)")


def activate(build_dir: Path) -> FinnEnv:
    """Prepare FINN+ to run inside ``build_dir`` (idempotent; safe to call per build)."""
    build_dir = Path(build_dir).resolve()
    finn_tmp = build_dir / "finn_tmp"
    finn_tmp.mkdir(parents=True, exist_ok=True)
    tools = vivado_tools()
    env = {"FINN_BUILD_DIR": str(finn_tmp)}
    stubbed = False
    if not os.environ.get("XILINX_VIVADO"):
        if tools["vivado"]:
            env["XILINX_VIVADO"] = vivado_root(tools["vivado"])
        else:
            env["XILINX_VIVADO"] = _PLACEHOLDER_VIVADO
            stubbed = True
    try:
        import finn
        import finn.util.settings as fsettings
        import finn.xsi as fxsi
    except ImportError as e:  # pragma: no cover - environment problem
        raise HwsqueezeError(f"FINN+ is not installed ({e}); run `make venv`") from None
    # FINN+'s generated TCL reads these (its `finn` CLI sets them; the HLS TCL uses
    # $::env(FINN_CUSTOM_HLS) as an include folder). Both ship inside the wheel.
    pkg = Path(finn.__file__).parent
    for var, sub in (("FINN_CUSTOM_HLS", "custom_hls"), ("FINN_RTLLIB", "finn-rtllib")):
        if not os.environ.get(var):
            env[var] = str(pkg / sub)
    os.environ.update(env)
    if stubbed and "SimEngine" not in fxsi.__dict__:
        fxsi.SimEngine = _NoSimEngine  # type: ignore[attr-defined]
    fsettings.initialize_dummy_settings()
    settings = fsettings.get_settings()
    settings.finn_build_dir = finn_tmp
    # Register every HW custom op with qonnx (rtl also registers the base Reshape op).
    import finn.custom_op.fpgadataflow.hls  # noqa: F401
    import finn.custom_op.fpgadataflow.rtl  # noqa: F401

    from .fire import register  # the project's own HW layer (fused Fire expand)

    register()

    return FinnEnv(build_dir=build_dir, tools=tools, vivado_stubbed=stubbed, env=env)


def versions() -> Dict[str, str]:
    """Versions of the packages a build depends on, for the build record."""
    from importlib import metadata

    out = {"python": sys.version.split()[0]}
    for pkg in ("hwsqueeze", "finn-plus", "qonnx", "onnx", "numpy", "brevitas", "torch"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out
