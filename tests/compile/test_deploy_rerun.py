"""Re-running the deploy step never deletes a bitstream: the same design keeps it (and deploy.json
still records it), a changed design keeps it aside in bitfile/stale/ and no longer uses it; the
package README says which. Through the real CLI on the tiny Fire network."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import run_cli

TINY = ("--model", "squeezenet-tiny-cifar10", "--board", "pynq-z2")
BIT, HWH = b"\x00\x09\x0f\xf0hwsqueeze placeholder bitstream", "<hwh>placeholder</hwh>"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """A tiny build whose deploy package then gets a (placeholder) bitstream recorded, as the
    bitfile step does after Vivado."""
    from hwsqueeze.deploy import set_bitfile

    out = tmp_path_factory.mktemp("rerun") / "b"
    res = run_cli("build", *TINY, "--target-fps", "2000", "--out", str(out))
    assert res.returncode == 0, res.stdout + res.stderr
    readme = (out / "deploy" / "README.md").read_text()
    assert "**No bitstream in this package**" in readme and "EMULATED" in readme
    (out / "deploy" / "bitfile").mkdir()
    (out / "deploy" / "bitfile" / "hwsqueeze.bit").write_bytes(BIT)
    (out / "deploy" / "bitfile" / "hwsqueeze.hwh").write_text(HWH)
    set_bitfile(out / "deploy")
    assert "**This package holds a bitstream**" in (out / "deploy" / "README.md").read_text()
    return out


def test_same_design_keeps_and_records_the_bitstream(built):
    res = run_cli("build", *TINY, "--target-fps", "2000", "--out", str(built), "--from-step", "deploy")
    assert res.returncode == 0, res.stdout + res.stderr
    d = built / "deploy"
    assert (d / "bitfile" / "hwsqueeze.bit").read_bytes() == BIT and (d / "bitfile" / "hwsqueeze.hwh").read_text() == HWH
    meta = json.loads((d / "deploy.json").read_text())
    assert meta["bitfile"] == "bitfile/hwsqueeze.bit" and meta["hwh"] == "bitfile/hwsqueeze.hwh"
    readme = (d / "README.md").read_text()
    assert "**This package holds a bitstream** (`bitfile/hwsqueeze.bit`" in readme and "No bitstream" not in readme
    assert (d / "driver" / "settings.json").is_file()


def test_changed_design_keeps_the_old_bitstream_aside(built):
    """Another folding is another design: its bitstream must not be used, and must not be lost."""
    res = run_cli("build", *TINY, "--target-fps", "1000", "--out", str(built), "--from-step", "folding")
    assert res.returncode == 0, res.stdout + res.stderr
    d = built / "deploy"
    assert not (d / "bitfile" / "hwsqueeze.bit").exists()
    assert (d / "bitfile" / "stale" / "hwsqueeze.bit").read_bytes() == BIT
    assert (d / "bitfile" / "stale" / "hwsqueeze.hwh").read_text() == HWH
    why = (d / "bitfile" / "stale" / "WHY.txt").read_text()
    assert "folding was 'target_fps=2000" in why and "now 'target_fps=1000" in why
    assert json.loads((d / "deploy.json").read_text())["bitfile"] is None
    readme = (d / "README.md").read_text()
    assert "**No bitstream in this package**" in readme and "`bitfile/stale/` holds a bitstream of an EARLIER" in readme
    # and the next rebuild keeps the stale one as well
    res = run_cli("build", *TINY, "--target-fps", "1000", "--out", str(built), "--from-step", "deploy")
    assert res.returncode == 0 and (d / "bitfile" / "stale" / "hwsqueeze.bit").read_bytes() == BIT
