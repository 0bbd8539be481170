"""The Vivado-gated build steps (hw_ipgen, fifo_depths, bitfile) through the real CLI, with
stand-in ``vitis_hls``/``vivado`` executables (tests/compile/xilinx_standin.py) that record and
check the TCL FINN+ hands them. Only CLI behaviour and the build folder's files are used."""
from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest
from helpers import run_cli

TINY = ("--model", "squeezenet-tiny-cifar10", "--target-fps", "2000")
STANDIN = Path(__file__).with_name("xilinx_standin.py")

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


@pytest.fixture(scope="module")
def with_standins(base, tmp_path_factory) -> dict:
    """``--from-step hw_ipgen`` with the stand-ins first on PATH, in a Vivado-shaped install folder
    (XILINX_VIVADO is derived from it: FINN reads the tool version from that path)."""
    out = base[0]
    tools = tmp_path_factory.mktemp("xilinx") / "Vivado" / "2024.2" / "bin"
    tools.mkdir(parents=True)
    for name in ("vitis_hls", "vivado"):
        (tools / name).write_text(f"#!{sys.executable}\n" + STANDIN.read_text())
        (tools / name).chmod(0o755)
    log = tools.parent / "calls.jsonl"
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("XILINX_VIVADO", raising=False)
        mp.setenv("PATH", f"{tools}{os.pathsep}{os.environ['PATH']}")
        mp.setenv("HWSQUEEZE_STANDIN_LOG", str(log))
        res = run_cli("build", *TINY, "--out", str(out), "--from-step", "hw_ipgen")
    calls = [json.loads(ln) for ln in log.read_text().splitlines()] if log.is_file() else []
    return {"res": res, "calls": calls, "out": out}


def _hls_layers(out: Path) -> list:
    from qonnx.core.modelwrapper import ModelWrapper

    (path,) = (out / "intermediate").glob("*_hw_codegen.onnx")
    return [n.name for n in ModelWrapper(str(path)).graph.node if n.domain.endswith(".hls")]


def test_without_tools_stops_with_one_line(base):
    out, res = base
    assert res.returncode == 0, res.stdout + res.stderr
    lines = [ln for ln in res.stdout.splitlines() if "no bitstream was built" in ln]
    assert len(lines) == 1 and "vitis_hls" in lines[0] and "vivado" in lines[0] and "--from-step hw_ipgen" in lines[0]
    assert json.loads((out / "build.json").read_text())["status"] == "no-bitstream"


def test_standin_vitis_hls_called_for_every_hls_layer(with_standins):
    out = with_standins["out"]
    hls = _hls_layers(out)
    calls = [c for c in with_standins["calls"] if c["tool"] == "vitis_hls"]
    called = sorted(Path(c["tcl"][0]).name for c in calls)
    assert len(hls) >= 10 and called == sorted(f"hls_syn_{n}.tcl" for n in hls)
    assert all(c["checked"] >= 2 for c in calls)  # the top-level .cpp and include folders were looked at


def test_build_then_fails_with_one_clear_line(with_standins):
    res = with_standins["res"]
    lines = [ln for ln in res.stderr.strip().splitlines() if ln.strip()]
    assert res.returncode != 0 and lines and lines[-1].startswith("error: "), res.stdout + res.stderr
    assert "Traceback" not in res.stderr
    print("final line:", lines[-1], "| stand-in calls:", {t: sum(c["tool"] == t for c in with_standins["calls"])
                                                          for t in ("vitis_hls", "vivado")})
    state = json.loads((with_standins["out"] / "build_state.json").read_text())
    assert "hw_ipgen" in state["timings_s"]  # the HLS step itself completed against the stand-ins
    assert not (with_standins["out"] / "build.json").exists()


def _problems(with_standins) -> list:
    return sorted({p for c in with_standins["calls"] for p in c["problems"]})


# A real finding, kept visible: FINN+'s HLS TCL adds -I<finn_deps>/finn-hlslib and
# -I<finn_deps>/attention-hlslib, which only `finn deps update` (internet) fetches; a plain
# `pip install finn-plus` has neither, so real Vitis HLS would fail on every layer here.
@pytest.mark.xfail(strict=True, reason="finn-hlslib / attention-hlslib are not installed (finn deps update)")
def test_tcl_needs_are_met(with_standins):
    """Every file the TCL reads and every ``$::env`` it uses exists here."""
    assert not _problems(with_standins)


def test_tcl_gaps_are_only_finn_deps(with_standins):
    """What is missing is exactly FINN's fetched dependencies: every env variable is set, every
    generated source exists."""
    import finn.util.settings as fsettings

    deps = fsettings.get_settings().finn_deps
    assert _problems(with_standins) == [f"include dir {deps / 'attention-hlslib'} missing",
                                        f"include dir {deps / 'finn-hlslib'} missing"]
