"""Training throughput of the real `hwsqueeze train` loop: 1 process vs torchrun with 2 gloo
processes (1 thread each), and 1 process using all cores' threads; one GPU process when CUDA
is available. (On a machine shared with other jobs, OpenMP threads of one process that wait
for each other on busy cores can be far slower than one thread per process.)

Each run trains 1 epoch of generated data (default: squeezenet1_1-cifar10, float, bf16
autocast, global batch 256, 2,560 images = 10 steps) and reports ``images_per_s`` (all
processes) and ``images_per_s_per_process`` from its metrics.json; the ratio 2-vs-1 is the
scaling. Usage: python benchmarks/train_scale.py [--quant float] [--images 2560] [--batch 256]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import torch


def run(nproc: int, device: str, args, threads: int) -> dict:
    out = Path(tempfile.mkdtemp(prefix="hwsqueeze-scale-")) / "run"
    exe = str(Path(sys.executable).parent / "hwsqueeze")
    cmd = [exe, "train", "--data", f"generated:{args.images}", "--out", str(out), "--model", args.model,
           "--quant", args.quant, "--epochs", "1", "--batch-size", str(args.batch), "--max-test", "256",
           "--device", device, "--quiet", "--threads", str(threads)]
    if nproc > 1:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(nproc), *cmd]
    r = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": str(threads)})
    if r.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{r.stderr[-2000:]}")
    return json.loads((out / "metrics.json").read_text())["epochs"][-1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="squeezenet1_1-cifar10")
    ap.add_argument("--quant", default="float")
    ap.add_argument("--images", type=int, default=2560)
    ap.add_argument("--batch", type=int, default=256)
    a = ap.parse_args()
    cores = os.cpu_count() or 1
    res = {"cpu-1proc-1thread": run(1, "cpu", a, 1), "cpu-2proc-gloo-1thread": run(2, "cpu", a, 1),
           f"cpu-1proc-{cores}threads": run(1, "cpu", a, cores)}
    if torch.cuda.is_available():
        res["cuda-1proc"] = run(1, "cuda", a, cores)
    print(f"training throughput, {a.model} {a.quant}, global batch {a.batch}, {cores} CPU cores")
    for k, m in res.items():
        print(f"  {k:16s} {m['images_per_s']:8.0f} img/s total  {m['images_per_s_per_process']:8.0f} per process")
    if "cuda-1proc" not in res:
        print("  cuda: not measured (no CUDA GPU visible)")
    scaling = res["cpu-2proc-gloo-1thread"]["images_per_s"] / res["cpu-1proc-1thread"]["images_per_s"]
    same = res["cpu-2proc-gloo-1thread"]["images_per_s"] / res[f"cpu-1proc-{cores}threads"]["images_per_s"]
    print(f"  2 gloo processes vs 1 (1 thread each): {scaling:.2f}x; vs 1 process on {cores} threads: {same:.2f}x")
    print(json.dumps({k: {"images_per_s": m["images_per_s"], "per_process": m["images_per_s_per_process"]}
                      for k, m in res.items()} | {"scaling_2_vs_1": scaling, "vs_1proc_all_threads": same}))


if __name__ == "__main__":
    main()
