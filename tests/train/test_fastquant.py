"""The fused QAT quantizers (train/fastquant.py) train exactly as Brevitas' own modules do."""
import copy

import pytest
import torch

from hwsqueeze.models import create
from hwsqueeze.train.amp import fp32_act_quantizers
from hwsqueeze.train.fastquant import fuse_quantizers, unfuse_quantizers


@pytest.fixture(autouse=True)
def one_thread():
    """OpenMP threads wait for each other on a machine shared with other jobs (docs/training.md): 1 thread."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _steps(model, x, y, bf16: bool, steps: int = 3):
    """Loss, logits, quantized weights and activations of each SGD step (as the training loop runs them)."""
    from brevitas.nn import QuantConv2d, QuantReLU

    acts = []
    hooks = [m.register_forward_hook(lambda m, i, o: acts.append(o.detach().clone()))
             for m in model.modules() if isinstance(m, QuantReLU)]
    convs = [m for m in model.modules() if isinstance(m, QuantConv2d)]
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)
    seen = []
    for _ in range(steps):
        acts.clear()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out = model(x)
        loss = torch.nn.functional.cross_entropy(out.float(), y)
        opt.zero_grad()
        loss.backward()
        weights = [c.quant_weight().value.detach().clone() for c in convs]
        grads = [p.grad.clone() for p in model.parameters()]
        opt.step()
        seen.append((loss.detach(), out.detach(), weights, list(acts), grads))
    for h in hooks:
        h.remove()
    return seen


@pytest.mark.parametrize("bf16, stats", [(True, False), (False, True)])
def test_fused_quantizers_train_bit_for_bit_like_brevitas(bf16, stats):
    """Losses, logits, quantized weights/activations, every gradient and the final state are
    torch.equal to Brevitas' unfused modules: with learned activation scales (after statistics
    collection, bf16 autocast as `hwsqueeze train`) and during statistics collection (fp32)."""
    torch.manual_seed(0)
    ref = create("squeezenet-tiny-cifar10", "w4a4").to(memory_format=torch.channels_last).train()
    x = torch.randint(0, 256, (16, 3, 32, 32)).float().contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (16,))
    if not stats:
        with torch.no_grad():  # past collect_stats_steps: the scales are Parameters from here on
            for _ in range(51):
                ref(x[:2])
    fast = copy.deepcopy(ref)
    if bf16:
        fp32_act_quantizers(ref, "cpu")
        fp32_act_quantizers(fast, "cpu")
    # every quantizer of the model (1 input, 5 ReLU: 7 calls, 8 conv weights) takes the fused path
    assert fuse_quantizers(fast) == 14
    a, b = _steps(ref, x, y, bf16), _steps(fast, x, y, bf16)
    for (la, oa, wa, aa, ga), (lb, ob, wb, ab, gb) in zip(a, b):
        assert torch.equal(la, lb) and torch.equal(oa, ob)
        assert len(wa) == 8 and all(torch.equal(p, q) for p, q in zip(wa, wb))
        assert len(aa) == 7 and all(torch.equal(p, q) for p, q in zip(aa, ab))
        assert all(torch.equal(p, q) for p, q in zip(ga, gb))
    sa, sb = ref.state_dict(), fast.state_dict()
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    assert a[0][0] != a[-1][0]  # it trained


def test_unfuse_restores_brevitas_and_fuse_is_idempotent():
    m = create("squeezenet-tiny-cifar10", "w4a4")
    assert fuse_quantizers(m) == 14 and fuse_quantizers(m) == 0
    assert unfuse_quantizers(m) == 14 and fuse_quantizers(m) == 14
    assert fuse_quantizers(create("squeezenet-tiny-cifar10", "float")) == 0
