"""The HW-vs-SW tests must be able to fail: with one bit flipped in a generated weight file
(``hw/<first MVAU>/memblock.dat``, before anything parses it) they fail, without it they pass.
Both runs are subprocesses on a copy of the same deploy package."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run_hw_tests(deploy: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "HWSQUEEZE_DEPLOY": str(deploy)}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/hw",
                           "-k", "bit_exact"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)


def _flip_one_bit(memblock: Path) -> None:
    """Flip bit 6 of the first weight word, by hand (independent of hwsqueeze's fault helper)."""
    lines = memblock.read_text().split()
    lines[0] = format(int(lines[0], 16) ^ (1 << 6), "0%dx" % len(lines[0]))
    memblock.write_text("\n".join(lines) + "\n")


def test_hw_tests_pass_on_the_emulated_board(built_deploy):
    res = _run_hw_tests(built_deploy)
    assert res.returncode == 0, res.stdout[-3000:]


def test_hw_tests_fail_with_a_flipped_bit_in_the_generated_weights(built_deploy, tmp_path):
    work = tmp_path / "deploy"
    shutil.copytree(built_deploy, work, ignore=shutil.ignore_patterns("notebooks"))
    _flip_one_bit(work / "hw" / "MVAU_hls_0" / "memblock.dat")
    res = _run_hw_tests(work)
    assert res.returncode == 1, res.stdout[-3000:]
    # every comparison on the real sample images must catch it (synthetic noise/constant images
    # may saturate the altered channel and legitimately still match)
    for name in ("test_samples_bit_exact", "test_samples_bit_exact_vs_finn", "test_batch_sizes_bit_exact[7]"):
        assert f"FAILED tests/hw/test_hw_vs_sw.py::{name}" in res.stdout, res.stdout[-3000:]
    assert "images mismatch" in res.stdout
