"""The real CIFAR-10 JPEG archive (skipped with a reason when ../shared/data lacks it)."""
import numpy as np
import pytest

from hwsqueeze.data import CIFAR10_CLASSES, load_dataset

pytestmark = pytest.mark.cifar


def test_test_split_is_cifar10(cifar_archive):
    ds = load_dataset(str(cifar_archive), "test")
    # CIFAR-10 (Krizhevsky 2009): 10,000 test images of 32x32 RGB, 1,000 per class
    assert ds.images.shape == (10_000, 32, 32, 3) and ds.images.dtype == np.uint8
    assert ds.classes == CIFAR10_CLASSES
    assert np.bincount(ds.labels).tolist() == [1_000] * 10


def test_shipped_model_on_a_balanced_sample(cifar_archive):
    from hwsqueeze.models import predict
    from hwsqueeze.train import model_from_checkpoint

    ds = load_dataset(str(cifar_archive), "test").subset(500)
    assert np.bincount(ds.labels).tolist() == [50] * 10
    model, _ = model_from_checkpoint()
    top1 = float((predict(model, ds.images).argmax(1) == ds.labels).mean())
    # RECIPE.md: 87.04 % on all 10,000; with n = 500 one standard error is ~1.5 points,
    # so 80 % is ~4.7 standard errors below (and far above the 10 % of chance)
    assert top1 >= 0.80, top1
