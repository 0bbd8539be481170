"""`hwsqueeze deps`: FINN+'s dependencies installed into the cache. Pins come from a definitions file
written here (FINN+'s own FINN_DEPS_DEFINITIONS setting) pointing at file:// git repos and archives
made in tmp_path; facts are checked with git itself and hashlib, never with the module's own helpers."""
from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest


def _git(*args: str, cwd: Path) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True, env=env).stdout.strip()


def _repo(path: Path, files: dict) -> list:
    """A git repo with one commit per files dict entry; returns the commits."""
    path.mkdir(parents=True)
    _git("init", "-q", cwd=path)
    commits = []
    for rel, text in files.items():
        (path / rel).parent.mkdir(parents=True, exist_ok=True)
        (path / rel).write_text(text)
        _git("add", "-A", cwd=path)
        _git("commit", "-qm", rel, cwd=path)
        commits.append(_git("rev-parse", "HEAD", cwd=path))
    return commits


@pytest.fixture
def world(tmp_path, monkeypatch):
    """Two git deps, a board-file repo and a direct download, all local; a pins file naming them."""
    hls = _repo(tmp_path / "up" / "finn-hlslib", {"bnn-library.h": "// v1\n", "mvau.hpp": "// v2\n"})
    att = _repo(tmp_path / "up" / "attention-hlslib", {"attention.hpp": "// a\n"})
    brd = _repo(tmp_path / "up" / "bdf", {"boards/kv260_som/1.3/board.xml": "<board/>\n"})
    with zipfile.ZipFile(tmp_path / "up" / "pynq-z2.zip", "w") as zf:
        zf.writestr("pynq-z2/A.0/board.xml", "<board/>\n")
    pins = tmp_path / "deps.yaml"
    up = tmp_path / "up"
    pins.write_text(f"""git_deps:
  finn-hlslib: {{url: "file://{up}/finn-hlslib", commit: "{hls[0]}", pip_install: False, install_editable: False}}
  attention-hlslib: {{url: "file://{up}/attention-hlslib", commit: "{att[0]}", pip_install: False, install_editable: False}}
boardfile_deps:
  kv260-som-bdf: {{url: "file://{up}/bdf", commit: "{brd[0]}", subdirectory: "boards/kv260_som"}}
direct_download_deps:
  pynq-z2: {{url: "file://{up}/pynq-z2.zip", do_unzip: True, target_directory: "board_files"}}
""")
    monkeypatch.setenv("FINN_DEPS_DEFINITIONS", str(pins))
    monkeypatch.setenv("HWSQUEEZE_CACHE", str(tmp_path / "cache"))
    from importlib import metadata

    root = tmp_path / "cache" / "finn-deps" / metadata.version("finn-plus")
    return {"tmp": tmp_path, "up": up, "hls": hls, "root": root, "pins": pins}


def _cli(*args: str, env_extra: dict = None) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).parent / "hwsqueeze"
    return subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env_extra or {})})


def _errors(res) -> int:
    """Error lines on stderr (the rest is progress); no traceback."""
    assert "Traceback" not in res.stderr
    return sum(ln.startswith("error: ") for ln in res.stderr.splitlines())


def _manifest(root: Path) -> dict:
    return json.loads((root / "manifest.json").read_text())["deps"]


def test_fetch_installs_in_finn_layout_at_the_pin(world):
    res = _cli("deps", "fetch", "finn-hlslib", "kv260-som-bdf", "pynq-z2", "--json")
    assert res.returncode == 0, res.stderr
    root = world["root"]
    assert _git("rev-parse", "HEAD", cwd=root / "finn-hlslib") == world["hls"][0]  # the pin, not the branch tip
    assert (root / "finn-hlslib" / "bnn-library.h").is_file() and not (root / "finn-hlslib" / "mvau.hpp").exists()
    assert (root / "board_files" / "kv260_som" / "1.3" / "board.xml").is_file()  # FINN: board_files/<subdir name>
    assert (root / "board_files" / "pynq-z2" / "A.0" / "board.xml").is_file()
    m = _manifest(root)
    zip_sha = hashlib.sha256((world["up"] / "pynq-z2.zip").read_bytes()).hexdigest()
    assert m["pynq-z2"]["sha256"] == zip_sha and m["pynq-z2"]["status"] == "recorded"
    assert m["finn-hlslib"]["status"] == "pinned" and m["finn-hlslib"]["commit"] == world["hls"][0]
    status = json.loads(_cli("deps", "status", "--all", "--json").stdout)
    assert {r["name"]: r["state"] for r in status["deps"]} == {
        "finn-hlslib": "pinned", "attention-hlslib": "missing", "kv260-som-bdf": "pinned", "pynq-z2": "recorded"}


