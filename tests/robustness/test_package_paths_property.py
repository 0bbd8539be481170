"""Property (issue 23): whatever names and links a deploy package holds, the emulated board opens no
file outside it. Every file open is observed with an audit hook (``open`` events cover builtins.open,
os.open, numpy and zipfile) while hypothesis-generated packages are opened and run; each either runs
or is refused with a HwsqueezeError, and every path it opened resolves inside the package."""
from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import List, Optional

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hwsqueeze.errors import HwsqueezeError

MVAU = "MVAU_hls_0"
_OPENED: Optional[List[str]] = None  # the paths opened while recording


def _audit(event: str, args: tuple) -> None:
    if _OPENED is not None and event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
        _OPENED.append(os.fsdecode(args[0]))


sys.addaudithook(_audit)  # cannot be removed; it does nothing unless _OPENED is set


@pytest.fixture(scope="module")
def clean(built_deploy, tmp_path_factory) -> Path:
    from hwsqueeze.runtime import Accelerator

    d = tmp_path_factory.mktemp("prop-clean") / "deploy"
    shutil.copytree(built_deploy, d, ignore=shutil.ignore_patterns("notebooks", "tests", "hwsqueeze", "samples"))
    with Accelerator.emulated(d) as acc:  # every module this needs is imported now, not while recording
        acc.run(np.zeros((1,) + acc.in_shape, np.uint8))
    return d


NAMES = st.one_of(
    st.sampled_from([None, "..", ".", "/", "hw", "../outside/" + MVAU, "../../outside/" + MVAU, MVAU + "/..",
                     "renamed_0", "a\\b", "C:x", "~", "$HOME", "x\x00y", ".hidden", "-", "a" * 300]),
    st.text(alphabet="./ab_\\~-", min_size=1, max_size=12))
LINKS = st.sampled_from([None, "layer-dir", "memblock", "thresh", "top", "weights", "graph", "deploy-json", "hw",
                         "inner-file", "dev-zero", "loop"])


def _mutate(pkg: Path, outside: Path, name: Optional[str], link: Optional[str]) -> None:
    layer = pkg / "hw" / MVAU
    if name is not None:
        g = json.loads((pkg / "reference" / "graph.json").read_text())
        node = next(n for n in g["nodes"] if n["name"] == MVAU)
        node["name"] = name
        old = {k: v for k, v in node["arrays"].items()}
        node["arrays"] = {k: v.replace(MVAU + "/", name + "/", 1) for k, v in old.items()}
        (pkg / "reference" / "graph.json").write_text(json.dumps(g))
        with np.load(pkg / "reference" / "weights.npz") as z:
            arrays = {(k.replace(MVAU + "/", name + "/", 1) if k.startswith(MVAU + "/") else k): z[k] for k in z.files}
        with open(pkg / "reference" / "weights.npz", "wb") as f:
            np.savez(f, **arrays)
        if "/" not in name and "\x00" not in name and name not in (".", ".."):
            try:  # a plain name: its folder moves with it, so the package may still be valid
                layer.rename(pkg / "hw" / name)
                layer = pkg / "hw" / name
            except OSError:
                pass
    targets = {"layer-dir": (layer, outside / MVAU), "memblock": (layer / "memblock.dat", outside / MVAU / "memblock.dat"),
               "thresh": (layer / "thresh.h", Path("../../../outside") / MVAU / "thresh.h"),
               "top": (next(layer.glob("top_*.cpp"), layer / "top_x.cpp"), outside / "secret.txt"),
               "weights": (pkg / "reference" / "weights.npz", outside / "weights.npz"),
               "graph": (pkg / "reference" / "graph.json", outside / "graph.json"),
               "deploy-json": (pkg / "deploy.json", outside / "deploy.json"), "hw": (pkg / "hw", outside),
               "inner-file": (layer / "memblock.dat", Path("..") / ".." / "deploy.json"),
               "dev-zero": (layer / "memblock.dat", Path("/dev/zero")), "loop": (layer, layer)}
    if link is not None and layer.is_dir():
        src, dst = targets[link]
        if src.is_dir() and not src.is_symlink():
            shutil.rmtree(src)
        elif src.exists() or src.is_symlink():
            src.unlink()
        src.symlink_to(dst)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                HealthCheck.function_scoped_fixture])
@given(name=NAMES, link=LINKS)
def test_emulated_board_never_opens_a_path_outside_its_package(clean, tmp_path_factory, name, link):
    global _OPENED
    from hwsqueeze.runtime import Accelerator

    root = tmp_path_factory.mktemp("prop")
    pkg, outside = root / "pkg" / "deploy", root / "outside"
    shutil.copytree(clean, pkg)
    outside.mkdir()
    shutil.copytree(clean / "hw" / MVAU, outside / MVAU)
    for f in ("deploy.json", "reference/graph.json", "reference/weights.npz"):
        shutil.copy(clean / f, outside / Path(f).name)
    (outside / "secret.txt").write_text("#define PE1 1\n")
    _mutate(pkg, outside, name, link)
    _OPENED = []
    try:
        with Accelerator.emulated(pkg) as acc:
            acc.run(np.zeros((1,) + acc.in_shape, np.uint8))
    except HwsqueezeError as e:
        assert "\n" not in str(e)
    finally:
        opened, _OPENED = _OPENED, None
    base = pkg.resolve()
    outside_opened = [p for p in opened if base not in Path(p).resolve().parents]
    assert not outside_opened, (name, link, outside_opened)
