"""The shipped models: every name in SHIPPED is a checkpoint in the wheel holding the network its name
says, its figures file agrees with the checkpoint's own records, and --checkpoint takes the name."""
import json
from pathlib import Path

import pytest

from helpers import ROOT, run_cli
from hwsqueeze.train import load_checkpoint
from hwsqueeze.train.shipped import DEFAULT, SHIPPED, SHIPPED_DIR, checkpoint_path


def test_the_wheel_holds_exactly_the_shipped_models():
    assert SHIPPED_DIR == ROOT / "hwsqueeze" / "default_model" and DEFAULT in SHIPPED
    assert sorted(p.stem for p in SHIPPED_DIR.glob("*.pt")) == sorted(SHIPPED)
    assert sorted(p.stem for p in SHIPPED_DIR.glob("*.json")) == sorted(SHIPPED)


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_a_shipped_model_is_what_its_name_says(name):
    ck = load_checkpoint(name)  # by name, as --checkpoint takes it
    assert f"{ck['config']['model']}-{ck['config']['quant']}" == name
    assert "optimizer" not in ck and ck["classes"][0] == "airplane"
    figures = json.loads((SHIPPED_DIR / f"{name}.json").read_text())
    assert figures["quant"] == ck["config"]["quant"]
    assert figures["qat"]["test_top1"] == ck["metrics"][-1]["test_top1"]  # the last epoch's evaluation
    assert figures["qat"]["epochs"] == len(ck["metrics"]) == ck["config"]["epochs"]
    assert figures["weight_bytes_dense"] <= 0.5e6  # the paper's "< 0.5 MB" (issue 21)


def test_a_name_is_resolved_only_when_it_is_a_shipped_name(tmp_path):
    assert checkpoint_path(None) == SHIPPED_DIR / f"{DEFAULT}.pt"
    assert checkpoint_path(f"{DEFAULT}.pt") == Path(f"{DEFAULT}.pt")  # a file name stays a path
    assert checkpoint_path(f"./{DEFAULT}") == Path(f"./{DEFAULT}")
    assert checkpoint_path(tmp_path / DEFAULT) == tmp_path / DEFAULT  # a Path is never a name


def test_the_cli_takes_a_shipped_name():
    fast = next(n for n in SHIPPED if n != DEFAULT)
    r = run_cli("size", "--checkpoint", fast, "--json", timeout=300)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["model"] == "squeezenet1_1-cifar10" and out["checkpoint"] == str(SHIPPED_DIR / f"{fast}.pt")
    r = run_cli("models", timeout=300)
    assert r.returncode == 0, r.stderr
    for name in SHIPPED:
        top1 = json.loads((SHIPPED_DIR / f"{name}.json").read_text())["qat"]["test_top1"]
        line = next(l for l in r.stdout.splitlines() if l.strip().startswith(name))
        assert f"top-1 {100 * top1:.2f} %" in line, line
    r = run_cli("size", "--checkpoint", "squeezenet1_1-cifar10-w9a9", timeout=300)
    assert r.returncode != 0 and "squeezenet1_1-cifar10-w9a9" in r.stderr
