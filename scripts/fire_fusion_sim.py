"""C++ simulation of every fused Fire-expand layer of a ``--fuse-fire`` build against the *unfused* HW
graph of the same model (a build without ``--fuse-fire``), on the package's real sample images:
per Fire module, FINN+'s cppsim of ``FireExpand_hls`` vs FINN+'s Python execution of the unfused graph's
StreamingConcat output (and of the fused graph's node); whole network, the fused layers in cppsim and
every other layer in FINN+'s Python execution, vs the unfused network's output.
Usage: python scripts/fire_fusion_sim.py FUSED_BUILD UNFUSED_BUILD [N_IMAGES]
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np


def main() -> None:
    fused_dir, unfused_dir = Path(sys.argv[1]), Path(sys.argv[2])
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 16
    from hwsqueeze.compile.finn_env import activate

    activate(fused_dir)
    from qonnx.core.modelwrapper import ModelWrapper

    from hwsqueeze.compile.verify import generic_copy
    from hwsqueeze.simulate import cppsim
    from hwsqueeze.simulate.env import prepare
    from hwsqueeze.simulate.run import _exec_python, _python_context, hw_graph

    t0 = time.time()
    model = ModelWrapper(str(hw_graph(fused_dir)))
    names = [x.name for x in model.graph.node if x.op_type == "FireExpand_hls"]
    compiled = cppsim.compile_layers(model, names, prepare(fused_dir), jobs=2)
    errors = {k: c.error for k, c in compiled.items() if c.error}
    if errors:
        sys.exit(f"compile failed: {errors}")
    truth = generic_copy(ModelWrapper(str(hw_graph(fused_dir))))
    unfused = generic_copy(ModelWrapper(str(unhw_graph(fused_dir))))
    images = np.load(fused_dir / "deploy" / "samples" / "images.npy")[:n].astype(np.float32)
    layers, network = {k: 0 for k in names}, 0
    for img in images:
        ctx, uctx = _python_context(truth, img), _python_context(unfused, img)
        for x in (x for x in model.graph.node if x.name in names):
            out = cppsim.run_layer(model, x.name, ctx)[x.output[0]]  # on the Python execution's input
            layers[x.name] += int(np.array_equal(out, ctx[x.output[0]]) and np.array_equal(out, uctx[x.output[0]]))
        net = {k: np.zeros_like(v) for k, v in ctx.items()}  # shapes only: every tensor is written before read
        net[model.graph.input[0].name] = img[None]
        for init in model.graph.initializer:
            net[init.name] = model.get_initializer(init.name)
        for x in model.graph.node:
            if x.name in names:
                net.update(cppsim.run_layer(model, x.name, net))
            else:
                _exec_python(truth, x.name, net)
        network += int(np.array_equal(net[model.graph.output[0].name], uctx[unfused.graph.output[0].name]))
    print(json.dumps({"images": len(images), "fire_layers_bit_exact_vs_unfused": layers,
                      "network_bit_exact_vs_unfused": network, "seconds": round(time.time() - t0)}))


if __name__ == "__main__":
    main()
