"""`verify --data`: a dataset's labels are matched to the package's classes by *name* (a folder
test/{cat,dog} holds CIFAR-10's classes 3 and 5, not 0 and 1); a class the package does not know
is refused in one line (issue 23, point 8)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from helpers import run_cli

from robustness._util import run_cli_one_error

CIFAR = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


@pytest.fixture(scope="module")
def named(built_deploy, tmp_path_factory) -> Path:
    """The built package, its classes named as CIFAR-10's (whatever the model was trained on)."""
    d = tmp_path_factory.mktemp("named") / "deploy"
    shutil.copytree(built_deploy, d, ignore=shutil.ignore_patterns("notebooks", "tests", "hwsqueeze"))
    meta = json.loads((d / "deploy.json").read_text())
    meta["classes"] = CIFAR
    (d / "deploy.json").write_text(json.dumps(meta))
    return d


def test_labels_follow_class_names_not_folder_order():
    from hwsqueeze.cli.verify import _package_labels
    from hwsqueeze.data.sources import Dataset

    ds = Dataset(images=np.zeros((3, 2, 2, 3), np.uint8), labels=np.array([0, 1, 1]), classes=["cat", "dog"])
    assert _package_labels(ds, CIFAR, 10, "d").tolist() == [3, 5, 5]
    assert _package_labels(ds, None, 2, "d").tolist() == [0, 1, 1]  # no names recorded: the dataset's order ...
    assert _package_labels(ds, None, 10, "d") is None  # ... only when it has one class per output


def test_verify_data_scores_by_class_name(named, tmp_path):
    """Images filed under the name of the class the reference predicts: 100 % whatever that class's
    index (the old folder-index comparison gave 0 % for any class but the first)."""
    from PIL import Image

    from hwsqueeze.reference import Reference

    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (6, 32, 32, 3), dtype=np.uint8)
    pred = Reference.from_deploy(named).run(x).reshape(len(x), -1).argmax(1)
    for split in ("train", "test"):
        for i, (img, p) in enumerate(zip(x, pred)):
            (tmp_path / "data" / split / CIFAR[p]).mkdir(parents=True, exist_ok=True)
            Image.fromarray(img).save(tmp_path / "data" / split / CIFAR[p] / f"{i}.png")
    res = run_cli("verify", "--deploy", str(named), "--emulated", "--data", str(tmp_path / "data"), "--n", "6",
                  "--json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["hw_top1"] == 1.0 and out["sw_top1"] == 1.0 and out["mismatches"] == 0


def test_verify_data_with_an_unknown_class_is_refused(named, image_folder):
    # image_folder holds cat, dog and ship: rename one to a class CIFAR-10 does not have
    for split in ("train", "test"):
        (image_folder / split / "ship").rename(image_folder / split / "zebra")
    run_cli_one_error(["verify", "--deploy", named, "--emulated", "--data", image_folder, "--n", "4"], 2,
                      "class 'zebra' is not one of the deploy package's classes")
