"""Board files and names through the real CLI: FINN's names are aliases, a custom board file
works, and every malformed one is one line naming the file and field (exit 2), before any work."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from helpers import run_cli

ROOT = Path(__file__).resolve().parents[2]
PYNQ_Z2 = yaml.safe_load((ROOT / "boards" / "pynq-z2.yaml").read_text())


def _board(tmp_path: Path, **changes) -> Path:
    raw = {**PYNQ_Z2, "name": "my-z2", **changes}
    raw = {k: v for k, v in raw.items() if v is not KeyError}
    p = tmp_path / "my-z2.yaml"
    p.write_text(yaml.safe_dump(raw))
    return p


def test_finn_board_names_are_aliases():
    res = run_cli("boards", "--json")
    boards = {b["finn_board"]: b["name"] for b in json.loads(res.stdout)}
    assert boards["Pynq-Z2"] == "pynq-z2" and boards["ZCU104"] == "zcu104" and boards["KV260_SOM"] == "kv260"
    from hwsqueeze.compile.boards import load_board

    for finn_name, ours in boards.items():
        assert load_board(finn_name).name == ours and load_board(finn_name.upper()).name == ours


def test_custom_board_file(tmp_path):
    from hwsqueeze.compile.boards import load_board

    b = load_board(str(_board(tmp_path, clock_mhz=125)))
    assert b.name == "my-z2" and b.clk_ns == 8.0 and b.resources["lut"] == 53200


BAD = [
    ({"clock_mhz": "fast"}, "field 'clock_mhz' must be a number of MHz"),
    ({"clock_mhz": 0}, "field 'clock_mhz' must be a number of MHz"),
    ({"clock_mhz": float("nan")}, "field 'clock_mhz' must be a number of MHz"),
    ({"clock_mhz": True}, "field 'clock_mhz' must be a number of MHz"),
    ({"part": "xc7z010clg400-1"}, "field 'part' does not match FINN's part for Pynq-Z2 (xc7z020clg400-1)"),
    ({"finn_board": "Pynq-Z9"}, "field 'finn_board' is not a Zynq board FINN+ knows"),
    ({"shell_flow": "vitis_alveo"}, "field 'shell_flow' must be one of vivado_zynq"),
    ({"colour": "red"}, "field 'colour' is not a board field"),
    ({"resources": KeyError}, "field 'resources' is missing"),
    ({"resources": {"lut": -1, "ff": 1, "bram18": 1, "dsp": 1, "lutram": 1}}, "field 'resources.lut' must be a positive"),
    ({"resources": {"lut": 1, "ff": 1, "bram18": "many", "dsp": 1, "lutram": 1}}, "field 'resources.bram18'"),
    ({"resources": {"lut": 1, "ff": 1, "bram18": 1, "dsp": 1, "lutram": 1, "qubits": 5}}, "'resources.qubits' is not a resource"),
    ({"name": "My Board!"}, "field 'name' must be lower-case"),
]


@pytest.mark.parametrize("changes,needle", BAD, ids=[b[1][:35] for b in BAD])
def test_bad_board_files(tmp_path, changes, needle):
    path = _board(tmp_path, **changes)
    out = tmp_path / "b"
    res = run_cli("build", "--board", str(path), "--out", str(out), "--estimate-only")
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert res.returncode == 2 and len(lines) == 1 and "Traceback" not in res.stderr, res.stderr
    assert needle in lines[0] and str(path) in lines[0]
    assert not out.exists()


@pytest.mark.parametrize("text,needle", [("name: [unclosed", "is not valid YAML"), ("- a\n- b\n", "expected a mapping"),
                                         ("", "expected a mapping")])
def test_unparseable_board_files(tmp_path, text, needle):
    p = tmp_path / "x.yaml"
    p.write_text(text)
    res = run_cli("build", "--board", str(p), "--out", str(tmp_path / "b"))
    assert res.returncode == 2 and needle in res.stderr and "Traceback" not in res.stderr


def test_unknown_board_name_lists_the_known_ones(tmp_path):
    res = run_cli("build", "--board", "pynq-z9", "--out", str(tmp_path / "b"))
    assert res.returncode == 2 and "unknown board 'pynq-z9'" in res.stderr and "pynq-z2 (Pynq-Z2)" in res.stderr
