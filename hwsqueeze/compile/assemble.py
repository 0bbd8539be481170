"""Assemble ``build/<board>/deploy/``: everything the board needs, written through
:mod:`hwsqueeze.deploy` (the one owner of the package format).

The package is built in a temporary folder that replaces ``deploy/`` only when complete, so a
half-written package never looks complete; a bitstream already in ``deploy/`` is carried over
(:func:`_keep_bitstream`), never deleted. ``driver/`` is FINN+'s own driver settings (:mod:`.driver`). The board side (``deploy/``, ``reference/``,
``runtime/``) is copied as a small ``hwsqueeze`` package that needs only numpy (and pynq on a
real board).
"""
from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path
from typing import List, Optional, Tuple

import numpy as np

from ..deploy import DeployMeta, StreamSpec, read_meta, write_graph, write_meta
from ..deploy.package import (BITFILE, DRIVER_DIR, HW_DIR, HWH, SAMPLE_EXPECTED, SAMPLE_IMAGES, SAMPLE_LABELS,
                              STALE_BITFILE_DIR, STALE_WHY)
from ..deploy.bitstream import write_readme
from ..errors import HwsqueezeError
from ..fsutil import atomic_dir
from ..resources import resource_dir
from .driver import io_from_settings, make_finn_driver

__all__ = ["write_deploy"]

_PKG = Path(__file__).resolve().parents[1]
BOARD_CODE = ("__init__.py", "errors.py", "fsutil.py", "deploy", "reference", "runtime")


def _keep_bitstream(old: Path, tmp: Path, prov: dict, design_keys: Tuple[str, ...]) -> bool:
    """Carry a bitstream of the earlier package at ``old`` into the new one at ``tmp`` — never
    delete it. True (record it) when it was recorded there and every input the bitfile step
    depends on is unchanged; otherwise it goes to ``bitfile/stale/`` with WHY.txt (it belongs to
    another design, or was never recorded, e.g. timing failed), and is not recorded."""
    if (old / STALE_BITFILE_DIR).is_dir():  # stale ones from before stay, too
        shutil.copytree(old / STALE_BITFILE_DIR, tmp / STALE_BITFILE_DIR)
    if not ((old / BITFILE).is_file() and (old / HWH).is_file()):
        return False
    try:
        recorded = read_meta(old)
    except HwsqueezeError:
        recorded = None
    changed = [k for k in design_keys if recorded is None or recorded.provenance.get(k) != prov.get(k)]
    if recorded is not None and recorded.bitfile and not changed:
        (tmp / BITFILE).parent.mkdir(parents=True, exist_ok=True)
        for rel in (BITFILE, HWH):
            shutil.copy2(old / rel, tmp / rel)
        return True
    stale = tmp / STALE_BITFILE_DIR
    stale.mkdir(parents=True, exist_ok=True)
    n = 1
    while (stale / (f"hwsqueeze-{n}.bit" if n > 1 else "hwsqueeze.bit")).exists():
        n += 1
    stem = f"hwsqueeze-{n}" if n > 1 else "hwsqueeze"
    shutil.copy2(old / BITFILE, stale / f"{stem}.bit")
    shutil.copy2(old / HWH, stale / f"{stem}.hwh")
    why = (f"{stem}.bit was never recorded in deploy.json (e.g. the build stopped on timing)" if not changed else
           f"{stem}.bit was built for another design: " + "; ".join(
               f"{k} was '{recorded.provenance.get(k)}', now '{prov.get(k)}'" for k in changed))
    with open(tmp / STALE_WHY, "a", encoding="utf-8") as f:
        f.write(why + "\n")
    return False


