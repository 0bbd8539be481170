"""hls/fire_expand.hpp through its own C++ test bench (g++, the same ap_int headers and finn-hlslib
as `hwsqueeze simulate`), against an independent numpy computation of the two convolutions and
their thresholds, for several PE/SIMD configurations (including one where the 1x1 part, and one
where the output, sets the pace), and its cycle count against the schedule written by hand."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(shutil.which("g++") is None, reason="g++ not installed (needed for the C++ bench)")

# C, KK, CH1, SIMD1, PE1, CH3, SIMD3, PE3, OPE, reps
CONFIGS = [
    (8, 9, 8, 2, 2, 8, 4, 2, 2, 6),  # 3x3 part sets the pace
    (16, 9, 16, 1, 1, 16, 16, 4, 4, 5),  # 1x1 part slowest: L = O + T1
    (4, 9, 8, 4, 8, 8, 4, 8, 1, 4),  # fully parallel compute: output emission sets the pace
    (6, 9, 4, 3, 2, 12, 6, 3, 4, 3),  # non-power-of-two channels
    (16, 9, 16, 8, 1, 16, 48, 1, 1, 3),  # SIMD3 = 48 does not divide C = 16: input words straddle the centre tap
]


@pytest.fixture(scope="module")
def includes(tmp_path_factory):
    from hwsqueeze.simulate.env import ap_types_dir, vendored_tarball

    ap = ap_types_dir()
    tarball = vendored_tarball()
    if ap is None or tarball is None or not tarball.is_file():
        pytest.skip("needs hls4ml's ap_types headers and the vendored finn-hlslib tarball")
    import tarfile

    lib = tmp_path_factory.mktemp("hlslib")
    with tarfile.open(tarball) as tf:
        tf.extractall(lib, filter="data")
    return [ROOT / "hls" / "include", ap.parent, ap, lib / "finn-hlslib", ROOT / "hls"]


def _numpy_fire(x, w1, w3, t1, t3, c, kk):
    """Independent: 1x1 = centre tap @ W1, 3x3 = whole window @ W3, output = thresholds <= acc."""
    acc1 = x[:, (kk // 2) * c:(kk // 2 + 1) * c] @ w1.T
    acc3 = x @ w3.T
    o1 = (t1[None, :, :] <= acc1[:, :, None]).sum(-1)
    o3 = (t3[None, :, :] <= acc3[:, :, None]).sum(-1)
    return np.concatenate([o1, o3], axis=1)


def _schedule(c, kk, ch1, simd1, pe1, ch3, simd3, pe3, ope, reps):
    t3 = (ch3 // pe3) * (kk * c // simd3)
    t1 = (ch1 // pe1) * (c // simd1)
    centre_done = -(-(kk // 2 + 1) * c // simd3)  # ceil: the word that completes the centre tap
    emit = (ch1 + ch3) // ope
    return reps * max(t3, centre_done + t1, emit) + emit


def _build(includes, tmp: Path, cfg) -> Path:
    names = ("FE_C", "FE_KK", "FE_CH1", "FE_SIMD1", "FE_PE1", "FE_CH3", "FE_SIMD3", "FE_PE3", "FE_OPE", "FE_REPS")
    exe = tmp / "tb"
    cmd = ["g++", "-std=c++17", "-O1", *[f"-I{p}" for p in includes], *[f"-D{n}={v}" for n, v in zip(names, cfg)],
           str(ROOT / "hls" / "tb" / "fire_expand_tb.cpp"), "-o", str(exe)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    return exe


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: "C{}_1x1_{}-{}-{}_3x3_{}-{}-{}_ope{}".format(
    c[0], c[2], c[3], c[4], c[5], c[6], c[7], c[8]))
def test_kernel_matches_numpy(includes, tmp_path, cfg):
    c, kk, ch1, _, _, ch3, _, _, _, reps = cfg
    exe = _build(includes, tmp_path, cfg)
    rng = np.random.default_rng(sum(cfg))
    x = rng.integers(0, 16, (reps, kk * c))  # UINT4 windows
    w1 = rng.integers(-8, 8, (ch1, c))  # INT4 weights
    w3 = rng.integers(-8, 8, (ch3, kk * c))
    t1 = np.sort(rng.integers(-60, 60, (ch1, 15)), axis=1)  # 15 ascending thresholds: UINT4 out
    t3 = np.sort(rng.integers(-200, 200, (ch3, 15)), axis=1)
    data = tmp_path / "data"
    data.mkdir()
    for name, arr in dict(windows=x, w1=w1, w3=w3, t1=t1, t3=t3).items():
        np.savetxt(data / f"{name}.txt", arr.reshape(arr.shape[0], -1), fmt="%d")
    r = subprocess.run([str(exe), str(data)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    got = np.loadtxt(data / "out.txt", dtype=np.int64).reshape(reps, ch1 + ch3)
    want = _numpy_fire(x, w1, w3, t1, t3, c, kk)
    assert (want > 0).any() and (want < 15).any()  # thresholds exercised, not saturated
    np.testing.assert_array_equal(got, want)
    assert int((data / "cycles.txt").read_text()) == _schedule(*cfg)


def test_bench_self_check_runs_standalone(includes, tmp_path):
    """Without a data folder the bench makes its own data and checks against its loop nest."""
    exe = _build(includes, tmp_path, CONFIGS[0])
    r = subprocess.run([str(exe)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and ": ok," in r.stdout, r.stdout + r.stderr
