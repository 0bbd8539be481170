"""The build end to end (a tiny Fire network to code generation + deploy package), the shipped
model to estimates, and the CLI's answers to bad input. No Vivado here: the build must stop
after the Vivado-free stages and say so."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from helpers import run_cli

TINY = ("--model", "squeezenet-tiny-cifar10")


def _one_error_line(res) -> str:
    lines = [ln for ln in res.stderr.strip().splitlines() if ln.strip()]
    assert res.returncode != 0 and lines, (res.stdout, res.stderr)
    assert lines[-1].startswith("error: "), res.stderr
    return lines[-1]


@pytest.fixture(scope="module")
def tiny_build(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tiny") / "build"
    res = run_cli("build", *TINY, "--board", "pynq-z2", "--target-fps", "2000", "--out", str(out))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "no bitstream was built" in res.stdout and "vitis_hls" in res.stdout
    return out


def test_tiny_build_outputs(tiny_build: Path):
    from hwsqueeze.compile.steps import step_names

    summary = json.loads((tiny_build / "build.json").read_text())
    assert summary["status"] == "no-bitstream"
    saved = sorted(p.name for p in (tiny_build / "intermediate").glob("*.onnx"))
    names = step_names()
    for i, name in enumerate(names[: names.index("deploy") + 1]):
        assert f"{i:02d}_{name}.onnx" in saved
    for stage in ("qonnx_to_finn", "streamline", "lower_to_nhwc", "convert_to_hw", "minimize_bit_width"):
        assert summary["checks"][stage]["matching"] >= summary["checks"][stage]["required"]
    est = json.loads((tiny_build / "estimates.json").read_text())
    for key in ("fps", "latency_ms", "clock_mhz", "totals", "budget", "fits", "layers"):
        assert key in est
    for key in ("lut", "bram18", "dsp"):
        assert key in est["totals"] and key in est["budget"]
    assert est["budget"]["lut"] == 53200 and est["fits"] and est["fps"] >= 2000
    assert {"name", "op", "folding", "cycles", "lut", "bram18", "dsp"} <= set(est["layers"][0])
    assert (tiny_build / "estimates.md").is_file() and (tiny_build / "estimates.png").stat().st_size > 10_000
    # generated sources: HLS C++ for MVAUs, Verilog for RTL layers
    assert list((tiny_build / "hw").glob("MVAU_hls_*/top_MVAU_hls_*.cpp"))
    assert list((tiny_build / "hw").glob("*_rtl_*/*.v"))
    deploy = tiny_build / "deploy"
    meta = json.loads((deploy / "deploy.json").read_text())
    assert meta["bitfile"] is None and meta["input"]["dtype"] == "UINT8"
    assert meta["input"]["shape_normal"] == [1, 32, 32, 3] and meta["output"]["shape_normal"] == [1, 10]
    assert meta["output"]["dtype"].startswith("INT") and meta["output"]["scale"] > 0
    assert (deploy / "reference" / "graph.json").is_file() and (deploy / "hwsqueeze" / "runtime").is_dir()
    assert not (tiny_build / "deploy.tmp").exists()
    # the only thing left on the CPU is named: the float output scale
    assert all(op.split()[0] in ("Mul", "Transpose", "Reshape") for op in summary["cpu_ops"])


def test_require_bitstream_without_vivado_fails(tiny_build: Path):
    if shutil.which("vivado") and shutil.which("vitis_hls"):
        pytest.skip("Vivado is installed here")
    res = run_cli("build", *TINY, "--out", str(tiny_build), "--from-step", "hw_ipgen", "--require-bitstream")
    assert res.returncode == 4
    line = _one_error_line(res)
    assert "no bitstream was built" in line and "vitis_hls" in line
    assert not (tiny_build / "build.json").exists()  # a failed build does not claim success


def test_resume_from_step(tiny_build: Path, tmp_path: Path):
    work = tmp_path / "b"
    shutil.copytree(tiny_build, work)
    res = run_cli("build", *TINY, "--target-fps", "2000", "--out", str(work), "--from-step", "estimates")
    assert res.returncode == 0, res.stderr
    assert "[09] estimates" in res.stdout and "[08]" not in res.stdout


@pytest.mark.slow
def test_default_model_estimates(tmp_path: Path):
    """The shipped model on the default board: >= 1,000 FPS (the issue's floor) and it fits."""
    res = run_cli("build", "--board", "pynq-z2", "--estimate-only", "--out", str(tmp_path))
    assert res.returncode == 0, res.stdout + res.stderr
    est = json.loads((tmp_path / "estimates.json").read_text())
    assert est["fits"] and est["fps"] >= 1000
    summary = json.loads((tmp_path / "build.json").read_text())
    assert summary["status"] == "estimate-only" and not (tmp_path / "deploy").exists()


def test_boards_listing():
    res = run_cli("boards")
    assert res.returncode == 0
    for name in ("pynq-z2", "pynq-z1", "ultra96-v2", "zcu104", "kv260"):
        assert name in res.stdout


@pytest.mark.parametrize("args,needle", [
    (("--board", "pynq-z9"), "unknown board 'pynq-z9' (known: kv260, pynq-z1, pynq-z2"),
    (("--checkpoint", "/nonexistent/model.pt"), "checkpoint not found"),
    (("--target-fps", "fast"), "--target-fps must be a number"),
    (("--target-fps", "-5"), "--target-fps must be positive"),
    (("--from-step", "nosuchstep"), "unknown step 'nosuchstep'"),
])
def test_bad_build_arguments(tmp_path: Path, args, needle):
    res = run_cli("build", *args, "--out", str(tmp_path / "b"))
    assert needle in _one_error_line(res)
    assert not (tmp_path / "b" / "build.json").exists()


def test_corrupt_onnx(tmp_path: Path):
    bad = tmp_path / "model.onnx"
    bad.write_bytes(b"\x08\x07garbage that is not a protobuf" * 10)
    res = run_cli("build", "--onnx", str(bad), "--out", str(tmp_path / "b"))
    assert "is not a valid ONNX model" in _one_error_line(res)
    assert not (tmp_path / "b" / "build.json").exists()


def test_impossible_target_fps(tmp_path: Path):
    res = run_cli("build", *TINY, "--target-fps", "1e9", "--out", str(tmp_path / "b"))
    assert res.returncode == 3
    assert "target 1,000,000,000 FPS is impossible" in _one_error_line(res)
    assert not (tmp_path / "b" / "build.json").exists()


def test_resume_without_earlier_build(tmp_path: Path):
    res = run_cli("build", *TINY, "--out", str(tmp_path / "b"), "--from-step", "folding")
    assert "no earlier build" in _one_error_line(res)
