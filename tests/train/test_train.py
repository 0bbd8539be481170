import json

import pytest
import torch

from helpers import run_cli
from hwsqueeze.errors import HwsqueezeError
from hwsqueeze.train import TrainConfig, load_checkpoint, model_from_checkpoint, save_checkpoint, train
from hwsqueeze.data import load_dataset

TINY = dict(data="generated:400", model="squeezenet-tiny-cifar10", batch_size=50, bf16=False)


def _cfg(tmp_path, name, **kw):
    return TrainConfig(out=str(tmp_path / name), **{**TINY, **kw})


def test_training_lowers_the_loss(tmp_path):
    s = train(_cfg(tmp_path, "a", quant="float", epochs=6, lr=0.1), progress=False, log=None)
    losses = [e["train_loss"] for e in s["epochs"]]
    assert losses[-1] < losses[0] - 0.2
    assert s["epochs"][-1]["test_top1"] > 0.3  # the generated classes are learnable


def test_resume_after_interruption_matches_unbroken_run(tmp_path):
    straight = train(_cfg(tmp_path, "s", quant="float", epochs=2), progress=False, log=None)

    def stop(rec):
        if rec["epoch"] == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(_cfg(tmp_path, "r", quant="float", epochs=2), progress=False, log=None, on_epoch=stop)
    ck = load_checkpoint(tmp_path / "r" / "last.pt")
    assert ck["epoch"] == 1 and set(ck) >= {"model", "optimizer", "scheduler", "config", "metrics"}
    resumed = train(_cfg(tmp_path, "r", quant="float", epochs=2), progress=False, log=None)
    a = torch.load(tmp_path / "s" / "final.pt", weights_only=True)["model"]
    b = torch.load(tmp_path / "r" / "final.pt", weights_only=True)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert straight["epochs"][-1]["train_loss"] == resumed["epochs"][-1]["train_loss"]


def test_qat_from_float_with_pruning(tmp_path):
    train(_cfg(tmp_path, "f", quant="float", epochs=2), progress=False, log=None)
    s = train(_cfg(tmp_path, "q", quant="w4a4", epochs=3, lr=0.02, init=str(tmp_path / "f" / "final.pt"),
                   sparsity=0.5, prune_end=2), progress=False, log=None)
    # reported sparsity counts all convs; conv1 and conv10 are not pruned
    assert 0.35 < s["epochs"][-1]["sparsity"] < 0.5
    model, ck = model_from_checkpoint(tmp_path / "q" / "final.pt")
    inner = [m for n, m in model.named_modules() if isinstance(m, torch.nn.Conv2d) and n not in ("conv1", "conv10")]
    for m in inner:  # every inner layer reached its target and the zeros survive quantization
        assert float((m.weight == 0).float().mean()) == pytest.approx(0.5, abs=0.02)
        assert float((m.quant_weight().int() == 0).float().mean()) >= 0.48
    assert ck["config"]["quant_spec"]["weight_bits"] == 4


def test_resume_refuses_a_different_run(tmp_path):
    train(_cfg(tmp_path, "x", quant="float", epochs=1), progress=False, log=None)
    with pytest.raises(HwsqueezeError, match="started with other options: --quant .float. -> .w4a4."):
        train(_cfg(tmp_path, "x", quant="w4a4", epochs=1), progress=False, log=None)

    # a run from before an option existed was trained with its default: adding it is a change
    ck_path = tmp_path / "x" / "last.pt"
    ck = torch.load(ck_path, weights_only=False)
    ck["config"].pop("cutout")
    torch.save(ck, ck_path)
    with pytest.raises(HwsqueezeError, match="other options: --cutout 0 -> 4"):
        train(_cfg(tmp_path, "x", quant="float", epochs=1, cutout=4), progress=False, log=None)


