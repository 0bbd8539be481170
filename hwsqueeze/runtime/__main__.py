"""The board-side command, like FINN's driver scripts (numpy + pynq only, Python 3.8):

    cd ~/hwsqueeze-pynq-z2            # the deploy package
    python3 -m hwsqueeze.runtime verify [--n 16]          # hardware vs reference vs FINN's outputs
    python3 -m hwsqueeze.runtime classify IMAGE [IMAGE...] [--k 5]
    python3 -m hwsqueeze.runtime benchmark [--batch 1 8 64]
    python3 -m hwsqueeze.runtime throughput_test [--batch-size 1]  # finn-plus-driver's keys + "target", JSON

``--deploy DIR`` (default: the package this code sits in, else the current folder),
``--emulated`` forces the emulated board, ``--debug`` shows the traceback of an error. Exit codes
as ``hwsqueeze``'s (hwsqueeze/errors.py): 0 ok, 2 bad input, 5 mismatch, 70 internal error,
130 interrupted; every failure is one ``error: ...`` line.
"""
from __future__ import annotations

import argparse
import json
import sys
import traceback
from pathlib import Path
from typing import List, Optional

import numpy as np

from ..errors import BAD_INPUT, VERIFY_FAILED, HwsqueezeError, failure

def _default_deploy() -> Path:
    here = Path(__file__).resolve().parents[2]  # <package>/hwsqueeze/runtime/__main__.py
    return here if (here / "deploy.json").is_file() else Path.cwd()


def _load_image(path: str, size: int) -> np.ndarray:
    """Centre square crop, resized to the model's input (as the classify notebook does)."""
    from .testset import MAX_IMAGE_BYTES, decode_image

    try:
        with open(path, "rb") as f:
            data = f.read(MAX_IMAGE_BYTES + 1)
    except OSError as e:
        raise HwsqueezeError(f"{path}: not a readable image ({e.strerror or e})") from None
    return decode_image(data, path, size)


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


class _Parser(argparse.ArgumentParser):
    """argparse with usage errors as one ``error:`` line, exit 2 (argparse prints the usage too)."""

    def error(self, message: str):
        print(f"error: {message} (see `{self.prog} --help`)", file=sys.stderr)
        sys.exit(BAD_INPUT)


def main(argv: Optional[List[str]] = None) -> int:
    ap = _Parser(prog="python3 -m hwsqueeze.runtime", description=__doc__.split("\n\n")[0])
    ap.add_argument("--deploy", type=Path, default=None, help="the deploy package folder")
    ap.add_argument("--emulated", action="store_true", help="use the emulated board even on a PYNQ board")
    ap.add_argument("--debug", action="store_true", help="show the traceback of an error")
    sub = ap.add_subparsers(dest="cmd", required=True)
    v = sub.add_parser("verify", help="hardware vs reference and FINN+'s outputs on the sample images")
    v.add_argument("--n", type=int, default=16)
    c = sub.add_parser("classify", help="top-k classes of image files")
    c.add_argument("images", nargs="+")
    c.add_argument("--k", type=int, default=5)
    b = sub.add_parser("benchmark", help="images/s and latency per batch size")
    b.add_argument("--batch", type=int, nargs="+", default=[1, 8, 64])
    t = sub.add_parser("throughput_test", help="finn-plus-driver's throughput_test, as JSON (plus \"target\")")
    t.add_argument("--batch-size", type=int, default=1, help="images per run (FINN's batch_size)")
    args = ap.parse_args(argv)
    try:
        return _main(args)
    except (Exception, KeyboardInterrupt) as e:  # one line and the CLI's exit code, never a traceback
        if args.debug:
            traceback.print_exc()
        line, code = failure(e)
        print(line, file=sys.stderr)
        return code


def _main(args: argparse.Namespace) -> int:
    """The command itself; :func:`main` turns any failure into one line and an exit code."""
    from . import Accelerator

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
        acc.batch_size = args.batch_size
        print(json.dumps(acc.throughput_test()))
        return 0


if __name__ == "__main__":
    sys.exit(main())
