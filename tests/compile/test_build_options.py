"""FINN-style build options: --folding-config (read back what the build wrote, or a hand edit),
--stop-step, --json, FINN's report/ files, FINN board names and custom board files."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from helpers import run_cli

from hwsqueeze.compile.pipeline import intermediate_path

TINY = ("--model", "squeezenet-tiny-cifar10")


@pytest.fixture(scope="module")
def stopped_build(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("opts") / "b"
    res = run_cli("build", *TINY, "--board", "Pynq-Z2", "--target-fps", "1000", "--out", str(out),
                  "--stop-step", "estimates", "--json")
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)  # --json: one object, no progress lines
    assert summary["status"] == "estimate-only" and summary["board"] == "pynq-z2"  # --stop-step estimates
    assert "--from-step hw_codegen" in summary["message"]
    return out


def test_stop_step_leaves_later_steps_undone(stopped_build: Path):
    assert intermediate_path(stopped_build, "estimates").is_file()
    assert not intermediate_path(stopped_build, "hw_codegen").exists() and not (stopped_build / "hw").exists()


def test_finn_report_files(stopped_build: Path):
    """report/ holds what FINN's builder writes, and agrees with our own estimate."""
    rep = stopped_build / "report"
    perf = json.loads((rep / "estimate_network_performance.json").read_text())
    ours = json.loads((stopped_build / "estimates.json").read_text())
    assert perf["estimated_throughput_fps"] == pytest.approx(ours["fps"], rel=1e-3)  # ours: 1 decimal
    cycles = json.loads((rep / "estimate_layer_cycles.json").read_text())
    assert max(cycles.values()) == perf["max_cycles"]
    res = json.loads((rep / "estimate_layer_resources.json").read_text())
    assert set(res) == set(cycles) | {"total"} and res["total"]["LUT"] > 0
    steps = json.loads((rep / "time_per_step.json").read_text())
    assert steps["total_build_time"] == pytest.approx(sum(v for k, v in steps.items() if k != "total_build_time"))
    assert (stopped_build / "intermediate_models" / intermediate_path(stopped_build, "folding").name).is_file()


def test_folding_config_round_trip_and_hand_edit(stopped_build: Path, tmp_path: Path):
    """The folding_config.json the build wrote reads back; doubling one MVAU's PE gives that layer
    the cycle count computed by hand from its dimensions (FINN's own report)."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.custom_op.registry import getCustomOp

    work = tmp_path / "b"
    shutil.copytree(stopped_build, work, symlinks=True)
    cfg = json.loads((work / "folding_config.json").read_text())
    before = {n.name: getCustomOp(n) for n in ModelWrapper(str(intermediate_path(work, "folding"))).graph.node}
    layer = next(k for k, v in cfg.items() if k.startswith("MVAU_hls")
                 and before[k].get_nodeattr("MH") % (2 * v["PE"]) == 0)
    cfg[layer]["PE"] *= 2
    edited = tmp_path / "fold.json"
    edited.write_text(json.dumps(cfg))
    res = run_cli("build", *TINY, "--folding-config", str(edited), "--out", str(work), "--from-step", "folding",
                  "--stop-step", "estimates")
    assert res.returncode == 0, res.stderr
    assert "[07] folding" in res.stdout and "[06]" not in res.stdout and f"folding from {edited}" in res.stdout
    node = next(n for n in ModelWrapper(str(intermediate_path(work, "folding"))).graph.node if n.name == layer)
    a = getCustomOp(node)
    reps = 1
    for v in a.get_nodeattr("numInputVectors"):
        reps *= v
    by_hand = reps * (a.get_nodeattr("MH") // cfg[layer]["PE"]) * (a.get_nodeattr("MW") // a.get_nodeattr("SIMD"))
    assert a.get_nodeattr("PE") == cfg[layer]["PE"]
    assert json.loads((work / "report" / "estimate_layer_cycles.json").read_text())[layer] == by_hand


@pytest.mark.parametrize("edit,needle", [
    (lambda c, k: c[k].update(PE=7), "does not divide MH"),
    (lambda c, k: c.update({"NoSuchLayer_0": {"PE": 1}}), "no layer named 'NoSuchLayer_0'"),
    (lambda c, k: c[k].update(Colour="blue"), "has no attribute 'Colour'"),
    (lambda c, k: c[k].update(PE=0), "must be a positive integer"),
])
def test_bad_folding_configs(stopped_build: Path, tmp_path: Path, edit, needle):
    work = tmp_path / "b"
    shutil.copytree(stopped_build, work, symlinks=True)
    cfg = json.loads((work / "folding_config.json").read_text())
    edit(cfg, next(k for k in cfg if k.startswith("MVAU")))
    bad = tmp_path / "fold.json"
    bad.write_text(json.dumps(cfg))
    res = run_cli("build", *TINY, "--folding-config", str(bad), "--out", str(work), "--from-step", "folding",
                  "--stop-step", "estimates")
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert res.returncode == 2 and len(lines) == 1 and needle in lines[0], res.stderr


def test_folding_config_and_target_fps_are_exclusive(tmp_path: Path):
    f = tmp_path / "f.json"
    f.write_text("{}")
    res = run_cli("build", *TINY, "--folding-config", str(f), "--target-fps", "100", "--out", str(tmp_path / "b"))
    assert res.returncode == 2 and "not both" in res.stderr


def test_replay_rebuilds_what_a_build_recorded(stopped_build: Path, tmp_path):
    """build_config.json records the options; --replay rebuilds them elsewhere and gets the same
    design (estimates, folding, the same step outputs' provenance)."""
    rec = json.loads((stopped_build / "build_config.json").read_text())
    assert rec["target_fps"] == 1000 and rec["stop_step"] == "estimates" and rec["board"]["name"] == "pynq-z2"
    assert rec["model_name"] == "squeezenet-tiny-cifar10" and rec["out_dir"] == str(stopped_build.resolve())
    res = run_cli("build", "--replay", str(stopped_build), "--out", str(tmp_path / "r"), "--json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["status"] == "estimate-only"
    for name in ("estimates.json", "folding_config.json"):
        assert (tmp_path / "r" / name).read_text() == (stopped_build / name).read_text(), name
    again = json.loads((tmp_path / "r" / "build_config.json").read_text())
    assert again == {**rec, "out_dir": str((tmp_path / "r").resolve())}
    a, b = (json.loads((d / "build_state.json").read_text())["provenance"] for d in (stopped_build, tmp_path / "r"))
    assert a == b


@pytest.mark.parametrize("edit, why", [
    (lambda c: c.update(margin="x"), "margin"),
    (lambda c: c.pop("verify_n"), "not a build config"),
    (lambda c: c["board"].update(part="xc7z999"), "part"),
    (lambda c: c.update(target_fps=-5), "target_fps"),
])
def test_replay_refuses_a_bad_record(stopped_build: Path, tmp_path, edit, why):
    d = tmp_path / "copy"
    d.mkdir()
    rec = json.loads((stopped_build / "build_config.json").read_text())
    edit(rec)
    (d / "build_config.json").write_text(json.dumps(rec))
    res = run_cli("build", "--replay", str(d), "--out", str(tmp_path / "r"))
    assert res.returncode == 2 and why in res.stderr and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and not (tmp_path / "r").exists()
    res = run_cli("build", "--replay", str(stopped_build), "--target-fps", "500")
    assert res.returncode == 2 and "takes only --out" in res.stderr
