"""Assemble ``build/<board>/deploy/``: everything the board needs (see docs/deploy-package.md).

The package is written to ``deploy.tmp/`` and renamed at the end, so a half-written package
never looks complete. The board side (runtime/, reference/) is copied as a tiny ``hwsqueeze``
package that needs only numpy (and pynq on a real board).
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Dict, List

import numpy as np

from .errors import HwsqueezeError

__all__ = ["write_deploy", "set_bitfile", "io_spec", "FORMAT"]

FORMAT = "hwsqueeze-deploy/1"
_PKG = Path(__file__).resolve().parent
_ROOT = _PKG.parent
CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def io_spec(model, board, work_dir: Path) -> Dict[str, dict]:
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
    dt = lambda x: str(x).replace("DataType['", "").replace("']", "")  # noqa: E731
    return {"input": {"dma": "idma0", "dtype": dt(s["idt"][0]), "shape_normal": list(s["ishape_normal"][0]),
                      "shape_folded": list(s["ishape_folded"][0]), "shape_packed": list(s["ishape_packed"][0])},
            "output": {"dma": "odma0", "dtype": dt(s["odt"][0]), "shape_normal": list(s["oshape_normal"][0]),
                       "shape_folded": list(s["oshape_folded"][0]), "shape_packed": list(s["oshape_packed"][0])}}


def _copy_board_package(dst: Path) -> None:
    """hwsqueeze/{__init__,errors}.py + reference/ + runtime/ (numpy-only board side)."""
    pkg = dst / "hwsqueeze"
    pkg.mkdir(parents=True)
    for f in ("__init__.py", "errors.py"):
        shutil.copy(_PKG / f, pkg / f)
    for sub in ("reference", "runtime"):
        if (_PKG / sub).is_dir():
            shutil.copytree(_PKG / sub, pkg / sub, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


def _samples(dst: Path, size: int, n: int = 16) -> None:
    """Generated sample images (ours to ship) with their class names as labels.json."""
    from .data import generate_dataset

    ds = generate_dataset(n, size, seed=7)
    (dst / "samples").mkdir()
    np.save(dst / "samples" / "images.npy", ds.images)
    (dst / "samples" / "labels.json").write_text(json.dumps({"labels": [int(x) for x in ds.labels],
                                                              "source": "hwsqueeze.data.generate_dataset(seed=7)"}))


def write_deploy(model, build_dir: Path, board, state: dict) -> Path:
    """Write ``build_dir/deploy`` from the final HW graph ``model`` (after hw_codegen)."""
    from .compile.to_reference import export_reference

    build_dir = Path(build_dir)
    final, tmp = build_dir / "deploy", build_dir / "deploy.tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    export_reference(model, tmp / "reference")
    if (build_dir / "hw").is_dir():
        shutil.copytree(build_dir / "hw", tmp / "hw")
    _copy_board_package(tmp)
    # The notebooks and the HW-vs-SW tests run unchanged from the package (board or host).
    for src, sub in ((_ROOT / "notebooks", "notebooks"), (_ROOT / "tests" / "hw", "tests")):
        if src.is_dir():
            shutil.copytree(src, tmp / sub, ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints", "*.md"))
    io = io_spec(model, board, build_dir / "finn_tmp" / "driver_partitions")
    io["output"]["scale"] = float(state.get("output", {}).get("scale", 1.0))
    logits_shape = state.get("output", {}).get("logits_shape")
    if logits_shape:
        io["output"]["shape_normal"] = [int(s) for s in logits_shape]
    size = int(io["input"]["shape_normal"][1])
    _samples(tmp, size)
    src = state.get("source", {})
    meta = {"format": FORMAT, "model": src.get("model"), "quant": src.get("quant"), "board": board.name,
            "part": board.part, "clock_mhz": float(board.clock_mhz), "platform": "zynq-iodma",
            "bitfile": None, "hwh": None, "input": io["input"], "output": io["output"],
            "classes": CIFAR10_CLASSES if io["output"]["shape_normal"][-1] == 10 else None,
            "reference": {"graph": "reference/graph.json", "weights": "reference/weights.npz"},
            "hw_sources": "hw", "cpu_ops": state.get("output", {}).get("cpu_ops", []),
            "estimates": {k: (state.get("estimate") or {}).get(k) for k in ("fps", "latency_ms")},
            "versions": state.get("versions", {})}
    (tmp / "deploy.json").write_text(json.dumps(meta, indent=1))
    (tmp / "README.md").write_text(_readme(meta))
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    return final


def set_bitfile(deploy_dir: Path, bit: str, hwh: str) -> None:
    """Record a built bitstream in deploy.json (after Vivado copied bit + hwh into deploy/)."""
    p = Path(deploy_dir) / "deploy.json"
    meta = json.loads(p.read_text())
    for rel in (bit, hwh):
        if not (Path(deploy_dir) / rel).is_file():
            raise HwsqueezeError(f"{rel} is missing from {deploy_dir}")
    meta["bitfile"], meta["hwh"] = bit, hwh
    tmp = p.with_name("deploy.json.tmp")
    tmp.write_text(json.dumps(meta, indent=1))
    os.replace(tmp, p)


def _readme(meta: dict) -> str:
    has_bit = bool(meta.get("bitfile"))
    lines: List[str] = [
        f"# hwsqueeze deploy package: {meta['model']} ({meta['quant']}) for {meta['board']}", "",
        "Copy this folder to the board and use it from Jupyter or Python:", "",
        "```", f"scp -r deploy xilinx@pynq:~/hwsqueeze-{meta['board']}", "```", "",
        "On the board (PYNQ 2.7 / 3.0 image: Python 3.8+, numpy, pynq; nothing to install):", "",
        "```python", "from hwsqueeze.runtime import Accelerator", "acc = Accelerator.open('.')   # real board if pynq finds one, else emulated",
        "logits = acc.run(images_uint8_nhwc)", "```", "",
        "- `notebooks/`: classify, verify (hardware vs bit-exact reference), throughput.",
        "- `tests/`: `python -m pytest tests` compares hardware and reference outputs (`HWSQUEEZE_BOARD=1` to require the board).",
        "- `reference/`: the HW-layer graph and its integer weights for the numpy reference engine.",
        "- `hw/`: the HLS/RTL sources FINN+ generated; the emulated board reads its weights from here.", "",
        ("The bitstream is in `bitfile/`." if has_bit else
         "**No bitstream in this package**: it was built without Vivado. The notebooks and tests run against the "
         "emulated board; build on a machine with Vivado/Vitis to get `bitfile/`."), ""]
    return "\n".join(lines)
