"""A ``--standalone-thresholds`` package (RTL thresholding layers, RTL MVUs) on the emulated board: it
carries the thresholding layers' generated memories, and the emulated board, computing them from those
files (runtime/hwthresh.py), is bit-exact against the reference and FINN+'s own execution."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from helpers import run_cli


@pytest.fixture(scope="module")
def package(standalone_build) -> Path:
    return standalone_build / "deploy"


def _thresholding_nodes(package: Path):
    graph = json.loads((package / "reference" / "graph.json").read_text())
    return [n for n in graph["nodes"] if n["op_type"] == "Thresholding_rtl"]


def test_the_package_carries_every_threshold_memory(package):
    """hw/<layer>/ holds the generated top and, per PE lane and binary-search stage, the memory its
    $readmemh loads (clog2(numSteps + 1) stages)."""
    nodes = _thresholding_nodes(package)
    assert len(nodes) >= 7
    for node in nodes:
        name, a = node["name"], node["attrs"]
        stages = int(a["numSteps"]).bit_length()
        want = {f"{name}_threshs_{pe}_{s}.dat" for pe in range(a["PE"]) for s in range(stages)}
        have = {p.name for p in (package / "hw" / name).glob("*.dat")}
        assert want <= have and (package / "hw" / name / f"{name}.v").is_file(), (name, sorted(want - have))


def test_emulated_board_is_bit_exact(package):
    """Samples, random and extreme images (all 0, all 255): the emulated board against the reference;
    the samples also against FINN+'s execution of the HW graph recorded at build time."""
    from hwsqueeze.reference import Reference
    from hwsqueeze.runtime import Accelerator

    samples = np.load(package / "samples" / "images.npy")
    rng = np.random.default_rng(1)
    h, w, c = samples.shape[1:]
    extreme = np.concatenate([rng.integers(0, 256, (3, h, w, c), dtype=np.uint8),
                              np.zeros((1, h, w, c), np.uint8), np.full((1, h, w, c), 255, np.uint8)])
    acc, ref = Accelerator.emulated(package), Reference.from_deploy(package)
    try:
        for images in (samples, extreme):
            hw = np.asarray(acc.run(images))
            np.testing.assert_array_equal(hw, np.asarray(ref.run(images)))
            assert len(np.unique(hw.reshape(len(hw), -1), axis=0)) > 1  # not one constant answer
        np.testing.assert_array_equal(np.asarray(acc.run(samples)).reshape(len(samples), -1),
                                      np.load(package / "samples" / "expected_outputs.npy").reshape(len(samples), -1))
    finally:
        acc.close()


def _verify(package: Path, *args: str) -> dict:
    res = run_cli("verify", "--deploy", str(package), "--emulated", "--json", *args, timeout=300)
    assert res.returncode in (0, 5), res.stdout + res.stderr
    return json.loads(res.stdout)


def test_verify_emulated_on_the_samples_and_injected_fault(package):
    out = _verify(package)
    assert out["n"] == 16 and out["mismatches"] == 0 and out["target"] == "emulated"
    out = _verify(package, "--inject-fault")  # a weight of the first RTL MVU
    assert out["fault_injected"].startswith("MVAU_rtl_0") and out["mismatches"] >= 8


@pytest.mark.cifar
def test_verify_emulated_on_cifar10_test_images(package, cifar_archive):
    out = _verify(package, "--data", str(cifar_archive), "--n", "200")
    assert out["n"] == 200 and out["mismatches"] == 0 and out["classes_covered"] == 10


def test_a_changed_threshold_memory_is_caught(package, tmp_path):
    """Meta-test: in a copy, the first thresholding layer's channel-0 first-stage threshold (the binary
    search's middle one, which every input of that channel meets) set to the WT-bit minimum, i.e. every
    value passes it: the emulated board no longer agrees with the reference."""
    copy = tmp_path / "deploy"
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("notebooks", "tests", "__pycache__"))
    name = _thresholding_nodes(copy)[0]["name"]
    mem = copy / "hw" / name / f"{name}_threshs_0_0.dat"
    words = mem.read_text().split()
    bits = int((copy / "hw" / name / f"{name}.v").read_text().split("parameter  WT = ")[1].split(",")[0])
    mem.write_text("\n".join([format(1 << (bits - 1), "0%dx" % len(words[0]))] + words[1:]) + "\n")
    out = _verify(copy)
    assert out["mismatches"] >= 8, out
