"""The whole CIFAR-10 test set through the bit-exact reference and through the trained model
(Brevitas, whose QONNX export matches it to float precision; see `hwsqueeze export`): accuracy of
both, top-1 agreement, and how many images' logits differ (threshold-boundary float rounding
in the float model; see compile/steps.py). Also the emulated accelerator against the reference.

Usage: python benchmarks/reference_vs_model.py [--build build/pynq-z2] [--checkpoint NAME|FILE]
                                               [--data ../shared/data/cifar10-jpeg.tar.gz] [--n N]
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build/pynq-z2")
    ap.add_argument("--data", default="../shared/data/cifar10-jpeg.tar.gz")
    ap.add_argument("--n", type=int, default=None, help="only N test images, drawn across the classes")
    ap.add_argument("--checkpoint", default=None, help="the trained model to compare with (file or shipped model's "
                    "name; default: the one the build records in build_state.json)")
    args = ap.parse_args()
    deploy = Path(args.build) / "deploy"
    from hwsqueeze.data import load_dataset
    from hwsqueeze.deploy import read_meta
    from hwsqueeze.models import predict
    from hwsqueeze.reference import Reference
    from hwsqueeze.runtime import Accelerator
    from hwsqueeze.train import model_from_checkpoint
    from hwsqueeze.train.shipped import checkpoint_path

    ds = load_dataset(args.data, "test").subset(args.n)  # class-balanced: the archive is sorted by class
    images, labels = ds.images, ds.labels
    meta = read_meta(deploy)
    ref = Reference.from_deploy(deploy)
    t = time.time()
    sw = np.concatenate([ref.run(images[i:i + 500]) for i in range(0, len(images), 500)]).reshape(len(images), -1)
    ref_s = time.time() - t
    with Accelerator.emulated(deploy) as acc:
        hw = acc.run(images).reshape(len(images), -1)
    state = Path(args.build) / "build_state.json"
    recorded = json.loads(state.read_text()).get("source", {}).get("checkpoint") if state.is_file() else None
    checkpoint = checkpoint_path(args.checkpoint or recorded)
    model, _ = model_from_checkpoint(checkpoint)
    fl = predict(model, images)
    logits = sw * meta.output.scale
    differ = np.abs(logits - fl).max(1) > 1e-4 * np.abs(fl).max()
    print(json.dumps({"checkpoint": str(checkpoint), "n": int(len(images)),
                      "reference_top1": float((sw.argmax(1) == labels).mean()),
                      "model_top1": float((fl.argmax(1) == labels).mean()),
                      "top1_agreement": float((sw.argmax(1) == fl.argmax(1)).mean()),
                      "images_with_differing_logits": int(differ.sum()),
                      "emulated_vs_reference_mismatches": int((hw != sw).any(1).sum()),
                      "reference_s": round(ref_s, 1)}, indent=1))


if __name__ == "__main__":
    main()
