"""The trainable peer cnv-w2a2-cifar10 is Brevitas' own CNV-W2A2, trained by the published rules."""
import pytest
import torch

from helpers import run_cli
from hwsqueeze.errors import BAD_INPUT
from hwsqueeze.models import create


def test_peer_is_brevitas_cnv_2w2a():
    """Our peer's weights load into Brevitas' own cnv_2w2a (bnn_pynq's factory, as finn-examples
    exports it) and give the same logits for the same pixels (ours: uint8; Brevitas': 0..1)."""
    from brevitas_examples.bnn_pynq.models import cnv_2w2a

    torch.manual_seed(0)
    ours = create("cnv-w2a2-cifar10", "w2a2").eval()
    theirs = cnv_2w2a(pretrained=False).eval()
    theirs.load_state_dict({k.removeprefix("cnv."): v for k, v in ours.state_dict().items()})
    x = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8)
    with torch.no_grad():
        assert torch.equal(ours(x), theirs(x.float() / 255.0))
    assert ours.macs() == 59_461_376  # 6 convs + 3 FCs of CNV at 32x32 (finn-examples' 57.9 M ops / 2 + FCs)


def test_peer_bits_are_fixed():
    with pytest.raises(ValueError, match="peer as published"):
        create("cnv-w2a2-cifar10", "w4a4")
    r = run_cli("train", "--data", "generated:40", "--out", "unused", "--model", "cnv-w2a2-cifar10")
    assert r.returncode == BAD_INPUT and "peer as published" in r.stderr and "Traceback" not in r.stderr


def test_peer_trains_with_adam_and_clipped_weights(tmp_path):
    """--optimizer adam at a large lr pushes weights past +-1 within a step; the peer's
    after-step rule (bnn_pynq's clip_weights) keeps every one in [-1, 1]."""
    r = run_cli("train", "--data", "generated:200", "--model", "cnv-w2a2-cifar10", "--quant", "w2a2",
                "--optimizer", "adam", "--lr", "0.5", "--epochs", "1", "--batch-size", "50", "--max-test", "50",
                "--no-bf16", "--quiet", "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr[-2000:]
    from hwsqueeze.train import load_checkpoint

    ck = load_checkpoint(tmp_path / "final.pt")
    assert ck["config"]["optimizer"] == "adam"
    w = [v for k, v in ck["model"].items() if k.endswith(".weight") and v.ndim > 1]
    assert len(w) == 9 and max(float(t.abs().max()) for t in w) <= 1.0
    assert max(float(t.abs().max()) for t in w) == 1.0  # some were clipped
