"""The step table is enforced, not documentation: the runner records a digest of every file a
row ``writes`` (a changed one reruns its step), removes a stale step's files when a rerun stops
before it, refuses a step that changes build-state fields its row's ``sets`` does not name, and
the design keys a bitstream depends on are read from the table. Files are laid out by hand here
and compared with the table's own rows; the end-to-end test runs a tiny build."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from helpers import run_cli

from hwsqueeze.compile import pipeline
from hwsqueeze.compile.config import BuildConfig, BuildState, StepRecord
from hwsqueeze.compile.pipeline import STEPS, first_stale, remove_stale, step, written

TINY = ("--model", "squeezenet-tiny-cifar10", "--target-fps", "2000")


def _lay_out(root: Path) -> None:
    """The files a finished build leaves, as the table names them (written by hand here)."""
    for rel in ("estimates.json", "estimates.md", "estimates.png", "folding_config.json", "report/estimate_layer_cycles.json",
                "report/estimate_layer_resources.json", "report/estimate_network_performance.json",
                "report/resources.json", "report/post_route_timing.rpt", "report/post_synth_report.xml",
                "hw/MVAU_0/top.cpp", "deploy/deploy.json", "deploy/bitfile/hwsqueeze.bit", "deploy/graph.json"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(rel)


def test_remove_stale_removes_cheap_outputs_and_keeps_vivado_ones(tmp_path: Path):
    _lay_out(tmp_path)
    removed, kept = remove_stale(tmp_path, ["minimize_bit_width", "estimates", "hw_codegen", "deploy", "bitfile"])
    # estimates' files and hw/ go; the bitfile step's reports (resources.json: Vivado's now) and the package stay
    assert set(removed) == {"estimates.json", "estimates.md", "estimates.png", "report/estimate_layer_cycles.json",
                            "report/estimate_layer_resources.json", "report/estimate_network_performance.json", "hw/"}
    assert not (tmp_path / "hw").exists() and not (tmp_path / "estimates.json").exists()
    for rel in ("report/resources.json", "report/post_route_timing.rpt", "report/post_synth_report.xml",
                "deploy/deploy.json", "deploy/bitfile/hwsqueeze.bit", "folding_config.json"):
        assert (tmp_path / rel).is_file(), rel
    assert "deploy/" in kept and "deploy/bitfile/" in kept


def test_remove_stale_without_a_vivado_run_removes_the_estimated_resources(tmp_path: Path):
    """resources.json is the bitfile step's too, but protected only where that step actually ran."""
    _lay_out(tmp_path)
    removed, _ = remove_stale(tmp_path, ["estimates"])
    assert "report/resources.json" in removed and not (tmp_path / "report" / "resources.json").exists()
    assert (tmp_path / "report" / "post_route_timing.rpt").is_file()  # not this step's: left alone


def test_first_stale_reruns_the_step_whose_written_file_changed(tmp_path: Path):
    _lay_out(tmp_path)
    prov = {k: "x" for s in STEPS for k in s.depends}
    records = {s.name: StepRecord(inputs={k: "x" for k in s.depends}, files=written(tmp_path, s.name))
               for s in STEPS[:pipeline.step_index("hw_codegen")]}
    wanted = pipeline.step_index("hw_codegen")
    assert first_stale(records, prov, tmp_path, wanted) == (wanted, "")
    (tmp_path / "estimates.md").write_text("edited by hand")
    i, why = first_stale(records, prov, tmp_path, wanted)
    assert STEPS[i].name == "estimates" and "estimates.md changed" in why
    (tmp_path / "folding_config.json").unlink()
    i, why = first_stale(records, prov, tmp_path, wanted)
    assert STEPS[i].name == "folding" and "folding_config.json" in why


def test_written_hashes_contents_and_names(tmp_path: Path):
    _lay_out(tmp_path)
    before = written(tmp_path, "hw_codegen")["hw/"]
    (tmp_path / "hw" / "MVAU_0" / "top.cpp").rename(tmp_path / "hw" / "MVAU_0" / "other.cpp")
    assert written(tmp_path, "hw_codegen")["hw/"] != before  # same bytes, another name
    shutil.rmtree(tmp_path / "hw")
    assert written(tmp_path, "hw_codegen") == {"hw/": None}


