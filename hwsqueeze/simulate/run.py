"""Simulate every HW layer of a built graph, and the whole network, against FINN+'s Python execution.

The truth each simulation is compared with is FINN+'s own Python execution of the same HW graph
(``execute_onnx``, ``exec_mode`` python), which the build already checked against the streamlined
model: for each image we keep every intermediate tensor, give each layer exactly the input the
Python execution gave it, and require its output to be equal element for element. The network
run then chains the simulators alone (HLS layers in cppsim, RTL layers in Verilator, or Python
for RTL with ``rtl=False``) from the image to the logits.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np

from ..deploy.ops import SIMULATORS, op_of_node_type
from . import cppsim, verilator
from .env import SimEnv, prepare
from .layout import dw_params, python_to_stream_order
from .report import LayerResult, NetworkResult, Report

__all__ = ["Options", "simulate", "hw_graph", "load_images"]


def hw_graph(build_dir: Path) -> Path:
    """The HW-layer graph a build's code generation left (what every simulation reads)."""
    from ..compile.pipeline import intermediate_path

    return intermediate_path(build_dir, "hw_codegen")


@dataclass
class Options:
    images: int = 2
    layers: str = "all"  # all | hls | rtl
    network: bool = True
    jobs: int = 2
    fault: Optional[str] = None  # layer name: flip one weight in its copied sources first
    progress: bool = True
    extra: Dict[str, str] = field(default_factory=dict)


def backend(node) -> str:
    """The node's backend, "hls" or "rtl" (run in :data:`SIMULATORS`' simulator of it); a node type
    outside the list of HW ops a deploy package holds (``deploy/ops.py``) is refused in one line."""
    op_of_node_type(node.op_type, f"{node.name}")
    return node.op_type.rsplit("_", 1)[1]


def load_images(build_dir: Path, model, n: int) -> Tuple[np.ndarray, str]:
    """``n`` images in the HW graph's input layout and what they are, in words: the deploy
    package's sample images when they are real test images (the build had the data), else the
    build's deterministic synthetic verification images; repeated if fewer than ``n``."""
    from ..deploy.samples import read_samples
    from ..errors import HwsqueezeError

    deploy = build_dir / "deploy"
    samples = read_samples(deploy) if (deploy / "samples").is_dir() else None
    if samples is not None and not samples.synthetic:
        x, what = samples.images, f"real test images ({samples.source})"
    else:
        src = build_dir / "verify" / "input.npy"
        if not src.is_file():
            raise HwsqueezeError(f"{src} is missing: rebuild with `hwsqueeze build`")
        x, what = np.load(src), "synthetic images (the build had no dataset; generated shapes)"
    shape = model.get_tensor_shape(model.graph.input[0].name)
    if x.ndim == 4 and list(x.shape[1:]) != list(shape[1:]) and list(x.shape[1:]) == [shape[3], shape[1], shape[2]]:
        x = x.transpose(0, 2, 3, 1)  # NCHW verification images -> the NHWC hardware input
    idx = np.arange(n) % len(x)
    if n > len(x):
        what += f", {len(x)} distinct, repeated to {n}"
    return np.ascontiguousarray(x[idx]).astype(np.float32), what


def _python_context(model, image: np.ndarray) -> Dict[str, np.ndarray]:
    from qonnx.core.onnx_exec import execute_onnx

    return execute_onnx(model, {model.graph.input[0].name: image[None]}, return_full_exec_context=True)


def _bar(total: int, desc: str, enabled: bool):
    import sys

    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="step", file=sys.stderr, disable=not enabled, dynamic_ncols=True)


def simulate(build_dir: Path, opts: Options) -> Report:
    """Simulate every HW layer of the build at ``build_dir`` (and the network); FINN+'s compiler
    output (g++ warnings, Verilator chatter) goes to ``simulate.log`` there, not to the console."""
    from ..logs import to_file

    build_dir = Path(build_dir).resolve()
    if not hw_graph(build_dir).is_file():
        from ..errors import HwsqueezeError

        raise HwsqueezeError(f"{hw_graph(build_dir)} is missing: build first (`hwsqueeze build --out {build_dir}`)")
    with to_file(build_dir / "simulate.log", logger="finn", level=logging.DEBUG, exclusive=True):
        return _simulate(build_dir, opts)


