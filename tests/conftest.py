"""Shared fixtures. Tests that need the shared CIFAR-10 archive skip with a reason when absent."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CIFAR_ARCHIVE = Path(os.environ.get("HWSQUEEZE_CIFAR", ROOT.parent / "shared" / "data" / "cifar10-jpeg.tar.gz"))


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory):
    """Dataset caches go to a per-session temp dir unless the user chose one."""
    if "HWSQUEEZE_CACHE" not in os.environ:
        os.environ["HWSQUEEZE_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    yield


@pytest.fixture
def cifar_archive() -> Path:
    if not CIFAR_ARCHIVE.is_file():
        pytest.skip(f"CIFAR-10 archive not found at {CIFAR_ARCHIVE} (set HWSQUEEZE_CIFAR to its path)")
    return CIFAR_ARCHIVE


@pytest.fixture
def image_folder(tmp_path) -> Path:
    from helpers import write_image_folder

    return write_image_folder(tmp_path / "imgs")


def _shared_dir(request, tmp_path_factory, name: str) -> Path:
    """A folder all of this run's pytest-xdist workers see (keyed by the run's id, beside their
    base temps); without xdist, the session's own temp folder."""
    worker = getattr(request.config, "workerinput", None)  # set on xdist workers only
    if worker is None:
        return tmp_path_factory.mktemp(name)
    return tmp_path_factory.getbasetemp().parent / f"{name}-{worker['testrunuid']}"


def _build_once(request, tmp_path_factory, name: str, *args: str, timeout: float) -> Path:
    """``hwsqueeze build ARGS`` (no Vivado: its package runs on the emulated board) into a folder
    built once per test run: under pytest-xdist the first worker builds it, the others wait for it."""
    from filelock import FileLock
    from helpers import run_cli

    out = _shared_dir(request, tmp_path_factory, name)
    with FileLock(str(out) + ".lock"):
        if not (out / "deploy" / "deploy.json").is_file():
            res = run_cli("build", *args, "--out", str(out), "--quiet", timeout=timeout)
            assert res.returncode == 0, res.stdout + res.stderr
    return out


@pytest.fixture(scope="session")
def built_deploy(request, tmp_path_factory) -> Path:
    """A deploy package of the shipped default model, built once per test run.
    Set HWSQUEEZE_DEPLOY to test an existing package instead."""
    env = os.environ.get("HWSQUEEZE_DEPLOY")
    if env:
        return Path(env)
    return _build_once(request, tmp_path_factory, "default-build", "--board", "pynq-z2", timeout=1200) / "deploy"


# The tiny model (two Fire modules) at 1,000 FPS, one build per build option, each built once per test
# run: the build folder, its package in deploy/ (tests/hw runs on all three and the shipped model).
TINY = ("--model", "squeezenet-tiny-cifar10", "--target-fps", "1000")


@pytest.fixture(scope="session")
def tiny_default_build(request, tmp_path_factory) -> Path:
    """The default mapping: HLS MVAUs with their thresholds (the last layer an RTL MVU)."""
    return _build_once(request, tmp_path_factory, "tiny-default", *TINY, timeout=900)


@pytest.fixture(scope="session")
def tiny_fused_build(request, tmp_path_factory) -> Path:
    """``--fuse-fire``: every Fire expand one FireExpand_hls layer."""
    return _build_once(request, tmp_path_factory, "tiny-fused", *TINY, "--fuse-fire", timeout=900)


@pytest.fixture(scope="session")
def standalone_build(request, tmp_path_factory) -> Path:
    """``--standalone-thresholds``: RTL thresholding layers and RTL MVUs."""
    return _build_once(request, tmp_path_factory, "tiny-standalone", *TINY, "--standalone-thresholds", timeout=900)
