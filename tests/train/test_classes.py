"""Class names travel with the checkpoint: training records the dataset's, eval reports them."""
import json
import tarfile

import pytest

from helpers import run_cli, write_image_folder
from hwsqueeze.data import CIFAR10_CLASSES
from hwsqueeze.models import create
from hwsqueeze.train import TrainConfig, class_names, load_checkpoint, save_checkpoint, train

# Ten folder names in neither alphabetical nor any other meaningful order.
FOLDERS = ("zebra", "apple", "moth", "kiwi", "bee", "yak", "crab", "lynx", "newt", "orca")


def test_training_records_the_dataset_class_folders(tmp_path):
    data = write_image_folder(tmp_path / "imgs", n_per_class=1, classes=FOLDERS)
    out = tmp_path / "run"
    train(TrainConfig(data=str(data), out=str(out), model="squeezenet-tiny-cifar10", quant="float", epochs=1,
                      batch_size=10, bf16=False), progress=False, log=None)
    # labels are the folders in sorted order (ImageFolder convention), so output i is sorted(FOLDERS)[i]
    for name in ("last.pt", "final.pt"):
        assert class_names(load_checkpoint(out / name)) == sorted(FOLDERS)


def test_unknown_or_malformed_class_names_are_none():
    assert class_names({"model": {}, "config": {}}) is None
    assert class_names({"classes": "airplane"}) is None
    assert class_names({"classes": [1, 2]}) is None
    assert class_names({"classes": ("a", "b")}) == ["a", "b"]


def test_shipped_model_names_cifar10_classes():
    # the data module's CIFAR-10 list, i.e. the label order of the official batches.meta
    assert class_names(load_checkpoint()) == CIFAR10_CLASSES


@pytest.mark.cifar
def test_shipped_model_classes_are_the_archive_folders(cifar_archive):
    # read the archive with tarfile directly, not with hwsqueeze.data
    with tarfile.open(cifar_archive) as tf:
        folders = {m.name.strip("/").split("/")[-2] for m in tf if m.isfile() and "/train/" in f"/{m.name}"}
    assert len(folders) == 10
    assert class_names(load_checkpoint()) == sorted(folders)


def test_eval_reports_the_checkpoints_class_names(tmp_path):
    ck = tmp_path / "named.pt"
    names = [f"n{i}" for i in range(10)]
    save_checkpoint(ck, {"model": create("squeezenet-tiny-cifar10", "float").state_dict(), "classes": names,
                         "config": {"model": "squeezenet-tiny-cifar10", "quant": "float"}})
    r = run_cli("eval", "--data", "generated:20", "--checkpoint", str(ck), "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["classes"] == names
    assert "differ from the checkpoint's" in r.stderr  # generated data names its classes class0..class9
