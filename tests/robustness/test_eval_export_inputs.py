"""Bad checkpoints and options for `eval`, `export` and `size`: one line, no code run, nothing written."""
import math
import os

import pytest
import torch

from robustness._util import run_cli_one_error, tree_snapshot

MODEL = "squeezenet-tiny-cifar10"


def _state():
    from hwsqueeze.models import create

    return create(MODEL, "w4a4").state_dict()


def _ck(tmp_path, name="c.pt", model=None, config=None):
    p = tmp_path / name
    torch.save({"model": _state() if model is None else model,
                "config": {"model": MODEL, "quant": "w4a4"} if config is None else config}, p)
    return p


def _nan_at(key_part):
    """A copy of the shipped model's weights (trained: its quantizer scales exist) with one NaN."""
    from hwsqueeze.train import load_checkpoint

    st = load_checkpoint()["model"]
    key = next(k for k in st if key_part in k and st[k].is_floating_point())
    st[key] = st[key].contiguous().clone()
    st[key].view(-1)[0] = math.nan
    return st, key


class _System:
    def __init__(self, cmd):
        self.cmd = cmd

    def __reduce__(self):
        return (os.system, (self.cmd,))


def _all_commands(ck, tmp_path):
    return [["eval", "--data", "generated:20", "--checkpoint", ck],
            ["export", "--checkpoint", ck, "--out", tmp_path / "m.onnx"],
            ["size", "--checkpoint", ck]]


def test_empty_checkpoint(tmp_path):
    ck = tmp_path / "empty.pt"
    ck.write_bytes(b"")
    before = tree_snapshot(tmp_path)
    for args in _all_commands(ck, tmp_path):
        run_cli_one_error(args, 2, "not a readable checkpoint (the file is empty)")
    assert tree_snapshot(tmp_path) == before


def test_checkpoint_pickle_runs_no_code(tmp_path):
    marker = tmp_path / "pwned"
    ck = tmp_path / "evil.pt"
    torch.save({"model": _System(f"touch {marker}"), "config": {}}, ck)
    run_cli_one_error(["eval", "--data", "generated:20", "--checkpoint", ck], 2, "not a readable checkpoint")
    assert not marker.exists()


@pytest.mark.parametrize("part,what", [("conv1.weight", "weight"), ("scaling_impl", "quantizer scale")])
def test_nan_in_checkpoint_refused(tmp_path, part, what):
    st, key = _nan_at(part)
    ck = _ck(tmp_path, model=st, config={"model": "squeezenet1_1-cifar10", "quant": "w4a4"})
    run_cli_one_error(["eval", "--data", "generated:20", "--checkpoint", ck], 2, f"model[{key!r}] holds nan")


@pytest.mark.parametrize("config,match", [
    (["not", "a", "dict"], "config is a list, expected a dict"),
    ({"model": "resnet50", "quant": "w4a4"}, "config['model'] = 'resnet50' is not a registered model"),
    ({"model": MODEL, "quant": "w4a4", "width": "wide"}, "config['width'] = 'wide': must be"),
    ({"model": MODEL, "quant": "w4a4", "width": 0}, "config['width'] = '0': must be in (0, 8]"),
    ({"model": MODEL, "quant": "w4a4", "epochs": -3}, "config['epochs'] = '-3'"),
    ({"model": MODEL, "quant": "w9a9"}, "config['quant'] = 'w9a9' is not a preset"),
    ({"model": MODEL, "quant_spec": {"weight_bits": 0}}, "weight_bits = 0: bit widths must be integers in 2..32"),
    ({"model": MODEL, "quant_spec": {"bogus": 1}}, "config['quant_spec'] is invalid"),
])
def test_malformed_config_refused(tmp_path, config, match):
    run_cli_one_error(["eval", "--data", "generated:20", "--checkpoint", _ck(tmp_path, config=config)], 2, match)


def test_ragged_state_dict_refused(tmp_path):
    st = _state()
    st["conv1.weight"] = [[1.0, 2.0], [3.0]]
    run_cli_one_error(["size", "--checkpoint", _ck(tmp_path, model=st)], 2,
                      "model['conv1.weight'] is a list, not a tensor")


@pytest.mark.parametrize("n", ["0", "-1"])
def test_eval_n_must_be_positive(n):
    run_cli_one_error(["eval", "--data", "generated:20", "--n", n], 2, f"--n {n}: must be >= 1")


@pytest.mark.parametrize("args,match", [
    (["eval", "--data", "generated:20", "--plot", "{d}"], "--plot {d}: is a directory"),
    (["eval", "--data", "generated:20", "--plot", "{f}/cm.png"], "{f} is a file, not a directory"),
    (["eval", "--data", "generated:20", "--plot", "/proc/cm.png"], "--plot /proc/cm.png: cannot write"),
    (["export", "--out", "{d}"], "--out {d}: is a directory"),
    (["export", "--out", "/proc/m.onnx"], "--out /proc/m.onnx: cannot write"),
    (["export", "--out", "{d}/m.onnx", "--check-n", "0"], "--check-n 0: must be in 1..1000"),
])
def test_output_paths_checked_before_work(tmp_path, args, match):
    (tmp_path / "file").write_text("x")
    fill = {"d": str(tmp_path), "f": str(tmp_path / "file")}
    before = tree_snapshot(tmp_path)
    run_cli_one_error([a.format(**fill) for a in args], 2, match.format(**fill))
    assert tree_snapshot(tmp_path) == before


def test_dataset_with_other_class_count(tmp_path):
    from helpers import write_image_folder

    root = write_image_folder(tmp_path / "f", n_per_class=1)  # 3 classes, the model has 10
    run_cli_one_error(["eval", "--data", root], 2, "dataset has 3 classes, model has 10")
