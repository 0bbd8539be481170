"""Assemble ``build/<board>/deploy/``: everything the board needs, written through
:mod:`hwsqueeze.deploy` (the one owner of the package format).

The package is built in a temporary folder that replaces ``deploy/`` only when complete, so a
half-written package never looks complete. The board side (``deploy/``, ``reference/``,
``runtime/``) is copied as a small ``hwsqueeze`` package that needs only numpy (and pynq on a
real board).
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import List, Optional

import numpy as np

from ..deploy import DeployMeta, StreamSpec, write_graph, write_meta
from ..deploy.package import HW_DIR, SAMPLE_EXPECTED, SAMPLE_IMAGES, SAMPLE_LABELS
from ..fsutil import atomic_dir
from ..resources import resource_dir

__all__ = ["write_deploy", "io_spec"]

_PKG = Path(__file__).resolve().parents[1]
BOARD_CODE = ("__init__.py", "errors.py", "fsutil.py", "deploy", "reference", "runtime")


def io_spec(model, board, work_dir: Path) -> dict:
    """Input/output datatypes and normal/folded/packed shapes exactly as FINN's PYNQ driver gets
    them: the Vivado-free preparation of ``ZynqBuild`` (IODMAs, width converters, floorplan,
    partitions) on a copy of the graph, then FINN's own ``get_driver_shapes``."""
    import copy

    from finn.transformation.fpgadataflow.create_dataflow_partition import CreateDataflowPartition
    from finn.transformation.fpgadataflow.floorplan import Floorplan
    from finn.transformation.fpgadataflow.insert_dwc import InsertDWC
    from finn.transformation.fpgadataflow.insert_iodma import InsertIODMA
    from finn.transformation.fpgadataflow.specialize_layers import SpecializeLayers
    from finn.util.basic import get_driver_shapes, pynq_native_port_width
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.general import GiveReadableTensorNames, GiveUniqueNodeNames

    m = ModelWrapper(copy.deepcopy(model.model))
    width = pynq_native_port_width.get(board.finn_board, 64)  # what ZynqBuild uses for this board
    for t in (InsertIODMA(width), InsertDWC(), SpecializeLayers(board.part), Floorplan(),
              CreateDataflowPartition(partition_model_dir=str(work_dir))):
        m = m.transform(t).transform(GiveUniqueNodeNames()).transform(GiveReadableTensorNames())
    s = get_driver_shapes(m)

    def name(dt) -> str:  # FINN gives the datatype as text "DataType['UINT8']"
        return str(dt).replace("DataType['", "").replace("']", "")

    return {side: {"dma": dma, "dtype": name(s[f"{k}dt"][0]), "shape_normal": tuple(s[f"{k}shape_normal"][0]),
                   "shape_folded": tuple(s[f"{k}shape_folded"][0]), "shape_packed": tuple(s[f"{k}shape_packed"][0])}
            for side, k, dma in (("input", "i", "idma0"), ("output", "o", "odma0"))}


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
    from ..errors import HwsqueezeError
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


def write_deploy(model, build_dir: Path, board, state, classes: Optional[List[str]] = None,
                 samples: Optional[str] = None) -> Path:
    """Write ``build_dir/deploy`` from the final HW graph ``model`` (after hw_codegen)."""
    from .to_reference import reference_graph

    build_dir = Path(build_dir)
    io = io_spec(model, board, build_dir / "finn_tmp" / "driver_partitions")
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
        (tmp / "README.md").write_text(_readme(meta))
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


def _readme(meta: DeployMeta) -> str:
    lines: List[str] = [
        f"# hwsqueeze deploy package: {meta.model} ({meta.quant}) for {meta.board}", "",
        "Copy this folder to the board and use it from Jupyter or Python:", "",
        "```", f"scp -r deploy xilinx@pynq:~/hwsqueeze-{meta.board}",
        f"ssh xilinx@pynq 'sudo sh ~/hwsqueeze-{meta.board}/install-on-pynq.sh'   # notebooks into Jupyter's folder",
        "```", "",
        "On the board (PYNQ 2.7 / 3.0 image: Python 3.8+, numpy, pynq; nothing to install):", "",
        "```python", "from hwsqueeze.runtime import Accelerator",
        "acc = Accelerator.open('.')   # real board if pynq finds one, else emulated",
        "logits = acc.run(images_uint8_nhwc)", "```", "",
        "- `notebooks/`: classify, verify (hardware vs bit-exact reference), throughput.",
        "- `python3 -m hwsqueeze.runtime verify | classify IMG | benchmark | throughput_test`: the same from a shell.",
        "- `tests/`: `python -m pytest tests` compares hardware and reference outputs (`HWSQUEEZE_BOARD=1` to "
        "require the board).",
        "- `reference/`: the HW-layer graph and its integer weights for the numpy reference engine.",
        "- `hw/`: the HLS/RTL sources FINN+ generated; the emulated board computes from these.",
        "- `samples/`: sample images with their labels (`labels.json` says whether they are real test images "
        "or synthetic), and FINN+'s outputs for them.", "",
        ("The bitstream is in `bitfile/`." if meta.bitfile else
         "**No bitstream in this package**: it was built without Vivado. The notebooks and tests run against the "
         "emulated board; build on a machine with Vivado/Vitis to get `bitfile/`."), ""]
    return "\n".join(lines)
