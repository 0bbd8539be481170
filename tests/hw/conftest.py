"""HW-vs-SW tests: they run unchanged in the repository (emulated board), inside a deploy
package on a host (emulated) and on a PYNQ board (real hardware).

Which accelerator: ``HWSQUEEZE_BOARD=1`` requires the real board (pynq); otherwise the
register-level emulated board, which computes from the package's generated per-layer files with
its own integer code (not the reference engine). tests/test_hw_meta.py proves these tests fail
when one bit of a generated weight file is flipped. Which package: ``HWSQUEEZE_DEPLOY``, else the package this folder sits in, else (in
the repository) every test runs on each of :data:`_BUILDS`, built once per test run by tests/conftest.py:
the shipped model's default build and the tiny model built with each build option, so that each op of
``hwsqueeze/deploy/ops.py`` and each way the build maps it meets the emulated board here.
Only numpy, pytest and the package's own ``hwsqueeze`` (runtime + reference) are needed.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

_HERE = Path(__file__).resolve().parent


def _package_dir():
    env = os.environ.get("HWSQUEEZE_DEPLOY")
    if env:
        return Path(env)
    if (_HERE.parent / "deploy.json").is_file():
        return _HERE.parent
    return None


_PKG = _package_dir()
if _PKG is not None and (_PKG / "hwsqueeze").is_dir() and str(_PKG) not in sys.path:
    sys.path.insert(0, str(_PKG))  # on the board: the package's own numpy-only hwsqueeze


# test id -> (fixture of tests/conftest.py, the package's folder in what it returns): repository only
_BUILDS = {"shipped": ("built_deploy", "."), "tiny": ("tiny_default_build", "deploy"),
           "tiny-fuse-fire": ("tiny_fused_build", "deploy"), "tiny-standalone": ("standalone_build", "deploy")}


def pytest_generate_tests(metafunc):
    if _PKG is None and "deploy_dir" in metafunc.fixturenames:
        metafunc.parametrize("deploy_dir", list(_BUILDS), indirect=True, scope="session")


@pytest.fixture(scope="session")
def deploy_dir(request) -> Path:
    if _PKG is not None:
        return _PKG
    fixture, folder = _BUILDS[request.param]
    return request.getfixturevalue(fixture) / folder


@pytest.fixture(scope="session")
def accelerator(deploy_dir):
    from hwsqueeze.runtime import Accelerator

    if os.environ.get("HWSQUEEZE_BOARD") == "1":
        acc = Accelerator(deploy_dir)
    else:
        acc = Accelerator.emulated(deploy_dir)
    yield acc
    acc.close()


@pytest.fixture(scope="session")
def reference(deploy_dir):
    from hwsqueeze.reference import Reference

    return Reference.from_deploy(deploy_dir)


@pytest.fixture(scope="session")
def samples(deploy_dir) -> np.ndarray:
    return np.load(deploy_dir / "samples" / "images.npy", allow_pickle=False)


@pytest.fixture(scope="session")
def finn_outputs(deploy_dir) -> np.ndarray:
    """FINN+'s own Python execution of the HW graph on the samples, recorded at build time."""
    return np.load(deploy_dir / "samples" / "expected_outputs.npy", allow_pickle=False)
