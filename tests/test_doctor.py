"""`hwsqueeze doctor` reports what is on this machine (checked against PATH and the installed
packages directly) and derives the stages that can run."""
from __future__ import annotations

import json
import os
import shutil
from importlib import metadata

from helpers import run_cli


def _doctor(env=None):
    import subprocess
    import sys
    from pathlib import Path

    exe = Path(sys.executable).parent / "hwsqueeze"
    res = subprocess.run([str(exe), "doctor", "--json"], capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    return {r["name"]: r for r in out["checks"]}, {s["stage"]: s["runs"] for s in out["stages"]}


def test_doctor_reports_this_machine():
    checks, stages = _doctor()
    assert checks["g++"]["found"] == (shutil.which("g++") is not None)
    assert checks["vivado"]["found"] == (shutil.which("vivado") is not None)
    assert checks["finn-plus"]["version"] == metadata.version("finn-plus")
    assert stages["build up to the deploy package (estimates, HLS/RTL code, emulated board)"] is True
    vivado_stage = "hw_ipgen, fifo_depths, bitfile (Vivado)"
    assert stages[vivado_stage] == bool(shutil.which("vivado") and shutil.which("vitis_hls"))
    text = run_cli("doctor")
    assert text.returncode == 0 and ("CANNOT   hw_ipgen" in text.stdout) == (not stages[vivado_stage])


def test_doctor_sees_xilinx_tools_on_path(tmp_path):
    for tool in ("vivado", "vitis_hls"):
        p = tmp_path / tool
        p.write_text("#!/bin/sh\necho '%s v2024.2 (64-bit)'\n" % tool)
        p.chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}"}
    checks, stages = _doctor(env)
    assert checks["vivado"]["found"] and checks["vivado"]["version"] == "vivado v2024.2 (64-bit)"
    assert stages["hw_ipgen, fifo_depths, bitfile (Vivado)"] is True
