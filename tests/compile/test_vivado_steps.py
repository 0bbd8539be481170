"""The Vivado-gated build steps (hw_ipgen, fifo_depths, bitfile) through the real CLI, with
stand-in ``vitis_hls``/``vivado`` executables (tests/compile/xilinx_standin.py) that check the TCL
FINN+ hands them (env variables set, files present, includes resolved, IP and board repositories
there) and fail as the real tool would when something is missing. Only CLI behaviour, the build
folder's files and the stand-ins' records are used."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import pytest
from helpers import run_cli

TINY = ("--model", "squeezenet-tiny-cifar10", "--target-fps", "2000")
STANDIN = Path(__file__).with_name("xilinx_standin.py")
VENDOR = Path(os.environ.get("HWSQUEEZE_HLSLIB_TARBALL",
                             Path(__file__).resolve().parents[3] / "shared" / "vendor" / "finn-hlslib-0141fa8.tar.gz"))

pytestmark = [pytest.mark.slow, pytest.mark.skipif(bool(shutil.which("vivado") or shutil.which("vitis_hls")),
                                reason="real Xilinx tools on PATH")]


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> tuple:
    """A build without the tools: it stops after the Vivado-free stages with a one-line message."""
    out = tmp_path_factory.mktemp("viv") / "b"
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("XILINX_VIVADO", raising=False)  # as a user's shell has it: unset
        res = run_cli("build", *TINY, "--out", str(out))
    return out, res


def _tools(root: Path) -> Path:
    """Stand-ins in a Vivado-shaped install folder (FINN reads the tool version from that path)."""
    tools = root / "Vivado" / "2024.2" / "bin"
    tools.mkdir(parents=True)
    for name in ("vitis_hls", "vivado"):
        (tools / name).write_text(f"#!{sys.executable}\n" + STANDIN.read_text())
        (tools / name).chmod(0o755)
    return tools


def _resume_with_standins(out: Path, root: Path, cache: Path) -> dict:
    """``--from-step hw_ipgen`` with the stand-ins first on PATH and ``cache`` as HWSQUEEZE_CACHE."""
    tools, log = _tools(root), root / "calls.jsonl"
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("XILINX_VIVADO", raising=False)
        mp.delenv("FINN_DEPS", raising=False)
        mp.setenv("HWSQUEEZE_CACHE", str(cache))
        mp.setenv("PATH", f"{tools}{os.pathsep}{os.environ['PATH']}")
        mp.setenv("HWSQUEEZE_STANDIN_LOG", str(log))
        res = run_cli("build", *TINY, "--out", str(out), "--from-step", "hw_ipgen")
    calls = [json.loads(ln) for ln in log.read_text().splitlines()] if log.is_file() else []
    return {"res": res, "calls": calls, "out": out}


@pytest.fixture(scope="module")
def with_standins(base, tmp_path_factory) -> dict:
    """The tools but none of FINN's fetched dependencies (an empty deps cache)."""
    root = tmp_path_factory.mktemp("xilinx")
    return _resume_with_standins(base[0], root, root / "empty-cache")


def _board_zip(folder: Path) -> Path:
    """A test-made stand-in for the PYNQ-Z2 board-file download (pynq-z2.zip: pynq-z2/A.0/board.xml);
    it proves only that the files land where FINN's Zynq TCL looks, not that they are the real ones."""
    with zipfile.ZipFile(folder / "pynq-z2.zip", "w") as zf:
        zf.writestr("pynq-z2/A.0/board.xml", '<board name="pynq-z2" vendor="tul.com.tw"/>\n')
    return folder / "pynq-z2.zip"


@pytest.fixture(scope="module")
def with_deps(base, with_standins, tmp_path_factory) -> dict:
    """Deps installed by `hwsqueeze deps fetch --from DIR` (finn-hlslib: the vendored tarball; PYNQ-Z2
    board files: a test-made zip), then the same resume with the stand-ins."""
    if not VENDOR.is_file():
        pytest.skip(f"vendored finn-hlslib tarball not found at {VENDOR} (set HWSQUEEZE_HLSLIB_TARBALL)")
    root = tmp_path_factory.mktemp("xilinx-deps")
    src = root / "from"
    src.mkdir()
    shutil.copy(VENDOR, src / VENDOR.name)
    _board_zip(src)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HWSQUEEZE_CACHE", str(root / "cache"))
        fetched = run_cli("deps", "fetch", "--from", str(src), "finn-hlslib", "pynq-z2")
    assert fetched.returncode == 0, fetched.stderr
    return {**_resume_with_standins(base[0], root, root / "cache"), "cache": root / "cache"}


def _hls_layers(out: Path) -> list:
    from qonnx.core.modelwrapper import ModelWrapper

    (path,) = (out / "intermediate").glob("*_hw_codegen.onnx")
    return [n.name for n in ModelWrapper(str(path)).graph.node if n.domain.endswith(".hls")]


def _problems(run: dict) -> list:
    return sorted({p for c in run["calls"] for p in c["problems"]})


def _last_error(res) -> str:
    lines = [ln for ln in res.stderr.strip().splitlines() if ln.strip()]
    assert res.returncode != 0 and lines and lines[-1].startswith("error: "), res.stdout + res.stderr
    assert "Traceback" not in res.stderr
    return lines[-1]


def test_without_tools_stops_with_one_line(base):
    out, res = base
    assert res.returncode == 0, res.stdout + res.stderr
    lines = [ln for ln in res.stdout.splitlines() if "no bitstream was built" in ln]
    assert len(lines) == 1 and "vitis_hls" in lines[0] and "vivado" in lines[0] and "--from-step hw_ipgen" in lines[0]
    assert json.loads((out / "build.json").read_text())["status"] == "no-bitstream"


