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
    """Same keys as finn-plus-driver's own throughput_test (read from its source) plus "target",
    fold/unfold measured, and FINN's shapes from driver/settings.json (batch dimension = batch_size).
    tests/runtime/test_finn_driver.py compares values with FINN's driver running."""
    import inspect

    from hwsqueeze.runtime import Accelerator

    finn_keys = set(re.findall(r'res\["([^"%]+)"\]', inspect.getsource(finn_driver.throughput_test)))
    io = json.loads((built_deploy / "driver" / "settings.json").read_text())["driver_information"]["io_shape_dict"]
    with Accelerator.emulated(built_deploy) as acc:
        assert acc.batch_size == 1 and acc.idt().bitwidth() == 8 and acc.idt() == "UINT8"  # FINN's default batch
        assert acc.oshape_normal() == tuple(io["oshape_normal"][0]) and acc.odt().name in io["odt"][0]
        acc.batch_size = 2
        res = acc.throughput_test()
        assert set(res) == finn_keys | {"target"} and res["target"] == "emulated" and res["fclk[mhz]"] is None
        assert res["batch_size"] == 2 and res["throughput[images/s]"] > 0
        assert res["fold_input[ms]"] > 0 and res["unfold_output[ms]"] > 0
        assert acc.ishape_packed() == (2, *io["ishape_packed"][0][1:])
        x = np.load(built_deploy / "samples" / "images.npy")[:2]
        out = acc.execute(x)
        assert out.shape == (2, *io["oshape_normal"][0][1:]) and out.dtype == np.float32
        np.testing.assert_array_equal(out.reshape(2, -1), acc.run(x))


def test_throughput_test_command(package):
    """FINN's throughput_test from a shell on the board, JSON on the last line, saying where it ran."""
    res = _board_cmd(package, "throughput_test", "--batch-size", "2")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout.splitlines()[-1])
    assert out["target"] == "emulated" and out["batch_size"] == 2 and out["fold_input[ms]"] > 0
    res = _board_cmd(package, "throughput_test", "--batch-size", "0")
    assert res.returncode == 2 and res.stderr.strip().startswith("error: batch_size must be an integer from 1")
