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
    assert stages["build steps export .. deploy (estimates, HLS/RTL code, deploy package)"] is True
    vivado_stage = "fifo_depths at the graph's rule depths (vivado, no simulator)"
    assert stages[vivado_stage] == bool(shutil.which("vivado"))
    text = run_cli("doctor")
    assert text.returncode == 0 and ("CANNOT   fifo_depths at" in text.stdout) == (not stages[vivado_stage])


def test_doctor_sees_xilinx_tools_on_path(tmp_path):
    for tool in ("vivado", "vitis_hls"):
        p = tmp_path / tool
        p.write_text("#!/bin/sh\necho '%s v2024.2 (64-bit)'\n" % tool)
        p.chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}"}
    env["HWSQUEEZE_CACHE"] = str(tmp_path / "cache")  # no deps fetched
    env.pop("FINN_DEPS", None)  # an earlier in-process build exported its own
    checks, stages = _doctor(env)
    assert checks["vivado"]["found"] and checks["vivado"]["version"] == "vivado v2024.2 (64-bit)"
    assert stages["fifo_depths at the graph's rule depths (vivado, no simulator)"] is True
    # the tools alone are not enough: HLS needs finn-hlslib, the PYNQ-Z2 shell its board files
    assert not checks["finn-hlslib"]["found"] and not checks["board files pynq-z2"]["found"]
    assert stages["hw_ipgen (vitis_hls or vitis-run, finn-hlslib in FINN_DEPS)"] is False
    assert stages["bitfile for pynq-z2 (vivado, its board files)"] is False
    assert stages["bitfile for zcu104 (vivado, its board files)"] is False  # no finn-hlslib for its HLS layers


def test_doctor_reports_fetched_deps(tmp_path):
    """After `deps fetch --from` with the vendored finn-hlslib: doctor says substitute, with the
    archive's real commit (git archive's header, read here with tarfile) and FINN+'s pin (its yaml)."""
    import tarfile

    import yaml
    from conftest import ROOT

    vendor = ROOT.parent / "shared" / "vendor" / "finn-hlslib-0141fa8.tar.gz"
    if not vendor.is_file():
        import pytest

        pytest.skip(f"vendored finn-hlslib not found at {vendor}")
    env = {**os.environ, "HWSQUEEZE_CACHE": str(tmp_path / "cache")}
    env.pop("FINN_DEPS", None)
    import subprocess
    import sys
    from pathlib import Path

    exe = Path(sys.executable).parent / "hwsqueeze"
    r = subprocess.run([str(exe), "deps", "fetch", "--from", str(vendor.parent), "finn-hlslib"], env=env,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    checks, _ = _doctor(env)
    commit = tarfile.open(vendor).pax_headers["comment"]
    import finn

    pin = yaml.safe_load((Path(finn.__file__).parent / "interface" / "external_dependencies.yaml").read_text())
    pin = pin["git_deps"]["finn-hlslib"]["commit"]
    v = checks["finn-hlslib"]["version"]
    assert v.startswith(f"SUBSTITUTE {commit[:12]}, not the pin {pin[:12]}"), v
