"""Library code logs through `logging` (the build to `hwsqueeze.build` and build.log); only the CLI prints."""
from __future__ import annotations

import logging
from pathlib import Path

import pytest

pytest.importorskip("finn")


def test_a_library_build_prints_nothing_and_logs_its_steps(tmp_path: Path, caplog, capfd):
    from hwsqueeze.compile.boards import load_board
    from hwsqueeze.compile.config import BuildConfig
    from hwsqueeze.compile.runner import run_build

    cfg = BuildConfig(board=load_board("pynq-z2"), out_dir=tmp_path / "b", model_name="squeezenet-tiny-cifar10",
                      target_fps=1000, stop_step="qonnx_to_finn")
    with caplog.at_level(logging.INFO, logger="hwsqueeze"):
        res = run_build(cfg)
    assert res.status == "stopped"
    out, _ = capfd.readouterr()
    assert "export" not in out and "qonnx_to_finn" not in out  # nothing on the console from the library
    records = [r for r in caplog.records if r.name == "hwsqueeze.build"]
    assert [r.getMessage().split(":")[0] for r in records if r.getMessage().startswith("[")] == \
        ["[00] export", "[01] qonnx_to_finn"]
    assert any("check qonnx_to_finn: 8/8 images match" in r.getMessage() for r in records)
    log = (tmp_path / "b" / "build.log").read_text()
    assert "hwsqueeze.build INFO: [01] qonnx_to_finn" in log  # FINN-style build log with our records
    assert logging.getLogger("hwsqueeze").handlers == [] or all(
        not isinstance(h, logging.FileHandler) for h in logging.getLogger("hwsqueeze").handlers)  # file closed


def test_the_cli_prints_progress_and_quiet_silences_it(tmp_path: Path):
    from helpers import run_cli

    res = run_cli("build", "--model", "squeezenet-tiny-cifar10", "--target-fps", "1000", "--out",
                  str(tmp_path / "v"), "--stop-step", "export")
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines()[0].startswith("[00] export:")  # bare lines, no logger prefix
    res = run_cli("build", "--model", "squeezenet-tiny-cifar10", "--target-fps", "1000", "--out",
                  str(tmp_path / "q"), "--stop-step", "export", "--quiet")
    assert res.returncode == 0 and "[00]" not in res.stdout, res.stdout
