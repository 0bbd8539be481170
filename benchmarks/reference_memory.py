"""Peak memory of the numpy reference on many images: streamed in chunks (``Reference.run``)
against keeping every intermediate (``run(trace=True)``, what ``run`` did before), measured in
the same run with tracemalloc (numpy reports its buffers to it).

Usage: python benchmarks/reference_memory.py [--build build/pynq-z2] [--n 10000] [--peer-n 200]
(needs a finished build; run `make build` first). Prints one JSON object.
"""
from __future__ import annotations

import argparse
import json
import time
import tracemalloc
from pathlib import Path

import numpy as np


def _peak_mb(fn) -> float:
    tracemalloc.start()
    tracemalloc.reset_peak()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2 ** 20


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build/pynq-z2")
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--peer-n", type=int, default=200, help="images for the keep-everything peer")
    args = ap.parse_args()
    deploy = Path(args.build) / "deploy"
    if not (deploy / "deploy.json").is_file():
        raise SystemExit(f"no deploy package in {args.build}: run `make build` first")
    from hwsqueeze.reference import Reference

    ref = Reference.from_deploy(deploy)
    shape = tuple(ref.input_shape[1:])
    images = np.random.default_rng(0).integers(0, 256, (args.n,) + shape, dtype=np.uint8)
    input_mb = images.nbytes / 2 ** 20
    ref.run(images[:2])  # builds the lookup tables once, outside the measurement
    t = time.perf_counter()
    streamed = _peak_mb(lambda: ref.run(images))
    seconds = time.perf_counter() - t
    keep_all = _peak_mb(lambda: ref.run(images[:args.peer_n], trace=True))
    per_image = keep_all / args.peer_n
    print(json.dumps({
        "images": args.n, "input_mb": round(input_mb, 1),
        "streamed_peak_mb": round(streamed, 1), "streamed_seconds": round(seconds, 1),
        "keep_all_mb_per_image": round(per_image, 3),
        "keep_all_peak_mb_extrapolated": round(per_image * args.n, 0),
        "ratio_keep_all_vs_streamed": round(per_image * args.n / streamed, 1),
    }))


if __name__ == "__main__":
    main()
