"""The build end to end (a tiny Fire network to code generation + deploy package), the shipped
model to estimates, and the CLI's answers to bad input. No Vivado here: the build must stop
after the Vivado-free stages and say so."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from helpers import run_cli

from hwsqueeze.compile.pipeline import intermediate_path

TINY = ("--model", "squeezenet-tiny-cifar10")


def _one_error_line(res) -> str:
    lines = [ln for ln in res.stderr.strip().splitlines() if ln.strip()]
    assert res.returncode != 0 and lines, (res.stdout, res.stderr)
    assert lines[-1].startswith("error: "), res.stderr
    return lines[-1]


def _files(folder: Path) -> dict:
    """Every file under ``folder``: relative path -> its bytes' sha256."""
    import hashlib

    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _graph_form(path: Path) -> list:
    """The ONNX graph at ``path`` up to tensor names (FINN names some tensors at random, so equal
    builds write different bytes): per node its name, op, attributes, constant inputs, the node
    output each stream input comes from, and the datatypes of its inputs and outputs."""
    import onnx
    from onnx import numpy_helper

    g = onnx.load(str(path)).graph
    consts = {t.name: numpy_helper.to_array(t).tobytes() for t in g.initializer}
    made_by = {t: f"{n.name}:{i}" for n in g.node for i, t in enumerate(n.output)}
    dtypes = {a.tensor_name: sorted((p.key, p.value) for p in a.quant_parameter_tensor_names)
              for a in g.quantization_annotation}
    return [(n.name, n.op_type, n.domain, sorted(a.SerializeToString() for a in n.attribute),
             [(consts[t] if t in consts else made_by.get(t, "graph input"), dtypes.get(t)) for t in n.input],
             [dtypes.get(t) for t in n.output]) for n in g.node]


def _decided(build: Path) -> dict:
    """What a build decided up to its estimates: the steps it records as done, the estimate and
    folding files' bytes, every step's recorded inputs and output graph, and the state's checks,
    output scale, folding and estimate."""
    from hwsqueeze.compile.pipeline import step_names

    state = json.loads((build / "build_state.json").read_text())
    names = step_names()[: step_names().index("estimates") + 1]
    return {"recorded": list(state["steps"]),  # no step of an earlier design may stay on record
            "files": {f: (build / f).read_bytes() for f in ("estimates.json", "estimates.md", "folding_config.json")},
            "steps": {n: (state["steps"][n]["inputs"], _graph_form(build / state["steps"][n]["output"])) for n in names},
            **{k: state[k] for k in ("board", "source", "checks", "output", "folding", "estimate", "resources")}}


def _fresh(tmp_path: Path, *args: str) -> Path:
    """A fresh build with ``args`` into a new folder (the truth a resumed build must equal)."""
    out = tmp_path / "fresh"
    res = run_cli("build", *args, "--out", str(out))
    assert res.returncode == 0, res.stdout + res.stderr
    return out


