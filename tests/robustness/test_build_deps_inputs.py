"""Issue 23, point 9 and the build's untried cases through the real CLI: an --out that cannot be
created, two builds into one --out, hostile --target-fps values, a malformed deps manifest and
hostile finn-hlslib archives. Each is exit 2 and one ``error:`` line, no traceback, nothing outside
touched."""
from __future__ import annotations

import io
import json
import os
import tarfile
import zipfile
from pathlib import Path

import pytest
from helpers import run_cli

from robustness._util import run_cli_one_error, tree_snapshot

MODEL = "squeezenet-tiny-cifar10"


def test_out_that_cannot_be_created(tmp_path):
    (tmp_path / "afile").write_text("x")
    run_cli_one_error(["build", "--model", MODEL, "--out", tmp_path / "afile" / "sub", "--estimate-only"], 2,
                      "cannot create the folder")
    assert (tmp_path / "afile").read_text() == "x"


@pytest.mark.parametrize("fps", ["inf", "1e999", "nan", "-5", "0", "0x10", "", "fast"])
def test_hostile_target_fps(tmp_path, fps):
    run_cli_one_error(["build", "--model", MODEL, f"--target-fps={fps}", "--out", tmp_path / "b", "--estimate-only"],
                      2, "--target-fps")
    assert not (tmp_path / "b").exists()


def test_second_build_into_the_same_out_is_refused(tmp_path):
    """A build holds --out's lock while it runs: a second one (here: the lock held by this test) is
    refused at once, naming the holder; nothing in the folder changes."""
    from hwsqueeze.fsutil import folder_lock

    out = tmp_path / "b"
    out.mkdir()
    (out / "build_state.json").write_text("{}")  # an earlier build's folder: resumable, so not refused for that
    before = tree_snapshot(out)
    with folder_lock(out, "a test"):
        held = tree_snapshot(out)
        run_cli_one_error(["build", "--model", MODEL, "--out", out, "--estimate-only"], 2,
                          f"is in use by another hwsqueeze process (pid {os.getpid()}")
        assert tree_snapshot(out) == held
    assert tree_snapshot(out) == before  # the lock file is gone with its holder


def _cache(tmp_path) -> Path:
    from hwsqueeze.deps.pins import finn_version

    c = tmp_path / "cache" / "finn-deps" / finn_version()
    c.mkdir(parents=True)
    return c


@pytest.mark.parametrize("manifest,needle", [
    ({"deps": [1, 2]}, "field 'deps' must be an object"),
    ({"deps": {"finn-hlslib": "x"}}, "field 'deps.finn-hlslib'"),
    ({"deps": {"finn-hlslib": {"paths": ["../../etc"]}}}, "field 'deps.finn-hlslib'"),
    ({"deps": {"finn-hlslib": {"paths": "finn-hlslib"}}}, "field 'deps.finn-hlslib'"),
])
def test_deps_status_on_a_malformed_manifest(tmp_path, monkeypatch, manifest, needle):
    c = _cache(tmp_path)
    (c / "manifest.json").write_text(json.dumps(manifest))
    monkeypatch.setenv("HWSQUEEZE_CACHE", str(tmp_path / "cache"))
    run_cli_one_error(["deps", "status"], 2, needle)


def _tar(path: Path, members) -> None:
    with tarfile.open(path, "w:gz") as tf:
        for name, link in members:
            info = tarfile.TarInfo(name)
            if link:
                info.type, info.linkname = tarfile.SYMTYPE, link
                tf.addfile(info)
            else:
                info.size = 1
                tf.addfile(info, io.BytesIO(b"x"))


@pytest.mark.parametrize("kind", ["dotdot", "abs-symlink", "zip", "garbage"])
def test_deps_fetch_from_a_hostile_archive(tmp_path, monkeypatch, kind):
    src, cache = tmp_path / "from", tmp_path / "cache"
    src.mkdir()
    if kind == "zip":
        with zipfile.ZipFile(src / "finn-hlslib-x.zip", "w") as z:
            z.writestr("finn-hlslib/a.h", "x")
    elif kind == "garbage":
        (src / "finn-hlslib.tar.gz").write_bytes(b"\x1f\x8b not really gzip")
    else:
        _tar(src / "finn-hlslib.tar.gz", [("finn-hlslib/a.h", None),
                                          ("../evil.h", None) if kind == "dotdot" else ("finn-hlslib/l", "/etc/passwd")])
    monkeypatch.setenv("HWSQUEEZE_CACHE", str(cache))
    sentinel = tmp_path / "sentinel"
    sentinel.mkdir()
    before = tree_snapshot(tmp_path / "sentinel")
    res = run_cli("deps", "fetch", "finn-hlslib", "--from", str(src))
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("error:")]
    assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr
    assert len(errors) == 1 and res.stderr.strip().splitlines()[-1] == errors[0], res.stderr  # progress lines, then one error
    assert "finn-hlslib" in errors[0] and "nothing was installed" in errors[0] or "not a readable archive" in errors[0]
    assert not list(cache.rglob("evil.h")) and not (tmp_path / "evil.h").exists()
    assert not list(cache.rglob("archives/*")), "a refused archive is not kept in the cache"
    assert tree_snapshot(sentinel) == before
