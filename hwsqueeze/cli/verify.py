"""`hwsqueeze verify`: the accelerator (real or emulated board) against the bit-exact reference."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import click
import numpy as np

from ..errors import HwsqueezeError

_CHUNK = 256


def _images(deploy: Path, data: Optional[str], n: int):
    """(uint8 NHWC images, labels or None) from --data (test split) or the package's samples."""
    if data:
        from ..data import load_dataset

        ds = load_dataset(data, "test")
        return ds.images[:n], ds.labels[:n]
    samples = deploy / "samples" / "images.npy"
    if not samples.is_file():
        raise HwsqueezeError(f"no --data given and {samples} is missing")
    images = np.load(samples, allow_pickle=False)[:n]
    return images, None  # generated samples have no meaningful class labels


@click.command()
@click.option("--deploy", "deploy_dir", required=True, type=click.Path(file_okay=False),
              help="A deploy package (build/<board>/deploy).")
@click.option("--emulated", is_flag=True, help="Use the register-level emulated board instead of a real one.")
@click.option("--data", default=None, help="Dataset (image folder, .tar.gz or CIFAR batches); default: samples.")
@click.option("--n", "n", type=click.IntRange(1), default=100, show_default=True, help="Images to compare.")
@click.option("--inject-fault", is_flag=True, help="Emulated only: flip one weight bit in the emulated hardware.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def verify(deploy_dir: str, emulated: bool, data: Optional[str], n: int, inject_fault: bool, as_json: bool) -> None:
    """Run N images through the accelerator and the reference; exit 1 on any mismatch."""
    from ..reference import Reference
    from ..runtime import Accelerator

    deploy = Path(deploy_dir)
    if not (deploy / "deploy.json").is_file():
        raise HwsqueezeError(f"{deploy} is not a deploy package (no deploy.json)")
    if inject_fault and not emulated:
        raise HwsqueezeError("--inject-fault needs --emulated (it changes the emulated hardware)")
    images, labels = _images(deploy, data, n)
    if len(images) == 0:
        raise HwsqueezeError("no images to verify")
    acc = (Accelerator.emulated(deploy, fault="flip_weight_bit" if inject_fault else None) if emulated
           else Accelerator(deploy))
    ref = Reference.from_deploy(deploy)
    hw_out, sw_out = [], []
    try:
        from tqdm import tqdm

        bar = tqdm(total=len(images), desc="verify", unit="img", file=sys.stderr, disable=len(images) <= _CHUNK)
        for i in range(0, len(images), _CHUNK):
            batch = images[i:i + _CHUNK]
            hw_out.append(np.asarray(acc.run(batch)))
            sw_out.append(np.asarray(ref.run(batch)))
            bar.update(len(batch))
        bar.close()
    finally:
        acc.close()
    hw, sw = np.concatenate(hw_out), np.concatenate(sw_out)
    hw2, sw2 = hw.reshape(len(hw), -1), sw.reshape(len(sw), -1)
    bad = np.flatnonzero((hw2 != sw2).any(axis=1))
    out = {"n": int(len(hw)), "mismatches": int(len(bad)), "target": getattr(acc, "target", "board"),
           "fault_injected": bool(inject_fault),
           "hw_top1": float((hw2.argmax(1) == labels).mean()) if labels is not None else None,
           "sw_top1": float((sw2.argmax(1) == labels).mean()) if labels is not None else None,
           "top1_agreement": float((hw2.argmax(1) == sw2.argmax(1)).mean())}
    if len(bad):
        i = int(bad[0])
        d = hw2[i].astype(np.int64) - sw2[i].astype(np.int64)
        out["first_mismatch"] = {"index": i, "max_abs_diff": int(np.abs(d).max()), "hw": hw2[i].tolist(),
                                 "sw": sw2[i].tolist(), "diff": d.tolist()}
    if as_json:
        click.echo(json.dumps(out))
    else:
        acc_txt = f", top-1 hw {out['hw_top1']:.2%} / sw {out['sw_top1']:.2%}" if labels is not None else ""
        click.echo(f"{out['target']}: {out['n']} images, {out['mismatches']} mismatches vs the reference{acc_txt}")
        if len(bad):
            click.echo(f"first mismatch: image {bad[0]}, max |diff| {out['first_mismatch']['max_abs_diff']}")
    if len(bad):
        sys.exit(1)
