"""``hwsqueeze build --fuse-fire`` end to end on the tiny Fire network: every Fire expand fused, the
build's own checks (FINN+'s execution of the fused HW graph vs the streamlined model) pass, the
emulated board and the reference agree with FINN+'s recorded outputs, the written folding config
reads back; `hwsqueeze simulate` (cppsim) is bit-exact on the fused layers."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

pytest.importorskip("finn")


@pytest.fixture(scope="module")
def fused_build(tiny_fused_build) -> Path:
    return tiny_fused_build  # tests/conftest.py: built once per run, shared with tests/hw


@pytest.mark.slow
def test_fused_build_checks_and_emulated_board(fused_build: Path):
    from helpers import run_cli

    state = json.loads((fused_build / "build_state.json").read_text())
    assert state["checks"]["minimize_bit_width"]["exact"] == state["checks"]["minimize_bit_width"]["n"]
    graph = json.loads((fused_build / "deploy" / "reference" / "graph.json").read_text())
    ops = [n["op"] for n in graph["nodes"]]
    assert ops.count("FireExpand") == 2 and "DuplicateStreams" not in ops and "StreamingConcat" not in ops
    assert (fused_build / "hw" / "FireExpand_hls_0" / "fire_expand.hpp").is_file()
    res = run_cli("verify", "--deploy", str(fused_build / "deploy"), "--emulated", "--json")
    assert res.returncode == 0, res.stdout + res.stderr
    fold = json.loads((fused_build / "folding_config.json").read_text())
    assert {"PE1", "SIMD1", "PE3", "SIMD3", "OutPE"} <= set(fold["FireExpand_hls_0"])


@pytest.mark.slow
def test_folding_config_with_fused_layers_reads_back(fused_build: Path, tmp_path: Path):
    from helpers import run_cli

    cfg = json.loads((fused_build / "folding_config.json").read_text())
    cfg["FireExpand_hls_0"]["SIMD1"] = 3  # does not divide the 8 squeeze channels
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(cfg))
    res = run_cli("build", "--model", "squeezenet-tiny-cifar10", "--folding-config", str(bad), "--fuse-fire",
                  "--out", str(tmp_path / "b"), "--stop-step", "folding", "--quiet", timeout=600)
    assert res.returncode == 2 and "FireExpand_hls_0" in res.stderr and "SIMD1=3" in res.stderr, res.stderr


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("g++") is None, reason="g++ not installed")
def test_cppsim_of_the_fused_layers_bit_exact(fused_build: Path, tmp_path: Path, monkeypatch):
    """What `hwsqueeze simulate` does for every HLS layer, for the fused ones only (the MVAUs are
    covered by tests/simulate): FINN+'s cppsim vs FINN+'s Python execution of the build's HW graph."""
    import numpy as np
    from qonnx.core.modelwrapper import ModelWrapper

    from hwsqueeze.compile.finn_env import activate
    from hwsqueeze.simulate import cppsim
    from hwsqueeze.simulate.env import prepare
    from hwsqueeze.simulate.run import _python_context, hw_graph, load_images
    from hwsqueeze.compile.verify import generic_copy

    monkeypatch.setenv("HWSQUEEZE_SIM_CACHE", str(tmp_path / "sim"))
    activate(fused_build)
    sim = prepare(fused_build)
    model = ModelWrapper(str(hw_graph(fused_build)))
    names = [n.name for n in model.graph.node if n.op_type == "FireExpand_hls"][:1]  # ~1 min of g++ each
    compiled = cppsim.compile_layers(model, names, sim)
    assert all(c.folder is not None for c in compiled.values()), {k: c.error for k, c in compiled.items()}
    truth = generic_copy(ModelWrapper(str(hw_graph(fused_build))))
    for image in load_images(fused_build, model, 1)[0]:
        ctx = _python_context(truth, image)
        for n in (n for n in model.graph.node if n.name in names):
            out = cppsim.run_layer(model, n.name, ctx)
            np.testing.assert_array_equal(out[n.output[0]], ctx[n.output[0]])
