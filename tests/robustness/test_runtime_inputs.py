"""The board runtime's API and the build's resume files with careless or hostile input: one
HwsqueezeError line naming what is wrong, never a traceback or a hang, nothing of the user's
changed."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from helpers import run_cli

from hwsqueeze.errors import HwsqueezeError


@pytest.fixture(scope="module")
def acc(built_deploy):
    from hwsqueeze.runtime import Accelerator

    a = Accelerator.emulated(built_deploy)
    yield a
    a.close()


@pytest.mark.parametrize("images,needle", [
    ([[1, 2], [3]], "rectangular array"),
    ("cat.jpg", "images must have shape"),
    (np.zeros((2, 32, 32, 3), bool), "integer pixels"),
    (np.zeros((2, 32, 32, 3), np.complex64), "integer pixels"),
    (np.full((1, 32, 32, 3), 256, np.int32), r"[0, 255]"),
    (np.zeros((1, 3, 32, 32), np.uint8), "images must have shape (N, 32, 32, 3)"),
])
def test_bad_images(acc, images, needle):
    with pytest.raises(HwsqueezeError) as e:
        acc.run(images)
    assert needle in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("call,needle", [
    (lambda a: a.execute(np.zeros((2, 32, 32, 3), np.uint8)), "set batch_size = 2 first, or use run()"),
    (lambda a: a.execute(np.zeros((32, 32, 3), np.uint8)), "ishape_normal() = (1, 32, 32, 3)"),
    (lambda a: a.execute([np.zeros((1, 32, 32, 3), np.uint8)] * 2), "a list of 2 inputs"),
    (lambda a: a.execute(np.full((1, 32, 32, 3), 0.5, np.float32)), "whole numbers of UINT8"),
    (lambda a: a.execute(np.full((1, 32, 32, 3), np.nan)), "whole numbers of UINT8"),
    (lambda a: a.execute(np.full((1, 32, 32, 3), 256)), "outside UINT8 [0, 255]"),
    (lambda a: a.execute(np.full((1, 32, 32, 3), "a")), "numbers of UINT8"),
    (lambda a: a.idt(1), "ind must be 0"),
    (lambda a: a.execute_on_buffers(batch_size=2), "batch_size must be from 1 to the driver's 1"),
    (lambda a: a.copy_output_data_from_device(np.zeros(3, np.uint8)), "uint8 array of shape oshape_packed()"),
])
def test_bad_finn_driver_calls(acc, call, needle):
    """FINN's names refuse what FINN's driver asserts on, in one line that says what to do."""
    with pytest.raises(HwsqueezeError) as e:
        call(acc)
    assert needle in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("kw,needle", [
    ({"max_batch": 0}, "max_batch must be a positive integer"), ({"max_batch": -3}, "max_batch"),
    ({"max_batch": 2.5}, "max_batch"), ({"max_batch": True}, "max_batch"),
    ({"batch_size": 0}, "batch_size must be an integer from 1 to"), ({"batch_size": 1.0}, "batch_size"),
    ({"batch_size": False}, "batch_size"), ({"batch_size": 10 ** 9}, "batch_size"), ({"timeout_s": float("nan")}, "timeout_s must be a positive finite"),
    ({"timeout_s": float("inf")}, "timeout_s"), ({"timeout_s": 0}, "timeout_s"), ({"timeout_s": "10"}, "timeout_s"),
])
def test_bad_runtime_options(built_deploy, kw, needle):
    from hwsqueeze.runtime import Accelerator

    with pytest.raises(HwsqueezeError, match=needle.replace("(", r"\(")):
        Accelerator.emulated(built_deploy, **kw)


def test_reference_chunk_must_be_positive(built_deploy):
    from hwsqueeze.reference import Reference

    with pytest.raises(HwsqueezeError, match="chunk must be a positive integer"):
        Reference.from_deploy(built_deploy).run(np.zeros((1, 32, 32, 3), np.uint8), chunk=0)


@pytest.mark.parametrize("remove,needle", [
    ("hw/MVAU_hls_0/memblock.dat", "generated weight file missing"),
    ("hw/MVAU_hls_0/thresh.h", "generated threshold file missing"),
    ("reference/weights.npz", "reference weights missing"),
    ("reference/graph.json", "reference graph missing"),
    ("deploy.json", "is not a deploy package"),
])
def test_package_with_missing_files(built_deploy, tmp_path, remove, needle):
    from hwsqueeze.reference import Reference
    from hwsqueeze.runtime import Accelerator

    d = tmp_path / "deploy"
    shutil.copytree(built_deploy, d, ignore=shutil.ignore_patterns("notebooks", "tests"))
    (d / remove).unlink()
    with pytest.raises(HwsqueezeError, match=needle):
        Accelerator.emulated(d)
    if remove.startswith(("reference", "deploy")):
        with pytest.raises(HwsqueezeError, match=needle):
            Reference.from_deploy(d)


def test_deploy_dir_is_a_file(tmp_path):
    from hwsqueeze.runtime import Accelerator

    f = tmp_path / "deploy.json"
    f.write_text("{}")
    with pytest.raises(HwsqueezeError, match="is a file"):
        Accelerator.emulated(f)


def _tree(d: Path):
    return sorted((str(p.relative_to(d)), p.stat().st_size) for p in d.rglob("*") if p.is_file())


@pytest.mark.parametrize("content", [b"", b"{not json", b"[1, 2]", b'{"steps": {"export": {"inputs": 5}}}'])
def test_corrupt_build_state_on_resume(tmp_path, content):
    out = tmp_path / "b"
    out.mkdir()
    (out / "build_state.json").write_bytes(content)
    before = _tree(out)
    res = run_cli("build", "--model", "squeezenet-tiny-cifar10", "--out", str(out), "--from-step", "folding")
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert res.returncode == 2 and len(lines) == 1 and "Traceback" not in res.stderr, res.stderr
    assert "build_state.json" in lines[0] or "never finished" in lines[0]
    assert _tree(out) == before
