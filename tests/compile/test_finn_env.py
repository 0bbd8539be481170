"""``activate``: XILINX_VIVADO comes from a real ``vivado`` on PATH, a placeholder only without one."""
from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest


def _fake_vivado(root: Path) -> Path:
    """An executable ``vivado`` at ``root/bin/vivado`` (what a Vivado install looks like)."""
    exe = root / "bin" / "vivado"
    exe.parent.mkdir(parents=True)
    exe.write_text("#!/bin/sh\nexit 0\n")
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    return exe


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """``activate`` writes os.environ and FINN's settings: record both and put them back."""
    import finn.util.settings as fsettings

    for var in ("XILINX_VIVADO", "FINN_BUILD_DIR", "FINN_CUSTOM_HLS", "FINN_RTLLIB"):
        monkeypatch.setenv(var, os.environ.get(var, ""))  # registers the original for restoring
    for var in ("XILINX_VIVADO", "FINN_CUSTOM_HLS", "FINN_RTLLIB"):
        monkeypatch.delenv(var)
    old_build_dir = fsettings.get_settings().finn_build_dir
    empty = tmp_path / "emptybin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))  # no vivado / vitis_hls from this machine
    yield monkeypatch
    fsettings.get_settings().finn_build_dir = old_build_dir


def test_vivado_on_path_gives_its_install_root(clean_env, tmp_path):
    from hwsqueeze.compile.finn_env import activate

    root = tmp_path / "Xilinx" / "Vivado" / "2024.2"
    exe = _fake_vivado(root)
    clean_env.setenv("PATH", f"{exe.parent}{os.pathsep}{os.environ['PATH']}")
    env = activate(tmp_path / "b")
    assert os.environ["XILINX_VIVADO"] == str(root.resolve())
    assert env.env["XILINX_VIVADO"] == str(root.resolve()) and not env.vivado_stubbed
    assert env.tools["vivado"] == str(exe)


def test_vivado_on_path_through_a_link(clean_env, tmp_path):
    from hwsqueeze.compile.finn_env import activate

    root = tmp_path / "opt" / "Vivado" / "2023.2"
    exe = _fake_vivado(root)
    links = tmp_path / "localbin"
    links.mkdir()
    (links / "vivado").symlink_to(exe)
    clean_env.setenv("PATH", f"{links}{os.pathsep}{os.environ['PATH']}")
    activate(tmp_path / "b")
    assert os.environ["XILINX_VIVADO"] == str(root.resolve())


def test_no_vivado_gives_placeholder(clean_env, tmp_path):
    from hwsqueeze.compile.finn_env import activate

    env = activate(tmp_path / "b")
    assert env.vivado_stubbed and env.tools["vivado"] is None
    assert not Path(os.environ["XILINX_VIVADO"]).exists()  # a placeholder, never a real path


def test_activate_twice_without_vivado(clean_env, tmp_path):
    """A second call (the next build in the same process) is the same as the first: still
    stubbed, and the placeholder's lib folder never reaches LD_LIBRARY_PATH."""
    from hwsqueeze.compile.finn_env import activate

    clean_env.setenv("LD_LIBRARY_PATH", os.environ.get("LD_LIBRARY_PATH", ""))  # restored afterwards
    first = activate(tmp_path / "b")
    ld = os.environ["LD_LIBRARY_PATH"]
    second = activate(tmp_path / "c")
    assert first.vivado_stubbed and second.vivado_stubbed
    assert os.environ["LD_LIBRARY_PATH"] == ld and os.environ["XILINX_VIVADO"] not in ld


def test_existing_xilinx_vivado_is_kept(clean_env, tmp_path):
    from hwsqueeze.compile.finn_env import activate

    exe = _fake_vivado(tmp_path / "a" / "Vivado" / "2024.2")
    clean_env.setenv("PATH", f"{exe.parent}{os.pathsep}{os.environ['PATH']}")
    clean_env.setenv("XILINX_VIVADO", "/tools/Xilinx/Vivado/2022.2")
    env = activate(tmp_path / "b")
    assert os.environ["XILINX_VIVADO"] == "/tools/Xilinx/Vivado/2022.2" and "XILINX_VIVADO" not in env.env


def test_tcl_folders_are_set(clean_env, tmp_path):
    """FINN's HLS TCL uses $::env(FINN_CUSTOM_HLS) as an include folder (its CLI sets it, we must)."""
    from hwsqueeze.compile.finn_env import activate

    activate(tmp_path / "b")
    assert (Path(os.environ["FINN_CUSTOM_HLS"]) / "checksum.hpp").is_file()
    assert any(Path(os.environ["FINN_RTLLIB"]).iterdir())


def test_provenance_sees_our_own_source(tmp_path):
    """The build's versions record carries a digest of hwsqueeze's own files, so a changed
    transform changes the provenance (the version string is 0.1.0 whatever the code is)."""
    import hashlib
    import shutil

    import hwsqueeze
    from hwsqueeze.compile.boards import load_board
    from hwsqueeze.compile.config import BuildConfig, provenance
    from hwsqueeze.compile.finn_env import source_digest, versions
    from hwsqueeze.resources import resource_dir

    pkg = Path(hwsqueeze.__file__).resolve().parent
    tree = tmp_path / "hwsqueeze"
    shutil.copytree(pkg / "compile", tree / "compile", ignore=shutil.ignore_patterns("__pycache__"))
    before = source_digest(tree)
    (tree / "compile" / "__pycache__").mkdir(exist_ok=True)
    (tree / "compile" / "__pycache__" / "x.pyc").write_bytes(b"\0")  # caches do not count
    assert source_digest(tree) == before
    f = tree / "compile" / "transforms" / "pooling.py"
    f.write_text(f.read_text() + "\n# changed\n")
    assert source_digest(tree) != before
    # an independent digest of the installed tree: the same files, paths and contents
    h = hashlib.sha256()
    for root in (pkg, resource_dir("hls")):
        for p in sorted(q for q in root.rglob("*") if q.is_file()):
            rel = p.relative_to(root)
            if "__pycache__" not in rel.parts and p.suffix not in (".pyc", ".pt"):
                h.update(f"{root.name}/{rel.as_posix()}\0".encode() + hashlib.sha256(p.read_bytes()).digest())
    vers = versions()
    assert vers["hwsqueeze-source"] == h.hexdigest()[:16]
    cfg = BuildConfig(board=load_board("pynq-z2"), out_dir=tmp_path / "b", model_name="squeezenet-tiny-cifar10")
    assert provenance(cfg, vers)["versions"] != provenance(cfg, {**vers, "hwsqueeze-source": before})["versions"]
