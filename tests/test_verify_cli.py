"""`hwsqueeze verify` as a user runs it: a clean package verifies, an injected fault is caught
without touching the user's package, and --data draws images across the classes."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
from helpers import run_cli


def _tree_hash(d: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(d.rglob("*")):
        if p.is_file() and "__pycache__" not in p.parts:
            h.update(str(p.relative_to(d)).encode() + p.read_bytes())
    return h.hexdigest()


def test_verify_samples_on_the_emulated_board(built_deploy):
    res = run_cli("verify", "--deploy", str(built_deploy), "--emulated", "--n", "5", "--json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["n"] == 5 and out["mismatches"] == 0 and out["target"] == "emulated" and out["fault_injected"] is None


def test_verify_catches_an_injected_fault_and_leaves_the_package_alone(built_deploy):
    before = _tree_hash(built_deploy)
    res = run_cli("verify", "--deploy", str(built_deploy), "--emulated", "--n", "8", "--inject-fault")
    assert res.returncode == 5, res.stdout + res.stderr  # verification failed
    assert "mismatches vs the reference" in res.stdout and "fault injected: MVAU" in res.stdout
    n_bad = int(res.stdout.split(" mismatches")[0].rsplit(" ", 1)[-1])
    assert n_bad >= 1  # how many of the 8 one sign bit reaches depends on the trained weights
    assert _tree_hash(built_deploy) == before


def test_verify_draws_across_classes(built_deploy):
    """The first 10 of generated:200's test images cover only 6 classes; a balanced draw of 10
    covers all 10 (checked against the dataset's own labels)."""
    from hwsqueeze.data.sampling import balanced_indices
    from hwsqueeze.data import load_dataset

    labels = load_dataset("generated:200", "test").labels
    assert len(np.unique(labels[:10])) == 6  # what taking the first N (the old behaviour) gave
    idx = balanced_indices(labels, 10)
    assert sorted(np.unique(labels[idx]).tolist()) == sorted(np.unique(labels).tolist())
    assert len(set(idx.tolist())) == 10
    res = run_cli("verify", "--deploy", str(built_deploy), "--emulated", "--data", "generated:200", "--n", "10",
                  "--json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["classes_covered"] == len(np.unique(labels)) and out["mismatches"] == 0


def test_balanced_indices_by_hand():
    from hwsqueeze.data.sampling import balanced_indices

    labels = np.array([0, 0, 0, 0, 1, 1, 2])  # class 2 has one image
    idx = balanced_indices(labels, 5)
    got = labels[idx]
    assert sorted(got.tolist()) == [0, 0, 1, 1, 2]  # round-robin: 0,1,2 then 0,1
    assert len(balanced_indices(labels, 100)) == 7


def test_verify_bad_inputs(tmp_path, built_deploy):
    res = run_cli("verify", "--deploy", str(tmp_path), "--emulated")
    assert res.returncode != 0 and "is not a deploy package" in res.stderr and "Traceback" not in res.stderr
    res = run_cli("verify", "--deploy", str(built_deploy), "--inject-fault")
    assert res.returncode != 0 and "--inject-fault needs --emulated" in res.stderr