def test_design_keys_are_the_bitfile_rows_inputs():
    assert pipeline.DESIGN_KEYS == step("bitfile").depends
    assert {"source", "board", "folding", "mapping"} <= set(pipeline.DESIGN_KEYS)
    assert "samples" not in pipeline.DESIGN_KEYS  # new sample images never make a bitstream stale


def test_a_step_changing_an_undeclared_field_is_refused():
    from hwsqueeze.compile.runner import _check_sets, _step_fields

    state = BuildState()
    before = _step_fields(state)
    state.folding = {"target_fps": 1.0}  # what the folding row declares
    _check_sets(step("folding"), before, state)
    state.timing = {"wns_ns": 0.1}  # the folding row does not own it
    with pytest.raises(RuntimeError, match="timing"):
        _check_sets(step("folding"), before, state)


def test_every_field_a_step_may_set_is_a_build_state_field():
    names = {f for f in BuildState.__dataclass_fields__}
    for s in STEPS:
        assert set(s.sets) <= names, s.name


def test_estimate_only_is_stop_step_estimates(tmp_path: Path):
    from hwsqueeze.compile.boards import load_board
    from hwsqueeze.errors import HwsqueezeError

    board = load_board("pynq-z2")
    assert BuildConfig(board=board, out_dir=tmp_path, estimate_only=True).stop_step == "estimates"
    assert BuildConfig(board=board, out_dir=tmp_path, stop_step="estimates").estimate_only
    assert not BuildConfig(board=board, out_dir=tmp_path, stop_step="folding").estimate_only
    with pytest.raises(HwsqueezeError, match="cannot be combined"):
        BuildConfig(board=board, out_dir=tmp_path, estimate_only=True, stop_step="folding")


@pytest.fixture(scope="module")
def estimated(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("table") / "b"
    res = run_cli("build", *TINY, "--out", str(out), "--estimate-only")
    assert res.returncode == 0, res.stdout + res.stderr
    return out


def test_a_rerun_stopping_early_leaves_no_stale_estimate(estimated: Path, tmp_path: Path):
    work = tmp_path / "b"
    shutil.copytree(estimated, work)
    rec = json.loads((work / "build_state.json").read_text())["steps"]["estimates"]
    assert rec["files"]["estimates.json"] == written(work, "estimates")["estimates.json"]
    res = run_cli("build", *TINY[:2], "--target-fps", "500", "--out", str(work), "--from-step", "folding",
                  "--stop-step", "folding")
    assert res.returncode == 0, res.stdout + res.stderr
    assert not (work / "estimates.json").exists() and not (work / "estimates.md").exists()
    state = json.loads((work / "build_state.json").read_text())
    assert "estimates" not in state["steps"] and state["estimate"] == {} and state["resources"] == {}
    summary = json.loads((work / "build.json").read_text())
    assert summary["status"] == "stopped" and summary["stale"] == []  # an estimate-only build: no package


def test_a_hand_edited_output_is_rebuilt(estimated: Path, tmp_path: Path):
    work = tmp_path / "b"
    shutil.copytree(estimated, work)
    (work / "folding_config.json").write_text('{"Defaults": {}}')
    res = run_cli("build", *TINY, "--out", str(work), "--from-step", "estimates", "--estimate-only")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "folding_config.json changed or went missing after step 'folding' wrote it" in res.stdout
    assert "[07] folding" in res.stdout and "[06]" not in res.stdout
    assert (work / "folding_config.json").read_bytes() == (estimated / "folding_config.json").read_bytes()


def test_a_stale_package_is_kept_and_named(tiny_default_build: Path, tmp_path: Path):
    """The package (and any bitstream in it) outlives a rerun that stops before the deploy step;
    hw/ (regenerated in seconds) goes; build.json names what is stale."""
    work = tmp_path / "b"
    shutil.copytree(tiny_default_build, work, symlinks=True)
    before = (work / "deploy" / "deploy.json").read_bytes()
    res = run_cli("build", "--model", "squeezenet-tiny-cifar10", "--target-fps", "250", "--out", str(work),
                  "--from-step", "folding", "--stop-step", "folding")
    assert res.returncode == 0, res.stdout + res.stderr
    summary = json.loads((work / "build.json").read_text())
    assert summary["stale"] == ["deploy/"] and "kept from the earlier build, now stale: deploy/" in res.stdout
    assert (work / "deploy" / "deploy.json").read_bytes() == before and not (work / "hw").exists()
