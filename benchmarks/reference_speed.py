"""ms/image of the numpy reference as a ratio to ONNX Runtime on the QCDQ export of the same model:
same images, one thread each, measured interleaved in one run. Also, for scale, qonnx
``execute_onnx`` on the same HW-layer graph (FINN's python execution, the bit-exact peer).

Times are CPU time (``time.process_time``, best of ``--repeats``): on a shared machine the wall
time of a single-threaded run mostly measures the other processes; wall times are printed beside.

``--baseline REV`` also times the reference engine as of git revision REV (before/after of a change
to it, in the same run, each with its own default ``run()``).

Usage: python benchmarks/reference_speed.py [--build build/pynq-z2] [--n 100] [--repeats 5] [--peer-n 8]
[--baseline main]   (needs a finished build: `make build`).
"""
from __future__ import annotations

import os

# one thread each: BLAS reads these when numpy loads, so before any import of numpy
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from types import ModuleType  # noqa: E402
from typing import Callable, Dict, Tuple  # noqa: E402

import numpy as np  # noqa: E402


def _best(fns: Dict[str, Callable[[], object]], n: int, repeats: int) -> Dict[str, Tuple[float, float]]:
    """{name: (CPU ms/image, wall ms/image)}, the best of ``repeats`` rounds; the functions take
    turns within each round, so a change in the machine's load hits them alike."""
    for fn in fns.values():
        fn()  # warm-up: tables, ONNX Runtime's arena
    cpu = {k: float("inf") for k in fns}
    wall = dict(cpu)
    for _ in range(repeats):
        for k, fn in fns.items():
            c, w = time.process_time(), time.perf_counter()
            fn()
            cpu[k] = min(cpu[k], time.process_time() - c)
            wall[k] = min(wall[k], time.perf_counter() - w)
    return {k: (1e3 * cpu[k] / n, 1e3 * wall[k] / n) for k in fns}


def _engine_at(rev: str) -> ModuleType:
    """``hwsqueeze/reference/engine.py`` as of git revision ``rev``, as a module beside the current
    one (its relative imports resolve to today's ``hwsqueeze.deploy``, unchanged in this comparison)."""
    res = subprocess.run(["git", "show", f"{rev}:hwsqueeze/reference/engine.py"], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parents[1])
    if res.returncode != 0:
        raise SystemExit(f"--baseline {rev}: {res.stderr.strip()}")
    mod = importlib.util.module_from_spec(importlib.util.spec_from_loader("hwsqueeze.reference._baseline", None))
    mod.__package__ = "hwsqueeze.reference"
    exec(compile(res.stdout, f"{rev}:hwsqueeze/reference/engine.py", "exec"), mod.__dict__)
    return mod


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build/pynq-z2")
    ap.add_argument("--n", type=int, default=100, help="images per call (the batch) for the reference and ONNX Runtime")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--peer-n", type=int, default=8, help="images for qonnx execution (slow); 0 skips it")
    ap.add_argument("--baseline", metavar="REV", help="also time the reference engine of this git revision")
    args = ap.parse_args()
    build = Path(args.build)
    deploy = build / "deploy"
    from hwsqueeze.compile.pipeline import intermediate_path

    export = intermediate_path(build, "export")
    if not (deploy / "deploy.json").is_file() or not export.is_file():
        raise SystemExit(f"no deploy package or QONNX export in {build}: run `make build` first")
    if args.n < 1 or args.repeats < 1 or args.peer_n < 0:
        raise SystemExit("--n and --repeats must be >= 1, --peer-n >= 0")
    import onnxruntime as ort

    from hwsqueeze.export import qcdq_from_qonnx
    from hwsqueeze.reference import Reference

    images = np.random.default_rng(0).integers(0, 256, (args.n, 32, 32, 3), dtype=np.uint8)
    ref = Reference.from_deploy(deploy)
    scale = json.loads((deploy / "deploy.json").read_text())["output"]["scale"]
    so = ort.SessionOptions()
    so.intra_op_num_threads, so.inter_op_num_threads = 1, 1
    with tempfile.TemporaryDirectory() as tmp:
        sess = ort.InferenceSession(str(qcdq_from_qonnx(export, Path(tmp) / "qcdq.onnx")), so,
                                    providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    nchw = images.transpose(0, 3, 1, 2).astype(np.float32)  # the export's input: NCHW pixels as float
    fns = {"reference": lambda: ref.run(images), "ort": lambda: sess.run(None, {name: nchw})}
    if args.baseline:
        base = _engine_at(args.baseline).Reference.from_deploy(deploy)
        assert np.array_equal(base.run(images), ref.run(images)), f"the reference differs from {args.baseline}'s"
        fns["baseline"] = lambda: base.run(images)
    t = _best(fns, args.n, args.repeats)
    batch1 = _best({"reference": lambda: [ref.run(i[None]) for i in images[:16]],
                    "ort": lambda: [sess.run(None, {name: i[None]}) for i in nchw[:16]]}, 16, 1)
    ours = ref.run(images).reshape(args.n, -1) * scale
    theirs = sess.run(None, {name: nchw})[0].reshape(args.n, -1)
    result = {"images": args.n, "threads": 1, "time": "CPU ms/image, best of %d" % args.repeats,
              "reference_ms_per_image": round(t["reference"][0], 3),
              "onnxruntime_qcdq_ms_per_image": round(t["ort"][0], 3),
              "ratio_vs_onnxruntime_qcdq": round(t["reference"][0] / t["ort"][0], 2),
              "wall_ms_per_image": {k: round(v[1], 3) for k, v in t.items()},
              "batch1_ms_per_image": {k: round(v[0], 3) for k, v in batch1.items()},
              "top1_agreement_with_onnxruntime": f"{int((ours.argmax(1) == theirs.argmax(1)).sum())}/{args.n}"}
    if args.baseline:
        result.update({f"baseline_{args.baseline}_ms_per_image": round(t["baseline"][0], 3),
                       f"baseline_{args.baseline}_ratio_vs_onnxruntime_qcdq": round(t["baseline"][0] / t["ort"][0], 2),
                       "speedup_vs_baseline": round(t["baseline"][0] / t["reference"][0], 2)})
    if args.peer_n:
        from qonnx.core.modelwrapper import ModelWrapper

        from hwsqueeze.compile.finn_env import activate
        from hwsqueeze.compile.verify import execute

        activate(build)
        hw = ModelWrapper(str(intermediate_path(build, "hw_codegen")))
        small = images[:args.peer_n]
        qonnx_ms = _best({"qonnx": lambda: execute(hw, small)}, len(small), 1)["qonnx"][0]
        assert np.array_equal(ref.run(small).reshape(len(small), -1), execute(hw, small)), "not bit-exact!"
        result.update(qonnx_execute_onnx_ms_per_image=round(qonnx_ms, 1),
                      speedup_vs_qonnx=round(qonnx_ms / t["reference"][0], 1))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