def _copy_board_code(dst: Path) -> None:
    pkg = dst / "hwsqueeze"
    pkg.mkdir(parents=True)
    for name in BOARD_CODE:
        src = _PKG / name
        if src.is_dir():
            shutil.copytree(src, pkg / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy(src, pkg / name)


def _samples(model, dst: Path, size: int, classes: Optional[List[str]], data: Optional[str], n: int = 16) -> None:
    """Sample images with their labels — ``n`` test images of ``data`` drawn across its classes,
    or (without data) generated shapes marked as synthetic — and FINN+'s own execution of the HW
    graph on them (``expected_outputs.npy``): an independent fact the board tests compare with."""
    from ..data import generate_dataset, load_dataset
    from ..data.sampling import balanced_indices
    from .verify import execute

    if data:
        ds = load_dataset(data, "test", size=size)
        if classes and list(ds.classes) != list(classes):
            raise HwsqueezeError(f"--samples {data}: its classes {list(ds.classes)[:4]}... are not the model's "
                                 f"{list(classes)[:4]}...")
        idx = balanced_indices(ds.labels, n)
        rank = np.array([int((ds.labels[idx[:i]] == ds.labels[j]).sum()) for i, j in enumerate(idx)])
        idx = idx[np.lexsort((ds.labels[idx], rank))]  # one of each class first, in class order
        images, labels = ds.images[idx], ds.labels[idx]
        info = {"synthetic": False, "classes": list(ds.classes),
                "source": f"{data}: {len(idx)} test images drawn across the classes"}
    else:
        ds = generate_dataset(n, size, seed=7)
        images, labels = ds.images, ds.labels
        info = {"synthetic": True, "classes": None,
                "source": "hwsqueeze.data.generate_dataset(seed=7): generated shapes, not photographs; "
                          "their labels are the generator's, not the model's classes"}
    (dst / "samples").mkdir()
    np.save(dst / SAMPLE_IMAGES, images)
    np.save(dst / SAMPLE_EXPECTED, np.rint(execute(model, images)).astype(np.int64))
    (dst / SAMPLE_LABELS).write_text(json.dumps({"labels": [int(x) for x in labels], **info}))


def write_deploy(model, build_dir: Path, board, state, design_keys: Tuple[str, ...],
                 classes: Optional[List[str]] = None, samples: Optional[str] = None) -> Path:
    """Write ``build_dir/deploy`` from the final HW graph ``model`` (after hw_codegen); a bitstream
    already there is kept when the provenance keys in ``design_keys`` (the bitfile step's inputs,
    ``pipeline.DESIGN_KEYS``) are unchanged."""
    from .to_reference import reference_graph

    build_dir = Path(build_dir)
    driver_dir = make_finn_driver(model, board, build_dir / "finn_tmp" / "driver_partitions")
    io = io_from_settings(driver_dir)  # deploy.json says what FINN's driver reads
    logits_shape = state.output.get("logits_shape")
    if logits_shape:  # the CPU tail reshapes (1, 1, 1, 10) to (1, 10); the stream is the same
        io["output"]["shape_normal"] = tuple(int(s) for s in logits_shape)
    src = state.source
    meta = DeployMeta(board=board.name, part=board.part, clock_mhz=float(board.clock_mhz),
                      input=StreamSpec(**io["input"]),
                      output=StreamSpec(**io["output"], scale=float(state.output.get("scale", 1.0))),
                      model=src.get("model"), quant=src.get("quant"), classes=classes,
                      estimates={k: state.estimate.get(k) for k in ("fps", "latency_ms")},
                      versions=state.versions, provenance=state.provenance)
    with atomic_dir(build_dir / "deploy") as tmp:
        if _keep_bitstream(build_dir / "deploy", tmp, state.provenance, design_keys):
            meta = replace(meta, bitfile=BITFILE, hwh=HWH)
        shutil.copytree(driver_dir, tmp / DRIVER_DIR)
        graph, arrays = reference_graph(model)
        write_graph(tmp, graph, arrays)
        shutil.copytree(build_dir / "hw", tmp / HW_DIR)
        _copy_board_code(tmp)
        # The notebooks and the HW-vs-SW tests run unchanged from the package (board or host).
        ignore = shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints", "*.md")
        shutil.copytree(resource_dir("notebooks"), tmp / "notebooks", ignore=ignore)
        shutil.copytree(resource_dir("board_tests"), tmp / "tests", ignore=ignore)
        _samples(model, tmp, int(meta.input.normal[0]), classes, samples)
        write_meta(tmp, meta)
        write_readme(tmp, meta)
        script = tmp / "install-on-pynq.sh"
        script.write_text(_INSTALL.replace("@BOARD@", meta.board))
        script.chmod(0o755)
    return build_dir / "deploy"


_INSTALL = """#!/bin/sh
# Put this deploy package where PYNQ's Jupyter finds notebooks. On the board, as root:
#   sudo sh install-on-pynq.sh [DEST]     (default DEST: /home/xilinx/jupyter_notebooks/hwsqueeze-@BOARD@)
# Then open Jupyter (http://<board>:9090, user xilinx) and go to hwsqueeze-@BOARD@/notebooks.
# Needs only what PYNQ images have (numpy, pynq, matplotlib, Pillow): on PYNQ 3.x they live in the
# PYNQ virtual environment, which Jupyter uses; in a shell: source /etc/profile.d/pynq_venv.sh
set -e
HERE=$(cd "$(dirname "$0")" && pwd)
DEST=${1:-/home/xilinx/jupyter_notebooks/hwsqueeze-@BOARD@}
mkdir -p "$DEST"
cp -r "$HERE"/. "$DEST"/
chown -R xilinx:xilinx "$DEST" 2>/dev/null || echo "(not root or no user xilinx: files keep their owner)"
echo "installed in $DEST: in Jupyter open $(basename "$DEST")/notebooks/01_classify.ipynb"
"""
