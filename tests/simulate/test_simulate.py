"""The generated HLS C++ (cppsim) and RTL (Verilator) of a small build, bit-exact against FINN+'s
Python execution of the same HW graph; and meta-tests: a changed weight must be reported.

Cost: the tiny model builds in ~30 s; compiling its 15 HLS layers with g++ takes ~4 min on two
busy cores the first time (cached by content hash in HWSQUEEZE_SIM_CACHE, default a per-session
folder), the 10 RTL layers ~1 min in Verilator; the fault tests then recompile one layer each.
Set HWSQUEEZE_SIM_BUILD to reuse an existing tiny build.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("finn")


@pytest.fixture(scope="session")
def tiny_build(request) -> Path:
    env = os.environ.get("HWSQUEEZE_SIM_BUILD")
    if env:
        return Path(env)
    return request.getfixturevalue("tiny_default_build")  # tests/conftest.py: shared with tests/hw


@pytest.fixture(scope="session")
def sim_cache(tmp_path_factory) -> Path:
    return Path(os.environ.get("HWSQUEEZE_SIM_CACHE") or tmp_path_factory.mktemp("sim-cache"))


def _simulate(build: Path, cache: Path, **kw):
    from hwsqueeze.simulate.run import Options, simulate

    old = os.environ.get("HWSQUEEZE_SIM_CACHE")
    os.environ["HWSQUEEZE_SIM_CACHE"] = str(cache)
    try:
        return simulate(build, Options(progress=False, **kw))
    finally:  # the next test (or module) must not inherit this run's cache
        if old is None:
            del os.environ["HWSQUEEZE_SIM_CACHE"]
        else:
            os.environ["HWSQUEEZE_SIM_CACHE"] = old


@pytest.mark.slow
def test_every_hw_layer_and_the_network_bit_exact(tiny_build, sim_cache):
    from qonnx.core.modelwrapper import ModelWrapper

    from hwsqueeze.compile.pipeline import intermediate_path

    report = _simulate(tiny_build, sim_cache, images=2, layers="all", network=True)
    path = report.write(tiny_build / "simulation.json")
    data = json.loads(path.read_text())
    hw = [n for n in ModelWrapper(str(intermediate_path(tiny_build, "hw_codegen"))).graph.node]
    # one entry per HW layer, each simulated by the simulator of its backend
    assert [r["name"] for r in data["layers"]] == [n.name for n in hw]
    for r, n in zip(data["layers"], hw):
        assert r["backend"] == ("rtl" if n.op_type.endswith("_rtl") else "hls")
        assert r["simulator"] == ("verilator" if r["backend"] == "rtl" else "cppsim")
        assert r["images"] == 2 and r["bit_exact"], r
    assert {r["backend"] for r in data["layers"]} == {"hls", "rtl"}
    net = data["network"]
    assert net["simulator"] == "cppsim+verilator" and net["images"] == 2 and net["bit_exact"], net
    assert data["ok"] is True


@pytest.mark.slow
@pytest.mark.parametrize("layer", ["MVAU_hls_3", "MVAU_rtl_0"])
def test_a_changed_weight_is_not_bit_exact(tiny_build, sim_cache, layer):
    """Meta-test: one neuron's weights (HLS, in the simulators' graph) or one word of the weight
    memory file (RTL, in the copied sources) changed -> that layer and the network must fail."""
    report = _simulate(tiny_build, sim_cache, images=2, layers="hls" if layer.endswith("hls_3") else "rtl",
                       network=True, fault=layer)
    bad = {r.name for r in report.layers if not r.bit_exact}
    assert bad == {layer}
    assert not report.network.bit_exact
    assert not report.ok


def test_stream_order_matches_finns_depthwise_reordering():
    """layout.py against the reordering FINN's own depthwise SWG test applies (hand-built)."""
    from hwsqueeze.simulate.layout import python_to_stream_order

    oh, ow, k2, ch, simd = 2, 3, 4, 6, 2
    x = np.arange(oh * ow * k2 * ch, dtype=np.float32).reshape(1, oh, ow, k2 * ch)
    want = x.reshape(1, oh, ow, k2, ch // simd, simd).transpose(0, 1, 2, 4, 3, 5).reshape(x.shape)
    assert np.array_equal(python_to_stream_order(x, k2, ch, simd), want)
    # first pixel: channel fold 0 of every kernel position, then fold 1 ...
    assert x[0, 0, 0, [0, 1, 6, 7]].tolist() == python_to_stream_order(x, k2, ch, simd)[0, 0, 0, :4].tolist()


@pytest.mark.slow
def test_standalone_thresholds_rtl_layers_bit_exact(standalone_build, sim_cache):
    """FINN+'s thresholding.sv (threshold memories read from the generated .dat files) and the RTL MVUs
    of a standalone-threshold build, each in Verilator, equal FINN+'s Python execution of the node."""
    report = _simulate(standalone_build, sim_cache, images=1, layers="rtl", network=False)
    kinds = {r.name.rsplit("_", 1)[0] for r in report.layers if r.backend == "rtl"}
    assert {"Thresholding_rtl", "MVAU_rtl"} <= kinds
    assert all(r.images == 1 and r.bit_exact for r in report.layers if r.backend == "rtl"), report.layers


@pytest.mark.slow
def test_a_changed_threshold_is_not_bit_exact(standalone_build, sim_cache):
    """Meta-test: channel 0's first-stage threshold changed in the copied .dat file -> that layer fails."""
    report = _simulate(standalone_build, sim_cache, images=1, layers="rtl", network=False, fault="Thresholding_rtl_2")
    bad = [r for r in report.layers if not r.bit_exact]
    assert [r.name for r in bad] == ["Thresholding_rtl_2"] and "threshs_0_0.dat word 0" in bad[0].note, bad
