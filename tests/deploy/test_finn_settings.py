"""driver/settings.json (FINN's driver view, hwsqueeze/deploy/finn_settings.py) and the qonnx-like
DataType the FINN-named runtime methods return: same answers as qonnx, one error line for a bad file."""
from __future__ import annotations

import copy
import json
import shutil

import pytest

from hwsqueeze.errors import HwsqueezeError

# As FINN+'s MakePYNQDriver writes it for the default model (the build's own file is read below too).
SETTINGS = {"driver_information": {
    "driver_type": "FINNDMAOverlay", "platform": "zynq-iodma", "fclk_mhz": 100.0,
    "io_shape_dict": {"idt": ["DataType['UINT8']"], "idma_names": ["idma0"], "ishape_normal": [[1, 32, 32, 3]],
                      "ishape_folded": [[1, 32, 32, 3, 1]], "ishape_packed": [[1, 32, 32, 3, 1]],
                      "odt": ["DataType['INT21']"], "odma_names": ["odma0"], "oshape_normal": [[1, 1, 1, 10]],
                      "oshape_folded": [[1, 1, 1, 10, 1]], "oshape_packed": [[1, 1, 1, 10, 3]],
                      "num_inputs": 1, "num_outputs": 1}}}


@pytest.mark.parametrize("name", ["UINT8", "INT8", "INT21", "UINT1", "BINARY", "BIPOLAR", "INT2", "UINT32"])
def test_datatype_answers_as_qonnx(name):
    from qonnx.core.datatype import DataType as QonnxDataType

    from hwsqueeze.deploy.datatypes import DataType

    ours, theirs = DataType[name], QonnxDataType[name]
    assert [ours.name, ours.bitwidth(), ours.signed(), ours.min(), ours.max(), str(ours), repr(ours)] == \
        [theirs.name, theirs.bitwidth(), theirs.signed(), theirs.min(), theirs.max(), str(theirs), repr(theirs)]
    assert ours == theirs and theirs == ours and ours == theirs.name and (ours == name) == (theirs == name)
    assert hash(ours) == hash(theirs)
    assert ours != "UINT7" and ours != QonnxDataType["UINT7"] and not ours == 8
    import numpy as np

    v = np.array([-2, -1, 0, 0.5, 1, 2, 255, 256])
    np.testing.assert_array_equal(ours.allowed(v), theirs.allowed(v))


def test_datatype_refuses_unknown_names():
    from hwsqueeze.deploy.datatypes import DataType

    with pytest.raises(HwsqueezeError, match="unsupported datatype 'FLOAT32'"):
        DataType("FLOAT32")


def test_reads_the_builds_settings(built_deploy):
    """The build's own file: FINN's output shape (1, 1, 1, 10), deploy.json's streams otherwise."""
    from hwsqueeze.deploy import read_meta
    from hwsqueeze.deploy.finn_settings import read_finn_settings

    s, meta = read_finn_settings(built_deploy), read_meta(built_deploy)
    assert s.platform == meta.platform and s.driver_type == "FINNDMAOverlay"
    assert s.output.shape_normal == (1, 1, 1, meta.num_outputs) and s.input.shape_normal == meta.input.shape_normal
    assert (s.output.dtype, s.output.shape_packed) == (meta.output.dtype, meta.output.shape_packed)


def _io(obj):
    return obj["driver_information"]["io_shape_dict"]


@pytest.mark.parametrize("edit,needle", [
    (lambda o: _io(o).update(num_inputs=2), "field 'driver_information.io_shape_dict.num_inputs' must be 1"),
    (lambda o: _io(o).update(odt=["DataType['FLOAT32']"]), "io_shape_dict.odt' must be a FINN integer datatype"),
    (lambda o: _io(o).update(ishape_normal=[[1, 32], [1, 32]]), "ishape_normal' must be a list of one entry"),
    (lambda o: _io(o).update(oshape_normal=[[2, 10]]), "oshape_normal' must be a list of positive integers"),
    (lambda o: _io(o).pop("odma_names"), "io_shape_dict.odma_names' is missing"),
    (lambda o: o["driver_information"].update(fclk_mhz="fast"), "fclk_mhz' must be a positive finite number"),
    (lambda o: o.pop("driver_information"), "field 'driver_information' is missing"),
])
def test_malformed_settings_are_one_line(tmp_path, edit, needle):
    from hwsqueeze.deploy.finn_settings import read_finn_settings

    obj = copy.deepcopy(SETTINGS)
    edit(obj)
    (tmp_path / "driver").mkdir()
    (tmp_path / "driver" / "settings.json").write_text(json.dumps(obj))
    with pytest.raises(HwsqueezeError) as e:
        read_finn_settings(tmp_path)
    assert needle in str(e.value) and "settings.json" in str(e.value) and "\n" not in str(e.value)


def test_finn_names_need_settings_that_agree_with_deploy_json(built_deploy, tmp_path):
    """run() needs only deploy.json; FINN's names need settings.json, and one that contradicts
    deploy.json (another build's) is refused rather than believed."""
    from hwsqueeze.runtime import Accelerator

    d = tmp_path / "deploy"
    shutil.copytree(built_deploy, d, ignore=shutil.ignore_patterns("notebooks", "tests", "driver"))
    with Accelerator.emulated(d) as acc:
        with pytest.raises(HwsqueezeError, match="driver/settings.json is missing: FINN's driver view"):
            acc.oshape_normal()
    obj = copy.deepcopy(SETTINGS)
    _io(obj).update(odt=["DataType['INT22']"])
    (d / "driver").mkdir()
    (d / "driver" / "settings.json").write_text(json.dumps(obj))
    with Accelerator.emulated(d) as acc:
        with pytest.raises(HwsqueezeError, match=r"settings.json's output \(INT22 .* is not deploy.json's \(INT21"):
            acc.odt()