def _simulate(build_dir: Path, opts: Options) -> Report:
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.custom_op.registry import getCustomOp

    from ..compile.finn_env import activate
    from ..compile.verify import generic_copy
    from ..errors import HwsqueezeError
    from .faults import flip_cppsim_weight, flip_initializer, flip_memblock

    build_dir = Path(build_dir).resolve()
    path = hw_graph(build_dir)
    if not path.is_file():
        raise HwsqueezeError(f"{path} is missing: build first (`hwsqueeze build --out {build_dir}`)")
    activate(build_dir)
    sim: SimEnv = prepare(build_dir)
    model = ModelWrapper(str(path))  # the simulators' copy: its nodes' exec attributes get set
    # The truth: FINN's Python execution as the build's own check runs it (the generic HW ops,
    # i.e. the same graph with *_hls/*_rtl mapped back to their Python-executable base ops).
    truth_model = generic_copy(ModelWrapper(str(path)))
    nodes = list(model.graph.node)
    want = {"all": ("hls", "rtl"), "hls": ("hls",), "rtl": ("rtl",)}[opts.layers]
    hls_names = [n.name for n in nodes if backend(n) == "hls"]  # refuses an unknown node type before any work
    rtl_names = [n.name for n in nodes if backend(n) == "rtl"]
    if opts.fault and opts.fault not in hls_names + rtl_names:
        raise HwsqueezeError(f"--inject-fault: no HW layer {opts.fault!r}")
    report = Report(board=build_dir.name, env=sim)
    t0 = time.perf_counter()

    fault_cpp = {}
    if opts.fault in hls_names:
        node = next(n for n in nodes if n.name == opts.fault)
        if len(node.input) > 1 and model.get_initializer(node.input[1]) is not None:
            report.fault = flip_initializer(model, opts.fault)
        else:
            fault_cpp = {opts.fault: flip_cppsim_weight}
    # 1. build every simulator (cached by content hash)
    sim_hls = "hls" in want or opts.network
    names_c = hls_names if sim_hls else []
    bar = _bar(len(names_c), "cppsim compile", opts.progress)
    compiled = cppsim.compile_layers(model, names_c, sim, jobs=opts.jobs, progress=lambda r: bar.update(1),
                                     mutate=fault_cpp)
    bar.close()
    built: Dict[str, verilator.RtlLayer] = {}
    if "rtl" in want or opts.network:
        bar = _bar(len(rtl_names), "verilate", opts.progress)
        for name in rtl_names:
            inst = getCustomOp(next(n for n in nodes if n.name == name))
            built[name] = verilator.build_layer(inst, sim, flip_memblock if name == opts.fault else None)
            bar.update(1)
        bar.close()
    report.compile_s = time.perf_counter() - t0
    report.compiled_cached = sum(c.cached for c in compiled.values()) + sum(b.cached for b in built.values())

    # 2. per image: FINN Python execution, then each layer on exactly its Python input
    images, report.images_source = load_images(build_dir, model, opts.images)
    results: Dict[str, LayerResult] = {}
    for n in nodes:
        b = backend(n)
        if b not in want:
            continue
        c = compiled.get(n.name) if b == "hls" else built.get(n.name)
        results[n.name] = LayerResult(n.name, n.op_type, b, SIMULATORS[b],
                                      error=(c.error if c is not None else "no simulator for this backend"))
        if b == "rtl" and c is not None and c.patches:
            results[n.name].note = "; ".join(c.patches)
    t1 = time.perf_counter()
    bar = _bar(len(images) * len(results), "layers", opts.progress)
    truth: List[Dict[str, np.ndarray]] = []
    for k, image in enumerate(images):
        ctx = _python_context(truth_model, image)
        truth.append({o.name: ctx[o.name] for o in model.graph.output})
        for n in nodes:
            res = results.get(n.name)
            if res is None:
                continue
            bar.update(1)
            if res.error:
                continue
            inst = getCustomOp(n)
            lay = dw_params(inst)
            layer_in = dict(ctx)
            want_out = {o: ctx[o] for o in n.output}
            if lay and lay[0] == "input":  # see layout.py: the Pool reads the stream order
                layer_in[n.input[0]] = python_to_stream_order(ctx[n.input[0]], *lay[1:])
            elif lay:
                want_out = {o: python_to_stream_order(ctx[o], *lay[1:]) for o in n.output}
            try:
                if res.backend == "hls":
                    out = cppsim.run_layer(model, n.name, layer_in)
                else:
                    out = verilator.run_layer(inst, built[n.name].folder, layer_in, sim.cache / "run" / n.name)
            except Exception as e:  # a crashed simulator is a failed layer, not a crashed run
                res.error = f"{type(e).__name__}: {str(e).splitlines()[0][:300] if str(e) else ''}"
                continue
            res.record(out, want_out)
    bar.close()
    report.layers_s = time.perf_counter() - t1
    report.layers = [results[n.name] for n in nodes if n.name in results]
    if report.fault and opts.fault in results:
        results[opts.fault].note = "FAULT INJECTED: " + report.fault

    # 3. the whole network through the simulators only
    if opts.network:
        use_rtl = all(b.folder is not None for b in built.values())
        net = NetworkResult("cppsim+verilator" if use_rtl and rtl_names else "cppsim (RTL layers: FINN Python)")
        t2 = time.perf_counter()
        bar = _bar(len(images), "network", opts.progress)
        for k, image in enumerate(images):
            ctx = {model.graph.input[0].name: image[None]}
            for init in model.graph.initializer:
                ctx[init.name] = model.get_initializer(init.name)
            try:
                for n in nodes:
                    b = backend(n)
                    if b == "hls" and compiled.get(n.name) and compiled[n.name].folder:
                        ctx.update(cppsim.run_layer(model, n.name, ctx))
                    elif b == "rtl" and use_rtl:
                        ctx.update(verilator.run_layer(getCustomOp(n), built[n.name].folder, ctx,
                                                       sim.cache / "run" / n.name))
                    elif b == "hls":
                        raise RuntimeError(f"{n.name} did not compile")
                    else:  # RTL without Verilator: FINN's Python execution
                        _exec_python(truth_model, n.name, ctx)
                        lay = dw_params(getCustomOp(n)) if b == "rtl" else None
                        if lay and lay[0] == "output":  # the next layer reads the stream order
                            ctx[n.output[0]] = python_to_stream_order(ctx[n.output[0]], *lay[1:])
                net.record({o.name: ctx[o.name] for o in model.graph.output}, truth[k])
            except Exception as e:
                net.error = f"{type(e).__name__}: {str(e).splitlines()[0][:300] if str(e) else ''}"
                break
            bar.update(1)
        bar.close()
        net.seconds_per_image = (time.perf_counter() - t2) / max(1, net.images)
        report.network = net
    return report


def _exec_python(truth_model, name: str, ctx: Dict[str, np.ndarray]) -> None:
    """One node as FINN's Python execution runs it (the truth model keeps its exec attributes)."""
    from qonnx.core.onnx_exec import execute_node

    from qonnx.util.basic import get_preferred_onnx_opset

    execute_node(next(n for n in truth_model.graph.node if n.name == name), ctx, truth_model.graph,
                 get_preferred_onnx_opset())
