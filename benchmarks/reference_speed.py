"""ms/image of the numpy reference against its peers, measured in the same run on the same inputs:

* qonnx ``execute_onnx`` on the same HW-layer graph (FINN's python execution, the bit-exact peer),
* onnxruntime on a float export of the same trained model (what a CPU deployment would use).

Usage: python benchmarks/reference_speed.py [--build build/pynq-z2] [--n 256] [--peer-n 8]
(needs a finished build; run `make build` first).
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np


def _ms_per_image(fn, images, repeats: int = 3) -> float:
    fn(images[:2])  # warm-up
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn(images)
        best = min(best, time.perf_counter() - t)
    return 1e3 * best / len(images)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build/pynq-z2")
    ap.add_argument("--n", type=int, default=256, help="images for the reference and onnxruntime")
    ap.add_argument("--peer-n", type=int, default=8, help="images for qonnx execution (slow)")
    args = ap.parse_args()
    build = Path(args.build)
    deploy = build / "deploy"
    if not (deploy / "deploy.json").is_file():
        raise SystemExit(f"no deploy package in {build}: run `make build` first")
    from hwsqueeze.reference import Reference

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (args.n, 32, 32, 3), dtype=np.uint8)
    ref = Reference.from_deploy(deploy)
    ref_ms = _ms_per_image(ref.run, images)
    ref_batch1_ms = _ms_per_image(lambda x: [ref.run(i[None]) for i in x], images[:32], repeats=1)

    from qonnx.core.modelwrapper import ModelWrapper

    from hwsqueeze.compile.finn_env import activate
    from hwsqueeze.compile.verify import execute as _execute
    from hwsqueeze.compile.pipeline import intermediate_path

    activate(build)
    hw = ModelWrapper(str(intermediate_path(build, "hw_codegen")))
    small = images[: args.peer_n]
    qonnx_ms = _ms_per_image(lambda x: _execute(hw, x), small, repeats=1)
    assert np.array_equal(ref.run(small).reshape(len(small), -1), _execute(hw, small)), "not bit-exact!"

    import onnxruntime as ort
    import torch

    from hwsqueeze.train import DEFAULT_CHECKPOINT, model_from_checkpoint
    from hwsqueeze.train.checkpoint import build_model

    _, ck = model_from_checkpoint(DEFAULT_CHECKPOINT)
    cfg = {**ck["config"], "quant": "float", "quant_spec": None}
    fmodel = build_model(cfg).eval()
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "float.onnx")
        torch.onnx.export(fmodel, torch.zeros(1, 3, 32, 32), path, input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {0: "n"}}, dynamo=False)
        so = ort.SessionOptions()
        so.intra_op_num_threads = 2
        sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        ort_ms = _ms_per_image(lambda x: sess.run(None, {"x": x.transpose(0, 3, 1, 2).astype(np.float32)}), images)
    print(json.dumps({"images": args.n, "reference_ms_per_image": round(ref_ms, 3),
                      "reference_batch1_ms_per_image": round(ref_batch1_ms, 3),
                      "qonnx_execute_onnx_ms_per_image": round(qonnx_ms, 1),
                      "onnxruntime_float_ms_per_image": round(ort_ms, 3),
                      "speedup_vs_qonnx": round(qonnx_ms / ref_ms, 1),
                      "ratio_vs_onnxruntime_float": round(ref_ms / ort_ms, 2)}, indent=1))


if __name__ == "__main__":
    main()
