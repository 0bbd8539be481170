"""Install FINN+'s dependencies into the cache: from the internet or from a folder (``--from DIR``).

* git deps and board-file repos: ``git clone`` (the URL, or ``DIR/<name>/`` when it is a clone),
  checkout of FINN+'s pin, then ``git rev-parse HEAD`` must equal the pin, else nothing is installed;
* a local archive of a git dep (``DIR/<name>.tar.gz``, ``DIR/<name>-*.tar.gz`` ...): its commit is
  read from the ``git archive`` header; another commit than the pin is installed as a *substitute*,
  recorded and reported as such. A finn-hlslib archive goes through the simulator's bridging
  (:func:`hwsqueeze.simulate.env.bridged_hlslib`): hls/compat is added only where g++ shows the
  copy lacks FINN+ 1.6.1's API;
* direct downloads (board-file zips, nlohmann-json): FINN+ pins only a URL, so the archive's sha256
  is recorded on first fetch and must match on every later fetch or reuse; ``--sha256 NAME=HEX``
  pins one up front.

Every install is built under ``.work/`` and renamed into place, and the manifest entry is written
last: an interrupted fetch never leaves anything that looks installed.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import Callable, Dict, List, Optional

from ..errors import BAD_INPUT, MISSING_TOOL, HwsqueezeError
from ..fsutil import sha256_file
from .manifest import entry_state, read, record
from .pins import ARCHIVE_SUFFIXES, Pin, cache_dir, load_pins

__all__ = ["fetch", "find_local", "archive_commit"]

Log = Callable[[str], None]


def _err(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def find_local(pin: Pin, src: Path) -> Optional[Path]:
    """``pin``'s source in a local folder: a clone ``<name>/``, or an archive named after the
    dependency (``<name>.tar.gz``, ``<name>-<anything>.zip`` ...) or after its download URL."""
    if (src / pin.name / ".git").exists():
        return src / pin.name
    names = [pin.name + s for s in ARCHIVE_SUFFIXES]
    if pin.kind == "download":
        names.insert(0, pin.archive_name)
    for n in names:
        if (src / n).is_file():
            return src / n
    for p in sorted(src.glob(pin.name + "-*")):
        if p.is_file() and p.name.endswith(ARCHIVE_SUFFIXES):
            return p
    return None


def archive_commit(path: Path) -> Optional[str]:
    """The commit ``git archive`` records in a tarball's pax header (None for other archives)."""
    if not path.name.endswith(ARCHIVE_SUFFIXES) or path.name.endswith(".zip"):
        return None
    try:
        with tarfile.open(path) as tf:
            return tf.pax_headers.get("comment") or None
    except (tarfile.TarError, OSError):
        return None


