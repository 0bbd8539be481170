"""The float teacher (resnet-teacher-cifar10), distilling from it, and cheaper epochs (--eval-every)."""
import json

import numpy as np
import pytest
import torch

from helpers import run_cli
from hwsqueeze.errors import BAD_INPUT
from hwsqueeze.models import TEACHERS, create
from hwsqueeze.train import TrainConfig
from hwsqueeze.train.distill import teacher_logits


def _hand_macs(arch) -> int:
    """MACs of the teacher by its documented shape: stem at full size, each stage's first conv
    before its 2x2 pool, the stage's other convs after it, the classifier."""
    s = arch.input_size
    macs, cin = 3 * 9 * arch.stem_channels * s * s, arch.stem_channels
    for w in arch.widths:
        macs += cin * 9 * w * s * s
        s //= 2
        macs += (2 if arch.residual else 1) * w * 9 * w * s * s
        cin = w
    return macs + cin * arch.num_classes


@pytest.mark.parametrize("name", sorted(TEACHERS))
def test_teacher_shape(name):
    m = create(name, "float")
    assert m.macs() == _hand_macs(TEACHERS[name])
    m.eval()
    x = torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8)
    with torch.no_grad():
        assert torch.equal(m(x), m(x.float()))  # uint8 pixels like the student
        assert m(x).shape == (2, 10)


def test_teacher_is_float_only():
    with pytest.raises(ValueError, match="float teacher"):
        create("resnet-teacher-cifar10", "w4a4")
    r = run_cli("train", "--data", "generated:40", "--out", "unused", "--model", "resnet-teacher-cifar10")
    assert r.returncode == BAD_INPUT and "float teacher" in r.stderr and "Traceback" not in r.stderr


def test_teacher_logits_bf16_and_mirror():
    torch.manual_seed(0)
    t = create("resnet-teacher-cifar10", "float").eval()
    x = torch.randint(0, 256, (4, 3, 32, 32)).float()
    with torch.no_grad():
        plain, mirror = t(x), t(x.flip(3))
    assert torch.equal(teacher_logits(t, x, None, False), plain)  # no autocast: the fp32 forward
    assert torch.allclose(teacher_logits(t, x, None, True), (plain + mirror) / 2, atol=1e-6)
    bf = teacher_logits(t, x, torch.bfloat16, False)
    assert bf.dtype == torch.float32 and not torch.equal(bf, plain)  # really computed in bf16
    assert torch.allclose(bf, plain, atol=0.05 * float(plain.abs().max()))


def test_label_smoothing_default():
    assert TrainConfig(data="d", out="o").label_smoothing == 0.1
    assert TrainConfig(data="d", out="o", teacher="t.pt").label_smoothing == 0.0
    assert TrainConfig(data="d", out="o", teacher="t.pt", label_smoothing=0.05).label_smoothing == 0.05


def test_student_follows_resnet_teacher(tmp_path):
    """A resnet teacher whose classifier rows are rotated by one class teaches a SqueezeNet
    student (another architecture) that rotation through soft targets alone (--kd-weight 1);
    the run stores label smoothing 0 (the default when distilling)."""
    from hwsqueeze.train import load_checkpoint, save_checkpoint

    common = ["--data", "generated:400", "--quant", "float", "--batch-size", "50", "--no-bf16", "--max-test",
              "200", "--quiet"]
    r = run_cli("train", *common, "--model", "resnet-teacher-cifar10", "--epochs", "4", "--lr", "0.1",
                "--out", str(tmp_path / "t"))
    assert r.returncode == 0, r.stderr[-2000:]
    ck = load_checkpoint(tmp_path / "t" / "final.pt")
    assert ck["metrics"][-1]["test_top1"] > 0.5
    ck["model"] = {k: v.roll(1, 0) if k == "fc.weight" else v for k, v in ck["model"].items()}
    save_checkpoint(tmp_path / "rotated.pt", ck)
    r = run_cli("train", *common, "--model", "squeezenet-tiny-cifar10", "--epochs", "5", "--lr", "0.1",
                "--teacher", str(tmp_path / "rotated.pt"), "--kd-weight", "1", "--kd-temperature", "2",
                "--kd-flip", "--out", str(tmp_path / "s"))
    assert r.returncode == 0, r.stderr[-2000:]
    assert "mirror-averaged" in r.stderr and "label smoothing 0" in r.stderr
    from hwsqueeze.data import load_dataset
    from hwsqueeze.train import model_from_checkpoint
    from hwsqueeze.train.evaluation import evaluate

    student, sck = model_from_checkpoint(tmp_path / "s" / "final.pt")
    assert sck["config"]["label_smoothing"] == 0.0 and sck["config"]["kd_flip"] is True
    test = load_dataset("generated:400", "test").subset(200)
    pred = evaluate(student, test)["logits"].argmax(1)
    assert (pred == (test.labels + 1) % 10).mean() > 0.3 and (pred == test.labels).mean() < 0.15


def test_eval_every(tmp_path):
    """--eval-every 2 over 3 epochs evaluates after epochs 2 and 3 (the last) only; the result
    is the last evaluation; resuming with another --eval-every continues (evaluation only)."""
    args = ["train", "--data", "generated:200", "--model", "squeezenet-tiny-cifar10", "--quant", "float",
            "--batch-size", "50", "--epochs", "3", "--max-test", "50", "--quiet", "--out", str(tmp_path)]
    r = run_cli(*args, "--eval-every", "2", "--stop-after", "1")
    assert r.returncode == 0, r.stderr[-2000:]
    assert not (tmp_path / "learning_curve.png").exists()  # no evaluation yet: no plot
    assert json.loads(r.stdout.strip().splitlines()[-1])["test_top1"] is None
    r = run_cli(*args, "--eval-every", "1")
    assert r.returncode == 0, r.stderr[-2000:]
    epochs = json.loads((tmp_path / "metrics.json").read_text())["epochs"]
    assert ["test_top1" in e for e in epochs] == [False, True, True]
    assert json.loads(r.stdout.strip().splitlines()[-1])["test_top1"] == epochs[-1]["test_top1"]
    assert np.isfinite(epochs[-1]["test_top1"]) and (tmp_path / "learning_curve.png").exists()


def test_teacher_checkpoint_does_not_compile(tmp_path):
    """The committed teacher scores with `eval` but is refused, in one line, by export and build."""
    from helpers import ROOT

    teacher = ROOT / "checkpoints" / "resnet-teacher-cifar10.pt"
    for args in (("export", "--checkpoint", str(teacher), "--out", str(tmp_path / "t.onnx")),
                 ("build", "--checkpoint", str(teacher), "--out", str(tmp_path / "b"), "--estimate-only")):
        r = run_cli(*args)
        lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
        assert r.returncode == BAD_INPUT and "TeacherNet" in lines[-1] and "Traceback" not in r.stderr, r.stderr
    assert not (tmp_path / "t.onnx").exists()