@pytest.fixture(scope="module")
def tiny_build(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tiny") / "build"
    res = run_cli("build", *TINY, "--board", "pynq-z2", "--target-fps", "2000", "--out", str(out))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "no bitstream was built" in res.stdout and "vitis_hls" in res.stdout
    return out


def test_tiny_build_outputs(tiny_build: Path):
    from hwsqueeze.compile.pipeline import step_names

    summary = json.loads((tiny_build / "build.json").read_text())
    assert summary["status"] == "no-bitstream"
    saved = sorted(p.name for p in (tiny_build / "intermediate").glob("*.onnx"))
    names = step_names()
    for i, name in enumerate(names[: names.index("deploy") + 1]):
        assert f"{i:02d}_{name}.onnx" in saved
    # 8 verification images (VERIFY_N); the tiny random net has no threshold ties: every stage
    # reproduces every image exactly, and each stage ran its check
    for stage in ("qonnx_to_finn", "streamline", "lower_to_nhwc", "convert_to_hw", "minimize_bit_width"):
        assert summary["checks"][stage]["n"] == 8 and summary["checks"][stage]["exact"] == 8, stage
    # every finished step recorded its provenance and the hash of the file it wrote
    import hashlib

    rec = summary["steps"]["folding"]
    assert rec["inputs"]["board"].startswith("pynq-z2 (xc7z020clg400-1, 100 MHz)")
    assert rec["output_sha256"] == hashlib.sha256((tiny_build / rec["output"]).read_bytes()).hexdigest()
    est = json.loads((tiny_build / "estimates.json").read_text())
    for key in ("fps", "latency_ms", "clock_mhz", "totals", "budget", "fits", "layers"):
        assert key in est
    for key in ("lut", "bram18", "dsp"):
        assert key in est["totals"] and key in est["budget"]
    assert est["budget"]["lut"] == 53200 and est["fits"]
    # the frame rate by FINN's own cycle count of the folded graph, not the build's own figure
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.custom_op.registry import getCustomOp

    from hwsqueeze.compile.pipeline import intermediate_path

    graph = ModelWrapper(str(intermediate_path(tiny_build, "estimates")))
    slowest = max(getCustomOp(n).get_exp_cycles() for n in graph.graph.node)
    assert slowest <= 100e6 / 2000 and est["fps"] == pytest.approx(100e6 / slowest, abs=0.06)
    assert {"name", "op", "folding", "cycles", "lut", "bram18", "dsp"} <= set(est["layers"][0])
    assert (tiny_build / "estimates.md").is_file() and (tiny_build / "estimates.png").stat().st_size > 10_000
    # generated sources: HLS C++ for MVAUs, Verilog for RTL layers
    assert list((tiny_build / "hw").glob("MVAU_hls_*/top_MVAU_hls_*.cpp"))
    assert list((tiny_build / "hw").glob("*_rtl_*/*.v"))
    deploy = tiny_build / "deploy"
    meta = json.loads((deploy / "deploy.json").read_text())
    assert meta["bitfile"] is None and meta["input"]["dtype"] == "UINT8"
    assert meta["input"]["shape_normal"] == [1, 32, 32, 3] and meta["output"]["shape_normal"] == [1, 10]
    assert meta["provenance"]["board"].startswith("pynq-z2")
    assert meta["output"]["dtype"].startswith("INT") and meta["output"]["scale"] > 0
    assert (deploy / "reference" / "graph.json").is_file() and (deploy / "hwsqueeze" / "runtime").is_dir()
    assert not [p.name for p in tiny_build.iterdir() if ".tmp" in p.name]
    # the only thing left on the CPU is named: the float output scale
    assert summary["cpu_ops"] and {op.split()[0] for op in summary["cpu_ops"]} <= {"Mul", "Transpose", "Reshape"}


def test_require_bitstream_without_vivado_fails(tiny_build: Path, tmp_path: Path):
    if shutil.which("vivado") and shutil.which("vitis_hls"):
        pytest.skip("Vivado is installed here")
    work = tmp_path / "b"
    shutil.copytree(tiny_build, work)
    before = _files(work)
    res = run_cli("build", *TINY, "--target-fps", "2000", "--out", str(work), "--from-step", "hw_ipgen",
                  "--require-bitstream")
    assert res.returncode == 4
    line = _one_error_line(res)
    assert "no bitstream was built" in line and "vitis_hls" in line and "provenance" not in res.stdout
    assert not (work / "build.json").exists()  # a failed build does not claim success
    # and leaves what the earlier build made as it was: only the log and the record of this attempt differ
    after = _files(work)
    assert set(before) - set(after) == {"build.json"} and set(after) <= set(before)
    assert {f for f in after if after[f] != before[f]} == {"build.log", "build_config.json"}
    assert json.loads((work / "build_config.json").read_text())["require_bitstream"] is True


def test_resume_from_step(tiny_build: Path, tmp_path: Path):
    work = tmp_path / "b"
    shutil.copytree(tiny_build, work)
    res = run_cli("build", *TINY, "--target-fps", "2000", "--out", str(work), "--from-step", "estimates")
    assert res.returncode == 0, res.stderr
    assert "[09] estimates" in res.stdout and "[08]" not in res.stdout and "provenance" not in res.stdout
    # the resumed build's results are the fresh build's: same estimate, same reports, same package
    for f in ("estimates.json", "estimates.md", "deploy/deploy.json"):
        assert (work / f).read_bytes() == (tiny_build / f).read_bytes(), f


def test_resume_with_another_board_rebuilds_from_the_board_steps(tiny_build: Path, tmp_path: Path):
    """Resuming an earlier pynq-z2 build for the zcu104 must not relabel the pynq-z2 design."""
    import yaml

    work = tmp_path / "b"
    shutil.copytree(tiny_build, work)
    res = run_cli("build", *TINY, "--board", "zcu104", "--target-fps", "2000", "--out", str(work),
                  "--from-step", "estimates", "--estimate-only")
    assert res.returncode == 0, res.stderr
    assert "board changed" in res.stdout and "rebuilding from step 'specialize_layers'" in res.stdout
    assert "[06] specialize_layers" in res.stdout and "[05]" not in res.stdout
    zcu = yaml.safe_load((Path(__file__).resolve().parents[2] / "boards" / "zcu104.yaml").read_text())
    est = json.loads((work / "estimates.json").read_text())
    assert est["budget"]["lut"] == zcu["resources"]["lut"]
    state = json.loads((work / "build_state.json").read_text())
    assert state["board"] == "zcu104" and state["steps"]["folding"]["inputs"]["board"].startswith("zcu104")
    # the resumed build decided what a fresh zcu104 build decides: folding, estimates, checks, every step's output
    assert _decided(work) == _decided(_fresh(tmp_path, *TINY, "--board", "zcu104", "--target-fps", "2000",
                                             "--estimate-only"))


def test_resume_with_another_model_starts_over_cleanly(tiny_build: Path, tmp_path: Path):
    """A changed source rebuilds from 'export', and nothing the earlier build decided (its output
    scale, checks, folding) leaks into the checks of the new one."""
    import torch

    from hwsqueeze.export import export_qonnx
    from hwsqueeze.models import create

    torch.manual_seed(1)  # not the seed --model builds use
    onnx = tmp_path / "other.onnx"
    export_qonnx(create("squeezenet-tiny-cifar10", "w4a4").eval(), onnx)
    work = tmp_path / "b"
    shutil.copytree(tiny_build, work)
    res = run_cli("build", "--onnx", str(onnx), "--target-fps", "2000", "--out", str(work), "--from-step",
                  "estimates", "--stop-step", "estimates")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "source changed" in res.stdout and "rebuilding from step 'export'" in res.stdout
    state = json.loads((work / "build_state.json").read_text())
    assert state["source"]["onnx"] == str(onnx) and state["checks"]["convert_to_hw"]["exact"] == 8
    # everything the resumed build decided is what a fresh build of the other model decides, its
    # verification images and logits included
    fresh = _fresh(tmp_path, "--onnx", str(onnx), "--target-fps", "2000", "--stop-step", "estimates")
    assert _decided(work) == _decided(fresh)
    for f in ("input.npy", "expected_logits.npy", "streamline_logits.npy"):
        assert (work / "verify" / f).read_bytes() == (fresh / "verify" / f).read_bytes(), f


def test_resume_with_other_folding_options_refolds(tiny_build: Path, tmp_path: Path):
    work = tmp_path / "b"
    shutil.copytree(tiny_build, work)
    res = run_cli("build", *TINY, "--target-fps", "500", "--out", str(work), "--from-step", "estimates",
                  "--estimate-only")
    assert res.returncode == 0, res.stderr
    assert "folding changed" in res.stdout and "[07] folding" in res.stdout and "[06]" not in res.stdout
    assert _decided(work) == _decided(_fresh(tmp_path, *TINY, "--target-fps", "500", "--estimate-only"))
    assert (work / "folding_config.json").read_bytes() != (tiny_build / "folding_config.json").read_bytes()  # not 2,000's


def test_resume_refuses_a_modified_intermediate(tiny_build: Path, tmp_path: Path):
    work = tmp_path / "b"
    shutil.copytree(tiny_build, work)
    path = intermediate_path(work, "minimize_bit_width")
    with open(path, "ab") as f:
        f.write(b"\0")
    before = _files(work)
    res = run_cli("build", *TINY, "--target-fps", "2000", "--out", str(work), "--from-step", "estimates")
    line = _one_error_line(res)
    assert f"{path.name} changed after step 'minimize_bit_width' wrote it" in line
    assert _files(work) == before  # refused before touching anything, the log included


def test_build_refuses_a_foreign_folder(tmp_path: Path):
    mine = tmp_path / "mine"
    (mine / "hw").mkdir(parents=True)
    (mine / "hw" / "notes.txt").write_text("my notes")
    res = run_cli("build", *TINY, "--out", str(mine), "--estimate-only")
    assert "is not empty and holds no earlier hwsqueeze build" in _one_error_line(res)
    assert (mine / "hw" / "notes.txt").read_text() == "my notes" and sorted(p.name for p in mine.iterdir()) == ["hw"]


@pytest.mark.slow
def test_default_model_estimates(built_deploy: Path):
    """The shipped model on the default board fits, at the frame rate FINN's own cycle count of the
    folded graph gives. (Read from the session's default build, which runs every estimate step;
    --estimate-only itself is tested on the tiny model. The old floor of 1,000 FPS is gone since the
    estimates count the threshold comparators and storage: the default design is 763 FPS.)"""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.custom_op.registry import getCustomOp

    from hwsqueeze.compile.pipeline import intermediate_path

    build = built_deploy.parent
    est = json.loads((build / "estimates.json").read_text())
    graph = ModelWrapper(str(intermediate_path(build, "estimates")))
    slowest = max(getCustomOp(n).get_exp_cycles() for n in graph.graph.node)
    assert est["board"] == "pynq-z2" and est["fits"] and est["fps"] == pytest.approx(100e6 / slowest, abs=0.06)
    for kind in ("lut", "bram18"):  # "fits": LUT and BRAM within the margin, DSPs within the board
        assert est["totals"][kind] <= est["margin"] * est["budget"][kind], kind
    assert est["totals"]["dsp"] <= est["budget"]["dsp"]
    assert all(e["comparator_lut"] > 0 for e in est["layers"] if e["op"] == "MVAU_hls")  # all have thresholds


def test_boards_listing():
    res = run_cli("boards")
    assert res.returncode == 0
    for name in ("pynq-z2", "pynq-z1", "ultra96-v2", "zcu104", "kv260"):
        assert name in res.stdout


@pytest.mark.parametrize("args,needle", [
    (("--board", "pynq-z9"), "unknown board 'pynq-z9' (known: kv260 (KV260_SOM), pynq-z1 (Pynq-Z1), pynq-z2"),
    (("--checkpoint", "/nonexistent/model.pt"), "checkpoint not found"),
    (("--target-fps", "fast"), "--target-fps must be a number"),
    (("--target-fps", "-5"), "--target-fps must be a positive finite number"),
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
    assert not (tmp_path / "b").exists() or _files(tmp_path / "b") == {}  # nothing written