def _extract(archive: Path, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    try:
        if archive.name.endswith(".zip"):
            with zipfile.ZipFile(archive) as zf:
                for m in zf.namelist():  # refuse paths that leave dest (as tarfile's data filter does)
                    if Path(m).is_absolute() or ".." in Path(m).parts:
                        raise HwsqueezeError(f"{archive}: unsafe path {m!r} in archive", BAD_INPUT)
                zf.extractall(dest)
        else:
            with tarfile.open(archive) as tf:
                tf.extractall(dest, filter="data")
    except (tarfile.TarError, zipfile.BadZipFile, OSError, EOFError) as e:
        raise HwsqueezeError(f"{archive}: not a readable archive ({e})", BAD_INPUT) from None


def _download(url: str, out: Path, log: Log) -> None:
    """``url`` -> ``out`` via ``out.part`` (renamed only when complete), with progress on stderr."""
    import urllib.request

    part = out.with_name(out.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=60) as r, open(part, "wb") as f:
            total, done, shown = int(r.headers.get("Content-Length") or 0), 0, -1
            for block in iter(lambda: r.read(1 << 16), b""):
                f.write(block)
                done += len(block)
                pct = done * 100 // total if total else -1
                if pct // 10 != shown // 10:
                    shown = pct
                    log(f"  {out.name}: {done / 1e6:.1f} MB" + (f" of {total / 1e6:.1f} MB ({pct} %)" if total else ""))
        os.replace(part, out)
    except OSError as e:
        part.unlink(missing_ok=True)
        reason = getattr(e, "reason", e)
        raise HwsqueezeError(f"cannot download {url} ({reason}); without internet, put the file in a folder and "
                             "use --from DIR (or HWSQUEEZE_DEPS_FROM)", MISSING_TOOL) from None
    except BaseException:
        part.unlink(missing_ok=True)
        raise


def _clone(pin: Pin, source: str, dest: Path, local: bool, log: Log) -> str:
    """Clone ``source`` into ``dest`` at the pin; the HEAD must then equal the pin."""
    log(f"  cloning {source} at {pin.commit[:12]}")
    r = subprocess.run(["git", "clone", "--quiet", "--no-checkout", source, str(dest)], capture_output=True, text=True)
    if r.returncode != 0:
        why = (r.stderr.strip().splitlines() or ["git clone failed"])[-1]
        if local:
            raise HwsqueezeError(f"{pin.name}: cannot clone {source}: {why}", BAD_INPUT)
        raise HwsqueezeError(f"{pin.name}: cannot clone {source} ({why}); without internet use --from DIR "
                             "(a folder of clones or archives, or HWSQUEEZE_DEPS_FROM)", MISSING_TOOL)
    r = subprocess.run(["git", "-C", str(dest), "checkout", "--quiet", pin.commit], capture_output=True, text=True)
    head = subprocess.run(["git", "-C", str(dest), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    if r.returncode != 0 or head != pin.commit:
        raise HwsqueezeError(f"{pin.name}: {source} does not hold FINN+'s pinned commit {pin.commit} "
                             f"(HEAD {head or 'none'}); nothing was installed", BAD_INPUT)
    return head


def _payload_from_tree(pin: Pin, tree: Path) -> Dict[str, Path]:
    """target path (relative to FINN_DEPS) -> folder to install there, from a checked-out/extracted tree."""
    if pin.kind == "git":
        return {pin.target: tree}
    sub = tree / pin.subdirectory
    if not sub.is_dir():
        raise HwsqueezeError(f"{pin.name}: folder {pin.subdirectory!r} not found in its source", BAD_INPUT)
    if pin.target != "board_files":
        return {pin.target: sub}
    return {f"board_files/{p.name}": p for p in sorted(sub.iterdir()) if p.is_dir() and not p.name.startswith(".")}


def _single_top(tree: Path) -> Path:
    """An archive of a repo holds one top folder (``git archive --prefix``); else the tree itself."""
    tops = [p for p in tree.iterdir() if not p.name.startswith(".")]
    return tops[0] if len(tops) == 1 and tops[0].is_dir() else tree


def _install(root: Path, payload: Dict[str, Path]) -> List[str]:
    """Move each prepared folder into place (replacing an older copy) and return the paths."""
    for rel, src in payload.items():
        final = root / rel
        final.parent.mkdir(parents=True, exist_ok=True)
        old = final.with_name(f".{final.name}.old{os.getpid()}")
        if final.exists():
            os.replace(final, old)
        shutil.move(str(src), str(final))
        shutil.rmtree(old, ignore_errors=True)
    return sorted(payload)


def _keep_archive(root: Path, src: Path, name: str) -> Path:
    """Copy a local archive into ``archives/`` (atomically) so its sha256 can be re-checked later."""
    (root / "archives").mkdir(parents=True, exist_ok=True)
    dest = root / "archives" / name
    if src.resolve() != dest.resolve():
        tmp = dest.with_name(dest.name + ".part")
        shutil.copyfile(src, tmp)
        os.replace(tmp, dest)
    return dest


def _fetch_one(pin: Pin, root: Path, work: Path, src_dir: Optional[Path], want_sha: Optional[str],
               previous: Optional[dict], log: Log) -> dict:
    local = find_local(pin, src_dir) if src_dir else None
    if src_dir and local is None:
        raise HwsqueezeError(f"{pin.name}: {src_dir} has no clone or archive of it (looked for {pin.name}/, "
                             f"{pin.name}.tar.gz, {pin.name}-*.zip{', ' + pin.archive_name if pin.kind == 'download' else ''})",
                             BAD_INPUT)
    entry = {"name": pin.name, "kind": pin.kind, "pin": pin.commit, "source": str(local or pin.url), "patches": [],
             "archive": None, "sha256": None, "git_clone": False, "note": ""}
    if pin.kind != "download" and (local is None or local.is_dir()):
        tree = work / "clone"
        entry["commit"] = _clone(pin, str(local or pin.url), tree, local is not None, log)
        entry.update(status="pinned", git_clone=pin.kind == "git")  # git deps keep .git: status re-checks HEAD
        entry["paths"] = _install(root, _payload_from_tree(pin, tree))
        return entry
    # an archive: a local one, or a direct download
    arch = root / "archives" / (pin.archive_name if pin.kind == "download" else local.name)
    if local is not None:
        log(f"  {pin.name}: from {local}")
        arch = _keep_archive(root, local, arch.name)
    else:
        (root / "archives").mkdir(parents=True, exist_ok=True)
        log(f"  downloading {pin.url}")
        _download(pin.url, arch, log)
    sha = sha256_file(arch)
    expected = want_sha or (previous or {}).get("sha256")
    if expected and sha != expected.lower():
        arch.unlink(missing_ok=True)
        raise HwsqueezeError(f"{pin.name}: sha256 of {arch.name} is {sha}, expected {expected} "
                             f"({'--sha256' if want_sha else 'recorded on first fetch'}); nothing was installed", BAD_INPUT)
    entry.update(archive=arch.name, sha256=sha)
    if pin.kind == "download":
        tree = work / "unpacked"
        _extract(arch, tree)
        top = Path(pin.target).name
        if not (tree / top).exists():
            raise HwsqueezeError(f"{pin.name}: {arch.name} does not unpack to {top}/ (as FINN+ expects)", BAD_INPUT)
        entry.update(status="pinned" if want_sha else "recorded", commit=None,
                     note="" if want_sha else "FINN+ pins a URL only: sha256 recorded on first fetch")
        entry["paths"] = _install(root, {pin.target: tree / top})
        return entry
    commit = archive_commit(arch)
    entry.update(commit=commit, status="pinned" if commit == pin.commit else "substitute")
    if entry["status"] == "substitute":
        entry["note"] = f"archive of commit {commit or 'unknown'}, not FINN+'s pin {pin.commit}"
    if pin.name == "finn-hlslib":
        from ..simulate.env import bridged_hlslib

        try:
            if arch.name.endswith(".zip"):
                raise tarfile.ReadError("a .zip; give a tarball, e.g. `git archive --format=tar.gz`")
            with tarfile.open(arch) as tf:  # every member checked before the tools are probed or anything unpacks
                for member in tf.getmembers():
                    tarfile.data_filter(member, str(work))
            lib_parent, entry["patches"] = bridged_hlslib(arch, work / "bridge")
        except (tarfile.TarError, OSError, EOFError) as e:  # a .zip, a damaged tarball, a member leaving it
            arch.unlink(missing_ok=True)
            raise HwsqueezeError(f"{local or arch}: not a usable finn-hlslib tarball ({str(e).splitlines()[0][:160]}); "
                                 "nothing was installed", BAD_INPUT) from None
        tree = lib_parent / "finn-hlslib"
    else:
        _extract(arch, work / "unpacked")
        tree = _single_top(work / "unpacked")
    entry["paths"] = _install(root, _payload_from_tree(pin, tree))
    return entry


def _reusable(pin: Pin, e: Optional[dict], root: Path, want_sha: Optional[str]) -> bool:
    if not e or not entry_state(root, e)[0]:
        return False
    if pin.kind == "download":
        return not want_sha or want_sha.lower() == e.get("sha256")
    return e.get("status") == "pinned" and e.get("commit") == pin.commit


def fetch(names: Optional[List[str]] = None, source: Optional[Path] = None, sha256: Optional[Dict[str, str]] = None,
          root: Optional[Path] = None, log: Log = _err) -> List[dict]:
    """Install ``names`` (default: what a hwsqueeze Vivado build needs) into ``root`` (default: the
    cache); returns the manifest entries. Raises HwsqueezeError (one line) on the first failure."""
    from .pins import default_names

    pins = load_pins()
    names = names or default_names(pins)
    unknown = [n for n in names if n not in pins]
    if unknown:
        raise HwsqueezeError(f"unknown dependency '{unknown[0]}' (FINN+ defines: {', '.join(pins)})", BAD_INPUT)
    if source is not None and not Path(source).is_dir():
        raise HwsqueezeError(f"--from {source}: not a folder", BAD_INPUT)
    root = Path(root) if root else cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    sha256 = sha256 or {}
    out = []
    for name in names:
        pin, previous = pins[name], read(root).get(name)
        if _reusable(pin, previous, root, sha256.get(name)):
            log(f"{name}: already installed ({previous.get('status')}, verified)")
            out.append(previous)
            continue
        log(f"{name}:")
        work = root / ".work" / f"{name}.{os.getpid()}"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        try:
            entry = _fetch_one(pin, root, work, Path(source) if source else None, sha256.get(name), previous, log)
        finally:
            shutil.rmtree(work, ignore_errors=True)
            with contextlib.suppress(OSError):
                work.parent.rmdir()  # only when empty (another fetch may be running)
        record(root, entry)  # last: only complete installs are recorded
        log(f"  {name}: {entry['status']}" + (f" ({entry['note']})" if entry.get("note") else ""))
        out.append(entry)
    return out
