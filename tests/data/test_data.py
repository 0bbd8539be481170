import os
import pickle

import numpy as np
import pytest
import torch

from helpers import make_tar, write_image_folder
from hwsqueeze.data import augment_batch, generate_dataset, load_dataset
from hwsqueeze.errors import HwsqueezeError


def test_generated_dataset_is_deterministic_and_balanced():
    a, b = generate_dataset(100, seed=0), generate_dataset(100, seed=0)
    assert a.images.dtype == np.uint8 and a.images.shape == (100, 32, 32, 3)
    assert np.array_equal(a.images, b.images) and np.array_equal(a.labels, b.labels)
    assert np.bincount(a.labels).tolist() == [10] * 10
    assert load_dataset("generated:50", "test").images.shape[0] == 50


def test_folder_and_targz_load_identically(tmp_path):
    root = write_image_folder(tmp_path / "f", n_per_class=3)
    tar = make_tar(root, tmp_path / "f.tar.gz")
    d = load_dataset(str(root), "train")
    t = load_dataset(str(tar), "train")
    assert d.classes == t.classes == ["cat", "dog", "ship"]
    assert d.images.shape == (9, 32, 32, 3) and d.labels.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert np.array_equal(d.images, t.images)
    # PNG is lossless: pixels are exactly what was written
    from PIL import Image
    first = np.asarray(Image.open(root / "train" / "cat" / "0000.png"))
    assert np.array_equal(d.images[0], first)


def test_cache_is_used_and_rebuilt_when_corrupt(tmp_path, monkeypatch):
    monkeypatch.setenv("HWSQUEEZE_CACHE", str(tmp_path / "cache"))
    root = write_image_folder(tmp_path / "f", n_per_class=2)
    a = load_dataset(str(root), "test")
    files = list((tmp_path / "cache").glob("*.npz"))
    assert len(files) == 1
    files[0].write_bytes(b"garbage")
    b = load_dataset(str(root), "test")
    assert np.array_equal(a.images, b.images)


def test_cifar_python_batches(tmp_path):
    rng = np.random.default_rng(0)
    for name, n in [(f"data_batch_{i}", 4) for i in range(1, 6)] + [("test_batch", 6)]:
        data = rng.integers(0, 256, (n, 3 * 32 * 32), dtype=np.uint8)
        with open(tmp_path / name, "wb") as f:
            pickle.dump({b"data": data, b"labels": list(range(n))}, f)
    (tmp_path / "batches.meta").write_bytes(pickle.dumps({b"label_names": []}))
    tr = load_dataset(str(tmp_path), "train")
    te = load_dataset(str(tmp_path), "test")
    assert tr.images.shape == (20, 32, 32, 3) and te.images.shape == (6, 32, 32, 3)
    with open(tmp_path / "test_batch", "rb") as f:
        raw = pickle.load(f)[b"data"][0]
    assert np.array_equal(te.images[0], raw.reshape(3, 32, 32).transpose(1, 2, 0))


@pytest.mark.parametrize("kind", ["missing", "notadataset", "corrupt_tar", "corrupt_image", "wrong_size", "empty"])
def test_bad_datasets_raise_one_clear_error(tmp_path, kind):
    if kind == "missing":
        path, match = tmp_path / "nope", "dataset not found"
    elif kind == "notadataset":
        path, match = tmp_path / "x.txt", "not a dataset"
        path.write_text("hello")
    elif kind == "corrupt_tar":
        path, match = tmp_path / "x.tar.gz", "not a dataset|not a readable tar"
        path.write_bytes(b"\x1f\x8b\x08\x00" + b"\x00" * 100)
    elif kind == "corrupt_image":
        path = write_image_folder(tmp_path / "f", n_per_class=1)
        (path / "train" / "cat" / "0000.png").write_bytes(b"not a png")
        match = "cannot decode image"
    elif kind == "wrong_size":
        path = write_image_folder(tmp_path / "f", n_per_class=1, size=48)
        match = "48x48, expected 32x32"
    else:
        path, match = tmp_path / "empty", "no images under"
        path.mkdir()
    with pytest.raises(HwsqueezeError, match=match):
        load_dataset(str(path), "train")