def test_wrong_commit_is_refused(world):
    """A pin the source does not hold: nothing installed, one line, bad input."""
    text = world["pins"].read_text().replace(world["hls"][0], "1" * 40)
    world["pins"].write_text(text)
    res = _cli("deps", "fetch", "finn-hlslib")
    assert res.returncode == 2 and _errors(res) == 1 and "1111111111" in res.stderr, res.stderr
    assert not (world["root"] / "finn-hlslib").exists() and "finn-hlslib" not in _manifest_or_empty(world["root"])


def _manifest_or_empty(root: Path) -> dict:
    return _manifest(root) if (root / "manifest.json").is_file() else {}


def test_checksum_mismatch_is_refused_and_reuse_verified(world):
    up = world["up"] / "pynq-z2.zip"
    sha = hashlib.sha256(up.read_bytes()).hexdigest()
    res = _cli("deps", "fetch", "pynq-z2", "--sha256", f"pynq-z2={'0' * 64}")
    assert res.returncode == 2 and sha in res.stderr and "0" * 64 in res.stderr, res.stderr
    assert not (world["root"] / "board_files" / "pynq-z2").exists()
    assert _cli("deps", "fetch", "pynq-z2").returncode == 0  # first fetch records the sha256
    with zipfile.ZipFile(up, "a") as zf:  # upstream changes the file behind the same URL
        zf.writestr("pynq-z2/A.0/extra.txt", "changed\n")
    (world["root"] / "archives" / "pynq-z2.zip").unlink()  # force a new download
    res = _cli("deps", "fetch", "pynq-z2")
    assert res.returncode == 2 and "recorded on first fetch" in res.stderr and sha in res.stderr, res.stderr
    assert (world["root"] / "board_files" / "pynq-z2" / "A.0" / "board.xml").is_file()  # old install kept


def test_tampered_archive_shows_as_broken(world):
    assert _cli("deps", "fetch", "pynq-z2").returncode == 0
    (world["root"] / "archives" / "pynq-z2.zip").write_bytes(b"not the file we fetched")
    rows = json.loads(_cli("deps", "status", "--all", "--json").stdout)["deps"]
    row = next(r for r in rows if r["name"] == "pynq-z2")
    assert row["state"] == "broken" and "sha256" in row["detail"] and not row["installed"]


def test_interrupted_download_leaves_nothing_installed(world, monkeypatch):
    """A download cut off half way (the server dies): no archive, no folder, no manifest entry."""
    from hwsqueeze.deps import fetch as fetchmod

    class Cut(io.BytesIO):
        headers = {"Content-Length": "1000000"}

        def read(self, n=-1):
            if self.tell() > 10:
                raise ConnectionResetError("connection reset")
            return super().read(n or 8)

        def __enter__(self):
            return self

        def __exit__(self, *a):
            return False

    import urllib.request

    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: Cut(b"x" * 100))
    with pytest.raises(Exception) as e:
        fetchmod.fetch(["pynq-z2"], log=lambda s: None)
    assert "cannot download" in str(e.value)
    root = world["root"]
    leftovers = [p.name for p in root.rglob("*") if p.is_file()]
    assert leftovers == [] and not (root / "board_files").exists() and _manifest_or_empty(root) == {}


def test_from_dir_substitute_archive_is_recorded(world, tmp_path):
    """A local archive of another commit is installed as a substitute with its real commit
    (read from the `git archive` header, as git itself wrote it)."""
    src = tmp_path / "from"
    src.mkdir()
    repo = world["up"] / "attention-hlslib"
    _git("commit", "--allow-empty", "-qm", "later", cwd=repo)
    later = _git("rev-parse", "HEAD", cwd=repo)
    _git("archive", "--format=tar.gz", "--prefix=attention-hlslib/", "-o", str(src / "attention-hlslib-x.tar.gz"),
         "HEAD", cwd=repo)
    res = _cli("deps", "fetch", "--from", str(src), "attention-hlslib")
    assert res.returncode == 0, res.stderr
    e = _manifest(world["root"])["attention-hlslib"]
    assert e["status"] == "substitute" and e["commit"] == later and e["pin"] != later
    assert (world["root"] / "attention-hlslib" / "attention.hpp").is_file()
    assert "SUBSTITUTE" in _cli("deps", "status").stdout


def test_offline_without_from_is_one_line(world):
    text = world["pins"].read_text().replace(f"file://{world['up']}/attention-hlslib", "https://invalid.invalid/x.git")
    world["pins"].write_text(text)
    res = _cli("deps", "fetch", "attention-hlslib")
    assert res.returncode == 4 and _errors(res) == 1 and "--from DIR" in res.stderr, res.stderr
