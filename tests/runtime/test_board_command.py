"""The board-side command (`python3 -m hwsqueeze.runtime ...`, run from inside a deploy package
as on a PYNQ board) and finn-plus-driver's names on the Accelerator."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(scope="module")
def package(built_deploy, tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("board") / "deploy"
    shutil.copytree(built_deploy, d, ignore=shutil.ignore_patterns("notebooks"))
    return d


def _board_cmd(package: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hwsqueeze.runtime", *args], cwd=package, capture_output=True,
                          text=True, timeout=600)


def test_verify_command(package):
    res = _board_cmd(package, "verify", "--n", "4")
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0].startswith("running on: EMULATED (no PYNQ board found")  # says so in its first line
    assert "4 sample images: 0 mismatches vs the reference, 0 vs FINN+'s outputs" in res.stdout


def test_verify_command_fails_on_a_corrupted_package(package, tmp_path):
    bad = tmp_path / "deploy"
    shutil.copytree(package, bad)
    mem = bad / "hw" / "MVAU_hls_0" / "memblock.dat"
    lines = mem.read_text().split()
    lines[0] = format(int(lines[0], 16) ^ (1 << 6), "0%dx" % len(lines[0]))
    mem.write_text("\n".join(lines) + "\n")
    res = _board_cmd(bad, "verify", "--n", "4")
    assert res.returncode == 5 and re.search(r"[1-4] mismatches vs the reference", res.stdout), res.stdout


def test_classify_command(package, tmp_path):
    from PIL import Image

    from hwsqueeze.reference import Reference

    img = np.load(package / "samples" / "images.npy")[3]
    Image.fromarray(img).save(tmp_path / "x.png")
    res = _board_cmd(package, "classify", str(tmp_path / "x.png"), "--k", "3")
    assert res.returncode == 0, res.stderr
    meta = json.loads((package / "deploy.json").read_text())
    names = meta["classes"] or [str(i) for i in range(10)]
    want = names[int(Reference.from_deploy(package).run(img[None]).argmax())]
    line = [ln for ln in res.stdout.splitlines() if ln.startswith(str(tmp_path))][0]
    assert line.split(": ", 1)[1].split(" ")[0] == want and line.count(",") == 2
    res = _board_cmd(package, "classify", str(tmp_path / "missing.png"))
    assert res.returncode == 2 and res.stderr.strip().startswith("error:") and "Traceback" not in res.stderr


def test_finn_driver_names(built_deploy, finn_driver):
    """Same keys as finn-plus-driver's own throughput_test (read from its source), and its shape
    accessors' convention (batch dimension = batch_size)."""
    import inspect

    from hwsqueeze.runtime import Accelerator

    finn_keys = set(re.findall(r'res\["([^"%]+)"\]', inspect.getsource(finn_driver.throughput_test)))
    with Accelerator.emulated(built_deploy, max_batch=2) as acc:
        res = acc.throughput_test()
        assert set(res) == finn_keys
        assert res["batch_size"] == 2 and res["throughput[images/s]"] > 0
        meta = json.loads((built_deploy / "deploy.json").read_text())
        assert acc.ishape_packed() == (2, *meta["input"]["shape_packed"][1:])
        assert acc.oshape_normal() == (2, *meta["output"]["shape_normal"][1:]) and acc.idt() == "UINT8"
        x = np.load(built_deploy / "samples" / "images.npy")[:2]
        np.testing.assert_array_equal(acc.execute(x), acc.run(x))
