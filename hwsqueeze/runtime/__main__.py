"""The board-side command, like FINN's driver scripts (numpy + pynq only, Python 3.8):

    cd ~/hwsqueeze-pynq-z2            # the deploy package
    python3 -m hwsqueeze.runtime verify [--n 16]          # hardware vs reference vs FINN's outputs
    python3 -m hwsqueeze.runtime classify IMAGE [IMAGE...] [--k 5]
    python3 -m hwsqueeze.runtime benchmark [--batch 1 8 64]
    python3 -m hwsqueeze.runtime throughput_test          # finn-plus-driver's keys, as JSON

``--deploy DIR`` (default: the package this code sits in, else the current folder),
``--emulated`` forces the emulated board. Exit codes: 0 ok, 2 bad input, 5 mismatch.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import List, Optional

import numpy as np

from ..errors import BAD_INPUT, VERIFY_FAILED, HwsqueezeError


def _default_deploy() -> Path:
    here = Path(__file__).resolve().parents[2]  # <package>/hwsqueeze/runtime/__main__.py
    return here if (here / "deploy.json").is_file() else Path.cwd()


def _load_image(path: str, size: int) -> np.ndarray:
    """Centre square crop, resized to the model's input (as the classify notebook does)."""
    try:
        from PIL import Image
    except ImportError:
        raise HwsqueezeError("classify needs Pillow to read image files (PYNQ images have it)") from None
    try:
        im = Image.open(path).convert("RGB")
    except (OSError, ValueError) as e:
        raise HwsqueezeError(f"{path}: not a readable image ({e})") from None
    side = min(im.size)
    im = im.crop(((im.width - side) // 2, (im.height - side) // 2, (im.width + side) // 2, (im.height + side) // 2))
    return np.asarray(im.resize((size, size), Image.BILINEAR), dtype=np.uint8)


def _verify(acc, deploy: Path, n: int) -> int:
    from ..deploy.samples import read_samples
    from ..reference import Reference

    samples = read_samples(deploy, n)
    if samples.expected is None:
        raise HwsqueezeError(f"{deploy}: the package has no FINN+ outputs for its samples (rebuild it)")
    images = samples.images
    hw = np.asarray(acc.run(images)).reshape(len(images), -1)
    sw = np.asarray(Reference.from_deploy(deploy).run(images)).reshape(len(images), -1)
    finn = samples.expected.reshape(len(images), -1)
    bad_sw, bad_finn = int((hw != sw).any(1).sum()), int((hw != finn).any(1).sum())
    print(f"{len(images)} sample images: {bad_sw} mismatches vs the reference, {bad_finn} vs FINN+'s outputs")
    return VERIFY_FAILED if bad_sw or bad_finn else 0


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python3 -m hwsqueeze.runtime", description=__doc__.split("\n\n")[0])
    ap.add_argument("--deploy", type=Path, default=None, help="the deploy package folder")
    ap.add_argument("--emulated", action="store_true", help="use the emulated board even on a PYNQ board")
    sub = ap.add_subparsers(dest="cmd", required=True)
    v = sub.add_parser("verify", help="hardware vs reference and FINN+'s outputs on the sample images")
    v.add_argument("--n", type=int, default=16)
    c = sub.add_parser("classify", help="top-k classes of image files")
    c.add_argument("images", nargs="+")
    c.add_argument("--k", type=int, default=5)
    b = sub.add_parser("benchmark", help="images/s and latency per batch size")
    b.add_argument("--batch", type=int, nargs="+", default=[1, 8, 64])
    sub.add_parser("throughput_test", help="finn-plus-driver's throughput_test, as JSON")
    args = ap.parse_args(argv)
    from . import Accelerator

    try:
        deploy = args.deploy or _default_deploy()
        if args.cmd == "verify" and args.n < 1:
            raise HwsqueezeError(f"--n must be at least 1, got {args.n}")
        with Accelerator.open(deploy, emulated=True if args.emulated else None) as acc:
            print(f"running on: {acc.target.upper()} ({acc.why})")
            if args.cmd == "verify":
                return _verify(acc, deploy, args.n)
            if args.cmd == "classify":
                size = acc.in_shape[0]
                x = np.stack([_load_image(p, size) for p in args.images])
                top, scores = acc.classify(x, k=args.k)
                for path, t, s in zip(args.images, top, scores):
                    print(f"{path}: " + ", ".join(f"{acc.meta.class_name(int(j))} {float(v):.2f}" for j, v in zip(t, s)))
                return 0
            if args.cmd == "benchmark":
                for r in acc.benchmark(batch_sizes=args.batch):
                    print(f"batch {r['batch']:4d}: {r['fps']:9.1f} images/s, {r['latency_ms']:8.2f} ms ({r['target']})")
                return 0
            print(json.dumps(acc.throughput_test()))
            return 0
    except HwsqueezeError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code or BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
