"""``reference/graph.json`` + ``reference/weights.npz``: the HW-layer graph in the package.

Written at build time from FINN+'s final HW graph (``compile/to_reference.py`` builds the dict),
read by the reference engine and the emulated board. ``graph.json`` lists the nodes in FINN's
topological order with their FINN attributes verbatim (datatypes as names, e.g. "INT4");
``weights.npz`` holds their integer arrays in FINN's unfolded, folding-independent layout
(MVAU weights (MW, MH), thresholds (MH or 1, steps)) under keys "<node>/<array>"; which arrays a
node kind carries, by the index of the FINN node input they come from, is its ``arrays`` in
:mod:`.ops` (the list of HW ops a graph may hold).
``FireExpand`` is the project's own fused Fire-expand layer (``hls/fire_expand.hpp``): its stream
input is the 3x3 window (``KernelDim``, ``IFMChannels``), its output ``[1x1 (CH1) | 3x3 (CH3)]``,
``weights1`` (C, CH1) acting on the window's centre tap and ``weights3`` (K*K*C, CH3) on the whole
window, each with its thresholds. No pickle. numpy only, Python 3.8 compatible.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, Tuple, Union

import numpy as np

from ..errors import HwsqueezeError
from ..fsutil import atomic_write, write_json
from .datatypes import dtype_range, is_known_dtype
from .files import check_name, inside, load_npz
from .ops import OPS
from .package import DEPLOY_JSON, GRAPH_JSON, HW_DIR, WEIGHTS_NPZ, DeployMeta, read_json, read_meta
from .shapes import check_node_shapes

__all__ = ["GRAPH_FORMAT", "open_package", "read_graph", "write_graph", "validate_graph", "check_images"]

GRAPH_FORMAT = "hwsqueeze-reference/1"
MAX_NODES = 10_000  # the ImageNet SqueezeNet has ~150
_NODE_KEYS = {"name": str, "op": str, "inputs": list, "outputs": list, "attrs": dict, "arrays": dict}

PathLike = Union[str, Path]


def validate_graph(path: PathLike, graph: dict, arrays: Dict[str, np.ndarray]) -> None:
    """Structure, dataflow order, array references, node names (each becomes a folder name under
    hw/: one plain component, unique), attributes, shapes and arrays (:mod:`.shapes`); one line
    naming the node and field on failure."""
    if graph.get("format") != GRAPH_FORMAT:
        raise HwsqueezeError(f"{path}: field 'format' must be {GRAPH_FORMAT!r}, got {graph.get('format')!r}")
    for key in ("input", "output", "input_dtype", "output_dtype"):
        if not isinstance(graph.get(key), str):
            raise HwsqueezeError(f"{path}: field '{key}' must be a string")
    for key in ("input_dtype", "output_dtype"):
        if not is_known_dtype(graph[key]):
            raise HwsqueezeError(f"{path}: field '{key}' is not an integer datatype: {graph[key]!r}")
    nodes = graph.get("nodes")
    if not isinstance(nodes, list) or not 0 < len(nodes) <= MAX_NODES:
        raise HwsqueezeError(f"{path}: field 'nodes' must be a list of 1 to {MAX_NODES} nodes")
    produced, names = {graph["input"]}, set()
    for i, node in enumerate(nodes):
        name = f"#{i}"
        for key, typ in _NODE_KEYS.items():
            if not isinstance(node, dict) or not isinstance(node.get(key), typ):
                raise HwsqueezeError(f"{path}: node {name}: field '{key}' must be a {typ.__name__}")
        name = check_name(node["name"], f"{path}: node #{i}: field 'name'")
        if name in names:
            raise HwsqueezeError(f"{path}: node #{i}: field 'name' {name!r} is used by an earlier node")
        names.add(name)
        if not all(isinstance(t, str) for t in node["inputs"] + node["outputs"]):
            raise HwsqueezeError(f"{path}: node {name}: fields 'inputs' and 'outputs' must list tensor names")
        for t in node["inputs"]:
            if t not in produced:
                raise HwsqueezeError(f"{path}: node {name} reads tensor {t!r}, which no earlier node produces")
        if node["op"] == "FireExpand":  # no optional arrays: both parts always threshold
            missing = [a for _, a in OPS["FireExpand"].arrays if a not in node["arrays"]]
            if missing:
                raise HwsqueezeError(f"{path}: node {name} ({node['op']}) has no array {missing[0]!r}")
        for ref in node["arrays"].values():
            if not isinstance(ref, str) or ref not in arrays:
                raise HwsqueezeError(f"{path}: node {name} needs array {ref!r}, missing from {WEIGHTS_NPZ}")
        produced.update(node["outputs"])
    if graph["output"] not in produced:
        raise HwsqueezeError(f"{path}: the graph output {graph['output']!r} is never produced")
    check_node_shapes(str(path), graph, arrays)


def read_graph(root: PathLike) -> Tuple[dict, Dict[str, np.ndarray]]:
    """(graph, arrays) of the package at ``root``, validated."""
    root = Path(root)
    gpath, wpath = root / GRAPH_JSON, root / WEIGHTS_NPZ
    graph = read_json(inside(root, GRAPH_JSON), f"reference graph missing: {gpath}")
    arrays = load_npz(inside(root, WEIGHTS_NPZ), f"reference weights missing: {wpath}")
    validate_graph(gpath, graph, arrays)
    return graph, arrays


def open_package(root: PathLike) -> Tuple[DeployMeta, dict, Dict[str, np.ndarray]]:
    """The one validation pass when a package is opened: ``deploy.json``, the graph and its arrays,
    each checked on its own (:func:`read_meta`, :func:`read_graph`) and against each other (the
    streams deploy.json describes are the graph's input and output), and every node's folder under
    ``hw/`` inside the package. Returns (meta, graph, arrays)."""
    root = Path(root)
    meta = read_meta(root)
    graph, arrays = read_graph(root)
    gpath, mpath = root / GRAPH_JSON, root / DEPLOY_JSON
    ins, outs = meta.input, meta.output
    if list(ins.shape_normal) != graph["input_shape"] or ins.dtype != graph["input_dtype"]:
        raise HwsqueezeError(f"{mpath}: field 'input' ({ins.dtype} {list(ins.shape_normal)}) does not match {gpath}'s "
                             f"input ({graph['input_dtype']} {graph['input_shape']})")
    if meta.num_outputs != int(np.prod(graph["output_shape"])) or outs.dtype != graph["output_dtype"]:
        raise HwsqueezeError(f"{mpath}: field 'output' ({outs.dtype} {list(outs.shape_normal)}) does not match "
                             f"{gpath}'s output ({graph['output_dtype']} {graph['output_shape']})")
    for node in graph["nodes"]:
        inside(root, HW_DIR, node["name"])
    return meta, graph, arrays


def write_graph(root: PathLike, graph: dict, arrays: Dict[str, np.ndarray]) -> None:
    """Write both files (each atomically) after validating them."""
    root = Path(root)
    validate_graph(root / GRAPH_JSON, graph, arrays)
    (root / GRAPH_JSON).parent.mkdir(parents=True, exist_ok=True)
    def save(tmp: Path) -> None:
        with open(tmp, "wb") as fh:  # a file object: np.savez would append ".npz" to a name
            np.savez_compressed(fh, **arrays)

    atomic_write(root / WEIGHTS_NPZ, save)
    write_json(root / GRAPH_JSON, graph)


def check_images(images, shape: Tuple[int, ...], dtype: str) -> np.ndarray:
    """``images`` as an (N, *shape) integer array within ``dtype``'s range, else one clear error.

    A single image of ``shape`` is accepted as a batch of one.
    """
    try:
        x = np.asarray(images)
    except (ValueError, TypeError) as e:  # ragged nested lists and the like
        raise HwsqueezeError(f"images must be a rectangular array of shape (N, {', '.join(map(str, shape))}) "
                             f"({str(e).splitlines()[0][:80]})") from None
    want = tuple(int(s) for s in shape)
    if x.ndim == len(want):
        x = x[None]
    if x.ndim != len(want) + 1 or tuple(x.shape[1:]) != want:
        raise HwsqueezeError(f"images must have shape (N, {', '.join(map(str, want))}), got {tuple(x.shape)}")
    if x.shape[0] == 0:
        raise HwsqueezeError("empty batch: no images given")
    if x.dtype == bool or not np.issubdtype(x.dtype, np.integer):
        raise HwsqueezeError(f"images must be integer pixels ({dtype}), got dtype {x.dtype}")
    lo, hi = dtype_range(dtype)
    if x.min() < lo or x.max() > hi:
        raise HwsqueezeError(f"image values must be in [{lo}, {hi}] ({dtype}), got [{x.min()}, {x.max()}]")
    return x