def test_augment_crop_and_flip_are_exact_shifts():
    x = torch.arange(2 * 3 * 8 * 8, dtype=torch.uint8).reshape(2, 3, 8, 8)
    y = augment_batch(x, pad=0, flip=False)
    assert torch.equal(x, y)
    g = torch.Generator().manual_seed(0)
    y = augment_batch(x, pad=2, flip=True, generator=g)
    assert y.shape == x.shape and y.dtype == torch.uint8
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    for i in range(2):  # every output is some crop of the padded image, possibly flipped
        ok = any(torch.equal(y[i], c) or torch.equal(y[i], c.flip(2))
                 for dy in range(5) for dx in range(5) for c in [padded[i, :, dy:dy + 8, dx:dx + 8]])
        assert ok


def test_cutout_sets_exactly_the_drawn_square_to_the_fill():
    from hwsqueeze.data.augment import apply_cutout

    x = torch.arange(2 * 3 * 6 * 5, dtype=torch.uint8).reshape(2, 3, 6, 5)
    fill = torch.tensor([7, 8, 9], dtype=torch.uint8)
    y = apply_cutout(x, torch.tensor([0, 3]), torch.tensor([2, 0]), 3, fill)
    want = x.clone()  # by hand: image 0 rows 0-2, cols 2-4; image 1 rows 3-5, cols 0-2
    want[0, :, 0:3, 2:5] = fill.view(3, 1, 1)
    want[1, :, 3:6, 0:3] = fill.view(3, 1, 1)
    assert torch.equal(y, want) and y.dtype == torch.uint8


def test_cutout_comes_after_the_crops_a_run_without_it_sees():
    """With cutout, each image is the image a run without it got, but for one k x k square
    of the fill, inside the image: the earlier draws (order, crops, flips) are untouched."""
    from hwsqueeze.data.batches import cached_epoch

    x = torch.randint(0, 256, (40, 3, 8, 8), dtype=torch.uint8)
    y = torch.arange(40)
    fill = torch.tensor([1, 2, 3], dtype=torch.uint8)
    for (xa, ya), (xb, yb) in zip(cached_epoch(x, y, 16, seed=1, epoch=3),
                                  cached_epoch(x, y, 16, seed=1, epoch=3, cutout=3, fill=fill)):
        assert torch.equal(ya, yb)
        for a, b in zip(xa, xb):  # some 3 x 3 square inside the 8 x 8 image, and nothing else
            def cut(t, l):
                c = a.clone()
                c[:, t:t + 3, l:l + 3] = fill.view(3, 1, 1)
                return c
            assert sum(torch.equal(b, cut(t, l)) for t in range(6) for l in range(6)) >= 1


def test_subset_is_class_balanced():
    ds = generate_dataset(200)
    sub = ds.subset(20)
    assert len(sub) == 20 and np.bincount(sub.labels, minlength=10).tolist() == [2] * 10


def test_replaced_image_gives_new_pixels_not_the_cache(tmp_path, monkeypatch):
    """The cache key covers every file (path, size, mtime_ns), not only the top folder's mtime."""
    from PIL import Image

    monkeypatch.setenv("HWSQUEEZE_CACHE", str(tmp_path / "cache"))
    root = write_image_folder(tmp_path / "f", n_per_class=2)
    top_mtime = (root).stat().st_mtime_ns
    assert load_dataset(str(root), "test").images[0].max() > 0
    new = np.zeros((32, 32, 3), np.uint8)
    Image.fromarray(new).save(root / "test" / "cat" / "0000.png")  # same name, in place
    os.utime(root, ns=(top_mtime, top_mtime))  # as when a tool rewrites a file inside a class folder
    assert np.array_equal(load_dataset(str(root), "test").images[0], new)