def test_without_deps_hls_fails_on_finn_hlslib(with_standins):
    """No finn-hlslib: every HLS layer's top-level C++ includes headers nobody provides, so the
    stand-in vitis_hls fails like the real one, and the build stops at hw_ipgen with one line."""
    last = _last_error(with_standins["res"])
    assert "hw_ipgen" in last, last
    calls = [c for c in with_standins["calls"] if c["tool"] == "vitis_hls"]
    assert calls and all(c["problems"] for c in calls)
    assert '#include "bnn-library.h"' in " ".join(_problems(with_standins))
    assert not any(c["tool"] == "vivado" for c in with_standins["calls"])


def test_with_deps_every_hls_tcl_is_satisfied(with_deps):
    """With `deps fetch` the TCL of every HLS layer finds every file, include and env variable;
    attention-hlslib (not vendored here) is only a missing -I folder that no include needs."""
    out = with_deps["out"]
    calls = [c for c in with_deps["calls"] if c["tool"] == "vitis_hls"]
    called = {Path(c["tcl"][0]).name for c in calls}
    assert {f"hls_syn_{n}.tcl" for n in _hls_layers(out)} <= called and len(called) >= 10
    assert all(c["checked"] >= 10 for c in calls)  # the top .cpp and the finn-hlslib headers it pulls in
    assert _problems(with_deps) == []
    notes = {n for c in calls for n in c["notes"]}
    deps = with_deps["cache"] / "finn-deps" / metadata.version("finn-plus")  # FINN_DEPS = the deps cache
    assert notes == {f"include dir {deps / 'attention-hlslib'} missing"}


def test_with_deps_flow_reaches_zynq_build_vivado(with_deps):
    """Without XSI, FIFOs are inserted at the depths the graph requests (no simulation) and the flow
    reaches FINN's ZynqBuild: the stand-in vivado checks the stitched-IP and the Zynq-shell TCL (board
    files for the PYNQ-Z2 part, IP repositories, $::env variables) and the build then ends at FINN's
    own "no bitfile found": the stand-in never makes a bitstream."""
    res = with_deps["res"]
    # FINN+ wrote the old FINN_DEPS path into the HLS TCL at code generation: redone, and said so
    assert "provenance: finn_deps changed" in res.stdout and "rebuilding from step 'hw_codegen'" in res.stdout
    assert "not sized by simulation" in res.stdout
    vivado = [c for c in with_deps["calls"] if c["tool"] == "vivado"]
    tcls = [Path(c["tcl"][0]).name for c in vivado]
    assert "make_project.tcl" in tcls and tcls[-1] == "ip_config.tcl", tcls
    assert all(not c["problems"] for c in vivado) and vivado[-1]["checked"] >= 3
    assert "no bitfile found" in _last_error(res)
    assert not (with_deps["out"] / "deploy" / "bitfile").exists()


def _run_standin(tcl: Path, cwd: Path, log: Path, tool: str = "vivado") -> tuple:
    exe = cwd / tool
    exe.write_text(f"#!{sys.executable}\n" + STANDIN.read_text())
    exe.chmod(0o755)
    r = subprocess.run([str(exe), "-mode", "batch", "-source", str(tcl)], cwd=cwd, capture_output=True, text=True,
                       env={**os.environ, "HWSQUEEZE_STANDIN_LOG": str(log)})
    rec = json.loads(log.read_text().splitlines()[-1])
    return r.returncode, rec["problems"]


def test_standins_fail_on_what_is_missing(with_deps, tmp_path):
    """FINN's real TCL from the run above, with one thing taken away each time, makes the stand-ins
    fail naming it: the board files, finn-hlslib, a source file."""
    calls = with_deps["calls"]
    log = tmp_path / "log.jsonl"
    shell = Path(next(c for c in calls if c["tcl"][0].endswith("ip_config.tcl"))["cwd"]) / "ip_config.tcl"
    assert _run_standin(shell, tmp_path, log) == (0, [])  # as FINN wrote it: satisfied
    repo = re.search(r'lappend paths_param "([^"]+)"', shell.read_text()).group(1)
    empty = tmp_path / "no-boards"
    empty.mkdir()
    (tmp_path / "ip_config.tcl").write_text(shell.read_text().replace(repo, str(empty)))
    rc, problems = _run_standin(tmp_path / "ip_config.tcl", tmp_path, log)
    assert rc == 1 and problems == [f"board files for tul.com.tw:pynq-z2:part0:1.0 (BOARD Pynq-Z2) not found in "
                                    f"{[str(empty)]}"]
    hls = next(c for c in calls if "MVAU" in c["tcl"][0])
    text = (Path(hls["cwd"]) / hls["tcl"][0]).read_text()
    (tmp_path / "h.tcl").write_text(re.sub(r'set config_bnnlibdir "[^"]+"', f'set config_bnnlibdir "{empty}"', text))
    rc, problems = _run_standin(tmp_path / "h.tcl", tmp_path, log, tool="vitis_hls")
    assert rc == 1 and any('#include "bnn-library.h"' in p for p in problems)
    (tmp_path / "f.tcl").write_text("add_files -norecurse /nonexistent/top.v\n")
    assert _run_standin(tmp_path / "f.tcl", tmp_path, log) == (1, ["add_files /nonexistent/top.v: missing"])
