"""scripts/train_campaign.sh owns where each stage's checkpoint is published; the tracked files agree."""
import subprocess

import pytest

from helpers import ROOT
from hwsqueeze.train import load_checkpoint

# finished stages, and the network each one's checkpoint must hold (checkpoints/RECIPE.md)
FINISHED = {"teacher": ("resnet-teacher-cifar10", "float"), "float": ("squeezenet1_1-cifar10", "float"),
            "w4a4": ("squeezenet1_1-cifar10", "w4a4"), "cnv": ("cnv-w2a2-cifar10", "w2a2"),
            "teacher-cutout": ("resnet-teacher-cifar10", "float"), "w3a3": ("squeezenet1_1-cifar10", "w3a3")}


def _campaign(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(ROOT / "scripts" / "train_campaign.sh"), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("stage", sorted(FINISHED))
def test_a_finished_stage_is_published_where_the_campaign_says(stage):
    r = _campaign("path", stage)
    assert r.returncode == 0, r.stderr
    ck = load_checkpoint(ROOT / r.stdout.strip())
    assert (ck["config"]["model"], ck["config"]["quant"]) == FINISHED[stage]


@pytest.mark.parametrize("bad", ["nope", "", "teacher float"])
def test_path_of_an_unknown_stage_is_refused(bad):
    r = _campaign("path", bad)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.count("\n") == 1 and "path STAGE" in r.stderr


def test_the_shipped_models_are_packaged_from_the_campaign_stages():
    """train_default.sh takes the float and QAT checkpoints from the campaign, not copies of their paths,
    and packages each shipped model from its own QAT stage."""
    text = (ROOT / "scripts" / "train_default.sh").read_text()
    assert 'train_campaign.sh path float' in text and 'train_campaign.sh path "$qat"' in text
    assert "checkpoints/squeezenet1_1" not in text
    for mode, qat in (("default", "w4a4"), ("fast", "w3a3")):
        line = next(l for l in text.splitlines() if l.strip().startswith(f"{mode})"))
        assert f"qat={qat};" in line and f"name=squeezenet1_1-cifar10-{qat} " in line + " "
        assert line.split("stages=(")[1].split(")")[0].split()[-1] == qat  # the QAT stage runs last
