"""The HW-vs-SW tests must be able to fail: with one weight bit flipped in the emulated hardware
they fail, without it they pass (both runs in subprocesses on the same deploy package)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run_hw_tests(deploy: Path, fault: str = "") -> subprocess.CompletedProcess:
    env = {**os.environ, "HWSQUEEZE_DEPLOY": str(deploy), "HWSQUEEZE_FAULT": fault}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/hw",
                           "-k", "bit_exact"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)


def test_hw_tests_pass_on_the_emulated_board(built_deploy):
    res = _run_hw_tests(built_deploy)
    assert res.returncode == 0, res.stdout[-3000:]


def test_hw_tests_fail_with_a_flipped_weight_bit(built_deploy):
    res = _run_hw_tests(built_deploy, "flip_weight_bit")
    assert res.returncode == 1, res.stdout[-3000:]
    # every test on the real sample images must catch it (synthetic noise/constant images may
    # saturate the altered channel and legitimately still match)
    for name in ("test_samples_bit_exact", "test_batch_sizes_bit_exact[1]", "test_batch_sizes_bit_exact[7]"):
        assert f"FAILED tests/hw/test_hw_vs_sw.py::{name}" in res.stdout, res.stdout[-3000:]
    assert "images mismatch" in res.stdout
