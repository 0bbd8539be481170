import pytest
import torch

from hwsqueeze.models import ARCHS, PRESETS, create, names


@pytest.mark.parametrize("name,count", [("squeezenet1_0-imagenet", 1_248_424), ("squeezenet1_1-imagenet", 1_235_496)])
def test_paper_parameter_counts(name, count):
    m = create(name, "float", norm=False)
    assert sum(p.numel() for p in m.parameters()) == count
    assert m.paper_param_count() == count


def test_hardware_form_counts_fold_bn_into_one_bias_per_channel():
    paper = create("squeezenet1_1-imagenet", "float", norm=False)
    hw = create("squeezenet1_1-imagenet", "float", norm=True)
    # identical except conv10: the hardware classifier has no bias (logits = ints x one scale)
    assert paper.paper_param_count() - hw.paper_param_count() == 1000
    assert paper.weight_count() == hw.weight_count()


def test_imagenet_architecture_matches_paper():
    m = create("squeezenet1_0-imagenet", "float", norm=False)
    assert (m.conv1.kernel_size, m.conv1.stride, m.conv1.out_channels) == ((7, 7), (2, 2), 96)
    pools = [l for l in m.features if isinstance(l, torch.nn.MaxPool2d)]
    assert len(pools) == 3 and all(p.ceil_mode and p.kernel_size == 3 and p.stride == 2 for p in pools)
    fires = m.fires()
    assert [(f.squeeze.out_channels, f.expand1x1.out_channels, f.expand3x3.out_channels) for f in fires][:2] == \
        [(16, 64, 64), (16, 64, 64)]
    assert len(fires) == 8
    m11 = create("squeezenet1_1-imagenet", "float", norm=False)
    assert (m11.conv1.kernel_size, m11.conv1.out_channels) == ((3, 3), 64)
    assert m11.macs() < m.macs() / 2  # v1.1: ~2.4x less compute


@pytest.mark.parametrize("name", sorted(ARCHS))
@pytest.mark.parametrize("quant", ["float", "w4a4"])
def test_forward_shapes(name, quant):
    m = create(name, quant).eval()
    s = m.arch.input_size
    x = torch.randint(0, 256, (2, 3, s, s), dtype=torch.uint8)
    with torch.no_grad():
        y = m(x)
    assert y.shape == (2, m.arch.num_classes)
    assert torch.isfinite(y).all()


def test_input_quantizer_is_exact_uint8_identity():
    m = create("squeezenet-tiny-cifar10", "w4a4").eval()
    x = torch.arange(256, dtype=torch.float32).reshape(1, 1, 16, 16).expand(1, 3, 16, 16)
    assert torch.equal(m.input_quant(x), x)
    assert float(m.input_quant.act_quant.scale()) == 1.0


def test_fire_expand_branches_share_one_scale():
    m = create("squeezenet1_1-cifar10", "w4a4")
    m.train()
    with torch.no_grad():  # let the activation scales initialise from statistics
        for _ in range(3):
            m(torch.randint(0, 256, (4, 3, 32, 32)).float())
    m.eval()
    for fire in m.fires():
        seen = []
        hook = fire.expand_act.register_forward_hook(lambda mod, i, o: seen.append(float(mod.act_quant.scale())))
        fire(torch.rand(1, fire.in_ch, 4, 4) * 3)
        hook.remove()
        assert len(seen) == 2 and seen[0] == seen[1]  # one quantizer, applied to both branches


def test_qat_forward_backward_reaches_every_weight_and_scale():
    m = create("squeezenet-tiny-cifar10", "w4a4")
    m.train()
    x = torch.randint(0, 256, (8, 3, 32, 32)).float()
    loss = torch.nn.functional.cross_entropy(m(x), torch.randint(0, 10, (8,)))
    loss.backward()
    for name, p in m.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
    convs = [mod for mod in m.modules() if isinstance(mod, torch.nn.Conv2d)]
    assert all(float(c.weight.grad.abs().sum()) > 0 for c in convs)


def test_quantized_weights_use_requested_bits():
    m = create("squeezenet-tiny-cifar10", "w4a4")
    assert int(m.conv1.quant_weight().bit_width) == 8  # first layer 8-bit
    assert int(m.conv10.quant_weight().bit_width) == 8  # last layer 8-bit, one scale
    assert m.conv10.quant_weight().scale.numel() == 1
    fire = m.fires()[0]
    qw = fire.expand3x3.quant_weight()
    assert int(qw.bit_width) == 4
    ints = qw.int().float()
    assert torch.allclose(qw.value / qw.scale, ints, atol=1e-4) and ints.abs().max() <= 7
    m3 = create("squeezenet-tiny-cifar10", "w4a4", weight_bits=3, act_bits=2)
    assert int(m3.fires()[0].squeeze.quant_weight().bit_width) == 3
    assert int(m3.fires()[0].expand_act.act_quant.bit_width()) == 2


def test_float_checkpoint_loads_into_qat_model_by_name():
    f = create("squeezenet-tiny-cifar10", "float")
    q = create("squeezenet-tiny-cifar10", "w4a4")
    missing, unexpected = q.load_state_dict(f.state_dict(), strict=False)
    assert not unexpected
    assert missing and all("quant" in k for k in missing)


def test_simple_bypass():
    m = create("squeezenet1_0-cifar10", "float", bypass=True)
    by = [f.bypass for f in m.fires()]
    assert by == [False, True, False, True, False, True, False, True]  # fire3,5,7,9
    y = m(torch.randint(0, 256, (1, 3, 32, 32)).float())
    assert y.shape == (1, 10)


def test_cifar_pools_are_exact_2x2():
    m = create("squeezenet1_1-cifar10", "w4a4")
    pools = [l for l in m.features if isinstance(l, torch.nn.MaxPool2d)]
    assert pools and all(p.kernel_size == 2 and p.stride == 2 and not p.ceil_mode for p in pools)


def test_unknown_model_and_preset():
    with pytest.raises(ValueError, match="unknown model 'nope'.*squeezenet1_1-cifar10"):
        create("nope")
    with pytest.raises(ValueError, match="unknown quantization preset"):
        create("squeezenet-tiny-cifar10", "w9a9")


def test_registry_names_and_macs():
    assert {"squeezenet1_0-imagenet", "squeezenet1_1-imagenet", "squeezenet1_1-cifar10"} <= set(names())
    assert create("squeezenet1_1-cifar10", "float").macs() == 23_511_040
    assert "w4a4" in PRESETS


@pytest.mark.parametrize("change,match", [({"stem_kernel": 0}, "stem_kernel"), ({"body": ((16, 64),)}, r"body\[0\]"),
                                          ({"num_classes": -1}, "num_classes")])
def test_arch_refuses_degenerate_topology(change, match):
    from hwsqueeze.models import ARCHS, Arch

    with pytest.raises(ValueError, match=match):
        Arch(**{**ARCHS["squeezenet-tiny-cifar10"].__dict__, **change})


def test_quant_spec_refuses_bad_bit_widths():
    from hwsqueeze.models import QuantSpec

    for bad in ({"weight_bits": 0}, {"act_bits": 0}, {"weight_bits": 1}, {"overrides": {"conv1": {"w": 40}}}):
        with pytest.raises(ValueError):
            QuantSpec(**bad)
