"""C++ simulation (FINN+'s cppsim, compiled with g++) of the HLS layers of a HW graph.

FINN+ does the real work: ``code_generation_cppsim`` writes the layer's test bench, FINN's own
``compile_singlenode_code`` compiles it (its g++ line, with the stand-ins of :mod:`.env`) and
``execute_node`` in ``cppsim`` mode runs it on a tensor. What we add:

* a content-hash cache: a layer's generated sources (its folder path replaced by a placeholder)
  plus :attr:`SimEnv.fingerprint` name a folder ``<cache>/cppsim/<hash>``; the sources are
  regenerated *there* (the test bench has its folder's absolute path compiled in) and compiled
  once. A second run, or an identical layer elsewhere, reuses the executable;
* compiling up to ``jobs`` layers at once (g++ runs in subprocesses, so threads suffice).
"""
from __future__ import annotations

import hashlib
import shutil
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional

import numpy as np

from .env import SimEnv

__all__ = ["CompiledLayer", "compile_layers", "run_layer"]

_PLACEHOLDER = b"@CODEGEN_DIR@"
_LOCKS: Dict[str, threading.Lock] = {}  # one per hash: identical layers compile once, not twice at once
_LOCKS_GUARD = threading.Lock()


@dataclass
class CompiledLayer:
    name: str
    folder: Optional[Path]  # <cache>/cppsim/<hash>, None when compiling failed
    cached: bool
    seconds: float
    error: str = ""


def _source_hash(folder: Path, fingerprint: str) -> str:
    h = hashlib.sha256(fingerprint.encode())
    needle = str(folder).encode()
    for p in sorted(q for q in folder.rglob("*") if q.is_file()):
        h.update(p.relative_to(folder).as_posix().encode())
        h.update(p.read_bytes().replace(needle, _PLACEHOLDER))
    return h.hexdigest()[:20]


def _generate(inst, model, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    inst.set_nodeattr("code_gen_dir_cppsim", str(folder))
    inst.code_generation_cppsim(model)


def _compile_one(inst, model, sim: SimEnv, mutate: Optional[Callable[[Path], str]] = None) -> CompiledLayer:
    name = inst.onnx_node.name
    t0 = time.perf_counter()
    stage = sim.cache / "cppsim" / "stage" / name  # names are unique within a graph
    shutil.rmtree(stage, ignore_errors=True)
    _generate(inst, model, stage)
    if mutate is not None:  # fault injection: the changed sources hash (and cache) apart
        mutate(stage)
    key = _source_hash(stage, sim.fingerprint)
    shutil.rmtree(stage, ignore_errors=True)
    folder = sim.cache / "cppsim" / key
    with _LOCKS_GUARD:
        lock = _LOCKS.setdefault(key, threading.Lock())
    with lock:
        return _compile_in(inst, model, folder, name, t0, mutate)


def _compile_in(inst, model, folder: Path, name: str, t0: float, mutate) -> CompiledLayer:
    exe = folder / "node_model"
    if (folder / ".ok").is_file() and exe.is_file():
        inst.set_nodeattr("code_gen_dir_cppsim", str(folder))
        inst.set_nodeattr("executable_path", str(exe))
        return CompiledLayer(name, folder, True, time.perf_counter() - t0)
    shutil.rmtree(folder, ignore_errors=True)
    _generate(inst, model, folder)
    if mutate is not None:
        (folder / "FAULT").write_text(mutate(folder) + "\n")
    try:
        inst.compile_singlenode_code()  # FINN+'s own g++ line (folder/compile.sh)
    except subprocess.CalledProcessError as e:
        first = [ln for ln in (e.stderr or "").splitlines() if "error" in ln][:3]
        return CompiledLayer(name, None, False, time.perf_counter() - t0, "g++: " + " | ".join(first)[:600])
    if not exe.is_file():
        return CompiledLayer(name, None, False, time.perf_counter() - t0, "g++ produced no executable")
    (folder / ".ok").write_text(name + "\n")
    return CompiledLayer(name, folder, False, time.perf_counter() - t0)


def compile_layers(model, names: List[str], sim: SimEnv, jobs: int = 2,
                   progress: Optional[Callable[[CompiledLayer], None]] = None,
                   mutate: Optional[Dict[str, Callable[[Path], str]]] = None) -> Dict[str, CompiledLayer]:
    """Generate and compile (or fetch from the cache) the cppsim executable of each named layer.

    Sets each node's ``code_gen_dir_cppsim``/``executable_path`` in ``model`` (a copy the caller
    owns). Layers with the same hash are compiled once (a per-hash lock serialises them).
    """
    from qonnx.custom_op.registry import getCustomOp

    by_name = {n.name: n for n in model.graph.node}
    out: Dict[str, CompiledLayer] = {}

    def work(name: str) -> CompiledLayer:
        res = _compile_one(getCustomOp(by_name[name]), model, sim, (mutate or {}).get(name))
        if progress:
            progress(res)
        return res

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for res in pool.map(work, names):
            out[res.name] = res
    return out


def run_layer(model, name: str, context: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
    """Run one compiled layer on the tensors in ``context`` (its inputs); returns its outputs.

    This is FINN+'s ``execute_node`` in ``cppsim`` mode: it writes ``input_i.npy`` into the
    layer's folder, runs the executable and reads ``output_i.npy`` back.
    """
    from qonnx.custom_op.registry import getCustomOp

    node = next(n for n in model.graph.node if n.name == name)
    inst = getCustomOp(node)
    inst.set_nodeattr("exec_mode", "cppsim")
    ctx = dict(context)
    for i in node.input:  # parameters from the simulators' graph (FINN streams them at run time)
        init = model.get_initializer(i)
        if init is not None:
            ctx[i] = init
    for o in node.output:
        ctx.pop(o, None)
    inst.execute_node(ctx, model.graph)
    return {o: ctx[o] for o in node.output}
