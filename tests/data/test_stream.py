"""Streamed image folders: crops by definition, determinism, independence of worker count."""
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from helpers import run_cli, write_image_folder
from hwsqueeze.data.batches import GlobalBatchSampler
from hwsqueeze.data.stream import ImageFolderStream, random_resized_box, stream_loader

CLASSES = tuple(f"c{i}" for i in range(10))


def test_random_resized_box_is_inside_with_the_asked_area_and_ratio():
    rng = np.random.default_rng(0)
    for _ in range(500):
        w, h = int(rng.integers(20, 400)), int(rng.integers(20, 400))
        x0, y0, x1, y1 = random_resized_box(w, h, rng, 0.08)
        assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h
        cw, ch = x1 - x0, y1 - y0
        if (cw, ch) != (w, h) and not (x0 == (w - cw) // 2 and y0 == (h - ch) // 2):  # not the fallback
            # rounding to whole pixels moves area and ratio by at most a pixel's worth
            assert 0.08 * w * h * 0.8 <= cw * ch <= w * h
            assert 0.75 / (1 + 2 / min(cw, ch)) <= cw / ch <= (4 / 3) * (1 + 2 / min(cw, ch))


@pytest.fixture
def folder(tmp_path) -> Path:
    return write_image_folder(tmp_path / "f", n_per_class=2, size=40, classes=CLASSES, ext="jpg")


def test_items_are_deterministic_per_epoch_and_index(folder):
    ds = ImageFolderStream(str(folder), "train", 32, train=True, seed=1)
    assert len(ds) == 20 and ds.classes == list(CLASSES)
    x, y = ds[7]
    assert x.dtype == torch.uint8 and x.shape == (32, 32, 3) and y == 3  # sorted classes, 2 each
    assert torch.equal(ds[7][0], x)
    ds.set_epoch(1)
    assert not torch.equal(ds[7][0], x)
    ev = ImageFolderStream(str(write_image_folder(folder.parent / "g", 1, 32, CLASSES, "png")), "test", 32,
                           train=False)
    want = np.asarray(Image.open(folder.parent / "g" / "test" / "c4" / "0000.png").convert("RGB"))
    assert np.array_equal(ev[4][0].numpy(), want)  # a size x size image is evaluated untouched


def test_batches_do_not_depend_on_the_number_of_workers(folder):
    ds = ImageFolderStream(str(folder), "train", 32, train=True, seed=0)
    ds.set_epoch(3)
    got = []
    for workers in (0, 2):
        sampler = GlobalBatchSampler(len(ds), 8, seed=0)
        sampler.set_epoch(3)
        got.append([(x.clone(), y.clone()) for x, y in stream_loader(ds, sampler, workers, False)])
    assert len(got[0]) == 2
    for (xa, ya), (xb, yb) in zip(*got):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)


def test_train_streams_an_image_folder(folder, tmp_path):
    r = run_cli("train", "--data", str(folder), "--out", str(tmp_path / "run"), "--model", "squeezenet-tiny-cifar10",
                "--quant", "float", "--epochs", "1", "--batch-size", "10", "--loader", "stream", "--workers", "1",
                "--quiet")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "stream loader, 20 images, 2 steps/epoch" in r.stderr
    assert (tmp_path / "run" / "final.pt").is_file() and (tmp_path / "run" / "learning_curve.png").is_file()


def test_a_corrupt_image_in_a_worker_is_one_line_naming_it(folder, tmp_path):
    """A DataLoader re-raises a worker's error with the worker's traceback as its message; the
    user gets one line naming the file, exit 2 (bad input), and no checkpoint."""
    bad = folder / "train" / "c1" / "0001.jpg"
    bad.write_bytes(b"\xff\xd8 not a jpeg")
    r = run_cli("train", "--data", str(folder), "--out", str(tmp_path / "run"), "--model", "squeezenet-tiny-cifar10",
                "--quant", "float", "--epochs", "1", "--batch-size", "20", "--loader", "stream", "--workers", "2",
                "--quiet")
    assert r.returncode == 2, r.stderr[-2000:]
    assert r.stderr.strip().splitlines()[-1] == f"error: cannot decode image {bad}: cannot identify image file"
    assert "Traceback" not in r.stderr and r.stderr.count("error:") == 1
    assert not (tmp_path / "run" / "last.pt").exists()
