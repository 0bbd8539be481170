"""Hardware (or the emulated board) against the bit-exact numpy reference and against FINN+'s own
execution of the same HW graph (recorded in the package at build time)."""
from __future__ import annotations

import json

import numpy as np
import pytest


def _assert_same(hw: np.ndarray, sw: np.ndarray) -> None:
    hw2, sw2 = hw.reshape(len(hw), -1), sw.reshape(len(sw), -1)
    bad = np.flatnonzero((hw2 != sw2).any(axis=1))
    assert len(bad) == 0, (f"{len(bad)}/{len(hw2)} images mismatch; first: image {bad[0]}, "
                           f"hw {hw2[bad[0]].tolist()} vs sw {sw2[bad[0]].tolist()}")


def test_samples_bit_exact(accelerator, reference, samples):
    _assert_same(np.asarray(accelerator.run(samples)), np.asarray(reference.run(samples)))


@pytest.mark.parametrize("batch", [1, 3, 7])
def test_batch_sizes_bit_exact(accelerator, reference, samples, batch):
    imgs = samples[:batch]
    _assert_same(np.asarray(accelerator.run(imgs)), np.asarray(reference.run(imgs)))


def test_random_and_extreme_images_bit_exact(accelerator, reference, samples):
    h, w, c = samples.shape[1:]
    rng = np.random.default_rng(0)
    imgs = np.concatenate([rng.integers(0, 256, (4, h, w, c), dtype=np.uint8),
                           np.zeros((1, h, w, c), np.uint8), np.full((1, h, w, c), 255, np.uint8)])
    _assert_same(np.asarray(accelerator.run(imgs)), np.asarray(reference.run(imgs)))


def test_samples_bit_exact_vs_finn(accelerator, samples, finn_outputs):
    """The accelerator against FINN+'s Python execution of the HW graph (not our reference)."""
    _assert_same(np.asarray(accelerator.run(samples)), finn_outputs)


def test_reference_equals_finn(reference, samples, finn_outputs):
    _assert_same(np.asarray(reference.run(samples)), finn_outputs)


def test_output_is_in_the_declared_datatype(accelerator, reference, deploy_dir, samples):
    """The declared output datatype holds what the network computes: the reference's int64 results
    (not unpacked from a stream, so the range is not guaranteed by the unpacking) on the samples and
    on all-0 / all-255 images stay in deploy.json's datatype, and the board's shape is the declared one."""
    meta = json.loads((deploy_dir / "deploy.json").read_text())
    out = np.asarray(accelerator.run(samples[:2]))
    assert out.shape == (2, *meta["output"]["shape_normal"][1:])
    h, w, c = samples.shape[1:]
    imgs = np.concatenate([samples, np.zeros((1, h, w, c), np.uint8), np.full((1, h, w, c), 255, np.uint8)])
    ref = np.asarray(reference.run(imgs)).astype(np.int64)
    bits = int(meta["output"]["dtype"].replace("UINT", "").replace("INT", ""))
    signed = not meta["output"]["dtype"].startswith("U")
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    assert lo <= ref.min() and ref.max() <= hi
    assert ref.max() - ref.min() > 0  # a constant output would make the check empty


def test_classify_agrees_with_reference(accelerator, reference, samples):
    idx, scores = accelerator.classify(samples[:4], k=5)
    ref = np.asarray(reference.run(samples[:4])).reshape(4, -1)
    np.testing.assert_array_equal(np.asarray(idx)[:, 0], ref.argmax(1))
    assert np.all(np.diff(np.asarray(scores), axis=1) <= 0)  # sorted best first
