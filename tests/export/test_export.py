import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from hwsqueeze.errors import HwsqueezeError
from hwsqueeze.export import check_export, export_qonnx, sample_images
from hwsqueeze.models import create
from hwsqueeze.train import TrainConfig, model_from_checkpoint, train


@pytest.fixture(scope="module")
def tiny_qat(tmp_path_factory):
    d = tmp_path_factory.mktemp("tiny")
    train(TrainConfig(data="generated:200", out=str(d), model="squeezenet-tiny-cifar10", quant="w4a4", epochs=1,
                      batch_size=50, bf16=False), progress=False, log=None)
    return model_from_checkpoint(d / "final.pt")[0]


def test_export_matches_brevitas(tiny_qat, tmp_path):
    out = tmp_path / "m.onnx"
    res = export_qonnx(tiny_qat, out, check_n=6)
    assert res.ok and res.top1_equal and res.n == 6
    assert res.max_abs_diff <= 1e-5 * max(1.0, res.max_abs_logit)
    m = onnx.load(str(out))
    ops = [n.op_type for n in m.graph.node]
    assert "Quant" in ops and "Conv" in ops and "Concat" in ops
    assert [d.dim_value for d in m.graph.input[0].type.tensor_type.shape.dim] == [1, 3, 32, 32]


def test_concat_inputs_carry_identical_scales(tiny_qat, tmp_path):
    out = tmp_path / "m.onnx"
    export_qonnx(tiny_qat, out)
    m = onnx.load(str(out))
    inits = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    producer = {o: n for n in m.graph.node for o in n.output}
    concats = [n for n in m.graph.node if n.op_type == "Concat"]
    assert len(concats) == 2
    for c in concats:
        quants = [producer[i] for i in c.input]
        assert all(q.op_type == "Quant" for q in quants)
        scales = [inits[q.input[1]] for q in quants]
        assert np.array_equal(scales[0], scales[1])


def test_check_detects_a_wrong_export(tiny_qat, tmp_path):
    out = tmp_path / "m.onnx"
    export_qonnx(tiny_qat, out)
    m = onnx.load(str(out))
    conv10 = [n for n in m.graph.node if n.op_type == "Conv"][-1]
    # conv10's weight comes through a Quant node; perturb its float weight tensor
    producer = {o: n for n in m.graph.node for o in n.output}
    wname = producer[conv10.input[1]].input[0]
    for init in m.graph.initializer:
        if init.name == wname:
            w = numpy_helper.to_array(init).copy()
            w *= -1.0
            init.CopyFrom(numpy_helper.from_array(w, wname))
    bad = tmp_path / "bad.onnx"
    onnx.save(m, str(bad))
    res = check_export(tiny_qat, bad, sample_images(4, 32))
    assert not res.ok


def test_float_model_cannot_be_exported(tmp_path):
    with pytest.raises(HwsqueezeError, match="needs a quantized model"):
        export_qonnx(create("squeezenet-tiny-cifar10", "float").eval(), tmp_path / "f.onnx")
    assert not (tmp_path / "f.onnx").exists()
