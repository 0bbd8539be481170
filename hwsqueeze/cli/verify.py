"""`hwsqueeze verify`: the accelerator (real or emulated board) against the bit-exact reference."""
from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, List, Optional, Tuple

import click
import numpy as np

from ..errors import VERIFY_FAILED, HwsqueezeError

if TYPE_CHECKING:
    from ..deploy.package import DeployMeta

_CHUNK = 256


def _package_labels(ds, classes: Optional[List[str]], outputs: int, data: str) -> Optional[np.ndarray]:
    """The dataset's labels as the package's class indices, matched by class *name* (a folder
    ``test/{cat,dog}`` holds classes 3 and 5 of CIFAR-10, not 0 and 1); an unknown name is refused.
    A package that records no names is trusted to use the dataset's order only when the dataset has
    one class per output; otherwise there is no truth to score against (None: no accuracy), as for
    ``generated:N`` (synthetic images whose classes mean nothing to a trained package)."""
    if data.startswith("generated:"):
        return None
    if classes is None:
        return ds.labels if len(ds.classes) == outputs else None
    unknown = [c for c in ds.classes if c not in classes]
    if unknown:
        raise HwsqueezeError(f"{data}: class {unknown[0]!r} is not one of the deploy package's classes "
                             f"({', '.join(classes[:10])}{' ...' if len(classes) > 10 else ''})")
    return np.array([classes.index(c) for c in ds.classes], dtype=np.int64)[ds.labels]


def _images(deploy: Path, data: Optional[str], n: int,
            meta: "DeployMeta") -> Tuple[np.ndarray, Optional[np.ndarray], Optional[int]]:
    """(uint8 NHWC images, package labels or None, how many of the data's classes were drawn) from
    --data (test split, class-balanced) or the samples."""
    if data:
        from ..data import load_dataset

        from ..data.sampling import balanced_indices

        ds = load_dataset(data, "test")
        labels = _package_labels(ds, meta.classes, meta.num_outputs, data)
        idx = balanced_indices(ds.labels, n)
        return ds.images[idx], None if labels is None else labels[idx], int(len(np.unique(ds.labels[idx])))
    from ..deploy.samples import read_samples

    s = read_samples(deploy, n)
    labels = None if s.synthetic else s.labels  # synthetic samples: no meaningful labels
    return s.images, labels, None if labels is None else int(len(np.unique(labels)))


@click.command()
@click.option("--deploy", "deploy_dir", required=True, type=click.Path(file_okay=False),
              help="A deploy package (build/<board>/deploy).")
@click.option("--emulated", is_flag=True, help="Use the register-level emulated board instead of a real one.")
@click.option("--data", default=None, help="Dataset (image folder, .tar.gz or CIFAR batches); default: samples.")
@click.option("--n", "n", type=click.IntRange(1), default=100, show_default=True,
              help="Images to compare (drawn across all classes with --data).")
@click.option("--inject-fault", is_flag=True,
              help="Emulated only: flip one weight bit in a copy of the generated weight files first.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def verify(deploy_dir: str, emulated: bool, data: Optional[str], n: int, inject_fault: bool, as_json: bool) -> None:
    """Run N images through the accelerator and the reference; exit 5 on any mismatch."""
    from ..deploy.files import copy_package
    from ..deploy.graph import open_package
    from ..deploy.package import DEPLOY_JSON, HW_DIR, REFERENCE_DIR
    from ..reference import Reference
    from ..runtime import Accelerator
    from ..runtime.emulator import inject_weight_fault

    deploy = Path(deploy_dir)
    meta = open_package(deploy)[0]  # the whole package checked before anything is read, copied or run
    if inject_fault and not emulated:
        raise HwsqueezeError("--inject-fault needs --emulated (it changes the emulated hardware's files)")
    images, labels, covered = _images(deploy, data, n, meta)
    if len(images) == 0:
        raise HwsqueezeError("no images to verify")
    ref = Reference.from_deploy(deploy)
    with tempfile.TemporaryDirectory(prefix="hwsqueeze-fault-") as tmp:
        hw_dir, fault = deploy, None
        if inject_fault:  # the user's package stays untouched: a copy without links, of what emulation reads
            Accelerator.emulated(deploy).close()  # every generated file checked in place first: errors name it
            hw_dir = copy_package(deploy, Path(tmp) / "deploy", (DEPLOY_JSON, REFERENCE_DIR, HW_DIR))
            fault = inject_weight_fault(hw_dir)
        acc = Accelerator.emulated(hw_dir) if emulated else Accelerator(deploy)
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
    hw = np.concatenate(hw_out).reshape(len(images), -1)
    sw = np.concatenate(sw_out).reshape(len(images), -1)
    bad = np.flatnonzero((hw != sw).any(axis=1))
    out = {"n": int(len(hw)), "mismatches": int(len(bad)), "target": acc.target, "fault_injected": fault,
           "classes_covered": covered,
           "hw_top1": float((hw.argmax(1) == labels).mean()) if labels is not None else None,
           "sw_top1": float((sw.argmax(1) == labels).mean()) if labels is not None else None,
           "top1_agreement": float((hw.argmax(1) == sw.argmax(1)).mean())}
    if len(bad):
        i = int(bad[0])
        d = hw[i].astype(np.int64) - sw[i].astype(np.int64)
        out["first_mismatch"] = {"index": i, "max_abs_diff": int(np.abs(d).max()), "hw": hw[i].tolist(),
                                 "sw": sw[i].tolist(), "diff": d.tolist()}
    if as_json:
        click.echo(json.dumps(out))
    else:
        acc_txt = ""
        if labels is not None:
            acc_txt = (f" ({out['classes_covered']} of {meta.num_outputs} classes), top-1 hw {out['hw_top1']:.2%} "
                       f"/ sw {out['sw_top1']:.2%}")
        click.echo(f"{out['target']}: {out['n']} images{acc_txt}, {out['mismatches']} mismatches vs the reference")
        if fault:
            click.echo(f"fault injected: {fault}")
        if len(bad):
            click.echo(f"first mismatch: image {bad[0]}, max |diff| {out['first_mismatch']['max_abs_diff']}")
    if len(bad):
        sys.exit(VERIFY_FAILED)
