"""`hwsqueeze models` and `hwsqueeze size` against counts from the paper and by hand."""
import io
import json

import pytest
from click.testing import CliRunner
from rich.console import Console

from helpers import run_cli
from hwsqueeze.cli.models import model_rows, print_models, size

# SqueezeNet v1.0 total parameters: arXiv 1602.07360, Table 1; v1.1: DeepScale's release.
PAPER = {"squeezenet1_0-imagenet": "1,248,424", "squeezenet1_1-imagenet": "1,235,496"}

# squeezenet1_1-cifar10 by hand: conv1 3x3, 3 -> 64; Fire (in, squeeze, expand1x1, expand3x3) as in
# SqueezeNet v1.1; conv10 1x1, 512 -> 10 (no bias). Every conv but conv10 has a BatchNorm (one bias
# per channel once folded).
FIRES = [(64, 16, 64, 64), (128, 16, 64, 64), (128, 32, 128, 128), (256, 32, 128, 128),
         (256, 48, 192, 192), (384, 48, 192, 192), (384, 64, 256, 256), (512, 64, 256, 256)]
CONV1, CONV10 = 3 * 3 * 3 * 64, 512 * 10
INNER = sum(i * s + s * e1 + s * e3 * 9 for i, s, e1, e3 in FIRES)
BN_CHANNELS = 64 + sum(s + e1 + e3 for _, s, e1, e3 in FIRES)


def _numbers_intact(text: str) -> None:
    assert "…" not in text and "..." not in text
    for name, params in PAPER.items():
        line = next(l for l in text.splitlines() if name in l)
        assert params in line.split() or f" {params} " in line, line


@pytest.mark.parametrize("columns", [None, "40"])
def test_models_piped_prints_every_number_whole(columns, monkeypatch):
    if columns:
        monkeypatch.setenv("COLUMNS", columns)
    r = run_cli("models")  # stdout is a pipe here
    assert r.returncode == 0, r.stderr
    _numbers_intact(r.stdout)
    # one line per registered model, every numeric column complete
    assert len([l for l in r.stdout.splitlines() if l.startswith("squeezenet")]) == 5


@pytest.fixture(scope="module")
def rows():
    return model_rows()


def test_model_rows_have_the_paper_counts(rows):
    by_name = {r["name"]: r for r in rows}
    for name, params in PAPER.items():
        assert f"{by_name[name]['params']:,}" == params


@pytest.mark.parametrize("width", [40, 200])
def test_models_on_a_terminal_never_shortens_numbers(rows, width):
    buf = io.StringIO()
    print_models(rows, Console(file=buf, force_terminal=True, width=width, color_system=None))
    _numbers_intact(buf.getvalue())
    assert ("┃" in buf.getvalue()) == (width == 200)  # the rich table only where it fits


def _size_json(*args: str) -> dict:
    r = CliRunner().invoke(size, [*args, "--json"])  # output captured, as in a pipe
    assert r.exit_code == 0, r.output
    return json.loads(r.output)


def test_size_float32_is_four_bytes_per_paper_parameter():
    out = _size_json("--model", "squeezenet1_0-imagenet")
    assert out["weights"] + out["biases"] == 1_248_424
    assert out["float32_bytes"] == 4 * 1_248_424


def test_size_of_the_shipped_checkpoint_by_hand():
    out = _size_json()
    assert out["weights"] == CONV1 + INNER + CONV10 == 724_672
    assert out["biases"] == BN_CHANNELS == 2_944
    assert out["float32_bytes"] == 4 * (724_672 + 2_944)
    # 8-bit conv1 and conv10, 4-bit Fire weights; biases stay 32-bit
    assert out["dense_lowbit_bytes"] == CONV1 + CONV10 + INNER * 4 / 8 + 4 * BN_CHANNELS
    assert out["bits"] == [4, 8]
