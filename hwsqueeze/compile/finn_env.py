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
* point ``FINN_DEPS`` (finn-hlslib, board files, nlohmann-json: what ``finn deps update`` fetches)
  at hwsqueeze's deps cache when ``hwsqueeze deps fetch`` filled it and the user set no FINN_DEPS;
* with real tools: ``XILINX_HLS`` from ``vitis_hls``/``vitis-run`` on PATH when unset, and
  ``LD_LIBRARY_PATH`` for the simulator libraries by FINN+'s own rule (subprocesses only: ld.so
  reads it at process start, which is why FINN's CLI re-executes itself);
* import ``finn.custom_op.fpgadataflow.hls`` and ``.rtl`` so every HW op (including the base
  ``Reshape``, which is only registered by the rtl package) is known to qonnx, and register the
  project's own ``FireExpand``/``FireExpand_hls`` (``compile/fire``) next to them.

Nothing happens at import time; call :func:`activate` first.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Optional

from ..deps.manifest import installed_root
from ..errors import HwsqueezeError

__all__ = ["FinnEnv", "activate", "vivado_tools", "vivado_root", "versions", "source_digest", "ensure_xsi", "HLS_TOOLS"]

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
        return not self.missing_tools()

    def missing_tools(self) -> list:
        hls = any(self.tools.get(t) for t in HLS_TOOLS)
        return ([] if hls else ["vitis_hls"]) + ([] if self.tools.get("vivado") else ["vivado"])


# FINN+ runs `vitis_hls` up to Vivado 2024.2 and `vitis-run --mode hls` after (finn/util/hls.py).
HLS_TOOLS = ("vitis_hls", "vitis-run")


def vivado_tools() -> Dict[str, Optional[str]]:
    """Absolute paths of the Xilinx tools the bitstream stages need (None when not on PATH)."""
    return {t: shutil.which(t) for t in HLS_TOOLS + ("vivado",)}


def vivado_root(vivado: str) -> str:
    """Vivado's install root (what ``settings64.sh`` exports as XILINX_VIVADO): the parent of the
    ``bin/`` folder holding the real ``vivado`` (links resolved, e.g. /usr/local/bin/vivado)."""
    return str(Path(vivado).resolve().parent.parent)


class _NoSimEngine:
    """Stands in for finn.xsi.SimEngine without Vivado; only RTL simulation would call it."""

    def __init__(self, *a, **k) -> None:
        raise HwsqueezeError("RTL simulation needs Vivado's XSI, which is not available here (see `hwsqueeze doctor`)")


def activate(build_dir: Path) -> FinnEnv:
    """Prepare FINN+ to run inside ``build_dir`` (idempotent; safe to call per build)."""
    build_dir = Path(build_dir).resolve()
    finn_tmp = build_dir / "finn_tmp"
    finn_tmp.mkdir(parents=True, exist_ok=True)
    tools = vivado_tools()
    env = {"FINN_BUILD_DIR": str(finn_tmp)}
    stubbed = False
    # our own placeholder from an earlier call counts as unset (else a second call would take it
    # for a real install and put its nonexistent lib folder on LD_LIBRARY_PATH)
    if os.environ.get("XILINX_VIVADO", "") in ("", _PLACEHOLDER_VIVADO):
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
    deps = installed_root()
    if deps is not None and not os.environ.get("FINN_DEPS"):
        env["FINN_DEPS"] = str(deps)  # read by FINN's settings (finn_deps) and passed to its workers
    hls_tool = next((tools[t] for t in HLS_TOOLS if tools.get(t)), None)
    if hls_tool and not os.environ.get("XILINX_HLS"):
        env["XILINX_HLS"] = vivado_root(hls_tool)
    os.environ.update(env)
    if not stubbed:
        from finn.interface.run_finn import prepend_ld_library_paths, xilinx_ld_library_paths

        prepend_ld_library_paths(xilinx_ld_library_paths())
        env["LD_LIBRARY_PATH"] = os.environ.get("LD_LIBRARY_PATH", "")
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


def ensure_xsi() -> Optional[str]:
    """Make FINN+'s XSI (Vivado's simulator interface, needed for simulation-based FIFO sizing)
    available as FINN's CLI does at boot (``finn.xsi.ensure_available``: builds it once with
    Vivado). Returns None when it is, else the reason; then a stand-in ``SimEngine`` that raises
    a clear error is bound, so FINN's builder module (which imports SimEngine at import time)
    still loads and the flows that need no simulator run."""
    import finn.xsi as fxsi

    if "SimEngine" in fxsi.__dict__ and fxsi.SimEngine is _NoSimEngine:
        return "XSI not available (vivado not on PATH)"
    try:
        fxsi.ensure_available()
        return None
    except Exception as e:  # FINN raises FINNUserError / OSError; any failure means: no simulator
        fxsi.SimEngine = _NoSimEngine  # type: ignore[attr-defined]
        return (str(e).splitlines() or [f"XSI not available ({type(e).__name__})"])[0][:200]


def source_digest(*roots: Path) -> str:
    """sha256 (16 hex digits) of every file under ``roots`` by relative path and content, less
    caches and checkpoints (a checkpoint is the build's own ``source`` key)."""
    h = hashlib.sha256()
    for root in roots:
        for f in sorted(p for p in Path(root).rglob("*") if p.is_file()):
            rel = f.relative_to(root)
            if "__pycache__" in rel.parts or f.suffix in (".pyc", ".pt"):
                continue
            h.update(f"{root.name}/{rel.as_posix()}\0".encode())
            h.update(hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()[:16]


def versions() -> Dict[str, str]:
    """Versions of the packages a build depends on, for the build record; ``hwsqueeze-source``
    is a digest of our own code (the version string stays 0.1.0 across changes), so a resumed
    build reruns when a transform, a step or an HLS template changed."""
    from importlib import metadata

    from ..resources import resource_dir

    pkg = Path(__file__).resolve().parent.parent
    out = {"python": sys.version.split()[0], "hwsqueeze-source": source_digest(pkg, resource_dir("hls"))}
    for pkg in ("hwsqueeze", "finn-plus", "qonnx", "onnx", "numpy", "brevitas", "torch"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out
