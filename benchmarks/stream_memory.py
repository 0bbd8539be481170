"""Peak memory of the streaming loader vs the decode-once cache on generated image folders.

Writes ImageNet-layout folders ({train,test}/{class}/*.jpg, 32x32 so the cache can read them
too) of 10k and 100k images, then measures, each in a fresh process, the peak proportional set
size (PSS: shared pages split between processes, so DataLoader workers are not counted twice)
of the whole process tree, sampled every 50 ms, while it
- cache: decodes the training split into the uint8 cache (``load_dataset``, cache writing off);
- stream: runs one epoch of ``--loader stream`` batches (batch 256, 2 workers, random-resized-crop).
Usage: python benchmarks/stream_memory.py [--sizes 10000 100000] [--root /tmp/hwsqueeze-stream-bench]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import psutil

CACHE = "from hwsqueeze.data import load_dataset; ds = load_dataset({root!r}, 'train', size=32, cache=False); print(len(ds))"
STREAM = """
import torch
from hwsqueeze.data.batches import GlobalBatchSampler
from hwsqueeze.data.stream import ImageFolderStream, stream_loader
ds = ImageFolderStream({root!r}, 'train', 32, train=True)
n = sum(len(y) for _, y in stream_loader(ds, GlobalBatchSampler(len(ds), 256, 0), 2, False))
print(n)
"""


def make_folder(root: Path, n: int, classes: int = 100) -> Path:
    from PIL import Image

    if (root / "done").is_file():
        return root
    rng = np.random.default_rng(0)
    for split, count in (("train", n), ("test", classes)):
        for i in range(count):
            d = root / split / f"n{i % classes:08d}"
            if i < classes:
                d.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(d / f"{i:07d}.jpg", quality=90)
    (root / "done").write_text("ok")
    return root


def peak_pss(code: str) -> tuple:
    """(peak MiB of the process tree, seconds, stdout) of ``python -c code``."""
    t = time.time()
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    proc, peak = psutil.Process(p.pid), 0
    while p.poll() is None:
        total = 0
        for q in [proc, *proc.children(recursive=True)]:
            try:
                total += q.memory_full_info().pss
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                pass
        peak = max(peak, total)
        time.sleep(0.05)
    out = p.stdout.read().strip()
    if p.returncode:
        raise SystemExit(f"benchmark child failed ({p.returncode})")
    return peak / 2**20, time.time() - t, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--root", default="/tmp/hwsqueeze-stream-bench")
    a = ap.parse_args()
    res = {}
    for n in a.sizes:
        t = time.time()
        root = make_folder(Path(a.root) / f"n{n}", n)
        print(f"{n} images: folder ready ({time.time() - t:.0f} s)", flush=True)
        for kind, code in (("cache", CACHE), ("stream", STREAM)):
            mib, secs, out = peak_pss(code.format(root=str(root)))
            res[f"{kind}-{n}"] = {"peak_mib": round(mib, 1), "seconds": round(secs, 1), "images": int(out)}
            print(f"  {kind:6s} peak {mib:7.0f} MiB  {secs:6.1f} s  ({out} images)", flush=True)
    print(json.dumps(res))


if __name__ == "__main__":
    main()
