"""The board's test-set reader (hwsqueeze/runtime/testset.py): the same images and labels as the
host's loader (hwsqueeze.data) and ``hwsqueeze verify --data`` draw, from a folder or an archive,
with one error line for a bad source."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
from helpers import make_tar

from hwsqueeze.errors import HwsqueezeError


def _host_draw(source, n, classes=None):
    """What `hwsqueeze verify --data SOURCE --n N` runs on: hwsqueeze.data + the balanced draw."""
    from hwsqueeze.data import load_dataset
    from hwsqueeze.data.sampling import balanced_indices

    ds = load_dataset(str(source), "test")
    idx = balanced_indices(ds.labels, n)
    names = classes or ds.classes
    return ds.images[idx], np.array([names.index(ds.classes[c]) for c in ds.labels[idx]])


@pytest.mark.parametrize("archive", [False, True])
def test_same_draw_as_the_host_loader(image_folder, tmp_path, archive):
    from hwsqueeze.runtime.testset import load_test_images

    src = make_tar(image_folder, tmp_path / "imgs.tar.gz") if archive else image_folder
    classes = ["bird", "cat", "dog", "ship"]  # the model's: one more than the folders, in another order
    got = load_test_images(src, 32, classes, n=5)
    images, labels = _host_draw(src, 5, classes)
    np.testing.assert_array_equal(got.images, images)
    np.testing.assert_array_equal(got.labels, labels)
    assert got.coverage() == "n = 5 of 12 test images, 3 of 4 classes" and got.classes == classes
    assert len(load_test_images(src, 32).labels) == 12  # n=None: the whole test split


@pytest.mark.cifar
def test_cifar_archive_as_verify_draws_it(cifar_archive):
    """The CIFAR-10 JPEG archive (test/<class>/NNNN.jpg): 10,000 test images, and n = 300 of them
    pixel for pixel what the host draws, all 10 classes covered."""
    from hwsqueeze.data import CIFAR10_CLASSES
    from hwsqueeze.runtime.testset import load_test_images

    got = load_test_images(cifar_archive, 32, list(CIFAR10_CLASSES), n=300)
    images, labels = _host_draw(cifar_archive, 300)
    np.testing.assert_array_equal(got.images, images)
    np.testing.assert_array_equal(got.labels, labels)
    assert got.coverage() == "n = 300 of 10000 test images, 10 of 10 classes"


def test_other_sizes_are_cropped_and_resized(tmp_path):
    from PIL import Image

    from hwsqueeze.runtime.testset import load_test_images

    (tmp_path / "cat").mkdir()
    Image.new("RGB", (64, 48), (200, 10, 10)).save(tmp_path / "cat" / "wide.png")
    got = load_test_images(tmp_path, 32, ["cat", "dog"])
    assert got.images.shape == (1, 32, 32, 3) and tuple(got.images[0, 16, 16]) == (200, 10, 10)


@pytest.mark.parametrize("setup,kw,needle", [
    (lambda d: None, {"n": 0}, "positive integer or None"),
    (lambda d: shutil.rmtree(d / "test"), {}, "no 'test/<class>/' folder (it has ['train'])"),
    (lambda d: (d / "test" / "cow").mkdir() or shutil.copy(d / "test" / "cat" / "0000.png", d / "test" / "cow"),
     {"classes": ["cat", "dog", "ship"]}, "class folder 'cow' is not one of the model's classes"),
    (lambda d: (d / "test" / "cat" / "0001.png").write_bytes(b"not a png"), {}, "0001.png: not a readable image"),
])
def test_bad_sources_are_one_line(image_folder, setup, kw, needle):
    from hwsqueeze.runtime.testset import load_test_images

    setup(image_folder)
    with pytest.raises(HwsqueezeError) as e:
        load_test_images(image_folder, 32, **kw)
    assert needle in str(e.value) and "\n" not in str(e.value)


def test_missing_or_unreadable_source(tmp_path):
    from hwsqueeze.runtime.testset import load_test_images

    with pytest.raises(HwsqueezeError, match="test images not found"):
        load_test_images(tmp_path / "nowhere", 32)
    (tmp_path / "x.tar.gz").write_bytes(b"\x1f\x8b garbage")
    with pytest.raises(HwsqueezeError, match="not an image folder or a readable tar archive"):
        load_test_images(tmp_path / "x.tar.gz", 32)
    (tmp_path / "empty").mkdir()
    with pytest.raises(HwsqueezeError, match="no images under 'test/<class>/' or '<class>/'"):
        load_test_images(tmp_path / "empty", 32)
