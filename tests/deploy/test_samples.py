"""The deploy package's sample images: read through one owner, real vs synthetic told apart, and
the simulators fed real images whenever the build had them."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hwsqueeze.deploy.samples import read_samples
from hwsqueeze.errors import HwsqueezeError


def _package(root: Path, images: np.ndarray, labels_json) -> Path:
    (root / "samples").mkdir(parents=True)
    np.save(root / "samples" / "images.npy", images)
    if labels_json is not None:
        (root / "samples" / "labels.json").write_text(json.dumps(labels_json))
    return root


def test_real_samples_carry_labels_and_source(tmp_path):
    imgs = np.arange(3 * 4 * 4 * 3, dtype=np.uint8).reshape(3, 4, 4, 3)
    pkg = _package(tmp_path, imgs, {"labels": [2, 0, 1], "synthetic": False, "classes": ["a", "b", "c"],
                                    "source": "cifar: 3 test images"})
    s = read_samples(pkg, n=2)
    assert s.images.shape == (2, 4, 4, 3) and list(s.labels) == [2, 0] and not s.synthetic
    assert s.describe() == "2 real test images with true labels"


def test_a_package_without_labels_is_never_called_real(tmp_path):
    s = read_samples(_package(tmp_path, np.zeros((2, 4, 4, 3), np.uint8), None))
    assert s.synthetic and s.labels is None


@pytest.mark.parametrize("labels,fragment", [({"labels": [1]}, "1 labels for 2 images"), (None, "uint8 NHWC")])
def test_inconsistent_samples_are_refused_in_one_line(tmp_path, labels, fragment):
    images = np.zeros((2, 4, 4, 3), np.uint8) if labels else np.zeros((2, 4, 4), np.float32)
    with pytest.raises(HwsqueezeError, match=fragment):
        read_samples(_package(tmp_path, images, labels))


def test_simulation_uses_the_real_samples_when_the_build_had_data(tmp_path):
    pytest.importorskip("qonnx")
    from hwsqueeze.simulate.run import load_images

    class _Model:  # the only thing load_images asks of the HW graph: its NHWC input shape
        graph = type("G", (), {"input": [type("I", (), {"name": "x"})()]})()

        @staticmethod
        def get_tensor_shape(name):
            return [1, 4, 4, 3]

    (tmp_path / "verify").mkdir()
    np.save(tmp_path / "verify" / "input.npy", np.full((2, 3, 4, 4), 9, np.uint8))  # NCHW synthetic
    real = np.arange(2 * 4 * 4 * 3, dtype=np.uint8).reshape(2, 4, 4, 3)
    _package(tmp_path / "deploy", real, {"labels": [0, 1], "synthetic": False, "source": "cifar"})
    x, what = load_images(tmp_path, _Model, 3)
    assert np.array_equal(x, real[[0, 1, 0]].astype(np.float32)) and what.startswith("real test images")
    assert "2 distinct, repeated to 3" in what
    (tmp_path / "deploy" / "samples" / "labels.json").write_text(json.dumps({"labels": [0, 1], "synthetic": True}))
    x, what = load_images(tmp_path, _Model, 2)
    assert (x == 9).all() and x.shape == (2, 4, 4, 3) and what.startswith("synthetic")
