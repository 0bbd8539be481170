"""Run in the board-like environment (scripts/test-board-env.sh: numpy<2 + pynq 4.0, no torch,
onnx, qonnx or finn): the deploy package's runtime picks the emulated board when pynq finds no
device, and the real-board path fails with clear errors instead of hanging or guessing."""
from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

DEPLOY = Path(os.environ.get("HWSQUEEZE_DEPLOY", "")) if os.environ.get("HWSQUEEZE_DEPLOY") else None
pytestmark = pytest.mark.skipif(DEPLOY is None, reason="HWSQUEEZE_DEPLOY not set (run scripts/test-board-env.sh)")
if DEPLOY is not None:
    sys.path.insert(0, str(DEPLOY))


def test_environment_is_board_like():
    import numpy

    for heavy in ("torch", "onnx", "qonnx", "finn"):
        with pytest.raises(ImportError):
            __import__(heavy)
    assert os.environ.get("HWSQUEEZE_EXPECT_NUMPY1") != "1" or numpy.__version__.startswith("1.")


def test_open_falls_back_to_emulation_without_a_device():
    pynq = pytest.importorskip("pynq")
    from hwsqueeze.runtime import Accelerator, board_available

    assert not board_available()
    with Accelerator.open(DEPLOY) as acc:
        assert acc.target == "emulated"
        x = np.load(DEPLOY / "samples" / "images.npy")[:2]
        assert acc.run(x).shape == (2, 10)
    assert pynq.__version__


def test_real_board_path_reports_pynq_errors(tmp_path):
    pytest.importorskip("pynq")
    from hwsqueeze.errors import HwsqueezeError
    from hwsqueeze.runtime import Accelerator

    d = tmp_path / "deploy"
    shutil.copytree(DEPLOY, d, ignore=shutil.ignore_patterns("hw", "notebooks"))
    meta = json.loads((d / "deploy.json").read_text())
    (d / "bitfile").mkdir()
    (d / "bitfile" / "hwsqueeze.bit").write_bytes(b"\x00" * 64)
    (d / "bitfile" / "hwsqueeze.hwh").write_text("<xml/>")
    meta.update(bitfile="bitfile/hwsqueeze.bit", hwh="bitfile/hwsqueeze.hwh")
    (d / "deploy.json").write_text(json.dumps(meta))
    with pytest.raises(HwsqueezeError, match="cannot load the overlay"):
        Accelerator(d)