def test_cutout_larger_than_the_images_is_one_line(tmp_path):
    r = run_cli("train", "--data", "generated:40", "--out", str(tmp_path / "c"), "--cutout", "33")
    assert r.returncode != 0 and r.stderr.strip() == "error: --cutout 33: larger than the 32px training images", r.stderr
    assert not (tmp_path / "c" / "last.pt").exists()


def test_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    p = tmp_path / "c.pt"
    save_checkpoint(p, {"model": {}, "config": {"model": "x"}})
    before = p.read_bytes()

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(RuntimeError):
        save_checkpoint(p, {"model": {"w": torch.zeros(3)}, "config": {}})
    assert p.read_bytes() == before
    assert [f.name for f in tmp_path.iterdir()] == ["c.pt"]  # no temp file left behind


def test_corrupt_and_foreign_checkpoints(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"\x00" * 64)
    with pytest.raises(HwsqueezeError, match="not a readable checkpoint"):
        load_checkpoint(bad)
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(2)}, other)
    with pytest.raises(HwsqueezeError, match="not an hwsqueeze checkpoint"):
        load_checkpoint(other)
    with pytest.raises(HwsqueezeError, match="checkpoint not found"):
        load_checkpoint(tmp_path / "missing.pt")


def _top1_by_hand(model, ds) -> float:
    """A plain torch loop: argmax of the logits against the labels, counted one image at a time."""
    model.eval()
    correct, predicted = 0, set()
    with torch.no_grad():
        for img, label in zip(ds.images, ds.labels):
            pred = int(model(torch.from_numpy(img).permute(2, 0, 1)[None].float())[0].argmax())
            correct += pred == int(label)
            predicted.add(pred)
    assert len(predicted) > 1, "a model that predicts one class cannot tell a ranking bug apart"
    return correct / len(ds)


def test_train_and_eval_cli(tmp_path):
    out = tmp_path / "run"
    r = run_cli("train", "--data", "generated:300", "--out", str(out), "--model", "squeezenet-tiny-cifar10",
                "--quant", "w4a4", "--epochs", "1", "--batch-size", "50", "--quiet")
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.strip().splitlines()) == 1  # stdout: the result JSON alone
    assert json.loads(r.stdout)["epochs"] == 1
    assert r.stderr.count("epoch 1:") == 1 and r.stderr.count("training on") == 1  # each log line once
    assert model_from_checkpoint(out / "final.pt")[1]["epoch"] == 1
    # eval: the shipped model, whose predictions on generated images vary (a one-epoch tiny model
    # predicts one class for everything, which any ranking bug would still score at 10 %)
    plot = tmp_path / "cm.png"
    r = run_cli("eval", "--data", "generated:100", "--json", "--plot", str(plot))
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert set(res) >= {"top1", "top5", "n", "checkpoint"} and res["n"] == 100
    assert plot.read_bytes()[:4] == b"\x89PNG"
    model, _ = model_from_checkpoint()
    assert res["top1"] == _top1_by_hand(model, load_dataset("generated:100", "test"))


def test_qat_resume_after_interruption(tmp_path):
    cfg = _cfg(tmp_path, "q", data="generated:200", quant="w4a4", epochs=2, lr=0.02, max_test=60)
    seen = []

    def stop(rec):
        seen.append(rec)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(cfg, progress=False, log=None, on_epoch=stop)
    assert load_checkpoint(tmp_path / "q" / "last.pt")["epoch"] == 1
    s = train(cfg, progress=False, log=None)
    assert [e["epoch"] for e in s["epochs"]] == [1, 2]
    assert s["epochs"][0] == seen[0]  # epoch 1 is carried over, not re-run
    model, ck = model_from_checkpoint(tmp_path / "q" / "final.pt")
    assert ck["epoch"] == 2 and ck["metrics"] == s["epochs"]
    # the recorded accuracy is what the loaded QAT model scores, counted by hand (equality with an
    # unbroken QAT run, tensor for tensor: tests/train/test_exact_resume.py)
    assert s["epochs"][-1]["test_top1"] == _top1_by_hand(model, load_dataset("generated:200", "test").subset(60))
