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
    assert "mismatch" in res.stdout and " passed" not in res.stdout.splitlines()[-1], res.stdout[-3000:]
