"""Wall time of each build stage for the shipped default model (up to the deploy package).

Peer in the same run: FINN+'s stock ``Streamline()`` on the same graph, against our
fork/concat-aware streamlining (which runs it to a fixed point), reported as a ratio.
Usage: python benchmarks/build_stages.py [--board pynq-z2] [--out DIR]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--board", default="pynq-z2")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    out = Path(args.out or tempfile.mkdtemp(prefix="hwsq-bench-"))
    exe = Path(sys.executable).with_name("hwsqueeze")
    t0 = time.time()
    res = subprocess.run([str(exe), "build", "--board", args.board, "--out", str(out), "--quiet"],
                         capture_output=True, text=True)
    total = time.time() - t0
    if res.returncode != 0:
        sys.exit(f"build failed: {res.stderr.strip().splitlines()[-1] if res.stderr.strip() else res.returncode}")
    state = json.loads((out / "build_state.json").read_text())
    stages = state["timings_s"]

    from qonnx.core.modelwrapper import ModelWrapper

    from hwsqueeze.compile.finn_env import activate
    from hwsqueeze.compile.pipeline import intermediate_path
    from hwsqueeze.compile.transforms.forks import StreamlineForksAndJoins

    activate(out / "bench_finn")
    from finn.transformation.streamline import Streamline

    src = str(intermediate_path(out, "qonnx_to_finn"))
    t = time.time()
    ModelWrapper(src).transform(Streamline())
    peer = time.time() - t
    t = time.time()
    StreamlineForksAndJoins().apply(ModelWrapper(src))
    ours = time.time() - t
    print(json.dumps({"board": args.board, "total_s": round(total, 1), "stages_s": stages,
                      "streamline_ours_s": round(ours, 2), "streamline_finn_stock_s": round(peer, 2),
                      "ratio_ours_vs_stock": round(ours / peer, 2)}, indent=1))


if __name__ == "__main__":
    main()
