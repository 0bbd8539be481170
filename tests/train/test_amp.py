"""bf16 autocast leaves Brevitas' quantizers exact: weights, and activations on the same input."""
import torch

from hwsqueeze.data import generate_dataset
from hwsqueeze.models import create
from hwsqueeze.train.amp import act_quantizers, fp32_act_quantizers


def _model():
    torch.manual_seed(0)
    m = create("squeezenet-tiny-cifar10", "w4a4").train()
    x = torch.from_numpy(generate_dataset(48).images).permute(0, 3, 1, 2).float()
    with torch.no_grad():
        for _ in range(3):  # a few statistics steps, then a training step's forward
            m(x[:16])
            m(x[16:32])
    return m, x


def _record(m, x):
    """Each activation quantizer's (input, output) in one autocast forward pass."""
    rec = []
    hooks = [mod.register_forward_hook(lambda mod, i, o: rec.append((mod, i[0].detach(), o.detach())))
             for _, mod in act_quantizers(m)]
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        m(x)
    for h in hooks:
        h.remove()
    return rec


def test_quantizers_are_exact_under_autocast():
    m, x = _model()
    m.eval()  # scales from the statistics collected: the same in every call below
    for batch in (x[:16], x[16:32], x[32:]):
        # weights: the quantized integers and scales are those of fp32
        for mod in [mod for mod in m.modules() if hasattr(mod, "quant_weight")]:
            with torch.no_grad():
                w0 = mod.quant_weight()
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    w1 = mod.quant_weight()
            assert torch.equal(w0.value, w1.value) and torch.equal(w0.scale, w1.scale)
        # activations: plain Brevitas under autocast quantizes the bf16 conv output in bf16 and
        # disagrees with its own fp32 result on the same input ...
        plain = _record(m, batch)
        assert any(not torch.equal(o.float(), mod(i.float())) for mod, i, o in plain if o.dtype == torch.bfloat16)
    m, x = _model()  # a fresh copy: the plain passes above are not asked to leave the model as it was
    m.eval()
    fp32_act_quantizers(m, "cpu")
    for batch in (x[:16], x[16:32], x[32:]):
        # ... with fp32 quantizers, every quantized activation is what fp32 quantization of the
        # same input gives, bit for bit
        for mod, i, o in _record(m, batch):
            assert o.dtype == torch.float32
            with torch.no_grad():
                assert torch.equal(o, mod(i.float()))
