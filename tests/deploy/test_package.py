"""The deploy package format (hwsqueeze/deploy): a documented deploy.json reads back as written,
and every malformed package is refused with one line naming the file and the field."""
from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import pytest
from helpers import run_cli

from hwsqueeze.errors import HwsqueezeError

# Written by hand from docs/deploy-package.md (not by hwsqueeze): a CIFAR-10 net on a PYNQ-Z2.
# Packed widths computed by hand: 3 x UINT8 = 24 bits -> 3 bytes; 10 x INT21 = 210 bits -> 27 bytes.
DOC_EXAMPLE = {
    "format": "hwsqueeze-deploy/2", "model": "squeezenet1_1-cifar10", "quant": "w4a4", "board": "pynq-z2",
    "part": "xc7z020clg400-1", "clock_mhz": 100.0, "platform": "zynq-iodma", "bitfile": None, "hwh": None,
    "input": {"dma": "idma0", "dtype": "UINT8", "shape_normal": [1, 32, 32, 3], "shape_folded": [1, 32, 32, 1, 3],
              "shape_packed": [1, 32, 32, 1, 3], "scale": 1.0},
    "output": {"dma": "odma0", "dtype": "INT21", "shape_normal": [1, 10], "shape_folded": [1, 1, 10],
               "shape_packed": [1, 1, 27], "scale": 0.0123},
    "classes": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"],
    "estimates": {"fps": 2034.0}, "versions": {"hwsqueeze": "0.1.0"}, "provenance": {},
}


def _package(tmp_path: Path, meta) -> Path:
    d = tmp_path / "deploy"
    d.mkdir(exist_ok=True)
    (d / "deploy.json").write_text(meta if isinstance(meta, str) else json.dumps(meta))
    return d


def test_documented_example_reads_back(tmp_path):
    from hwsqueeze.deploy import read_meta, write_meta

    meta = read_meta(_package(tmp_path, DOC_EXAMPLE))
    assert meta.input.normal == (32, 32, 3) and meta.output.packed == (1, 27)
    assert meta.num_outputs == 10 and meta.class_name(6) == "frog" and meta.output.scale == 0.0123
    out = tmp_path / "again"
    out.mkdir()
    write_meta(out, meta)
    assert read_meta(out) == meta
    assert json.loads((out / "deploy.json").read_text())["output"]["shape_packed"] == [1, 1, 27]


def _with(path: str, value):
    meta = copy.deepcopy(DOC_EXAMPLE)
    node = meta
    keys = path.split(".")
    for k in keys[:-1]:
        node = node[k]
    if value is KeyError:
        del node[keys[-1]]
    else:
        node[keys[-1]] = value
    return meta


BAD = [
    (_with("format", "hwsqueeze-deploy/1"), "field 'format' must be 'hwsqueeze-deploy/2'"),
    (_with("platform", "alveo"), "field 'platform' must be 'zynq-iodma'"),
    (_with("board", KeyError), "field 'board' is missing"),
    (_with("clock_mhz", "fast"), "field 'clock_mhz' must be a positive finite number"),
    (_with("clock_mhz", 0), "field 'clock_mhz' must be a positive finite number"),
    (_with("clock_mhz", math.nan), "field 'clock_mhz' must be a positive finite number"),
    (_with("input.dtype", "FLOAT32"), "field 'input.dtype' must be a FINN integer datatype"),
    (_with("input.shape_normal", [1, "32", 32, 3]), "field 'input.shape_normal' must be a list of positive integers"),
    (_with("input.shape_normal", [4, 32, 32, 3]), "with batch dimension 1"),
    (_with("input.shape_folded", [1, 32, 32, 1, 4]), "field 'input.shape_folded' holds 4096 values"),
    (_with("output.shape_packed", [1, 1, 26]), "field 'output.shape_packed' does not match shape_folded"),
    (_with("output.scale", -1), "field 'output.scale' must be a positive finite number"),
    (_with("output.dma", "idma0"), "field 'output.dma' must differ from input.dma"),
    (_with("classes", ["cat", "dog"]), "field 'classes' must be null or a list of 10 class names"),
    (_with("bitfile", "../../etc/passwd"), "field 'bitfile' must be a path inside the package"),
    (_with("bitfile", "/boot/x.bit"), "field 'bitfile' must be a path inside the package"),
    (_with("estimates", [1, 2]), "field 'estimates' must be an object"),
    ("[1, 2, 3]", "is corrupt (not a JSON object)"),
    ("{ not json", "is corrupt"),
    ("", "is corrupt"),
]


@pytest.mark.parametrize("meta,needle", BAD, ids=[b[1][:40] for b in BAD])
def test_malformed_deploy_json_is_one_line(tmp_path, meta, needle):
    from hwsqueeze.deploy import read_meta

    d = _package(tmp_path, meta)
    with pytest.raises(HwsqueezeError) as e:
        read_meta(d)
    msg = str(e.value)
    assert needle in msg and "\n" not in msg
    assert msg.startswith(str(d / "deploy.json")) or "deploy.json" in msg


def test_not_a_package(tmp_path):
    from hwsqueeze.deploy import read_meta

    with pytest.raises(HwsqueezeError, match="is not a deploy package"):
        read_meta(tmp_path)
    f = tmp_path / "deploy.json"
    f.write_text("{}")
    with pytest.raises(HwsqueezeError, match="is a file"):
        read_meta(f)


def test_verify_cli_names_the_bad_field(tmp_path):
    d = _package(tmp_path, _with("input.dtype", "FLOAT32"))
    res = run_cli("verify", "--deploy", str(d), "--emulated")
    lines = res.stderr.strip().splitlines()
    assert res.returncode != 0 and len(lines) == 1, res.stderr
    assert "field 'input.dtype'" in lines[0] and "Traceback" not in res.stderr


def test_datatype_ranges_by_hand():
    from hwsqueeze.deploy import dtype_bits, dtype_range

    assert dtype_range("UINT4") == (0, 15) and dtype_range("INT4") == (-8, 7)
    assert dtype_range("INT21") == (-(2 ** 20), 2 ** 20 - 1) and dtype_range("BIPOLAR") == (-1, 1)
    assert dtype_bits("INT21") == (21, True) and dtype_bits("BIPOLAR") == (1, False) and dtype_bits("UINT8") == (8, False)
    for bad in ("FLOAT32", "INT0", "UINT", "int8", 8):
        with pytest.raises(HwsqueezeError, match="unsupported datatype"):
            dtype_range(bad)
