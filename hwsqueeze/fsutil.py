"""Atomic file writes: the one place that writes a file so a crash never leaves half of it.

Standard library only (it also ships to the board inside the deploy package). Every writer
writes ``.<name>.tmp<pid>`` next to the target and renames it over the target (atomic on POSIX),
removing the temporary file if anything fails.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any, Callable, Iterator, List, Union

from .errors import HwsqueezeError

__all__ = ["atomic_write", "write_text", "write_json", "atomic_dir", "tmp_name", "sha256_file", "MANIFEST",
           "foreign_files", "LOCK", "folder_lock"]

MANIFEST = ".hwsqueeze-files"  # in every folder atomic_dir wrote: the files it holds
LOCK = ".hwsqueeze.lock"  # held (flock) in a folder a process is writing, e.g. a build's --out

PathLike = Union[str, "os.PathLike[str]"]


def tmp_name(path: PathLike) -> Path:
    """The temporary sibling used while ``path`` is being written (hidden, per process)."""
    p = Path(path)
    return p.with_name(f".{p.name}.tmp{os.getpid()}")


def atomic_write(path: PathLike, write: Callable[[Path], Any]) -> Path:
    """Call ``write(tmp_path)`` and rename the result to ``path``; on failure nothing is left."""
    p = Path(path)
    tmp = tmp_name(p)
    try:
        write(tmp)
        os.replace(tmp, p)
    finally:
        if tmp.exists():
            tmp.unlink()
    return p


def sha256_file(path: PathLike) -> str:
    """Hex SHA-256 of the file at ``path``, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_text(path: PathLike, text: str) -> Path:
    """``path`` holds ``text`` (UTF-8), written atomically."""
    return atomic_write(path, lambda t: t.write_text(text, encoding="utf-8"))


def write_json(path: PathLike, obj: Any, indent: int = 1) -> Path:
    """``path`` holds ``obj`` as JSON, written atomically (non-JSON values as ``str``)."""
    return write_text(path, json.dumps(obj, indent=indent, default=str) + "\n")


def _files(d: Path) -> List[str]:
    return sorted(str(p.relative_to(d)) for p in d.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def foreign_files(d: PathLike) -> List[str]:
    """Files in folder ``d`` that its manifest does not list (all of them when it has none)."""
    d = Path(d)
    if not d.is_dir():
        return []
    listed = set((d / MANIFEST).read_text().splitlines()) if (d / MANIFEST).is_file() else set()
    return [f for f in _files(d) if f != MANIFEST and f not in listed]


@contextlib.contextmanager
def atomic_dir(path: PathLike) -> Iterator[Path]:
    """Build a directory under a temporary name; it replaces ``path`` only if the block succeeds.

    The old ``path`` (if any) stays untouched until the new one is complete, and a failed build
    leaves no temporary directory behind. The new folder gets a manifest of its files; an old
    folder holding files that its manifest does not list (the user's) is never replaced.
    """
    final = Path(path)
    extra = foreign_files(final)
    if extra:
        raise HwsqueezeError(f"{final} holds files hwsqueeze did not write ({', '.join(extra[:3])}"
                             f"{' ...' if len(extra) > 3 else ''}); move them elsewhere first (nothing was changed)")
    tmp = final.with_name(f".{final.name}.tmp{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    try:
        yield tmp
        (tmp / MANIFEST).write_text("\n".join(_files(tmp)) + "\n")
        old = final.with_name(f".{final.name}.old{os.getpid()}")
        if final.exists():
            os.replace(final, old)
        os.replace(tmp, final)
        if old.exists():
            shutil.rmtree(old)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


@contextlib.contextmanager
def folder_lock(folder: PathLike, what: str) -> Iterator[None]:
    """Hold an exclusive lock on existing ``folder`` for the block, or refuse at once (one line naming
    the holder's pid): two processes writing one folder (two builds into one --out) would interleave
    their files. The lock file is removed on exit; a lock taken on a file another process has just
    removed is retaken, so at most one holder exists. POSIX (flock); elsewhere no lock is taken."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no locking
        yield
        return
    path = Path(folder) / LOCK
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode("ascii", "replace").strip() or "?"
            os.close(fd)
            raise HwsqueezeError(f"{folder} is in use by another hwsqueeze process (pid {holder}, {what}); "
                                 "wait for it to finish or choose another folder (nothing was changed)") from None
        try:
            same = os.stat(path, follow_symlinks=False).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # the holder removed it between our open and our lock: take the new one
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        os.close(fd)
