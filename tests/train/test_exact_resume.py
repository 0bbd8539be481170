"""QAT resume is bit-identical: 3 epochs straight == 1 + resumed 1 + resumed 1, every tensor.

Brevitas' activation scales start from statistics of the first ``collect_stats_steps`` training
steps; the test shortens that to 6 steps (4 steps per epoch here) so that one interruption falls
inside statistics collection and one after it, with the switch to the learned scale in between.
"""
import pytest
import torch

from hwsqueeze.train import TrainConfig, load_checkpoint, train

KW = dict(data="generated:80", model="squeezenet-tiny-cifar10", batch_size=20, bf16=False, quant="w4a4",
          epochs=3, lr=0.05, max_test=20)
STATS_STEPS = 6


@pytest.fixture
def short_stats(monkeypatch):
    """Activation quantizers that collect statistics for STATS_STEPS steps instead of 50 (the
    quantizer class itself: Brevitas rebuilds its modules from it on every load_state_dict)."""
    from hwsqueeze.models import layers, quant

    def shortened():
        pixel, act, weight, last = quant.make_quantizers()
        return pixel, type("ShortStatsActQuant", (act,), {"collect_stats_steps": STATS_STEPS}), weight, last

    monkeypatch.setattr(layers, "make_quantizers", shortened)


def _stop(rec):
    raise KeyboardInterrupt


def test_qat_resume_is_bit_identical(tmp_path, short_stats):
    train(TrainConfig(out=str(tmp_path / "straight"), **KW), progress=False, log=None)
    counters = []
    for _ in range(2):  # interrupted after epoch 1, then after epoch 2
        with pytest.raises(KeyboardInterrupt):
            train(TrainConfig(out=str(tmp_path / "resumed"), **KW), progress=False, log=None, on_epoch=_stop)
        qs = load_checkpoint(tmp_path / "resumed" / "last.pt")["quant_state"]
        counters.append(sorted(int(v["counter"]) for v in qs.values()))
    # epoch 1 ends inside statistics collection for some quantizers, epoch 2 after it for all
    assert min(counters[0]) < STATS_STEPS and min(counters[1]) > STATS_STEPS, counters
    resumed = train(TrainConfig(out=str(tmp_path / "resumed"), **KW), progress=False, log=None)
    a = torch.load(tmp_path / "straight" / "final.pt", weights_only=True)["model"]
    b = torch.load(tmp_path / "resumed" / "final.pt", weights_only=True)["model"]
    assert set(a) == set(b)
    differ = [k for k in a if not torch.equal(a[k], b[k])]
    assert differ == [], f"{len(differ)}/{len(a)} tensors differ after resume, e.g. {differ[:3]}"
    straight = torch.load(tmp_path / "straight" / "last.pt", weights_only=True)
    again = torch.load(tmp_path / "resumed" / "last.pt", weights_only=True)
    for k in ("optimizer", "scheduler"):  # and the state a further resume would start from
        assert _flat(straight[k]) == _flat(again[k])
    assert [e["train_loss"] for e in resumed["epochs"]] == [e["train_loss"] for e in straight["metrics"]]


def _flat(obj):
    """Nested state as comparable plain values (tensors as exact lists)."""
    if isinstance(obj, torch.Tensor):
        return obj.tolist()
    if isinstance(obj, dict):
        return {k: _flat(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_flat(v) for v in obj]
    return obj


def test_qat_from_init_trains_the_activation_scales(tmp_path, short_stats):
    """Brevitas rebuilds its quantizers on load_state_dict: an optimizer made before --init is
    loaded never updates the learned activation scales, which then stay exactly at their
    statistics initialisation (``value == buffer``). They must move once training goes on."""
    train(TrainConfig(out=str(tmp_path / "f"), **{**KW, "quant": "float", "epochs": 1}), progress=False, log=None)
    train(TrainConfig(out=str(tmp_path / "q"), init=str(tmp_path / "f" / "final.pt"), **{**KW, "epochs": 3}),
          progress=False, log=None)
    qs = load_checkpoint(tmp_path / "q" / "last.pt")["quant_state"]
    assert all(int(v["counter"]) == STATS_STEPS + 1 for v in qs.values())  # all past collection
    frozen = [n for n, v in qs.items() if torch.equal(v["value"], v["buffer"])]
    assert frozen == [], f"activation scales never trained: {frozen}"
