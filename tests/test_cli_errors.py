"""Bad input -> one clear error line on stderr, non-zero exit, nothing half-written."""
import pytest
import torch

from helpers import run_cli, write_image_folder


def _one_error_line(r, match):
    assert r.returncode != 0
    lines = [l for l in r.stderr.strip().splitlines() if l.strip()]
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("error:"), lines[0]
    assert match in lines[0], lines[0]


def test_missing_dataset(tmp_path):
    r = run_cli("train", "--data", str(tmp_path / "nope"), "--out", str(tmp_path / "o"), "--epochs", "1")
    _one_error_line(r, "dataset not found")
    assert not (tmp_path / "o" / "last.pt").exists()


def test_corrupt_dataset(tmp_path):
    bad = tmp_path / "d.tar.gz"
    bad.write_bytes(b"\x1f\x8b\x08\x00garbage")
    r = run_cli("eval", "--data", str(bad), "--checkpoint", str(tmp_path / "x.pt"))
    _one_error_line(r, "checkpoint not found")
    r = run_cli("train", "--data", str(bad), "--out", str(tmp_path / "o"), "--epochs", "1")
    _one_error_line(r, "d.tar.gz")


def test_wrong_image_size(tmp_path):
    root = write_image_folder(tmp_path / "big", n_per_class=1, size=40)
    r = run_cli("train", "--data", str(root), "--out", str(tmp_path / "o"), "--epochs", "1",
                "--model", "squeezenet-tiny-cifar10")
    _one_error_line(r, "expected 32x32")
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_unknown_model(tmp_path):
    r = run_cli("train", "--data", "generated:20", "--out", str(tmp_path / "o"), "--model", "resnet50")
    _one_error_line(r, "unknown model 'resnet50'")


def test_corrupt_checkpoint(tmp_path):
    ck = tmp_path / "c.pt"
    ck.write_bytes(b"PK\x03\x04broken")
    for args in (["eval", "--data", "generated:20", "--checkpoint", str(ck)],
                 ["export", "--checkpoint", str(ck), "--out", str(tmp_path / "m.onnx")],
                 ["size", "--checkpoint", str(ck)]):
        r = run_cli(*args)
        _one_error_line(r, "not a readable checkpoint")
    assert not (tmp_path / "m.onnx").exists()


def test_init_checkpoint_of_another_model(tmp_path):
    from hwsqueeze.models import create
    from hwsqueeze.train import save_checkpoint

    ck = tmp_path / "other.pt"
    save_checkpoint(ck, {"model": create("squeezenet1_1-cifar10", "float").state_dict(),
                         "config": {"model": "squeezenet1_1-cifar10", "quant": "float"}})
    r = run_cli("train", "--data", "generated:20", "--out", str(tmp_path / "o"), "--model", "squeezenet-tiny-cifar10",
                "--init", str(ck), "--epochs", "1")
    _one_error_line(r, "does not fit model")


def test_help_lists_every_exit_code():
    """`hwsqueeze --help` names every exit code of errors.py's constants (6 was missing once)."""
    import re

    from hwsqueeze import errors

    codes = {v for k, v in vars(errors).items() if k.isupper() and isinstance(v, int)}
    r = run_cli("--help")
    listed = {int(c) for c in re.findall(r"\b(\d+) [a-z]", " ".join(r.stdout.split()).split("Exit codes:")[1])}
    assert r.returncode == 0 and codes <= listed and 130 in listed
