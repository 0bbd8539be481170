"""Hostile or malformed files of an RTL thresholding layer in a ``--standalone-thresholds`` package (its
``$readmemh`` memories ``<layer>_threshs_<pe>_<stage>.dat`` and its generated top ``<layer>.v``, which the
emulated board computes from): ``hwsqueeze verify --emulated`` and the board command refuse each with
exit 2 and one ``error:`` line naming the problem, no traceback, no hang, and a sentinel folder outside
the package is untouched."""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from helpers import run_cli
from robustness._util import board_cmd, one_error, tree_snapshot

LAYER = "Thresholding_rtl_0"
MEM = f"{LAYER}_threshs_0_1.dat"  # stage 1: two words per channel fold


@pytest.fixture(scope="module")
def clean(standalone_build, tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("clean-standalone") / "deploy"
    shutil.copytree(standalone_build / "deploy", d, ignore=shutil.ignore_patterns("notebooks", "tests", "__pycache__"))
    return d


def _wt(pkg: Path) -> int:
    return int(re.search(r"parameter\s+WT\s*=\s*(\d+)", (pkg / "hw" / LAYER / f"{LAYER}.v").read_text()).group(1))


def _word(i: int, word: str):
    def mutate(pkg, out):
        path = pkg / "hw" / LAYER / MEM
        words = path.read_text().split()
        words[i] = word(pkg) if callable(word) else word
        path.write_text("\n".join(words) + "\n")
    return mutate


def _mem(fn):
    return lambda pkg, out: fn(pkg / "hw" / LAYER / MEM, out)


def _top(old: str, new: str):
    def mutate(pkg, out):
        path = pkg / "hw" / LAYER / f"{LAYER}.v"
        text = path.read_text()
        assert re.search(old, text), old
        path.write_text(re.sub(old, new, text, count=1))
    return mutate


def _link_out(path: Path, out: Path) -> None:
    shutil.copy(path, out / path.name)
    path.unlink()
    path.symlink_to(out / path.name)


def _fifo(path: Path, out: Path) -> None:
    path.unlink()
    os.mkfifo(path)  # reading it would block forever


def _sparse(path: Path, out: Path) -> None:
    with open(path, "r+b") as f:
        f.truncate((64 << 20) + 1)


CASES = [
    ("not-hex", _word(3, "zz"), f"{MEM}: word 3 'zz' is not a hex number"),
    ("0x-prefix", _word(0, "0x1"), "word 0 '0x1' is not a hex number"),  # int(w, 16) would take it
    ("one-huge-word", _word(0, "f" * 30_000_000), "is not a hex number of at most"),  # never parsed
    ("wider-than-WT", _word(5, lambda p: format(1 << _wt(p), "x")), "word 5"),
    ("word-missing", _mem(lambda p, o: p.write_text("\n".join(p.read_text().split()[:-1]) + "\n")),
     "threshold words, expected"),
    ("not-utf8", _mem(lambda p, o: p.write_bytes(b"\xff\xfe0a\n")), "is not UTF-8 text"),
    ("missing", _mem(lambda p, o: p.unlink()), f"generated threshold memory missing: "),
    ("link-out", _mem(_link_out), "leads outside the deploy package"),
    ("fifo", _mem(_fifo), "not a regular file"),
    ("over-limit", _mem(_sparse), "MiB limit"),
    ("path-escapes", _top(r'"\./Thresholding_rtl_0_"', '"../../outside/x_"'),
     "THRESHOLDS_PATH must be a plain file name"),
    ("pe-differs", _top(r"parameter\s+PE\s*=\s*1", "parameter  PE = 2"), "generated sources say PE=2, graph.json 1"),
    ("no-N", _top(r"parameter\s+N\s*=\s*\d+,", ""), "no generated thresholding parameter N"),
    ("N-overflows", _top(r"parameter\s+N\s*=\s*\d+", "parameter  N = 1" + "0" * 40),
     "no generated thresholding parameter N"),
    ("top-missing", lambda pkg, out: (pkg / "hw" / LAYER / f"{LAYER}.v").unlink(), "generated thresholding top missing"),
]


@pytest.mark.parametrize("mutate,needle", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_malformed_thresholding_files_are_refused(clean, tmp_path, mutate, needle):
    pkg, outside = tmp_path / "pkg" / "deploy", tmp_path / "outside"
    shutil.copytree(clean, pkg, symlinks=True)
    outside.mkdir()
    (outside / "secret.txt").write_text("the user's own file\n")
    mutate(pkg, outside)
    before = tree_snapshot(outside)
    line = one_error(run_cli("verify", "--deploy", str(pkg), "--emulated", "--n", "2", timeout=120), needle)
    assert LAYER in line
    one_error(board_cmd(pkg, "--emulated", "verify", "--n", "2"), needle)
    assert tree_snapshot(outside) == before
